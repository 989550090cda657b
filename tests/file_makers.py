"""Real files for the reader and ingest tests, made with the libraries users' files come
from: fpdf2 writes PDFs (with a CJK TrueType font from mplfonts), python-docx DOCX files."""

from __future__ import annotations

from pathlib import Path

PAGES = [
    "Rooftop solar panels turn sunlight into electricity. 太阳能电池板把阳光变成电。",
    "Sourdough bread rises with wild yeast. 酸面包用野生酵母发酵。",
    "Giant pandas eat bamboo for most of the day. 大熊猫一天大部分时间都在吃竹子。",
]


def cjk_ttf() -> str:
    """A TrueType font with Chinese glyphs, from the mplfonts package (SimHei)."""
    import mplfonts

    return str(Path(mplfonts.__file__).parent / "fonts" / "SimHei.ttf")


def make_pdf(path: Path, pages: list[str], title: str = "Three topics") -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("cjk", fname=cjk_ttf())
    pdf.set_font("cjk", size=12)
    pdf.set_title(title)
    for body in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, body)
    pdf.output(str(path))
    return path


HTML = """<!doctype html>
<html><head><title>宝马 X1 评测</title><style>p { color: red }</style>
<script>var tracking = "do not index";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/cars">All cars</a> <a href="/login">Log in</a></nav>
<main>
<h1>宝马 X1</h1>
<p>The new BMW X1 is quiet at 120 km/h. 新款宝马X1在120公里时速下很安静。</p>
<h2>价格</h2>
<table>
<tr><th>车型</th><th>售价</th></tr>
<tr><td>sDrive18i</td><td>38,600 USD</td></tr>
<tr><td>xDrive28i</td><td>42,900 USD</td></tr>
</table>
<h2>Noise</h2>
<ul><li>Wind noise: low</li><li>Tyre noise: low</li></ul>
</main>
<footer>© 2024 Car Reviews · Privacy</footer>
</body></html>
"""


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "大熊猫"
    d.add_paragraph("An introduction before any heading.")
    d.add_heading("饮食", level=1)
    d.add_paragraph("大熊猫主要吃竹子。Giant pandas mostly eat bamboo.")
    d.add_heading("Bamboo species", level=2)
    d.add_paragraph("Arrow bamboo and umbrella bamboo are favourites.")
    table = d.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "种类", (0, 1): "占比", (1, 0): "箭竹", (1, 1): "60%"}.items():
        table.cell(r, c).text = value
    d.add_heading("栖息地", level=1)
    d.add_paragraph("四川、陕西和甘肃的山区。")
    d.save(str(path))
    return path
