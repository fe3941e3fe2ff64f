"""bot/sqlitelib.py: SQLite's memory statistics are off in a process that imports the bot before sqlite3, and the
setting declines (changing nothing) once the library has started."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the setting is made on Linux only")

# Work on a file database with two threads, as the store does, then ask SQLite what it holds.
WORK = """
import sqlite3, sys, threading
from bot.sqlitelib import memory_in_use
path = sys.argv[1]
db = sqlite3.connect(path)
db.execute("CREATE TABLE t (x INTEGER)")
db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(20_000)])
db.commit()
def count():
    sqlite3.connect(path).execute("SELECT x % 7, count(*) FROM t GROUP BY 1").fetchall()
threads = [threading.Thread(target=count) for _ in range(2)]
[t.start() for t in threads]; [t.join() for t in threads]
import bot
print(bot.SQLITE_MEMORY_STATISTICS_OFF, memory_in_use(), len(db.execute("SELECT * FROM t").fetchall()))
"""


def run(prelude: str, tmp_path: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", prelude + WORK, str(tmp_path / "t.db")], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bot_first_turns_the_statistics_off_and_sqlite_still_works(tmp_path: Path) -> None:
    off, used, rows = run("import bot\n", tmp_path)
    assert (off, used, rows) == ("True", "0", "20000")


def test_sqlite3_first_leaves_them_on(tmp_path: Path) -> None:
    off, used, rows = run("import sqlite3\nimport bot\n", tmp_path)
    assert off == "False"
    assert int(used) > 0  # counted as before: the library refused nothing and changed nothing
    assert rows == "20000"
