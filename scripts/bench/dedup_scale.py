"""Benchmark: the Ray-free dedup core at scale -- 1,000,000 documents' signatures -> bands -> edges -> components.

Signatures are generated directly (no text): random uint32 values, with planted near-duplicate clusters -- a
cluster's members copy each position of the cluster's seed signature with probability s ~ U[0.85, 1.0] (so their
estimated Jaccard with the seed is ~ s), and get fresh random values elsewhere. `--dup-fraction` of the documents
are in planted clusters (sizes 2-10), the rest are singletons.

Steps timed, as the distributed stage would run them, but in one process:
  signatures   generate the [n, 128] uint32 array (stands in for reading the shards' signatures)
  band keys    band_keys() over the whole array (per shard in the stage)
  partition    partition_band_keys() into P parts (the shuffle)
  edges        bucket_edges() per part (lexsort + chain), concatenated
  verify       verify_edges() at the threshold (needs the signatures on the driver: 512 MB here)
  components   cluster_documents(): scipy connected components + cluster id / size / kept doc
and prints seconds per step, peak RSS (resource.getrusage), edge counts, and the planted pairs recovered.
Target: finishes on a 2-core box with peak RSS under 8 GB.

Not a test: run it by hand,  python scripts/bench/dedup_scale.py [--docs 1000000 --partitions 16]

`--components-edges N` instead runs the distributed connected components alone (the clusters step's path above
`dedup.distributed_above_edges`) on local Ray: Ray tasks write a random graph of N undirected edges over N
documents straight into node-partitioned edge files (70 % inside blocks of 8 documents: many small clusters; 20 %
chains of 1,000 through random documents; 10 % among the first 2 % of documents: one giant component), then the
large-star/small-star rounds of `pipeline.dedup.distributed.star_rounds` run to the end. Prints the rounds (one line
each), seconds, the peak RSS of the largest task (VmHWM of the Ray worker, reset at each task's start) and of the
driver; `--check` also compares the labels with scipy (small N only: scipy needs ~6 GB at 5e7 edges).

    python scripts/bench/dedup_scale.py --components-edges 50000000 --partitions 16
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline.dedup.components import cluster_documents  # noqa: E402
from pipeline.dedup.lsh import BandKeys, band_keys, bucket_edges, partition_band_keys, verified_lsh_params  # noqa: E402
from pipeline.dedup.verify import verify_edges  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def planted_signatures(n: int, num_perm: int, dup_fraction: float, rng: np.random.Generator):
    """(signatures [n, num_perm] uint32, planted cluster label per doc: -1 for singletons)."""
    sig = rng.integers(0, 2**32, size=(n, num_perm), dtype=np.uint32)
    label = np.full(n, -1, dtype=np.int64)
    n_dup = int(n * dup_fraction)
    sizes = []
    total = 0
    while total < n_dup:
        k = int(rng.integers(2, 11))
        k = min(k, n_dup - total) if n_dup - total >= 2 else 0
        if k < 2:
            break
        sizes.append(k)
        total += k
    members = rng.permutation(n)[:total]
    pos = 0
    chunk_rows = 1 << 16
    seeds, copies, probs = [], [], []
    for c, k in enumerate(sizes):
        m = members[pos : pos + k]
        pos += k
        label[m] = c
        seeds.append(np.full(k - 1, m[0]))
        copies.append(m[1:])
        probs.append(rng.uniform(0.85, 1.0, size=k - 1))
    seeds = np.concatenate(seeds)
    copies = np.concatenate(copies)
    probs = np.concatenate(probs)
    for s in range(0, len(copies), chunk_rows):
        sl = slice(s, s + chunk_rows)
        take = rng.random((len(copies[sl]), num_perm)) < probs[sl, None]
        rows = sig[copies[sl]]
        rows[take] = sig[seeds[sl]][take]
        sig[copies[sl]] = rows
    return sig, label


def _graph_part(job: dict) -> dict:
    """Ray task: generator g's share of the random graph, written split by node partition (both directions)."""
    from pipeline.dedup.distributed import peak_mb, reset_peak, write_split
    from pipeline.dedup.stars import both_ways

    reset_peak()
    g, P, n, m = job["g"], job["partitions"], job["docs"], job["edges"]
    rng = np.random.default_rng(job["seed"] * 1000 + g)
    span = (n // P) // 8 * 8
    lo, hi = g * span, (g + 1) * span if g < P - 1 else n
    k = m // P + (m % P if g == P - 1 else 0)
    k_small, k_chain = int(0.7 * k), int(0.2 * k)
    k_giant = k - k_small - k_chain
    a = rng.integers(lo, hi, k_small)
    b = np.minimum((a // 8) * 8 + rng.integers(0, 8, k_small), hi - 1)
    cn = lo + rng.permutation(hi - lo)[: min(hi - lo, k_chain + k_chain // 1000 + 1)]
    link = (np.arange(len(cn) - 1) % 1000) != 999
    ca, cb = cn[:-1][link][:k_chain], cn[1:][link][:k_chain]
    ga, gb = rng.integers(0, max(2, n // 50), k_giant), rng.integers(0, max(2, n // 50), k_giant)
    src, dst = np.concatenate([a, ca, ga]), np.concatenate([b, cb, gb])
    u, v = both_ways(src, dst)
    del a, b, ca, cb, ga, gb
    write_split(u, v, job["out"], g, P)
    if job["keep_edges"]:
        np.save(job["keep_edges"], np.stack([src, dst]))
    return {"edges": int(len(src)), "peak_mb": peak_mb()}  # the node id is added by _map_tasks


def components_bench(args: argparse.Namespace) -> None:
    import shutil
    import tempfile

    from pipeline.config import RaySection
    from pipeline.dedup.distributed import star_rounds
    from pipeline.runtime import ensure_ray
    from pipeline.stages.dedup import _map_tasks

    n = m = int(args.components_edges)
    P = args.partitions
    ensure_ray(RaySection(num_cpus=args.cpus, object_store_mb=512))
    root = tempfile.mkdtemp(prefix="dedup-cc-bench-")
    try:
        seed_dir = f"{root}/cc/round-000"
        t0 = time.perf_counter()
        jobs = [
            {"g": g, "partitions": P, "docs": n, "edges": m, "seed": args.seed, "out": seed_dir,
             "keep_edges": f"{root}/edges-{g}.npy" if args.check else None}
            for g in range(P)
        ]  # fmt: skip
        gen = _map_tasks(_graph_part, jobs, "bench: graph")
        print(f"{sum(r['edges'] for r in gen):,} edges over {n:,} documents in {P} partitions written in "
              f"{time.perf_counter() - t0:.1f} s (largest generator task {max(r['peak_mb'] for r in gen):,.0f} MB)",
              flush=True)
        t0 = time.perf_counter()
        labels, stats = star_rounds(f"{root}/cc", seed_dir, n, P, _map_tasks)
        secs = time.perf_counter() - t0
        print(f"\ncomponents: {secs:.1f} s, {stats['rounds']} rounds, largest task peak {stats['max_task_peak_mb']:,.0f} MB "
              f"(Ray worker RSS, {P} partitions), driver peak {peak_rss_mb():,.0f} MB "
              f"(labels: {labels.nbytes / 2**20:,.0f} MB); clusters {int((labels == np.arange(n)).sum()):,}")
        if args.check:
            from pipeline.dedup.components import connected_components

            e = np.concatenate([np.load(f"{root}/edges-{g}.npy") for g in range(P)], axis=1)
            same = np.array_equal(labels, connected_components(n, e[0], e[1]))
            print(f"same labels as scipy: {same}")
            if not same:
                raise SystemExit(1)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--dup-fraction", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--components-edges", type=float, default=0, help="run the distributed components bench instead")
    ap.add_argument("--cpus", type=int, default=2, help="local Ray CPUs (components bench)")
    ap.add_argument("--check", action="store_true", help="compare the components with scipy (small sizes)")
    args = ap.parse_args()
    if args.components_edges:
        components_bench(args)
        return

    rng = np.random.default_rng(args.seed)
    times: dict[str, float] = {}
    rss: dict[str, float] = {}

    def step(name: str, t0: float) -> None:
        times[name] = time.perf_counter() - t0
        rss[name] = rss_mb()
        print(f"  {name:12s} {times[name]:7.2f} s   rss {rss[name]:7.0f} MB   peak {peak_rss_mb():7.0f} MB", flush=True)

    n, P = args.docs, args.num_perm
    bands, rows = verified_lsh_params(args.threshold, P)
    print(f"{n:,} docs, {P} perms, threshold {args.threshold}: LSH {bands} bands x {rows} rows + verification; "
          f"{args.partitions} partitions; {args.dup_fraction:.0%} of docs in planted clusters")

    t0 = time.perf_counter()
    sig, label = planted_signatures(n, P, args.dup_fraction, rng)
    step("signatures", t0)

    t0 = time.perf_counter()
    keys = band_keys(sig, bands, rows)
    step("band keys", t0)
    n_keys = len(keys)

    t0 = time.perf_counter()
    parts = partition_band_keys(keys, args.partitions)
    del keys
    step("partition", t0)

    t0 = time.perf_counter()
    src_parts, dst_parts = [], []
    for i in range(len(parts)):
        s, d = bucket_edges(parts[i])
        parts[i] = BandKeys.empty()  # a worker would drop its partition when done
        src_parts.append(s)
        dst_parts.append(d)
    src, dst = np.concatenate(src_parts), np.concatenate(dst_parts)
    del src_parts, dst_parts, parts
    step("edges", t0)
    n_edges = len(src)

    t0 = time.perf_counter()
    vsrc, vdst = verify_edges(sig, src, dst, args.threshold)
    del src, dst
    step("verify", t0)

    t0 = time.perf_counter()
    clusters = cluster_documents(n, vsrc, vdst)
    step("components", t0)

    # planted pairs recovered: documents of one planted cluster found in one cluster
    dup = label >= 0
    lab, cid = label[dup], clusters.cluster_id[dup]
    order = np.lexsort((cid, lab))
    lab, cid = lab[order], cid[order]
    same_lab = lab[1:] == lab[:-1]
    linked = same_lab & (cid[1:] == cid[:-1])
    # (consecutive members of a planted cluster: a lower bound on pair recall, exact for fully-recovered clusters)
    # clusters holding documents of two planted groups, or a planted document with a singleton
    multi = clusters.cluster_size > 1
    cl, pl = clusters.cluster_id[multi], label[multi]
    o = np.lexsort((pl, cl))
    cl, pl = cl[o], pl[o]
    merged_wrong = int(((cl[1:] == cl[:-1]) & (pl[1:] != pl[:-1])).sum())

    multi = clusters.cluster_size > 1
    n_multi = int(np.unique(clusters.cluster_id[multi]).size)
    print(f"\nkeys {n_keys:,}; candidate edges {n_edges:,}; verified {len(vsrc):,}; clusters with >1 doc {n_multi:,}; "
          f"docs removed {clusters.num_removed:,} (planted duplicates: {int(dup.sum()) - int(label.max() + 1):,})")
    print(f"planted neighbours linked: {linked.sum() / max(1, same_lab.sum()):.4f}; clusters merging two planted "
          f"groups or a singleton: {merged_wrong}")
    total = sum(v for k, v in times.items() if k != "signatures")
    print(f"total (without generating signatures) {total:.1f} s; peak RSS {peak_rss_mb():,.0f} MB "
          f"(signatures alone {sig.nbytes / 2**20:,.0f} MB)")


if __name__ == "__main__":
    main()
