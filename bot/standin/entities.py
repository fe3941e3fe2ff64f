"""Text rules of the Bot API: UTF-16 lengths, HTML parse mode (checked like Telegram's tdlib), command entities."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_ALL_TAGS = {*_SIMPLE_TAGS, "a", "span", "blockquote", "tg-emoji"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{2,4}));")
_SPECIAL_RE = re.compile(r"[<&]")
_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9\-]+")
_COMMAND_RE = re.compile(r"(?<![^\s])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


class EntityParseError(ValueError):
    """Raised with Telegram's wording (without the 'Bad Request: can't parse entities: ' prefix)."""


@dataclass(frozen=True)
class ParsedText:
    text: str
    entities: tuple[JSON, ...]


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (astral characters such as most emoji count twice)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    begin: int  # index into the source, for error offsets
    offset: int  # UTF-16 offset into the output
    attrs: dict[str, str]


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


def _decode_entity(src: str, i: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``i``; None when it is not a known entity (tdlib then keeps the '&' as text)."""
    m = _ENTITY_RE.match(src, i)
    if not m:
        return None
    dec, hexa, name = m.groups()
    if name is not None:
        ch = _NAMED.get(name)
        return (ch, m.end()) if ch else None
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), m.end()


def _read_attrs(src: str, i: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse attributes from ``i`` up to and including '>'; return them and the index after '>'."""
    attrs: dict[str, str] = {}
    n = len(src)
    while True:
        while i < n and src[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
        if src[i] == ">":
            return attrs, i + 1
        m = _ATTR_NAME_RE.match(src, i)
        if not m:
            raise EntityParseError(f'Empty attribute name in the tag "{tag}" at byte offset {_byte_offset(src, i)}')
        name = m.group().lower()
        i = m.end()
        while i < n and src[i].isspace():
            i += 1
        if i >= n or src[i] != "=":
            attrs[name] = ""  # valueless attribute, e.g. <blockquote expandable>
            continue
        i += 1
        while i < n and src[i].isspace():
            i += 1
        if i < n and src[i] in "'\"":
            end = src.find(src[i], i + 1)
            if end < 0:
                raise EntityParseError(f'Unclosed end of attribute value in the tag "{tag}"')
            raw, i = src[i + 1 : end], end + 1
        else:
            start = i
            while i < n and not src[i].isspace() and src[i] != ">":
                i += 1
            raw = src[start:i]
        attrs[name] = _decode_all(raw)


def _decode_all(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        hit = _decode_entity(raw, i) if raw[i] == "&" else None
        if hit:
            out.append(hit[0])
            i = hit[1]
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def _entity_for(node: _Open, length: int, parent: _Open | None) -> JSON | None:
    tag, attrs = node.tag, node.attrs
    ent: JSON = {"offset": node.offset, "length": length}
    if tag in _SIMPLE_TAGS:
        ent["type"] = _SIMPLE_TAGS[tag]
    elif tag == "span":
        ent["type"] = "spoiler"
    elif tag == "blockquote":
        ent["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
    elif tag == "tg-emoji":
        ent.update(type="custom_emoji", custom_emoji_id=attrs.get("emoji-id", ""))
    elif tag == "a":
        href = attrs.get("href", "")
        if not href:
            return None
        m = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if m:
            ent.update(type="text_mention", user={"id": int(m.group(1)), "is_bot": False, "first_name": "User"})
        else:
            ent.update(type="text_link", url=href)
    if tag == "code" and parent is not None and parent.tag == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-"):
            parent.attrs["language"] = language.removeprefix("language-")
            return None
    if tag == "pre" and attrs.get("language"):
        ent["language"] = attrs["language"]
    return ent


def parse_html(src: str) -> ParsedText:
    """Parse Telegram HTML into plain text and entities, rejecting what Telegram rejects."""
    out: list[str] = []
    u16 = 0
    stack: list[_Open] = []
    entities: list[JSON] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "&":
            hit = _decode_entity(src, i)
            if hit:
                out.append(hit[0])
                u16 += utf16_len(hit[0])
                i = hit[1]
                continue
        if c != "<":
            special = _SPECIAL_RE.search(src, i + 1)
            j = special.start() if special else n
            chunk = src[i:j]
            out.append(chunk)
            u16 += utf16_len(chunk)
            i = j
            continue
        begin = i
        if i + 1 < n and src[i + 1] == "/":
            end = src.find(">", i)
            if end < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(src, begin)}")
            name = src[i + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(src, begin)}")
            if name != stack[-1].tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(src, begin)}, "
                    f'expected "</{stack[-1].tag}>", found "</{name}>"'
                )
            node = stack.pop()
            if u16 > node.offset:
                ent = _entity_for(node, u16 - node.offset, stack[-1] if stack else None)
                if ent:
                    entities.append(ent)
            i = end + 1
            continue
        j = i + 1
        while j < n and not src[j].isspace() and src[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
        tag = src[i + 1 : j].lower()
        if tag not in _ALL_TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, begin)}')
        attrs, i = _read_attrs(src, j, tag, begin)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(src, begin)}')
        stack.append(_Open(tag, begin, u16, attrs))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), tuple(entities))


def strip_text(parsed: ParsedText) -> ParsedText:
    """Trim surrounding whitespace as Telegram does, keeping entity offsets right."""
    text = parsed.text
    stripped = text.strip()
    if stripped == text:
        return parsed
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    entities: list[JSON] = []
    for ent in parsed.entities:
        start = max(0, ent["offset"] - lead)
        end = min(size, ent["offset"] + ent["length"] - lead)
        if end > start:
            entities.append({**ent, "offset": start, "length": end - start})
    return ParsedText(stripped, tuple(entities))


def command_entities(text: str) -> list[JSON]:
    """``bot_command`` entities for every /command (optionally /command@bot) in a user's text."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())}
        for m in _COMMAND_RE.finditer(text)
    ]
