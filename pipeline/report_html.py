"""`polyglot stats --html FILE`: the stats report as one self-contained HTML page, with plots and sample documents.

Self-contained means one file that opens anywhere, offline, forever: inline CSS and inline SVG drawn here (no JS, no
chart library, no fonts or images fetched, no matplotlib dependency), and no link or `src` pointing outside the page.
Every string that comes from the data — page text, URLs, language codes, reasons, warnings, the work dir — goes
through `html.escape` (quotes included), so a crawled page containing markup shows as text and cannot run.

Plots: tokens per language before balancing (available) and after (chosen, with repeats), share per family before
and after, the stage funnel (documents out of every stage), and the shared tokenizer's characters per token on
parallel text per language (balanced vs unbalanced training sample).

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

from pipeline.report import TOKEN_GROUPS, abbreviate, size_caption, split_counters, step_value_text
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
    if not report["stages"] and not report.get("tokenizer") and not report.get("balance") and not report.get("shards"):
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
