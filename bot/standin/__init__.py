"""Local stand-in for the Telegram Bot API: the real PTB stack talks to it over HTTP on 127.0.0.1."""

from bot.standin.limits import Bucket, FloodLimits, LimitConfig, TrafficStats
from bot.standin.server import StandIn
from bot.standin.state import ANONYMOUS_ADMIN_ID, ApiError, FakeUser, Outbox, PollState, SentRecord, Upload, World

__all__ = [
    "ANONYMOUS_ADMIN_ID",
    "ApiError",
    "Bucket",
    "FakeUser",
    "FloodLimits",
    "LimitConfig",
    "Outbox",
    "PollState",
    "SentRecord",
    "StandIn",
    "TrafficStats",
    "Upload",
    "World",
]
