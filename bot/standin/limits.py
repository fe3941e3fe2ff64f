"""Flood-limit model for the local Bot API stand-in, plus its traffic counters.

Telegram documents its limits only roughly (about 30 messages/s overall, 20/minute into one group, about 1/s
into one private chat).  They are modelled as leaky buckets, the same shape PTB's ``AIORateLimiter`` (aiolimiter)
uses, so a bot that paces itself with PTB's defaults never sees a 429 here, while a bot that bursts past them does.
``LimitConfig(strict=True)`` models them as strict sliding windows instead (at most ``capacity`` messages in any
``period`` seconds, no tolerance): a leaky bucket's full burst after a quiet spell is refused there.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass(frozen=True)
class Bucket:
    """A leaky bucket: holds at most ``capacity`` messages and drains ``capacity / period`` per second."""

    capacity: int
    period: float

    @property
    def rate(self) -> float:
        return self.capacity / self.period


@dataclass(frozen=True)
class LimitConfig:
    """The three limits; private chats get a small burst because real Telegram tolerates short bursts there."""

    overall: Bucket = Bucket(30, 1.0)
    group: Bucket = Bucket(20, 60.0)
    private: Bucket = Bucket(5, 5.0)
    # A request may reach the server a little earlier or later than the client's limiter let it go; this much of
    # a message is forgiven so that a correctly paced client is not punished for that jitter.
    tolerance: float = 0.5
    strict: bool = False  # sliding windows instead of leaky buckets (and no tolerance)


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the stand-in answered it: status 0 for a dropped connection."""

    time: float
    method: str
    chat_id: str | None
    status: int


@dataclass
class TrafficStats:
    """What went through the stand-in; tests and benchmarks read these."""

    total_requests: int = 0
    too_many_requests: int = 0
    requests_by_method: Counter[str] = field(default_factory=Counter)
    delivered: Counter[int] = field(default_factory=Counter)
    refused: Counter[int] = field(default_factory=Counter)  # 429s per chat
    refused_at: list[float] = field(default_factory=list)  # the stand-in clock's time of each 429
    requests: list[RequestRecord] = field(default_factory=list)  # every answered (or dropped) request, in order

    @property
    def delivered_total(self) -> int:
        return sum(self.delivered.values())


class _Level:
    """Mutable fill level of one bucket."""

    __slots__ = ("last", "level")

    def __init__(self, now: float) -> None:
        self.level = 0.0
        self.last = now

    def leak(self, bucket: Bucket, now: float) -> None:
        if now > self.last:
            self.level = max(0.0, self.level - (now - self.last) * bucket.rate)
            self.last = now

    def wait(self, bucket: Bucket, tolerance: float) -> float:
        """Seconds until one more message fits; 0 if it fits now give or take ``tolerance`` of a message."""
        excess = self.level + 1 - bucket.capacity
        return 0.0 if excess <= tolerance else excess / bucket.rate


class _Window:
    """Times of the messages accepted within the last ``period`` seconds of one sliding window."""

    __slots__ = ("times",)

    def __init__(self) -> None:
        self.times: deque[float] = deque()

    def wait(self, bucket: Bucket, now: float) -> float:
        """Seconds until one more message fits; 0 if it fits now."""
        while self.times and self.times[0] <= now - bucket.period:
            self.times.popleft()
        return 0.0 if len(self.times) < bucket.capacity else self.times[0] + bucket.period - now


class FloodLimits:
    """Decides whether a message to a chat may go now; counts on the stand-in's (injectable) clock."""

    def __init__(
        self, clock: Clock, config: LimitConfig | None = None, *, enabled: bool = True, stats: TrafficStats
    ) -> None:
        self.clock = clock
        self.config = config or LimitConfig()
        self.enabled = enabled
        self.stats = stats
        self._overall = _Level(clock())
        self._chats: dict[int, _Level] = {}
        self._overall_window = _Window()
        self._chat_windows: dict[int, _Window] = {}

    def reset(self) -> None:
        """Forget all fill levels (counters in ``stats`` are kept)."""
        self._overall = _Level(self.clock())
        self._chats.clear()
        self._overall_window = _Window()
        self._chat_windows.clear()

    def acquire(self, chat_id: int, chat_type: str) -> int | None:
        """Take a slot for one message; return None if allowed, else the ``retry_after`` seconds (≥ 1)."""
        if not self.enabled:
            return None
        now = self.clock()
        cfg = self.config
        chat_bucket = cfg.private if chat_type == "private" else cfg.group
        if cfg.strict:
            return self._acquire_strict(chat_id, chat_bucket, now)
        chat_level = self._chats.get(chat_id)
        if chat_level is None:
            chat_level = self._chats[chat_id] = _Level(now)
        self._overall.leak(cfg.overall, now)
        chat_level.leak(chat_bucket, now)
        wait = max(self._overall.wait(cfg.overall, cfg.tolerance), chat_level.wait(chat_bucket, cfg.tolerance))
        if wait > 0:
            return self._refuse(chat_id, wait, now)
        self._overall.level += 1
        chat_level.level += 1
        return None

    def _acquire_strict(self, chat_id: int, chat_bucket: Bucket, now: float) -> int | None:
        chat_window = self._chat_windows.get(chat_id)
        if chat_window is None:
            chat_window = self._chat_windows[chat_id] = _Window()
        wait = max(self._overall_window.wait(self.config.overall, now), chat_window.wait(chat_bucket, now))
        if wait > 0:
            return self._refuse(chat_id, wait, now)
        self._overall_window.times.append(now)
        chat_window.times.append(now)
        return None

    def _refuse(self, chat_id: int, wait: float, now: float) -> int:
        self.stats.too_many_requests += 1
        self.stats.refused[chat_id] += 1
        self.stats.refused_at.append(now)
        return max(1, math.ceil(wait))
