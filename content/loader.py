"""Load a speech file into a Document, parsing each version of a file once."""

from __future__ import annotations

import functools
from pathlib import Path

from .model import Document
from .parser import Analysis, SpeechFormatError, analyse_speech


def default_speech_path() -> Path:
    """The speech shipped with the package (content/speech.txt)."""
    return Path(__file__).resolve().with_name("speech.txt")


def load_document(path: Path | None = None) -> Document:
    """Read and parse a UTF-8 speech file (a BOM is tolerated).

    Every failure, a missing or unreadable file included, is a SpeechFormatError naming the file,
    so callers (the CLI, the bot's start-up) handle one exception. Results are cached per
    (path, mtime, size): an edited file is parsed again, an unchanged one is not.
    """
    target = (path or default_speech_path()).expanduser().resolve()
    try:
        stat = target.stat()
    except OSError as error:
        raise SpeechFormatError(f"cannot read the speech file: {error.strerror or error}", path=str(target)) from error
    return _load(str(target), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _load(path: str, mtime_ns: int, size: int) -> Document:
    del mtime_ns, size  # part of the cache key only
    return _analyse(path).document


def analyse_file(path: Path) -> Analysis:
    """Parse a speech file and say what was decided and why (never cached: `content check` wants it fresh)."""
    return _analyse(str(path.expanduser().resolve()))


def _analyse(path: str) -> Analysis:
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise SpeechFormatError(f"cannot read the speech file: {error.strerror or error}", path=path) from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise SpeechFormatError(
            f"the file is not valid UTF-8 (byte {error.start}); save it as UTF-8", line=line, path=path
        ) from error
    try:
        return analyse_speech(text)
    except SpeechFormatError as error:
        raise error.with_path(path) from error
