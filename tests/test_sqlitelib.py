"""bot/sqlitelib.py: SQLite's memory statistics are off in a process that imports the bot before sqlite3, and the
setting declines (changing nothing) once the library has started. Where this interpreter's SQLite cannot be reached
(an extension built in, or hiding SQLite's symbols) the setting is not made at all: skipped."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.sqlitelib import memory_in_use

pytestmark = pytest.mark.skipif(memory_in_use() is None, reason="this interpreter's SQLite cannot be reached")

# Work on a file database with two threads, as the store does, then ask SQLite what it holds.
WORK = """
import sqlite3, sys, threading
from bot.sqlitelib import memory_in_use
path = sys.argv[1]
db = sqlite3.connect(path)
db.execute("CREATE TABLE t (x INTEGER)")
db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(20_000)])
db.commit()
groups = []
def count():
    groups.append(len(sqlite3.connect(path).execute("SELECT x % 7, count(*) FROM t GROUP BY 1").fetchall()))
threads = [threading.Thread(target=count) for _ in range(2)]
[t.start() for t in threads]; [t.join() for t in threads]
import bot
print(bot.SQLITE_MEMORY_STATISTICS_OFF, memory_in_use(), len(db.execute("SELECT * FROM t").fetchall()), *groups)
"""


def run(prelude: str, tmp_path: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", prelude + WORK, str(tmp_path / "t.db")], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bot_first_turns_the_statistics_off_and_sqlite_still_works(tmp_path: Path) -> None:
    assert run("import bot\n", tmp_path) == ["True", "0", "20000", "7", "7"]


def test_sqlite3_first_leaves_them_as_the_library_was_built(tmp_path: Path) -> None:
    off, used, *rows = run("import sqlite3\nimport bot\n", tmp_path)
    assert off == "False" and rows == ["20000", "7", "7"]  # refused, and SQLite works as before
    built_off = "DEFAULT_MEMSTATUS=0" in {r[0] for r in sqlite3.connect(":memory:").execute("PRAGMA compile_options")}
    assert (int(used) == 0) == built_off  # counted as the build counts: the refusal changed nothing
