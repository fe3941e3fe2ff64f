"""The offline chat tries the organizer's records: /demo fills a week, /report shows the private chat with a 🔒
prefix, /export writes the file into the working folder and prints its path."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest

from bot.config import build_config
from bot.demo import DEMO_MEMBERS
from bot.offline import run_offline
from bot.store import Store
from records import wording


async def test_demo_report_and_export_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("/demo\n/report\n/export\n"), out=out)
    transcript = out.getvalue()
    assert "本地演示：已模拟 8 位成员一周的学习记录——新增推送 7 天" in transcript
    assert "📊 学习报告" in transcript and "推送天数：7 天" in transcript
    private = transcript.split("🔒 私聊 · 学习助手:")
    assert len(private) >= 3  # the member table and the export
    assert "成员明细" in private[1] and "小王　打卡 7/7（100%）" in private[1]
    assert "📊 学习报告" not in "".join(private[1:]).split("🤖")[0]  # the group summary is not shown as private
    [saved] = re.findall(r"📎 文件已保存：(\S+\.xlsx)", transcript)
    path = Path(saved)
    assert path.parent == tmp_path.resolve() and path.is_file()
    summary = {r[0]: r for r in openpyxl.load_workbook(path)[wording.SUMMARY_SHEET].iter_rows(
        min_row=2, values_only=True)}
    assert {name for _, name, _, _ in DEMO_MEMBERS} <= set(summary)
    assert summary["小王"][2:4] == (7, 7) and summary["小周"][3] == 0
    assert summary["小刘"][6] == 2  # excused two days


async def test_demo_after_a_push_and_run_again_adds_later_weeks_in_order(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's first session (/pushnow, then /demo) and /demo again, in this run and the next: the plan's days
    stay in calendar order, nothing is written twice, and the demo's 小王 is the member `/as 小王` speaks as."""
    monkeypatch.chdir(tmp_path)
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("/subscribe\n/pushnow\n/demo\n/demo\n/roster\n/report\n"), out=out)
    first = out.getvalue()
    assert "新增推送 7 天" in first and "新增推送 6 天" in first  # 1 pushed + 7 + 6 = the plan's 14 days
    assert "时钟已快进到" in first
    roster = first.split("名单（")[1].split("🤖")[0]
    assert roster.count("小王") == 1
    assert "已登记 9 人（群成员共 9 人，不含机器人）" in first  # the demo's members sit in the group too
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("/demo\n/today\n/pushnow\n/pushnow\n"), out=out)
    ended, again = out.getvalue().split("> /pushnow")[1:]
    # The plan is all pushed: the first /pushnow runs on to the last day's end, when the summary and the export come.
    assert "学习总结" in ended and "学习台账" in ended and "文件已保存" in ended
    assert "学习计划已经全部推送完" in again
    assert "没有下一次推送" in again and "请先发送 /subscribe" not in again  # it is subscribed: finished
    store = Store(config.database)
    try:
        pushes = store.pushes(-100)
    finally:
        store.close()
    assert [day for _, day in pushes] == list(range(1, 15))
    assert [d for d, _ in pushes] == sorted(d for d, _ in pushes)


async def test_after_the_demo_you_can_speak_as_its_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/demo puts 小周 and four others on the roster, but `/as 小周` only offered 学员、小王、小李、小张."""
    monkeypatch.chdir(tmp_path)
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("/as 小周\n/demo\n/as 小周\n/mystats\n/as 谁\n"), out=out)
    steps = out.getvalue().split("\n> ")
    before, after = (s for s in steps if s.startswith("/as 小周"))
    assert "可选：学员、小王、小李、小张；" in before
    assert "现在以 小周（普通成员）的身份发言" in after
    assert "小周，你在本群还没有答过题" in next(s for s in steps if s.startswith("/mystats"))
    assert "小周" in next(s for s in steps if s.startswith("/as 谁"))
