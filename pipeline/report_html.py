"""`polyglot stats --html FILE`: the stats report as one self-contained HTML page, with plots and sample documents.

Self-contained means one file that opens anywhere, offline, forever: inline CSS and inline SVG drawn here (no JS, no
chart library, no fonts or images fetched, no matplotlib dependency), and no link or `src` pointing outside the page.
Every string that comes from the data — page text, URLs, language codes, reasons, warnings, the work dir — goes
through `html.escape` (quotes included), so a crawled page containing markup shows as text and cannot run.

Plots: tokens per language before balancing (available) and after (chosen, with repeats), share per family before
and after, the stage funnel (documents out of every stage), and the shared tokenizer's characters per token on
parallel text per language (balanced vs unbalanced training sample); per language, small histograms of the
filter's main measurements with the threshold in force drawn as a vertical line and the failing side shaded
(languages after the first `FILTER_OPEN_LANGS` folded in ``<details>``, which needs no script).

Samples: up to `SAMPLES_PER_LANG` documents per language from the last stage whose output exists (the training
shards' ``text`` column, else balance / dedup / filter / langid Parquet), chosen by the smallest xxh3-64 of the
document id — the same documents on every run, independent of file order within the files read — and cut to
`SAMPLE_CHARS` characters. Files are read in name order until every language has its samples or `SAMPLE_MAX_FILES`
files were read (a language with few documents may get fewer); this is the one part of the report that reads data,
so it only runs for ``--html``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from pipeline.report import (
    TOKEN_GROUPS,
    abbreviate,
    size_caption,
    split_counters,
    step_value_text,
)
from pipeline.storage import atomic_write_bytes, fs_and_path, is_local, join, list_files

SAMPLES_PER_LANG = 3
SAMPLE_CHARS = 600
SAMPLE_MAX_FILES = 16
#: Where samples come from, most processed first (the first one with files wins).
SAMPLE_STAGES = ("shards", "balance", "dedup", "filter", "langid")

BEFORE_COLOR = "#9aa7b8"
AFTER_COLOR = "#2563c9"
BALANCED_COLOR = "#1b8a7a"
UNBALANCED_COLOR = "#d9822b"
FUNNEL_COLOR = "#5b6fa8"
FAIL_COLOR = "#c0392b"
FAIL_SHADE = "#fbe4e1"
#: Languages whose filter measurements are shown open (the rest are folded, largest first).
FILTER_OPEN_LANGS = 8


def esc(value: Any) -> str:
    """Text for HTML (element content and quoted attributes alike)."""
    return html.escape("" if value is None else str(value), quote=True)


# ------------------------------------------------------------------------------------------------------- samples


def _batches(url: str, stage: str) -> Iterator[pa.RecordBatch]:
    """Record batches of one output file with the columns a sample needs (shards: memory-mapped when local)."""
    fs, path = fs_and_path(url)
    if stage == "shards":
        source = pa.memory_map(path, "r") if is_local(url) else fs.open(path, "rb")
        yield from pa.ipc.open_stream(source)
        return
    with fs.open(path, "rb") as f:
        pf = pq.ParquetFile(f)
        cols = [c for c in ("doc_id", "lang", "url", "text", "family") if c in pf.schema_arrow.names]
        for i in range(pf.num_row_groups):
            yield from pf.read_row_group(i, columns=cols).to_batches()


def _has_text(url: str, stage: str) -> bool:
    """Whether a stage's output file has a ``text`` column (shards written with ``write_text: false`` do not)."""
    fs, path = fs_and_path(url)
    if stage == "shards":
        with fs.open(path, "rb") as f:
            return "text" in pa.ipc.open_stream(f).schema.names
    with fs.open(path, "rb") as f:
        return "text" in pq.ParquetFile(f).schema_arrow.names


def _sample_source(work_dir: str) -> tuple[str, list[str]] | None:
    """The most processed stage whose output files exist and carry text, with its files in name order."""
    for stage in SAMPLE_STAGES:
        files = list_files(join(work_dir, stage), ".arrow" if stage == "shards" else ".parquet")
        if files and _has_text(files[0], stage):
            return stage, files
    return None


def sample_documents(
    work_dir: str,
    languages: list[str] | None = None,
    per_lang: int = SAMPLES_PER_LANG,
    max_chars: int = SAMPLE_CHARS,
    max_files: int = SAMPLE_MAX_FILES,
) -> tuple[str | None, dict[str, list[dict[str, Any]]]]:
    """(stage read, {lang: up to `per_lang` samples}) — each sample: doc_id, url, family, chars (full length) and
    text (first `max_chars` characters). Deterministic: smallest xxh3-64 of doc_id per language."""
    found = _sample_source(work_dir)
    if found is None:
        return None, {}
    stage, files = found
    best: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    wanted = set(languages or [])
    for url in files[:max_files]:
        for batch in _batches(url, stage):
            names = batch.schema.names
            doc_ids = batch.column("doc_id").to_pylist()
            langs = batch.column("lang").to_pylist()
            repeats = batch.column("repeat").to_pylist() if "repeat" in names else None
            for i, (doc_id, lang) in enumerate(zip(doc_ids, langs)):
                if repeats is not None and repeats[i]:
                    continue  # a copy of a document already seen as repeat 0
                key = xxhash.xxh3_64_intdigest(str(doc_id).encode("utf-8"))
                heap = best.setdefault(lang or "und", [])
                if (len(heap) >= per_lang and key >= heap[-1][0]) or any(s["doc_id"] == doc_id for _, s in heap):
                    continue
                text = batch.column("text")[i].as_py() or ""  # only candidates' text becomes a Python string
                heap.append((key, {
                    "doc_id": doc_id,
                    "url": batch.column("url")[i].as_py() if "url" in names else None,
                    "family": batch.column("family")[i].as_py() if "family" in names else None,
                    "chars": len(text),
                    "text": text[:max_chars],
                }))  # fmt: skip
                heap.sort(key=lambda kv: kv[0])
                del heap[per_lang:]
        if wanted and all(len(best.get(lang, [])) >= per_lang for lang in wanted):
            break
    return stage, {lang: [s for _, s in best[lang]] for lang in sorted(best)}


# ------------------------------------------------------------------------------------------------------ SVG plots


def axis_ticks(value: float, max_steps: int = 5) -> list[float]:
    """Round ticks from 0 to at least `value`: the smallest step of 1, 2, 2.5 or 5 × 10^k that needs at most
    `max_steps` steps (so the axis ends close above the largest bar)."""
    if value <= 0:
        return [0.0, 1.0]
    exp = 10 ** math.floor(math.log10(value / max_steps))
    step = next(m * exp for m in (1, 2, 2.5, 5, 10, 20) if math.ceil(value / (m * exp) - 1e-9) <= max_steps)
    n = math.ceil(value / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def bar_chart(
    title: str,
    categories: list[str],
    series: list[tuple[str, str, list[float | None]]],
    fmt: Any = abbreviate,
    width: int = 980,
) -> str:
    """A horizontal grouped bar chart as inline SVG: one group per category, one bar per series (name, colour,
    values; None draws no bar). `fmt` formats the value labels and axis ticks."""
    label_w, value_w, bar_h, gap = 118, 64, 13, 9
    plot_w = width - label_w - value_w
    n = len(series)
    group_h = n * bar_h + gap
    top = 46
    height = top + group_h * len(categories) + 24
    ticks = axis_ticks(max([v for _, _, vals in series for v in vals if v is not None] or [0]))
    vmax = ticks[-1]
    out = [
        f'<svg class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
        f'<text x="0" y="16" class="ct">{esc(title)}</text>',
    ]
    x = label_w
    for name, color, _ in series:  # legend
        out.append(f'<rect x="{x}" y="26" width="11" height="11" fill="{color}"/>')
        out.append(f'<text x="{x + 15}" y="35" class="cl">{esc(name)}</text>')
        x += 24 + 7 * len(name)
    for tick in ticks:  # grid and tick labels
        gx = label_w + plot_w * tick / vmax
        out.append(f'<line x1="{gx:.1f}" y1="{top - 4}" x2="{gx:.1f}" y2="{height - 20}" class="grid"/>')
        out.append(f'<text x="{gx:.1f}" y="{height - 6}" class="tick" text-anchor="middle">{esc(fmt(tick))}</text>')
    for i, cat in enumerate(categories):
        y0 = top + i * group_h
        ty = y0 + n * bar_h / 2 + 4
        out.append(f'<text x="{label_w - 6}" y="{ty:.1f}" class="cat" text-anchor="end">{esc(cat)}</text>')
        for j, (name, color, vals) in enumerate(series):
            v = vals[i]
            if v is None:
                continue
            w = max(plot_w * v / vmax, 0.0)
            y = y0 + j * bar_h
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{color}">'
                       f'<title>{esc(cat)} — {esc(name)}: {esc(fmt(v))}</title></rect>')  # fmt: skip
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" class="val">{esc(fmt(v))}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _pct_fmt(v: float) -> str:
    return f"{v:.1f}%"


def _ratio_fmt(v: float) -> str:
    return f"{v:.2f}"


def _tick(x: float) -> str:
    """A short axis label: 0.025, 31.5, 1.2k."""
    if abs(x) >= 1000:
        return abbreviate(x) if abs(x) >= 100_000 else f"{x / 1000:.3g}k"
    return f"{x:.3g}"


def threshold_x(t: float, scale: str, edges: list[float], x0: float, bw: float, zero_x: float | None) -> float:
    """Where a threshold falls on a histogram drawn with equal-width bins from `x0` (bin width `bw`; the separate
    zero bar ends at `zero_x`): inside its bin linearly, or geometrically on the log scale."""
    n = len(edges) - 1
    if scale != "frac" and t <= 0:
        return (zero_x + x0) / 2 if zero_x is not None else x0
    if n <= 0 or t <= edges[0]:
        return x0
    if t >= edges[-1]:
        return x0 + n * bw
    i = max(j for j in range(n) if edges[j] <= t)
    a, b = edges[i], edges[i + 1]
    f = math.log(t / a) / math.log(b / a) if scale == "log" else (t - a) / (b - a)
    return x0 + (i + f) * bw


def histogram_svg(m: dict[str, Any], width: int = 240, height: int = 100) -> str:
    """One measurement's histogram as a small inline SVG: equal-width bars over its bins (a separate bar for values
    <= 0 on the count and log scales), the threshold(s) in force as vertical lines and the failing side shaded."""
    h = m["histogram"]
    edges, counts = h["edges"], h["counts"]
    zero = h.get("zero")
    thresholds = list(dict.fromkeys(t["threshold"] for t in m["thresholds"] if t["threshold"] is not None))
    op = m.get("op")
    top, bottom, pad = 16, 16, 4
    plot_h = height - top - bottom
    base_y = top + plot_h
    show_zero = zero is not None and (zero > 0 or any(t <= 0 for t in thresholds) or not counts)
    label = esc(m.get("rule") or "")
    out = [f'<svg class="hist" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{label}">']  # fmt: skip
    if not counts and not (show_zero and zero):
        out.append(f'<text x="{width / 2}" y="{top + plot_h / 2}" class="tick" text-anchor="middle">no values</text>')
        out.append("</svg>")
        return "".join(out)
    n = len(counts)
    zero_w = 0.0
    gap = 4.0
    x_left = float(pad)
    plot_w = width - 2 * pad
    if show_zero:
        zero_w = min(plot_w / (n + 1), 18.0) if n else plot_w
        bw = (plot_w - zero_w - gap) / n if n else 0.0
        x0 = x_left + zero_w + gap
        zero_x: float | None = x_left + zero_w
    else:
        bw = plot_w / n
        x0 = x_left
        zero_x = None
    vmax = max([*counts, zero or 0, 1])
    main_t = thresholds[0] if thresholds else None
    tx = {t: threshold_x(t, h["scale"], edges, x0, bw, zero_x) for t in thresholds}
    if main_t is not None and op in ("max", "min"):  # the failing side, behind the bars
        a, b = (tx[main_t], width - pad) if op == "max" else (x_left, tx[main_t])
        if b > a and not (op == "min" and h["scale"] != "frac" and main_t <= 0):
            out.append(f'<rect x="{a:.1f}" y="{top}" width="{b - a:.1f}" height="{plot_h}" fill="{FAIL_SHADE}"/>')

    def fails_all(lo: float, hi: float) -> bool:
        """Whether every value in [lo, hi) fails the main threshold."""
        if main_t is None or op not in ("max", "min"):
            return False
        return lo > main_t if op == "max" else hi <= main_t

    def bar(x: float, w: float, count: int, failing: bool, text: str) -> None:
        bh = plot_h * count / vmax
        out.append(f'<rect x="{x:.1f}" y="{base_y - bh:.1f}" width="{max(w - 1, 0.8):.1f}" height="{bh:.1f}" '
                   f'fill="{FAIL_COLOR if failing else FUNNEL_COLOR}"><title>{esc(text)}: {count:,}</title></rect>')

    if show_zero:
        zero_fails = main_t is not None and ((op == "max" and main_t < 0) or (op == "min" and main_t > 0))
        bar(x_left, zero_w, zero or 0, zero_fails, "0 (or less)")
        out.append(f'<text x="{x_left + zero_w / 2:.1f}" y="{height - 4}" class="tick" text-anchor="middle">0</text>')
    for i, c in enumerate(counts):
        lo, hi = edges[i], edges[i + 1]
        bar(x0 + i * bw, bw, c, fails_all(lo, hi), f"{_tick(lo)} – {_tick(hi)}")
    out.append(f'<line x1="{x_left}" y1="{base_y + 0.5}" x2="{width - pad}" y2="{base_y + 0.5}" class="axis"/>')
    if n:
        out.append(f'<text x="{x0:.1f}" y="{height - 4}" class="tick">{esc(_tick(edges[0]))}</text>')
        out.append(f'<text x="{x0 + n * bw:.1f}" y="{height - 4}" class="tick" text-anchor="end">'
                   f'{esc(_tick(edges[-1]))}</text>')  # fmt: skip
    for j, t in enumerate(thresholds):
        x = tx[t]
        dash = "" if t == main_t else ' stroke-dasharray="3 2"'
        out.append(f'<line x1="{x:.1f}" y1="{top - 2}" x2="{x:.1f}" y2="{base_y}" class="thr"{dash}>'
                   f'<title>threshold {esc(_tick(t))}</title></line>')  # fmt: skip
        if j == 0:
            anchor, dx = ("end", -3) if x > width / 2 else ("start", 3)
            word = op if op in ("max", "min") else "threshold"
            out.append(f'<text x="{x + dx:.1f}" y="{top - 5}" class="thl" text-anchor="{anchor}">'
                       f'{esc(word)} {esc(_tick(t))}</text>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


# ------------------------------------------------------------------------------------------------------- tables


def _table(headers: list[str], rows: list[list[Any]], align: str = "", caption: str = "") -> str:
    """An HTML table, cells escaped. `align` has one letter per column: ``l`` text kept on one line (codes), ``r``
    right-aligned number, ``w`` text that may wrap; default ``l`` then ``r`` for the rest."""
    align = (align or "l").ljust(len(headers), "r")
    cls = {"l": "c", "r": "n", "w": "w"}
    head = "".join(f'<th class="{cls[a]}">{esc(h)}</th>' for h, a in zip(headers, align))
    body = "".join(
        "<tr>" + "".join(f'<td class="{cls[a]}">{esc(c)}</td>' for c, a in zip(row, align)) + "</tr>" for row in rows
    )
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def _num(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _size_row(row: dict[str, Any]) -> list[Any]:
    return [abbreviate(row["docs_before"]), abbreviate(row["chars_before"]), abbreviate(row["bytes_before"]),
            abbreviate(row["tokens_available"]), _num(row.get("chars_per_token")), _share(row["share_before"]),
            abbreviate(row["tokens_chosen"]), _num(row["repeats"]), _share(row["share_after"])]  # fmt: skip


SIZE_HEADERS = ["docs", "chars", "bytes", "tokens", "chars/token", "share before", "tokens chosen", "repeats",
                "share after"]  # fmt: skip


# -------------------------------------------------------------------------------------------------------- page

CSS = """
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK KR",sans-serif;color:#1d2330;
margin:0;background:#f4f5f8}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 8px;border-bottom:1px solid #dde1ea;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.sub{color:#5a6478;margin:0 0 16px;word-break:break-all}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}caption{text-align:left;color:#5a6478;
caption-side:bottom;padding-top:4px;max-width:1000px}
th,td{padding:3px 10px;border-bottom:1px solid #e6e9f0;text-align:left;vertical-align:top}
th{background:#f0f2f7;font-weight:600}th.n{text-align:right}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.scroll{overflow-x:auto}
td.c{white-space:nowrap}td.w{min-width:260px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}.card{border:1px solid #dde1ea;border-radius:6px;
padding:8px 14px;min-width:150px}.card b{display:block;font-size:19px}.card span{color:#5a6478;font-size:12px}
.warn{background:#fff6e0;border-left:4px solid #e0a100;padding:6px 10px;margin:6px 0}
.note{background:#f1f4fa;border-left:4px solid #8a9bc4;padding:6px 10px;margin:6px 0}
.chart{display:block;margin:10px 0 18px;max-width:100%;height:auto}
.chart .ct{font-weight:600;font-size:14px;fill:#1d2330}.chart .cl,.chart .tick{font-size:11px;fill:#5a6478}
.chart .cat{font-size:12px;fill:#1d2330}.chart .val{font-size:10.5px;fill:#38415a}.chart .grid{stroke:#e6e9f0}
.samples{display:grid;grid-template-columns:1fr;gap:10px}
.doc{border:1px solid #dde1ea;border-radius:6px;padding:8px 12px}.doc .meta{color:#5a6478;font-size:12px;
word-break:break-all;margin-bottom:4px}.doc pre{white-space:pre-wrap;word-break:break-word;margin:0;
font:13px/1.5 inherit;font-family:inherit}
.muted{color:#5a6478}
.fm{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:12px 16px;margin:8px 0 16px}
.fmc{min-width:0}.fmc .hd{font-size:12px;font-weight:600;word-break:break-all}.fmc .rl{font-size:11.5px;color:#5a6478;
word-break:break-all}.fmc .cap{font-size:11.5px;color:#38415a}.fmc .cap .bad{color:#b42318;font-weight:600}
.hist{display:block;margin:2px 0;width:100%;height:auto}.hist .tick{font-size:10px;fill:#5a6478}
.hist .axis{stroke:#9aa3b5}.hist .thr{stroke:#b42318;stroke-width:1.5}
.hist .thl{font-size:10px;fill:#b42318;font-weight:600}
details.lang{margin:4px 0 10px}details.lang>summary{cursor:pointer;font-size:15px;font-weight:600;margin:14px 0 6px}
"""


def _cards(report: dict[str, Any]) -> str:
    cards: list[tuple[str, str]] = []
    funnel = report["funnel"]
    if funnel:
        first, last_doc = funnel[0], [f for f in funnel if f["stage"] not in ("balance", "shards")]
        cards.append((abbreviate(first["docs_in"]), f"{first['stage']} input records"))
        if last_doc:
            cards.append((abbreviate(last_doc[-1]["docs_out"]), f"documents after {last_doc[-1]['stage']}"))
    langs = report["languages"]
    if langs:
        cards.append((str(len(langs)), f"languages in {len(report['families'])} families"))
    avail = sum(r["tokens_available"] or 0 for r in langs.values())
    chosen = sum(r["tokens_chosen"] or 0 for r in langs.values())
    if avail:
        cards.append((abbreviate(avail), "tokens available (exact)"))
    if chosen:
        cards.append((abbreviate(chosen), "tokens after balancing"))
    s = report.get("shards")
    if s:
        cards.append((str(s["num_shards"]), f"training shards, {abbreviate(s['rows'])} rows"))
    return '<div class="cards">' + "".join(f'<div class="card"><b>{esc(v)}</b><span>{esc(k)}</span></div>'
                                           for v, k in cards) + "</div>"  # fmt: skip


def _funnel_section(report: dict[str, Any]) -> str:
    funnel = report["funnel"]
    if not funnel:
        return ""
    cats = [f"{funnel[0]['stage']} (input)"]
    cats += [f["stage"] + (" (rows)" if f["stage"] == "shards" else "") for f in funnel]
    vals: list[float | None] = [float(funnel[0]["docs_in"])] + [float(f["docs_out"]) for f in funnel]
    chart = bar_chart("Documents out of every stage", cats, [("documents", FUNNEL_COLOR, vals)])
    rows = []
    for f in funnel:
        kept = f"{100 * f['docs_out'] / f['docs_in']:.1f}%" if f["docs_in"] else "-"
        reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(f["removed"].items(), key=lambda kv: (-kv[1], kv[0])))
        rows.append([f["stage"], f["shards"], abbreviate(f["docs_in"]), abbreviate(f["docs_out"]), kept,
                     abbreviate(f["chars_out"]), abbreviate(f["bytes_out"]), abbreviate(f["tokens_out"]),
                     abbreviate(sum(f["removed"].values())), reasons or "-"])  # fmt: skip
    table = _table(["stage", "shards", "docs in", "docs out", "kept", "chars out", "bytes out", "tokens", "removed",
                    "removed by reason"], rows, align="lrrrrrrrrw")  # fmt: skip
    return f"<h2>Stage funnel</h2>{chart}{table}"


def _languages_section(report: dict[str, Any]) -> str:
    langs = report["languages"]
    if not langs:
        return ""
    parts = ["<h2>Languages</h2>"]
    order = sorted(langs, key=lambda x: (-(langs[x]["tokens_available"] or langs[x]["chars_before"] or 0), x))
    if any(langs[lang]["tokens_available"] for lang in order):
        series: list[tuple[str, str, list[float | None]]] = [
            ("before balancing (available)", BEFORE_COLOR, [langs[lang]["tokens_available"] for lang in order])
        ]
        if report["share_basis"]["after"]:
            series.append(("after balancing (chosen, with repeats)", AFTER_COLOR,
                           [langs[lang]["tokens_chosen"] for lang in order]))  # fmt: skip
        parts.append(bar_chart("Tokens per language", order, series))
    else:
        parts.append(bar_chart("Characters per language (no token counts yet: balance has not run)", order,
                               [(f"after {report['last_doc_stage']}", BEFORE_COLOR,
                                 [langs[lang]["chars_before"] for lang in order])]))  # fmt: skip
    caption = size_caption(report)
    rows = [[lang, (langs[lang]["family"] or "-") + (" (excluded)" if langs[lang]["excluded"] else ""),
             *_size_row(langs[lang])] for lang in order]  # fmt: skip
    parts.append(_table(["lang", "family", *SIZE_HEADERS], rows, align="ll", caption=caption))
    stages = report["doc_stages"]
    if stages:
        rows = [[lang, langs[lang]["family"] or "-", *(abbreviate(langs[lang]["docs"].get(s, 0)) for s in stages)]
                for lang in order]  # fmt: skip
        parts.append("<h3>Documents per language after each stage</h3>")
        cap = "shards: rows, one per repeat of a document" if "shards" in stages else ""
        parts.append(_table(["lang", "family", *stages], rows, align="ll", caption=cap))
    return "".join(parts)


def _families_section(report: dict[str, Any]) -> str:
    fams = report["families"]
    if not fams:
        return ""
    names = list(fams)
    series: list[tuple[str, str, list[float | None]]] = [
        (f"before balancing ({report['share_basis']['before'] or '-'})", BEFORE_COLOR,
         [fams[f]["share_before"] for f in names]),
    ]  # fmt: skip
    if report["share_basis"]["after"]:
        series.append(("after balancing (tokens)", AFTER_COLOR, [fams[f]["share_after"] for f in names]))
    chart = bar_chart("Share per family", names, series, fmt=_pct_fmt)
    rows = [[f, len(fams[f]["languages"]), *_size_row(fams[f])] for f in names]
    return f"<h2>Families</h2>{chart}" + _table(["family", "langs", *SIZE_HEADERS], rows)


def _removals_section(report: dict[str, Any]) -> str:
    rows = []
    for stage, st in report["stages"].items():
        for reason, per in sorted(st["removed"].items(), key=lambda kv: -sum(kv[1].values())):
            langs = ", ".join(f"{lang} {n:,}" for lang, n in sorted(per.items(), key=lambda kv: (-kv[1], kv[0])))
            rows.append([stage, reason, f"{sum(per.values()):,}", langs])
    if not rows:
        return ""
    table = _table(["stage", "reason", "total", "by language"], rows, align="llrw")
    return f"<h2>Removed documents by stage, reason and language</h2>{table}"


def _threshold_text(m: dict[str, Any]) -> str:
    """Which rule the measurement feeds and what fails it ("fails below 20.4"; every value when shards differ)."""
    ths = m["thresholds"]
    if not ths or m.get("op") not in ("max", "min"):
        return "no threshold recorded"
    side = "above" if m["op"] == "max" else "below"
    values = [t["threshold"] for t in ths]
    if len(ths) == 1:
        return f"{m['rule']}: off" if values[0] is None else f"{m['rule']}: fails {side} {_tick(values[0])}"
    each = ", ".join(f"{'off' if t['threshold'] is None else _tick(t['threshold'])} ({t['shards']} shard"
                     f"{'' if t['shards'] == 1 else 's'})" for t in ths)  # fmt: skip
    return f"{m['rule']}: fails {side}; shards differ: {each}"


def _filter_section(report: dict[str, Any]) -> str:
    fm = report.get("filter_measurements")
    if not fm or not fm["languages"]:
        return ""
    parts = [
        "<h2>Filter measurements</h2>",
        f'<p class="muted">What the filter measured per language ({esc(fm["source"])}: '
        f'{esc(fm["files_read"])} of {esc(fm["files"])} files read), on fixed bins: fractions in steps of 0.025, '
        "counts and rates on a log scale with a separate bar for 0. The red line is the threshold in force; the shaded "
        "side fails it (bars wholly on that side in red). <i>fail</i> counts every document beyond the threshold; "
        "<i>removed</i> those this rule removed — the filter stops at the first failing rule, in the order "
        "badwords, page, Gopher repetition, Gopher quality, C4, FineWeb. Documents removed by their URL are not "
        "measured.</p>",
    ]
    parts += [f'<div class="warn">unreadable: {esc(u)}</div>' for u in fm.get("unreadable", [])]
    langs = report.get("languages", {})
    for i, (lang, row) in enumerate(fm["languages"].items()):
        fam = langs.get(lang, {}).get("family")
        head = (f"{esc(lang)} <span class=\"muted\">{esc(fam + ' · ' if fam else '')}{esc(format(row['docs'], ','))} "
                f"documents, {esc(format(row['removed'], ','))} removed by the filter</span>")  # fmt: skip
        cells = []
        for col, m in row["measurements"].items():
            cap = [f"{m['docs']:,} docs"]
            if m["failing"] is not None:
                cls = ' class="bad"' if m["failing"] else ""
                cap.append(f"<span{cls}>{m['failing']:,} fail ({esc(_share(m['failing_pct']))})</span>")
                cap.append(f"{m['removed']:,} removed")
            if m["median"] is not None:
                cap.append(f"median {esc(_tick(m['median']))}")
            cells.append(f'<div class="fmc"><div class="hd">{esc(col)}</div><div class="rl">{esc(_threshold_text(m))}'
                         f"</div>{histogram_svg(m)}<div class=\"cap\">{' · '.join(cap)}</div></div>")  # fmt: skip
        body = f'<div class="fm">{"".join(cells)}</div>' if cells else '<p class="muted">no measurements</p>'
        is_open = " open" if i < FILTER_OPEN_LANGS else ""
        parts.append(f'<details class="lang"{is_open}><summary>{head}</summary>{body}</details>')
    return "".join(parts)


def _counters_section(report: dict[str, Any]) -> str:
    parts = []
    for name, st in report["stages"].items():
        flat, grouped = split_counters(st["counters"])
        for group, table in grouped.items():
            if (name, group) in TOKEN_GROUPS:
                continue
            kinds = sorted({k for per in table.values() for k in per})
            rows = [[lang, *(f"{per.get(k, 0):,}" for k in kinds)] for lang, per in sorted(table.items())]
            parts.append(f"<h3>{esc(name)}: {esc(group.replace('_', ' '))} per language</h3>")
            parts.append(_table(["lang", *kinds], rows))
        if flat:
            parts.append(f'<p><b>{esc(name)}</b>: {esc(", ".join(f"{k} {v:,}" for k, v in flat.items()))}</p>')
    for stage, steps in report["steps"].items():
        for step, summary in steps.items():
            items = [f"{k} {step_value_text(v)}" for k, v in summary.items() if step_value_text(v)]
            if items:
                parts.append(f'<p class="muted"><b>{esc(stage)} {esc(step)}</b>: {esc(", ".join(items))}</p>')
    return "<h2>Counters and corpus-wide steps</h2>" + "".join(parts) if parts else ""


def _tokenizer_section(report: dict[str, Any]) -> str:
    tok = report.get("tokenizer")
    if not tok:
        return ""
    parts = ["<h2>Shared tokenizer</h2>"]
    if tok.get("vocab_size"):
        parts.append(f'<p class="muted">{esc(tok.get("model_type"))}, '
                     f'vocabulary {esc(format(tok["vocab_size"], ","))}, '
                     f'training sample {esc(abbreviate(tok.get("sample_chars")))} characters at alpha '
                     f'{esc(tok.get("sampling_alpha"))}; parity on {esc(tok.get("parity_source"))} '
                     f'({esc(tok.get("parity_sentences"))} sentences per language).</p>')  # fmt: skip
    names = list(tok["ratio"])
    rows = {lang: r for lang, r in tok["by_lang"].items() if r.get("chars_per_token")}
    if rows:
        colors = {"balanced": BALANCED_COLOR, "unbalanced": UNBALANCED_COLOR}
        series = [(f"{n} tokenizer", colors.get(n, AFTER_COLOR),
                   [rows[lang]["chars_per_token"].get(n) for lang in rows]) for n in names]  # fmt: skip
        parts.append(bar_chart("Characters per token on parallel text (higher = cheaper)", list(rows), series,
                               fmt=_ratio_fmt))  # fmt: skip
        table_rows = [[lang, r.get("family") or "-", *(_num(r["chars_per_token"].get(n)) for n in names),
                       *(_num(r["tokens_per_sentence"].get(n), 1) for n in names),
                       abbreviate(r["sample_chars"].get("balanced")), abbreviate(r["sample_chars"].get("unbalanced"))]
                      for lang, r in rows.items()]  # fmt: skip
        parts.append(_table(["lang", "family", *(f"chars/token {n}" for n in names),
                             *(f"tokens/sentence {n}" for n in names), "sample chars", "unbalanced sample chars"],
                            table_rows, align="ll"))  # fmt: skip
    ratios = ", ".join(f"{n} {_num(v, 3)}" for n, v in tok["ratio"].items())
    line = f"Parity ratio (max/min tokens per sentence): {ratios or '-'}."
    target = tok.get("target")
    if target:
        line += (f" Target (at most {target.get('max_ratio')}, below the unbalanced tokenizer): "
                 f"{'met' if target.get('met') else 'not met'}.")  # fmt: skip
    idp = tok.get("id_parity") or {}
    if idp.get("identical") is not None:
        line += (f" tokenizer.json gives SentencePiece's ids: {'yes' if idp['identical'] else 'NO'} "
                 f"({idp.get('documents') or 0:,} documents).")  # fmt: skip
    parts.append(f"<p>{esc(line)}</p>")
    return "".join(parts)


def _balance_section(report: dict[str, Any]) -> str:
    b = report.get("balance")
    s = report.get("shards")
    parts = []
    if b:
        parts.append("<h2>Balancing plan</h2>")
        req = b.get("requested_total")
        parts.append(f"<p>{esc(abbreviate(b.get('available_total')))} tokens available → target "
                     f"{esc(abbreviate(b.get('target_total')))}, achieved {esc(abbreviate(b.get('achieved_total')))} "
                     f"(requested total: {esc(abbreviate(req) if req else 'none, data-limited')}).</p>")  # fmt: skip
        if b["families"]:
            rows = [[f, fp.get("strategy") or "-", _num(fp.get("alpha")), _num(fp.get("max_repeats"), 1),
                     _share(100 * fp["share"] if fp.get("share") is not None else None),
                     abbreviate(fp.get("available")),
                     abbreviate(fp.get("target")), abbreviate(fp.get("achieved")), ", ".join(fp.get("languages", []))]
                    for f, fp in b["families"].items()]  # fmt: skip
            parts.append(_table(["family", "strategy", "alpha", "max repeats", "share asked", "available", "target",
                                 "achieved", "languages"], rows, align="llrrrrrrw"))  # fmt: skip
        parts += [f'<div class="warn">warning: {esc(w)}</div>' for w in b["warnings"]]
        parts += [f'<div class="note">note: {esc(n)}</div>' for n in b["notes"]]
        if b["excluded"]:
            parts.append(f'<div class="note">left out of the plan: {esc(", ".join(sorted(b["excluded"])))}</div>')
    if s:
        parts.append("<h2>Training shards</h2>")
        size = f", {abbreviate(s['bytes'])} bytes" if s.get("bytes") else ""
        vocab = f"; vocabulary {s['vocab_size']:,} ({s['ids_dtype']})" if s.get("vocab_size") else ""
        parts.append(f"<p>{esc(s['num_shards'])} files, {esc(abbreviate(s['rows']))} rows, "
                     f"{esc(abbreviate(s['tokens']))} tokens{esc(size)}{esc(vocab)}.</p>")  # fmt: skip
        if s["files"]:
            rows = [[f["name"], abbreviate(f["rows"]), abbreviate(f["tokens"]), abbreviate(f["bytes"])]
                    for f in s["files"][:50]]  # fmt: skip
            cap = f"first 50 of {len(s['files'])} files" if len(s["files"]) > 50 else ""
            parts.append(_table(["file", "rows", "tokens", "bytes"], rows, caption=cap))
    return "".join(parts)


def _samples_section(stage: str | None, samples: dict[str, list[dict[str, Any]]], report: dict[str, Any]) -> str:
    if not samples:
        return ""
    parts = [f"<h2>Sample documents</h2><p class=\"muted\">Up to {SAMPLES_PER_LANG} per language from the "
             f"{esc(stage)} output (smallest xxh3 of the document id; first {SAMPLE_CHARS} "
             "characters).</p>"]  # fmt: skip
    for lang, docs in samples.items():
        fam = report["languages"].get(lang, {}).get("family") or (docs[0].get("family") if docs else None)
        parts.append(f"<h3>{esc(lang)} <span class=\"muted\">{esc(fam or '')}</span></h3><div class=\"samples\">")
        for d in docs:
            cut = " …" if d["chars"] > len(d["text"]) else ""
            parts.append(
                f'<div class="doc"><div class="meta" dir="auto">{esc(d["doc_id"])} · {esc(d.get("url") or "")} · '
                f'{esc(format(d["chars"], ","))} characters</div><pre dir="auto">{esc(d["text"])}{cut}</pre></div>'
            )
        parts.append("</div>")
    return "".join(parts)


def render_html(report: dict[str, Any], samples: dict[str, list[dict[str, Any]]] | None = None,
                sample_stage: str | None = None) -> str:  # fmt: skip
    """The whole page as a string (no I/O)."""
    body = [f"<h1>polyglot stats</h1><p class=\"sub\">{esc(report['work_dir'])}</p>"]
    if not any(report.get(k) for k in ("stages", "tokenizer", "balance", "shards", "filter_measurements")):
        body.append(f"<p>No completed shards below {esc(report['work_dir'])} (nothing has run yet?).</p>")
    else:
        body += [
            _cards(report),
            _funnel_section(report),
            _languages_section(report),
            _families_section(report),
            _tokenizer_section(report),
            _balance_section(report),
            _removals_section(report),
            _filter_section(report),
            _counters_section(report),
            _samples_section(sample_stage, samples or {}, report),
        ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>polyglot stats — {esc(report['work_dir'])}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def write_html(work_dir: str, report: dict[str, Any], path: str | Path) -> None:
    """Write the report (from `pipeline.report.collect`) with sample documents from `work_dir` to `path` (a local
    path or any fsspec URL), as one self-contained HTML file (written atomically; parent directories are made)."""
    stage, samples = sample_documents(work_dir, languages=list(report.get("languages", {})))
    page = render_html(report, samples, stage)
    atomic_write_bytes(str(path), page.encode("utf-8"))
