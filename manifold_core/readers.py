"""Turn the files users have into text with structure: one reader per format.

:func:`classify` decides from a file's name (and, for an unknown suffix, its first bytes)
which reader applies, or why the file is skipped; :func:`read_text_document` extracts the
text of a PDF, HTML, DOCX, Markdown or plain-text file as one :class:`ExtractedText`:
the text plus :class:`Section` s, the spans that share a page (PDF) or a heading path
(Markdown, HTML, DOCX). Chunkers cut inside sections, so every chunk has one page and one
heading path, read off its section.

Rules, and why:

- **Known suffixes** pick the reader: ``.pdf`` (pypdf), ``.html``/``.htm``/``.xhtml``
  (Beautiful Soup with the standard library's parser: pure Python, forgiving with broken
  markup, and its tree makes heading paths and tables easy; selectolax is faster but
  parsing is not where ingest spends its time, the embedding model is), ``.docx``
  (python-docx), ``.md``/``.markdown`` (headings read from ``#`` lines), ``.txt`` and other
  plain-text suffixes. The libraries come with the ``readers`` extra and load lazily.
- **Known binary suffixes** (images, archives, media, executables, databases, the office
  formats no reader handles: ``.doc``, ``.xlsx``, ``.pptx``...) are skipped as an
  *unsupported type* without being opened.
- **Anything else**, a ``README`` without a suffix, ``notes.bak``, ``LICENSE``, ``.rst``,
  source code, is *sniffed*: its first 8 KiB must hold no NUL byte and decode as UTF-8,
  then it is read as plain text; otherwise it is skipped as *not text*. This is what
  editors and ``git`` do; it reads a text backup and never indexes a binary one.

Every problem is a :class:`SkipFile` with one of :data:`SKIP_REASONS` and a detail that
names what was wrong, so the ingest can list it instead of failing or staying silent.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BINARY_SUFFIXES",
    "FORMATS",
    "SKIP_REASONS",
    "ExtractedText",
    "Section",
    "SkipFile",
    "classify",
    "decode_utf8",
    "read_text_document",
]

# kind -> suffixes; "jsonl" is read by the ingest (one document per line), not here.
FORMATS: dict[str, tuple[str, ...]] = {
    "jsonl": (".jsonl", ".jsonl.gz"),
    "pdf": (".pdf",),
    "html": (".html", ".htm", ".xhtml"),
    "docx": (".docx",),
    "markdown": (".md", ".markdown"),
    "text": (".txt", ".text"),
}
BINARY_SUFFIXES: frozenset[str] = frozenset(
    [
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".webp",
        ".ico",
        ".heic",
        ".psd",
        ".svgz",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".zst",
        ".7z",
        ".rar",
        ".tar",
        ".whl",
        ".jar",
        ".apk",
        ".dmg",
        ".iso",
        ".mp3",
        ".wav",
        ".flac",
        ".ogg",
        ".m4a",
        ".mp4",
        ".mkv",
        ".mov",
        ".avi",
        ".webm",
        ".exe",
        ".dll",
        ".so",
        ".dylib",
        ".o",
        ".a",
        ".pyc",
        ".pyo",
        ".class",
        ".bin",
        ".dat",
        ".db",
        ".sqlite",
        ".sqlite3",
        ".parquet",
        ".npy",
        ".npz",
        ".pkl",
        ".pickle",
        ".pt",
        ".pth",
        ".safetensors",
        ".onnx",
        ".h5",
        ".arrow",
        ".doc",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".ods",
        ".odp",
        ".rtf",
        ".epub",
        ".pages",
        ".key",
        ".numbers",
        ".ttf",
        ".otf",
        ".woff",
        ".woff2",
    ]
)
_HINTS = {
    ".doc": "save it as .docx",
    ".rtf": "save it as .docx",
    ".odt": "save it as .docx",
    ".xlsx": "export the sheets as .csv",
    ".xls": "export the sheets as .csv",
    ".pptx": "export it as PDF",
    ".ppt": "export it as PDF",
}
SKIP_REASONS = ("unsupported type", "empty", "not text", "unreadable", "too long", "excluded")
_SNIFF_BYTES = 8192
_INSTALL = "pip install 'manifold-rag[readers]'"


class SkipFile(ValueError):
    """A file the ingest leaves out, with a ``reason`` from :data:`SKIP_REASONS`.

    A ``ValueError``, so that a caller reading one file it was asked for gets an error
    (``where: detail``) while the ingest of a folder lists it and goes on.
    """

    def __init__(self, reason: str, detail: str, where: str = "") -> None:
        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}")
        super().__init__(f"{where}: {detail}" if where else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Section:
    """``text[start:end]`` of an :class:`ExtractedText` shares ``metadata`` (page, heading)."""

    start: int
    end: int
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtractedText:
    """A file's text, its sections (covering the text in order) and document metadata."""

    text: str
    sections: tuple[Section, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)


def _suffix_of(name: str) -> str:
    name = name.lower()
    for kind_suffixes in FORMATS.values():
        for suffix in sorted(kind_suffixes, key=len, reverse=True):
            if name.endswith(suffix):
                return suffix
    return Path(name).suffix


def classify(path: str | os.PathLike[str]) -> str:
    """The reader for ``path``: a key of :data:`FORMATS`.

    Raises:
        SkipFile: a binary suffix (``unsupported type``), or an unknown suffix whose first
            bytes are not UTF-8 text (``not text``), or an unreadable file.
    """
    p = Path(path)
    suffix = _suffix_of(p.name)
    for kind, suffixes in FORMATS.items():
        if suffix in suffixes:
            return kind
    if suffix in BINARY_SUFFIXES:
        hint = _HINTS.get(suffix)
        raise SkipFile(
            "unsupported type", f"{suffix} files are not read" + (f" ({hint})" if hint else "")
        )
    try:
        with open(p, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise SkipFile("unreadable", exc.strerror or str(exc)) from None
    if b"\x00" in head:
        raise SkipFile("not text", "binary content (NUL bytes)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # a character cut at the end of the sample is fine
            raise SkipFile(
                "not text", f"not UTF-8 (byte {head[exc.start]:#04x} at offset {exc.start})"
            ) from None
    return "text"


def decode_utf8(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) text; ``ValueError`` naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{name}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "convert it to UTF-8 first, e.g. iconv -f GBK -t UTF-8"
        ) from None


def read_text_document(path: str | os.PathLike[str], kind: str) -> ExtractedText:
    """Extract the text and sections of a file of ``kind`` (not ``jsonl``).

    Raises:
        SkipFile: ``empty`` (no text), ``not text`` (plain text that is not UTF-8) or
            ``unreadable`` (a corrupt or encrypted file, a missing reader library).
    """
    p = Path(path)
    readers = {
        "pdf": _read_pdf,
        "html": _read_html,
        "docx": _read_docx,
        "markdown": _read_markdown,
        "text": _read_plain,
    }
    if kind not in readers:
        raise ValueError(f"no text reader for {kind!r}; expected one of {sorted(readers)}")
    try:
        out = readers[kind](p)
    except SkipFile:
        raise
    except ImportError as exc:
        raise SkipFile(
            "unreadable", f"{kind} needs {exc.name or 'a library'}: {_INSTALL}"
        ) from None
    except OSError as exc:
        raise SkipFile("unreadable", exc.strerror or str(exc)) from None
    except Exception as exc:  # a corrupt file: the libraries raise many kinds of errors
        raise SkipFile(
            "unreadable", f"not a valid {kind} file ({type(exc).__name__}: {exc})"
        ) from None
    if not out.text.strip():
        raise SkipFile("empty", "no text" if kind != "pdf" else "no text layer (scanned? OCR it)")
    return out


# --------------------------------------------------------------------- plain text


def _read_plain(path: Path) -> ExtractedText:
    try:
        text = decode_utf8(path.read_bytes(), path.name)
    except ValueError as exc:
        raise SkipFile("not text", str(exc)[len(path.name) + 2 :]) from None
    return ExtractedText(text, (Section(0, len(text)),))


# ----------------------------------------------------------------------- headings


class _Builder:
    """Collects blocks of text and the heading path in force, into sections."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self.section_start = 0
        self.last_kind = ""

    def _meta(self) -> dict[str, Any]:
        return {"heading": " > ".join(t for _, t in self.path)} if self.path else {}

    def _close_section(self) -> None:
        if self.length > self.section_start:
            self.sections.append(Section(self.section_start, self.length, self._meta()))
        self.section_start = self.length

    def heading(self, level: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            return
        self._separate("heading")
        self._close_section()  # the new section starts at the heading itself
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, title))
        self._append(title, "heading")

    def block(self, text: str, kind: str = "para") -> None:
        if not text.strip():
            return
        self._separate(kind)
        self._append(text, kind)

    def _separate(self, kind: str) -> None:
        if self.parts:
            sep = "\n" if kind == self.last_kind and kind in ("row", "item") else "\n\n"
            self.parts.append(sep)
            self.length += len(sep)

    def _append(self, text: str, kind: str) -> None:
        self.parts.append(text)
        self.length += len(text)
        self.last_kind = kind

    def result(self, metadata: Mapping[str, Any] | None = None) -> ExtractedText:
        self._close_section()
        text = "".join(self.parts)
        sections = tuple(self.sections) or (Section(0, len(text)),)
        return ExtractedText(text, sections, dict(metadata or {}))


_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _read_markdown(path: Path) -> ExtractedText:
    """The file's text as is; a section starts at every ``#`` heading outside code fences."""
    plain = _read_plain(path)
    text = plain.text
    sections: list[Section] = []
    path_: list[tuple[int, str]] = []
    start, offset, fence = 0, 0, ""

    def meta() -> dict[str, Any]:
        return {"heading": " > ".join(t for _, t in path_)} if path_ else {}

    for line in text.splitlines(keepends=True):
        m_fence = _FENCE.match(line)
        if m_fence:
            marker = m_fence.group(1)
            if not fence:
                fence = marker[0] * 3
            elif marker.startswith(fence):
                fence = ""
        elif not fence:
            m = _ATX.match(line.rstrip("\r\n"))
            if m:
                if offset > start:
                    sections.append(Section(start, offset, meta()))
                start = offset
                level = len(m.group(1))
                while path_ and path_[-1][0] >= level:
                    path_.pop()
                path_.append((level, " ".join(m.group(2).split())))
        offset += len(line)
    if offset > start or not sections:
        sections.append(Section(start, offset, meta()))
    return ExtractedText(text, tuple(sections))


# --------------------------------------------------------------------------- HTML

_HTML_DROP = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "aside",
        "footer",
        "form",
        "svg",
        "iframe",
        "button",
        "select",
        "head",
        "object",
        "canvas",
    ]
)
_HTML_BLOCK = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "figure",
        "figcaption",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "caption",
        "address",
        "details",
        "summary",
        "center",
    ]
)
_HEADINGS = {f"h{i}": i for i in range(1, 7)}


def _read_html(path: Path) -> ExtractedText:
    """Visible text of the page: navigation, scripts, forms and footers dropped.

    Blocks (paragraphs, list items, headings) are separated by blank lines, table rows
    become lines with cells joined by `` | ``, and every ``h1``-``h6`` opens a section
    with its heading path. A page with a ``<main>`` element is read from it alone.
    """
    from bs4 import BeautifulSoup, Comment, NavigableString, Tag

    data = path.read_bytes()
    soup = BeautifulSoup(data, "html.parser")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag else ""
    root: Any = soup.find("main") or soup.find("body") or soup
    out = _Builder()
    inline: list[str] = []

    def flush(kind: str = "para") -> None:
        text = " ".join("".join(inline).split())
        inline.clear()
        out.block(text, kind)

    def walk(node: Any) -> None:
        for child in node.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name.lower()
            if name in _HTML_DROP or child.get("role") == "navigation" or child.has_attr("hidden"):
                continue
            if name in _HEADINGS:
                flush()
                out.heading(_HEADINGS[name], child.get_text(" "))
            elif name == "tr":
                flush()
                cells = [" ".join(c.get_text(" ").split()) for c in child.find_all(["td", "th"])]
                out.block(" | ".join(c for c in cells if c), "row")
            elif name == "li":
                flush()
                walk(child)
                flush("item")
            elif name == "pre":
                flush()
                out.block(child.get_text().strip("\n"), "pre")
            elif name in ("br", "hr"):
                flush()
            elif name in _HTML_BLOCK:
                flush()
                walk(child)
                flush()
            else:
                walk(child)

    walk(root)
    flush()
    return out.result({"title": title} if title else None)


# --------------------------------------------------------------------------- DOCX

_HEADING_STYLE = re.compile(r"^heading (\d)$", re.IGNORECASE)


def _read_docx(path: Path) -> ExtractedText:
    """Paragraphs and tables in document order; ``Heading N`` styles open sections."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(str(path))
    out = _Builder()
    body = document.element.body
    for element in body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(element, document)
            style = (para.style.name if para.style is not None else "") or ""
            m = _HEADING_STYLE.match(style)
            if m:
                out.heading(int(m.group(1)), para.text)
            elif style.lower() == "title":
                out.heading(1, para.text)
            else:
                out.block(para.text.strip(), "item" if "list" in style.lower() else "para")
        elif tag == "tbl":
            for row in Table(element, document).rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if value and (not cells or cells[-1] != value):  # merged cells repeat
                        cells.append(value)
                out.block(" | ".join(cells), "row")
    title = (document.core_properties.title or "").strip()
    return out.result({"title": title} if title else None)


# ---------------------------------------------------------------------------- PDF


def _read_pdf(path: Path) -> ExtractedText:
    """The text layer of each page; pages are sections (``page`` is 1-based)."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # font warnings are not the user's
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    if reader.is_encrypted:
        ok: Any = 0
        try:
            ok = reader.decrypt("")
        except Exception:
            ok = 0
        if not ok:
            raise SkipFile("unreadable", "encrypted PDF (a password is needed)")
    parts: list[str] = []
    sections: list[Section] = []
    length = 0
    for number, page in enumerate(_pages(reader), start=1):
        text = (page.extract_text() or "").strip()
        if not text:
            continue
        if parts:
            parts.append("\n\n")
            length += 2
        sections.append(Section(length, length + len(text), {"page": number}))
        parts.append(text)
        length += len(text)
    meta: dict[str, Any] = {"pages": len(reader.pages)}
    title = ""
    try:
        info: Any = reader.metadata or {}
        title = str(info.get("/Title") or "").strip()
    except Exception:
        title = ""
    if title:
        meta["title"] = title
    return ExtractedText("".join(parts), tuple(sections), meta)


def _pages(reader: Any) -> Iterator[Any]:
    yield from reader.pages
