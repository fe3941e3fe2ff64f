"""Each robot's own rate limits, as sliding windows that never burst, plus the platforms' penalty holds.

Documented limits: WeCom 20 messages a minute per robot; DingTalk 20 a minute, and a robot that exceeds it is
throttled for 10 minutes; Feishu 100 a minute and 5 a second, and it asks senders to avoid the busy instants
on the hour and half hour (10:00, 17:30). A sliding window honours a fixed one too, so the limiter slides.
Send times are wall-clock seconds so that a restart can seed the windows from the store (the previous process's
sends still count on the platform's side).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

WINDOWS: dict[str, tuple[tuple[int, float], ...]] = {
    "wecom": ((20, 60.0),),
    "dingtalk": ((20, 60.0),),
    "feishu": ((100, 60.0), (5, 1.0)),
}
DINGTALK_THROTTLE = 600.0  # seconds a DingTalk robot is blocked after exceeding its limit
MARGIN = 0.25  # seconds of slack against clock skew between us and the platform
KEEP = 100  # send times worth remembering: the largest window's count


def feishu_quiet_delay(now: dt.datetime, zone: dt.tzinfo) -> float:
    """Seconds to wait so a Feishu post does not land in a :00 or :30 minute (local to the channel's zone)."""
    local = now.astimezone(zone)
    if local.minute % 30 != 0:
        return 0.0
    return 60.0 - local.second - local.microsecond / 1e6 + 5.0


class RobotLimiter:
    """`await limiter.acquire()` before each post: waits until every window has room and no hold is on."""

    def __init__(self, kind: str, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]],
                 recent: Iterable[float] = (), hold_until: float = 0.0) -> None:
        self.windows = WINDOWS[kind]
        self.clock = clock
        self.sleep = sleep
        self.sent: deque[float] = deque(sorted(recent)[-KEEP:], maxlen=KEEP)
        self.hold_until = hold_until
        self._lock = asyncio.Lock()

    def wait_needed(self, now: float) -> float:
        """Seconds until a post may go out at `now` (0 when it may go now)."""
        wait = max(0.0, self.hold_until - now)
        for count, seconds in self.windows:
            inside = [t for t in self.sent if t > now - seconds - MARGIN]
            if len(inside) >= count:
                wait = max(wait, inside[-count] + seconds + MARGIN - now)
        return wait

    async def acquire(self) -> float:
        """Wait for room, take it, and return the wall-clock second the post may go at."""
        async with self._lock:
            while (wait := self.wait_needed(self.clock())) > 0:
                await self.sleep(wait)
            now = self.clock()
            self.sent.append(now)
            return now

    def hold(self, seconds: float) -> None:
        """The platform said "too fast": send nothing for `seconds` (DingTalk: 10 minutes)."""
        self.hold_until = max(self.hold_until, self.clock() + seconds)
