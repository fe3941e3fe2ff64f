"""Per-member flood control."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.throttle import Throttle


def test_burst_then_refill() -> None:
    throttle = Throttle(burst=3, rate=1.0)
    assert [throttle.allow(1, 0.0) for _ in range(5)] == [True, True, True, False, False]
    assert throttle.allow(2, 0.0)  # another member is unaffected
    assert throttle.allow(1, 1.0) and not throttle.allow(1, 1.0)


@given(st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=300))
def test_never_more_than_burst_plus_refill(times: list[float]) -> None:
    throttle = Throttle(burst=5, rate=0.5)
    ordered = sorted(times)
    allowed = sum(throttle.allow(7, t) for t in ordered)
    assert allowed <= 5 + (ordered[-1] - ordered[0]) * 0.5 + 1e-9
