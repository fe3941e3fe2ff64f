"""Configuration: every bad key or value is reported together, naming the key."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.config import TOKEN_ENV, ConfigError, build_config, load_config

ROOT = Path(__file__).resolve().parent.parent


def problems(raw: object, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        build_config(raw, "test.yaml", tmp_path, env={})
    return caught.value.problems


def test_example_config_is_valid_and_matches_the_defaults() -> None:
    config = load_config(ROOT / "config.example.yaml", env={})
    defaults = build_config({}, "defaults", ROOT, env={})
    assert config.push == defaults.push
    assert config.quiz == defaults.quiz
    assert config.readings == defaults.readings
    assert config.telegram.mode == "polling" and config.offline


def test_unknown_keys_are_named_at_every_level(tmp_path: Path) -> None:
    found = problems({"telegramm": {}, "push": {"defualt_time": "08:00"}}, tmp_path)
    assert any(p.startswith("telegramm: unknown key") for p in found)
    assert any(p.startswith("push.defualt_time: unknown key") for p in found)


def test_unquoted_time_that_yaml_turned_into_a_number(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("push:\n  default_time: 8:30\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.problems == [
        'push.default_time: YAML read an unquoted time as the number 510; quote it, e.g. "08:00"'
    ]


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    raw = {
        "push": {"default_timezone": "Mars/Olympus", "default_time": "25:00", "grace_hours": "three",
                 "at_end": "loop", "default_days": "someday"},
        "quiz": {"open_period": 2, "max_questions": 11},
        "readings": {"min_chars": 900, "max_chars": 300},
        "content": {"speech": "missing.txt", "question_banks": "bank.yaml"},
        "telegram": {"mode": "webhook", "base_url": "api.telegram.org"},
        "log_level": "LOUD",
    }
    found = problems(raw, tmp_path)
    keys = [p.split(":")[0] for p in found]
    for key in ("push.default_timezone", "push.default_time", "push.grace_hours", "push.at_end",
                "push.default_days", "quiz.open_period", "quiz.max_questions", "readings", "content.speech",
                "content.question_banks", "telegram.webhook.url", "telegram.base_url", "log_level"):
        assert key in keys, key
    assert any("unknown time zone 'Mars/Olympus'" in p for p in found)
    assert any("file not found" in p and "missing.txt" in p for p in found)


def test_wrong_types_are_named(tmp_path: Path) -> None:
    found = problems({"push": "08:00", "quiz": {"default_questions": True}}, tmp_path)
    assert "push: must be a mapping of settings, got str" in found
    assert any(p.startswith("quiz.default_questions: must be a whole number") for p in found)


def test_token_comes_from_the_environment_first(tmp_path: Path) -> None:
    config = build_config({"telegram": {"token": "1:file"}}, "t", tmp_path, env={TOKEN_ENV: "2:env"})
    assert config.telegram.token == "2:env" and not config.offline
    assert "2:env" not in repr(config)


def test_values_are_read(tmp_path: Path) -> None:
    speech = tmp_path / "s.txt"
    speech.write_text("x", encoding="utf-8")
    config = build_config({"push": {"default_time": "07:05", "at_end": "restart"}, "database": "data/bot.db",
                           "content": {"speech": "s.txt"}}, "t", tmp_path, env={})
    assert config.push.default_time == time(7, 5)
    assert config.push.at_end == "restart"
    assert config.database == tmp_path / "data" / "bot.db"
    assert config.content.speech == speech


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("push:\n  default_time: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 3: not valid YAML"):
        load_config(path, env={})


def test_quiz_default_must_fit_the_maximum_and_empty_entries_are_named(tmp_path: Path) -> None:
    found = problems({"quiz": {"max_questions": 3}, "content": {"question_banks": [None]}}, tmp_path)
    assert "quiz: default_questions (5) is larger than max_questions (3)" in found
    assert any(p.startswith("content.question_banks[0]: empty entry") for p in found)


def test_an_empty_speech_setting_means_the_shipped_speech(tmp_path: Path) -> None:
    assert build_config({"content": {"speech": ""}}, "t", tmp_path, env={}).content.speech is None


def test_secret_values_name_every_secret_the_log_redactor_must_hide(tmp_path: Path) -> None:
    """`studybot run` hands these to the redactor: a secret missing here would be logged in the clear."""
    config = build_config({
        "telegram": {"proxy": "http://user:pw@proxy.local:3128",
                     "webhook": {"url": "https://example.org/hook", "secret_token": "hook-secret_1"}},
        "channels": [{"name": "dd", "kind": "dingtalk", "webhook": "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef",
                      "secret": "SECdingsecret", "time": "08:00"}],
    }, "t", tmp_path, env={TOKEN_ENV: "123:tok"})
    assert sorted(config.secret_values()) == sorted([
        "123:tok", "hook-secret_1", "http://user:pw@proxy.local:3128",
        "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef", "SECdingsecret"])
    assert build_config({}, "t", tmp_path, env={}).secret_values() == []  # offline: nothing to hide, nothing empty
