"""Benchmark: one large WARC shard extracted on 1 CPU (one worker, whole file) and on 2 CPUs (split in 2 parts).

One shard is one worker unless the stage splits it: a single Common Crawl-sized WARC (40,000 pages) would use one
core of a machine. `extract.split_mb` cuts it at gzip member boundaries into parts that run on every worker, then
one merge writes the same output. This prints, for the same generated WARC of N real-shaped pages (the pages of
scripts/bench/memory.py: real crawled article pages and pages of real multilingual text from ../shared/data, ~8
pages a site), docs/s of the extract stage through the real runtime on an embedded Ray of 1 and of 2 CPUs, the
ratio (target >= 1.8), and whether the two outputs are byte-identical (they must be).

On a shared machine the wall-clock ratio needs both cores free: under load the parts wait for a CPU like every
other process. So it also prints the ratio in CPU time of the threads that did the work (each shard record keeps
it): the 1-CPU run's CPU seconds over the split run's critical path (its longest part, then the merge) — what the
wall-clock ratio is on two free cores, less the scheduling between the parts and the merge.

Each run is a fresh process; Ray's start-up and the workers' imports are paid before the clock starts (a warm-up
extract of a small file), so the figure is the stage's own: reading, extracting, merging, writing, records.

Not a test: run it by hand, on a quiet machine (the ratio needs both cores free):

    python scripts/bench/split.py [--pages 40000] [--work DIR] [--repeat 1] [--split-mb MB]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def one(cpus: int, warc: Path, work: Path, split_mb: float | None) -> dict:
    """In a fresh process: extract `warc` on an embedded Ray of `cpus` CPUs; docs, seconds, parts, output hash."""
    from pipeline.config import parse_config
    from pipeline.runtime import ensure_ray, record_path, run_stage
    from pipeline.stages.extract import ExtractStage

    if work.exists():
        shutil.rmtree(work)
    warm = work / "warm"
    warm.mkdir(parents=True)
    from memory import build_warc

    build_warc(warm / "warm.warc.gz", 50, seed=1)

    def cfg(where: Path, inputs: list[str]):  # noqa: ANN202 - PipelineConfig
        return parse_config({
            "run": {"work_dir": str(where)},
            "ray": {"num_cpus": cpus, "object_store_mb": 256, "in_driver_below_mb": 0},
            "extract": {"inputs": inputs, **({} if split_mb is None else {"split_mb": split_mb})},
        })  # fmt: skip

    ensure_ray(cfg(work, []).ray)
    run_stage(ExtractStage, cfg(warm / "out", [str(warm / "warm.warc.gz")]))  # workers up, imports paid
    run = cfg(work / "out", [str(warc)])
    t0 = time.perf_counter()
    res = run_stage(ExtractStage, run)
    seconds = time.perf_counter() - t0
    if not res.ok:
        raise SystemExit(f"extract failed: {res.failed}")
    (sid,) = [r["shard_id"] for r in res.results]
    rec = json.loads(Path(record_path(run, "extract", sid)).read_text())
    out = Path(rec["outputs"]["main"]).read_bytes()
    parts = rec["run"].get("parts", [])
    return {
        "docs_in": res.docs_in,
        "docs_out": res.docs_out,
        "seconds": seconds,
        "parts": len(parts),
        "part_seconds": [p["seconds"] for p in parts],
        "merge_seconds": rec["run"]["seconds"],
        "cpu_seconds": rec["run"]["cpu_seconds"],
        "part_cpu_seconds": [p["cpu_seconds"] for p in parts],
        "sha256": hashlib.sha256(out).hexdigest(),
        "stats": rec["stats"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=40_000)
    ap.add_argument("--work", type=Path, default=None, help="keeps the WARC for the next run (default: a temp dir)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per CPU count (the best is kept)")
    ap.add_argument("--split-mb", type=float, default=None,
                    help="extract.split_mb (default: the config's; a WARC smaller than a real one may need less)")
    ap.add_argument("--one", nargs=4, metavar=("CPUS", "WARC", "WORK", "SPLIT_MB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        split_mb = None if args.one[3] == "default" else float(args.one[3])
        print(json.dumps(one(int(args.one[0]), Path(args.one[1]), Path(args.one[2]), split_mb)))
        return
    from memory import build_warc

    base = args.work or Path(tempfile.mkdtemp(prefix="polyglot-bench-split-"))
    warc = base / "input" / f"pages-{args.pages}.warc.gz"
    if not warc.exists():
        build_warc(warc, args.pages)
    print(f"{warc}: {args.pages:,} pages, {warc.stat().st_size / 2**20:.0f} MB", flush=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    best: dict[int, dict] = {}
    for _ in range(args.repeat):
        for cpus in (1, 2):
            split_mb = "default" if args.split_mb is None else str(args.split_mb)
            proc = subprocess.run([sys.executable, __file__, "--one", str(cpus), str(warc), str(base / f"run-{cpus}"),
                                   split_mb], capture_output=True, text=True, env=env)  # fmt: skip
            if proc.returncode:
                sys.exit(f"{cpus} CPU(s) failed:\n{proc.stderr[-3000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"  {cpus} CPU(s): {r['docs_in']:,} records in {r['seconds']:.1f} s = "
                  f"{r['docs_in'] / r['seconds']:,.0f} docs/s, {r['parts'] or 1} part(s)"
                  + (f" (parts {', '.join(f'{s:.1f}' for s in r['part_seconds'])} s, CPU "
                     f"{', '.join(f'{s:.1f}' for s in r['part_cpu_seconds'])} s; merge {r['merge_seconds']:.1f} s, "
                     f"CPU {r['cpu_seconds']:.1f} s)" if r["parts"] else f" (CPU {r['cpu_seconds']:.1f} s)"),
                  flush=True)  # fmt: skip
            if cpus not in best or r["seconds"] < best[cpus]["seconds"]:
                best[cpus] = r
    one_cpu, two_cpu = best[1], best[2]
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("| CPUs | parts | docs/s (wall) | × 1 CPU (wall) | critical path, CPU s | × 1 CPU (CPU time) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for cpus, r in best.items():
        rate = r["docs_in"] / r["seconds"]
        path = r["cpu_seconds"] + max(r["part_cpu_seconds"] or [0.0])
        print(f"| {cpus} | {r['parts'] or 1} | {rate:,.0f} | {one_cpu['seconds'] / r['seconds']:.2f} | {path:.1f} | "
              f"{one_cpu['cpu_seconds'] / path:.2f} |")
    same = one_cpu["sha256"] == two_cpu["sha256"] and one_cpu["stats"] == two_cpu["stats"]
    print(f"outputs byte-identical and stats equal: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
