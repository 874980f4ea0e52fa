"""One module per CLI verb, and the two facts that tie them together: how each verb is run, and what it reads.

Most stages are per-shard (`pipeline.runtime.run_stage` over a `Stage` class). A stage with a corpus-wide step
(dedup: clusters across every shard) has a module-level `run(cfg, address, force)` instead; `runner` hides the
difference from the CLI.

What a document stage reads: the output of the nearest earlier document stage listed in `run.stages` (so `filter`
may be left out and `dedup` then reads `langid`), or, when none is listed (a stage run on its own after the earlier
ones ran in another invocation), `langid` — or `input` when the config's `input` section gives each document's
language, and for `langid` itself `input` or `extract`. `tokenizer` and `balance` read the last document stage in the
same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline.config import STAGE_ORDER, PipelineConfig

if TYPE_CHECKING:
    from pipeline.runtime import StageResult
    from pipeline.stages.base import ShardTask, Stage

#: Stages whose main output is one Parquet file of documents per source shard, in pipeline order.
DOCUMENT_STAGES: tuple[str, ...] = tuple(
    s for s in STAGE_ORDER if s in ("extract", "input", "langid", "filter", "dedup")
)

_CLASSES = {
    "download": ("pipeline.stages.download", "DownloadStage"),
    "extract": ("pipeline.stages.extract", "ExtractStage"),
    "input": ("pipeline.stages.input", "InputStage"),
    "langid": ("pipeline.stages.langid", "LangidStage"),
    "filter": ("pipeline.stages.filter", "FilterStage"),
    "dedup": ("pipeline.stages.dedup", "DedupStage"),
    "tokenizer": ("pipeline.stages.tokenizer", "TokenizerStage"),
    "balance": ("pipeline.stages.balance", "BalanceStage"),
    "shards": ("pipeline.stages.shards", "ShardsStage"),
}

Runner = Callable[[PipelineConfig, "str | None", bool], "StageResult"]


def stage_class(name: str) -> type[Stage]:
    """The `Stage` class whose per-shard outputs are the stage's result (for dedup: the final apply step)."""
    module, cls = _CLASSES[name]
    return getattr(importlib.import_module(module), cls)


def runner(name: str) -> Runner:
    """What `polyglot <name>` runs: the module's own `run` if it has one, else `run_stage` over its class."""
    module = importlib.import_module(_CLASSES[name][0])
    if hasattr(module, "run"):
        return module.run
    from pipeline.runtime import run_stage

    cls = stage_class(name)
    return lambda cfg, address, force: run_stage(cls, cfg, address=address, force=force)


def upstream_stage(cfg: PipelineConfig, name: str) -> str:
    """The document stage whose output `name` reads (for tokenizer and balance: the last document stage)."""
    earlier = DOCUMENT_STAGES[: DOCUMENT_STAGES.index(name)] if name in DOCUMENT_STAGES else DOCUMENT_STAGES
    listed = [s for s in earlier if s in cfg.run.stages]
    if listed:
        return listed[-1]
    source = "input" if cfg.input is not None else "extract"
    if "langid" in earlier and not (cfg.input is not None and cfg.input.labels_language):
        return "langid"
    return source


def upstream_tasks(cfg: PipelineConfig, name: str) -> list[ShardTask]:
    """The shard tasks of the stage `name` reads (their `outputs["main"]` are its inputs), in shard-id order."""
    tasks = stage_class(upstream_stage(cfg, name))(cfg).plan()
    return sorted(tasks, key=lambda t: t.shard_id)

def tokenizer_dir(cfg: PipelineConfig) -> str:
    """Where `polyglot tokenizer` puts the shared tokenizer (tokenizer.model and the Hugging Face files)."""
    from pipeline.storage import join

    return join(cfg.run.work_dir, "tokenizer")


def tokenizer_model_path(cfg: PipelineConfig) -> str:
    """The trained SentencePiece model that `balance` counts tokens with and `shards` encodes with."""
    from pipeline.storage import join

    return join(tokenizer_dir(cfg), "tokenizer.model")
