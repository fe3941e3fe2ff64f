"""Each platform's message body for a reading, split into numbered parts that fit its byte limit. Pure functions.

Limits as the platforms document them: WeCom `markdown.content` at most 4,096 bytes of UTF-8 and `text.content`
at most 2,048; Feishu's whole request body at most 20 KB. DingTalk documents no byte figure for robot messages;
we hold its body to the same 20 KB. Signing adds `timestamp`/`sign` to a Feishu body afterwards, hence the reserve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot import render
from content.split import stripped_pieces

WECOM_LIMITS = {"markdown": 4096, "text": 2048}  # bytes of the content field
BODY_LIMIT = 20_000  # bytes of the JSON request body (DingTalk, Feishu)
SIGN_RESERVE = 96  # Feishu's "timestamp":"…","sign":"…" added after formatting

Payload = dict[str, Any]


@dataclass(frozen=True)
class RobotText:
    """What a robot post says, before any platform formatting."""

    title: str  # short: DingTalk's notification preview
    header: str  # the reading header, numbered per part when split
    body: str
    footer: str = ""  # the references, on the last part


def body_bytes(payload: Payload) -> int:
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def payload(kind: str, fmt: str, title: str, header: str, body: str, footer: str) -> Payload:
    """One platform body. Markdown marks only the header and the footer: the speech text goes in as written."""
    if kind == "wecom":
        if fmt == "text":
            return {"msgtype": "text", "text": {"content": _join(header, body, footer)}}
        return {"msgtype": "markdown", "markdown": {"content": _join(f"**{header}**", body,
                                                                     f"> {footer}" if footer else "")}}
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {
            "title": title, "text": _join(f"#### {header}", body, f"> {footer}" if footer else "")}}
    if kind == "feishu":
        if fmt == "interactive":
            elements: list[Payload] = [{"tag": "div", "text": {"tag": "plain_text", "content": body}}]
            if footer:
                elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": footer}]})
            return {"msg_type": "interactive", "card": {
                "header": {"title": {"tag": "plain_text", "content": header}, "template": "blue"},
                "elements": elements}}
        lines = [[{"tag": "text", "text": line}] for line in body.split("\n")]
        if footer:
            lines.append([{"tag": "text", "text": footer}])
        return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": header, "content": lines}}}}
    raise ValueError(f"unknown robot kind {kind!r}")


def fits(kind: str, fmt: str, body: Payload) -> bool:
    if kind == "wecom":
        key = "text" if fmt == "text" else "markdown"
        return len(body[key]["content"].encode()) <= WECOM_LIMITS[key]
    return body_bytes(body) <= BODY_LIMIT - SIGN_RESERVE


def posts(kind: str, fmt: str, text: RobotText) -> list[Payload]:
    """The reading as one body, or as numbered parts cut at sentence ends when it does not fit in one."""
    whole = payload(kind, fmt, text.title, text.header, text.body, text.footer)
    if fits(kind, fmt, whole):
        return [whole]
    # Size the chunks against the widest label and the footer (only the last part carries it, so this is safe).
    widest = render.robot_part(text.header, 99, 99)

    def chunk_fits(chunk: str) -> bool:
        return fits(kind, fmt, payload(kind, fmt, text.title, widest, chunk, text.footer))

    chunks = stripped_pieces(text.body, chunk_fits)
    n = len(chunks)
    return [payload(kind, fmt, render.robot_part(text.title, i, n), render.robot_part(text.header, i, n), chunk,
                    text.footer if i == n else "")
            for i, chunk in enumerate(chunks, start=1)]


def _join(*pieces: str) -> str:
    return "\n\n".join(p for p in pieces if p)


def text_of(body: Payload) -> str:
    """The readable text in a body (tests and the stand-in look at what a group would see)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("content", "text", "title") and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body)
    return "\n".join(found)

