"""A setting of the SQLite library itself, made once per process before it starts: memory statistics off.

SQLite counts every allocation it makes in process-wide statistics (sqlite3_memory_used and friends) under one
process-wide mutex, unless built with SQLITE_DEFAULT_MEMSTATUS=0, which SQLite's own list of recommended build
options advises for speed; Debian's and most distributions' builds keep the default, and leave out lookaside
(SQLITE_OMIT_LOOKASIDE), so every small allocation goes through that mutex. Two connections working at once on two
threads, as the store's writer and reader do and an export's two counts do (bot/reports.load_summary), then wait on
each other inside SQLite: measured on the 5,000-member, 60-day export, each count took twice its CPU time while the
other ran. Nothing in studybot reads the statistics.

The setting (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)) is only taken before the library initializes, which
importing Python's sqlite3 module does; so bot/__init__.py calls this before any module of the bot imports sqlite3.
The library is the one Python's `_sqlite3` extension links to, found by loading that extension's file as a plain
shared object (its own library search path, without running it as a module): the import that follows loads the same
objects again. Where any of that is not so (sqlite3 already imported, another platform, a build that hides the
symbol), nothing changes and SQLite works as before, only slower with two threads.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys

SQLITE_CONFIG_MEMSTATUS = 9  # sqlite3.h
SQLITE_OK = 0


def memory_statistics_off() -> bool:
    """Turn SQLite's memory statistics off for this process; True if it took effect."""
    if "_sqlite3" in sys.modules or sys.platform != "linux":
        # Imported already: the library has started and would refuse (SQLITE_MISUSE). Linux only, where the call is
        # made the way ctypes calls any C function (a variadic one elsewhere, e.g. macOS on arm64, takes its
        # arguments differently).
        return False
    try:
        spec = importlib.util.find_spec("_sqlite3")
        if spec is None or not spec.origin:
            return False
        library = ctypes.CDLL(spec.origin)
        config = library.sqlite3_config
    except (OSError, AttributeError, ImportError, ValueError):
        return False
    config.restype = ctypes.c_int
    return bool(config(SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0)) == SQLITE_OK)


def memory_in_use() -> int | None:
    """Bytes SQLite says it holds (sqlite3_memory_used): 0 while its statistics are off; None if not to be asked."""
    module = sys.modules.get("_sqlite3")
    if module is None or sys.platform != "linux" or not getattr(module, "__file__", None):
        return None
    try:
        used = ctypes.CDLL(module.__file__).sqlite3_memory_used
    except (OSError, AttributeError):
        return None
    used.restype = ctypes.c_int64
    return int(used())


def described() -> str:
    """"SQLite 3.40.1 (memory statistics off)": the library and this setting, for benchmark results."""
    import sqlite3  # here, not above: importing it starts the library (see the module's docstring)

    from bot import SQLITE_MEMORY_STATISTICS_OFF

    return f"SQLite {sqlite3.sqlite_version} (memory statistics {'off' if SQLITE_MEMORY_STATISTICS_OFF else 'on'})"
