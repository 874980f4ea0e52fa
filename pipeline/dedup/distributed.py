"""Connected components over node-partitioned edge files: large-star/small-star rounds (Kiveris et al. 2014), one
task per partition and operation, so a task holds one partition's edges and no edge reaches the caller.

Each partition task of the first round (`seed_edges`) verifies its own LSH candidates and writes them, with the
exact-duplicate chains of its share of exact hashes, to edge files split by a hash of the node
(`pipeline.dedup.stars`); the rounds (`star_rounds`) then run until every partition is stars centred on each
component's smallest document. The same labels as scipy's components on the driver, hence byte-identical decision
files. The tasks run through a `map_tasks(fn, jobs, label)` the caller gives (Ray tasks in the stage; in order in
this process by default); a task's result may carry a `node_id`, counted in the summary.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.dedup.edges import exact_edges, verified_edges
from pipeline.dedup.settings import DedupSettings
from pipeline.dedup.signatures import EMPTY_HASH, part_name
from pipeline.dedup.stars import both_ways, large_star, small_star, sorted_unique, split_by_node, star_labels, unsettled
from pipeline.storage import join, read_arrow, remove_tree, write_arrow

log = logging.getLogger(__name__)

#: Runs `fn(job)` for every job, results in job order; `label` names the work in messages.
MapTasks = Callable[[Callable[[Any], Any], list[Any], str], list[Any]]

#: Rounds after which the distributed components give up (a chain of 10^9 documents needs ~30).
MAX_ROUNDS = 100


def map_in_process(fn: Callable[[Any], Any], jobs: list[Any], label: str) -> list[Any]:
    """`fn(job)` for every job, one after the other in this process."""
    return [fn(j) for j in jobs]


def reset_peak() -> None:
    """Start this process's peak-RSS count afresh (Ray reuses worker processes across tasks)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # not Linux, or not allowed: the peak then covers the worker's earlier tasks too
        pass


def peak_mb() -> float:
    """Peak RSS of this process (MB) since `reset_peak`."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def edge_file(step_dir: str, to: int, frm: int) -> str:
    return join(step_dir, f"to-{to:04d}", f"from-{frm:04d}.arrow")


def write_split(u: np.ndarray, v: np.ndarray, step_dir: str, p: int, num_partitions: int) -> int:
    """Write directed edges to the partitions of their first node: one file per receiving partition."""
    for q, (pu, pv) in enumerate(split_by_node(u, v, num_partitions)):
        write_arrow(pa.table({"u": pu, "v": pv}), edge_file(step_dir, q, p))
    return len(u)


def read_partition(step_dir: str, p: int, num_partitions: int) -> tuple[np.ndarray, np.ndarray]:
    """Partition p's directed edges (sorted, unique) from every sender's file."""
    us, vs = [], []
    for q in range(num_partitions):
        t = read_arrow(edge_file(step_dir, p, q))
        us.append(t.column("u").to_numpy())
        vs.append(t.column("v").to_numpy())
    return sorted_unique(np.concatenate(us), np.concatenate(vs))


def seed_edges(job: dict[str, Any]) -> dict[str, Any]:
    """Partition p's verified candidate edges and exact-duplicate chains, written split by node partition: the
    input of the first round. Memory: one partition's candidates and its share of the exact hashes. A task."""
    reset_peak()
    d, p, num_partitions = job["dedup"], job["p"], job["partitions"]
    u_parts, v_parts = [], []
    out: dict[str, Any] = {"verified_edges": 0, "exact_edges": 0}
    if job["candidates"] is not None:
        t = read_arrow(job["candidates"])
        src, dst = t.column("src").to_numpy(), t.column("dst").to_numpy()
        src, dst = verified_edges(d, job["sig_files"], job["bases"], src, dst)
        out["verified_edges"] = int(len(src))
        u_parts.append(src)
        v_parts.append(dst)
    if d.exact:  # the documents whose exact hash falls in partition p: all copies of a text meet here
        idx_parts, hash_parts, scope_parts = [], [], []
        scopes = pa.array(job["scopes"], pa.string())
        for path, base in zip(job["sig_files"], job["bases"]):
            t = read_arrow(path, ["exact_hash", "scope"])
            h = t.column("exact_hash").to_numpy()
            mine = np.flatnonzero((h % np.uint64(num_partitions) == np.uint64(p)) & (h != np.uint64(EMPTY_HASH)))
            idx_parts.append(mine + int(base))
            hash_parts.append(h[mine])
            code = pc.index_in(t.column("scope").combine_chunks(), value_set=scopes).to_numpy(zero_copy_only=False)
            scope_parts.append(np.asarray(code, dtype=np.int64)[mine])
        idx, h, sc = np.concatenate(idx_parts), np.concatenate(hash_parts), np.concatenate(scope_parts)
        es, ed = exact_edges(h, sc, np.ones(len(h), dtype=bool))
        out["exact_edges"] = int(len(es))
        u_parts.append(idx[es])
        v_parts.append(idx[ed])
    u, v = both_ways(np.concatenate(u_parts), np.concatenate(v_parts))
    out["directed_edges"] = write_split(u, v, job["out"], p, num_partitions)
    out["peak_mb"] = peak_mb()
    return out


def star_step(job: dict[str, Any]) -> dict[str, Any]:
    """One large-star or small-star operation on partition p. A large star first counts the partition's unsettled
    nodes and, when there are none, writes its (leaf, centre) labels: if every partition is settled, those are
    the components and the step's output is not needed. A task."""
    reset_peak()
    p, num_partitions = job["p"], job["partitions"]
    u, v = read_partition(job["in"], p, num_partitions)
    out: dict[str, Any] = {"edges": int(len(u))}
    if job["op"] == "large":
        out["unsettled"] = unsettled(u, v)
        if out["unsettled"] == 0:
            leaf, centre = star_labels(u, v)
            write_arrow(pa.table({"doc": leaf, "label": centre}), join(job["labels"], f"{part_name(p)}.arrow"))
        a, b = large_star(u, v)
    else:
        a, b = small_star(u, v)
    del u, v
    write_split(*both_ways(a, b), job["out"], p, num_partitions)
    out["peak_mb"] = peak_mb()
    return out


def _nodes(results: list[dict[str, Any]]) -> set[str]:
    return {r["node_id"] for r in results if "node_id" in r}


def star_rounds(
    root: str, seed_dir: str, num_docs: int, num_partitions: int, map_tasks: MapTasks = map_in_process
) -> tuple[np.ndarray, dict[str, Any]]:
    """Large-star/small-star rounds over the node-partitioned edge files in `seed_dir` (to-<q>/from-<p>.arrow,
    both directions) until every partition is stars; the step files go under `root` and are removed as soon as
    the next step has read them, `root` itself at the end. Returns (labels, counts)."""
    P = num_partitions
    labels_dir = join(root, "labels")
    peak, nodes = 0.0, set()
    current, rounds = seed_dir, 0
    while True:
        t_round = time.perf_counter()
        after_large = join(root, f"round-{rounds + 1:03d}-large")
        res = map_tasks(
            star_step,
            [
                {"op": "large", "p": p, "partitions": P, "in": current, "out": after_large, "labels": labels_dir}
                for p in range(P)
            ],
            "dedup components: large-star",
        )
        peak = max(peak, *(r["peak_mb"] for r in res))
        nodes.update(_nodes(res))
        edges, left = sum(r["edges"] for r in res) // 2, sum(r["unsettled"] for r in res)
        remove_tree(current)
        if left == 0:
            remove_tree(after_large)
            break
        if rounds >= MAX_ROUNDS:
            raise RuntimeError(f"dedup components: not settled after {MAX_ROUNDS} rounds ({left:,} nodes left)")
        rounds += 1
        current = join(root, f"round-{rounds:03d}")
        res = map_tasks(
            star_step,
            [{"op": "small", "p": p, "partitions": P, "in": after_large, "out": current} for p in range(P)],
            "dedup components: small-star",
        )
        peak = max(peak, *(r["peak_mb"] for r in res))
        nodes.update(_nodes(res))
        remove_tree(after_large)
        log.info(
            f"dedup components: round {rounds}: {edges:,} edges, {left:,} unsettled nodes | "
            f"{time.perf_counter() - t_round:.1f} s",
        )
    labels = np.arange(num_docs, dtype=np.int64)
    clustered = 0
    for p in range(P):
        t = read_arrow(join(labels_dir, f"{part_name(p)}.arrow"))
        labels[t.column("doc").to_numpy()] = t.column("label").to_numpy()
        clustered += t.num_rows
    remove_tree(root)
    log.info(
        f"dedup components: settled after {rounds} rounds, {clustered:,} documents joined to another",
    )
    return labels, {"rounds": rounds, "max_task_peak_mb": round(peak, 1), "node_ids": sorted(nodes)}


def distributed_labels(
    d: DedupSettings,
    root: str,
    sig_files: list[str],
    bases: np.ndarray,
    num_docs: int,
    scopes: list[str],
    candidate_files: list[str] | None,
    map_tasks: MapTasks = map_in_process,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Each document's component label (smallest index in its cluster) by large-star/small-star rounds as tasks
    over node-partitioned edge files under `root`; the caller holds per-document labels and per-task counts, no
    edges. `d` is the `dedup` settings. Returns (labels, summary counts)."""
    P = d.num_partitions
    t0 = time.perf_counter()
    seed_dir = join(root, "round-000")
    jobs = [
        {
            "dedup": d, "p": p, "partitions": P, "out": seed_dir, "sig_files": sig_files, "bases": bases,
            "scopes": scopes, "candidates": candidate_files[p] if candidate_files else None,
        }
        for p in range(P)
    ]  # fmt: skip
    seeds = map_tasks(seed_edges, jobs, "dedup components: seed")
    summary: dict[str, Any] = {
        "verified_edges": sum(s["verified_edges"] for s in seeds),
        "exact_edges": sum(s["exact_edges"] for s in seeds),
    }
    labels, stats = star_rounds(root, seed_dir, num_docs, P, map_tasks)
    node_ids = set(stats.pop("node_ids")) | _nodes(seeds)
    summary.update(stats, task_nodes=len(node_ids))
    summary["max_task_peak_mb"] = round(max(stats["max_task_peak_mb"], *(s["peak_mb"] for s in seeds)), 1)
    summary["components_seconds"] = round(time.perf_counter() - t0, 3)
    return labels, summary
