"""Benchmark: peak RSS of one worker per stage, on a shard of 5,000 and of 40,000 documents.

A stage that streams its shard holds one batch, whatever the shard's size, so its worker's peak RSS should stay
within ±10% from the small shard to the large one. Each measurement is one fresh process running the stage's
`setup()` then `process()` on one shard (no Ray, no runtime): its peak RSS, and its RSS after `setup()` (models
loaded, nothing read yet), are printed per size with the ratio large/small. The peak of one run moves by a few
percent between identical runs (it is the highest of the transient spikes of writing a row group, and a long shard
writes more of them), so each measurement is repeated (`--repeat`, default 3) and the table gives the median with
the range.

Input: a gzip WARC of N real-shaped pages, the first N of one seeded stream (so the small shard is a prefix of the
large one): the real article pages of ../shared/data/article-extraction as they were crawled, and HTML pages made
of real text — Chinese web documents (web-zh), UDHR paragraphs and Tatoeba sentences in many languages — each on a
site of ~8 pages. Without ../shared/data the pages are made of generated words. The stages are chained as in a
run: extract reads the WARC, langid extract's output, filter langid's kept documents, dedup's apply step filter's
kept documents with a decision file made here (every fifth document removed as a duplicate of the one before).

Not a test: run it by hand, and compare two checkouts on the same input side by side:

    python scripts/bench/memory.py [--sizes 5000 40000] [--stages extract langid filter dedup] [--repeat 3] [--work DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/data")

STAGES = ("extract", "langid", "filter", "dedup")


def _html(title: str, paragraphs: list[str], lang: str) -> str:
    nav = "".join(f"<li><a href='/c/{i}'>Category {i}</a></li>" for i in range(12))
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header><main><article><h1>{title}</h1>{body}</article></main>"
        "<footer><p>Copyright 2026. All rights reserved.</p><a href='/privacy'>Privacy</a></footer></body></html>"
    )


def _sources() -> tuple[list[tuple[str, bytes]], list[tuple[str, list[str]]]]:
    """(url, raw HTML) of real crawled pages, and (language, paragraphs) of real text to build pages from."""
    pages: list[tuple[str, bytes]] = []
    texts: list[tuple[str, list[str]]] = []
    art = SHARED / "article-extraction"
    if art.is_dir():
        truth = json.loads((art / "ground-truth.json").read_text())
        for key, item in sorted(truth.items()):
            f = art / "html" / f"{key}.html.gz"
            if f.exists():
                pages.append((item["url"], gzip.decompress(f.read_bytes())))
    zh = SHARED / "web-zh" / "zh-web-500.jsonl.gz"
    if zh.exists():
        with gzip.open(zh, "rt", encoding="utf-8") as fh:
            for line in fh:
                paras = [p for p in json.loads(line)["text"].split("\n") if p.strip()]
                if paras:
                    texts.append(("zh", paras))
    for f in sorted((SHARED / "udhr").glob("udhr_*.txt"))[::3]:
        paras = [p.strip() for p in f.read_text(encoding="utf-8").splitlines() if len(p.strip()) > 40]
        if len(paras) >= 10:
            texts.append((f.stem.removeprefix("udhr_"), paras))
    for f in sorted((SHARED / "tatoeba").glob("tatoeba.*-eng.*"))[::2]:
        sents = [s.strip() for s in f.read_text(encoding="utf-8").splitlines() if s.strip()]
        if len(sents) >= 50:
            texts.append((f.suffix.lstrip("."), [" ".join(sents[i : i + 6]) for i in range(0, len(sents), 6)]))
    if not pages and not texts:  # no shared data: generated words
        rng = random.Random(1)
        words = ["".join(rng.choice("abcdefghijklmnoprstuvy") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
        for i in range(200):
            texts.append((f"gen{i}", [" ".join(rng.choices(words, k=60)) + "." for _ in range(40)]))
    return pages, texts


def build_warc(path: Path, n: int, seed: int = 0) -> None:
    """N responses: about a third real crawled article pages, the rest pages of ~3 KB of real text."""
    from pipeline.ingest.warc_writer import WarcWriter

    rng = random.Random(seed)
    pages, texts = _sources()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    utf8 = [("Content-Type", "text/html; charset=utf-8")]
    with open(tmp, "wb") as fh:
        w = WarcWriter(fh)
        w.warcinfo({"isPartOf": "BENCH-MEMORY"}, filename=path.name)
        for i in range(n):
            site = f"s{rng.randrange(max(1, n // 8))}"
            if pages and rng.random() < 0.33:
                url, html = rng.choice(pages)
                host = url.split("/")[2]
                w.response(f"https://{site}.{host}/{i}", html, http_headers=[("Content-Type", "text/html")])
                continue
            lang, paras = rng.choice(texts)
            start = rng.randrange(len(paras))
            body, size = [], 0
            for p in paras[start:] + paras[:start]:
                body.append(p)
                size += len(p.encode())
                if size > 3000:
                    break
            w.response(f"https://{site}.bench-{lang}.example/{i}", _html(f"Page {i}", body, lang).encode(), http_headers=utf8)
    tmp.rename(path)


def _config(work: Path, warc: Path):  # noqa: ANN202 - PipelineConfig of the checkout under test
    import yaml

    from pipeline.config import parse_config

    data = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    data["run"]["work_dir"] = str(work)
    data["extract"]["inputs"] = [str(warc)]
    data.pop("languages", None)  # keep every language: the later stages see as many documents as possible
    return parse_config(data)


def _task(stage: str, work: Path, warc: Path):  # noqa: ANN202 - ShardTask
    from pipeline.stages.base import ShardTask

    sid = "shard"
    out = lambda *p: str(work.joinpath(*p))  # noqa: E731
    if stage == "extract":
        return ShardTask(sid, (str(warc),), {"main": out("extract", "shard.parquet")})
    if stage == "langid":
        return ShardTask(sid, (out("extract", "shard.parquet"),),
                         {"main": out("langid", "shard.parquet"), "rejected": out("_removed", "langid", "shard.parquet")})  # fmt: skip
    if stage == "filter":
        return ShardTask(sid, (out("langid", "shard.parquet"),),
                         {"main": out("filter", "shard.parquet"), "removed": out("_removed", "filter", "shard.parquet"),
                          "attributes": out("attributes", "filter", "shard.parquet")})  # fmt: skip
    return ShardTask(sid, (out("filter", "shard.parquet"), out("decisions.arrow")),
                     {"main": out("dedup", "shard.parquet"), "removed": out("_removed", "dedup", "shard.parquet")})  # fmt: skip


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one(stage_name: str, work: Path, warc: Path) -> dict:
    """Runs in a fresh process: one worker's setup() and process() of one stage on one shard."""
    from pipeline.stages.dedup import DedupStage
    from pipeline.stages.extract import ExtractStage
    from pipeline.stages.filter import FilterStage
    from pipeline.stages.langid import LangidStage

    cls = {"extract": ExtractStage, "langid": LangidStage, "filter": FilterStage, "dedup": DedupStage}[stage_name]
    stage = cls(_config(work, warc))
    stage.setup()
    after_setup = _rss_mb()
    stats = stage.process(_task(stage_name, work, warc), lambda n: None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"docs_in": stats.docs_in, "docs_out": stats.docs_out, "setup_mb": after_setup, "peak_mb": peak}


def _decisions(work: Path) -> None:
    """A decision file for dedup's apply step: every fifth document a near duplicate of the one before."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = pq.read_table(work / "filter" / "shard.parquet", columns=["doc_id"]).column("doc_id").to_pylist()
    removed = [i % 5 == 4 for i in range(len(ids))]
    kept_id = [ids[i - 1] if r else ids[i] for i, r in enumerate(removed)]
    kept_id = pa.array(kept_id, pa.string())
    reason = pa.array(["near-duplicate" if r else None for r in removed], pa.string())
    table = pa.table({
        "cluster_size": pa.array([2 if r or (i + 1 < len(ids) and removed[i + 1]) else 1 for i, r in enumerate(removed)], pa.int32()),
        **{f"kept_doc_id_{policy}": kept_id for policy in ("first", "longest")},
        **{f"reason_{policy}": reason for policy in ("first", "longest")},
    })  # fmt: skip
    with pa.OSFile(str(work / "decisions.arrow"), "wb") as f, pa.ipc.new_file(f, table.schema) as w:
        w.write_table(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 40000])
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    ap.add_argument("--repeat", type=int, default=3, help="fresh runs per stage and size; the table shows the median")
    ap.add_argument("--work", type=Path, default=None, help="keeps the WARCs for the next run (default: a temp dir)")
    ap.add_argument("--one", nargs=3, metavar=("STAGE", "WORK", "WARC"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], Path(args.one[1]), Path(args.one[2]))))
        return
    base = args.work or Path(tempfile.mkdtemp(prefix="polyglot-bench-memory-"))
    results: dict[str, dict[int, list[dict]]] = {s: {} for s in args.stages}
    for n in args.sizes:
        warc = base / "input" / f"pages-{n}.warc.gz"
        if not warc.exists():
            build_warc(warc, n)
        work = base / f"run-{os.getpid()}" / str(n)
        for s in STAGES:
            if s == "dedup" and "dedup" in args.stages:
                _decisions(work)
            if s in args.stages or any(later in args.stages for later in STAGES[STAGES.index(s) + 1 :]):
                runs = args.repeat if s in args.stages else 1
                for _ in range(runs):
                    r = _run_one(s, work, warc, n)
                    if s in args.stages:
                        results[s].setdefault(n, []).append(r)
                        print(f"  {s:8s} {n:>6,} pages: {r['docs_in']:>6,} docs in, {r['docs_out']:>6,} out, "
                              f"RSS after setup {r['setup_mb']:.0f} MB, peak {r['peak_mb']:.0f} MB", flush=True)  # fmt: skip
    load = os.getloadavg()
    print(f"\npeak RSS of one worker (MB): median of {args.repeat} runs [lowest-highest], load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")  # fmt: skip
    sizes = args.sizes
    print("| stage | " + " | ".join(f"{n:,} pages" for n in sizes) + f" | {sizes[-1]:,} / {sizes[0]:,} |")
    print("|---|" + "---:|" * (len(sizes) + 1))
    for s in args.stages:
        peaks = [sorted(r["peak_mb"] for r in results[s][n]) for n in sizes]
        medians = [statistics.median(p) for p in peaks]
        cells = [f"{m:.0f} [{p[0]:.0f}-{p[-1]:.0f}]" if len(p) > 1 else f"{m:.0f}" for m, p in zip(medians, peaks)]
        print(f"| {s} | " + " | ".join(cells) + f" | {medians[-1] / medians[0]:.2f} |")


def _run_one(stage: str, work: Path, warc: Path, n: int) -> dict:
    """One fresh process running `stage` on the shard (its outputs are rewritten, byte for byte the same)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, __file__, "--one", stage, str(work), str(warc)],
                          capture_output=True, text=True, env=env)  # fmt: skip
    if proc.returncode:
        sys.exit(f"{stage} on {n} pages failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
