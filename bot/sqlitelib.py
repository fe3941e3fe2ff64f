"""A setting of the SQLite library itself, made once per process before it starts: memory statistics off.

SQLite counts every allocation it makes in process-wide statistics (sqlite3_memory_used and friends) under one
process-wide mutex, unless built with SQLITE_DEFAULT_MEMSTATUS=0, which SQLite's own list of recommended build
options advises for speed. Debian's build (and its derivatives') keeps the default and also leaves out lookaside
(SQLITE_OMIT_LOOKASIDE), so every small allocation goes through that mutex. Two connections working at once on two
threads, as the store's writer and reader do and an export's two counts do (bot/reports.load_summary), then wait on
each other inside SQLite: measured on the 5,000-member, 60-day export, each count took twice its CPU time while the
other ran. Nothing in studybot, PTB, APScheduler or sqlite-utils reads the statistics; the heap limits that need
them (sqlite3_soft_heap_limit64) are not used.

The setting (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)) is only taken before the library initializes, which
importing Python's sqlite3 module does, and while no other thread uses SQLite (sqlite3_config is not threadsafe);
so bot/__init__.py makes it on the bot's first import, before any of its modules imports sqlite3 and before it
starts any thread. The library is the one Python's `_sqlite3` extension links to, found by loading that extension's
file as a plain shared object (through its own library search path, without running it as a module): the import
that follows reuses the objects already loaded, so there is one SQLite in the process, configured. Where any of that
is not so (sqlite3 imported already, a platform other than Linux, where this was measured, an extension built into
the interpreter or hiding SQLite's symbols), nothing changes and SQLite works as before, only slower with two threads.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys

SQLITE_CONFIG_MEMSTATUS = 9  # sqlite3.h
SQLITE_OK = 0


def _library(path: str | None) -> ctypes.CDLL | None:
    """The `_sqlite3` extension at `path` as a shared object, through which SQLite's C functions are found."""
    if sys.platform != "linux" or not path or not path.endswith(".so"):
        return None  # built into the interpreter ('built-in'), PyPy's pure-Python module, another platform
    try:
        return ctypes.CDLL(path)
    except Exception:  # not loadable (or vetoed by an audit hook): SQLite stays as it is
        return None


def memory_statistics_off() -> bool:
    """Turn SQLite's memory statistics off for this process; True if it took effect."""
    if "_sqlite3" in sys.modules:
        return False  # imported: the library has started and would refuse (SQLITE_MISUSE)
    try:
        spec = importlib.util.find_spec("_sqlite3")
    except (ImportError, ValueError):
        return False
    library = _library(spec.origin if spec is not None else None)
    config = getattr(library, "sqlite3_config", None)
    if config is None:
        return False
    # int sqlite3_config(int, ...): the named argument declared, so ctypes makes a variadic call of it (which some
    # ABIs pass differently from a fixed one), and the option's value passed as a C int.
    config.argtypes = [ctypes.c_int]
    config.restype = ctypes.c_int
    return bool(config(SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0)) == SQLITE_OK)


def memory_in_use() -> int | None:
    """Bytes SQLite says it holds (sqlite3_memory_used): 0 with its statistics off once a connection has worked;
    None where the library cannot be asked (see `_library`)."""
    module = sys.modules.get("_sqlite3")
    used = getattr(_library(getattr(module, "__file__", None)), "sqlite3_memory_used", None)
    if used is None:
        return None
    used.restype = ctypes.c_int64
    return int(used())


def described() -> str:
    """e.g. "SQLite 3.40.1 (memory statistics off)", as the library says it (a build may have them off itself), for
    benchmark results; call it after a connection has worked."""
    import sqlite3  # here, not above: importing it starts the library (see the module's docstring)

    used = memory_in_use()
    state = "unknown" if used is None else "off" if used == 0 else "on"
    return f"SQLite {sqlite3.sqlite_version} (memory statistics {state})"
