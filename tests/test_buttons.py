"""Navigation by inline buttons edits one message in place instead of posting new ones (issue 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot import render
from bot.standin.state import SentRecord
from bot.store import GroupChanges
from tests.botkit import GROUP, MEMBER, Harness, bot_running


def buttons(record: SentRecord) -> dict[str, str]:
    """label -> callback data of a message's keyboard."""
    rows: list[list[dict[str, Any]]] = (record.reply_markup or {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def press(h: Harness, record: SentRecord, data: str) -> SentRecord:
    """Press a button under `record`; the bot's next action in the chat."""
    before = len(h.standin.sent(GROUP))
    h.standin.world.user_presses(GROUP, MEMBER, record.message_id, data)
    [action] = (await h.standin.wait_for_sent(GROUP, before + 1))[before:before + 1]
    return action


async def test_toc_has_a_button_for_every_part_and_point_and_they_edit_in_place(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        [toc] = await h.say(GROUP, MEMBER, "/toc")
        targets = set(buttons(toc).values())
        assert {f"sec:{s.ref}" for s in h.svc.doc.sections()} <= targets
        assert "/section_opening" in (toc.text or "")  # tappable in Telegram, unlike "/section 开头"
        shown = await press(h, toc, "sec:2.3")
        assert (shown.method, shown.message_id) == ("editMessageText", toc.message_id)
        assert "二、3 突出推动科学发展" in (shown.text or "")
        labels = buttons(shown)
        assert labels["◀ 二、2"] == "sec:2.2" and labels["目录"] == "toc" and labels["第三部分 ▶"] == "sec:3"
        back = await press(h, shown, "sec:2.2")
        assert (back.method, back.message_id) == ("editMessageText", toc.message_id)
        outline = await press(h, back, "toc")
        assert (outline.method, outline.message_id) == ("editMessageText", toc.message_id)
        assert "〔4.4〕" in (outline.text or "")
        assert h.standin.sent(GROUP, "sendMessage")[-1].message_id == toc.message_id  # nothing new was posted


async def test_a_long_section_is_paged_inside_one_message(tmp_path: Path) -> None:
    speech = Path(__file__).parent / "data" / "corpus" / "gov_beijing_2026.txt"  # parts longer than one message
    async with bot_running(tmp_path, content={"speech": str(speech)}) as h:
        doc = h.svc.doc
        part = next(p.section for p in doc.parts if len(render.section_messages(doc, p.section)) > 1)
        pages = render.section_messages(doc, part)
        [first] = await h.say(GROUP, MEMBER, f"/section {part.ref}")
        assert f"（1/{len(pages)}）" in (first.text or "")
        assert len(h.standin.sent(GROUP, "sendMessage")) == 1  # one message, not one per page
        nxt = next(data for label, data in buttons(first).items() if label.startswith("下一页"))
        second = await press(h, first, nxt)
        assert (second.method, second.message_id) == ("editMessageText", first.message_id)
        assert f"（2/{len(pages)}）" in (second.text or "")
        assert any(label.startswith("◀ 上一页") for label in buttons(second))


async def test_read_in_full_opens_every_section_of_the_reading(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        reading = h.svc.plan[2]  # day 3: the end of 一、1 and all of 一、2
        assert len(reading.refs) == 2
        await h.svc.db(lambda s: s.ensure_group(GROUP, "学习小组"))
        await h.svc.db(lambda s: s.update_group(GROUP, GroupChanges(next_day=3)))
        [push] = await h.say(GROUP, MEMBER, "/next")
        assert "一、1（续） — 一、2" in (push.text or "")
        full = next(data for label, data in buttons(push).items() if label.startswith("读全文"))
        opened = await press(h, push, full)
        assert opened.method == "sendMessage" and opened.message_id != push.message_id  # the reading stays
        assert "一、1 强化学习是“政治责任”的观念" in (opened.text or "")
        each = buttons(opened)
        assert "📖 一、2" in each
        second = await press(h, opened, each["📖 一、2"])
        assert (second.method, second.message_id) == ("editMessageText", opened.message_id)
        assert "一、2 强化学习是“紧迫任务”的观念" in (second.text or "")


async def test_tappable_section_commands(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        [point] = await h.say(GROUP, MEMBER, "/section_2_3")
        assert "二、3 突出推动科学发展" in (point.text or "")
        [opening] = await h.say(GROUP, MEMBER, "/section_opening@studybot_test_bot")
        assert (opening.text or "").startswith("📍 开头")
        [usage] = await h.say(GROUP, MEMBER, "/section")
        assert "/section_opening" in (usage.text or "") and "/section 开头" not in (usage.text or "")


async def test_search_hits_have_buttons_and_pages_turn_in_place(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        [first] = await h.say(GROUP, MEMBER, "/search 学习型党组织")
        result = h.svc.index.page("学习型党组织", 1)
        labels = buttons(first)
        assert [data for data in labels.values() if data.startswith("open:")] == [
            f"open:{hit.section.ref}" for hit in result.hits]
        assert labels[f"下一页（2/{result.pages}）▶"] == "srch:2:学习型党组织"
        [typed] = await h.say(GROUP, MEMBER, "/search 学习型党组织 2")
        second = await press(h, first, "srch:2:学习型党组织")
        assert (second.method, second.message_id) == ("editMessageText", first.message_id)
        assert second.text == typed.text  # the button shows what /search … 2 shows
        assert buttons(second)[f"◀ 上一页（1/{result.pages}）"] == "srch:1:学习型党组织"
        hit = h.svc.index.page("学习型党组织", 2).hits[0].section
        opened = await press(h, second, f"open:{hit.ref}")
        assert opened.method == "sendMessage" and render.breadcrumb(h.svc.doc, hit) in (opened.text or "")


async def test_forged_search_buttons_change_nothing_and_a_long_query_gets_no_pager(tmp_path: Path) -> None:
    async with bot_running(tmp_path) as h:
        long_query = " ".join(["学习"] * 12)  # one term, many hits, but more than the 64 bytes of callback data
        [first] = await h.say(GROUP, MEMBER, f"/search {long_query}")
        assert "更多结果：/search" in (first.text or "")  # there is a next page, and the text says how
        assert any(data.startswith("open:") for data in buttons(first).values())
        assert not any(data.startswith("srch:") for data in buttons(first).values())
        [hits] = await h.say(GROUP, MEMBER, "/search 学习")
        for forged in ("srch:0:学习", "srch:x:学习", "srch:2:"):
            h.standin.world.user_presses(GROUP, MEMBER, hits.message_id, forged)
        second = await press(h, hits, "srch:2:学习")  # the next real press is the first thing the bot does
        assert "显示第 6–10 处" in (second.text or "")
