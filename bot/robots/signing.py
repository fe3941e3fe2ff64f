"""Request signing as each platform documents it (WeCom robots have none: the URL key is the credential).

DingTalk (加签): sign = base64(HMAC-SHA256(key=secret, msg=f"{timestamp_ms}\\n{secret}")), sent URL-encoded as the
query parameters `timestamp` (milliseconds) and `sign`; the timestamp must be within an hour of DingTalk's clock.
Feishu (签名校验): sign = base64(HMAC-SHA256(key=f"{timestamp_s}\\n{secret}", msg=b"")), sent in the JSON body as
`timestamp` (seconds, as a string) and `sign`; the timestamp must be within an hour of Feishu's clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote_plus


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def dingtalk_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The webhook URL with `&timestamp=…&sign=…` appended (the sign URL-encoded: base64 has + / =)."""
    return f"{url}&timestamp={timestamp_ms}&sign={quote_plus(dingtalk_sign(secret, timestamp_ms))}"


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_body(payload: dict[str, Any], secret: str, timestamp_s: int) -> dict[str, Any]:
    return {"timestamp": str(timestamp_s), "sign": feishu_sign(secret, timestamp_s), **payload}
