"""Local stand-ins for the WeCom, DingTalk and Feishu robot webhooks, on 127.0.0.1, for tests and demos.

One HTTP server answers all three platforms' webhook paths. Each registered robot checks what its platform
checks (signature and its one-hour timestamp window, custom keywords, byte limits, rate limits) and answers with
the platform's own error codes; accepted posts are recorded. Faults can be injected: drop the connection after
accepting a post (the sender cannot know it went through) or fail with an HTTP status. Nothing is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bot.robots.formats import text_of
from bot.robots.signing import dingtalk_sign, feishu_sign

WECOM_BYTES = {"markdown": 4096, "text": 2048}
BODY_BYTES = 20_000
RATE = {"wecom": ((20, 60.0),), "dingtalk": ((20, 60.0),), "feishu": ((100, 60.0), (5, 1.0))}
THROTTLE = 600.0


@dataclass
class Robot:
    kind: str
    token: str
    secret: str = ""
    keywords: tuple[str, ...] = ()
    posts: list[dict[str, Any]] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)  # error codes answered, in order
    sends: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    throttled_until: float = 0.0
    faults: deque[tuple[str, int]] = field(default_factory=deque)  # (drop|fail, http status)

    def texts(self) -> list[str]:
        return [text_of(p) for p in self.posts]


class _Drop(Exception):
    """Close the connection without answering."""


class RobotStandIn:
    """`async with RobotStandIn() as robots: url = robots.add("dingtalk", secret="SEC…").url`."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.robots: dict[str, Robot] = {}
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def __aenter__(self) -> RobotStandIn:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def add(self, kind: str, secret: str = "", keywords: tuple[str, ...] = ()) -> Robot:
        token = secrets.token_hex(16)
        robot = self.robots[token] = Robot(kind, token, secret, keywords)
        return robot

    def url(self, robot: Robot) -> str:
        base = f"http://127.0.0.1:{self.port}"
        if robot.kind == "wecom":
            return f"{base}/cgi-bin/webhook/send?key={robot.token}"
        if robot.kind == "dingtalk":
            return f"{base}/robot/send?access_token={robot.token}"
        return f"{base}/open-apis/bot/v2/hook/{robot.token}"

    # --- HTTP ------------------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                try:
                    status, payload = self.handle(method, target, body)
                except _Drop:
                    return
                data = json.dumps(payload, ensure_ascii=False).encode()
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
        finally:
            writer.close()

    def handle(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/cgi-bin/webhook/send":
            kind, token = "wecom", query.get("key", "")
        elif parts.path == "/robot/send":
            kind, token = "dingtalk", query.get("access_token", "")
        elif parts.path.startswith("/open-apis/bot/v2/hook/"):
            kind, token = "feishu", unquote(parts.path.rsplit("/", 1)[1])
        else:
            return 404, {"error": "not found"}
        robot = self.robots.get(token)
        if method != "POST" or robot is None or robot.kind != kind:
            return 200, _answer(kind, *GONE[kind])
        if robot.faults and robot.faults[0][0] == "fail":
            return robot.faults.popleft()[1], {"error": "injected"}
        code, message = self._check(robot, query, body)
        if code:
            robot.refused.append(code)
            return 200, _answer(kind, code, message)
        if robot.faults and robot.faults[0][0] == "drop":
            robot.faults.popleft()
            raise _Drop
        return 200, _answer(kind, 0, "ok" if kind != "feishu" else "success")

    def _check(self, robot: Robot, query: dict[str, str], raw: bytes) -> tuple[int, str]:
        """The platform's error code for this post (0: accepted and recorded)."""
        now = self.clock()
        try:
            body = json.loads(raw)
        except ValueError:
            return BAD[robot.kind]
        if not isinstance(body, dict):
            return BAD[robot.kind]
        if robot.kind == "dingtalk" and robot.secret:
            ts, sign = query.get("timestamp", ""), query.get("sign", "")
            if not ts.isdigit() or abs(now * 1000 - int(ts)) > 3_600_000:
                return 310000, "invalid timestamp"
            if not hmac.compare_digest(sign, dingtalk_sign(robot.secret, int(ts))):
                return 310000, "sign not match"
        if robot.kind == "feishu" and robot.secret:
            ts, sign = str(body.pop("timestamp", "")), str(body.pop("sign", ""))
            if not ts.isdigit() or abs(now - int(ts)) > 3600 or not hmac.compare_digest(
                    sign, feishu_sign(robot.secret, int(ts))):
                return 19021, "sign match fail or timestamp is not within one hour from current time"
        too_big = _too_big(robot.kind, body, len(raw))
        if too_big:
            return too_big
        text = text_of(body)
        if robot.keywords and not any(k in text for k in robot.keywords):
            return {"dingtalk": (310000, "keywords not in content"), "feishu": (19024, "Key Words Not Found"),
                    "wecom": (0, "")}[robot.kind]
        if robot.kind == "dingtalk" and now < robot.throttled_until:
            return 130101, "send too fast, exceed 20 times per minute"
        for count, seconds in RATE[robot.kind]:
            if sum(1 for t in robot.sends if t > now - seconds) >= count:
                if robot.kind == "dingtalk":
                    robot.throttled_until = now + THROTTLE
                return LIMITED[robot.kind]
        robot.sends.append(now)
        robot.posts.append(body)
        return 0, ""


def _too_big(kind: str, body: dict[str, Any], size: int) -> tuple[int, str] | None:
    if kind == "wecom":
        msgtype = body.get("msgtype", "")
        content = str(body.get(msgtype, {}).get("content", "")) if isinstance(body.get(msgtype), dict) else ""
        if msgtype not in WECOM_BYTES or not content:
            return 40008, "invalid message type"
        if len(content.encode()) > WECOM_BYTES[msgtype]:
            return 40058, f"{msgtype}.content exceed max length {WECOM_BYTES[msgtype]}"
        return None
    if size > BODY_BYTES:
        return (9499, "Bad Request") if kind == "feishu" else (460101, "message too long")
    return None


def _answer(kind: str, code: int, message: str) -> dict[str, Any]:
    if kind == "feishu":
        return {"code": code, "msg": message, "data": {}}
    return {"errcode": code, "errmsg": message}


GONE = {"wecom": (93000, "invalid webhook url"), "dingtalk": (300001, "token is not exist"),
        "feishu": (19001, "param invalid: incoming webhook access token invalid")}
BAD = {"wecom": (40035, "invalid json"), "dingtalk": (40035, "invalid json"), "feishu": (9499, "Bad Request")}
LIMITED = {"wecom": (45009, "api freq out of limit"), "dingtalk": (130101, "send too fast, exceed 20 times per minute"),
           "feishu": (11232, "frequency limited")}
