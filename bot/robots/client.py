"""One POST to a robot webhook, signed as its platform requires, and the platform's answer classified.

Outcomes: `ok` (posted); `retry` (not posted, try later: too fast, busy, could not connect); `stop` (not posted
and retrying cannot help: bad signature, keyword missing, IP not allowed, message refused; the organizer must
fix the robot or the config); `gone` (the robot was removed or its URL reset: deactivate); `unknown` (the
request may have been carried out: a timeout or dropped connection after sending, a 5xx, an unreadable answer).
Error codes are the platforms' own (WeCom errcode, DingTalk errcode, Feishu code). No message here ever contains
the webhook URL or a secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from bot.logs import redact
from bot.robots.channels import ChannelConfig
from bot.robots.limiter import DINGTALK_THROTTLE
from bot.robots.signing import dingtalk_url, feishu_body

TIMEOUT = httpx.Timeout(20.0, connect=10.0)

# code -> (outcome, seconds to hold off before retrying, what it means)
WECOM = {45009: ("retry", 60.0, "too fast (over 20 messages a minute)"), -1: ("retry", 10.0, "system busy"),
         93000: ("gone", 0.0, "invalid webhook URL: the robot was removed or its key reset")}
DINGTALK = {130101: ("retry", DINGTALK_THROTTLE, "too fast: DingTalk throttles the robot for 10 minutes"),
            660026: ("retry", DINGTALK_THROTTLE, "too fast"), -1: ("retry", 10.0, "system busy"),
            300001: ("gone", 0.0, "token does not exist: the robot was removed"),
            300005: ("gone", 0.0, "token invalid: the robot was removed"),
            310000: ("stop", 0.0, "refused by the robot's security settings")}
FEISHU = {11232: ("retry", 60.0, "too fast (frequency limited)"),
          19001: ("gone", 0.0, "webhook token invalid: the robot was removed"),
          19021: ("stop", 0.0, "bad signature, or the clock is more than an hour off"),
          19022: ("stop", 0.0, "IP address not allowed by the robot's security settings"),
          19024: ("stop", 0.0, "keyword missing: the message lacks the robot's custom keyword"),
          9499: ("stop", 0.0, "bad request (malformed or larger than 20 KB)")}


@dataclass(frozen=True)
class Answer:
    outcome: str  # ok | retry | stop | gone | unknown
    code: int | None = None
    message: str = ""
    retry_after: float = 0.0
    status: int = 0

    def describe(self) -> str:
        code = f" {self.code}" if self.code is not None else ""
        http = f"HTTP {self.status}" if self.status else "no answer"
        return f"{self.outcome}: {http},{code} {self.message}".strip()


def stop_cause(reason: str) -> str:
    """What a stop comes down to, for the organizer: removed, keyword, ip, signature or refused.

    `reason` is an `Answer.describe()` (or the stored stop reason built from one); DingTalk answers every security
    refusal with 310000, so its message says which (keywords not in content / ip not in whitelist / sign not match /
    invalid timestamp).
    """
    low = reason.lower()
    if low.startswith(("gone", "robot removed")):
        return "removed"
    if "19024" in low or "keyword" in low:
        return "keyword"
    if "19022" in low or "whitelist" in low or "ip address" in low:
        return "ip"
    if "19021" in low or "sign" in low or "timestamp" in low:
        return "signature"
    return "refused"


def signed_request(channel: ChannelConfig, body: dict[str, Any], now: float) -> tuple[str, dict[str, Any]]:
    """The URL and JSON body to POST at wall-clock second `now`."""
    url = channel.webhook.reveal()
    if channel.kind == "dingtalk" and channel.secret:
        url = dingtalk_url(url, channel.secret.reveal(), int(now * 1000))
    if channel.kind == "feishu" and channel.secret:
        body = feishu_body(body, channel.secret.reveal(), int(now))
    return url, body


async def post(http: httpx.AsyncClient, channel: ChannelConfig, body: dict[str, Any], now: float) -> Answer:
    url, signed = signed_request(channel, body, now)
    data = json.dumps(signed, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        response = await http.post(url, content=data, headers={"Content-Type": "application/json; charset=utf-8"},
                                   timeout=TIMEOUT, follow_redirects=False)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        return Answer("retry", message=_clean(exc, channel), retry_after=30.0)
    except httpx.HTTPError as exc:  # timed out or dropped after the request went out: it may have been posted
        return Answer("unknown", message=_clean(exc, channel))
    return classify(channel.kind, response.status_code, response.content, dict(response.headers))


def classify(kind: str, status: int, content: bytes, headers: dict[str, str]) -> Answer:
    """What the platform's answer means for the post (pure; unit-tested with the platforms' real answers)."""
    if kind == "dingtalk" and status == 302:
        return Answer("retry", None, "redirected: DingTalk throttles an over-limit robot", DINGTALK_THROTTLE, status)
    if status == 429:
        reset = headers.get("x-ogw-ratelimit-reset", "")
        return Answer("retry", None, "too many requests", float(reset) if reset.isdigit() else 60.0, status)
    if status >= 500:
        return Answer("unknown", None, "server error", 0.0, status)
    try:
        answer = json.loads(content or b"{}")
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return Answer("unknown" if status < 400 else "stop", None, "unreadable answer", 0.0, status)
    if kind == "feishu":
        code = answer.get("code", answer.get("StatusCode"))
        text = str(answer.get("msg", answer.get("StatusMessage", "")))
        table = FEISHU
    else:
        code, text = answer.get("errcode"), str(answer.get("errmsg", ""))
        table = WECOM if kind == "wecom" else DINGTALK
    if not isinstance(code, int):
        return Answer("unknown" if status < 400 else "stop", None, "answer without a code", 0.0, status)
    if code == 0:
        return Answer("ok", 0, text, 0.0, status)
    outcome, wait, meaning = table.get(code, ("stop", 0.0, "refused"))
    return Answer(outcome, code, f"{meaning} ({text[:120]})" if text else meaning, wait, status)


def _clean(exc: Exception, channel: ChannelConfig) -> str:
    secrets = [channel.webhook.reveal(), channel.secret.reveal()]
    return f"{type(exc).__name__}: {redact(str(exc), secrets)}"
