"""The offline local chat: piped input gives a readable transcript of the real bot's replies."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import build_config
from bot.offline import mark_underlines, run_offline

ROOT = Path(__file__).resolve().parent.parent


async def test_piped_lines_give_a_transcript_with_pushes_and_polls(tmp_path: Path) -> None:
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    lines = "/toc\n/section 2.3\n#1\n/search 学风\n/subscribe\n/pushnow\n/quiz 1 all\n1\n"
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO(lines), out=out)
    transcript = out.getvalue()
    assert transcript.startswith("studybot — 离线本地聊天（offline）")
    assert "TELEGRAM_BOT_TOKEN" in transcript.splitlines()[1]
    assert "大家好！我是学习助手" in transcript  # the greeting when the bot joins the demo group
    assert "〔4.4〕" in transcript  # the outline
    assert "二、3 突出推动科学发展这个根本目标" in transcript
    assert "◀ 二、2" in transcript and "二、2 突出适应岗位需求" in transcript  # button #1 pressed
    assert "马克思主义【学风】" in transcript  # the search hit, marked
    assert "第 1 天 / 共" in transcript  # the push fired by /pushnow
    assert "📊 测验:" in transcript and "  1) " in transcript
    assert "回答正确" in transcript or "回答错误" in transcript


async def test_a_button_press_shows_the_toast_telegram_would_pop_up(tmp_path: Path) -> None:
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("/subscribe\n/pushnow\n#3\n#3\n#1\n"), out=out)
    after_push = out.getvalue().split("> /pushnow", 1)[1]
    assert "#3 ✅ 已学习" in after_push  # the check-in button under the push
    first, again, outline = after_push.split("> #3", 2)[1], after_push.split("> #3", 2)[2], after_push.split("> #1")[1]
    assert "（弹出提示：✅ 打卡成功：第 1 天）" in first
    assert "（弹出提示：已记录：第 1 天）" in again.split("> #1")[0]  # a second press records nothing new
    assert "弹出提示" not in outline  # a navigation button answers silently


def test_studybot_run_without_a_token_works_from_a_pipe(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], input="/toc\n/section 2.3\n", capture_output=True, text=True,
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "offline" in result.stdout.splitlines()[0]
    assert "> /section 2.3" in result.stdout and "二、3 突出推动科学发展" in result.stdout
    assert "Traceback" not in result.stderr


def test_underlines_are_marked_by_utf16_offsets() -> None:
    text = "😀 终身学习理念"  # the emoji counts two UTF-16 units
    assert mark_underlines(text, [{"type": "underline", "offset": 3, "length": 4}]) == "😀 【终身学习】理念"
    assert mark_underlines(text, [{"type": "bold", "offset": 0, "length": 2}]) == text


async def test_the_readme_quick_start_shows_what_the_offline_chat_prints(tmp_path: Path) -> None:
    """README's first session is what a newcomer sees: each of its lines (but `…`, and the push time, which depends on
    today's date) is in the transcript of the same input, in the same order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    shown = [line for line in quick_start.splitlines() if line.strip() not in ("", "…")]
    typed = [line[2:] for line in shown if line.startswith("> ")]
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("".join(f"{line}\n" for line in typed)), out=out)
    transcript = out.getvalue()
    at = 0
    for line in shown:
        if "时钟快进到下一次推送时间" in line:
            line = line.split("时间 ", 1)[0]
        found = transcript.find(line, at)
        assert found >= 0, f"README shows {line!r}, which the offline chat does not print (there)"
        at = found + len(line)


async def test_the_private_chat_is_reachable_by_prefix_and_by_deep_link_buttons(tmp_path: Path) -> None:
    """/review, /reminder and /forgetme only work in private, and the 📚 去私聊复习 button is a t.me link: offline, a
    press on it answered as a stale check-in (its callback data is empty), and nothing could be said in private."""
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    lines = "/review\n#1\n私聊 /reminder 21:00\n私聊\n/as 小王\n私聊 /forgetme\n"
    await run_offline(config, stdin=io.StringIO(lines), out=out)
    steps = out.getvalue().split("\n> ")
    pressed = next(s for s in steps if s.startswith("#1"))
    assert "打开与机器人的私聊，并替你发送 /start review_-100" in pressed
    assert "🔒 私聊 · 学习助手:" in pressed and "打卡" not in pressed
    reminder = next(s for s in steps if s.startswith("私聊 /reminder"))
    assert "🔒 私聊 · 学习助手:" in reminder and "21:00" in reminder and "只能在与我的私聊中使用" not in reminder
    bare = next(s for s in steps if s.startswith("私聊\n"))
    assert "私聊 /review" in bare  # how to use the prefix
    forget = next(s for s in steps if s.startswith("私聊 /forgetme"))
    assert "🔒 小王的私聊 · 学习助手:" in forget


async def test_remindnow_shows_the_evening_reminder_naming_who_has_not_checked_in(tmp_path: Path) -> None:
    """/pushnow jumps from one morning's push to the next, over the evening: the /remind reminder was never seen."""
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    lines = ("/remindnow\n/subscribe\n/remind 20:30\n/pushnow\n/as 小王\n#3\n/as 小李\n/today\n/as 我\n"
             "/remindnow\n/remindnow\n")
    await run_offline(config, stdin=io.StringIO(lines), out=out)
    steps = [s for s in out.getvalue().split("\n> ") if s.startswith("/remindnow")]
    assert "先发送 /remind 20:30" in steps[0]
    assert "时钟快进到今晚的提醒时间" in steps[1] and "20:30" in steps[1]
    reminder = next(line for line in steps[1].splitlines() if "还没有打卡" in line)
    assert "学员" in reminder and "小李" in reminder and "小王" not in reminder  # 小王 checked in
    assert "这次没有发出提醒" in steps[2] and "还没有打卡" not in steps[2]  # once a day


async def test_the_daily_quizs_questions_are_answered_in_the_order_shown(tmp_path: Path) -> None:
    """A daily quiz of 2 sends both polls at once; a typed number answered only the last one shown, so 【1/2】 could
    never be answered offline. Numbers now answer the open questions in order, each verdict naming its question."""
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("/subscribe\n/dailyquiz 2\n/pushnow\n1\n1\n1\n"), out=out)
    answers = out.getvalue().split("> /pushnow")[1].split("\n> 1\n")[1:]
    assert len(answers) == 3
    assert answers[0].lstrip().startswith("【1/2】") and answers[1].lstrip().startswith("【2/2】"), answers
    assert answers[2].strip() == "（这道题你已经答过了）"


async def test_pushnow_after_the_last_push_runs_on_to_the_completion_summary_and_export(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The completion summary and the admins' full export come when the last day is over (its quiz closed, 22:00):
    offline, /pushnow only said the plan was all pushed, so the end of the plan could not be seen."""
    monkeypatch.chdir(tmp_path)
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("/subscribe\n/goto 14\n/pushnow\n#3\n/pushnow\n/pushnow\n"), out=out)
    last, ended, again = out.getvalue().split("> /pushnow")[1:]
    assert "第 14 天 / 共 14 天" in last and "学习总结" not in last
    assert "22:00" in ended.splitlines()[1] and "学习总结" in ended and "打卡率 100%" in ended
    assert "🔒 私聊" in ended and "附上完整的学习台账" in ended
    assert list(tmp_path.glob("学习台账_*.xlsx"))
    assert "学习计划已经全部推送完" in again and "学习总结" not in again


async def test_the_deep_link_fallback_can_be_tried_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline you always had a private chat with the bot, and a text link's address was not shown, so the report's
    fallback for an admin who never opened one (a t.me link in the group reply) could not be tried. `私聊 /stop`
    closes it; the link is pressed as a button and delivers the table in private."""
    monkeypatch.chdir(tmp_path)
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("/subscribe\n/pushnow\n私聊 /stop\n/report\n#1\n"), out=out)
    report, pressed = out.getvalue().split("\n> ")[-2:]  # what /report and then #1 printed
    assert report.startswith("/report") and pressed.startswith("#1")
    assert "🔒" not in report and "完整的成员明细只在私聊里发送" in report
    assert "#1 🔗 点这里打开与我的私聊" in report
    assert "/start report_-100" in pressed and "🔒 私聊" in pressed and "成员明细" in pressed


async def test_an_excuse_by_reply_can_be_tried_offline(tmp_path: Path) -> None:
    """/excuse by replying to the member's message had no offline form: `回复 小王 …` replies to 小王's latest one."""
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    lines = "/as 小王\n大家好\n/as 我\n回复 小李 /excuse 今天\n回复 小王 /excuse 今天 病假\n/roster\n"
    await run_offline(config, stdin=io.StringIO(lines), out=out)
    li, wang, roster = out.getvalue().split("\n> ")[-3:]
    assert "小李 在这次运行里还没有在群里发过言" in li
    assert "✅ 已登记 小王 请假" in wang and "病假" in wang
    assert "小王 · 今天请假" in roster


async def test_a_late_check_in_on_an_earlier_push_can_be_tried_offline(tmp_path: Path) -> None:
    """补学 is a press on an older reading's ✅ button, but #N presses only under the latest message, so after the
    next push the earlier one's button was out of reach. `#3 第1天` presses under day 1's reading."""
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    lines = "/subscribe\n/pushnow\n/pushnow\n#3 第1天\n#3 第1天\n#3\n#3 第9天\n"
    await run_offline(config, stdin=io.StringIO(lines), out=out)
    late, again, today, missing = out.getvalue().split("\n> ")[-4:]
    assert "✅ 打卡成功：第 1 天（补学）" in late and "已记录：第 1 天" in again
    assert "✅ 打卡成功：第 2 天" in today and "补学" not in today
    assert "没有第 9 天的推送消息" in missing


async def test_help_offline_names_every_offline_form(tmp_path: Path) -> None:
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("/help\n"), out=out)
    offline = out.getvalue().split("本地离线模式：")[1].split("）\n")[0]
    for form in ("/pushnow", "/as 小王", "/demo", "/remindnow", "私聊 /review", "#3 第1天", "回复 小王", "/join 小赵",
                 "/leave 小王", "私聊 /stop"):
        assert form in offline, form


async def test_joins_and_leaves_can_be_tried_offline(tmp_path: Path) -> None:
    """The roster follows join and leave service messages, but offline nobody could join or leave: /join, /leave."""
    config = build_config({"database": str(tmp_path / "offline.db")}, "test", tmp_path, env={})
    out = io.StringIO()
    await run_offline(config, stdin=io.StringIO("/as 小王\n大家好\n/leave 小王\n/join 小赵\n/roster\n"), out=out)
    left, joined, roster = out.getvalue().split("\n> ")[-3:]
    assert "小王 退出了群聊" in left and "现在以 学员（群主）的身份发言" in left
    assert "小赵 加入了群聊" in joined
    assert "小王（已退群）" in roster and "小赵 · " in roster and "入群" in roster
