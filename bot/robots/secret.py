"""A value that must never be shown: its repr and str are redacted, only `reveal()` gives it out."""

from __future__ import annotations

REDACTED = "<redacted>"


class Secret:
    """Wraps a webhook URL key or signing secret so that logs, errors and reprs cannot leak it by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})" if self._value else "Secret('')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling (multiprocessing, caches) would write the value to disk or a pipe: refuse.
        raise TypeError("a Secret is not picklable")
