"""The `channels:` config section: robot groups, each with its webhook, signing secret and schedule or `follow`.

Checked once at load with every problem reported together; no problem text ever quotes a webhook URL or a
secret (they name the key and the expected shape instead).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.robots.secret import Secret
from schedules.due import PushSchedule, parse_time, parse_timezone, parse_weekdays

KINDS = ("wecom", "dingtalk", "feishu")
FORMATS = {"wecom": ("markdown", "text"), "dingtalk": ("markdown",), "feishu": ("post", "interactive")}
PLATFORM = {"wecom": "WeCom", "dingtalk": "DingTalk", "feishu": "Feishu"}
# What each platform's webhook looks like, as its documentation gives it; the token shapes are loose on purpose.
EXPECTED = {
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=…",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/…",
}
HOSTS = {"wecom": ("qyapi.weixin.qq.com",), "dingtalk": ("oapi.dingtalk.com",),
         "feishu": ("open.feishu.cn", "open.larksuite.com")}
TOKEN = re.compile(r"[A-Za-z0-9_-]{8,128}")
NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
KEYS = {"name", "kind", "webhook", "secret", "time", "timezone", "days", "follow", "format", "daily_question",
        "group"}


@dataclass(frozen=True)
class ChannelConfig:
    """One robot group. Exactly one of `schedule` (its own) and `follow` (a Telegram chat id) is set."""

    name: str
    kind: str
    webhook: Secret
    secret: Secret
    schedule: PushSchedule | None = None
    follow: int | None = None
    format: str = ""
    daily_question: bool = False  # 每日一题: one lettered question with the reading, its answer the next day
    group: int | None = None  # an own-schedule channel's Telegram group: its admins see the channel in reports

    @property
    def telegram_group(self) -> int | None:
        """The Telegram group whose organizer sees this channel (/report, /export, digest, stop notice)."""
        return self.follow if self.follow is not None else self.group

    @property
    def zone(self) -> str:
        """The channel's own time zone (a follow channel's :00 and :30 are UTC's, the same nearly everywhere)."""
        return self.schedule.timezone if self.schedule is not None else "UTC"

    @property
    def platform(self) -> str:
        return PLATFORM[self.kind]

    def when_text(self) -> str:
        """Its schedule, or the group it follows (CLI)."""
        if self.schedule is not None:
            from schedules.due import format_weekdays

            return f"{format_weekdays(self.schedule.weekdays)} {self.schedule.time:%H:%M} {self.schedule.timezone}"
        return f"follows Telegram chat {self.follow}"

    def describe(self) -> str:
        """One line for the CLI: never the URL or the secret."""
        signing = "signed" if self.secret else "unsigned"
        return f"{self.name}: {self.platform} ({self.format}, {signing}), {self.when_text()}"


def webhook_problem(kind: str, url: str) -> str | None:
    """Why `url` is not a webhook of this platform, without quoting it; None if it is one."""
    wrong = f"not a {PLATFORM[kind]} robot URL (expected {EXPECTED[kind]})"
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return wrong
    if parts.scheme not in ("http", "https") or not host:
        return wrong
    # The official host over https, or a loopback address (a local stand-in or relay, like telegram.base_url).
    if not (_loopback(host) or (host in HOSTS[kind] and parts.scheme == "https")):
        return f"{wrong}; only the official host over https or a loopback address is accepted"
    query = parse_qs(parts.query)
    if kind == "wecom":
        ok = parts.path == "/cgi-bin/webhook/send" and _one_token(query.get("key"))
    elif kind == "dingtalk":
        ok = parts.path == "/robot/send" and _one_token(query.get("access_token"))
    else:
        prefix = "/open-apis/bot/v2/hook/"
        ok = parts.path.startswith(prefix) and bool(TOKEN.fullmatch(parts.path[len(prefix):])) and not parts.query
    return None if ok else wrong


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _one_token(values: list[str] | None) -> bool:
    return values is not None and len(values) == 1 and bool(TOKEN.fullmatch(values[0]))


def parse_channels(raw: Any, problems: list[str], default_zone: str, default_days: str) -> tuple[ChannelConfig, ...]:
    """Validate the `channels:` list, appending every problem (named by key) to `problems`."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"channels: must be a list of robot groups, got {type(raw).__name__}")
        return ()
    out: list[ChannelConfig] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        channel = _channel(entry, f"channels[{i}]", problems, default_zone, default_days)
        if channel is None:
            continue
        if channel.name in seen:
            problems.append(f"channels[{i}].name: {channel.name!r} is used twice; names must be unique")
            continue
        seen.add(channel.name)
        out.append(channel)
    return tuple(out)


def _channel(entry: Any, where: str, problems: list[str], default_zone: str,
             default_days: str) -> ChannelConfig | None:
    if not isinstance(entry, Mapping):
        problems.append(f"{where}: must be a mapping (name, kind, webhook, …), got {type(entry).__name__}")
        return None
    before = len(problems)
    for unknown in sorted(set(entry) - KEYS):
        problems.append(f"{where}.{unknown}: unknown key (known: {', '.join(sorted(KEYS))})")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        problems.append(f"{where}.name: required; 1–32 letters, digits, - or _")
        name = ""
    else:
        where = f"channels.{name}"
    kind = entry.get("kind")
    if kind not in KINDS:
        problems.append(f"{where}.kind: must be one of {', '.join(KINDS)}, got {kind!r}")
        return None
    webhook = entry.get("webhook")
    if not isinstance(webhook, str) or not webhook.strip():
        problems.append(f"{where}.webhook: required: the robot's webhook URL ({EXPECTED[kind]})")
        webhook = ""
    elif (why := webhook_problem(kind, webhook)) is not None:
        problems.append(f"{where}.webhook: {why}")
    secret = entry.get("secret")
    if secret is not None and not isinstance(secret, str):
        problems.append(f"{where}.secret: must be a string, got {type(secret).__name__}")
        secret = None
    secret = (secret or "").strip()
    if kind == "wecom" and secret:
        problems.append(f"{where}.secret: WeCom robots have no signing secret; remove the key")
    if kind == "dingtalk" and not secret.startswith("SEC"):
        problems.append(f"{where}.secret: required for DingTalk: the 加签 secret from the robot's security settings "
                        "(it starts with SEC)")
    fmt = entry.get("format", FORMATS[kind][0])
    if fmt not in FORMATS[kind]:
        problems.append(f"{where}.format: must be one of {', '.join(FORMATS[kind])} for {PLATFORM[kind]}, got {fmt!r}")
    daily = entry.get("daily_question", False)
    if not isinstance(daily, bool):
        problems.append(f"{where}.daily_question: must be true or false, got {daily!r}")
    schedule, follow = _when(entry, where, problems, default_zone, default_days)
    group = entry.get("group")
    if group is not None and (isinstance(group, bool) or not isinstance(group, int)):
        problems.append(f"{where}.group: must be a Telegram chat id (a whole number such as -1001234567890)")
    elif group is not None and follow is not None:
        problems.append(f"{where}.group: a follow channel belongs to the group it follows; remove group")
    if len(problems) > before:
        return None
    return ChannelConfig(name=name, kind=kind, webhook=Secret(webhook.strip()), secret=Secret(secret),
                         schedule=schedule, follow=follow, format=fmt, daily_question=daily, group=group)


def _when(entry: Mapping[str, Any], where: str, problems: list[str], default_zone: str,
          default_days: str) -> tuple[PushSchedule | None, int | None]:
    follow = entry.get("follow")
    own = [k for k in ("time", "timezone", "days") if entry.get(k) is not None]
    if follow is not None:
        if own:
            problems.append(f"{where}: give either follow (a Telegram chat id) or its own {'/'.join(own)}, not both")
        if isinstance(follow, bool) or not isinstance(follow, int):
            problems.append(f"{where}.follow: must be a Telegram chat id (a whole number such as -1001234567890)")
            return None, None
        return None, follow
    if entry.get("time") is None:
        problems.append(f"{where}: give its own time (e.g. \"08:00\") or follow: <Telegram chat id>")
        return None, None
    try:
        at = _clock_time(entry["time"])
        zone = parse_timezone(_text(entry.get("timezone", default_zone), "timezone"))
        days = parse_weekdays(_text(entry.get("days", default_days), "days"))
        return PushSchedule(time=at, timezone=zone, weekdays=days), None
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None, None


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {type(value).__name__} {value!r}")
    return value


def _clock_time(value: Any) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'YAML read an unquoted time as the number {value}; quote it, e.g. "08:00"')
    return parse_time(_text(value, "time"))
