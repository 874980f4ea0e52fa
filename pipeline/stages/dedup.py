"""`polyglot dedup`: exact and near-duplicate removal across the whole corpus, in three resumable steps on Ray.

1. **signatures** (per shard, `DedupSignatures`): each document's exact hash (`pipeline.dedup.normalize`), its MinHash
   signature over script-aware shingles (`pipeline.dedup.shingles`: word 5-grams, character 5-grams for zh/ja/th,
   Korean and other scripts where words are not separated or too long; by the text's own script, never its label)
   and its LSH band keys. The scope key — the text's script (default; Han, kana and Hangul are one: `scope_key`),
   the language label (`scope: language`) or nothing (`global`) — is mixed into every bucket hash, so buckets never
   mix scopes, and kept beside the signature for the exact-duplicate groups. The band keys are written
   split into `num_partitions` files by a hash of (band, bucket): every member of a bucket lands in the same
   partition, whichever shard it came from.
2. **clusters** (corpus-wide, `find_clusters`): one Ray task per partition sorts its keys and links the members of
   every bucket as a chain (k members, k-1 edges). The driver keeps the candidate edges whose Jaccard reaches the
   threshold (`verify`: of the shingle-hash sets, or the signature estimate), a batch of edges at a time reading only
   their documents' rows, adds a chain per group of identical normalized texts (exact
   duplicates), and takes connected components with scipy, or, above `distributed_above_edges`, with distributed
   large-star/small-star rounds (see Scale). Each cluster keeps one document — the first in corpus
   order (shard id, then record offset), or the longest — and the decision for every document is written per shard.
   Not Ray Data `groupby` (130 s for 2M keys here, see the Ray notes) and not a pairwise index: sorting is the grouping.
3. **apply** (per shard, `DedupStage`): kept documents go to `dedup/<shard>.parquet` with `dup_cluster_size` (how many
   copies the corpus had; balancing may upsample by it) and `dup_cluster_id` (the kept document's id); removed ones to
   `_removed/dedup/<shard>.parquet` with `dedup_reason` (`exact-duplicate` when its normalized text equals the kept
   one's, else `near-duplicate`) and `duplicate_of`.

Scale: the driver holds 8 bytes of exact hash and a few bytes of metadata per document. On the scipy path
(`dedup.components: driver`, or `auto` up to `distributed_above_edges`) it also holds the candidate edges and the
shingle sets (or signatures) of one batch of edge endpoints (`dedup.verify_batch_edges`); scipy's components run ~1e7
edges in ~9 s / 1.3 GB, ~5e7 in ~55 s / 6 GB on this 2-core machine (Ray notes). On the distributed path no edge
reaches the driver: each partition task verifies its own candidates and writes them, with the exact-duplicate
chains of its share of exact hashes, to edge files split by a hash of the node (`pipeline.dedup.stars`);
large-star/small-star rounds (Kiveris et al. 2014) then run as one Ray task per partition and operation until every
partition is stars centred on each component's smallest document, so a task holds one partition's edges. Both paths
give the same labels, hence byte-identical decision files. `scripts/bench/dedup_scale.py --components-edges` measures
it.
"""

from __future__ import annotations

import logging
import resource
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from pipeline.config import PipelineConfig
from pipeline.dedup.components import clusters_from_labels, connected_components
from pipeline.dedup.document import exact_hash_and_shingles
from pipeline.dedup.lsh import (
    BandKeys,
    band_keys,
    bucket_edges,
    dedupe_edges,
    partition_band_keys,
    salt_buckets,
)
from pipeline.dedup.minhash import MinHasher
from pipeline.dedup.normalize import exact_hash, exact_hashes
from pipeline.dedup.shingles import text_script
from pipeline.dedup.stars import (
    both_ways,
    large_star,
    small_star,
    sorted_unique,
    split_by_node,
    star_labels,
    unsettled,
)
from pipeline.dedup.verify import ShingleSets, verify_edges, verify_edges_exact
from pipeline.runtime import CompositeStage, CorpusStep, ShardStep
from pipeline.stages import upstream_tasks
from pipeline.stages.base import (
    BatchResult,
    DocumentStage,
    Progress,
    ShardStats,
    ShardTask,
    Stage,
    work_path,
)
from pipeline.storage import (
    fs_and_path,
    join,
    read_arrow,
    read_parquet,
    write_arrow,
)

log = logging.getLogger(__name__)

REASON_EXACT = "exact-duplicate"
REASON_NEAR = "near-duplicate"
#: The exact hash of a text without a single word character: such documents are never grouped as duplicates.
EMPTY_HASH = exact_hash("")

SIG_VERSION = "3"
CLUSTERS_VERSION = "4"

#: What each step reads of the `dedup` section: a change reruns that step and what follows, nothing earlier.
SIGNATURE_KEYS = tuple(f"dedup.{k}" for k in (
    "exact", "fuzzy", "scope", "threshold", "num_perm", "bands", "rows", "verify", "shingles", "hashfunc", "seed",
    "num_partitions",
))  # fmt: skip
CLUSTER_KEYS = SIGNATURE_KEYS  # verify also decides the LSH shape (lsh_shape), so the signatures read it too
APPLY_KEYS = ("dedup.keep",)


def _part_name(p: int) -> str:
    return f"part-{p:04d}"


#: Scripts that one text can flip between (a Simplified/Traditional mix, Japanese with few kana, Korean with Hanja):
#: one dedup scope, so its copies are always compared.
_CJK_SCOPE = frozenset({"Hani", "Hans", "Hant", "Jpan", "Hira", "Kana", "Hang", "Kore", "Jamo"})


def scope_key(scope: str, script: str, lang: str) -> str:
    """The group a document is compared within: its text's script (CJK pooled), its language label, or one group."""
    if scope == "script":
        return "CJK" if script in _CJK_SCOPE else script
    return lang if scope == "language" else ""


def _salt(keys: list[str]) -> np.ndarray:
    """A 64-bit value per document from its scope key, mixed into its bucket hashes."""
    table = {k: xxhash.xxh64_intdigest(k.encode()) for k in set(keys)}
    return np.fromiter((table[k] for k in keys), dtype=np.uint64, count=len(keys))


# ---------------------------------------------------------------------------------------------- 1. signatures


class DedupSignatures(Stage):
    """Per shard: exact hashes, MinHash signatures and partitioned LSH band keys."""

    name = "dedup/signatures"
    version = SIG_VERSION

    def config_parts(self) -> tuple[str, ...]:
        return SIGNATURE_KEYS

    def plan(self) -> list[ShardTask]:
        d = self.cfg.dedup
        tasks = []
        for t in upstream_tasks(self.cfg, "dedup"):
            outputs = {"signatures": join(self.stage_dir(), f"{t.shard_id}.arrow")}
            if d.fuzzy:
                for p in range(d.num_partitions):
                    outputs[_part_name(p)] = work_path(self.cfg, "dedup", "bands", _part_name(p), f"{t.shard_id}.arrow")
            tasks.append(ShardTask(t.shard_id, (t.outputs["main"],), outputs, input_hashes=t.reading()))
        return tasks

    def setup(self) -> None:
        d = self.cfg.dedup
        self.hasher = MinHasher(d.num_perm, d.seed, d.hashfunc, "affine32")
        self.shingles = d.shingles
        self.bands, self.rows = d.lsh_shape()

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        d = self.cfg.dedup
        stats = ShardStats()
        table = read_parquet(task.inputs[0], columns=["doc_id", "text", "lang"])
        texts = table.column("text").to_pylist()
        langs = table.column("lang").to_pylist()
        n = len(texts)
        # fuzzy: each document's exact hash comes with its shingles, from one normalization of its text
        hashes = np.empty(n, dtype=np.uint64) if d.fuzzy else exact_hashes(texts)
        scripts = [text_script(t) for t in texts]
        scopes = [scope_key(d.scope, sc, lang or "") for sc, lang in zip(scripts, langs)]
        cols: dict[str, Any] = {
            "doc_id": table.column("doc_id"),
            "lang": table.column("lang"),
            "scope": pa.array(scopes, pa.string()),
            "exact_hash": hashes,
            "chars": pa.array(np.fromiter((len(t) for t in texts), dtype=np.int64, count=n), pa.int64()),
        }
        if d.fuzzy:
            sigs = np.empty((n, d.num_perm), dtype=np.uint32)
            value_parts: list[np.ndarray] = []
            lengths = np.zeros(n, dtype=np.int64)
            step = 500
            for s in range(0, n, step):
                chunk = zip(texts[s : s + step], scripts[s : s + step])
                pairs = [exact_hash_and_shingles(t, self.shingles, sc) for t, sc in chunk]
                hashes[s : s + len(pairs)] = [h for h, _ in pairs]
                sh = [x for _, x in pairs]
                counts = np.fromiter(map(len, sh), dtype=np.int64, count=len(sh))
                flat = self.hasher.hash_values([x for doc in sh for x in doc])
                offsets = np.concatenate(([0], np.cumsum(counts)))
                sigs[s : s + len(sh)] = self.hasher.signatures_from_hashes(flat, offsets)
                if d.verify == "exact":  # the same hashes, as sorted sets, for verifying candidates exactly
                    sets = ShingleSets.from_hashes([flat[offsets[i] : offsets[i + 1]] for i in range(len(sh))])
                    value_parts.append(sets.values)
                    lengths[s : s + len(sh)] = np.diff(sets.offsets)
                progress(len(sh))
            cols["signature"] = pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1), pa.uint32()), d.num_perm)
            if d.verify == "exact":
                offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
                values = np.concatenate(value_parts) if value_parts else np.empty(0, np.uint32)
                cols["shingle_hashes"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.astype(np.uint32)))
            keys = band_keys(sigs, self.bands, self.rows)  # doc = row within this shard
            if d.scope != "global":
                salt_buckets(keys, _salt(scopes))
            for p, part in enumerate(partition_band_keys(keys, d.num_partitions)):
                write_arrow(part.to_arrow(), task.outputs[_part_name(p)])
        else:
            progress(n)
        cols["exact_hash"] = pa.array(hashes, pa.uint64())
        write_arrow(pa.table(cols), task.outputs["signatures"])
        for text, lang in zip(texts, langs):
            stats.seen(lang, text)
            stats.kept(lang, text)
        stats.count("band_keys", int(n * self.bands) if d.fuzzy else 0)
        return stats


# ------------------------------------------------------------------------------------------------ 2. clusters


def partition_edges(job: tuple[list[tuple[str, int]], str]) -> tuple[np.ndarray, np.ndarray]:
    """One partition's candidate edges (global document indices), from every shard's part file.

    `job` = ([(band-key file, index of the shard's first document), ...], edge mode). Runs as a Ray task.
    """
    files, mode = job
    parts = []
    for path, base in files:
        keys = BandKeys.from_arrow(read_arrow(path))
        keys.doc = keys.doc + base  # memory-mapped arrays are read-only
        parts.append(keys)
    src, dst = bucket_edges(BandKeys.concat(parts), mode)
    return dedupe_edges(src, dst)


def _exact_edges(exact: np.ndarray, scope: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chains linking documents with the same (scope, exact hash); documents without words are left out."""
    idx = np.flatnonzero(usable)
    order = idx[np.lexsort((idx, exact[idx], scope[idx]))]
    same = (exact[order][1:] == exact[order][:-1]) & (scope[order][1:] == scope[order][:-1])
    return order[:-1][same], order[1:][same]


def _shard_of(bases: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.searchsorted(bases, rows, side="right") - 1


def _gather_rows(sig_files: list[str], bases: np.ndarray, rows: np.ndarray, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, per-row lengths) of one list column at the given global document indices (sorted, unique), read
    shard by shard. Rows are sliced out of the memory-mapped chunks with numpy: only their pages are read, and
    nothing is copied but them (Arrow's `take` reads and copies a list column's whole chunk)."""
    shard_of = _shard_of(bases, rows)
    values: list[np.ndarray] = []
    lengths: list[int] = []
    for s in np.unique(shard_of):
        want = rows[shard_of == s] - bases[s]
        start = 0
        for chunk in read_arrow(sig_files[s], [column]).column(column).chunks:
            lo, hi = np.searchsorted(want, [start, start + len(chunk)])
            if hi > lo:
                if isinstance(chunk, pa.FixedSizeListArray):
                    width = chunk.type.list_size
                    offsets = np.arange(len(chunk) + 1, dtype=np.int64) * width + chunk.offset * width
                else:
                    offsets = chunk.offsets.to_numpy()
                flat = chunk.values.to_numpy(zero_copy_only=False)
                picked = [flat[offsets[r] : offsets[r + 1]] for r in (want[lo:hi] - start).tolist()]
                values.append(np.concatenate(picked))  # a copy: the shard's mapping is released before the next
                lengths += map(len, picked)
            start += len(chunk)
    out = np.concatenate(values) if values else np.empty(0, np.uint32)
    return out, np.asarray(lengths, dtype=np.int64)


def _gather_signatures(sig_files: list[str], bases: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Signatures of the given global document indices (sorted, unique)."""
    values, lengths = _gather_rows(sig_files, bases, rows, "signature")
    return values.reshape(len(lengths), -1) if len(lengths) else np.empty((0, 0), np.uint32)


def _gather_shingle_sets(sig_files: list[str], bases: np.ndarray, rows: np.ndarray) -> ShingleSets:
    """Shingle-hash sets of the given global document indices (sorted, unique)."""
    values, lengths = _gather_rows(sig_files, bases, rows, "shingle_hashes")
    return ShingleSets(values, np.concatenate(([0], np.cumsum(lengths))))


def _verify(d: Any, files: list[str], bases: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Mask of the candidate edges that pass verification, `dedup.verify_batch_edges` at a time: the driver holds
    the shingle sets (or signatures) of at most twice as many documents, whatever the corpus size."""
    keep = np.zeros(len(src), dtype=bool)
    step = d.verify_batch_edges
    for lo in range(0, len(src), step):
        s, t = src[lo : lo + step], dst[lo : lo + step]
        nodes = np.unique(np.concatenate([s, t]))
        a, b = np.searchsorted(nodes, s), np.searchsorted(nodes, t)
        if d.verify == "exact":
            sets = _gather_shingle_sets(files, bases, nodes)
            keep[lo : lo + len(s)] = verify_edges_exact(sets, a, b, d.threshold, return_mask=True)
        else:
            sigs = _gather_signatures(files, bases, nodes)
            keep[lo : lo + len(s)] = verify_edges(sigs, a, b, d.threshold, return_mask=True)
        pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed batches otherwise
    return keep


# -- distributed connected components: every function below `_seed_edges` runs as a Ray task on one partition


def _cc_dir(cfg: PipelineConfig) -> str:
    """Intermediate edge files of the distributed components; removed before and after each run."""
    return work_path(cfg, "dedup", "cc")


def _rmtree(url: str) -> None:
    fs, path = fs_and_path(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def _reset_peak() -> None:
    """Start this process's peak-RSS count afresh (Ray reuses worker processes across tasks)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:  # not Linux, or not allowed: the peak then covers the worker's earlier tasks too
        pass


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _peak_mb() -> float:
    """Peak RSS of this process (MB) since `_reset_peak`."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _edge_file(step_dir: str, to: int, frm: int) -> str:
    return join(step_dir, f"to-{to:04d}", f"from-{frm:04d}.arrow")


def _write_split(u: np.ndarray, v: np.ndarray, step_dir: str, p: int, num_partitions: int) -> int:
    """Write directed edges to the partitions of their first node: one file per receiving partition."""
    for q, (pu, pv) in enumerate(split_by_node(u, v, num_partitions)):
        write_arrow(pa.table({"u": pu, "v": pv}), _edge_file(step_dir, q, p))
    return len(u)


def _read_partition(step_dir: str, p: int, num_partitions: int) -> tuple[np.ndarray, np.ndarray]:
    """Partition p's directed edges (sorted, unique) from every sender's file."""
    us, vs = [], []
    for q in range(num_partitions):
        t = read_arrow(_edge_file(step_dir, p, q))
        us.append(t.column("u").to_numpy())
        vs.append(t.column("v").to_numpy())
    return sorted_unique(np.concatenate(us), np.concatenate(vs))


def candidate_edges_to_file(job: tuple[list[tuple[str, int]], str, str]) -> int:
    """One LSH partition's candidate edges written to a file instead of returned; their number. A Ray task."""
    files, mode, out = job
    src, dst = partition_edges((files, mode))
    write_arrow(pa.table({"src": src, "dst": dst}), out)
    return int(len(src))


def _seed_edges(job: dict[str, Any]) -> dict[str, Any]:
    """Partition p's verified candidate edges and exact-duplicate chains, written split by node partition: the
    input of the first round. Memory: one partition's candidates and its share of the exact hashes."""
    _reset_peak()
    d, p, num_partitions = job["dedup"], job["p"], job["partitions"]
    u_parts, v_parts = [], []
    out: dict[str, Any] = {"verified_edges": 0, "exact_edges": 0}
    if job["candidates"] is not None:
        t = read_arrow(job["candidates"])
        src, dst = t.column("src").to_numpy(), t.column("dst").to_numpy()
        if d.verify != "off" and len(src):
            keep = _verify(d, job["sig_files"], job["bases"], src, dst)
            src, dst = src[keep], dst[keep]
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
        es, ed = _exact_edges(h, sc, np.ones(len(h), dtype=bool))
        out["exact_edges"] = int(len(es))
        u_parts.append(idx[es])
        v_parts.append(idx[ed])
    u, v = both_ways(np.concatenate(u_parts), np.concatenate(v_parts))
    out["directed_edges"] = _write_split(u, v, job["out"], p, num_partitions)
    out["peak_mb"] = _peak_mb()
    out["node_id"] = _node_id()
    return out


def _star_step(job: dict[str, Any]) -> dict[str, Any]:
    """One large-star or small-star operation on partition p. A large star first counts the partition's unsettled
    nodes and, when there are none, writes its (leaf, centre) labels: if every partition is settled, those are
    the components and the step's output is not needed."""
    _reset_peak()
    p, num_partitions = job["p"], job["partitions"]
    u, v = _read_partition(job["in"], p, num_partitions)
    out: dict[str, Any] = {"edges": int(len(u))}
    if job["op"] == "large":
        out["unsettled"] = unsettled(u, v)
        if out["unsettled"] == 0:
            leaf, centre = star_labels(u, v)
            write_arrow(pa.table({"doc": leaf, "label": centre}), join(job["labels"], f"{_part_name(p)}.arrow"))
        a, b = large_star(u, v)
    else:
        a, b = small_star(u, v)
    del u, v
    _write_split(*both_ways(a, b), job["out"], p, num_partitions)
    out["peak_mb"] = _peak_mb()
    out["node_id"] = _node_id()
    return out


def _map_tasks(fn: Any, jobs: list[Any], label: str) -> list[Any]:
    """`fn(job)` for every job as Ray tasks (Ray runs as many at once as there are CPUs); results in job order."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # Partition i prefers node i mod N (soft: any node when that one is busy or gone): with SPREAD alone, tasks this
    # short all ran on the node whose worker was up first.
    nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0)
    remote = ray.remote(num_cpus=1, max_retries=2)(fn)
    refs = [
        remote.options(scheduling_strategy=NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=True)).remote(j)
        if nodes else remote.remote(j)
        for i, j in enumerate(jobs)
    ]
    try:
        return ray.get(refs)
    except Exception as e:  # noqa: BLE001 - re-raised with the step's name
        for r in refs:
            ray.cancel(r)
        cause = getattr(e, "cause", None) or e
        raise RuntimeError(f"{label}: {type(cause).__name__}: {cause}") from e


#: Rounds after which the distributed components give up (a chain of 10^9 documents needs ~30).
MAX_ROUNDS = 100


def distributed_labels(
    cfg: PipelineConfig,
    sig_files: list[str],
    bases: np.ndarray,
    num_docs: int,
    scopes: list[str],
    candidate_files: list[str] | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Each document's component label (smallest index in its cluster) by large-star/small-star rounds as Ray
    tasks over node-partitioned edge files; the driver holds per-document labels and per-task counts, no edges.
    Returns (labels, summary counts)."""
    d = cfg.dedup
    P = d.num_partitions
    root = _cc_dir(cfg)
    t0 = time.perf_counter()
    seed_dir = join(root, "round-000")
    jobs = [
        {
            "dedup": d, "p": p, "partitions": P, "out": seed_dir, "sig_files": sig_files, "bases": bases,
            "scopes": scopes, "candidates": candidate_files[p] if candidate_files else None,
        }
        for p in range(P)
    ]  # fmt: skip
    seeds = _map_tasks(_seed_edges, jobs, "dedup components: seed")
    summary: dict[str, Any] = {
        "verified_edges": sum(s["verified_edges"] for s in seeds),
        "exact_edges": sum(s["exact_edges"] for s in seeds),
    }
    labels, stats = star_rounds(root, seed_dir, num_docs, P)
    node_ids = set(stats.pop("node_ids")) | {s["node_id"] for s in seeds}
    summary.update(stats, task_nodes=len(node_ids))
    summary["max_task_peak_mb"] = round(max(stats["max_task_peak_mb"], *(s["peak_mb"] for s in seeds)), 1)
    summary["components_seconds"] = round(time.perf_counter() - t0, 3)
    return labels, summary


def star_rounds(root: str, seed_dir: str, num_docs: int, num_partitions: int) -> tuple[np.ndarray, dict[str, Any]]:
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
        res = _map_tasks(
            _star_step,
            [
                {"op": "large", "p": p, "partitions": P, "in": current, "out": after_large, "labels": labels_dir}
                for p in range(P)
            ],
            "dedup components: large-star",
        )
        peak = max(peak, *(r["peak_mb"] for r in res))
        nodes.update(r["node_id"] for r in res)
        edges, left = sum(r["edges"] for r in res) // 2, sum(r["unsettled"] for r in res)
        _rmtree(current)
        if left == 0:
            _rmtree(after_large)
            break
        if rounds >= MAX_ROUNDS:
            raise RuntimeError(f"dedup components: not settled after {MAX_ROUNDS} rounds ({left:,} nodes left)")
        rounds += 1
        current = join(root, f"round-{rounds:03d}")
        res = _map_tasks(
            _star_step,
            [{"op": "small", "p": p, "partitions": P, "in": after_large, "out": current} for p in range(P)],
            "dedup components: small-star",
        )
        peak = max(peak, *(r["peak_mb"] for r in res))
        nodes.update(r["node_id"] for r in res)
        _rmtree(after_large)
        log.info(
            f"dedup components: round {rounds}: {edges:,} edges, {left:,} unsettled nodes | "
            f"{time.perf_counter() - t_round:.1f} s",
        )
    labels = np.arange(num_docs, dtype=np.int64)
    clustered = 0
    for p in range(P):
        t = read_arrow(join(labels_dir, f"{_part_name(p)}.arrow"))
        labels[t.column("doc").to_numpy()] = t.column("label").to_numpy()
        clustered += t.num_rows
    _rmtree(root)
    log.info(
        f"dedup components: settled after {rounds} rounds, {clustered:,} documents joined to another",
    )
    return labels, {"rounds": rounds, "max_task_peak_mb": round(peak, 1), "node_ids": sorted(nodes)}


def find_clusters(cfg: PipelineConfig, sig_tasks: list[ShardTask]) -> dict[str, Any]:
    """The corpus-wide step: candidate edges per partition (Ray tasks), verification, exact-duplicate chains,
    connected components, and one decision file per shard. Returns the step's summary counts.

    Components run with scipy on the driver, or (`dedup.components`: distributed, or auto above
    `distributed_above_edges`) as large-star/small-star rounds in Ray tasks; both give the same labels."""
    from pipeline.runtime import run_tasks

    d = cfg.dedup
    t0 = time.perf_counter()
    metas = [read_arrow(t.outputs["signatures"], ["doc_id", "scope", "exact_hash", "chars"]) for t in sig_tasks]
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
    sig_files = [t.outputs["signatures"] for t in sig_tasks]

    src_parts: list[np.ndarray] = []
    dst_parts: list[np.ndarray] = []
    summary: dict[str, Any] = {"documents": n, "shards": len(sig_tasks)}
    _rmtree(_cc_dir(cfg))  # leftovers of a killed run
    exact_edges = _exact_edges(exact, scope, usable) if d.exact and n and d.components != "distributed" else None
    distributed = d.components == "distributed"
    candidate_files: list[str] | None = None
    if d.fuzzy and n:
        band_files = [
            [(t.outputs[_part_name(p)], int(bases[i])) for i, t in enumerate(sig_tasks)] for p in range(d.num_partitions)
        ]
        if d.components == "driver":
            edges = run_tasks(partition_edges, [(f, "chain") for f in band_files], label="dedup: bucket edges")
            src = np.concatenate([e[0] for e in edges])
            dst = np.concatenate([e[1] for e in edges])
        else:  # candidates stay in files; their count decides where the components run
            cand_dir = join(_cc_dir(cfg), "candidates")
            candidate_files = [join(cand_dir, f"{_part_name(p)}.arrow") for p in range(d.num_partitions)]
            found = run_tasks(
                candidate_edges_to_file,
                [(f, "chain", out) for f, out in zip(band_files, candidate_files)],
                label="dedup: bucket edges",
            )
            total = sum(found) + (len(exact_edges[0]) if exact_edges is not None else 0)
            distributed = distributed or total > d.distributed_above_edges
            if not distributed:
                tables = [read_arrow(f) for f in candidate_files]
                src = np.concatenate([t.column("src").to_numpy() for t in tables])
                dst = np.concatenate([t.column("dst").to_numpy() for t in tables])
                del tables
        if not distributed:
            src, dst = dedupe_edges(src, dst)
            summary["candidate_edges"] = int(len(src))
            if d.verify != "off" and len(src):
                keep = _verify(d, sig_files, bases, src, dst)
                src, dst = src[keep], dst[keep]
            summary["verified_edges"] = int(len(src))
            src_parts.append(src)
            dst_parts.append(dst)
        else:
            summary["candidate_edges"] = int(sum(found))  # repeats across partitions not yet removed
    elif exact_edges is not None and d.components == "auto":
        distributed = len(exact_edges[0]) > d.distributed_above_edges
    if distributed and n:
        del exact_edges
        cid, stats = distributed_labels(cfg, sig_files, bases, n, scope_dict.dictionary.to_pylist(), candidate_files)
        summary.update(stats, components="distributed")
        if not d.exact:
            summary.pop("exact_edges", None)
    else:
        if exact_edges is not None:
            summary["exact_edges"] = int(len(exact_edges[0]))
            src_parts.append(exact_edges[0])
            dst_parts.append(exact_edges[1])
        del exact_edges
        src = np.concatenate(src_parts) if src_parts else np.empty(0, np.int64)
        dst = np.concatenate(dst_parts) if dst_parts else np.empty(0, np.int64)
        cid = connected_components(n, src, dst)
        del src, dst, src_parts, dst_parts
        summary["components"] = "driver"
    _rmtree(_cc_dir(cfg))
    # Both policies of `dedup.keep` are written, so changing it reruns only the apply step.
    columns: dict[str, dict[str, pa.Array]] = {}
    for policy, quality in (("first", None), ("longest", chars.astype(np.float64))):
        found = clusters_from_labels(cid, quality=quality)
        kept_id = found.kept_id
        same_text = usable & (exact == exact[kept_id]) & (scope == scope[kept_id])
        # the reason as dictionary codes (null = kept), cast to strings per shard: no Python object per doc
        reason = pa.DictionaryArray.from_arrays(
            pa.array(np.where(same_text, 0, 1).astype(np.int8), mask=found.keep), pa.array([REASON_EXACT, REASON_NEAR])
        )
        columns[policy] = {"keep": found.keep, "kept_id": kept_id, "reason": reason}
        if policy == d.keep:
            clusters, keep = found, found.keep
            removed_exact, removed_near = int(((~keep) & same_text).sum()), int(((~keep) & ~same_text).sum())
    for i, t in enumerate(sig_tasks):
        lo, hi = int(bases[i]), int(bases[i] + counts[i])
        table: dict[str, pa.Array] = {"cluster_size": pa.array(clusters.cluster_size[lo:hi], pa.int32())}
        for policy, c in columns.items():
            table[f"keep_{policy}"] = pa.array(c["keep"][lo:hi], pa.bool_())
            table[f"kept_doc_id_{policy}"] = doc_ids.take(pa.array(c["kept_id"][lo:hi]))
            table[f"reason_{policy}"] = c["reason"].slice(lo, hi - lo).cast(pa.string())
        write_arrow(pa.table(table), decisions_path(cfg, t.shard_id))
    summary.update(
        clusters=int(clusters.num_clusters),
        removed_exact=removed_exact,
        removed_near=removed_near,
        largest_cluster=int(clusters.cluster_size.max()) if n else 0,
        seconds=round(time.perf_counter() - t0, 3),
    )
    return summary


def clusters_config_hash(cfg: PipelineConfig) -> str:
    """The dedup settings' hash plus how the components are computed: changing `components` reruns the clusters
    step only (the per-shard steps' hash leaves it out)."""
    d = cfg.dedup
    how = f"{d.components}:{d.distributed_above_edges}"
    return xxhash.xxh3_64_hexdigest(f"{cfg.section_hash(*CLUSTER_KEYS)}|{how}".encode())


def components_note(summary: dict[str, Any]) -> str:
    """How the clusters step found its components, for the summary line."""
    if summary.get("components") != "distributed":
        return "on the driver"
    return f"distributed: {summary['rounds']} rounds, peak {summary['max_task_peak_mb']:,.0f} MB per task"


def decisions_path(cfg: PipelineConfig, shard_id: str) -> str:
    return work_path(cfg, "dedup", "clusters", f"{shard_id}.arrow")


# --------------------------------------------------------------------------------------------------- 3. apply


class DedupStage(DocumentStage):
    """Per shard: split documents into kept (with cluster size and id) and removed (with reason and kept id)."""

    name = "dedup"
    version = "2"
    reason_column = "dedup_reason"

    def config_parts(self) -> tuple[str, ...]:
        return APPLY_KEYS

    def plan(self) -> list[ShardTask]:
        removed = self.cfg.dedup.write_removed
        return [
            ShardTask(
                t.shard_id,
                (t.outputs["main"], decisions_path(self.cfg, t.shard_id)),
                self.document_outputs(t.shard_id, removed=removed),
                input_hashes=t.reading(),
            )
            for t in upstream_tasks(self.cfg, "dedup")
        ]

    def main_fields(self) -> list[pa.Field]:
        return [pa.field("dup_cluster_size", pa.int32()), pa.field("dup_cluster_id", pa.string())]

    def removed_fields(self) -> list[pa.Field]:
        return [pa.field(self.reason_column, pa.string()), pa.field("duplicate_of", pa.string())]

    def begin(self, task: ShardTask, num_rows: int) -> None:
        self._decisions = read_arrow(task.inputs[1])  # memory-mapped when local
        self._row = 0
        if self._decisions.num_rows != num_rows:
            raise ValueError(
                f"decisions for {task.shard_id} cover {self._decisions.num_rows} documents but the shard has "
                f"{num_rows}: its input changed after the clusters were computed; rerun `polyglot dedup`"
            )

    def decide(self, batch: pa.RecordBatch, stats: ShardStats) -> BatchResult:
        dec = self._decisions.slice(self._row, batch.num_rows)
        self._row += batch.num_rows
        policy = self.cfg.dedup.keep
        kept_id = dec.column(f"kept_doc_id_{policy}").combine_chunks()
        return BatchResult(
            dec.column(f"reason_{policy}").combine_chunks(),
            {"dup_cluster_size": dec.column("cluster_size").combine_chunks(), "dup_cluster_id": kept_id},
            {"duplicate_of": kept_id},
        )

    def finish(self, task: ShardTask, stats: ShardStats) -> None:
        del self._decisions


# ---------------------------------------------------------------------------------------------- orchestration


def _clusters_line(summary: dict[str, Any]) -> str:
    return (
        f"dedup clusters: {summary['documents']:,} docs -> {summary['clusters']:,} kept "
        f"({summary['removed_exact']:,} exact, {summary['removed_near']:,} near duplicates; "
        f"{summary.get('candidate_edges', 0):,} candidate / {summary.get('verified_edges', 0):,} verified edges; "
        f"components {components_note(summary)}) | {summary['seconds']:.1f} s"
    )


class Dedup(CompositeStage):
    """`polyglot dedup`: signatures (per shard) -> clusters (corpus-wide, skipped when nothing changed) -> apply
    (per shard)."""

    name = "dedup"
    result_step = DedupStage

    @classmethod
    def steps(cls, cfg: PipelineConfig) -> list[ShardStep | CorpusStep]:
        return [
            ShardStep(DedupSignatures),
            CorpusStep(
                "clusters", find_clusters, CLUSTERS_VERSION, clusters_config_hash,
                outputs=lambda cfg, tasks: {t.shard_id: decisions_path(cfg, t.shard_id) for t in tasks},
                describe=_clusters_line,
            ),  # fmt: skip
            ShardStep(DedupStage),
        ]


run = Dedup.run
