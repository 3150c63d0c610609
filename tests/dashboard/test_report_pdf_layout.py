"""The period report PDF is laid out from the report's own HTML (survey/dashboard/report_pdf_layout.py): read
back with pypdf it carries exactly the figures of that HTML, every one of them on the report page too; its
text is Vietnamese in an embedded font; numeric headers stand over their numbers; a chart too tall for a page
is shrunk onto it."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from survey.dashboard import report_pdf
from survey.dashboard.report_pdf_layout import BOLD, FONT, parse, render, texts, width_of
from tests.dashboard.hakit import login, use_language
from tests.results.factories import city_with_responses

FIGURE = re.compile(r"\d+(?:[.,]\d+)*%?")  # 85,1%  1.572  2022  0,004


@pytest.fixture
def documents(app, db_session, monkeypatch):
    """A city with responses; every HTML document the PDF route lays out is kept (newest last)."""
    app.config.update(HAILONG_BOOTSTRAP_B=40, HAILONG_CLOCK=lambda: datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    city_with_responses(db_session, per_point=45, comments=False)
    seen: list[str] = []
    real = report_pdf._render

    def keep(html: str) -> bytes:
        seen.append(html)
        return real(html)

    monkeypatch.setattr(report_pdf, "_render", keep)
    return seen


def _pdf_text(data: bytes, head: str, page_word: str) -> str:
    """The text of every page without its running head and page number."""
    pages = PdfReader(io.BytesIO(data)).pages
    return "\n".join(p.extract_text().replace(head, "", 1).replace(f"{page_word} {i} / {len(pages)}", "", 1)
                     for i, p in enumerate(pages, start=1))


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_pdf_carries_exactly_the_figures_of_the_report(client, documents, lang):
    login(client, "noivu")
    use_language(client, lang)
    resp = client.get("/homeaffairs/report/report.pdf")
    assert resp.status_code == 200
    doc = parse(documents[-1])
    body = doc.root.find("body")
    assert body is not None
    html_figures = Counter(FIGURE.findall(" ".join(texts(body))))
    text = _pdf_text(resp.data, doc.meta["hailong-running-head"], doc.meta["hailong-page-word"])
    assert Counter(FIGURE.findall(text)) == html_figures  # every table cell and chart label, none added
    assert sum(html_figures.values()) > 300  # tables, charts, method note
    page = client.get("/homeaffairs/report/").get_data(as_text=True)  # what the report page shows
    page_figures = set(FIGURE.findall(re.sub(r"<[^>]+>", " ", page)))
    assert {f for f in html_figures if f.endswith("%")} <= page_figures


def test_vietnamese_text_is_in_an_embedded_font(client, documents):
    login(client, "noivu")
    use_language(client, "vi")
    reader = PdfReader(io.BytesIO(client.get("/homeaffairs/report/report.pdf").data))
    first = reader.pages[0]
    assert "Báo cáo sự hài lòng của người dân" in first.extract_text()
    assert "Quý" in reader.metadata.title
    fonts = [f.get_object() for f in first["/Resources"]["/Font"].values()]
    embedded = [f for f in fonts if "/DescendantFonts" not in f and "/FontDescriptor" in f
                and "/FontFile2" in f["/FontDescriptor"]]
    assert embedded and all(re.search(r"DejaVuSans|NotoSans", str(f["/BaseFont"])) for f in embedded)
    used: set[str] = set()  # the fonts text is actually set in (ReportLab also lists an unused Helvetica)
    for page in reader.pages:
        page.extract_text(visitor_text=lambda text, cm, tm, font, size: used.add(str(font.get("/BaseFont")))
                          if text.strip() and font else None)
    assert used and used <= {str(f["/BaseFont"]) for f in embedded}


def test_numeric_headers_stand_over_their_numbers(client, documents):
    login(client, "noivu")
    use_language(client, "en")
    page = PdfReader(io.BytesIO(client.get("/homeaffairs/report/report.pdf").data)).pages[0]
    runs: list[tuple[str, float, float]] = []  # text, left, right

    def visit(text, cm, tm, font, size):
        if text.strip():
            name = BOLD if "Bold" in str(font.get("/BaseFont", "")) else FONT
            left = cm[4] + tm[4] * cm[0]
            runs.append((text.strip(), left, left + width_of(text.strip(), name) * size / 7.5))

    page.extract_text(visitor_text=visit)
    texts = [t for t, _l, _r in runs]
    summary = texts.index("Estimate")  # the summary table's header row
    n_header = next(r for t, _l, r in runs[summary:] if t == "n")
    estimate_header = runs[summary][2]
    numbers = [(t, r) for t, _l, r in runs[summary + 1:] if re.fullmatch(r"\d+(\.\d+)?%?", t.replace(",", ""))]
    counts = [r for t, r in numbers if not t.endswith("%")]
    estimates = [r for t, r in numbers if t.endswith("%")][::3]  # estimate, CI low, CI high per row
    assert counts and estimates
    assert all(abs(r - n_header) < 0.5 for r in counts)
    assert all(abs(r - estimate_header) < 0.5 for r in estimates)


def test_a_chart_taller_than_a_page_is_shrunk_onto_one(app):
    """A forest plot of 80 agencies (most below n_min) is 2,000 px tall: on one page, every label kept."""
    from survey.dashboard.charts import ForestRow, forest_plot

    rows = [ForestRow(f"Agency {i:02d}", 0.8, 0.75, 0.85, 60) for i in range(10)] + \
        [ForestRow(f"Small agency {i:02d}", None, None, None, 5, True) for i in range(70)]
    with app.test_request_context():
        chart = forest_plot("tall", rows, title="Tall", lang="en")
    html = f'<html><head><title>t</title></head><body><figure class="chart">{chart.svg}</figure></body></html>'
    reader = PdfReader(io.BytesIO(render(html)))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Agency 00" in text and "Small agency 69" in text and text.count("80,0%") == 0
    assert text.count("80.0% (75.0% – 85.0%)") == 10
