"""Clocks the scheduler reads `now` from: the system clock in production, a settable one in tests."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

UTC = dt.UTC


class Clock(Protocol):
    def __call__(self) -> dt.datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real time, aware UTC."""

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


def _as_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"clock times must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


class FakeClock:
    """A clock that only moves when told to: `set()` it or `advance()` it."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = _as_utc(start)

    def __call__(self) -> dt.datetime:
        return self._now

    @property
    def now(self) -> dt.datetime:
        return self._now

    def set(self, value: dt.datetime) -> None:
        """Jump to `value` (any aware datetime; stored as UTC). Jumping backwards is allowed on purpose."""
        self._now = _as_utc(value)

    def advance(self, delta: dt.timedelta | None = None, **kwargs: float) -> dt.datetime:
        """Move forward by `delta` or by timedelta keyword arguments (`minutes=5`); returns the new time."""
        step = (delta or dt.timedelta()) + dt.timedelta(**kwargs)
        if step < dt.timedelta():
            raise ValueError(f"advance() only moves forward, got {step}; use set() to go back")
        self._now += step
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"
