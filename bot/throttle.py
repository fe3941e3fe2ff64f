"""Per-member flood control: a token bucket per user, refilled over time. Pure, clock passed in."""

from __future__ import annotations

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
