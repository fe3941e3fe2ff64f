"""The installed distribution carries every package and data file the bot needs (a fresh `pip install .`)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_included_in_the_distribution() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("bot", "content", "schedules")
        for init in (ROOT / top).rglob("__init__.py")
    ]
    assert "bot.handlers" in packages and "bot.standin" in packages
    missing = [p for p in packages if not any(fnmatch.fnmatch(p, pattern) for pattern in include)]
    assert missing == []


def test_content_data_files_are_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["content"]
    for data in ("speech.txt", "quiz_bank.yaml"):
        assert (ROOT / "content" / data).is_file()
        assert any(fnmatch.fnmatch(data, p) for p in patterns)
