"""The structured speech: plain frozen dataclasses shared by parsing, references, readings, search and quizzes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

SectionKind = Literal["opening", "part", "point", "closing"]

OPENING_REF = "opening"
CLOSING_REF = "closing"


@dataclass(frozen=True)
class Section:
    """One addressable piece of the speech body.

    `text` is exactly `body[start:end]` of the owning document: the numbering and heading included, so that the
    sections' texts joined in order give back the body. A part's text is its heading line and introduction only;
    its points are sections of their own.
    """

    ref: str  # stable: "opening", "1", "1.2", ..., "closing"
    kind: SectionKind
    label: str  # how a reader names it: "开头", "一", "二、3", "结语"
    heading: str  # a part's heading, a point's first sentence, "开头"/"结语" for the rest
    text: str
    start: int
    end: int
    part: int | None = None  # 1-based part number, None for opening/closing
    point: int | None = None  # 1-based point number within the part


@dataclass(frozen=True)
class Part:
    section: Section
    points: tuple[Section, ...]

    @property
    def number(self) -> int:
        assert self.section.part is not None
        return self.section.part


@dataclass(frozen=True)
class Document:
    title: str
    metadata: Mapping[str, str]  # header lines such as 时间/导语: kept, never shown as speech text
    body: str
    opening: Section | None
    parts: tuple[Part, ...]
    closing: Section | None
    _by_ref: dict[str, Section] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_ref.update({s.ref: s for s in self.sections()})

    def sections(self) -> tuple[Section, ...]:
        """Every section in reading order."""
        out: list[Section] = []
        if self.opening is not None:
            out.append(self.opening)
        for part in self.parts:
            out.append(part.section)
            out.extend(part.points)
        if self.closing is not None:
            out.append(self.closing)
        return tuple(out)

    def section(self, ref: str) -> Section:
        """The section with this exact stable reference (KeyError if none)."""
        return self._by_ref[ref]

    def has(self, ref: str) -> bool:
        return ref in self._by_ref

    def part(self, number: int) -> Part:
        return self.parts[number - 1]

    def neighbours(self, ref: str) -> tuple[Section | None, Section | None]:
        """The sections before and after `ref` in reading order."""
        order = self.sections()
        index = next(i for i, s in enumerate(order) if s.ref == ref)
        before = order[index - 1] if index > 0 else None
        after = order[index + 1] if index + 1 < len(order) else None
        return before, after

    def breadcrumb(self, section: Section) -> tuple[Section, ...]:
        """The chain of sections from the outermost down to `section` (part, then point)."""
        if section.kind == "point" and section.part is not None:
            return (self.part(section.part).section, section)
        return (section,)


@dataclass(frozen=True)
class Reading:
    """One day's excerpt from the reading plan."""

    day: int  # 1-based position in the plan
    text: str  # exactly body[start:end]
    start: int
    end: int
    refs: tuple[str, ...]  # refs of the sections this reading overlaps, in order
    part: int | None  # the part it lies in, None for opening/closing


@dataclass(frozen=True)
class Hit:
    """A search result: the section and a snippet split into (text, is_match) segments."""

    section: Section
    segments: tuple[tuple[str, bool], ...]
    score: float
