"""Hypothesis: speeches built from random parts and points, in every numbering family, with header and trailer
lines, inline enumerations and deeper levels, parse back to the structure they were built from."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from content.numbering import FAMILIES, Family, int_to_cn
from content.parser import parse_speech
from content.refs import resolve
from tests.test_parser import check_tiling

# No numerals, no 第/是/同/各/最/以/结/总/回/由/在/让/谢, no 贡献 or 奋斗: generated prose can never look like a
# marker, an address, a closing cue or an exhortation. A test that needs one writes it in.
ALPHABET = (
    "学习建设组织党员干工作发展要求创新科学理论实践群众推进加强服务思想政治经济社会重要任务能力教育制度领导基础方法"
)
NAMES = "王李张刘陈杨赵黄"
FULL = str.maketrans("0123456789", "０１２３４５６７８９")

words = st.text(alphabet=ALPHABET, min_size=2, max_size=10)


@st.composite
def sentence(draw: st.DrawFn, ends: str = "。！？") -> str:
    return draw(words) + draw(st.sampled_from(["", "，" + draw(words)])) + draw(st.sampled_from(list(ends)))


@st.composite
def enumeration(draw: st.DrawFn, avoid: Family | None) -> str:
    """An in-paragraph list or an ordinal word in prose: never a point, whatever the part's numbering."""
    kinds = ["shi", "prose"] + [f for f in ("digit", "paren", "cn_paren") if f != avoid]
    kind = draw(st.sampled_from(kinds))
    a, b = draw(words), draw(words)
    if kind == "shi":
        return f"一是{a}，二是{b}。"
    if kind == "digit":
        return f"1、{a}；2、{b}。"
    if kind == "paren":
        return f"（1）{a}；(2){b}。"
    if kind == "cn_paren":
        return f"（一）{a}；（二）{b}。"
    return f"{a}居全国前列，按第1、2条办理{b}。"


@st.composite
def paragraph(draw: st.DrawFn, avoid: Family | None = None) -> str:
    inner = draw(st.lists(sentence("。！？；"), min_size=1, max_size=3))
    if draw(st.integers(0, 3)) == 0:  # never first: a paragraph that opens with a marker is numbered
        inner.insert(draw(st.integers(1, len(inner))), draw(enumeration(avoid)))
    return "".join(inner)


@st.composite
def marker(draw: st.DrawFn, family: Family, number: int) -> str:
    digits = str(number) if draw(st.booleans()) else str(number).translate(FULL)
    cn = int_to_cn(number)
    if family == "digit":
        text = digits + draw(st.sampled_from(["、", ".", "．"]))
    elif family == "paren":
        text = draw(st.sampled_from(["（{}）", "({})", "（{})"])).format(digits)
    elif family == "cn_paren":
        text = draw(st.sampled_from(["（{}）", "({})"])).format(cn)
    elif family == "ordinal":
        text = "第" + cn + draw(st.sampled_from(["，", ",", "、", "：", ":"]))
    else:
        return cn + "是"
    return text + draw(st.sampled_from(["", "", " "]))


@dataclass
class Piece:
    """A generated section: what the parser should find, and the lines it is written as."""

    ref: str
    heading: str
    first: str  # marker and heading, plus run-in text
    extra: list[str] = field(default_factory=list)  # further paragraphs, each on its own line
    inline: bool = False  # starts mid-line, after the previous section's last sentence
    run_in: bool = True  # the first line holds text beyond the heading

    @property
    def paragraphs(self) -> int:
        return len(self.extra) + self.run_in


@dataclass
class Built:
    header: list[str]
    title: str
    metadata: dict[str, str]
    sections: list[Piece]
    trailer: list[str]


@st.composite
def header(draw: st.DrawFn) -> tuple[list[str], str, dict[str, str]]:
    """Page title, meta lines, the title (plain, split or letter-spaced), subtitle, byline, date."""
    title = draw(st.text(alphabet=ALPHABET, min_size=5, max_size=12))
    lines: list[str] = []
    metadata: dict[str, str] = {}
    if draw(st.booleans()):
        page = draw(words) + "（学习材料）"
        lines += [page, "文章来源：本站原创 作者：" + draw(words) + " 发布时间：2022年10月17日 点击数： 次"]
        metadata.update({"页面标题": page, "文章来源": "本站原创", "发布时间": "2022年10月17日", "点击数": "次"})
        metadata["作者"] = lines[-1].split("作者：")[1].split(" ")[0]
    for key in draw(st.lists(st.sampled_from(["时间", "导语", "来源", "编者按"]), unique=True, max_size=3)):
        metadata.setdefault(key, draw(words))
        lines.append(key + draw(st.sampled_from([":", "："])) + metadata[key])
    style = draw(st.sampled_from(["plain", "split", "spaced"]))
    if style == "split" and len(title) >= 10:
        lines += [title[:5], title[5:]]
    elif style == "spaced":
        lines.append(" ".join(title))
    else:
        lines.append(title)
    if draw(st.booleans()):
        lines.append(title)  # the title written again
    if draw(st.booleans()):
        subtitle = "在" + draw(words) + "上的讲话"
        lines.append("——" + subtitle)
        metadata["副标题"] = subtitle
    if draw(st.booleans()):
        name = draw(st.text(alphabet=NAMES, min_size=2, max_size=3))
        lines.append(name)
        metadata["署名"] = name
    if draw(st.booleans()):
        lines.append("（2024年7月18日）")
        metadata["日期"] = "2024年7月18日"
    return lines, title, metadata


@st.composite
def speech(draw: st.DrawFn) -> Built:
    lines, title, metadata = draw(header())
    sections: list[Piece] = []
    opening = draw(st.lists(paragraph(), max_size=2))
    if draw(st.booleans()):
        opening.insert(0, draw(st.sampled_from(["同志们：", "同志们:", "各位代表：", "各位家长大家好！"])))
    if opening:
        sections.append(Piece("opening", "开头", opening[0], opening[1:]))
    parts = draw(st.integers(1, 5))
    for part in range(1, parts + 1):
        cn = int_to_cn(part)
        head = draw(words)
        run_in = draw(st.booleans())
        first = draw(st.sampled_from([cn + "、", cn + "．", "第" + cn + "部分", "第" + cn + "部分："])) + head
        family = draw(st.sampled_from(FAMILIES))
        count = draw(st.integers(0, 5))
        if family == "shi" and count == 1:
            count = 2  # a lone 一是 paragraph is body text, not a point
        avoid = family if count else None
        first += "。" + draw(paragraph(avoid)) if run_in else ""
        sections.append(Piece(str(part), head, first, draw(st.lists(paragraph(avoid), max_size=2)), run_in=run_in))
        lower = [f for f in FAMILIES if FAMILIES.index(f) > FAMILIES.index(family)]
        for point in range(1, count + 1):
            head_sentence = draw(sentence())
            run_in = family == "shi" or draw(st.booleans())
            body = draw(paragraph(avoid)) if run_in else ""
            extra = draw(st.lists(paragraph(avoid), max_size=2))
            if count >= 2 and lower and draw(st.integers(0, 3)) == 0:
                sub = draw(st.sampled_from(lower))  # a deeper level at paragraph starts: body text
                extra += [draw(marker(sub, n)) + draw(sentence()) + draw(paragraph(avoid)) for n in (1, 2)]
            previous = sections[-1]
            last_line = previous.extra[-1] if previous.extra else previous.first
            can_inline = point > 1 and family != "shi" and last_line[-1] in "。！？；"
            sections.append(Piece(
                f"{part}.{point}", head_sentence.removesuffix("。"), draw(marker(family, point)) + head_sentence + body,
                extra, inline=can_inline and draw(st.booleans()), run_in=run_in,
            ))
    kind = draw(st.sampled_from(["none", "cue", "heading"]))
    last = sections[-1]
    if kind == "cue":
        if last.paragraphs == 0:
            last.extra = [draw(paragraph(avoid))]  # the last section keeps its first paragraph
        cue = draw(st.sampled_from(["同志们，", "同志们！", "各位代表，", "最后，", "以上", "会后，", "总之，"]))
        closing = [cue + draw(paragraph()), *draw(st.lists(paragraph(), max_size=2))]
        sections.append(Piece("closing", "结语", closing[0], closing[1:]))
    elif kind == "heading":
        sections.append(Piece("closing", "结语", int_to_cn(parts + 1) + "、结语", [draw(paragraph())], run_in=False))
    trailer: list[str] = []
    if draw(st.booleans()):
        source = draw(words)
        trailer.append(draw(st.sampled_from(["（来源：{}）", "（信息来源：{}）", "来源：{}"])).format(source))
        metadata.setdefault("来源", source)
    if draw(st.booleans()):
        editor = draw(st.text(alphabet=NAMES, min_size=2, max_size=3))
        trailer.append("责任编辑：" + editor)
        metadata.setdefault("责任编辑", editor)
    return Built(lines, title, metadata, sections, trailer)


def assemble(sections: list[Piece], newline: str, indent: str) -> tuple[str, dict[str, tuple[int, int]]]:
    body = ""
    spans: dict[str, tuple[int, int]] = {}
    for section in sections:
        if section.inline:
            body += " " if len(body) % 3 == 0 else ""
        else:
            body += (newline if body else "") + indent
        start = len(body)
        body += section.first
        for extra in section.extra:
            body += newline + indent + extra
        spans[section.ref] = (start, len(body))
    return body, spans


@settings(max_examples=200, deadline=None)  # each example draws hundreds of values; 200 cover the shapes
@given(speech(), st.sampled_from(["\n", "\n\n", "\n\n\n"]), st.sampled_from(["", "　　", "  "]))
def test_generated_speeches_parse_to_their_structure(built: Built, newline: str, indent: str) -> None:
    body, spans = assemble(built.sections, newline, indent)
    text = "\n".join(built.header) + "\n\n" + body + "".join("\n\n" + line for line in built.trailer) + "\n"
    doc = parse_speech(text)
    assert doc.title == built.title
    assert dict(doc.metadata) == built.metadata
    assert doc.body == body
    assert [(s.ref, s.heading) for s in doc.sections()] == [(s.ref, s.heading) for s in built.sections]
    assert {s.ref: (s.start, s.end) for s in doc.sections()} == spans
    check_tiling(doc)
    for section in doc.sections():
        assert resolve(doc, section.ref) is section
        assert resolve(doc, section.label) is section
