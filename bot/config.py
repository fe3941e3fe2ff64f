"""Configuration: one YAML file, validated once at start-up, every problem reported together."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.robots.channels import ChannelConfig, parse_channels
from schedules.campaign import parse_open_until
from schedules.due import parse_time, parse_timezone, parse_weekdays

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
DEFAULT_CONFIG_PATHS = ("config.yaml", "studybot.yaml")


class ConfigError(ValueError):
    """The configuration has problems; `problems` lists each one as 'key: what is wrong'."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration:\n{lines}")


@dataclass(frozen=True)
class WebhookConfig:
    listen: str = "0.0.0.0"
    port: int = 8443
    url: str = ""
    secret_token: str = field(default="", repr=False)  # empty: the runner generates one for each run


@dataclass(frozen=True)
class TelegramConfig:
    token: str = field(default="", repr=False)
    base_url: str = "https://api.telegram.org/bot"
    mode: str = "polling"
    webhook: WebhookConfig = WebhookConfig()
    timeout: float = 20.0
    proxy: str = field(default="", repr=False)  # http://, https:// or socks5:// URL; may carry a password
    allowed_chats: tuple[int, ...] = ()  # groups the bot may serve; empty: any


@dataclass(frozen=True)
class ContentConfig:
    speech: Path | None = None
    question_banks: tuple[Path, ...] = ()
    generated_questions: bool = True


@dataclass(frozen=True)
class ReadingsConfig:
    min_chars: int = 250
    max_chars: int = 600


@dataclass(frozen=True)
class PushConfig:
    default_time: time = time(8, 0)
    default_timezone: str = "Asia/Shanghai"
    default_days: str = "每天"
    grace_hours: float = 3.0
    at_end: str = "stop"
    daily_quiz_questions: int = 0
    concurrency: int = 64
    lease_seconds: float = 60.0  # a push claim's lease in the ledger (schedules/ledger.py)


@dataclass(frozen=True)
class QuizConfig:
    open_period: int = 30
    default_questions: int = 5
    max_questions: int = 10
    # The quiz after a push stays open until this local time ("22:00") or for this long ("3h"), at least an hour.
    daily_until: time | timedelta = time(22, 0)


@dataclass(frozen=True)
class ReviewConfig:
    desired_retention: float = 0.9
    questions_per_review: int = 5


@dataclass(frozen=True)
class ReportsConfig:
    weekly_digest: bool = True  # Monday morning (group's local time): last week's report to each admin in private
    digest_time: time = time(9, 0)


@dataclass(frozen=True)
class Config:
    telegram: TelegramConfig = TelegramConfig()
    database: Path = Path("studybot.db")
    content: ContentConfig = ContentConfig()
    readings: ReadingsConfig = ReadingsConfig()
    push: PushConfig = PushConfig()
    quiz: QuizConfig = QuizConfig()
    review: ReviewConfig = ReviewConfig()
    reports: ReportsConfig = ReportsConfig()
    channels: tuple[ChannelConfig, ...] = ()  # robot groups (WeCom, DingTalk, Feishu): bot/robots/
    log_level: str = "INFO"
    log_file: Path | None = None  # besides stderr, a rotating log file
    source: str = "defaults"

    @property
    def offline(self) -> bool:
        return not self.telegram.token

    def secret_values(self) -> list[str]:
        """Every secret the configuration holds, for the log redactor: the bot token, the webhook secret, the proxy
        URL (it may carry a password) and each robot channel's webhook URL and signing secret."""
        robots = [s.reveal() for c in self.channels for s in (c.webhook, c.secret) if s]
        tg = self.telegram
        return [v for v in (tg.token, tg.webhook.secret_token, tg.proxy, *robots) if v]


class _Reader:
    """Walks the raw mapping, collecting problems instead of stopping at the first one."""

    def __init__(self, base_dir: Path) -> None:
        self.problems: list[str] = []
        self.base_dir = base_dir

    def section(self, raw: Mapping[str, Any], key: str, allowed: set[str]) -> Mapping[str, Any]:
        value = raw.get(key, {})
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.problems.append(f"{key}: must be a mapping of settings, got {_kind(value)}")
            return {}
        for unknown in sorted(set(value) - allowed):
            self.problems.append(f"{key}.{unknown}: unknown key (known: {', '.join(sorted(allowed))})")
        return value

    def get(self, raw: Mapping[str, Any], path: str, default: Any, check: Callable[[Any], Any]) -> Any:
        key = path.rsplit(".", 1)[-1]
        if key not in raw or raw[key] is None:
            return default
        try:
            return check(raw[key])
        except ValueError as exc:
            self.problems.append(f"{path}: {exc}")
            return default

    def path(self, value: Any) -> Path:
        text = _string(value)
        resolved = (self.base_dir / text).expanduser()
        if not resolved.is_file():
            raise ValueError(f"file not found: {resolved}")
        return resolved


def _kind(value: Any) -> str:
    return type(value).__name__


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_kind(value)} {value!r}")
    return value


SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def _secret_token(value: Any) -> str:
    """Telegram's rule for a webhook secret; the message never repeats the value (it is a secret)."""
    if not isinstance(value, str) or (value and not SECRET_TOKEN.fullmatch(value)):
        raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (the value is not shown)")
    return value


def _int_in(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, got {_kind(value)} {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return check


def _number_in(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, got {_kind(value)} {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return float(value)

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {_kind(value)} {value!r}")
    return value


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _string(value)
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {text!r}")
        return text

    return check


def parse_clock_time(value: Any) -> time:
    """'HH:MM' as a string; YAML reads an unquoted 8:30 as the number 510, so say so."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'YAML read an unquoted time as the number {value}; quote it, e.g. "08:00"')
    return parse_time(_string(value))


def parse_zone(value: Any) -> str:
    return parse_timezone(_string(value))


def _base_url(value: Any) -> str:
    text = _string(value).strip()
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, got {text!r}")
    return text


def _log_level(value: Any) -> str:
    text = _string(value).upper()
    if text not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError(f"must be DEBUG, INFO, WARNING or ERROR, got {value!r}")
    return text


PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://")


def _proxy(value: Any) -> str:
    text = _string(value).strip()
    if text and not text.startswith(PROXY_SCHEMES):
        # Never echo the value: a proxy URL may carry a password.
        raise ValueError("must start with http://, https://, socks5:// or socks5h://")
    if text.startswith("socks") and importlib.util.find_spec("socksio") is None:  # httpx's SOCKS support
        raise ValueError('a SOCKS proxy needs the socks extra: pip install "python-telegram-bot[socks]"')
    return text


def _chat_ids(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    if any(isinstance(i, bool) or not isinstance(i, int) for i in items):
        raise ValueError(f"must be a list of chat ids (numbers such as -1001234567890), got {value!r}")
    return tuple(items)


TOP_KEYS = {"telegram", "database", "content", "readings", "push", "quiz", "review", "reports", "channels",
            "log_level", "log_file"}


def build_config(raw: Any, source: str, base_dir: Path, env: Mapping[str, str]) -> Config:
    """Validate a raw mapping into a Config, raising ConfigError with every problem."""
    r = _Reader(base_dir)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(source, [f"the file must be a mapping of settings, got {_kind(raw)}"])
    for unknown in sorted(set(raw) - TOP_KEYS):
        r.problems.append(f"{unknown}: unknown key (known: {', '.join(sorted(TOP_KEYS))})")

    tg = r.section(raw, "telegram", {"token", "base_url", "mode", "webhook", "timeout", "proxy", "allowed_chats"})
    wh = r.section(tg, "webhook", {"listen", "port", "url", "secret_token"}) if "webhook" in tg else {}
    token = env.get(TOKEN_ENV, "").strip() or r.get(tg, "telegram.token", "", _string).strip()
    webhook = WebhookConfig(
        listen=r.get(wh, "telegram.webhook.listen", "0.0.0.0", _string),
        port=r.get(wh, "telegram.webhook.port", 8443, _int_in(1, 65535)),
        url=r.get(wh, "telegram.webhook.url", "", _string),
        secret_token=r.get(wh, "telegram.webhook.secret_token", "", _secret_token),
    )
    mode = r.get(tg, "telegram.mode", "polling", _choice("polling", "webhook"))
    if mode == "webhook" and not webhook.url:
        r.problems.append("telegram.webhook.url: required when telegram.mode is webhook")
    telegram = TelegramConfig(
        token=token,
        base_url=r.get(tg, "telegram.base_url", TelegramConfig.base_url, _base_url),
        mode=mode,
        webhook=webhook,
        timeout=r.get(tg, "telegram.timeout", TelegramConfig.timeout, _number_in(0.1, 120)),
        proxy=r.get(tg, "telegram.proxy", "", _proxy),
        allowed_chats=r.get(tg, "telegram.allowed_chats", (), _chat_ids),
    )

    ct = r.section(raw, "content", {"speech", "question_banks", "generated_questions"})
    banks: tuple[Path, ...] = ()
    if ct.get("question_banks") is not None:
        if isinstance(ct["question_banks"], list):
            # `get` looks the value up under the last part of the path, so key each item by that name.
            checked = [r.get({f"question_banks[{i}]": b}, f"content.question_banks[{i}]", None, r.path)
                       for i, b in enumerate(ct["question_banks"])]
            banks = tuple(b for b in checked if b is not None)
            r.problems += [f"content.question_banks[{i}]: empty entry; give a file path or remove the line"
                           for i, b in enumerate(ct["question_banks"]) if b is None]
        else:
            r.problems.append("content.question_banks: must be a list of file paths")
    content = ContentConfig(
        speech=None if ct.get("speech") == "" else r.get(ct, "content.speech", None, r.path),
        question_banks=banks,
        generated_questions=r.get(ct, "content.generated_questions", True, _bool),
    )

    rd = r.section(raw, "readings", {"min_chars", "max_chars"})
    readings = ReadingsConfig(
        min_chars=r.get(rd, "readings.min_chars", ReadingsConfig.min_chars, _int_in(50, 3500)),
        max_chars=r.get(rd, "readings.max_chars", ReadingsConfig.max_chars, _int_in(50, 3500)),
    )
    if readings.min_chars > readings.max_chars:
        r.problems.append(f"readings: min_chars ({readings.min_chars}) is larger than max_chars ({readings.max_chars})")

    pu = r.section(raw, "push", {"default_time", "default_timezone", "default_days", "grace_hours", "at_end",
                                 "daily_quiz_questions", "concurrency", "lease_seconds"})
    push = PushConfig(
        default_time=r.get(pu, "push.default_time", PushConfig.default_time, parse_clock_time),
        default_timezone=r.get(pu, "push.default_timezone", PushConfig.default_timezone, parse_zone),
        default_days=r.get(pu, "push.default_days", PushConfig.default_days, _days),
        grace_hours=r.get(pu, "push.grace_hours", PushConfig.grace_hours, _number_in(0.25, 22)),
        at_end=r.get(pu, "push.at_end", "stop", _choice("stop", "restart")),
        daily_quiz_questions=r.get(pu, "push.daily_quiz_questions", 0, _int_in(0, 3)),
        concurrency=r.get(pu, "push.concurrency", PushConfig.concurrency, _int_in(1, 1000)),
        lease_seconds=r.get(pu, "push.lease_seconds", PushConfig.lease_seconds, _number_in(1, 3600)),
    )

    qz = r.section(raw, "quiz", {"open_period", "default_questions", "max_questions", "daily_until"})
    quiz = QuizConfig(
        open_period=r.get(qz, "quiz.open_period", 30, _int_in(5, 600)),
        default_questions=r.get(qz, "quiz.default_questions", 5, _int_in(1, 10)),
        max_questions=r.get(qz, "quiz.max_questions", 10, _int_in(1, 10)),
        daily_until=r.get(qz, "quiz.daily_until", QuizConfig.daily_until, _open_until),
    )

    rv = r.section(raw, "review", {"desired_retention", "questions_per_review"})
    review = ReviewConfig(
        desired_retention=r.get(rv, "review.desired_retention", 0.9, _number_in(0.7, 0.99)),
        questions_per_review=r.get(rv, "review.questions_per_review", 5, _int_in(1, 20)),
    )
    if quiz.default_questions > quiz.max_questions:
        r.problems.append(f"quiz: default_questions ({quiz.default_questions}) is larger than max_questions "
                          f"({quiz.max_questions})")

    rp = r.section(raw, "reports", {"weekly_digest", "digest_time"})
    reports = ReportsConfig(
        weekly_digest=r.get(rp, "reports.weekly_digest", True, _bool),
        digest_time=r.get(rp, "reports.digest_time", ReportsConfig.digest_time, parse_clock_time),
    )
    channels = parse_channels(raw.get("channels"), r.problems, push.default_timezone, push.default_days)

    database = Path(r.get(raw, "database", "studybot.db", _string))
    if not database.is_absolute():
        database = base_dir / database
    if database.parent.exists() and not database.parent.is_dir():
        r.problems.append(f"database: {database.parent} is not a folder")

    log_level = r.get(raw, "log_level", "INFO", _log_level)
    log_text = r.get(raw, "log_file", "", _string)
    log_file = (base_dir / log_text).expanduser() if log_text else None
    if log_file is not None and not log_file.parent.is_dir():
        r.problems.append(f"log_file: folder {log_file.parent} does not exist")
    if r.problems:
        raise ConfigError(source, r.problems)
    return Config(telegram=telegram, database=database, content=content, readings=readings, push=push,
                  quiz=quiz, review=review, reports=reports, channels=channels, log_level=log_level,
                  log_file=log_file,
                  source=source)


def _open_until(value: Any) -> time | timedelta:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'YAML read an unquoted time as the number {value}; quote it, e.g. "22:00"')
    return parse_open_until(_string(value))


def _days(value: Any) -> str:
    text = _string(value)
    parse_weekdays(text)
    return text


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the config file (given, or config.yaml in the working folder if present, else defaults)."""
    env = os.environ if env is None else env
    if path is None:
        found = next((Path(p) for p in DEFAULT_CONFIG_PATHS if Path(p).is_file()), None)
        if found is None:
            return build_config({}, "defaults", Path.cwd(), env)
        path = found
    if not path.is_file():
        raise ConfigError(str(path), ["the configuration file does not exist"])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        raise ConfigError(str(path), [f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["the file is not UTF-8 text"]) from None
    return build_config(raw, str(path), path.parent.resolve(), env)
