"""Benchmark: read + extract + langid through the real stages, beside the bare library calls on the same pages.

Builds gzip WARC shards of N pages (~10 KB of HTML each, text from real UDHR translations in ../shared/data when
present, else the demo's own texts), then measures, on the same input:

  floor     FastWARC read + Resiliparse extract + fastText predict on the whole text, in one process, no pipeline
  stage-1   `extract` then `langid` through the real stages and runtime (Ray, Parquet, records), Ray with 1 CPU
  stage-2   the same with 2 CPUs

and prints docs/s, MB/s of HTML payload, peak RSS and the ratios. Target: >= 900 docs/s per core for the stages.
Not a test: run it by hand,  python scripts/bench/ingest.py [--pages 10000]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"

BOILER_HEAD = (
    "<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{title}</title>"
    "<style>body{{font-family:sans-serif}} .nav a{{margin:4px}}</style></head><body>"
    "<header><div class='nav'>" + "".join(f"<a href='/section/{i}'>Section {i}</a>" for i in range(25)) + "</div></header>"
    "<div class='cookie'>We use cookies to improve your experience. <button>Accept all</button></div>"
)
BOILER_FOOT = (
    "<aside><h3>Related</h3><ul>" + "".join(f"<li><a href='/a/{i}'>Related story number {i}</a></li>" for i in range(15))
    + "</ul></aside><footer><p>Copyright 2026 Example Media. All rights reserved.</p>"
    "<p><a href='/privacy'>Privacy</a> | <a href='/terms'>Terms</a> | <a href='/contact'>Contact</a></p></footer>"
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}</script></body></html>"
)


def load_texts() -> dict[str, list[str]]:
    """Paragraphs per language: real UDHR text when ../shared/data is present, else the demo's texts."""
    texts: dict[str, list[str]] = {}
    if (SHARED / "udhr").is_dir():
        for f in sorted((SHARED / "udhr").glob("udhr_*.txt")):
            lines = [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if len(ln.strip()) > 40]
            if len(lines) >= 20:
                texts[f.stem.removeprefix("udhr_")] = lines
    else:
        for f in sorted((ROOT / "scripts" / "demo_text").glob("*.txt")):
            lines = [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if len(ln.strip()) > 40]
            if lines:
                texts[f.stem] = lines
    if not texts:
        sys.exit("no text source found (../shared/data/udhr or scripts/demo_text)")
    return texts


def build_warcs(out: Path, pages: int, shards: int, seed: int = 0) -> tuple[list[Path], int]:
    """Write `shards` WARC files holding `pages` HTML responses; returns the files and total payload bytes."""
    from pipeline.ingest.warc_writer import WarcWriter

    rng = random.Random(seed)
    texts = load_texts()
    langs = sorted(texts)
    out.mkdir(parents=True, exist_ok=True)
    files, total = [], 0
    per = pages // shards
    for s in range(shards):
        path = out / f"BENCH-{s:05d}.warc.gz"
        with open(path, "wb") as fh:
            w = WarcWriter(fh)
            w.warcinfo({"isPartOf": "BENCH-2026-01"}, filename=path.name)
            for i in range(per if s < shards - 1 else pages - per * (shards - 1)):
                lang = rng.choice(langs)
                paras = texts[lang]
                body_paras, size = [], 0
                while size < 3000:  # ~3 KB of text, ~10 KB of HTML with the boilerplate
                    p = rng.choice(paras)
                    body_paras.append(f"<p>{p}</p>")
                    size += len(p.encode())
                html = (
                    BOILER_HEAD.format(lang=lang, title=f"Page {s}-{i}")
                    + f"<main><article><h1>Article {s}-{i}</h1>{''.join(body_paras)}</article></main>"
                    + BOILER_FOOT
                )
                body = html.encode("utf-8")
                total += len(body)
                w.response(
                    f"https://bench.example/{lang}/{s}/{i}",
                    body,
                    http_headers=[("Content-Type", "text/html; charset=utf-8")],
                )
        files.append(path)
    return files, total


def floor(files: list[Path]) -> tuple[int, float]:
    """The bare library calls, one process: what any pipeline on these libraries stands on."""
    import fasttext
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    from pipeline.lang.identify import default_model_path

    model = fasttext.load_model(str(default_model_path()))
    n = 0
    t0 = time.perf_counter()
    for f in files:
        with open(f, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                html = rec.reader.read().decode("utf-8", "replace")
                text = extract_plain_text(HTMLTree.parse(html), main_content=True)
                model.predict(text.replace("\n", " "), k=1)
                n += 1
    return n, time.perf_counter() - t0


def stage_run(files: list[Path], work: Path, cpus: int) -> tuple[int, float, float]:
    """extract + langid through the real stages on an embedded Ray with `cpus` CPUs."""
    from pipeline.config import parse_config
    from pipeline.runtime import ensure_ray, run_stage, shutdown_ray
    from pipeline.stages.extract import ExtractStage
    from pipeline.stages.langid import LangidStage

    if work.exists():
        shutil.rmtree(work)
    cfg = parse_config(
        {
            "run": {"work_dir": str(work)},
            "ray": {"num_cpus": cpus, "object_store_mb": 256},
            "extract": {"inputs": [str(f) for f in files]},
        }
    )
    ensure_ray(cfg.ray)  # start-up is not part of the measured time
    t0 = time.perf_counter()
    ex = run_stage(ExtractStage, cfg)
    li = run_stage(LangidStage, cfg)
    dt = time.perf_counter() - t0
    rss = max(r.get("peak_rss_mb", 0.0) for r in ex.results + li.results)
    shutdown_ray()
    assert ex.ok and li.ok, (ex.failed, li.failed)
    return ex.docs_out, dt, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="polyglot-bench-"))
    files, payload = build_warcs(tmp / "warc", args.pages, args.shards)
    mb = payload / 2**20
    print(f"input: {args.pages:,} pages in {len(files)} shards, {mb:.1f} MB of HTML, "
          f"{sum(f.stat().st_size for f in files) / 2**20:.1f} MB gzip WARC", flush=True)

    n, dt = floor(files)
    floor_rate = n / dt
    rows = [("floor (bare libs, 1 core)", n, dt, floor_rate, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)]
    for cpus in (1, 2):
        n2, dt2, rss = stage_run(files, tmp / f"work{cpus}", cpus)
        rows.append((f"stages extract+langid, {cpus} CPU", n2, dt2, n2 / dt2, rss))

    print(f"\n{'run':34} {'docs':>7} {'s':>7} {'docs/s':>8} {'docs/s/core':>12} {'MB/s':>7} {'peak RSS MB':>12}")
    for name, n_, dt_, rate, rss in rows:
        cores = 2 if "2 CPU" in name else 1
        print(f"{name:34} {n_:7,} {dt_:7.2f} {rate:8.0f} {rate / cores:12.0f} {mb * n_ / args.pages / dt_:7.1f} {rss:12.0f}")
    one, two = rows[1][3], rows[2][3]
    print(f"\nstage (1 CPU) / floor: {one / floor_rate:.2f}   2 CPU / 1 CPU: {two / one:.2f}   "
          f"target: >= 900 docs/s per core -> {'met' if min(one, two / 2) >= 900 else 'NOT met'}")
    if args.workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
