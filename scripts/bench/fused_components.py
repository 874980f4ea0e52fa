"""Benchmark: where the fused extract → langid → filter pass spends its CPU, per page and per component, on one core.

Runs `pipeline.fusion.run_chain` on one WARC shard in this process (no Ray: `ray.in_driver_below_mb`), with a CPU-time
timer around each component (a wrapped function's time is its own: what it spends in another wrapped function is
counted there). Two inputs:

  --gen N   N pages of scripts/bench/ingest.py's generator (real UDHR text in ~400 languages inside ~10 KB of
            boilerplate, seed 0), one shard
  --real K  the 100 real CC-MAIN-2018-43 pages of ../shared/data/cc (their raw HTML) and the 181 article-extraction
            pages, K copies, each copy on hosts of its own (so site templates see what a real shard shows them)

The pass runs `--runs` times in one process; each run's table is printed (the first pays the lazy set-up of the
process: filter word lists, Python's regex cache; later runs build a new chain, as each `polyglot run` does).
Timers cost ~1 µs a call: a few percent of a page. CPU time moves with the machine's load; compare the rows of one
run, and two versions of the code interleaved (``--code DIR`` imports the pipeline from DIR).

    python scripts/bench/fused_components.py --gen 4000 [--runs 2] [--markdown]
    python scripts/bench/fused_components.py --real 10
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \\
        python scripts/bench/fused_components.py --gen 4000 --runs 1 --no-timers      # instructions of the pass

(`--no-timers`: no timers, and the pass runs inside `functools.reduce`, the C function callgrind's toggle names.)
"""

from __future__ import annotations

import argparse
import collections
import functools
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared" / "data"


def real_warc(path: Path, copies: int) -> None:
    """The real pages (pages100's raw HTML, the article-extraction pages) as one WARC, `copies` times over."""
    from pipeline.ingest.warc_writer import WarcWriter

    pages = []
    with gzip.open(SHARED / "cc" / "cc-main-2018-43-pages100.jsonl.gz", "rb") as f:
        for raw in f:
            d = json.loads(raw.decode("utf-8", "surrogateescape"))
            pages.append((d["u"], d["h"].encode("utf-8", "surrogateescape")))
    art = SHARED / "article-extraction"
    truth = json.loads((art / "ground-truth.json").read_text())
    for p in sorted((art / "html").glob("*.html.gz")):
        pid = p.name.split(".")[0]
        pages.append((truth.get(pid, {}).get("url") or f"https://article.example/{pid}", gzip.open(p).read()))
    with open(path, "wb") as fh:
        w = WarcWriter(fh)
        w.warcinfo({"isPartOf": "REAL"}, filename=path.name)
        for copy in range(copies):
            for url, body in pages:
                w.response(url.replace("://", f"://c{copy}.", 1), body, http_headers=[("Content-Type", "text/html")])


class Timers:
    """CPU seconds per component, each component's own (nested wrapped calls are subtracted from their caller)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self._stack: list[float] = []

    def _done(self, name: str, t0: float) -> None:
        d = time.process_time() - t0
        inner = self._stack.pop()
        self.seconds[name] += d - inner
        if self._stack:
            self._stack[-1] += d

    def wrap(self, obj: object, attr: str, name: str, gen: bool = False) -> None:
        fn = getattr(obj, attr)
        timers = self

        if gen:
            @functools.wraps(fn)
            def wrapped(*a, **k):  # type: ignore[no-untyped-def]
                it = fn(*a, **k)
                while True:
                    timers._stack.append(0.0)
                    t0 = time.process_time()
                    try:
                        item = next(it)
                    except StopIteration:
                        timers._done(name, t0)
                        return
                    timers._done(name, t0)
                    yield item
        else:
            @functools.wraps(fn)
            def wrapped(*a, **k):  # type: ignore[no-untyped-def]
                timers._stack.append(0.0)
                t0 = time.process_time()
                try:
                    return fn(*a, **k)
                finally:
                    timers._done(name, t0)

        setattr(obj, attr, wrapped)


def instrument(t: Timers) -> None:
    import fasttext.FastText as ft

    import pipeline.filter.lexicon as lex
    import pipeline.filter.quality as q
    import pipeline.fusion as fusion
    import pipeline.ingest.html as html_mod
    import pipeline.ingest.site_repeats as sr
    import pipeline.ingest.warc as warc
    import pipeline.lang.ensemble as ens
    import pipeline.lang.identify as ident
    import pipeline.stages.base as base
    import pipeline.stages.extract as ex
    import pipeline.stages.filter as fi
    import pipeline.stages.langid as li
    import pipeline.storage as st

    class _Tree:  # HTMLTree.parse, as warc.py calls it
        parse = warc.HTMLTree.parse

    t.wrap(_Tree, "parse", "extract: HTML parse (Resiliparse)")
    warc.HTMLTree = _Tree  # type: ignore[misc]
    for obj, attr, name in [
        (html_mod, "extract_plain_text", "extract: main content (Resiliparse)"),
        (warc, "decode_html", "extract: charset decode"),
        (warc._ShardReader, "_payload", "extract: WARC payload read"),
        (warc, "dom_deeper_than", "extract: deep-DOM check"),
        (warc, "anchor_texts", "extract: anchor texts (regex over the HTML)"),
        (warc, "remove_boilerplate", "extract: boilerplate pass"),
        (warc, "looks_truncated", "extract: truncation check"),
        (warc, "recover_article", "extract: truncation check"),
        (warc._ShardReader, "_document", "extract: NFC check, Document"),
        (warc._ShardReader, "_record", "extract: record checks (status, type, binary)"),
        (sr.SiteRepeats, "add", "extract: site templates"),
        (sr.SiteRepeats, "find", "extract: site templates"),
        (sr.SiteRepeats, "strip", "extract: site templates"),
        (ex, "_spill_batch", "extract: spill (Python -> Arrow, write, read back)"),
        (st.ParquetSink, "write", "Parquet writes (every output)"),
        (st.ParquetSink, "close", "Parquet writes (every output)"),
        (ex.ExtractStage, "_finish_batch", "extract: output batch (Arrow <-> Python, counts)"),
        (ft._FastText, "predict", "langid: fastText predict"),
        (ident, "normalize_for_lid", "langid: windows normalized"),
        (ident, "_normalize_windows", "langid: windows normalized"),
        (ident, "dominant_script", "langid: dominant script"),
        (ident, "dominant_scripts_of_counts", "langid: dominant script"),
        (ident.LanguageIdentifier, "predict_many", "langid: windows, labels (rest)"),
        (ident.LanguageIdentifier, "_predict_line", "langid: windows, labels (rest)"),
        (ident.LanguageIdentifier, "predict_lines", "langid: windows, labels (rest)"),
        (ens.Cld2, "top", "langid: CLD2"),
        (ens.Ensemble, "predict", "langid: ensemble vote (rest)"),
        (ens.Ensemble, "predict_many", "langid: ensemble vote (rest)"),
        (li.LangidStage, "decide", "langid: decide loop (Arrow <-> Python, columns)"),
        (lex.Lexicon, "build", "filter: word lists built (once per language and run)"),
        (q.QualityFilter, "apply_measured", "filter: quality rules (apply_measured)"),
        (fi.FilterStage, "decide", "filter: decide loop (URL filter, PII, Arrow <-> Python)"),
        (fi, "_attributes", "filter: measurements table and spill"),
        (fi._Spill, "append", "filter: measurements table and spill"),
        (fi.FilterStage, "finish", "filter: measurements table and spill"),
        (fusion.Chain, "setup", "set-up (models)"),
    ]:
        if hasattr(obj, attr):  # an older checkout (`--code`) may lack a function a newer one has
            t.wrap(obj, attr, name)
    t.wrap(warc._ShardReader, "run", "extract: WARC iteration (FastWARC)", gen=True)
    t.wrap(ex, "_spill_batches", "extract: spill (Python -> Arrow, write, read back)", gen=True)
    t.wrap(ex, "_spilled_pages", "extract: spill (Python -> Arrow, write, read back)", gen=True)
    t.wrap(base.DocumentStage, "split", "stage loop: batches, counts, Arrow filters", gen=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--gen", type=int, metavar="N", help="N generated pages")
    src.add_argument("--real", type=int, metavar="K", help="K copies of the 281 real pages")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None, help="input and outputs (default: a temp dir, removed)")
    ap.add_argument("--no-timers", action="store_true", help="no timers; the pass inside functools.reduce (callgrind)")
    ap.add_argument("--code", type=Path, default=None, help="import the pipeline from this checkout")
    args = ap.parse_args()
    sys.path.insert(0, str(args.code.resolve() if args.code else ROOT))
    sys.path.insert(1, str(HERE))
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="polyglot-components-"))
    inp = tmp / "in"
    if args.gen:
        from ingest import build_warcs

        files = build_warcs(inp, args.gen, 1)[0]
    else:
        inp.mkdir(parents=True, exist_ok=True)
        files = [inp / "REAL-00000.warc.gz"]
        real_warc(files[0], args.real)

    from pipeline.config import parse_config
    from pipeline.fusion import run_chain

    timers = Timers()
    if not args.no_timers:
        instrument(timers)
    for r in range(args.runs):
        timers.seconds.clear()
        work = tmp / f"work{r}"
        shutil.rmtree(work, ignore_errors=True)
        cfg = parse_config({
            "run": {"work_dir": str(work), "stages": ["extract", "langid", "filter"], "fuse": True},
            "ray": {"num_cpus": 1, "in_driver_below_mb": 1e9},
            "extract": {"inputs": [str(f) for f in files], "split_mb": 0},
            "langid": {"min_score": 0.65},
        })  # fmt: skip
        c0 = time.process_time()
        res = functools.reduce(lambda _a, _b: run_chain(["extract", "langid", "filter"], cfg, force=True), [0, 1])
        total = time.process_time() - c0
        pages = res[0].docs_in
        print(f"\nrun {r + 1}: {pages:,} pages, {total:.2f} CPU s, {1000 * total / pages:.3f} ms per page "
              f"({pages / total:,.0f} pages/s); docs in -> out: "
              + ", ".join(f"{x.stage} {x.docs_in:,} -> {x.docs_out:,}" for x in res) + f"; load {os.getloadavg()[0]:.2f}")  # fmt: skip
        rest = total - sum(timers.seconds.values())
        print("| component | ms/page | % |\n|---|---:|---:|")
        for name, s in sorted(timers.seconds.items(), key=lambda kv: -kv[1]) + [("other (untimed)", rest)]:
            print(f"| {name} | {1000 * s / pages:.3f} | {100 * s / total:.1f} |")
        print(f"| total | {1000 * total / pages:.3f} | 100 |")
    if args.workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
