"""The shipped speech parses into exactly the structure a reader sees in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from content.loader import default_speech_path, load_document
from content.model import Document
from content.parser import SpeechFormatError, parse_speech

PART_HEADINGS = {
    "1": "统一思想,准确把握学习型党组织建设的实质",
    "2": "突出重点,积极用学习型党组织建设推动实践",
    "3": "改革创新,确保学习型党组织建设取得实效",
    "4": "加强领导,推动学习型党组织建设落到实处",
}

POINT_HEADINGS = {
    "1.1": "强化学习是“政治责任”的观念",
    "1.2": "强化学习是“紧迫任务”的观念",
    "1.3": "强化学习是“决定性因素”的观念",
    "2.1": "突出提升思想素质这个基本要求,深入推进理论武装",
    "2.2": "突出适应岗位需求这个重点任务,不断完善知识架构",
    "2.3": "突出推动科学发展这个根本目标,大力加强学习实践",
    "3.1": "要树立先进学习理念",
    "3.2": "要创新学习方法",
    "3.3": "要优化学习服务",
    "4.1": "加强组织领导",
    "4.2": "加强示范带动",
    "4.3": "加强机制建设",
    "4.4": "加强舆论宣传",
}


@pytest.fixture(scope="module")
def doc() -> Document:
    return load_document()


def test_default_path_is_the_shipped_file() -> None:
    path = default_speech_path()
    assert path.name == "speech.txt"
    assert path.parent.name == "content"
    assert path.is_file()


def test_title_and_metadata(doc: Document) -> None:
    assert doc.title == "创建学习型党组织动员会讲话"
    assert doc.metadata["时间"] == "2022-01-21 09:29:00"
    assert doc.metadata["导语"].startswith("创建学习型党组织动员会讲话一文来源于网友上传")
    assert set(doc.metadata) == {"时间", "导语"}


def test_header_is_kept_out_of_the_body(doc: Document) -> None:
    assert doc.body.startswith("同志们:")
    assert "时间:" not in doc.body
    assert "来源于网友上传" not in doc.body
    assert doc.title not in doc.body.splitlines()


def test_part_and_point_counts(doc: Document) -> None:
    assert [part.number for part in doc.parts] == [1, 2, 3, 4]
    assert [len(part.points) for part in doc.parts] == [3, 3, 3, 4]


def test_part_headings(doc: Document) -> None:
    assert {part.section.ref: part.section.heading for part in doc.parts} == PART_HEADINGS


def test_point_headings(doc: Document) -> None:
    found = {point.ref: point.heading for part in doc.parts for point in part.points}
    assert found == POINT_HEADINGS


def test_labels_and_numbers(doc: Document) -> None:
    assert [p.section.label for p in doc.parts] == ["一", "二", "三", "四"]
    point = doc.section("2.3")
    assert (point.label, point.kind, point.part, point.point) == ("二、3", "point", 2, 3)
    part = doc.section("3")
    assert (part.label, part.kind, part.part, part.point) == ("三", "part", 3, None)


def test_point_starting_mid_paragraph_is_its_own_point(doc: Document) -> None:
    previous, point = doc.section("3.2"), doc.section("3.3")
    assert previous.text.endswith("大力组织开展专题学习教育。")
    assert point.text.startswith("3、要优化学习服务。不断拓展建设学习型党组织的阵地。")
    assert point.start == previous.end  # same paragraph: nothing between them
    assert point.text.endswith("实现学习教育的全覆盖。")


def test_opening_boundaries(doc: Document) -> None:
    assert doc.opening is not None
    assert (doc.opening.ref, doc.opening.label, doc.opening.heading) == ("opening", "开头", "开头")
    assert doc.opening.start == 0
    assert doc.opening.text.startswith("同志们:\n\n今天这次会议是经市委同意召开的")
    assert doc.opening.text.endswith("面临的一项十分重要而紧迫的政治任务。")


def test_part_text_is_heading_and_intro_only(doc: Document) -> None:
    part = doc.section("1")
    assert part.text.startswith("一、统一思想,准确把握学习型党组织建设的实质\n\n党的十七届四中全会")
    assert part.text.endswith("我们必须强化三种观念。")


def test_closing_boundaries(doc: Document) -> None:
    assert doc.closing is not None
    assert (doc.closing.ref, doc.closing.label, doc.closing.heading) == ("closing", "结语", "结语")
    assert doc.closing.text.startswith("建设马克思主义学习型党组织,是一个亟待解决的新课题")
    assert doc.closing.text.endswith("实现科学发展富民强市的奋斗目标作出新贡献。")
    assert doc.closing.end == len(doc.body)
    last = doc.section("4.4")
    assert last.text.endswith("扩大学习型党组织建设的社会影响。")


def test_sections_tile_the_body(doc: Document) -> None:
    position = 0
    for section in doc.sections():
        assert doc.body[position : section.start].strip() == ""
        assert section.text == doc.body[section.start : section.end]
        assert section.text == section.text.strip()
        position = section.end
    assert doc.body[position:].strip() == ""
    assert len(doc.sections()) == 1 + 4 + 13 + 1


def test_load_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "speech.txt"
    text = default_speech_path().read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = load_document(path)
    assert load_document(path) is first
    path.write_text(text.replace("加强舆论宣传。", "加强新闻宣传。"), encoding="utf-8")
    second = load_document(path)
    assert second is not first
    assert second.section("4.4").heading == "加强新闻宣传"


def test_bom_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + default_speech_path().read_bytes())
    doc = load_document(path)
    assert doc.title == "创建学习型党组织动员会讲话"
    assert len(doc.sections()) == 19


def test_crlf_line_endings_give_the_same_structure(doc: Document) -> None:
    text = default_speech_path().read_text(encoding="utf-8").replace("\n", "\r\n")
    again = parse_speech(text)
    assert again.body == doc.body
    assert [s.text for s in again.sections()] == [s.text for s in doc.sections()]


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SpeechFormatError, match=r"nothere\.txt: cannot read"):
        load_document(tmp_path / "nothere.txt")


def test_undecodable_file_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes("标题\n\n同志们:\n一、第一部分".encode("gbk"))
    with pytest.raises(SpeechFormatError, match=r"gbk\.txt: line 1: .*UTF-8") as info:
        load_document(path)
    assert info.value.line == 1


def test_format_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.txt"
    path.write_text("标题\n\n同志们:\n\n一、第一部分\n\n三、第三部分\n", encoding="utf-8")
    with pytest.raises(SpeechFormatError) as info:
        load_document(path)
    assert info.value.line == 7
    assert str(info.value).startswith(str(path.resolve()) + ": line 7: part 三 follows part 一")
