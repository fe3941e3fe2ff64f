"""Flood control at the door: a token bucket per member (`Throttle`) and a command budget per group (`ChatBudget`).
Pure, clock passed in."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Throttle:
    """Allows `burst` commands at once and `rate` more per second after that, per key."""

    burst: float = 10.0
    rate: float = 1.0
    max_keys: int = 50_000
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, last seen)
    _told: set[int] = field(default_factory=set)  # keys refused and told so since they were last allowed

    def allow(self, key: int, now: float) -> bool:
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if allowed:
            self._told.discard(key)
        if len(self._buckets) > self.max_keys:
            self._forget_idle(now)
        return allowed

    def first_refusal(self, key: int) -> bool:
        """True once per flood: the member is told to slow down once, then refused quietly until allowed again."""
        if key in self._told:
            return False
        self._told.add(key)
        return True

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        self._told &= set(self._buckets)


@dataclass
class ChatBudget:
    """Per group: at most `count` commands handled in any `window` seconds; the rest are refused at the door.

    Telegram lets a bot send about 20 messages a minute into one group. A reply over that budget waits inside its
    handler (bot/ratelimit.py paces it), and PTB runs 64 handlers at once: one group flooding commands used to fill
    every slot with handlers waiting for that group's minute, and every other chat waited too. Admitting no more
    commands than the group's replies can leave keeps a handler's wait short; the flooding group gets one notice
    (`first_refusal`) and the commands over the budget are dropped (they could not have been answered this minute).
    Pure, clock passed in.
    """

    count: int = 19  # Telegram's 20 a minute, less one for the notice
    window: float = 61.0  # as the limiter's group window: a minute and a second of margin
    max_keys: int = 10_000
    _admitted: dict[int, deque[float]] = field(default_factory=dict)  # chat -> times of commands let in
    _told: set[int] = field(default_factory=set)  # chats refused and told so since they were last let in

    def allow(self, chat_id: int, now: float) -> bool:
        times = self._admitted.get(chat_id)
        if times is None:
            if len(self._admitted) >= self.max_keys:
                self._forget_idle(now)
            times = self._admitted[chat_id] = deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.count:
            return False
        times.append(now)
        self._told.discard(chat_id)
        return True

    def first_refusal(self, chat_id: int) -> bool:
        """True once per flood: the group is told once, then refused quietly until a command is let in again."""
        if chat_id in self._told:
            return False
        self._told.add(chat_id)
        return True

    def _forget_idle(self, now: float) -> None:
        self._admitted = {k: v for k, v in self._admitted.items() if v and v[-1] > now - self.window}
        self._told &= set(self._admitted)
