"""Group-robot channels: the daily reading posted into WeCom, DingTalk and Feishu groups through their webhooks.

A robot is push only (no commands, no polls). The modules split by concern: `secret` (values never shown),
`channels` (the `channels:` config section), `signing`, `split` and `formats` (pure: no network, no telegram),
`limiter` (each robot's own rate limits), `client` (one POST, the platform's answer classified), `push` (claim,
send, record through the store) and `standin` (local fake robot servers for tests and demos).
"""
