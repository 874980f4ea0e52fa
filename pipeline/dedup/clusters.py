"""The corpus-wide clusters step of `polyglot dedup`: candidate edges, verification, exact-duplicate chains,
connected components and the keep decision of every document, from the per-shard signature files.

One task per LSH partition sorts its keys and links the members of every bucket as a chain (k members, k-1 edges). On
the driver path the caller keeps the candidate edges whose Jaccard reaches the threshold (`verified_edges`: of the
shingle-hash sets, or the signature estimate), a batch of edges at a time reading only their documents' rows, adds a
chain per group of identical normalized texts (exact duplicates), and takes connected components with scipy; above
`distributed_above_edges` (or with `components: distributed`) they run as large-star/small-star rounds
(`pipeline.dedup.distributed`). Each cluster keeps one document — the first in corpus order (shard id, then record
offset), or the longest — and the decisions of both keep policies are written per shard (`decide`), so changing
`dedup.keep` reruns only the apply step. Not a `groupby` and not a pairwise index: sorting is the grouping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.dedup.components import Clusters, clusters_from_labels, connected_components
from pipeline.dedup.distributed import MapTasks, distributed_labels, map_in_process
from pipeline.dedup.edges import candidate_edges_to_file, exact_edges, partition_edges, verified_edges
from pipeline.dedup.lsh import dedupe_edges
from pipeline.dedup.settings import DedupSettings
from pipeline.dedup.signatures import EMPTY_HASH, part_name
from pipeline.storage import join, read_arrow, remove_tree, write_arrow

REASON_EXACT = "exact-duplicate"
REASON_NEAR = "near-duplicate"


def find_clusters(
    d: DedupSettings,
    shards: list[dict[str, str]],
    decision_files: list[str],
    work: str,
    *,
    edge_tasks: MapTasks = map_in_process,
    partition_tasks: MapTasks = map_in_process,
) -> dict[str, Any]:
    """Cluster the corpus and write one decision file per shard; returns the summary counts.

    `shards` are the signature step's outputs per shard in corpus order (``signatures`` and, with `fuzzy`, the
    band-key part files by `part_name`); `work` is a scratch folder (removed before and after). `edge_tasks` runs
    the bucket-edge tasks, `partition_tasks` the distributed components' tasks."""
    t0 = time.perf_counter()
    sig_files = [s["signatures"] for s in shards]
    metas = [read_arrow(f, ["doc_id", "scope", "exact_hash", "chars"]) for f in sig_files]
    counts = np.array([m.num_rows for m in metas], dtype=np.int64)
    bases = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    n = int(counts.sum())
    doc_ids = pa.concat_arrays([m.column("doc_id").combine_chunks() for m in metas]) if metas else pa.array([], pa.string())
    scopes = pa.concat_arrays([m.column("scope").combine_chunks() for m in metas]) if metas else pa.array([], pa.string())
    exact = np.concatenate([m.column("exact_hash").to_numpy() for m in metas]) if metas else np.empty(0, np.uint64)
    chars = np.concatenate([m.column("chars").to_numpy() for m in metas]) if metas else np.empty(0, np.int64)
    scope_dict = pc.dictionary_encode(scopes) if n else None
    scope = scope_dict.indices.to_numpy(zero_copy_only=False).astype(np.int64) if n else np.empty(0, np.int64)
    usable = exact != np.uint64(EMPTY_HASH)

    src_parts: list[np.ndarray] = []
    dst_parts: list[np.ndarray] = []
    summary: dict[str, Any] = {"documents": n, "shards": len(shards)}
    remove_tree(work)  # leftovers of a killed run
    exact_pairs = exact_edges(exact, scope, usable) if d.exact and n and d.components != "distributed" else None
    distributed = d.components == "distributed"
    candidate_files: list[str] | None = None
    if d.fuzzy and n:
        band_files = [
            [(s[part_name(p)], int(bases[i])) for i, s in enumerate(shards)] for p in range(d.num_partitions)
        ]
        if d.components == "driver":
            edges = edge_tasks(partition_edges, [(f, "chain") for f in band_files], "dedup: bucket edges")
            src = np.concatenate([e[0] for e in edges])
            dst = np.concatenate([e[1] for e in edges])
        else:  # candidates stay in files; their count decides where the components run
            cand_dir = join(work, "candidates")
            candidate_files = [join(cand_dir, f"{part_name(p)}.arrow") for p in range(d.num_partitions)]
            found = edge_tasks(
                candidate_edges_to_file,
                [(f, "chain", out) for f, out in zip(band_files, candidate_files)],
                "dedup: bucket edges",
            )
            total = sum(found) + (len(exact_pairs[0]) if exact_pairs is not None else 0)
            distributed = distributed or total > d.distributed_above_edges
            if not distributed:
                tables = [read_arrow(f) for f in candidate_files]
                src = np.concatenate([t.column("src").to_numpy() for t in tables])
                dst = np.concatenate([t.column("dst").to_numpy() for t in tables])
                del tables
        if not distributed:
            src, dst = dedupe_edges(src, dst)
            summary["candidate_edges"] = int(len(src))
            src, dst = verified_edges(d, sig_files, bases, src, dst)
            summary["verified_edges"] = int(len(src))
            src_parts.append(src)
            dst_parts.append(dst)
        else:
            summary["candidate_edges"] = int(sum(found))  # repeats across partitions not yet removed
    elif exact_pairs is not None and d.components == "auto":
        distributed = len(exact_pairs[0]) > d.distributed_above_edges
    if distributed and n:
        del exact_pairs
        cid, stats = distributed_labels(
            d, work, sig_files, bases, n, scope_dict.dictionary.to_pylist(), candidate_files, partition_tasks
        )
        summary.update(stats, components="distributed")
        if not d.exact:
            summary.pop("exact_edges", None)
    else:
        if exact_pairs is not None:
            summary["exact_edges"] = int(len(exact_pairs[0]))
            src_parts.append(exact_pairs[0])
            dst_parts.append(exact_pairs[1])
        del exact_pairs
        src = np.concatenate(src_parts) if src_parts else np.empty(0, np.int64)
        dst = np.concatenate(dst_parts) if dst_parts else np.empty(0, np.int64)
        cid = connected_components(n, src, dst)
        del src, dst, src_parts, dst_parts
        summary["components"] = "driver"
    remove_tree(work)
    decisions = decide(cid, exact, scope, chars, d.keep)
    for i, path in enumerate(decision_files):
        lo = int(bases[i])
        write_arrow(decisions.table(doc_ids, lo, lo + int(counts[i])), path)
    clusters = decisions.clusters
    summary.update(
        clusters=int(clusters.num_clusters),
        removed_exact=decisions.removed_exact,
        removed_near=decisions.removed_near,
        largest_cluster=int(clusters.cluster_size.max()) if n else 0,
        seconds=round(time.perf_counter() - t0, 3),
    )
    return summary


@dataclass
class Decisions:
    """Every document's decision under both keep policies (`first`, `longest`), and the clusters of the one in force."""

    columns: dict[str, dict[str, Any]]
    clusters: Clusters
    removed_exact: int
    removed_near: int

    def table(self, doc_ids: pa.Array, lo: int, hi: int) -> pa.Table:
        """The decision file of the documents lo..hi (one shard): ``cluster_size``, and ``keep_<policy>``,
        ``kept_doc_id_<policy>``, ``reason_<policy>`` (exact- or near-duplicate; null when kept) per policy."""
        table: dict[str, pa.Array] = {"cluster_size": pa.array(self.clusters.cluster_size[lo:hi], pa.int32())}
        for policy, c in self.columns.items():
            table[f"keep_{policy}"] = pa.array(c["keep"][lo:hi], pa.bool_())
            table[f"kept_doc_id_{policy}"] = doc_ids.take(pa.array(c["kept_id"][lo:hi]))
            table[f"reason_{policy}"] = c["reason"].slice(lo, hi - lo).cast(pa.string())
        return pa.table(table)


def decide(cid: np.ndarray, exact: np.ndarray, scope: np.ndarray, chars: np.ndarray, keep_policy: str) -> Decisions:
    """From component labels: the kept document of every cluster under both policies, and why each other document
    is removed (`REASON_EXACT` when its normalized text and scope equal the kept one's, else `REASON_NEAR`)."""
    usable = exact != np.uint64(EMPTY_HASH)
    columns: dict[str, dict[str, Any]] = {}
    for policy, quality in (("first", None), ("longest", chars.astype(np.float64))):
        found = clusters_from_labels(cid, quality=quality)
        kept_id = found.kept_id
        same_text = usable & (exact == exact[kept_id]) & (scope == scope[kept_id])
        # the reason as dictionary codes (null = kept), cast to strings per shard: no Python object per doc
        reason = pa.DictionaryArray.from_arrays(
            pa.array(np.where(same_text, 0, 1).astype(np.int8), mask=found.keep), pa.array([REASON_EXACT, REASON_NEAR])
        )
        columns[policy] = {"keep": found.keep, "kept_id": kept_id, "reason": reason}
        if policy == keep_policy:
            clusters, keep = found, found.keep
            removed_exact, removed_near = int(((~keep) & same_text).sum()), int(((~keep) & ~same_text).sum())
    return Decisions(columns, clusters, removed_exact, removed_near)
