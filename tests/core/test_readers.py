"""manifold_core.readers: real PDF, HTML, DOCX and text files, made here with the same
libraries users' files come from (fpdf2 writes the PDF, python-docx the DOCX)."""

from __future__ import annotations

from pathlib import Path

import pytest
from file_makers import HTML, PAGES, make_docx, make_pdf

from manifold_core.readers import SkipFile, classify, read_text_document


def section_texts(ex: object) -> list[tuple[dict[str, object], str]]:
    return [(dict(s.metadata), ex.text[s.start : s.end]) for s in ex.sections]  # type: ignore[attr-defined]


def test_pdf_pages_come_back_with_their_numbers(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "topics.pdf", PAGES)
    assert classify(path) == "pdf"
    ex = read_text_document(path, "pdf")
    assert ex.metadata["title"] == "Three topics" and ex.metadata["pages"] == 3
    sections = section_texts(ex)
    assert [m for m, _ in sections] == [{"page": 1}, {"page": 2}, {"page": 3}]
    for (_, text), page in zip(sections, PAGES, strict=True):
        assert " ".join(text.split()) == page
    # The sections cover the text in order, separated by blank lines only.
    assert ex.text == "\n\n".join(t for _, t in sections)


def test_html_drops_navigation_and_keeps_tables_and_headings(tmp_path: Path) -> None:
    path = tmp_path / "x1.html"
    path.write_text(HTML, encoding="utf-8")
    ex = read_text_document(path, "html")
    assert ex.metadata == {"title": "宝马 X1 评测"}
    for gone in ("Log in", "All cars", "tracking", "color: red", "Privacy"):
        assert gone not in ex.text
    assert "车型 | 售价\nsDrive18i | 38,600 USD\nxDrive28i | 42,900 USD" in ex.text
    assert "Wind noise: low\nTyre noise: low" in ex.text
    by_heading = {m["heading"]: t for m, t in section_texts(ex)}
    assert set(by_heading) == {"宝马 X1", "宝马 X1 > 价格", "宝马 X1 > Noise"}
    assert by_heading["宝马 X1"].startswith("宝马 X1\n\nThe new BMW X1 is quiet")
    assert "新款宝马X1" in by_heading["宝马 X1"]
    assert by_heading["宝马 X1 > 价格"].startswith("价格\n\n车型 | 售价")


def test_docx_headings_paths_and_tables(tmp_path: Path) -> None:
    ex = read_text_document(make_docx(tmp_path / "panda.docx"), "docx")
    assert ex.metadata == {"title": "大熊猫"}
    sections = section_texts(ex)
    assert [m.get("heading") for m, _ in sections] == [
        None,
        "饮食",
        "饮食 > Bamboo species",
        "栖息地",
    ]
    assert sections[0][1].strip() == "An introduction before any heading."
    assert "种类 | 占比\n箭竹 | 60%" in sections[2][1]
    assert sections[3][1] == "栖息地\n\n四川、陕西和甘肃的山区。"


def test_markdown_headings_outside_code_fences(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    text = (
        "Intro line.\n\n# 安装\n\npip install it.\n\n```bash\n# not a heading\n```\n\n"
        "## Offline\n\nUse pkg: models.\n\n# Use\n\nQuery it.\n"
    )
    path.write_text(text, encoding="utf-8")
    ex = read_text_document(path, "markdown")
    assert ex.text == text
    assert [(m.get("heading"), t.split("\n", 1)[0]) for m, t in section_texts(ex)] == [
        (None, "Intro line."),
        ("安装", "# 安装"),
        ("安装 > Offline", "## Offline"),
        ("Use", "# Use"),
    ]


def test_unknown_suffixes_are_sniffed(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("Read me first.\n", encoding="utf-8")
    (tmp_path / "notes.bak").write_text("一份文本备份。\n", encoding="utf-8")
    (tmp_path / "image.bak").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "latin.bak").write_bytes("café au lait".encode("latin-1"))
    (tmp_path / "photo.jpg").write_text("not even opened", encoding="utf-8")
    (tmp_path / "old.doc").write_bytes(b"whatever")
    assert classify(tmp_path / "README") == "text"
    assert classify(tmp_path / "notes.bak") == "text"
    cases = {
        "image.bak": ("not text", "NUL"),
        "latin.bak": ("not text", "not UTF-8 (byte 0xe9 at offset 3)"),
        "photo.jpg": ("unsupported type", ".jpg"),
        "old.doc": ("unsupported type", "save it as .docx"),
    }
    for name, (reason, detail) in cases.items():
        with pytest.raises(SkipFile) as info:
            classify(tmp_path / name)
        assert info.value.reason == reason and detail in info.value.detail, name


def test_broken_and_empty_files_say_why(tmp_path: Path) -> None:
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    (tmp_path / "broken.docx").write_bytes(b"PK not a zip")
    make_pdf(tmp_path / "blank.pdf", [" "])
    (tmp_path / "blank.html").write_text("<html><nav>menu</nav></html>", encoding="utf-8")
    expected = {
        "broken.pdf": "unreadable",
        "broken.docx": "unreadable",
        "blank.pdf": "empty",
        "blank.html": "empty",
    }
    for name, reason in expected.items():
        with pytest.raises(SkipFile) as info:
            read_text_document(tmp_path / name, classify(tmp_path / name))
        assert info.value.reason == reason, (name, info.value)
