"""A minimal HTTP/1.1 server on asyncio streams that answers like the Telegram Bot API, plus fault injection.

PTB reaches it with ``ApplicationBuilder().token(T).base_url(standin.base_url)``.  The token only appears in
request paths; nothing here logs paths or puts the token in a repr.
"""

from __future__ import annotations

import asyncio
import email.policy
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote

from bot.standin.limits import FloodLimits, LimitConfig, RequestRecord, TrafficStats
from bot.standin.methods import BotApi
from bot.standin.state import JSON, ApiError, FakeUser, Outbox, SentRecord, Upload, UserLike, World

log = logging.getLogger(__name__)
MAX_HEAD = 64 * 1024
MAX_BODY = 50 * 1024 * 1024  # Telegram takes documents up to 50 MB from bots


@dataclass(frozen=True)
class Fault:
    kind: str  # fail | delay | drop
    deliver: bool
    status: int = 500
    description: str = ""
    seconds: float = 0.0
    parameters: JSON | None = None
    chat_id: int | None = None  # only for calls to this chat; None: any call of the method

    def matches(self, params: dict[str, Any]) -> bool:
        return self.chat_id is None or str(params.get("chat_id")) == str(self.chat_id)


class _Drop(Exception):
    """Close the connection without answering."""


def _envelope(status: int, payload: JSON) -> tuple[int, bytes]:
    # "replace": a lone surrogate in some text must not turn every later getUpdates into an exception.
    return status, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def _error(exc: ApiError) -> tuple[int, bytes]:
    payload: JSON = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.parameters:
        payload["parameters"] = exc.parameters
    return _envelope(exc.code, payload)


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON request body") from None
        if not isinstance(data, dict):
            raise ApiError(400, "Bad Request: request body must be a JSON object")
        return data
    if kind in ("application/x-www-form-urlencoded", ""):
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if kind == "multipart/form-data":
        return _parse_multipart(content_type, body)
    raise ApiError(400, f"Bad Request: unsupported content type {kind}")


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """A file upload: text fields as strings, file fields as `Upload` (PTB sends files this way)."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body)
    if not message.is_multipart():
        raise ApiError(400, "Bad Request: can't parse multipart body")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        fields[name] = Upload(filename, data) if filename is not None else data.decode("utf-8", "replace")
    return fields


class StandIn:
    """The local Telegram: an HTTP face (``start``/``stop``/``base_url``) over a ``World`` and flood limits."""

    def __init__(
        self,
        token: str,
        bot_username: str = "studybot_local_bot",
        *,
        bot_name: str = "StudyBot",
        clock: Callable[[], float] = time.time,
        limits_enabled: bool = True,
        limit_config: LimitConfig | None = None,
        privacy_mode: bool = True,
        strict_chats: bool = False,
        first_id: int = 1,
    ) -> None:
        self._token = token
        head = token.split(":", 1)[0]
        self.stats = TrafficStats()
        self.limits = FloodLimits(clock, limit_config, enabled=limits_enabled, stats=self.stats)
        self.world = World(int(head) if head.isdigit() else 999_999, bot_username, bot_name=bot_name, clock=clock,
                           limits=self.limits, privacy_mode=privacy_mode, strict_chats=strict_chats,
                           first_id=first_id)
        self.api = BotApi(self.world)
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._faults: dict[str, deque[Fault]] = {}
        self.busy = 0  # bot requests other than getUpdates being answered now (the offline chat waits for 0)
        self.last_request_end = 0.0  # loop time the last such request was answered

    def __repr__(self) -> str:  # deliberately without the token
        return f"StandIn(@{self.world.bot.username}, port={self.port})"

    # ----- lifecycle -----
    async def start(self, port: int = 0, host: str = "127.0.0.1") -> int:
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("Bot API stand-in listening on %s:%s for @%s", host, self.port, self.world.bot.username)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        self.world.close()

    async def __aenter__(self) -> StandIn:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the stand-in is not started")
        return f"http://127.0.0.1:{self.port}/bot"

    # ----- fault injection -----
    def _queue(self, method: str, fault: Fault, count: int) -> None:
        self._faults.setdefault(method.lower(), deque()).extend([fault] * count)

    def fail_next(self, method: str, status: int = 500, count: int = 1, description: str | None = None,
                  *, deliver: bool = False, parameters: JSON | None = None, chat_id: int | None = None) -> None:
        """The next ``count`` calls of ``method`` (to ``chat_id`` only, if given) answer ``status`` (with
        ``parameters``, e.g. retry_after); ``deliver=True`` still carries them out."""
        text = description or HTTPStatus(status).phrase
        self._queue(method, Fault("fail", deliver, status, text, parameters=parameters, chat_id=chat_id), count)

    def delay_next(self, method: str, seconds: float, count: int = 1, *, deliver: bool = True) -> None:
        """Answer the next calls ``seconds`` late.  ``deliver=True``: carried out at once (as Telegram may do for
        a request whose response the client gave up on); ``deliver=False``: only if the client still waits."""
        self._queue(method, Fault("delay", deliver, seconds=seconds), count)

    def drop_next(self, method: str, count: int = 1, *, deliver: bool = False) -> None:
        """Close the connection without an answer; ``deliver=True`` carries the call out first."""
        self._queue(method, Fault("drop", deliver), count)

    def clear_faults(self) -> None:
        self._faults.clear()

    # ----- HTTP -----
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The connection runs in an inner task so that stop() can cancel it without asyncio's stream callback
        # logging the cancellation of the task start_server made.
        task = asyncio.ensure_future(self._connection(reader, writer))
        self._tasks.add(task)
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, _Drop):
            pass

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; return whether to keep the connection open."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            await self._write(writer, 400, b'{"ok":false,"error_code":400,"description":"Bad Request"}', False)
            return False
        verb, target, version = parts
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            status, body = _error(ApiError(400, "Bad Request: chunked bodies are not supported"))
            await self._write(writer, status, body, False)
            return False
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY:
            status, body = _error(ApiError(413, "Request Entity Too Large"))
            await self._write(writer, status, body, False)
            return False
        raw = await reader.readexactly(length) if length else b""
        status, body = await self._answer(verb, target, headers.get("content-type", ""), raw, reader)
        await self._write(writer, status, body, keep_alive)
        return keep_alive

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, status: int, body: bytes, keep_alive: bool) -> None:
        if writer.is_closing():
            return
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Unknown"
        head = (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
        writer.write(head.encode("latin-1") + body)
        await writer.drain()

    async def _answer(self, verb: str, target: str, content_type: str, raw: bytes,
                      reader: asyncio.StreamReader) -> tuple[int, bytes]:
        self.stats.total_requests += 1
        path, _, query = target.partition("?")
        rest = path[len("/bot"):] if path.startswith("/bot") else None
        token, _, method = unquote(rest).partition("/") if rest is not None else ("", "", "")
        if rest is None or not method or "/" in method or verb not in ("GET", "POST"):
            return _error(ApiError(404, "Not Found"))
        if token != self._token:
            return _error(ApiError(401, "Unauthorized"))
        self.stats.requests_by_method[method] += 1
        try:
            params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
            params.update(_parse_body(content_type, raw))
        except ApiError as exc:
            return _error(exc)
        try:
            status, body = await self._dispatch(method, params, reader)
        except _Drop:
            self._log_request(method, params, 0)
            raise
        self._log_request(method, params, status)
        return status, body

    def _log_request(self, method: str, params: dict[str, Any], status: int) -> None:
        chat = params.get("chat_id")
        self.stats.requests.append(RequestRecord(self.world.clock(), method, None if chat is None else str(chat),
                                                 status))

    async def _dispatch(self, method: str, params: dict[str, Any],
                        reader: asyncio.StreamReader) -> tuple[int, bytes]:
        queue = self._faults.get(method.lower())
        fault = next((f for f in queue if f.matches(params)), None) if queue else None
        if fault is not None and queue is not None:
            queue.remove(fault)  # the first equal one: faults are values, so which of equals goes does not matter
        if fault is None:
            return await self._call(method, params)
        log.debug("stand-in fault %s on %s", fault.kind, method)
        if fault.kind == "fail":
            if fault.deliver:
                await self._call(method, params)
            return _error(ApiError(fault.status, fault.description, fault.parameters))
        if fault.kind == "drop":
            if fault.deliver:
                await self._call(method, params)
            raise _Drop
        if fault.deliver:
            answer = await self._call(method, params)
            await asyncio.sleep(fault.seconds)
            return answer
        await asyncio.sleep(fault.seconds)
        if reader.at_eof():  # the client gave up waiting: the request never reached "Telegram"
            raise _Drop
        return await self._call(method, params)

    async def _call(self, method: str, params: dict[str, Any]) -> tuple[int, bytes]:
        polling = method.lower() == "getupdates"
        self.busy += not polling
        try:
            result = await self.api.call(method, params)
        except ApiError as exc:
            log.debug("stand-in %s -> %s %s", method, exc.code, exc.description)
            return _error(exc)
        finally:
            if not polling:
                self.busy -= 1
                self.last_request_end = asyncio.get_running_loop().time()
        return _envelope(200, {"ok": True, "result": result})

    # ----- the driver API (see World for details) -----
    def user_sends(self, chat_id: int, user: UserLike, text: str, *, reply_to: int | None = None,
                   anonymous_admin: bool = False) -> JSON:
        return self.world.user_sends(chat_id, user, text, reply_to=reply_to, anonymous_admin=anonymous_admin)

    def user_presses(self, chat_id: int, user: UserLike, message_id: int, data: str) -> str:
        return self.world.user_presses(chat_id, user, message_id, data)

    def user_answers_poll(self, poll_id: str, user: UserLike, option_ids: list[int]) -> None:
        self.world.user_answers_poll(poll_id, user, option_ids)

    def user_joins(self, chat_id: int, user: UserLike, *, by_user: UserLike | None = None) -> JSON:
        return self.world.user_joins(chat_id, user, by_user=by_user)

    def user_leaves(self, chat_id: int, user: UserLike, *, kicked_by: UserLike | None = None) -> JSON:
        return self.world.user_leaves(chat_id, user, kicked_by=kicked_by)

    def add_bot_to_group(self, chat_id: int, title: str = "学习小组", by_user: UserLike = 1, *,
                         as_admin: bool = False) -> None:
        self.world.add_bot_to_group(chat_id, title, by_user, as_admin=as_admin)

    def remove_bot(self, chat_id: int, kicked: bool = True, *, by_user: UserLike | None = None) -> None:
        self.world.remove_bot(chat_id, kicked, by_user=by_user)

    def migrate_group(self, chat_id: int) -> int:
        return self.world.migrate_group(chat_id)

    def set_admin(self, chat_id: int, user: UserLike) -> None:
        self.world.set_admin(chat_id, user)

    def user(self, user: UserLike) -> FakeUser:
        return self.world.user(user)

    def sent(self, chat_id: int, method: str | None = None) -> list[SentRecord]:
        return self.world.sent(chat_id, method)

    async def wait_for_sent(self, chat_id: int, count: int, timeout: float = 5.0,
                            method: str | None = None) -> list[SentRecord]:
        return await self.world.wait_for_sent(chat_id, count, timeout, method)

    def outbox(self) -> Outbox:
        return self.world.outbox()
