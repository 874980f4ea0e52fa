"""Benchmark: the dedup driver's peak memory against corpus size (exact verification, the default).

Builds a synthetic corpus per size (3 KB documents of random words from a 20,000-word vocabulary, one in ten a near
copy of an earlier one: 1% of its words replaced), as the langid stage's output in 16 shards; runs the dedup
signatures on local Ray; then runs the corpus-wide clusters step (`cluster_step`, i.e.
`pipeline.dedup.clusters.find_clusters`: candidate edges, exact verification, components, decision files) in a fresh
Python process and prints that process's peak RSS. The driver should hold per document only a few small columns (id,
scope, exact hash, length, cluster arrays), never the documents' shingle sets: the target is a peak at 160,000
documents no more than 1.2x the peak at 10,000.

Not a test: run it by hand,  python scripts/bench/dedup_driver.py [--docs 10000,160000] [--shards 16]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.config import parse_config  # noqa: E402

# VmHWM, not getrusage: Linux carries ru_maxrss across execve, so a child would report the bench's own peak.
_CLUSTERS = """
import json, sys, time
from pipeline.config import parse_config
from pipeline.stages.dedup import DedupSignatures, cluster_step
from pipeline.runtime import ensure_ray
def hwm_mb():
    line = next(x for x in open("/proc/self/status") if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
cfg = parse_config(json.loads(sys.argv[1]))
ensure_ray(cfg.ray)
base = hwm_mb()
t = time.perf_counter()
summary = cluster_step(cfg, sorted(DedupSignatures(cfg).plan(), key=lambda t: t.shard_id))
print(json.dumps({"peak_mb": hwm_mb(), "before_mb": base,
                  "seconds": time.perf_counter() - t, **{k: summary.get(k) for k in
                  ("documents", "candidate_edges", "verified_edges", "removed_exact", "removed_near")}}))
"""


def corpus(n: int, shards: int, seed: int, out: Path) -> None:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    rows: list[list[dict]] = [[] for _ in range(shards)]
    texts: list[str] = []
    for i in range(n):
        if texts and rng.random() < 0.1:
            words = rng.choice(texts).split(" ")
            for _ in range(max(1, len(words) // 100)):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            text = " ".join(words)
        else:
            text = " ".join(rng.choice(vocab) for _ in range(500))
        if len(texts) < 2000:
            texts.append(text)
        s = i % shards
        rows[s].append({"doc_id": f"S{s:03d}/{i}", "text": text, "lang": "eng_Latn", "url": f"https://ex.test/{i}"})
    (out / "in").mkdir(parents=True)
    (out / "out" / "langid").mkdir(parents=True)
    for s, docs in enumerate(rows):
        (out / "in" / f"S{s:03d}.warc.gz").write_bytes(b"")
        pq.write_table(pa.Table.from_pylist(docs), out / "out" / "langid" / f"S{s:03d}.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", default="10000,160000")
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--keep", help="Copy the last corpus and its signatures here (to profile the step again).")
    args = ap.parse_args()
    from pipeline.runtime import run_stage, shutdown_ray
    from pipeline.stages.dedup import DedupSignatures

    results = []
    for n in (int(x) for x in args.docs.split(",")):
        with tempfile.TemporaryDirectory(prefix="dedup-driver-") as tmp:
            root = Path(tmp)
            t = time.perf_counter()
            corpus(n, args.shards, 0, root)
            data = {
                "run": {"work_dir": str(root / "out"), "stages": ["extract", "langid", "dedup"]},
                "extract": {"inputs": [str(root / "in" / "*.warc.gz")]},
                "ray": {"num_cpus": 2},
            }
            cfg = parse_config(data)
            run_stage(DedupSignatures, cfg)
            shutdown_ray()  # the step runs alone, as after a resumed run: its own Ray, no signature workers around
            built = time.perf_counter() - t
            out = subprocess.run([sys.executable, "-c", _CLUSTERS, json.dumps(data)], capture_output=True, text=True,
                                 cwd=ROOT, check=True)  # fmt: skip
            res = json.loads(out.stdout.strip().splitlines()[-1])
            results.append((n, res))
            if args.keep:
                import shutil
                shutil.copytree(root, args.keep, dirs_exist_ok=True)
            print(f"{n:>9,} docs: clusters step peak RSS {res['peak_mb']:,.0f} MB (before the step "
                  f"{res['before_mb']:,.0f} MB), {res['seconds']:.1f} s; {res['candidate_edges']:,} candidate / "
                  f"{res['verified_edges']:,} verified edges, {res['removed_exact'] + res['removed_near']:,} removed "
                  f"(corpus + signatures {built:.0f} s)", flush=True)
    if len(results) > 1:
        (n0, r0), (n1, r1) = results[0], results[-1]
        print(f"peak RSS ratio {n1:,} / {n0:,} docs: {r1['peak_mb'] / r0['peak_mb']:.2f}x (target <= 1.2x); "
              f"growth {(r1['peak_mb'] - r0['peak_mb']) * 1024 * 1024 / (n1 - n0):,.0f} bytes per added document")


if __name__ == "__main__":
    main()
