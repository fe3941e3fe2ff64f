"""Robot channels, the pure parts: signing against independent vectors, config checks, formats and splitting,
the limiter's windows, the platforms' answers, and secrets kept out of reprs, problems and logs."""

from __future__ import annotations

import base64
import json
import logging
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.config import Config, ConfigError, build_config
from bot.logs import redact, setup_logging
from bot.robots import formats
from bot.robots.client import classify, signed_request
from bot.robots.formats import RobotText, posts, text_of
from bot.robots.limiter import RobotLimiter, feishu_quiet_delay
from bot.robots.secret import Secret
from bot.robots.signing import dingtalk_sign, dingtalk_url, feishu_sign
from content.split import stripped_pieces

WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"
DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=0f1e2d3c4b5a69788796a5b4c3d2e1f0"
FEISHU = "https://open.feishu.cn/open-apis/bot/v2/hook/3f9a2c1e-aaaa-bbbb-cccc-0123456789ab"
DING_SECRET = "SECdemo-0123456789abcdef"


def config(tmp_path: Path, channels: object) -> Config:
    return build_config({"database": str(tmp_path / "db.sqlite"), "channels": channels}, "test", tmp_path, env={})


# --- signing ---------------------------------------------------------------------------------------------------

# Computed outside Python, with: printf '1599360473000\nSECdemo' | openssl dgst -sha256 -hmac 'SECdemo' -binary | base64
# and: printf '' | openssl dgst -sha256 -hmac "$(printf '1599360473\ndemo')" -binary | base64
DINGTALK_VECTOR = ("SECdemo", 1599360473000, "tGWkA5eQOQNCNPDgphtxIoNLO+/gD8Lcb705KQoRzeY=")
FEISHU_VECTOR = ("demo", 1599360473, "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=")


def test_signatures_match_vectors_computed_with_openssl() -> None:
    secret, ts, expected = DINGTALK_VECTOR
    assert dingtalk_sign(secret, ts) == expected
    secret, ts, expected = FEISHU_VECTOR
    assert feishu_sign(secret, ts) == expected


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
@given(secret=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40),
       ts=st.integers(min_value=1_500_000_000, max_value=2_000_000_000))
@settings(max_examples=15, deadline=None)
def test_signatures_agree_with_openssl_for_any_secret(secret: str, ts: int) -> None:
    def openssl(key: str, message: str) -> str:
        out = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", key, "-binary"], input=message.encode(),
                             capture_output=True, check=True).stdout
        return base64.b64encode(out).decode()

    assert dingtalk_sign(secret, ts * 1000) == openssl(secret, f"{ts * 1000}\n{secret}")
    assert feishu_sign(secret, ts) == openssl(f"{ts}\n{secret}", "")


def test_dingtalk_sign_goes_url_encoded_into_the_query_and_feishu_sign_into_the_body(tmp_path: Path) -> None:
    cfg = config(tmp_path, [
        {"name": "d", "kind": "dingtalk", "webhook": DINGTALK, "secret": "SECdemo", "time": "08:00"},
        {"name": "f", "kind": "feishu", "webhook": FEISHU, "secret": "demo", "time": "08:00"}])
    ding, fei = cfg.channels
    url, body = signed_request(ding, {"msgtype": "markdown"}, 1599360473.0)
    query = parse_qs(urlsplit(url).query)  # parse_qs undoes the URL encoding
    assert query["timestamp"] == ["1599360473000"] and query["sign"] == [DINGTALK_VECTOR[2]]
    assert "%2B" in url and "+" not in urlsplit(url).query  # base64's + survives only encoded
    assert body == {"msgtype": "markdown"}
    url, body = signed_request(fei, {"msg_type": "post"}, 1599360473.9)
    assert url == FEISHU
    assert body == {"timestamp": "1599360473", "sign": FEISHU_VECTOR[2], "msg_type": "post"}
    assert dingtalk_url(DINGTALK, "SECdemo", 1).startswith(DINGTALK + "&timestamp=1&sign=")


# --- config -----------------------------------------------------------------------------------------------------


def test_channels_are_read_with_their_schedules_and_follows(tmp_path: Path) -> None:
    cfg = config(tmp_path, [
        {"name": "wx", "kind": "wecom", "webhook": WECOM, "time": "07:30", "timezone": "Asia/Shanghai",
         "days": "工作日"},
        {"name": "dd", "kind": "dingtalk", "webhook": DINGTALK, "secret": DING_SECRET, "follow": -100123},
        {"name": "fs", "kind": "feishu", "webhook": FEISHU, "time": "20:00", "format": "interactive"}])
    wx, dd, fs = cfg.channels
    assert wx.schedule is not None and wx.schedule.weekdays == frozenset(range(5)) and wx.format == "markdown"
    assert dd.follow == -100123 and dd.schedule is None
    assert dd.telegram_group == -100123 and wx.telegram_group is None  # whose organizer sees the channel
    assert fs.format == "interactive" and not fs.secret and fs.schedule is not None
    assert fs.schedule.timezone == "Asia/Shanghai"  # the push default


def test_every_channel_problem_is_reported_and_none_quotes_a_url_key_or_secret(tmp_path: Path) -> None:
    bad = [
        {"name": "a", "kind": "wecom", "webhook": WECOM.replace("/send", "/sned"), "time": "08:00"},
        {"name": "b", "kind": "dingtalk", "webhook": DINGTALK, "time": "08:00"},  # no secret
        {"name": "c", "kind": "dingtalk", "webhook": "http://oapi.dingtalk.com/robot/send?access_token=zzzzzzzzzz",
         "secret": DING_SECRET, "time": "08:00"},  # plain http to the real host
        {"name": "d", "kind": "feishu", "webhook": WECOM, "time": "08:00"},  # another platform's URL
        {"name": "e", "kind": "wecom", "webhook": WECOM, "secret": "SECnope", "time": "08:00"},
        {"name": "f", "kind": "feishu", "webhook": FEISHU, "follow": -1, "time": "08:00"},
        {"name": "g", "kind": "feishu", "webhook": FEISHU},
        {"name": "h", "kind": "slack", "webhook": FEISHU, "time": "08:00"},
        {"name": "a", "kind": "wecom", "webhook": WECOM, "time": 480},
        {"name": "i", "kind": "wecom", "webhook": WECOM, "follow": -1, "group": -2},  # a follow has its group
        {"name": "j", "kind": "wecom", "webhook": WECOM, "time": "08:00", "group": "学习群"},
    ]
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, bad)
    problems = caught.value.problems
    text = "\n".join(problems)
    for key in ("channels.a.webhook", "channels.b.secret", "channels.c.webhook", "channels.d.webhook",
                "channels.e.secret", "channels.f:", "channels.g:", "channels.h.kind", "unquoted time",
                "channels.i.group", "channels.j.group"):
        assert key in text, key
    for secret in ("693a91f6", "0f1e2d3c", "3f9a2c1e", "zzzzzzzzzz", "SECdemo", "SECnope"):
        assert secret not in text


def test_loopback_stand_ins_are_accepted_and_names_must_be_unique(tmp_path: Path) -> None:
    ok = config(tmp_path, [{"name": "x", "kind": "feishu", "webhook": "http://127.0.0.1:8080/open-apis/bot/v2/hook/"
                                                                      "abcdefgh12", "time": "08:00"}])
    assert ok.channels[0].name == "x"
    with pytest.raises(ConfigError, match="used twice"):
        config(tmp_path, [{"name": "x", "kind": "feishu", "webhook": FEISHU, "time": "08:00"}] * 2)


def test_no_repr_of_the_config_or_a_channel_shows_a_url_key_or_secret(tmp_path: Path) -> None:
    cfg = config(tmp_path, [{"name": "dd", "kind": "dingtalk", "webhook": DINGTALK, "secret": DING_SECRET,
                             "time": "08:00"}])
    for shown in (repr(cfg), str(cfg), repr(cfg.channels), f"{cfg.channels[0].webhook}", cfg.channels[0].describe()):
        assert "0f1e2d3c" not in shown and DING_SECRET not in shown
    assert cfg.channels[0].webhook.reveal() == DINGTALK
    assert repr(Secret("x")) == "Secret('<redacted>')"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(Secret("x"))


def test_logs_redact_robot_url_keys_and_configured_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    assert "693a91f6" not in redact(f"POST {WECOM} failed")
    assert "0f1e2d3c" not in redact(f"{DINGTALK}&timestamp=1&sign=abc%2B")
    assert "3f9a2c1e" not in redact(FEISHU)
    setup_logging("INFO", "", DING_SECRET)
    try:
        logging.getLogger("robot-test").warning("secret is %s, url %s", DING_SECRET, FEISHU)
    finally:
        logging.getLogger().handlers.clear()
    err = capsys.readouterr().err
    assert "robot-test" in err and DING_SECRET not in err and "3f9a2c1e" not in err


# --- formats and splitting --------------------------------------------------------------------------------------

READING = RobotText(title="每日学习 · 第 3 天", header="《讲话》第 3 天 / 共 9 天 · 二、1 坚持学习",
                    body="第一句话。第二句话！\n第三句话？", footer="出处：二、1 坚持学习")


@pytest.mark.parametrize(("kind", "fmt"), [("wecom", "markdown"), ("wecom", "text"), ("dingtalk", "markdown"),
                                           ("feishu", "post"), ("feishu", "interactive")])
def test_each_format_carries_header_text_and_references(kind: str, fmt: str) -> None:
    (body,) = posts(kind, fmt, READING)
    shown = text_of(body)
    for piece in ("第 3 天 / 共 9 天", "第一句话。", "第三句话？", "出处：二、1"):
        assert piece in shown
    key = "msg_type" if kind == "feishu" else "msgtype"
    assert body[key] == fmt
    if kind == "dingtalk":
        assert body["markdown"]["title"] == "每日学习 · 第 3 天"


def _wecom_content(body: dict[str, object]) -> str:
    return str(body["markdown"]["content"])  # type: ignore[index]


@pytest.mark.parametrize(("kind", "fmt", "limit"), [("wecom", "markdown", 4096), ("wecom", "text", 2048),
                                                    ("dingtalk", "markdown", 20_000), ("feishu", "post", 20_000)])
def test_a_long_reading_is_split_into_numbered_parts_within_the_byte_limit(kind: str, fmt: str, limit: int) -> None:
    sentences = [f"这是第{i}句，说的是学习的道理和方法。" for i in range(900)]
    text = RobotText("t", "《讲话》第 1 天", "".join(sentences), "出处：开头")
    parts = posts(kind, fmt, text)
    assert len(parts) > 1
    for i, body in enumerate(parts, start=1):
        shown = text_of(body)
        assert f"（{i}/{len(parts)}）" in shown
        size = len(_wecom_content(body).encode()) if kind == "wecom" and fmt == "markdown" else (
            len(body["text"]["content"].encode()) if kind == "wecom" else formats.body_bytes(body))  # type: ignore[index]
        assert size <= limit
    assert "出处：开头" in text_of(parts[-1]) and "出处" not in text_of(parts[0])
    joined = "".join(text_of(b) for b in parts)
    assert all(s in joined for s in sentences)  # every sentence whole, in some part


SENTENCE = st.text(st.sampled_from("学习讲话精神ab 1"), min_size=0, max_size=60).map(lambda s: s + "。")


@given(st.lists(SENTENCE, min_size=1, max_size=40), st.integers(min_value=20, max_value=400))
@example(sentences=["。", " 1 习习习习习。"], budget=20)  # fits trimmed (20 bytes), not with the space before it
@settings(max_examples=80, deadline=None)
def test_split_gives_back_the_text_cuts_at_sentence_ends_and_every_chunk_fits(sentences: list[str],
                                                                                budget: int) -> None:
    text = "".join(sentences)

    def fits(chunk: str) -> bool:
        return len(chunk.encode()) <= budget

    chunks = stripped_pieces(text, fits)
    assert all(fits(c) for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.strip().replace(" ", "")
    for chunk in chunks[:-1]:
        # A chunk ends at a sentence end unless one sentence alone is over the budget.
        if not chunk.endswith("。"):
            assert any(not fits(s.strip()) for s in sentences)


# --- limiter ----------------------------------------------------------------------------------------------------


class Fake:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(("kind", "windows"), [("wecom", [(20, 60)]), ("dingtalk", [(20, 60)]),
                                               ("feishu", [(100, 60), (5, 1)])])
async def test_the_limiter_keeps_every_sliding_window(kind: str, windows: list[tuple[int, int]]) -> None:
    fake = Fake()
    limiter = RobotLimiter(kind, fake.clock, fake.sleep)
    times = [await limiter.acquire() for _ in range(130)]
    for count, seconds in windows:
        for i in range(len(times) - count):
            assert times[i + count] - times[i] >= seconds  # never more than `count` in any `seconds`


async def test_the_limiter_counts_the_previous_process_sends_and_holds() -> None:
    fake = Fake()
    recent = [fake.now - 30 + i for i in range(20)]  # 20 posts in the last 30 s, before a restart
    limiter = RobotLimiter("dingtalk", fake.clock, fake.sleep, recent)
    first = await limiter.acquire()
    assert first >= recent[0] + 60
    limiter.hold(600)
    assert await limiter.acquire() >= first + 600


def test_feishu_posts_stay_off_the_hour_and_half_hour() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    shanghai = ZoneInfo("Asia/Shanghai")
    assert feishu_quiet_delay(datetime(2026, 3, 2, 0, 0, 10, tzinfo=UTC), shanghai) == pytest.approx(55)  # 08:00:10
    assert feishu_quiet_delay(datetime(2026, 3, 2, 9, 30, 0, tzinfo=UTC), shanghai) == pytest.approx(65)  # 17:30
    assert feishu_quiet_delay(datetime(2026, 3, 2, 0, 1, 0, tzinfo=UTC), shanghai) == 0


# --- the platforms' answers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status", "answer", "outcome", "code"), [
    ("wecom", 200, {"errcode": 0, "errmsg": "ok"}, "ok", 0),
    ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, "retry", 45009),
    ("wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, "gone", 93000),
    ("dingtalk", 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, "retry", 130101),
    ("dingtalk", 200, {"errcode": 310000, "errmsg": "sign not match"}, "stop", 310000),
    ("dingtalk", 200, {"errcode": 310000, "errmsg": "keywords not in content"}, "stop", 310000),
    ("dingtalk", 200, {"errcode": 300001, "errmsg": "token is not exist"}, "gone", 300001),
    ("feishu", 200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}, "ok", 0),
    ("feishu", 200, {"code": 11232, "msg": "frequency limited"}, "retry", 11232),
    ("feishu", 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}, "stop", 19021),
    ("feishu", 200, {"code": 19024, "msg": "Key Words Not Found"}, "stop", 19024),
    ("feishu", 200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}, "gone", 19001),
    ("feishu", 429, {"code": 99991400, "msg": "request trigger frequency limit"}, "retry", None),
    ("feishu", 502, {}, "unknown", None),
])
def test_platform_answers_are_classified(kind: str, status: int, answer: dict[str, object], outcome: str,
                                         code: int | None) -> None:
    got = classify(kind, status, json.dumps(answer).encode(), {})
    assert (got.outcome, got.code) == (outcome, code)


def test_a_dingtalk_throttle_holds_ten_minutes_and_an_unreadable_200_is_unknown() -> None:
    assert classify("dingtalk", 200, b'{"errcode":130101}', {}).retry_after == 600
    assert classify("dingtalk", 302, b"", {}).retry_after == 600
    assert classify("wecom", 200, b"<html>", {}).outcome == "unknown"



def test_a_follow_channel_posts_the_groups_pushes_in_order_after_its_last_and_starts_with_the_latest() -> None:
    from datetime import date

    from bot.robots.push import follow_due

    pushes = [(date(2026, 3, 2), 1), (date(2026, 3, 3), 2), (date(2026, 3, 4), 3)]
    assert follow_due(pushes, None) == (date(2026, 3, 4), 3)  # a new channel does not replay the history
    assert follow_due(pushes, date(2026, 3, 2)) == (date(2026, 3, 3), 2)  # after an outage: the oldest missed first
    assert follow_due(pushes, date(2026, 3, 4)) is None
    assert follow_due([], None) is None


def test_the_daily_question_is_the_same_for_the_same_channel_and_day_and_fits_the_reading() -> None:
    from bot.robots.dailyq import pick
    from content.loader import load_document
    from content.questions import load_default_bank
    from content.readings import plan_readings

    doc = load_document(None)
    plan = plan_readings(doc, 250, 600)
    bank = load_default_bank(doc)
    found = [(r, pick(bank, r, "team")) for r in plan]
    assert any(q for _, q in found)
    for reading, q in found:
        if q is not None:
            assert q.question.ref in reading.refs and q.options[q.correct] == q.question.answer
            assert pick(bank, reading, "team") == q  # nothing stored: recomputed identically the next day
    assert pick([], plan[0], "team") is None
