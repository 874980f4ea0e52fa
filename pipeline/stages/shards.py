"""`polyglot shards`: the balanced documents as training shards — token ids, globally shuffled, with a manifest.

The steps' logic (encoding, keys, the merge, the Megatron export, the manifest) is `pipeline.shards`; this module
plans the steps and says which files each reads and writes.

1. **scatter** (per balance shard on Ray actors, `ShardsScatter`, sub-stage ``shards/scatter``; `scatter_shard`):
   encode, one row per copy with a shuffle key, split by output shard ``key mod N`` into one scatter file per balance
   shard (``_work/shards/scatter/<shard>.arrow``). ``N = ceil(achieved tokens / shard_tokens)`` is fixed on the driver
   from balance's plan before this step.
2. **gather** (one Ray worker task per output shard, `ShardsStage`; `gather_shard`): batch ``j`` of every scatter
   file, merged by key into ``shards/shard-NNNNN.arrow`` with its sha256.
3. **Megatron export** (driver, only with ``shards.megatron``; `export_megatron`): the output shards as one indexed
   dataset ``shards/megatron/corpus_text_document.{bin,idx}``. Redone only when a shard changed; its record sits
   with the manifest's. Turned off, its files and record are removed.
4. **manifest** (driver; `build_manifest`): ``shards/manifest.json`` and the dataset card ``shards/README.md``
   (`pipeline.report.dataset_card`). Then the scatter files and their records are deleted, as are shard files and
   records left by an earlier run with a larger N.

**Reruns.** When every output shard's record matches (inputs = the balance outputs' fingerprints, the tokenizer's
fingerprint, N; config = the ``shards`` section) and the manifest is current, nothing runs — not even the scatter,
whose files are gone by then. Everything is a pure function of the balance outputs, the tokenizer and the config:
the same inputs give byte-identical shards and manifest.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import xxhash

from pipeline import megatron
from pipeline.config import PipelineConfig
from pipeline.report import dataset_card, megatron_line, shards_manifest_line
from pipeline.runtime import CompositeStage, CorpusStep, ShardStep, StageResult
from pipeline.shards import (
    INPUT_COLUMNS,
    WrittenShard,
    build_manifest,
    export_megatron,
    gather_shard,
    megatron_eod_id,
    megatron_prefix,
    num_output_shards,
    scatter_shard,
    shard_name,
    tokenizer_entry,
)
from pipeline.stages import load_tokenizer, require_tokenizer, tokenizer_model_path, tokenizer_sha256
from pipeline.stages.balance import BalanceStage, check_balance_complete, plan_json_path
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage, work_path
from pipeline.storage import (
    atomic_write_bytes,
    exists,
    fingerprint,
    join,
    list_files,
    read_json,
    read_parquet,
    remove,
    remove_tree,
    write_json,
)

log = logging.getLogger(__name__)

SCATTER_VERSION = "1"
SHARDS_VERSION = "1"
MANIFEST_VERSION = "1"
MEGATRON_VERSION = "1"


# ------------------------------------------------------------------------------------------------------ paths


def shards_dir(cfg: PipelineConfig) -> str:
    return join(cfg.run.work_dir, "shards")


def scatter_dir(cfg: PipelineConfig) -> str:
    return work_path(cfg, "shards", "scatter")


def scatter_path(cfg: PipelineConfig, shard_id: str) -> str:
    return join(scatter_dir(cfg), f"{shard_id}.arrow")


def manifest_path(cfg: PipelineConfig) -> str:
    return join(shards_dir(cfg), "manifest.json")


def card_path(cfg: PipelineConfig) -> str:
    return join(shards_dir(cfg), "README.md")


def balance_plan(cfg: PipelineConfig) -> dict[str, Any]:
    """balance's plan.json; FileNotFoundError with what to run when it is missing."""
    path = plan_json_path(cfg)
    if not exists(path):
        raise FileNotFoundError(
            f"shards reads the balance plan at {path}, which does not exist: run `polyglot balance` first"
        )
    return read_json(path)


def _num_shards(cfg: PipelineConfig) -> int:
    return num_output_shards(balance_plan(cfg)["achieved_total"], cfg.shards.shard_tokens)


# --------------------------------------------------------------------------------------------------- 1. scatter


class ShardsScatter(Stage):
    """Per balance shard: encode, materialize repeats, key and split the rows by output shard."""

    name = "shards/scatter"
    version = SCATTER_VERSION

    def config_parts(self) -> tuple[str, ...]:
        return ("shards",)

    def plan(self) -> list[ShardTask]:
        n = _num_shards(self.cfg)
        return [
            ShardTask(t.shard_id, (t.outputs["main"],), {"main": scatter_path(self.cfg, t.shard_id)}, {"num_shards": n})
            for t in sorted(BalanceStage(self.cfg).plan(), key=lambda t: t.shard_id)
        ]

    def input_fingerprint(self, task: ShardTask) -> str:
        return "+".join(
            [
                self.identity_of(task, task.inputs[0]),
                f"tokenizer={fingerprint(tokenizer_model_path(self.cfg))}",
                f"num_shards={task.params['num_shards']}",
            ]
        )

    def setup(self) -> None:
        self.processor = load_tokenizer(self.cfg)

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        s = self.cfg.shards
        per_lang = scatter_shard(
            self.processor, read_parquet(task.inputs[0], columns=INPUT_COLUMNS), task.outputs["main"],
            num_shards=int(task.params["num_shards"]), seed=s.seed, write_text=s.write_text, shard_id=task.shard_id,
            progress=progress,
        )  # fmt: skip
        stats = ShardStats()
        for lang, n in per_lang.items():
            c = stats.by_lang[lang]
            c.docs_in, c.docs_out = n["docs"], n["copies"]
            c.chars_in, c.bytes_in = n["chars"], n["bytes"]
            c.chars_out, c.bytes_out = n["chars_out"], n["bytes_out"]
            stats.count(f"tokens/encoded/{lang}", n["tokens"])
        return stats


# ---------------------------------------------------------------------------------------------------- 2. gather


class ShardsStage(Stage):
    """Per output shard: merge its piece of every scatter file in key order into ``shard-NNNNN.arrow``."""

    name = "shards"
    version = SHARDS_VERSION

    def __init__(self, cfg: PipelineConfig) -> None:
        super().__init__(cfg)
        self._identity: str | None = None

    def config_parts(self) -> tuple[str, ...]:
        return ("shards",)

    def plan(self) -> list[ShardTask]:
        n = _num_shards(self.cfg)
        inputs = sorted(BalanceStage(self.cfg).plan(), key=lambda t: t.shard_id)
        pieces = tuple(scatter_path(self.cfg, t.shard_id) for t in inputs)
        return [
            ShardTask(
                shard_id=shard_name(j).removesuffix(".arrow"),
                inputs=(scatter_dir(self.cfg),),
                outputs={"main": join(shards_dir(self.cfg), shard_name(j))},
                params={"index": j, "num_shards": n, "scatter": pieces},
            )
            for j in range(n)
        ]

    def input_fingerprint(self, task: ShardTask) -> str:
        """What the output shard is made of: the scatter inputs' identity (balance outputs, tokenizer, N — not the
        scatter files themselves, which are deleted after a successful run) and its index."""
        if self._identity is None:
            scatter = ShardsScatter(self.cfg)
            parts = [f"{t.shard_id}:{scatter.input_fingerprint(t)}" for t in scatter.plan()]
            self._identity = xxhash.xxh3_64_hexdigest("|".join(parts).encode())
        return f"{self._identity}#{task.params['index']}"

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        gathered = gather_shard(task.params["scatter"], int(task.params["index"]), task.outputs["main"], progress)
        stats = ShardStats()
        for lang, n in gathered.by_lang.items():
            c = stats.by_lang[lang]
            c.docs_in = c.docs_out = n["rows"]
            c.chars_in = c.chars_out = n["chars"]
            c.bytes_in = c.bytes_out = n["bytes"]
            stats.count(f"tokens/written/{lang}", n["tokens"])
        stats.meta["sha256"] = gathered.sha256
        stats.meta["bytes"] = str(gathered.size)
        return stats


# ------------------------------------------------------------------------------ 3. Megatron export, 4. manifest

_WRITTEN = "tokens/written/"


def _written_shards(
    cfg: PipelineConfig, tasks: list[ShardTask], by_index: bool = True
) -> list[tuple[ShardTask, dict[str, Any]]]:
    """The output shards' tasks with their records' stats: shard 0 first, or in the order given."""
    from pipeline.runtime import stage_records

    ordered = sorted(tasks, key=lambda t: int(t.params["index"])) if by_index else tasks
    records = stage_records(cfg, ShardsStage.name, [t.shard_id for t in ordered])
    return [(t, records[t.shard_id]["stats"]) for t in ordered]


def _tokens_by_lang(stats: dict[str, Any]) -> dict[str, int]:
    return {k.removeprefix(_WRITTEN): v for k, v in stats["counters"].items() if k.startswith(_WRITTEN)}


def write_megatron(cfg: PipelineConfig, tasks: list[ShardTask]) -> dict[str, Any]:
    """The Megatron step (`pipeline.shards.export_megatron`); returns the manifest entry."""
    processor = load_tokenizer(cfg)
    eod = megatron_eod_id(processor) if cfg.shards.megatron_eod else None
    shards = [
        WrittenShard(t.outputs["main"], shard_name(int(t.params["index"])), int(st["docs_out"]),
                     sum(_tokens_by_lang(st).values()))
        for t, st in _written_shards(cfg, tasks)
    ]  # fmt: skip
    return export_megatron(shards_dir(cfg), shards, processor.get_piece_size(), eod)


def _megatron_entry(cfg: PipelineConfig) -> dict[str, Any] | None:
    """What the Megatron step wrote (its record's summary), for the manifest; None when the export is off."""
    from pipeline.runtime import global_record_path

    if not cfg.shards.megatron:
        return None
    return dict(read_json(global_record_path(cfg, "shards", "megatron"))["stats"])


def _gathered_identity(cfg: PipelineConfig, tasks: list[ShardTask]) -> str:
    """The output shards' records and bytes (sha256), which the Megatron export and the manifest are made of."""
    from pipeline.runtime import shard_records_fingerprint

    return shard_records_fingerprint(cfg, ShardsStage, tasks, lambda rec: rec["stats"]["meta"]["sha256"])


def _write_manifest(cfg: PipelineConfig, tasks: list[ShardTask]) -> dict[str, Any]:
    """The manifest step (`pipeline.shards.build_manifest`) and the dataset card; returns the totals."""
    plan = balance_plan(cfg)
    shards = [
        {"name": shard_name(int(t.params["index"])), "rows": st["docs_out"], "bytes": int(st["meta"]["bytes"]),
         "sha256": st["meta"]["sha256"], "tokens_by_lang": _tokens_by_lang(st),
         "rows_by_lang": {lang: c["docs_out"] for lang, c in st["by_lang"].items()}}
        for t, st in _written_shards(cfg, tasks, by_index=False)
    ]  # fmt: skip
    s = cfg.shards
    built = build_manifest(
        shards, plan, tokenizer_entry(load_tokenizer(cfg), tokenizer_sha256(cfg)), shard_tokens=s.shard_tokens,
        seed=s.seed, write_text=s.write_text, megatron_entry=_megatron_entry(cfg),
    )  # fmt: skip
    write_json(manifest_path(cfg), built)
    atomic_write_bytes(card_path(cfg), dataset_card(built, plan).encode("utf-8"))
    return {k: built[k] for k in ("num_shards", "rows", "tokens")}


class Shards(CompositeStage):
    """`polyglot shards`: scatter (per balance shard; skipped when every output shard is current) -> gather (per
    output shard) -> Megatron export (with ``shards.megatron``) -> manifest and dataset card -> clean-up. Its
    result's `details` are the manifest's totals."""

    name = "shards"
    result_step = ShardsStage

    @classmethod
    def prepare(cls, cfg: PipelineConfig) -> None:
        require_tokenizer(cfg, "shards")
        check_balance_complete(cfg, balance_plan(cfg))

    @classmethod
    def steps(cls, cfg: PipelineConfig) -> list[ShardStep | CorpusStep]:
        from pipeline.runtime import is_complete

        def gathered_current(cfg: PipelineConfig) -> bool:
            gather = ShardsStage(cfg)
            return all(is_complete(gather, t) for t in gather.plan())

        steps: list[ShardStep | CorpusStep] = [ShardStep(ShardsScatter, not_needed=gathered_current), ShardStep(ShardsStage)]
        if cfg.shards.megatron:
            steps.append(CorpusStep(
                "megatron", write_megatron, MEGATRON_VERSION,
                lambda cfg: xxhash.xxh3_64_hexdigest(f"eod={cfg.shards.megatron_eod}".encode()),
                outputs=lambda cfg, tasks: {"bin": megatron.bin_path(megatron_prefix(shards_dir(cfg))),
                                            "idx": megatron.idx_path(megatron_prefix(shards_dir(cfg)))},
                inputs=_gathered_identity, describe=megatron_line,
            ))  # fmt: skip
        steps.append(CorpusStep(
            "manifest", _write_manifest, MANIFEST_VERSION, lambda cfg: cfg.section_hash(*ShardsStage(cfg).config_parts()),
            outputs=lambda cfg, tasks: {"manifest": manifest_path(cfg), "card": card_path(cfg)},
            inputs=lambda cfg, tasks: xxhash.xxh3_64_hexdigest(
                f"{_gathered_identity(cfg, tasks)}|megatron={json.dumps(_megatron_entry(cfg), sort_keys=True)}".encode()),
        ))  # fmt: skip
        return steps

    @classmethod
    def finish(cls, cfg: PipelineConfig, result: StageResult) -> None:
        """Clean-up (scatter files and their records; Megatron files when the export is off; shards of an earlier
        run with more shards), then the manifest's totals."""
        from pipeline.runtime import global_record_path, record_path

        remove_tree(scatter_dir(cfg))
        remove_tree(join(cfg.run.work_dir, "_state", ShardsScatter.name))
        if not cfg.shards.megatron:  # Megatron files of an earlier run would no longer match the shards
            remove_tree(join(shards_dir(cfg), "megatron"))
            remove(global_record_path(cfg, "shards", "megatron"))
        names = {shard_name(int(t.params["index"])) for t in ShardsStage(cfg).plan()}
        for f in list_files(shards_dir(cfg), ".arrow"):
            base = f.rstrip("/").rsplit("/", 1)[-1]
            if base.startswith("shard-") and base not in names:
                remove(f)
                remove(record_path(cfg, ShardsStage.name, base.removesuffix(".arrow")))
        manifest = read_json(manifest_path(cfg))
        result.details.update({k: manifest[k] for k in ("tokens", "rows", "tokens_by_lang")},
                              manifest_path=manifest_path(cfg))  # fmt: skip
        log.info(shards_manifest_line(manifest, manifest_path(cfg)))


run = Shards.run
