"""The offline chat at a real terminal (a pty): line editing and history through readline, Ctrl-C quits (issue 11)."""

from __future__ import annotations

import os
import select
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pty = pytest.importorskip("pty")


class Terminal:
    """`studybot run` on a pseudo-terminal, read until some text shows up."""

    def __init__(self, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
        env.update(PYTHONPATH=str(ROOT), TERM="xterm")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the bot, on the pty
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "bot.cli", "run"], env)
        self.seen = ""

    def wait_for(self, text: str, limit: float = 60.0) -> None:
        """Read until `text` appears (a generous bound, not a timing assertion)."""
        end = time.monotonic() + limit
        while text not in self.seen:
            assert time.monotonic() < end, f"{text!r} never appeared; got {self.seen[-500:]!r}"
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.fd, 65536).decode("utf-8", "replace")
                except OSError:
                    break

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def exited(self, limit: float = 30.0) -> bool:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return True
            time.sleep(0.05)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        return False


def test_line_editing_history_and_ctrl_c(tmp_path: Path) -> None:
    term = Terminal(tmp_path)
    term.wait_for("Ctrl-C 退出")
    term.wait_for("> ")
    term.type("/searhc 学风" + "\x1b[D" * 4 + "\x7f\x1b[Ch\r")  # the typo fixed with ←, backspace and →: /search
    term.wait_for("马克思主义【学风】")
    before = len(term.seen)
    term.type("\x1b[A\r")  # ↑ recalls the line from history
    term.wait_for("> ")
    term.seen = term.seen[before:]
    term.wait_for("马克思主义【学风】")
    term.type("/quiz 1 all\r")
    term.wait_for("📊 测验")
    term.type("\x03")  # Ctrl-C at the prompt, with a poll open: quits without waiting for Enter
    assert term.exited()
