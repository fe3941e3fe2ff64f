"""The adapter between the robot pusher and the records that make its posts exactly once.

Every function takes the Store (they run on the store worker's thread) and is the one place the pusher reaches
those records. Today they are the robot channels' own claim/lease records (`bot/store.py` RobotRecords): a claim
per (channel, local date) with an owner and a lease renewed after every part, an expired claim taken over with the
parts already posted, never a live one. That is the shape of the push ledger built for Telegram groups
(issue9a, `schedules/ledger.py`); when it is on main these functions map onto it with keys such as "wecom:NAME".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.robots.channels import ChannelConfig
from bot.store import RobotChannel, RobotClaim, Store


@dataclass(frozen=True)
class ChannelProgress:
    next_day: int  # the plan day the channel's next own-schedule post sends
    last_date: dt.date | None  # the latest local date posted in full
    finished: bool


def key(channel: ChannelConfig) -> str:
    """The channel's ledger key: a robot of another platform under the same name is another target."""
    return f"{channel.kind}:{channel.name}"


def progress(row: RobotChannel) -> ChannelProgress:
    return ChannelProgress(next_day=row.next_day, last_date=row.last_pushed, finished=row.finished)


def claim(store: Store, channel: ChannelConfig, local_date: dt.date, day: int, now: float,
          lease: float) -> RobotClaim | None:
    """The right to post `day` on `local_date`, or None (posted, or a live claim by anyone, this process too)."""
    return store.robots.claim(channel.name, local_date, day, now, lease)


def posted_part(store: Store, claim: RobotClaim, parts_sent: int, parts: int, at: float, lease_until: float) -> bool:
    """Record one more part posted and renew the lease; False when the claim was taken over (stop posting)."""
    return store.robots.part_posted(claim, parts_sent, parts, at, lease_until)


def record(store: Store, claim: RobotClaim, plan_length: int, restart_at_end: bool) -> None:
    """The whole day is posted: mark it and move the channel's progress, in one transaction."""
    store.robots.complete(claim, plan_length, restart_at_end)


def release(store: Store, claim: RobotClaim, error: str) -> None:
    """Not (fully) posted: a later tick may claim it again and resumes after the parts already posted."""
    store.robots.release(claim, error)
