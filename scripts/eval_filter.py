"""Evaluate the filter on hand-labeled real web pages: precision of what it keeps, recall of the good pages.

Dev sets (labels in scripts/devsets/, see its README; the pages themselves are third-party data read from
../shared/data, never copied into the repository):

- ``zh``: 500 real Chinese web documents (web-zh/zh-web-500.jsonl.gz, text as extracted by warc2text);
- ``cc2018``: 100 real CC-MAIN-2018-43 pages in 19 languages (cc/cc-main-2018-43-pages100.jsonl.gz): the raw HTML
  goes through the pipeline's own extraction, as in a real run;
- ``cc2018-text``: the same 100 pages and labels, as the text warc2text extracted from them (all visible text, as
  in the ``zh`` set and in WET files): the filter on text inputs, in 19 languages;
- ``cc2020``: the 16 HTML responses of the real CC-MAIN-2020-34 WARC excerpt (cc/cc-main-2020-34-excerpt.warc.gz);
- ``articles``: the 181 real article pages of article-extraction/ (mostly English news and blogs), all articles:
  recall only (``--sets zh,cc2018,cc2020,articles``).

Each document goes through what the `filter` stage does — URL filter (when the build has one), then the quality
rules — with the language our language ID gives it (lid.176). A page the extraction turns into no document counts
as dropped. Printed per dev set and per language (the labeler's language for cc2018/cc2020): documents, good ones,
kept, precision (good among kept), recall (kept among good), with the junk kept by its labeled kind and the good
pages dropped by the rule that dropped them.

    python scripts/eval_filter.py [--sets zh,cc2018,cc2020] [--show kept-junk,dropped-good] [--split] [--json]

``--langs jpn_Jpan,kor_Hang`` adds one table of those languages' pages pooled over all the sets (by the labeler's
language where the set has one, else lid.176's): few Japanese and Korean pages are in any one set.

``--split`` also prints each set's two halves: ``dev`` (even idx) and ``held-out`` (odd idx), with the ``--show``
listings under each half. Rules are developed looking at the dev half's errors only; the held-out half tells whether
a change generalizes beyond the pages read.

Runs against any checkout of the project (it only uses `QualityFilter.apply` and the ingest/LID libraries), so the
figures of an older commit come from the same script:  git worktree add /tmp/old <commit> and run it from there
with PYTHONPATH=/tmp/old.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEVSETS = Path(__file__).resolve().parent / "devsets"


@dataclass
class Doc:
    set: str
    idx: int
    url: str
    text: str | None  # None: extraction gave no document
    label: str
    reason: str
    confidence: str
    lang_label: str | None


def _labels(name: str) -> list[dict[str, str]]:
    with open(DEVSETS / name, encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def zh_docs() -> Iterator[Doc]:
    with gzip.open(SHARED / "web-zh" / "zh-web-500.jsonl.gz", "rt", encoding="utf-8") as fh:
        pages = [json.loads(line) for line in fh]
    for row in _labels("zh_web500.tsv"):
        p = pages[int(row["idx"])]
        yield Doc("zh", int(row["idx"]), p["url"], p["text"], row["label"], row["reason"], row["confidence"], None)


def _extract(warc: bytes) -> dict[str, str]:
    """URL → extracted text, through the pipeline's own extraction (config defaults: main content, fallback)."""
    from pipeline.ingest.warc import Document, ExtractSettings, extract_stream

    out: dict[str, str] = {}
    for item in extract_stream(io.BytesIO(warc), ExtractSettings(min_text_chars=20)):
        if isinstance(item, Document):
            out[item.url] = item.text
    return out


def cc2018_docs() -> Iterator[Doc]:
    from pipeline.ingest.warc_writer import WarcWriter

    with gzip.open(SHARED / "cc" / "cc-main-2018-43-pages100.jsonl.gz", "rb") as fh:
        pages = [json.loads(raw.decode("utf-8", "surrogateescape")) for raw in fh]
    buf = io.BytesIO()
    w = WarcWriter(buf)
    for p in pages:
        body = p["h"].encode("utf-8", "surrogateescape")
        w.response(p["u"], body, http_headers=[("Content-Type", p.get("c") or "text/html")], date=p["ts"])
    texts = _extract(buf.getvalue())
    for row in _labels("cc2018_pages100.tsv"):
        p = pages[int(row["idx"])]
        yield Doc("cc2018", int(row["idx"]), p["u"], texts.get(p["u"]), row["label"], row["reason"],
                  row["confidence"], row["lang"])  # fmt: skip


def cc2018_text_docs() -> Iterator[Doc]:
    """The same 100 pages and labels as ``cc2018``, as text warc2text extracted (the pages' ``t`` field): the kind
    of text the ``zh`` set is, for pages in 19 languages — what the filter sees on text inputs such as WET files."""
    with gzip.open(SHARED / "cc" / "cc-main-2018-43-pages100.jsonl.gz", "rb") as fh:
        pages = [json.loads(raw.decode("utf-8", "surrogateescape")) for raw in fh]
    for row in _labels("cc2018_pages100.tsv"):
        p = pages[int(row["idx"])]
        yield Doc("cc2018-text", int(row["idx"]), p["u"], p.get("t") or None, row["label"], row["reason"],
                  row["confidence"], row["lang"])  # fmt: skip


def cc2020_docs() -> Iterator[Doc]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    raw = (SHARED / "cc" / "cc-main-2020-34-excerpt.warc.gz").read_bytes()
    urls = [
        rec.headers.get("WARC-Target-URI")
        for rec in ArchiveIterator(io.BytesIO(raw), record_types=WarcRecordType.response)
    ]
    texts = _extract(raw)
    for row in _labels("cc2020_excerpt.tsv"):
        url = urls[int(row["idx"])]
        yield Doc("cc2020", int(row["idx"]), url, texts.get(url), row["label"], row["reason"], row["confidence"],
                  row["lang"])  # fmt: skip


def articles_docs() -> Iterator[Doc]:
    """The 181 real article pages of the article-extraction benchmark: all of them are articles (the benchmark gives
    each one's true body), so this set measures recall only — what the filter loses of real articles."""
    from pipeline.ingest.warc_writer import WarcWriter

    base = SHARED / "article-extraction"
    truth = json.loads((base / "ground-truth.json").read_text(encoding="utf-8"))
    buf = io.BytesIO()
    w = WarcWriter(buf)
    ids = sorted(truth)
    for page_id in ids:
        html = gzip.decompress((base / "html" / f"{page_id}.html.gz").read_bytes())
        w.response(truth[page_id]["url"], html, http_headers=[("Content-Type", "text/html")], date="2020-01-01T00:00:00Z")
    texts = _extract(buf.getvalue())
    for i, page_id in enumerate(ids):
        url = truth[page_id]["url"]
        yield Doc("articles", i, url, texts.get(url), "keep", "good", "sure", None)


SETS = {"zh": zh_docs, "cc2018": cc2018_docs, "cc2018-text": cc2018_text_docs, "cc2020": cc2020_docs,
        "articles": articles_docs}


def _url_filter() -> object | None:
    try:
        from pipeline.filter.url import URLFilter, URLFilterSettings
    except ImportError:
        return None
    return URLFilter(URLFilterSettings())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="zh,cc2018,cc2020")
    ap.add_argument("--show", default="", help="kept-junk,dropped-good: list those documents")
    ap.add_argument("--sure-only", action="store_true", help="Leave out the labels marked unsure.")
    ap.add_argument("--json", action="store_true", help="End with one JSON line of the figures.")
    ap.add_argument("--langs", default="",
                    help="e.g. jpn_Jpan,kor_Hang: also one table of these languages' pages pooled over the sets.")
    ap.add_argument("--split", action="store_true",
                    help="Also print each set's halves: dev (even idx) and held-out (odd idx).")
    args = ap.parse_args()
    if not SHARED.exists():
        sys.exit(f"{SHARED} not found: this evaluation reads the real pages from ../shared/data")

    from pipeline.filter.quality import QualityFilter
    from pipeline.lang.identify import LanguageIdentifier

    lid = LanguageIdentifier()
    qf = QualityFilter()
    uf = _url_filter()
    show = set(filter(None, args.show.split(",")))
    figures: dict[str, dict[str, float]] = {}
    langs = set(filter(None, args.langs.split(",")))
    pooled: list[tuple[Doc, str, str | None]] = []
    for name in args.sets.split(","):
        results: list[tuple[Doc, str, str | None]] = []
        for d in SETS[name]():
            if args.sure_only and d.confidence != "sure":
                continue
            if d.text is None:
                reason: str | None = "extract:no_document"
                lang = d.lang_label or "und"
            else:
                lang = lid.predict(d.text).lang
                reason = uf.check(d.url) if uf is not None else None  # type: ignore[attr-defined]
                if reason is None:
                    reason = qf.apply(d.text, lang).reason
            results.append((d, lang, reason))
            if (d.lang_label or lang) in langs:
                pooled.append((d, lang, reason))
        halves = [(name, results)]
        if args.split:
            halves += [(f"{name}:dev", [r for r in results if r[0].idx % 2 == 0]),
                       (f"{name}:held-out", [r for r in results if r[0].idx % 2 == 1])]  # fmt: skip
        for title, part in halves:
            # With --split the listings go under each half, so the held-out errors can be left unread.
            figures[title] = _report(title, part, show if (title != name) == args.split else set())
    if langs:
        title = f"{'+'.join(sorted(langs))} pooled over {args.sets}"
        figures["pooled"] = _report(title, pooled, show)
    if args.json:
        print(json.dumps(figures))


def _report(name: str, results: list[tuple[Doc, str, str | None]], show: set[str]) -> dict[str, float]:
    """Prints one set's (or half's) table, junk kept by kind, good dropped by rule; returns its overall figures."""
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    kept_junk: Counter[str] = Counter()
    dropped_good: Counter[str] = Counter()
    listing: list[str] = []
    figures: dict[str, float] = {}
    for d, lang, reason in results:
        group = d.lang_label or lang
        good, kept = d.label == "keep", reason is None
        for key in (group, "all"):
            c = rows[key]
            c["docs"] += 1
            c["good"] += good
            c["kept"] += kept
            c["kept_good"] += good and kept
        if kept and not good:
            kept_junk[d.reason] += 1
            if "kept-junk" in show:
                listing.append(f"  kept {d.reason:<10} {d.set}#{d.idx} {lang} {d.url[:90]}")
        if good and not kept:
            dropped_good[reason or ""] += 1
            if "dropped-good" in show:
                listing.append(f"  dropped good by {reason} {d.set}#{d.idx} {lang} {d.url[:90]}")
    print(f"\n== {name} ==")
    print(f"{'language':<10} {'docs':>5} {'good':>5} {'kept':>5} {'precision':>9} {'recall':>7}")
    for key in sorted(rows, key=lambda k: (k == "all", -rows[k]["docs"], k)):
        c = rows[key]
        prec = c["kept_good"] / c["kept"] if c["kept"] else float("nan")
        rec = c["kept_good"] / c["good"] if c["good"] else float("nan")
        print(f"{key:<10} {c['docs']:>5} {c['good']:>5} {c['kept']:>5} {prec:>9.3f} {rec:>7.3f}")
        if key == "all":
            figures = {"docs": c["docs"], "good": c["good"], "kept": c["kept"], "precision": prec, "recall": rec}
    print("junk kept, by labeled kind:", dict(kept_junk.most_common()) or "none")
    print("good pages dropped, by rule:", dict(dropped_good.most_common()) or "none")
    for line in listing:
        print(line)
    return figures


if __name__ == "__main__":
    main()
