"""The direction of dependencies (shared/STYLE.md): content/ knows nothing of schedules/ or bot/, schedules/ nothing
of bot/, and neither ever imports telegram. Checked on the syntax tree of every module, imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "content": {"telegram", "bot", "schedules"},
    "schedules": {"telegram", "bot"},
    "records": {"telegram", "bot", "schedules"},
}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_packages(source: str, inside: tuple[str, ...]) -> set[str]:
    """The top-level package of every import in a module at dotted path `inside`, relative imports resolved."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = inside[: len(inside) - node.level]
                found.add(base[0] if base else (node.module or "").split(".")[0])
            elif node.module:
                found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _dynamic_import(node):
            found.add(str(node.args[0].value).split(".")[0])  # type: ignore[attr-defined]
    return found


def _dynamic_import(node: ast.Call) -> bool:
    """`importlib.import_module("x")` or `__import__("x")` with a literal name."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return (name in {"import_module", "__import__"} and bool(node.args)
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_never_import_what_sits_above_them(package: str) -> None:
    found = modules(package)
    assert len(found) >= 3, f"no modules found under {package}/"
    offenders = {}
    for path in found:
        inside = path.relative_to(ROOT).with_suffix("").parts
        bad = imported_packages(path.read_text(encoding="utf-8"), inside) & FORBIDDEN[package]
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_scan_sees_every_kind_of_import() -> None:
    """The checker itself must catch each way a forbidden import could sneak in."""
    source = (
        "import os, telegram.ext\n"
        "from bot import render\n"
        "from ..schedules import due\n"
        "from . import refs\n"
        "def late():\n"
        "    from telegram import Bot\n"
        "    import importlib\n"
        "    importlib.import_module('bot.store')\n"
        "    __import__('schedules.clock')\n"
    )
    assert imported_packages(source, ("content", "probe")) == {"os", "telegram", "bot", "schedules", "content",
                                                                "importlib"}
    assert imported_packages("from .clock import FakeClock\n", ("schedules", "due")) == {"schedules"}


# Async code reaches SQLite through the store worker's thread (`await svc.db(...)`), never on the event loop.
STORE_OWNERS = {"bot/store.py", "bot/storeworker.py", "bot/services.py"}  # services builds the worker


def test_async_code_never_calls_the_store_on_the_event_loop() -> None:
    offenders = []
    for path in modules("bot"):
        name = str(path.relative_to(ROOT))
        if name in STORE_OWNERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr == "store"
                    and isinstance(node.value, ast.Name | ast.Attribute)):
                parent_name = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
                if parent_name in {"svc", "self"}:
                    offenders.append(f"{name}:{node.lineno}")
    assert offenders == [], "use `await svc.db(lambda s: ...)` instead of svc.store"
