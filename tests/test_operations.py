"""Command line and operations (issue 11): -c anywhere, database checks, backup, allow-list, proxy, log file."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, build_config
from bot.logs import setup_logging
from bot.store import GroupChanges, Store, backup_database, check_database, library_problems
from tests.botkit import ADMIN, TOKEN, bot_running

ROOT = Path(__file__).resolve().parent.parent


def studybot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)


def write_config(folder: Path, database: str) -> Path:
    path = folder / "bot.yaml"
    path.write_text(f'database: "{database}"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_file_may_follow_the_subcommand(tmp_path: Path, where: str) -> None:
    config = write_config(tmp_path, "elsewhere.db")
    args = ["-c", str(config), "config", "check"] if where == "before" else ["config", "check", "-c", str(config)]
    result = studybot(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{config}: OK" in result.stdout and "elsewhere.db" in result.stdout


def test_run_takes_c_after_the_subcommand_too(tmp_path: Path) -> None:
    config = write_config(tmp_path, "not-sqlite.db")
    (tmp_path / "not-sqlite.db").write_text("hello", encoding="utf-8")
    result = studybot("run", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1 and "not an SQLite database" in result.stderr  # the file named after `run`


def _newer_schema(path: Path) -> None:
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('studybot', 'm999_from_the_future', '2030-01-01')")


@pytest.mark.parametrize(("make", "problem"), [
    (lambda p: p.write_bytes(b"GIF89a not a database at all"), "is not an SQLite database"),
    (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200), "cannot be opened"),
    (lambda p: p.mkdir(), "is a folder"),
    (_newer_schema, "written by a newer studybot"),
])
def test_broken_databases_fail_config_check_and_run_with_one_line(tmp_path: Path, make: object,
                                                                   problem: str) -> None:
    db = tmp_path / "data.db"
    make(db)  # type: ignore[operator]
    config = write_config(tmp_path, "data.db")
    for command in (["config", "check"], ["run"]):
        result = studybot("-c", str(config), *command, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("studybot: ") and problem in lines[0], lines


def test_a_database_under_a_file_is_reported_and_a_missing_folder_is_creatable(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    assert check_database(tmp_path / "afile" / "x.db") == [f"database {tmp_path / 'afile' / 'x.db'} cannot be "
                                                           f"created: {tmp_path / 'afile'} is not a folder"]
    assert check_database(tmp_path / "new" / "deeper" / "new.db") == []  # the bot creates the folders


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anything")
def test_a_read_only_database_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    Store(db).close()
    db.chmod(0o444)
    assert any("not writable" in p for p in check_database(db))


async def test_backup_of_a_live_database_restores_to_the_same_records(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        for i in range(30):  # writes that may still sit in the WAL while the bot runs
            await h.svc.db(lambda s, i=i: s.ensure_group(-1000 - i, f"组{i}"))
        await h.svc.db(lambda s: s.update_group(-1000, GroupChanges(subscribed=True)))
        live = h.svc.config.database
        copy = tmp_path / "backup.db"
        await asyncio.to_thread(backup_database, live, copy)
        restored = tmp_path / "restored" / "studybot.db"
        restored.parent.mkdir()
        restored.write_bytes(copy.read_bytes())  # restore = copy the backup over the database
        expected = await h.svc.db(lambda s: [(g.chat_id, g.title, g.subscribed) for g in s.groups()])
    store = Store(restored)
    try:
        assert [(g.chat_id, g.title, g.subscribed) for g in store.groups()] == expected
        assert len(expected) >= 30
        assert store.applied_migrations() == Store(live).applied_migrations()
    finally:
        store.close()


def test_backup_command_writes_a_checked_copy(tmp_path: Path) -> None:
    Store(tmp_path / "studybot.db").close()
    result = studybot("backup", str(tmp_path / "copy.db"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "integrity ok" in result.stdout and (tmp_path / "copy.db").is_file()
    again = studybot("backup", "copy.db", cwd=tmp_path)
    assert again.returncode == 1 and "--force" in again.stderr


def test_proxy_and_allowed_chats_are_validated(tmp_path: Path) -> None:
    good = build_config({"telegram": {"proxy": "socks5://u:pa55word@127.0.0.1:1080", "allowed_chats": [-100, -200]}},
                        "t", tmp_path, env={})
    assert good.telegram.allowed_chats == (-100, -200)
    assert "pa55word" not in repr(good)
    with pytest.raises(ConfigError) as caught:
        build_config({"telegram": {"proxy": "ftp://u:pa55word@host", "allowed_chats": ["abc"]}}, "t", tmp_path, env={})
    assert "telegram.proxy" in str(caught.value) and "telegram.allowed_chats" in str(caught.value)
    assert "pa55word" not in str(caught.value)


async def test_the_bot_leaves_groups_not_on_the_allow_list(tmp_path: Path) -> None:
    async with bot_running(tmp_path, telegram={"allowed_chats": [-100123]}) as h:
        h.standin.add_bot_to_group(-555, "别的群", by_user=ADMIN)
        [notice] = await h.standin.wait_for_sent(-555, 1)
        assert "只为指定的学习群服务" in (notice.text or "")
        for _ in range(100):
            if h.world.status(-555, h.world.bot.id) == "left":
                break
            await asyncio.sleep(0.05)
        assert h.world.status(-555, h.world.bot.id) == "left"
        h.standin.add_bot_to_group(-100123, "学习小组", by_user=ADMIN)
        [greeting] = await h.standin.wait_for_sent(-100123, 1)
        assert "大家好" in (greeting.text or "")


def test_log_file_rotates_and_keeps_secrets_out(tmp_path: Path) -> None:
    log_file = tmp_path / "studybot.log"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", TOKEN, "http://user:pw@proxy:3128", log_file=log_file)
        logging.getLogger("studybot.test").info("token %s via %s", TOKEN, "http://user:pw@proxy:3128")
        for handler in root.handlers:
            handler.flush()
        text = log_file.read_text(encoding="utf-8")
        assert "studybot.test" in text and TOKEN not in text and "pw@proxy" not in text
        assert any(type(h).__name__ == "RotatingFileHandler" for h in root.handlers)
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])


def test_this_sqlite_library_has_what_the_store_needs() -> None:
    assert library_problems() == []


def test_an_sqlite_too_old_or_built_without_a_feature_is_named_before_the_bot_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Ubuntu 20.04's SQLite 3.31 has no UPDATE ... FROM: every ledger batch would fail and be retried as a lock."""
    import bot.store
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bot.store.sqlite3, "sqlite_version_info", (3, 31, 1))
    [problem] = library_problems()
    assert "SQLite 3.31.1 is too old" in problem and "3.34.0" in problem
    config = write_config(tmp_path, "data.db")
    for command in (["config", "check"], ["run"]):
        assert main(["-c", str(config), *command]) == 1
        assert "SQLite 3.31.1 is too old" in capsys.readouterr().err
    assert not (tmp_path / "data.db").exists()  # refused before anything was written
    monkeypatch.undo()

    class WithoutJson:
        def execute(self, statement: str) -> sqlite3.Cursor:
            raise sqlite3.OperationalError("no such table: json_each")

        def close(self) -> None:
            pass

    monkeypatch.setattr(bot.store.sqlite3, "connect", lambda *args, **kwargs: WithoutJson())
    assert library_problems() == [f"SQLite {sqlite3.sqlite_version} was built without the JSON functions, "
                                  "which studybot needs"]
