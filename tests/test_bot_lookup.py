"""End to end through the stand-in: lookup commands, buttons, plain text, bad input and flooding."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.botkit import ADMIN, GROUP, MEMBER, add_group, bot_running


async def test_toc_section_and_search_reply_in_chinese(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        [toc] = await h.say(GROUP, MEMBER, "/toc")
        assert "一、统一思想" in (toc.text or "") and "〔4.4〕" in (toc.text or "")

        [section] = await h.say(GROUP, MEMBER, "/section 二、3")
        assert section.text is not None
        assert section.text.startswith("📍 二、突出重点")
        assert "› 二、3 突出推动科学发展这个根本目标" in section.text
        buttons = [b["callback_data"] for row in section.reply_markup["inline_keyboard"] for b in row]  # type: ignore[index]
        assert buttons == ["sec:2.2", "toc", "sec:3"]

        [found] = await h.say(GROUP, MEMBER, "/search@studybot_test_bot 终身学习")
        assert "〔三、1〕" in (found.text or "") and "终身学习" in (found.text or "")
        assert any(e["type"] == "bold" for e in found.entities)


async def test_a_whole_part_comes_with_all_its_points(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        [part] = await h.say(GROUP, MEMBER, "/section 第三部分")
        text = part.text or ""
        assert text.startswith("📍 三、改革创新")
        assert all(marker in text for marker in ("1、要树立先进学习理念", "2、要创新学习方法", "3、要优化学习服务"))


async def test_bad_input_gets_a_short_chinese_reply(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        [bad_ref] = await h.say(GROUP, MEMBER, "/section 9.9")
        assert "没有第九部分" in (bad_ref.text or "")
        [missing] = await h.say(GROUP, MEMBER, "/section")
        assert "/section 2.3" in (missing.text or "")
        [junk] = await h.say(GROUP, MEMBER, "/search " + "<b>\"AND* OR NOT(-" * 200)
        assert "没有找到" in (junk.text or "")
        [long_ref] = await h.say(GROUP, MEMBER, "/section " + "啊" * 4000)
        assert len(long_ref.text or "") < 400
        [unknown] = await h.say(GROUP, MEMBER, "/frobnicate@studybot_test_bot")
        assert "/help" in (unknown.text or "")
        assert await h.quiet(GROUP, MEMBER, "/othercmd@some_other_bot") == []


async def test_buttons_show_neighbouring_sections_and_outline(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        [section] = await h.say(GROUP, MEMBER, "/section 1.1")
        before = len(h.standin.sent(GROUP))
        h.standin.world.user_presses(GROUP, MEMBER, section.message_id, "sec:1.2")
        [nxt] = (await h.standin.wait_for_sent(GROUP, before + 1))[before:]
        assert "一、2 强化学习是“紧迫任务”的观念" in (nxt.text or "")
        h.standin.world.user_presses(GROUP, MEMBER, section.message_id, "toc")
        [outline] = (await h.standin.wait_for_sent(GROUP, before + 2))[before + 1:]
        assert "〔2.3〕" in (outline.text or "")


async def test_plain_text_lookups_in_private_chat(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        [outline] = await h.say(MEMBER, MEMBER, "目录")
        assert "〔1.1〕" in (outline.text or "")
        [point] = await h.say(MEMBER, MEMBER, "二、3")
        assert "二、3 突出推动科学发展" in (point.text or "")
        [found] = await h.say(MEMBER, MEMBER, "搜索 学风")
        assert "学风" in (found.text or "")
        [hint] = await h.say(MEMBER, MEMBER, "你好")
        assert "目录" in (hint.text or "")


async def test_a_flooding_member_is_throttled_without_stalling_others(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        for _ in range(40):
            h.standin.user_sends(GROUP, MEMBER, "/toc")
        [reply] = await h.say(-200, ADMIN, "/toc")  # another group is answered at once
        assert "〔1.1〕" in (reply.text or "")
        await asyncio.sleep(1.0)
        answered = len(h.standin.sent(GROUP))
        assert 1 <= answered <= 12  # the burst allowance, not 40 replies


async def test_commands_are_registered_in_chinese(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        commands = next(iter(h.standin.world.commands.values()))
        names = {c["command"]: c["description"] for c in commands}
        assert {"toc", "section", "search", "quiz", "subscribe"} <= set(names)
        assert names["toc"] == "全文目录"


async def test_search_as_people_type_with_true_count_and_pages(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        await add_group(h)
        [first] = await h.say(GROUP, MEMBER, "/search 學習型黨組織")  # traditional characters
        text = first.text or ""
        total = int(text.split("找到 ")[1].split(" 处")[0])
        assert f"找到 {total} 处，显示前 5 处" in text and total > 10
        assert "更多结果：/search 學習型黨組織 2" in text
        assert "学习型党组织" in text  # the snippet shows the text as written, in display typography
        [second] = await h.say(GROUP, MEMBER, "/search 學習型黨組織 2")
        assert f"找到 {total} 处，显示第 6–10 处" in (second.text or "")
        [comma] = await h.say(GROUP, MEMBER, "/search 统一思想，准确把握")  # the speech has an ASCII comma
        assert "〔一〕" in (comma.text or "") and "统一思想，准确把握" in (comma.text or "")
        assert "统一思想," not in (comma.text or "")


async def test_sections_and_readings_show_full_width_punctuation(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        [part] = await h.say(GROUP, MEMBER, "/section 4.1")
        text = part.text or ""
        assert "各级党委（组）要把推进马" in text and "(组)" not in text
        assert "四、加强领导，推动学习型党组织建设落到实处" in text  # the breadcrumb's heading too


async def test_an_unreadable_reference_is_explained_once(tmp_path: Path) -> None:
    """/section abc said 找不到“abc”。看不懂“abc”。 and gave two sets of examples."""
    async with bot_running(tmp_path) as h:
        [bad] = await h.say(GROUP, MEMBER, "/section abc")
        text = bad.text or ""
        assert text.startswith("看不懂“abc”。") and text.count("abc") == 1
        assert text.count("写法示例") == 1 and "例如：" not in text and "/toc" in text
        [missing] = await h.say(GROUP, MEMBER, "/section 2.99")
        assert (missing.text or "").startswith("找不到“2.99”。第二部分只有 3 点")
