"""The `studybot` command line run as a user would (`python -m bot.cli ...` in a fresh folder): output, exit codes."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
GOOD_SPEECHES = sorted(DATA.glob("good_*.txt"))
BAD_SPEECHES = sorted(DATA.glob("bad_*.txt"))
BAD_BANKS = sorted(DATA.glob("bad_bank_*.yaml"))


def studybot(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("studybot: ")


# --- help text ---------------------------------------------------------------------------------------------


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str,
                                                                                            argparse.ArgumentParser]]:
    """Every (sub)command as (words, its help line in the parent's list, its own parser), nested ones too."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append(((*path, name), helps.get(name, ""), sub))
                found += subcommands(sub, (*path, name))
    return found


def test_every_subcommand_and_option_has_help_text() -> None:
    commands = subcommands(build_parser())
    assert {" ".join(words) for words, _, _ in commands} >= {
        "run", "toc", "show", "search", "plan", "content", "content check", "config", "config check"}
    missing = []
    for words, listed, parser in commands:
        name = " ".join(words)
        if not listed.strip():
            missing.append(f"{name}: no help line in its parent's command list")
        if not (parser.description or "").strip():
            missing.append(f"{name}: no description")
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction) and not action.help:
                missing.append(f"{name}: argument {action.dest} has no help")
    assert missing == []


@pytest.mark.parametrize("words", [(), ("run",), ("show",), ("search",), ("plan",), ("content", "check"),
                                   ("config", "check")], ids=lambda w: " ".join(w) or "studybot")
def test_help_is_printed_for_every_command(tmp_path: Path, words: tuple[str, ...]) -> None:
    result = studybot(*words, "--help", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: studybot")
    parser = build_parser()
    for word in words:
        parser = _child(parser, word)
    description = " ".join((parser.description or "").split())
    assert description and description[:30] in " ".join(result.stdout.split())


def _child(parser: argparse.ArgumentParser, word: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[word]


# --- looking at the content ---------------------------------------------------------------------------------


def test_toc_lists_every_part_and_point(tmp_path: Path) -> None:
    result = studybot("toc", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    points = {(1, 3), (2, 3), (3, 3), (4, 4)}
    for part, count in points:
        for point in range(1, count + 1):
            assert f"〔{part}.{point}〕" in result.stdout
    assert "<b>" not in result.stdout and "&lt;" not in result.stdout  # plain text, not Telegram HTML
    assert not (tmp_path / "studybot.db").exists()  # looking at the content writes nothing


def test_show_prints_one_point(tmp_path: Path) -> None:
    result = studybot("show", "2.3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "突出推动科学发展这个根本目标" in result.stdout
    assert "<b>" not in result.stdout
    same = studybot("show", "二、3", cwd=tmp_path)
    assert same.stdout == result.stdout


def test_show_of_a_missing_section_says_what_exists_on_stderr(tmp_path: Path) -> None:
    result = studybot("show", "9.9", cwd=tmp_path)
    assert_clean_failure(result, 1)
    assert result.stdout == ""
    assert "9.9" in result.stderr and "四部分" in result.stderr


def test_search_finds_and_survives_query_syntax(tmp_path: Path) -> None:
    result = studybot("search", "终身学习", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "〔三、1〕" in result.stdout and "终身学习" in result.stdout
    hostile = studybot("search", '"AND* OR NOT(-', "NEAR(", "'; DROP TABLE x; --", cwd=tmp_path)
    assert hostile.returncode == 0, hostile.stderr
    assert "没有找到" in hostile.stdout


def test_plan_lists_every_day_and_rejects_impossible_bounds(tmp_path: Path) -> None:
    result = studybot("plan", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "14" in result.stdout  # 14 daily readings with the default bounds (config check says the same)
    bad = studybot("plan", "--min-chars", "900", "--max-chars", "100", cwd=tmp_path)
    assert_clean_failure(bad, 1)


@pytest.mark.parametrize("path", GOOD_SPEECHES, ids=lambda p: p.name)
def test_content_check_accepts_a_good_file(tmp_path: Path, path: Path) -> None:
    result = studybot("content", "check", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: OK")


@pytest.mark.parametrize("path", BAD_SPEECHES, ids=lambda p: p.name)
def test_content_check_rejects_a_bad_file_with_a_clear_error(tmp_path: Path, path: Path) -> None:
    result = studybot("content", "check", str(path), cwd=tmp_path)
    assert_clean_failure(result, 1)
    assert str(path) in result.stderr


def test_content_check_of_a_missing_file(tmp_path: Path) -> None:
    result = studybot("content", "check", "nope.txt", cwd=tmp_path)
    assert_clean_failure(result, 1)
    assert "nope.txt" in result.stderr


# --- configuration ------------------------------------------------------------------------------------------


def test_config_check_with_defaults_and_with_a_good_file(tmp_path: Path) -> None:
    result = studybot("config", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("defaults: OK") and "not set" in result.stdout
    (tmp_path / "config.yaml").write_text(
        'database: data/bot.db\npush:\n  default_time: "07:15"\n  default_timezone: Europe/London\n'
        "content:\n  question_banks: [bank.yaml]\n", encoding="utf-8")
    (tmp_path / "bank.yaml").write_bytes((ROOT / "content" / "quiz_bank.yaml").read_bytes())
    found = studybot("config", "check", cwd=tmp_path)  # config.yaml in the working folder is picked up
    assert found.returncode == 0, found.stderr
    assert "07:15 Europe/London" in found.stdout and "question banks: 1 file(s)" in found.stdout
    assert not (tmp_path / "data").exists()


def test_config_check_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "telegram:\n  mode: bogus\n  base_url: ftp://x\n"
        "push:\n  default_time: 8:30\n  grace_hours: 99\n  default_timezone: Mars/Base\n"
        "readings:\n  min_chars: 900\n  max_chars: 100\n"
        "content:\n  speech: missing.txt\n  question_banks: [gone.yaml]\n"
        "log_level: LOUD\ncolour: red\n", encoding="utf-8")
    result = studybot("-c", "bad.yaml", "config", "check", cwd=tmp_path)
    assert_clean_failure(result, 2)
    for key in ("telegram.mode", "telegram.base_url", "push.default_time", "push.grace_hours",
                "push.default_timezone", "readings", "content.speech", "content.question_banks[0]", "log_level",
                "colour"):
        assert f"  - {key}" in result.stderr, key
    assert "10 problem(s)" in result.stderr


@pytest.mark.parametrize("text", ["push: [unclosed\n", "- just\n- a list\n", "\tpush: 1\n"])
def test_config_that_is_not_a_settings_mapping_exits_2(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    assert_clean_failure(studybot("-c", "bad.yaml", "config", "check", cwd=tmp_path), 2)


def test_a_missing_or_binary_config_file_exits_2(tmp_path: Path) -> None:
    assert_clean_failure(studybot("-c", "nope.yaml", "config", "check", cwd=tmp_path), 2)
    (tmp_path / "gbk.yaml").write_bytes("推送: 1\n".encode("gbk"))
    assert_clean_failure(studybot("-c", "gbk.yaml", "config", "check", cwd=tmp_path), 2)


@pytest.mark.parametrize("bank", BAD_BANKS, ids=lambda p: p.name)
def test_a_broken_question_bank_is_reported_by_config_check(tmp_path: Path, bank: Path) -> None:
    (tmp_path / "config.yaml").write_text(f"content:\n  question_banks: [{str(bank)!r}]\n", encoding="utf-8")
    result = studybot("config", "check", cwd=tmp_path)
    assert_clean_failure(result, 1)
    assert str(bank) in result.stderr and "quiz bank" in result.stderr


def test_run_refuses_broken_content_before_starting(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        f"content:\n  question_banks: [{str(BAD_BANKS[0])!r}]\n", encoding="utf-8")
    assert_clean_failure(studybot("run", "--offline", cwd=tmp_path), 1)
    (tmp_path / "config.yaml").write_text(f"content:\n  speech: {str(BAD_SPEECHES[0])!r}\n", encoding="utf-8")
    assert_clean_failure(studybot("run", "--offline", cwd=tmp_path), 1)


def test_content_check_says_what_it_decided_and_why(tmp_path: Path) -> None:
    path = ROOT / "tests" / "data" / "corpus" / "gov_zhejiang_2026.txt"
    result = studybot("content", "check", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "line 5: meta: 来源：浙江日报" in out and "line 9: byline: 浙江省省长 刘捷" in out
    assert "line 11: opening begins at the address '各位代表：'" in out
    assert "line 95: part 三: points numbered （一） (the outermost numbering occurring more than once); " \
           "body text: 1、 ×10" in out
    assert "line 215: closing begins: it turns to the audience (各位代表！新…)" in out
    assert "Warnings (1):\n  line 37: point 一、10 is" in out
