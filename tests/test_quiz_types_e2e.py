"""End to end through the stand-in: a round with every question type; a multiple-answer quiz scored right and wrong."""

from __future__ import annotations

from pathlib import Path

from content.questions import default_bank_path
from tests.botkit import GROUP, Harness, add_group, bot_running, settle

ALICE, BOB, CAROL = 41, 42, 43
SPEECH = default_bank_path().with_name("speech.txt")

BANK = """
questions:
  - id: "t-cloze"
    ref: "3.1"
    question: "树立终身学习理念，自觉做到学以立德、学以增智、（　　）。"
    answer: "学以创业"
    distractors: ["学以致用", "学以修身", "学以明理"]
    explanation: "原文：“自觉做到学以立德、学以增智、学以创业。”〔三、1〕"
  - id: "t-truefalse"
    ref: "2.3"
    question: "判断：“坚持群众路线和实践观点,在向群众学习、向实践学习上下功夫”出自讲话第三部分。"
    answer: "错"
    distractors: ["对"]
    explanation: "错。这句话在第二部分第3点〔二、3〕。"
    support: "坚持群众路线和实践观点,在向群众学习、向实践学习上下功夫"
  - id: "t-multiple"
    ref: "4"
    question: "讲话第四部分提出了哪几个“加强”？（多选）"
    answer: ["加强组织领导", "加强示范带动", "加强机制建设", "加强舆论宣传"]
    distractors: ["加强队伍建设", "加强作风建设"]
    explanation: "第四部分四点：加强组织领导、加强示范带动、加强机制建设、加强舆论宣传。〔四〕"
  - id: "t-point"
    ref: "3.2"
    question: "“要创新学习方法”是第三部分的第几点？"
    answer: "第2点"
    distractors: ["第1点", "第3点"]
    explanation: "第三部分：1、要树立先进学习理念；2、要创新学习方法；3、要优化学习服务。〔三、2〕"
    support: "要创新学习方法"
"""


def options_of(poll: dict[str, object]) -> list[str]:
    return [str(o["text"]) for o in poll["options"]]  # type: ignore[attr-defined, index]


async def test_a_round_of_every_type_is_sent_and_scored(tmp_path: Path) -> None:
    bank = tmp_path / "bank.yaml"
    bank.write_text(BANK, encoding="utf-8")
    content = {"speech": str(SPEECH), "question_banks": [str(bank)], "generated_questions": False}
    async with bot_running(tmp_path, content=content) as h:
        await add_group(h)
        intro = await h.say(GROUP, ALICE, "/quiz 4 all", replies=2)
        assert "答对一题得 1 分，每人只计第一次作答" in (intro[0].text or "")
        world = h.standin.world
        seen: dict[str, dict[str, object]] = {}
        for number in range(1, 5):
            record = (await h.standin.wait_for_sent(GROUP, number, method="sendPoll"))[number - 1]
            poll = record.poll
            assert poll is not None and poll["type"] == "quiz"
            question = str(poll["question"])
            opts = options_of(poll)
            correct = list(poll["correct_option_ids"])  # type: ignore[call-overload]
            assert "," not in question + "".join(opts)  # full-width punctuation in what members read
            if "多选" in question:
                seen["multiple"] = poll
                assert poll["allows_multiple_answers"] is True and len(correct) == 4 and len(opts) == 6
                assert {opts[i] for i in correct} == {"加强组织领导", "加强示范带动", "加强机制建设", "加强舆论宣传"}
                wrong_ones = [i for i in range(len(opts)) if i not in correct]
                world.user_answers_poll(poll["id"], ALICE, sorted(correct))  # exactly the right set
                world.user_answers_poll(poll["id"], BOB, sorted(correct)[:3])  # one missing
                world.user_answers_poll(poll["id"], CAROL, [*correct, wrong_ones[0]])  # one too many
            else:
                assert poll["allows_multiple_answers"] is False and len(correct) == 1
                if "判断" in question:
                    seen["true_false"] = poll
                    assert opts == ["对", "错"] and opts[correct[0]] == "错"
                elif "第几点" in question:
                    seen["which_point"] = poll
                    assert opts[correct[0]] == "第2点"
                else:
                    seen["cloze"] = poll
                    assert opts[correct[0]] == "学以创业"
                world.user_answers_poll(poll["id"], ALICE, correct)
                world.user_answers_poll(poll["id"], BOB, [(correct[0] + 1) % len(opts)])
            # Alice and Bob answer every poll, Carol only the multiple-answer one.
            expected = 2 * number + ("multiple" in seen)
            await settle(lambda n=expected: answered(h) == n)  # type: ignore[misc]
            before = len(h.standin.sent(GROUP))
            world.close_poll(str(poll["id"]))
            if number == 4:
                [results] = (await h.standin.wait_for_sent(GROUP, before + 1))[before:]
        assert set(seen) == {"cloze", "true_false", "multiple", "which_point"}
        scores = h.svc.store.chat_scores(GROUP)
        assert scores[ALICE] == (4, 4)  # every answer right, the multiple one with exactly the right set
        assert scores[BOB] == (0, 4)  # a subset of the right options is wrong
        assert scores[CAROL] == (0, 1)  # so is a superset
        text = results.text or ""
        assert "🥇" in text and "4/4" in text
        bob_line = next(line for line in text.splitlines() if "User42" in line)
        assert "🥈" not in bob_line and "0/4" in bob_line  # no medal for 0 points
        await _stats_say_rounded_and_bracketed(h)


def answered(h: Harness) -> int:
    return sum(n for _, n in h.svc.store.chat_scores(GROUP).values())


async def _stats_say_rounded_and_bracketed(h: Harness) -> None:
    [mine] = await h.say(GROUP, BOB, "/mystats")
    text = mine.text or ""
    assert "正确率：0%" in text and "薄弱环节：〔" in text and "/section opening" not in text
