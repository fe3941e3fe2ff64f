"""The offline demo survives repeated runs over one database, bad bytes, and speaks as several members (issue 11)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import build_config
from bot.offline import run_offline

ROOT = Path(__file__).resolve().parent.parent
# Quiz, pushes (more than a week of them: the fast clock runs ahead of real time) and admin commands, every run.
SESSION = ("/subscribe\n" + "/pushnow\n" * 9 + "/settings\n/settime 09:00\n/quiz 1 all\n1\n"
           "/as 小王\n/leaderboard\n/as 我\n/pause\n/resume\n")


async def _run(config: object, lines: str | bytes) -> str:
    raw = lines.encode() if isinstance(lines, str) else lines
    out = io.StringIO()
    await run_offline(config, stdin=io.TextIOWrapper(io.BytesIO(raw)), out=out)  # type: ignore[arg-type]
    return out.getvalue()


async def test_three_runs_over_one_database_keep_admin_quiz_and_pushes_working(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # 27 pushes pass the plan's end: the final export is saved in the working folder
    config = build_config({"database": str(tmp_path / "demo.db")}, "test", tmp_path, env={})
    days: list[int] = []
    for run in range(3):
        transcript = await _run(config, SESSION)
        assert "只有群管理员" not in transcript, f"run {run + 1}: the owner lost admin rights"
        assert transcript.count("✅ 已更新") == 1, f"run {run + 1}: /settime got no answer"
        assert "📊 测验:" in transcript, f"run {run + 1}: no quiz poll"
        assert "正在进行一轮测验" not in transcript, f"run {run + 1}: a phantom round blocks /quiz"
        assert "回答正确" in transcript or "回答错误" in transcript
        assert "⏸" in transcript or "已暂停" in transcript
        days += [int(d) for d in re.findall(r"》第 (\d+) 天 / 共", transcript)]
    assert days == list(range(1, len(days) + 1)) and len(days) >= 10  # across runs: kept, never repeated


async def test_bad_bytes_are_replaced_and_answered(tmp_path: Path) -> None:
    config = build_config({"database": str(tmp_path / "demo.db")}, "test", tmp_path, env={})
    transcript = await _run(config, b"/search \xe4\xb8\n\xc4\xe3\xba\xc3\n/section \xff2.3\n/toc\n")
    assert "没有找到“\ufffd”" in transcript  # the cut character became U+FFFD and was searched for
    assert "〔4.4〕" in transcript  # later lines are still answered


async def test_as_switches_the_member_who_answers(tmp_path: Path) -> None:
    config = build_config({"database": str(tmp_path / "demo.db")}, "test", tmp_path, env={})
    transcript = await _run(config, "/quiz 1 all\n1\n/as 小王\n2\n/as 小李\n1\n/as 我\n/as 谁\n/leaderboard\n")
    board = transcript[transcript.rindex("排行榜"):]
    assert "小王" in board and "小李" in board and "学员" in board
    assert "可选：学员、小王、小李、小张" in transcript  # an unknown name lists the members


def test_piped_run_prints_every_reply_before_it_ends(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run"], input=b"/search \xc4\xe3\n/toc\n", capture_output=True,
            cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        stdout = result.stdout.decode()
        assert "Traceback" not in result.stderr.decode()
        assert "〔4.4〕" in stdout
        assert stdout.index("> /toc") < stdout.index("〔4.4〕")  # the outline comes after its command
