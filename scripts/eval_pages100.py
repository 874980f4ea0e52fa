"""Evaluate extract + langid on 100 real Common Crawl pages (../shared/data/cc/cc-main-2018-43-pages100.jsonl.gz).

Each page's raw HTML is wrapped into a WARC response record (line 82 keeps its invalid UTF-8 bytes, as in the
original), the real `extract` and `langid` stages run over the WARC on an embedded Ray, and the script prints how
many pages were processed and how often our language agrees with the OpenLID label given in the file (a guess by
another model, not gold). Run:  python scripts/eval_pages100.py [--show-disagreements]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT.parent / "shared" / "data" / "cc" / "cc-main-2018-43-pages100.jsonl.gz"


def load_pages(path: Path) -> list[dict]:
    """Read the JSON lines as bytes: invalid UTF-8 survives as surrogate escapes and goes back out as the same bytes."""
    pages = []
    with gzip.open(path, "rb") as f:
        for raw in f:
            pages.append(json.loads(raw.decode("utf-8", "surrogateescape")))
    return pages


def write_warc(pages: list[dict], out: Path) -> None:
    from pipeline.ingest.warc_writer import WarcWriter

    with open(out, "wb") as fh:
        w = WarcWriter(fh)
        w.warcinfo({"isPartOf": "CC-MAIN-2018-43"}, filename=out.name)
        for p in pages:
            body = p["h"].encode("utf-8", "surrogateescape")
            ctype = p.get("c") or "text/html"
            w.response(p["u"], body, http_headers=[("Content-Type", ctype)], date=p["ts"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--show-disagreements", action="store_true")
    ap.add_argument("--json", action="store_true", help="End with one JSON line of the figures (for tests).")
    args = ap.parse_args()
    if not PAGES.exists():
        sys.exit(f"{PAGES} not found: this evaluation needs ../shared/data")

    from pipeline.config import parse_config
    from pipeline.lang.codes import normalize_label
    from pipeline.runtime import run_stage, shutdown_ray
    from pipeline.stages.extract import ExtractStage
    from pipeline.stages.langid import LangidStage

    pages = load_pages(PAGES)
    tmp = Path(tempfile.mkdtemp(prefix="polyglot-pages100-"))
    warc = tmp / "pages100.warc.gz"
    write_warc(pages, warc)
    cfg = parse_config(
        {
            "run": {"work_dir": str(tmp / "out")},
            "ray": {"num_cpus": 2, "object_store_mb": 256},
            "extract": {"inputs": [str(warc)], "min_text_chars": 1},
            "langid": {"min_score": 0.0},
        }
    )
    ex = run_stage(ExtractStage, cfg)
    li = run_stage(LangidStage, cfg)
    shutdown_ray()
    rec = json.loads((tmp / "out" / "_state" / "extract" / "pages100.json").read_text())
    print(f"extract: {ex.docs_in} records in, {ex.docs_out} documents out, skipped: {rec['stats']['removed'] or 'none'}")

    kept = pq.read_table(tmp / "out" / "langid" / "pages100.parquet")
    rejected = pq.read_table(tmp / "out" / "_removed" / "langid" / "pages100.parquet")
    table = pa.concat_tables([kept, rejected.drop(["reject_reason"])])
    ours = dict(zip(table.column("url").to_pylist(), table.column("lang").to_pylist()))
    agree, total, per_lang, wrong = 0, 0, Counter(), []
    for p in pages:
        if p["u"] not in ours:
            continue
        total += 1
        if not p.get("lang"):  # the file gives no label for this page
            continue
        gold = normalize_label(p["lang"])
        if ours[p["u"]] == gold:
            agree += 1
            per_lang[gold] += 1
        else:
            wrong.append((p["u"][:70], gold, ours[p["u"]], round(p["prob"], 2)))
    print(f"langid: {total} labelled pages identified; agreement with the file's OpenLID labels: {agree}/{total} = {agree / total:.1%}")
    if args.show_disagreements:
        for w in wrong:
            print("  ", *w)
    print(f"(work dir: {tmp})")
    if args.json:
        figures = {"pages": len(pages), "records_in": ex.docs_in, "documents": ex.docs_out, "identified": total,
                   "agree": agree, "skipped": rec["stats"]["removed"]}
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
