"""Logging set-up that keeps the bot token and the robot webhook keys and secrets out of every log line."""

from __future__ import annotations

import logging
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path

REDACTED = "<token>"
# Telegram tokens look like 123456789:AAE...; also catch them inside /bot<token>/ URL paths.
TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
# Robot webhooks carry their credential in the URL: WeCom ?key=, DingTalk ?access_token= (and the derived &sign=),
# Feishu /open-apis/bot/v2/hook/<token>.
ROBOT_URL_KEYS = re.compile(r"([?&](?:key|access_token|sign)=|/bot/v2/hook/)[^&\s\"'/?#]+")


def redact(text: str, secrets: list[str] | None = None) -> str:
    """The text with the given secrets and anything shaped like a bot token replaced."""
    for secret in sorted(secrets or [], key=len, reverse=True):  # a URL before the key inside it
        if secret:
            text = text.replace(secret, REDACTED)
    return ROBOT_URL_KEYS.sub(rf"\1{REDACTED}", TOKEN_SHAPE.sub(REDACTED, text))


class RedactingFilter(logging.Filter):
    """Replaces the token (and anything shaped like one) in the formatted message and exception text."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if clean != message:
            record.msg, record.args = clean, None
        return True


LOG_FILE_BYTES = 5 * 1024 * 1024  # each rotated file
LOG_FILE_KEEP = 5  # rotated files kept besides the current one


def setup_logging(level: str, *secrets: str, log_file: Path | None = None) -> RedactingFilter:
    """Root logging at `level` to stderr (and a rotating `log_file` if given), httpx quieted (it logs request
    URLs, which carry the token), `secrets` (`Config.secret_values`: token, webhook secret, proxy URL ...) and
    anything shaped like a bot token redacted."""
    redactor = RedactingFilter(list(secrets))
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        handlers.append(RotatingFileHandler(log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_KEEP,
                                            encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(redactor)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor


def redact_also(secret: str) -> None:
    """Redact `secret` too, in every handler set up by `setup_logging` (a secret made after start-up)."""
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, RedactingFilter) and secret and secret not in found.secrets:
                found.secrets.append(secret)
