"""`polyglot stats` filter measurements: per-language histograms, failing counts and thresholds from the filter's
attributes files (written here by hand, with the stage's metadata layout), in the JSON, the tables and the HTML."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from rich.console import Console

from pipeline.report import (
    MAX_BINS,
    MAX_MEASUREMENTS,
    SCALE_EDGES,
    THRESHOLDS_KEY,
    _spread,
    collect,
    filter_measurements,
    measurement_scale,
    render,
)
from pipeline.report_html import FAIL_SHADE, histogram_svg, render_html, threshold_x
from pipeline.storage import write_parquet
from tests.test_report import _lang, _record, _tags


def _rule(rule: str, op: str, threshold: float | None) -> dict[str, Any]:
    return {"rule": rule, "op": op, "threshold": threshold}


def _attributes(path: Path | str, rows: list[dict[str, Any]], thresholds: dict[str, Any] | None) -> None:
    """An attributes file as the filter stage writes it: doc_id, lang, filter_reason, float32 measurement columns
    (null where absent from a row) and the thresholds as schema metadata."""
    names = sorted({k for r in rows for k in r} - {"doc_id", "lang", "filter_reason"})
    table = pa.table({
        "doc_id": [r["doc_id"] for r in rows],
        "lang": [r["lang"] for r in rows],
        "filter_reason": pa.array([r.get("filter_reason") for r in rows], pa.string()),
        **{n: pa.array([r.get(n) for r in rows], pa.float32()) for n in names},
    })  # fmt: skip
    if thresholds is not None:
        table = table.replace_schema_metadata({THRESHOLDS_KEY: json.dumps(thresholds).encode()})
    write_parquet(table, str(path))


KOR_A = {
    "page.prose": _rule("page:too_little_prose", "min", 20.0),
    "page.prose_frac": _rule("page:prose_frac", "min", 0.2),
    "gopher_repetition.top_3_gram_char_frac": _rule("gopher_repetition:top_3_gram", "max", 0.18),
    "gopher_repetition.top_5_gram_char_frac": _rule("gopher_repetition:top_5_gram", "max", 0.16),
    "fineweb.dup_line_char_frac": _rule("fineweb:dup_line_char_ratio", "max", 0.0229),
    "c4.curly_bracket": _rule("c4:curly_bracket", "max", 0),
}
ENG_A = {
    "page.prose": _rule("page:too_little_prose", "min", 30.0),
    "page.prose_frac": _rule("page:prose_frac", "min", 0.2),
    "gopher_repetition.top_2_gram_char_frac": _rule("gopher_repetition:top_2_gram", "max", 0.2),
    "gopher_repetition.top_3_gram_char_frac": _rule("gopher_repetition:top_3_gram", "max", 0.18),
    "c4.curly_bracket": _rule("c4:curly_bracket", "max", 0),
}


def _work(tmp: Path) -> Path:
    """Two shards. a: 10 Korean documents (prose 0..90, prose_frac 0.05..0.95) and 4 English ones (one removed by
    its URL, so not measured). b: 5 Korean documents under a different page.prose threshold (40), no fineweb column
    and an extra page.url_tokens_per_unit one."""
    work = tmp / "work"
    a = []
    for i in range(10):
        a.append({"doc_id": f"a/k{i}", "lang": "kor_Hang", "page.prose": float(10 * i),
                  "page.prose_frac": 0.05 + 0.1 * i, "gopher_repetition.top_3_gram_char_frac": 0.02 * i,
                  "gopher_repetition.top_5_gram_char_frac": 0.01,
                  "fineweb.dup_line_char_frac": 0.0 if i < 7 else 0.05, "c4.curly_bracket": 0.0,
                  "filter_reason": "page:too_little_prose" if i < 2 else None})  # fmt: skip
    eng = [(40.0, 0.2, "c4:curly_bracket"), (50.0, 0.19, "page:prose_frac"), (10.0, 0.9, "page:too_little_prose")]
    for i, (prose, frac, reason) in enumerate(eng):
        a.append({"doc_id": f"a/e{i}", "lang": "eng_Latn", "page.prose": prose, "page.prose_frac": frac,
                  "gopher_repetition.top_2_gram_char_frac": 0.1, "gopher_repetition.top_3_gram_char_frac": 0.1,
                  "c4.curly_bracket": 3.0 if i == 0 else 0.0, "filter_reason": reason})  # fmt: skip
    a.append({"doc_id": "a/e3", "lang": "eng_Latn", "filter_reason": "url:blocklist:adult"})
    _attributes(work / "attributes" / "filter" / "a.parquet", a, {"kor_Hang": KOR_A, "eng_Latn": ENG_A})
    kor_b = {**KOR_A, "page.prose": _rule("page:too_little_prose", "min", 40.0),
             "page.url_tokens_per_unit": _rule("page:url_ratio", "max", 0.05)}  # fmt: skip
    del kor_b["fineweb.dup_line_char_frac"]
    b = [{"doc_id": f"b/k{i}", "lang": "kor_Hang", "page.prose": float(30 + 5 * i), "page.prose_frac": 0.5,
          "gopher_repetition.top_3_gram_char_frac": 0.2, "page.url_tokens_per_unit": 0.01 * i,
          "filter_reason": "page:too_little_prose" if i < 2 else None} for i in range(5)]  # fmt: skip
    _attributes(work / "attributes" / "filter" / "b.parquet", b, {"kor_Hang": kor_b})
    # the filter's records: c4:curly_bracket removed an English document, so English shows c4.curly_bracket
    _record(work, "filter", "a", {"kor_Hang": _lang(10, 8, 100, 80), "eng_Latn": _lang(4, 1, 40, 10)},
            removed={"page:too_little_prose": {"kor_Hang": 2, "eng_Latn": 1}, "page:prose_frac": {"eng_Latn": 1},
                     "c4:curly_bracket": {"eng_Latn": 1}, "url:blocklist:adult": {"eng_Latn": 1}})  # fmt: skip
    _record(work, "filter", "b", {"kor_Hang": _lang(5, 3, 50, 30)}, removed={"page:too_little_prose": {"kor_Hang": 2}})
    return work


def test_counts_failing_thresholds_and_differing_columns(tmp_path: Path) -> None:
    rep = collect(str(_work(tmp_path)))
    json.dumps(rep, allow_nan=False)
    fm = rep["filter_measurements"]
    assert (fm["source"], fm["files"], fm["files_read"], fm["unreadable"]) == ("attributes/filter", 2, 2, [])
    assert list(fm["languages"]) == ["kor_Hang", "eng_Latn"]  # most documents first
    kor, eng = fm["languages"]["kor_Hang"], fm["languages"]["eng_Latn"]
    assert (kor["docs"], kor["removed"], eng["docs"], eng["removed"]) == (15, 4, 4, 4)
    # a rule outside the main list that removed documents of a language is shown for that language only
    curly = eng["measurements"]["c4.curly_bracket"]
    assert (curly["docs"], curly["failing"], curly["removed"], curly["histogram"]["zero"]) == (3, 1, 1, 2)
    assert "c4.curly_bracket" not in kor["measurements"]
    assert eng["measurements"]["page.prose"]["docs"] == 3  # the document removed by its URL was not measured

    prose = kor["measurements"]["page.prose"]
    # shards disagree: each threshold listed with its file count; each document compared with its own shard's
    assert prose["thresholds"] == [{"rule": "page:too_little_prose", "op": "min", "threshold": 20.0, "shards": 1},
                                   {"rule": "page:too_little_prose", "op": "min", "threshold": 40.0, "shards": 1}]
    # a: 0 and 10 below 20 (20 itself passes); b: 30 and 35 below 40
    assert (prose["docs"], prose["failing"], prose["removed"]) == (15, 4, 4)
    assert math.isclose(prose["failing_pct"], 100 * 4 / 15, abs_tol=1e-3)
    h = prose["histogram"]
    assert h["scale"] == "count" and h["zero"] == 1 and sum(h["counts"]) + h["zero"] == 15
    assert h["edges"][0] == 10.0 and h["edges"][-1] >= 90.0 and len(h["counts"]) == len(h["edges"]) - 1
    assert (prose["min"], prose["max"]) == (0.0, 90.0) and 30 <= prose["median"] <= 50

    frac = kor["measurements"]["page.prose_frac"]
    assert frac["histogram"]["scale"] == "frac" and "zero" not in frac["histogram"]
    # 0.05-0.95 fills 37 bins of 0.025: merged in pairs, aligned on multiples of 0.05
    assert frac["histogram"]["edges"][:3] == [0.05, 0.1, 0.15] and sum(frac["histogram"]["counts"]) == 15
    assert frac["failing"] == 2 and frac["removed"] == 0  # 0.05 and 0.15; removed by page:too_little_prose

    # a column only one shard has: its documents only, its threshold only
    dup = kor["measurements"]["fineweb.dup_line_char_frac"]
    assert (dup["docs"], dup["failing"], dup["histogram"]["zero"], dup["median"]) == (10, 3, 7, 0.0)
    assert dup["histogram"]["scale"] == "log" and dup["thresholds"][0]["shards"] == 1
    assert "page.url_tokens_per_unit" not in kor["measurements"]  # not a main measurement, removed nothing

    # the smallest n-gram size per language: Korean top_3 (its metadata has no top_2), English top_2
    assert "gopher_repetition.top_3_gram_char_frac" in kor["measurements"]
    assert "gopher_repetition.top_5_gram_char_frac" not in kor["measurements"]
    assert "gopher_repetition.top_2_gram_char_frac" in eng["measurements"]
    assert "gopher_repetition.top_3_gram_char_frac" not in eng["measurements"]
    top3 = kor["measurements"]["gopher_repetition.top_3_gram_char_frac"]
    assert (top3["docs"], top3["failing"], top3["removed"]) == (15, 5, 0)  # b's 0.2 > 0.18; a's 0.18 passes


def test_failing_compares_in_float32_and_equal_passes(tmp_path: Path) -> None:
    # a measurement equal to its threshold passed the filter; stored as float32 it is 0.69999999 or 0.20000000298
    rows = [{"doc_id": str(i), "lang": "eng_Latn", "page.prose_frac": v} for i, v in enumerate((0.7, 0.6, 0.8))]
    rows += [{"doc_id": f"t{i}", "lang": "eng_Latn", "gopher_repetition.top_2_gram_char_frac": v}
             for i, v in enumerate((0.2, 0.3))]  # fmt: skip
    rows += [{"doc_id": f"w{i}", "lang": "eng_Latn", "gopher_quality.words": w} for i, w in enumerate((34.0, 33.0))]
    th = {"page.prose_frac": _rule("page:prose_frac", "min", 0.7),
          "gopher_repetition.top_2_gram_char_frac": _rule("gopher_repetition:top_2_gram", "max", 0.2),
          "gopher_quality.words": _rule("gopher_quality:too_few_words", "min", 34)}  # fmt: skip
    _attributes(tmp_path / "attributes" / "filter" / "s.parquet", rows, {"eng_Latn": th})
    eng = filter_measurements(str(tmp_path))["languages"]["eng_Latn"]["measurements"]  # type: ignore[index]
    assert (eng["page.prose_frac"]["docs"], eng["page.prose_frac"]["failing"]) == (3, 1)
    assert eng["gopher_repetition.top_2_gram_char_frac"]["failing"] == 1
    assert (eng["gopher_quality.words"]["docs"], eng["gopher_quality.words"]["failing"]) == (2, 1)


def test_absent_unreadable_and_metadata_less_files(tmp_path: Path) -> None:
    assert collect(str(tmp_path))["filter_measurements"] is None
    assert filter_measurements(str(tmp_path / "missing")) is None
    attrs = tmp_path / "attributes" / "filter"
    _attributes(attrs / "a.parquet", [{"doc_id": "1", "lang": "deu_Latn", "page.prose": 12.0},
                                      {"doc_id": "2", "lang": "deu_Latn", "page.prose": 0.0}], None)
    (attrs / "b.parquet").write_bytes(b"not parquet")
    fm = filter_measurements(str(tmp_path))
    assert fm is not None and fm["files"] == 2 and fm["files_read"] == 1
    assert len(fm["unreadable"]) == 1 and fm["unreadable"][0].startswith("b.parquet")
    m = fm["languages"]["deu_Latn"]["measurements"]["page.prose"]
    # no metadata: histogram and counts, but no threshold and no failing count
    assert (m["docs"], m["thresholds"], m["failing"], m["rule"]) == (2, [], None, None)
    assert m["histogram"]["zero"] == 1 and m["histogram"]["counts"] == [1]
    out = _print(collect(str(tmp_path)))
    assert "Filter measurements" in out  # the language is listed, with nothing failing
    page = render_html(collect(str(tmp_path)))
    assert "Filter measurements" in page and "no threshold recorded" in page and 'class="thr"' not in page
    # metadata that is not what the stage writes: a threshold that is no number counts as off, nothing fails
    _attributes(attrs / "c.parquet", [{"doc_id": "3", "lang": "deu_Latn", "page.prose": 1.0}],
                {"deu_Latn": {"page.prose": {"rule": "page:too_little_prose", "op": "min", "threshold": "20"}}})
    m = filter_measurements(str(tmp_path))["languages"]["deu_Latn"]["measurements"]["page.prose"]  # type: ignore[index]
    assert m["thresholds"] == [{"rule": "page:too_little_prose", "op": "min", "threshold": None, "shards": 1}]
    assert (m["docs"], m["failing"], m["shards_without_threshold"]) == (3, 0, 1)


def test_fsspec_url(tmp_path: Path) -> None:
    import fsspec

    url = "memory://polyglot-report-test/work"
    _attributes(f"{url}/attributes/filter/a.parquet", [{"doc_id": "1", "lang": "kor_Hang", "page.prose": 5.0}],
                {"kor_Hang": {"page.prose": _rule("page:too_little_prose", "min", 20.0)}})
    try:
        m = filter_measurements(url)["languages"]["kor_Hang"]["measurements"]["page.prose"]  # type: ignore[index]
        assert (m["docs"], m["failing"]) == (1, 1)
    finally:
        fsspec.filesystem("memory").rm("/polyglot-report-test", recursive=True)


def test_bins_are_bounded_merged_and_conserve_counts(tmp_path: Path) -> None:
    values = [0.0, 0.5, *(float(10**k) for k in range(7)), 3e9]
    rows = [{"doc_id": str(i), "lang": "eng_Latn", "gopher_quality.words": v} for i, v in enumerate(values)]
    _attributes(tmp_path / "attributes" / "filter" / "s.parquet", rows,
                {"eng_Latn": {"gopher_quality.words": _rule("gopher_quality:too_few_words", "min", 50)}})
    fm = filter_measurements(str(tmp_path))
    assert fm is not None
    m = fm["languages"]["eng_Latn"]["measurements"]["gopher_quality.words"]
    h = m["histogram"]
    assert len(h["counts"]) <= MAX_BINS and len(h["edges"]) == len(h["counts"]) + 1
    assert h["edges"] == sorted(h["edges"]) and h["edges"][0] == 0.0
    assert sum(h["counts"]) + h["zero"] == len(values) and h["zero"] == 1
    assert m["max"] == 3e9  # exact, though the value counts in the last bin
    assert set(h["edges"]) <= set(SCALE_EDGES["count"].tolist())  # merged on the fixed grid
    assert m["failing"] == 4  # 0, 0.5, 1, 10 < 50


def test_selection_cap_and_file_spread(tmp_path: Path) -> None:
    th = {f"custom.rule_{i:02d}": _rule(f"custom:rule_{i:02d}", "max", 1.0) for i in range(20)}
    th["page.prose"] = _rule("page:too_little_prose", "min", 20.0)
    rows = [{"doc_id": "1", "lang": "eng_Latn", **dict.fromkeys(th, 2.0)}]
    _attributes(tmp_path / "attributes" / "filter" / "s.parquet", rows, {"eng_Latn": th})
    removed = {f"custom:rule_{i:02d}": {"eng_Latn": 20 - i} for i in range(20)}
    ms = filter_measurements(str(tmp_path), removed)["languages"]["eng_Latn"]["measurements"]  # type: ignore[index]
    assert len(ms) == MAX_MEASUREMENTS
    # the most removals first, shown in family order (page before custom)
    assert list(ms) == [f"custom.rule_{i:02d}" for i in range(MAX_MEASUREMENTS)]
    assert _spread([str(i) for i in range(10)], 4) == ["0", "2", "5", "7"] and _spread(["a"], 4) == ["a"]


def test_scales() -> None:
    assert [measurement_scale(c) for c in ("page.prose_frac", "fineweb.dup_line_char_frac", "badwords.adult_per_1000",
                                           "gopher_quality.words", "c4.sentences", "page.url_tokens_per_unit")] == [
        "frac", "log", "log", "count", "count", "log"]  # fmt: skip


def _print(rep: dict, width: int = 100) -> str:
    buf = io.StringIO()
    render(rep, Console(file=buf, width=width, color_system=None))
    return buf.getvalue()


def test_text_table(tmp_path: Path) -> None:
    out = _print(collect(str(_work(tmp_path))))
    assert "Filter measurements per language" in out
    assert "page.prose 26.7% (< 20 | 40, median" in out  # both thresholds, shards differ
    assert max(len(line) for line in out.splitlines()) <= 100


def test_threshold_positions() -> None:
    edges = [10.0, 20.0, 40.0]
    assert threshold_x(15, "count", edges, 100, 10, None) == pytest.approx(105)
    assert threshold_x(math.sqrt(20 * 40), "log", edges, 100, 10, None) == pytest.approx(115)
    assert threshold_x(0, "count", edges, 100, 10, 90) == pytest.approx(95)  # between the zero bar and the bins
    assert threshold_x(5, "count", edges, 100, 10, None) == 100 and threshold_x(99, "log", edges, 100, 10, None) == 120


def test_html_section_lines_shading_and_escaping(tmp_path: Path) -> None:
    work = _work(tmp_path)
    hostile = '<script>alert("x")</script>'
    _attributes(work / "attributes" / "filter" / "c.parquet",
                [{"doc_id": "c/1", "lang": hostile, "page.prose": 1.0}],
                {hostile: {"page.prose": _rule("page:<b>rule</b>", "min", 20.0)}})  # fmt: skip
    rep = collect(str(work))
    page = render_html(rep)
    section = page[page.index("<h2>Filter measurements</h2>"):]
    assert "<script" not in page and "<b>rule" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in section and "page:&lt;b&gt;rule&lt;/b&gt;" in section
    # one histogram per measurement shown; one threshold line each, two where the shards differ (one dashed)
    shown = sum(len(r["measurements"]) for r in rep["filter_measurements"]["languages"].values())
    assert section.count('<svg class="hist"') == shown
    with_threshold = sum(1 for r in rep["filter_measurements"]["languages"].values()
                         for m in r["measurements"].values() for t in m["thresholds"] if t["threshold"] is not None)
    assert section.count('class="thr"') == with_threshold and section.count("stroke-dasharray") == 1
    assert section.count(f'fill="{FAIL_SHADE}"') >= 1
    assert section.index("kor_Hang") < section.index("eng_Latn")  # most documents first
    assert "4 fail (26.7%)" in section and "shards differ: 20 (1 shard), 40 (1 shard)" in section
    tags = {t for t, _ in _tags(page)}
    assert tags <= {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "div", "span",
                    "b", "i", "table", "caption", "thead", "tbody", "tr", "th", "td", "svg", "text", "rect", "line",
                    "pre", "details", "summary"}  # fmt: skip


def test_histogram_svg_shades_the_failing_side() -> None:
    def m(op: str, threshold: float) -> dict[str, Any]:
        return {"rule": "r", "op": op, "thresholds": [{"rule": "r", "op": op, "threshold": threshold, "shards": 1}],
                "histogram": {"scale": "frac", "edges": [0.0, 0.5, 1.0], "counts": [3, 4]}}  # fmt: skip

    svg = histogram_svg(m("max", 0.5), width=100, height=60)
    # plot from x=4 to 96, two 46-wide bins: the threshold at 50, shaded to the right; the second bar fails
    assert f'<rect x="50.0" y="16" width="46.0" height="28" fill="{FAIL_SHADE}"/>' in svg
    assert 'x1="50.0"' in svg and svg.count('fill="#c0392b"') == 0  # [0.5, 1) holds 0.5, which passes
    svg = histogram_svg(m("min", 0.5), width=100, height=60)
    assert f'<rect x="4.0" y="16" width="46.0" height="28" fill="{FAIL_SHADE}"/>' in svg
    assert svg.count('fill="#c0392b"') == 1  # [0, 0.5) fails "min 0.5" entirely
