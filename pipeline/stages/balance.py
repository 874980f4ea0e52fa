"""`polyglot balance`: per-family, per-language token budgets on *exact* token counts, in three resumable steps.

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

import hashlib
import logging
import time
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import sentencepiece as spm

from pipeline.balance.plan import FamilyPlan, LanguagePlan, Plan, make_plan
from pipeline.balance.select import (
    LanguageSelection,
    SelectionSketch,
    merge_sketches,
    selection_params,
    shard_repeats,
    sketch_shard,
)
from pipeline.config import PipelineConfig
from pipeline.lang.codes import UND, normalize_label
from pipeline.lang.families import family_of
from pipeline.runtime import CompositeStage, CorpusStep, ShardStep, StageResult
from pipeline.stages import tokenizer_model_path, upstream_tasks
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage, work_path
from pipeline.storage import (
    atomic_write_bytes,
    exists,
    fingerprint,
    join,
    open_input,
    read_arrow,
    read_json,
    read_parquet,
    write_arrow,
    write_json,
    write_parquet,
)
from pipeline.tokenizer.encode import count_tokens

log = logging.getLogger(__name__)

COUNTS_VERSION = "1"
PLAN_VERSION = "1"
SELECT_VERSION = "1"
#: Documents per SentencePiece call (bounds the Python lists of ids alive at once; progress granularity).
ENCODE_BATCH = 512

REASON_DOWNSAMPLED = "downsampled"
REASON_EXCLUDED = "excluded-language"


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


# ------------------------------------------------------------------------------------------------- tokenizer


def require_tokenizer(cfg: PipelineConfig, stage: str) -> str:
    """The tokenizer model's path; FileNotFoundError with what to run when it is missing."""
    path = tokenizer_model_path(cfg)
    if not exists(path):
        raise FileNotFoundError(
            f"{stage} needs the shared tokenizer at {path}, which does not exist: run `polyglot tokenizer` first"
        )
    return path


def load_tokenizer(cfg: PipelineConfig) -> spm.SentencePieceProcessor:
    """The shared SentencePiece model, read through fsspec (works for object-store work dirs too)."""
    with open_input(tokenizer_model_path(cfg)) as f:
        return spm.SentencePieceProcessor(model_proto=f.read())


def tokenizer_sha256(cfg: PipelineConfig) -> str:
    with open_input(tokenizer_model_path(cfg)) as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---------------------------------------------------------------------------------------------------- 1. counts


def _cluster_sizes(table: pa.Table) -> np.ndarray:
    """dedup's cluster size per document (int32, nulls and a missing column = 1)."""
    if "dup_cluster_size" not in table.column_names:
        return np.ones(table.num_rows, dtype=np.int32)
    col = table.column("dup_cluster_size").cast(pa.int32()).fill_null(1)
    return col.to_numpy().astype(np.int32)


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
        texts = table.column("text").to_pylist()
        doc_ids = table.column("doc_id").to_pylist()
        langs = table.column("lang").to_pylist()
        n = len(texts)
        num_tokens = np.zeros(n, dtype=np.int64)
        for s in range(0, n, ENCODE_BATCH):
            num_tokens[s : s + ENCODE_BATCH] = count_tokens(self.processor, texts[s : s + ENCODE_BATCH])
            progress(min(ENCODE_BATCH, n - s))
        cluster = _cluster_sizes(table)
        write_arrow(
            pa.table(
                {
                    "doc_id": table.column("doc_id"),
                    "lang": table.column("lang"),
                    "num_tokens": pa.array(num_tokens.astype(np.int32), pa.int32()),
                    "dup_cluster_size": pa.array(cluster, pa.int32()),
                }
            ),
            task.outputs["counts"],
        )
        sketch = sketch_shard(
            doc_ids, langs, num_tokens, seed=b.seed, prefer_cluster_size=b.prefer_cluster_size, cluster_size=cluster
        )
        write_json(task.outputs["sketch"], sketch.to_json())
        for text, lang, k in zip(texts, langs, num_tokens.tolist()):
            stats.seen(lang, text)
            stats.kept(lang, text)
            stats.count(f"tokens/counted/{lang}", k)
        return stats


# ------------------------------------------------------------------------------------------------------ 2. plan


def _check_language_codes(langs: list[str]) -> None:
    """The selection matches documents to the plan by their `lang` string, so it must be the canonical code the
    plan uses; a document stage that wrote e.g. ``ko`` would otherwise lose every Korean document silently."""
    bad = {}
    for lang in langs:
        canonical = normalize_label(lang, strict=False)
        if canonical != lang and canonical != UND:
            bad[lang] = canonical
    if bad:
        listed = ", ".join(f"{k!r} (= {v})" for k, v in sorted(bad.items()))
        raise ValueError(
            f"documents carry non-canonical language codes {listed}; the upstream stage must write canonical codes"
        )


def load_plan(data: dict[str, Any]) -> Plan:
    """The `Plan` back from ``plan.json['plan']`` (its `to_json` form)."""
    return Plan(
        languages={lang: LanguagePlan(**v) for lang, v in data["languages"].items()},
        families={f: FamilyPlan(**{**v, "languages": tuple(v["languages"])}) for f, v in data["families"].items()},
        requested_total=data["requested_total"],
        excluded=dict(data["excluded"]),
        warnings=tuple(data["warnings"]),
        notes=tuple(data["notes"]),
    )


def make_balance_plan(cfg: PipelineConfig, count_tasks: list[ShardTask]) -> dict[str, Any]:
    """Step 2: merge the shard sketches, plan, choose the selection rule; write plan.json, plan.txt and
    selection.json. Returns the step's summary (what its global record keeps)."""
    t0 = time.perf_counter()
    b = cfg.balance
    if not count_tasks:
        raise ValueError("balance has no input shards (is the upstream stage's output there?)")
    merged = merge_sketches(SelectionSketch.from_json(read_json(t.outputs["sketch"])) for t in count_tasks)
    available = merged.available_tokens()
    _check_language_codes(list(available))
    table = cfg.family_table()
    plan = make_plan(available, {lang: family_of(lang, table) for lang in available}, b)
    params = selection_params(merged, plan.targets(), plan.caps())
    achieved = {lang: (params[lang].expected_tokens if lang in params else 0) for lang in plan.languages}
    families = {lang: lp.family for lang, lp in plan.languages.items()}
    write_json(
        selection_path(cfg),
        {
            "seed": b.seed,
            "prefer_cluster_size": b.prefer_cluster_size,
            "params": {lang: p.to_json() for lang, p in sorted(params.items())},
            "families": families,
            "excluded": sorted(plan.excluded),
        },
    )
    write_json(
        plan_json_path(cfg),
        {
            "plan": plan.to_json(),
            "achieved": achieved,
            "achieved_total": sum(achieved.values()),
            "available_docs": merged.documents(),
            "selection": {lang: p.to_json() for lang, p in sorted(params.items())},
            "rows": plan.rows(achieved),
            "tokenizer_sha256": tokenizer_sha256(cfg),
            "seed": b.seed,
        },
    )
    atomic_write_bytes(plan_table_path(cfg), (plan.format_table(achieved) + "\n").encode("utf-8"))
    return {
        "languages": len(plan.languages),
        "families": len(plan.families),
        "available_tokens": sum(available.values()),
        "target_tokens": plan.target_total,
        "achieved_tokens": sum(achieved.values()),
        "requested_total": plan.requested_total,
        "warnings": len(plan.warnings),
        "seconds": round(time.perf_counter() - t0, 3),
    }


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
        sel = read_json(task.inputs[2])
        params = {lang: LanguageSelection.from_json(v) for lang, v in sel["params"].items()}
        families: dict[str, str] = sel["families"]
        excluded = set(sel["excluded"])
        table = read_parquet(task.inputs[0])
        counts = read_arrow(task.inputs[1])
        if counts.num_rows != table.num_rows or not counts.column("doc_id").equals(table.column("doc_id")):
            raise ValueError(
                f"token counts for {task.shard_id} do not match its documents ({counts.num_rows} counted, "
                f"{table.num_rows} now): the input changed after counting; rerun `polyglot balance`"
            )
        doc_ids = table.column("doc_id").to_pylist()
        langs = table.column("lang").to_pylist()
        texts = table.column("text").to_pylist()
        num_tokens = counts.column("num_tokens").to_numpy().astype(np.int64)
        repeats = shard_repeats(
            doc_ids,
            langs,
            params,
            seed=int(sel["seed"]),
            prefer_cluster_size=bool(sel["prefer_cluster_size"]),
            cluster_size=counts.column("dup_cluster_size").to_numpy(),
        )
        stats = ShardStats()
        available: dict[str, int] = defaultdict(int)
        chosen: dict[str, int] = defaultdict(int)
        copies: dict[str, int] = defaultdict(int)
        for text, lang, k, r in zip(texts, langs, num_tokens.tolist(), repeats.tolist()):
            stats.seen(lang, text)
            available[lang] += k
            if r > 0:
                stats.kept(lang, text)
                chosen[lang] += k * r
                copies[lang] += r
            elif lang in excluded or lang not in families:
                stats.removed_doc(lang, REASON_EXCLUDED)
            else:
                stats.removed_doc(lang, REASON_DOWNSAMPLED)
        for lang in available:
            stats.count(f"tokens/available/{lang}", available[lang])
            stats.count(f"tokens/chosen/{lang}", chosen[lang])
            stats.count(f"copies/chosen/{lang}", copies[lang])
        progress(table.num_rows)

        family = pa.array([families.get(lang) for lang in langs], pa.string())
        if "family" in table.column_names:
            out = table.set_column(table.column_names.index("family"), "family", family)
        else:
            out = table.append_column("family", family)
        out = out.append_column("num_tokens", pa.array(num_tokens.astype(np.int32), pa.int32()))
        out = out.append_column("repeats", pa.array(repeats, pa.int32()))
        write_parquet(out.filter(pa.array(repeats > 0)), task.outputs["main"])
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


def _plan_line(summary: dict[str, Any]) -> str:
    return (
        f"balance plan: {summary['languages']} languages in {summary['families']} families | "
        f"{summary['available_tokens']:,} tokens available -> {summary['achieved_tokens']:,} chosen "
        f"(target {summary['target_tokens']:,}) | {summary['warnings']} warnings | {summary['seconds']:.1f} s"
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
                describe=_plan_line,
            ),  # fmt: skip
            ShardStep(BalanceStage),
        ]

    @classmethod
    def finish(cls, cfg: PipelineConfig, result: StageResult) -> None:
        """The plan's warnings, and the achieved tokens from the select records checked against the plan's."""
        plan_data = read_json(plan_json_path(cfg))
        plan = load_plan(plan_data["plan"])
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
