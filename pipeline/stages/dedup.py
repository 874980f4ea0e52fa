"""`polyglot dedup`: exact and near-duplicate removal across the whole corpus, in three resumable steps on Ray.

1. **signatures** (per shard, `DedupSignatures`): each document's exact hash (`pipeline.dedup.normalize`), its MinHash
   signature over script-aware shingles (`pipeline.dedup.shingles`: word 5-grams, character 5-grams for zh/ja/th,
   Korean and other scripts where words are not separated or too long; by the text's own script, never its label)
   and its LSH band keys. The scope key — the text's script (default; Han, kana and Hangul are one: `scope_key`),
   the language label (`scope: language`) or nothing (`global`) — is mixed into every bucket hash, so buckets never
   mix scopes, and kept beside the signature for the exact-duplicate groups. The band keys are written
   split into `num_partitions` files by a hash of (band, bucket): every member of a bucket lands in the same
   partition, whichever shard it came from.
2. **clusters** (corpus-wide, `pipeline.dedup.clusters`): one Ray task per partition sorts its keys and links the
   members of every bucket as a chain (k members, k-1 edges). The driver keeps the candidate edges whose Jaccard
   reaches the threshold (`verify`: of the shingle-hash sets, or the signature estimate), a batch of edges at a time
   reading only their documents' rows, adds a chain per group of identical normalized texts (exact duplicates), and
   takes connected components with scipy, or, above `distributed_above_edges`, with distributed large-star/small-star
   rounds (see Scale). Each cluster keeps one document — the first in corpus order (shard id, then record offset), or
   the longest — and the decision for every document is written per shard. Not Ray Data `groupby` (130 s for 2M keys
   here, see the Ray notes) and not a pairwise index: sorting is the grouping.
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

from typing import Any

import pyarrow as pa
import xxhash

from pipeline.config import PipelineConfig
from pipeline.dedup.clusters import find_clusters
from pipeline.dedup.signatures import make_hasher, part_name, shard_signatures
from pipeline.report import dedup_clusters_line
from pipeline.runtime import CompositeStage, CorpusStep, ShardStep
from pipeline.stages import count_kept, upstream_tasks
from pipeline.stages.base import BatchResult, DocumentStage, Progress, ShardStats, ShardTask, Stage, work_path
from pipeline.storage import join, read_arrow, read_parquet, write_arrow

SIG_VERSION = "3"
CLUSTERS_VERSION = "4"

#: What each step reads of the `dedup` section: a change reruns that step and what follows, nothing earlier.
SIGNATURE_KEYS = tuple(f"dedup.{k}" for k in (
    "exact", "fuzzy", "scope", "threshold", "num_perm", "bands", "rows", "verify", "shingles", "hashfunc", "seed",
    "num_partitions",
))  # fmt: skip
CLUSTER_KEYS = SIGNATURE_KEYS  # verify also decides the LSH shape (lsh_shape), so the signatures read it too
APPLY_KEYS = ("dedup.keep",)


# ---------------------------------------------------------------------------------------------- 1. signatures


class DedupSignatures(Stage):
    """Per shard: exact hashes, MinHash signatures and partitioned LSH band keys (`pipeline.dedup.signatures`)."""

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
                    outputs[part_name(p)] = work_path(self.cfg, "dedup", "bands", part_name(p), f"{t.shard_id}.arrow")
            tasks.append(ShardTask(t.shard_id, (t.outputs["main"],), outputs, input_hashes=t.reading()))
        return tasks

    def setup(self) -> None:
        self.hasher = make_hasher(self.cfg.dedup)
        self.bands, _ = self.cfg.dedup.lsh_shape()

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        d = self.cfg.dedup
        stats = ShardStats()
        table = read_parquet(task.inputs[0], columns=["doc_id", "text", "lang"])
        signatures, parts = shard_signatures(table, d, self.hasher, progress)
        for p, part in enumerate(parts):
            write_arrow(part.to_arrow(), task.outputs[part_name(p)])
        write_arrow(signatures, task.outputs["signatures"])
        count_kept(stats, table)
        stats.count("band_keys", int(table.num_rows * self.bands) if d.fuzzy else 0)
        return stats


# ------------------------------------------------------------------------------------------------ 2. clusters


def _cc_dir(cfg: PipelineConfig) -> str:
    """Scratch files of the clusters step (candidate and distributed-components edge files); removed before and
    after each run."""
    return work_path(cfg, "dedup", "cc")


def decisions_path(cfg: PipelineConfig, shard_id: str) -> str:
    return work_path(cfg, "dedup", "clusters", f"{shard_id}.arrow")


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _on_node(fn: Any) -> Any:
    """`fn` with the Ray node it ran on added to its result (the summary counts the nodes)."""

    def run(job: Any) -> dict[str, Any]:
        return dict(fn(job), node_id=_node_id())

    return run


def _map_tasks(fn: Any, jobs: list[Any], label: str) -> list[Any]:
    """`fn(job)` for every job as Ray tasks (Ray runs as many at once as there are CPUs); results in job order."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from pipeline.runtime import release_idle_workers

    release_idle_workers()  # plain tasks: the run's idle workers would hold the CPUs they wait for
    # Partition i prefers node i mod N (soft: any node when that one is busy or gone): with SPREAD alone, tasks this
    # short all ran on the node whose worker was up first.
    nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0)
    remote = ray.remote(num_cpus=1, max_retries=2)(_on_node(fn))
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


def _run_tasks(fn: Any, jobs: list[Any], label: str) -> list[Any]:
    from pipeline.runtime import run_tasks

    return run_tasks(fn, jobs, label=label)


def cluster_step(cfg: PipelineConfig, sig_tasks: list[ShardTask]) -> dict[str, Any]:
    """The corpus-wide step (`pipeline.dedup.clusters.find_clusters`): bucket edges as Ray tasks, components on the
    driver or as Ray tasks, one decision file per shard. Returns the step's summary counts."""
    return find_clusters(
        cfg.dedup, [t.outputs for t in sig_tasks], [decisions_path(cfg, t.shard_id) for t in sig_tasks], _cc_dir(cfg),
        edge_tasks=_run_tasks, partition_tasks=_map_tasks,
    )  # fmt: skip


def clusters_config_hash(cfg: PipelineConfig) -> str:
    """The dedup settings' hash plus how the components are computed: changing `components` reruns the clusters
    step only (the per-shard steps' hash leaves it out)."""
    d = cfg.dedup
    how = f"{d.components}:{d.distributed_above_edges}"
    return xxhash.xxh3_64_hexdigest(f"{cfg.section_hash(*CLUSTER_KEYS)}|{how}".encode())


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
                "clusters", cluster_step, CLUSTERS_VERSION, clusters_config_hash,
                outputs=lambda cfg, tasks: {t.shard_id: decisions_path(cfg, t.shard_id) for t in tasks},
                describe=dedup_clusters_line,
            ),  # fmt: skip
            ShardStep(DedupStage),
        ]


run = Dedup.run
