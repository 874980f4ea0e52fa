"""Fused against stage by stage: `polyglot run` of extract → langid → filter with `run.fuse: true` and `false`.

Both sides are the same command on the same generated WARC shards (vs_datatrove.py's input: real UDHR text in ~400
languages inside boilerplate), each a fresh process with a fresh work dir (start-up, `ray.init`, `ray.shutdown` and
the stats report included), run interleaved (fused, unfused, then unfused, fused, ...: the order alternates, since the
first run of a session tends to be slower) so a shared machine's load falls on both.
Printed: every run's wall time with the load average, the medians and their ratio, and each stage's worker seconds
summed over its shards (from the `_state` records) — what fusing saves is the Parquet re-read and re-decode of every
later stage and its scheduling round, not the stages' own work.

    python scripts/bench/fuse.py [--pages 10000] [--shards 2] [--pairs 3] [--cpus 2] [--driver] [--workdir DIR]
                                 [--markdown]

With `--driver` the shards run in the driver process without Ray (`ray.in_driver_below_mb`): the process's CPU time
is then the whole work, which the load of a shared machine moves less than the wall time.

The outputs of the two sides are compared too (sha256 of every Parquet file): they must be equal. Not a test:
timings of a shared machine; read the ratio of one interleaved run, with the load average beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from vs_datatrove import load1, load3, make_input, med, table  # noqa: E402 - the same input and reporting

STAGES = ("extract", "langid", "filter")


def run(files: list[Path], scratch: Path, cpus: int, fuse: bool, tag: str, keep: bool = False,
        driver: bool = False) -> dict:  # fmt: skip
    """One `polyglot run` in a fresh process; its wall time, its CPU seconds (the process's own: all of the work with
    `driver`, without Ray's workers otherwise), load before and after, per-stage worker seconds, and (with `keep`) the
    sha256 of every Parquet output."""
    work = scratch / f"{tag}"
    shutil.rmtree(work, ignore_errors=True)
    cfg = scratch / f"{tag}.yaml"
    cfg.write_text(yaml.safe_dump({
        "run": {"work_dir": str(work), "stages": list(STAGES), "fuse": fuse},
        "ray": {"num_cpus": cpus, "object_store_mb": 256, **({"in_driver_below_mb": 1e6} if driver else {})},
        "extract": {"inputs": [str(f) for f in files]},
        "langid": {"min_score": 0.65},
    }))  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               RAY_USAGE_STATS_ENABLED="0")  # fmt: skip
    before = load1()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--config", str(cfg)], cwd=ROOT, env=env,
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"run failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    stage_s = {}
    for name in STAGES:
        index = json.loads((work / "_state" / f"{name}.index").read_text())
        stage_s[name] = sum(r["run"]["seconds"] for r in index["records"].values())
    digests = {}
    if keep:
        digests = {str(p.relative_to(work)): hashlib.sha256(p.read_bytes()).hexdigest()
                   for p in sorted(work.rglob("*.parquet"))}  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return {"fuse": fuse, "wall": wall, "cpu": cpu, "before": before, "after": load1(), "stage_s": stage_s,
            "digests": digests}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=3, help="interleaved (fused, unfused) pairs")
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the embedded Ray")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--driver", action="store_true",
                    help="run the shards in the driver process, without Ray (ray.in_driver_below_mb): one process, "
                    "so its CPU seconds are all of the work, a figure the machine's load moves less than wall time")
    ap.add_argument("--workdir", type=Path, default=None, help="inputs and scratch (default: a new temp dir, removed)")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = ap.parse_args()
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="polyglot-fuse-"))
    tmp.mkdir(parents=True, exist_ok=True)
    files = make_input(tmp / f"warc-{args.pages}", args.pages, args.shards, args.seed)
    print(f"input {args.pages:,} pages in {len(files)} shards ({sum(f.stat().st_size for f in files) / 2**20:.1f} MB "
          f"gzip WARC); {args.cpus} Ray CPUs, {os.cpu_count()} cores; load {load3()}", flush=True)  # fmt: skip
    runs = []
    for i in range(args.pairs):
        for fuse in (True, False) if i % 2 == 0 else (False, True):  # the first run of a session is often slower
            r = run(files, tmp, args.cpus, fuse, f"{'fused' if fuse else 'apart'}{i}", keep=i == 0, driver=args.driver)
            runs.append(r)
            print(f"  {i + 1} {'fused' if fuse else 'unfused':8} {r['wall']:7.2f} s  cpu {r['cpu']:7.2f} s  "
                  f"load {r['before']:.2f} -> {r['after']:.2f}", flush=True)  # fmt: skip
    same = runs[0]["digests"] == runs[1]["digests"] and bool(runs[0]["digests"])
    rows = [["run", "side", "wall s", "docs/s", "process CPU s", "load before", "load after"]]
    for i, r in enumerate(runs):
        rows.append([str(i // 2 + 1), "fused" if r["fuse"] else "unfused", f"{r['wall']:.2f}",
                     f"{args.pages / r['wall']:,.0f}", f"{r['cpu']:.2f}", f"{r['before']:.2f}",
                     f"{r['after']:.2f}"])  # fmt: skip
    print()
    print(table(rows, args.markdown))
    fused = med([r["wall"] for r in runs if r["fuse"]])
    apart = med([r["wall"] for r in runs if not r["fuse"]])
    print(f"\nmedian wall: fused {fused:.2f} s, unfused {apart:.2f} s -> unfused / fused {apart / fused:.2f}x "
          f"(outputs {'byte-identical' if same else 'DIFFER'}: {len(runs[0]['digests'])} Parquet files)")  # fmt: skip
    cf, ca = med([r["cpu"] for r in runs if r["fuse"]]), med([r["cpu"] for r in runs if not r["fuse"]])
    where = "all of the work (in the driver)" if args.driver else "the driver only (Ray's workers not counted)"
    print(f"median process CPU: fused {cf:.2f} s, unfused {ca:.2f} s -> {ca / cf:.2f}x; {where}\n")
    rows = [["stage", "fused: worker s summed (median)", "unfused: worker s summed (median)"]]
    for name in STAGES:
        rows.append([name, f"{med([r['stage_s'][name] for r in runs if r['fuse']]):.2f}",
                     f"{med([r['stage_s'][name] for r in runs if not r['fuse']]):.2f}"])  # fmt: skip
    print(table(rows, args.markdown))
    print(f"\nload average at the end: {load3()}")
    if args.workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    if not same:
        sys.exit("fused and unfused outputs differ")


if __name__ == "__main__":
    main()
