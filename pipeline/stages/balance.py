"""`polyglot balance`: per-family, per-language token budgets on *exact* token counts, in three resumable steps.

The steps' logic is `pipeline.balance.steps` (over `pipeline.balance.plan` and `pipeline.balance.select`); this module
reads and writes their files.

1. **counts** (per shard on Ray actors, `BalanceCounts`, sub-stage ``balance/counts``): the shared SentencePiece
   model (`<work_dir>/tokenizer/tokenizer.model`, loaded once per actor in `setup`) counts every document's tokens
   (`pipeline.tokenizer.encode.count_tokens`, no <s>/</s>); written to ``balance/counts/<shard>.arrow`` (doc_id, lang,
   num_tokens, dup_cluster_size — 1 when the upstream has no dedup column) with the shard's selection sketch
   (`pipeline.balance.select.sketch_shard`, JSON) beside it. The step's identity is the upstream file, the
   tokenizer model's fingerprint (a new tokenizer recounts everything) and the two keys the sketch depends on
   (``balance.seed``, ``balance.prefer_cluster_size``); the rest of the ``balance`` section is deliberately *not* part
   of it, so changing a share or a cap replans in a second instead of re-tokenizing the corpus.
2. **plan** (driver, corpus-wide): merge the sketches, `make_plan` with the family table in force
   (`cfg.family_table()`; a family's explicit ``languages`` win), `selection_params` per language. Writes
   ``balance/plan.json`` (the plan, the selection rule, achieved tokens, the plan table as rows, the tokenizer's
   sha256), ``balance/plan.txt`` (the readable table with warnings and notes) and ``balance/selection.json`` (what the
   shards need). Its global record is skipped when no counts record and no ``balance``/``families`` key changed.
   Warnings (unreachable budgets, capped languages, families without data) are printed; nothing is cut silently.
3. **select** (per shard, `BalanceStage`): `shard_repeats` gives every document its repeat count; the chosen ones
   (repeats > 0) go to ``balance/<shard>.parquet`` with every upstream column, ``num_tokens`` (int32) and ``repeats``
   (int32), and ``family`` set to the family the document was balanced in. Documents not chosen are counted as
   removed: ``downsampled``, or ``excluded-language`` for languages the plan left out (no family, family not
   configured).

Counting runs at 0.87-1.0 × SentencePiece's raw ``encode(list, num_threads=1)`` speed (~20 MB/s of text per core
on UDHR + CC text, `scripts/bench/shards.py`, shared box under load).

Exact token counts land in the completion records of step 3 as counters (``polyglot stats`` shows them beside the
character and byte estimates): ``tokens/available/<lang>`` (every input document), ``tokens/chosen/<lang>``
(num_tokens × repeats) and ``copies/chosen/<lang>`` (Σ repeats: the rows `polyglot shards` will write). By
construction the selection's achieved tokens are known on the driver before step 3 runs (the threshold sits on a
histogram bin edge, see `pipeline.balance.select`); the stage checks the records against them and prints the plan
table with the achieved column at the end of every run, skipped or not.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

from pipeline.balance.plan import Plan
from pipeline.balance.select import SelectionSketch
from pipeline.balance.steps import count_shard, plan_selection, select_shard
from pipeline.config import PipelineConfig
from pipeline.lang.families import family_of
from pipeline.report import balance_plan_line
from pipeline.runtime import CompositeStage, CorpusStep, ShardStep, StageResult
from pipeline.stages import (
    count_kept,
    load_tokenizer,
    require_tokenizer,
    tokenizer_model_path,
    tokenizer_sha256,
    upstream_tasks,
)
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage, work_path
from pipeline.storage import (
    atomic_write_bytes,
    fingerprint,
    join,
    read_arrow,
    read_json,
    read_parquet,
    write_arrow,
    write_json,
    write_parquet,
)

log = logging.getLogger(__name__)

COUNTS_VERSION = "1"
PLAN_VERSION = "1"
SELECT_VERSION = "1"


# ------------------------------------------------------------------------------------------------------ paths


def balance_dir(cfg: PipelineConfig) -> str:
    return join(cfg.run.work_dir, "balance")


def counts_path(cfg: PipelineConfig, shard_id: str) -> str:
    return work_path(cfg, "balance", "counts", f"{shard_id}.arrow")


def sketch_path(cfg: PipelineConfig, shard_id: str) -> str:
    return work_path(cfg, "balance", "counts", f"{shard_id}.sketch.json")


def plan_json_path(cfg: PipelineConfig) -> str:
    return join(balance_dir(cfg), "plan.json")


def plan_table_path(cfg: PipelineConfig) -> str:
    return join(balance_dir(cfg), "plan.txt")


def selection_path(cfg: PipelineConfig) -> str:
    return work_path(cfg, "balance", "selection.json")


# ---------------------------------------------------------------------------------------------------- 1. counts


class BalanceCounts(Stage):
    """Per shard: exact token counts of every document and the shard's selection sketch."""

    name = "balance/counts"
    version = COUNTS_VERSION

    def config_parts(self) -> tuple[str, ...]:
        return ()  # the identity is in input_fingerprint: upstream file, tokenizer, seed, prefer_cluster_size

    def plan(self) -> list[ShardTask]:
        return [
            ShardTask(
                shard_id=t.shard_id,
                inputs=(t.outputs["main"],),
                outputs={"counts": counts_path(self.cfg, t.shard_id), "sketch": sketch_path(self.cfg, t.shard_id)},
            )
            for t in upstream_tasks(self.cfg, "balance")
        ]

    def input_fingerprint(self, task: ShardTask) -> str:
        b = self.cfg.balance
        return "+".join(
            [
                self.identity_of(task, task.inputs[0]),
                f"tokenizer={fingerprint(tokenizer_model_path(self.cfg))}",
                f"seed={b.seed}",
                f"prefer_cluster_size={b.prefer_cluster_size}",
            ]
        )

    def setup(self) -> None:
        self.processor = load_tokenizer(self.cfg)

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        b = self.cfg.balance
        stats = ShardStats()
        table = read_parquet(task.inputs[0])
        counts, sketch = count_shard(
            self.processor, table, seed=b.seed, prefer_cluster_size=b.prefer_cluster_size, progress=progress
        )
        write_arrow(counts, task.outputs["counts"])
        write_json(task.outputs["sketch"], sketch.to_json())
        count_kept(stats, table)
        for lang, k in zip(counts.column("lang").to_pylist(), counts.column("num_tokens").to_pylist()):
            stats.count(f"tokens/counted/{lang}", k)
        return stats


# ------------------------------------------------------------------------------------------------------ 2. plan


def make_balance_plan(cfg: PipelineConfig, count_tasks: list[ShardTask]) -> dict[str, Any]:
    """Step 2 (`pipeline.balance.steps.plan_selection`): write plan.json, plan.txt and selection.json. Returns the
    step's summary (what its global record keeps)."""
    t0 = time.perf_counter()
    if not count_tasks:
        raise ValueError("balance has no input shards (is the upstream stage's output there?)")
    table = cfg.family_table()
    planned = plan_selection(
        (SelectionSketch.from_json(read_json(t.outputs["sketch"])) for t in count_tasks),
        lambda lang: family_of(lang, table),
        cfg.balance,
    )
    write_json(selection_path(cfg), planned.selection)
    write_json(plan_json_path(cfg), dict(planned.plan, tokenizer_sha256=tokenizer_sha256(cfg)))
    atomic_write_bytes(plan_table_path(cfg), planned.table.encode("utf-8"))
    return dict(planned.summary, seconds=round(time.perf_counter() - t0, 3))


# ---------------------------------------------------------------------------------------------------- 3. select


class BalanceStage(Stage):
    """Per shard: the chosen documents with their repeat count and exact token count."""

    name = "balance"
    version = SELECT_VERSION

    def config_parts(self) -> tuple[str, ...]:
        return ("balance", "families")

    def plan(self) -> list[ShardTask]:
        sel = selection_path(self.cfg)
        return [
            ShardTask(
                shard_id=t.shard_id,
                inputs=(t.outputs["main"], counts_path(self.cfg, t.shard_id), sel),
                outputs={"main": join(self.stage_dir(), f"{t.shard_id}.parquet")},
            )
            for t in upstream_tasks(self.cfg, "balance")
        ]

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        selection = read_json(task.inputs[2])
        table = read_parquet(task.inputs[0])
        counts = read_arrow(task.inputs[1])
        if counts.num_rows != table.num_rows or not counts.column("doc_id").equals(table.column("doc_id")):
            raise ValueError(
                f"token counts for {task.shard_id} do not match its documents ({counts.num_rows} counted, "
                f"{table.num_rows} now): the input changed after counting; rerun `polyglot balance`"
            )
        chosen = select_shard(table, counts, selection)
        stats = ShardStats()
        texts, langs = table.column("text").to_pylist(), table.column("lang").to_pylist()
        for text, lang, reason in zip(texts, langs, chosen.reasons):
            stats.seen(lang, text)
            if reason is None:
                stats.kept(lang, text)
            else:
                stats.removed_doc(lang, reason)
        for lang, n in chosen.available.items():
            stats.count(f"tokens/available/{lang}", n)
            stats.count(f"tokens/chosen/{lang}", chosen.chosen.get(lang, 0))
            stats.count(f"copies/chosen/{lang}", chosen.copies.get(lang, 0))
        progress(table.num_rows)
        write_parquet(chosen.table, task.outputs["main"])
        return stats


# ------------------------------------------------------------------------------------------------ orchestration


def achieved_from_records(cfg: PipelineConfig, tasks: list[ShardTask]) -> dict[str, int]:
    """Σ ``tokens/chosen/<lang>`` over the select step's completion records (languages with none left out)."""
    from pipeline.runtime import stage_records

    out: dict[str, int] = defaultdict(int)
    records = stage_records(cfg, BalanceStage.name, [t.shard_id for t in tasks])
    for t in tasks:
        rec = records[t.shard_id]
        for key, n in rec["stats"]["counters"].items():
            if key.startswith("tokens/chosen/"):
                out[key.removeprefix("tokens/chosen/")] += n
    return {lang: n for lang, n in sorted(out.items()) if n}


def check_balance_complete(cfg: PipelineConfig, plan: dict[str, Any]) -> None:
    """Every balance shard is complete and current, and the tokenizer is the one balance counted with (`plan`: its
    plan.json); RuntimeError saying what to run otherwise. What `polyglot shards` checks first."""
    from pipeline.runtime import is_complete

    stage = BalanceStage(cfg)
    stale = [t.shard_id for t in stage.plan() if not is_complete(stage, t)]
    if stale:
        raise RuntimeError(
            f"balance is missing or out of date for {len(stale)} shard(s) ({', '.join(stale[:5])}"
            f"{', ...' if len(stale) > 5 else ''}): run `polyglot balance` first"
        )
    if plan.get("tokenizer_sha256") != tokenizer_sha256(cfg):
        raise RuntimeError(
            "the tokenizer changed after `polyglot balance` counted tokens with it: run `polyglot balance` again"
        )


class Balance(CompositeStage):
    """`polyglot balance`: counts (per shard) -> plan (driver, skipped when nothing changed) -> select (per shard)
    -> the plan table. Its result's `warnings` are the plan's, `details` the achieved tokens and the table."""

    name = "balance"
    result_step = BalanceStage

    @classmethod
    def prepare(cls, cfg: PipelineConfig) -> None:
        require_tokenizer(cfg, "balance")

    @classmethod
    def steps(cls, cfg: PipelineConfig) -> list[ShardStep | CorpusStep]:
        return [
            ShardStep(BalanceCounts),
            CorpusStep(
                "plan", make_balance_plan, PLAN_VERSION, lambda cfg: cfg.section_hash("balance", "families"),
                outputs=lambda cfg, tasks: {"plan": plan_json_path(cfg), "table": plan_table_path(cfg),
                                            "selection": selection_path(cfg)},
                describe=balance_plan_line,
            ),  # fmt: skip
            ShardStep(BalanceStage),
        ]

    @classmethod
    def finish(cls, cfg: PipelineConfig, result: StageResult) -> None:
        """The plan's warnings, and the achieved tokens from the select records checked against the plan's."""
        plan_data = read_json(plan_json_path(cfg))
        plan = Plan.from_json(plan_data["plan"])
        result.warnings = list(plan.warnings)
        if not result.steps.get("plan", {}).get("skipped"):
            for w in result.warnings:
                log.warning("balance: warning: %s", w)
        achieved = achieved_from_records(cfg, BalanceStage(cfg).plan())
        planned = {lang: int(n) for lang, n in plan_data["achieved"].items() if n}
        if achieved != planned:
            msg = (
                "achieved tokens in the shard records differ from the plan's (inputs changed during the run?); "
                "rerun `polyglot balance --force`"
            )
            result.warnings.append(msg)
            log.error("balance: %s", msg)
        table = plan.format_table({lang: achieved.get(lang, 0) for lang in plan.languages})
        result.details.update(achieved=achieved, plan_table=table, plan_path=plan_json_path(cfg))
        log.info(table)


run = Balance.run
