"""One module per built-in stage, and the two facts that tie stages together: how each is run, and what it reads.

The stages themselves are listed in `pipeline.registry` (built-ins) and the config's `plugins`. Every stage class
runs through its `run` classmethod: per-shard stages go straight to `pipeline.runtime.run_stage`; a stage with
corpus-wide steps (dedup, tokenizer, balance, shards) chains its steps there.

What a document stage reads: the output of the nearest earlier document stage listed in `run.stages` (so `filter`
may be left out and `dedup` then reads `langid`), or, when none is listed (a stage run on its own after the earlier
ones ran in another invocation), the nearest earlier one that has completed. `tokenizer` and `balance` read the last
document stage in the same way. A stage plans its shards from that stage's completion records (its index), so the
raw inputs may be gone once the stage that read them has run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline.config import PipelineConfig

if TYPE_CHECKING:
    import pyarrow as pa
    import sentencepiece as spm

    from pipeline.runtime import StageResult
    from pipeline.stages.base import ShardStats, ShardTask, Stage

Runner = Callable[[PipelineConfig, "str | None", bool], "StageResult"]


def stage_class(name: str, cfg: PipelineConfig | None = None) -> type[Stage]:
    """The `Stage` class of a stage (for a stage with corpus-wide steps: the final per-shard step, whose records
    are the stage's result). `cfg` is needed for plug-ins."""
    from pipeline.registry import BUILTIN

    spec = next((s for s in BUILTIN if s.name == name), None) if cfg is None else cfg.stage_spec(name)
    if spec is None:
        raise KeyError(f"no built-in stage '{name}'")
    cls = spec.load()
    return getattr(cls, "result_step", cls)


def runner(name: str, cfg: PipelineConfig | None = None) -> Runner:
    """What `polyglot <name>` runs: the stage class's `run`."""
    from pipeline.registry import BUILTIN

    spec = next(s for s in BUILTIN if s.name == name) if cfg is None else cfg.stage_spec(name)
    return spec.load().run


def document_stages(cfg: PipelineConfig) -> list[str]:
    """The stages whose main output is one Parquet file of documents per shard, in pipeline order."""
    return [s.name for s in cfg.stage_specs() if s.kind in ("source", "document")]


#: The built-in document stages, in pipeline order.
DOCUMENT_STAGES: tuple[str, ...] = ("extract", "input", "langid", "filter", "dedup")


def upstream_stage(cfg: PipelineConfig, name: str) -> str:
    """The document stage whose output `name` reads (for corpus-wide stages: the last document stage).

    The nearest earlier one listed in run.stages; else the nearest earlier one with a completed run; else langid."""
    docs = document_stages(cfg)
    names = [s.name for s in cfg.stage_specs()]
    earlier = docs[: docs.index(name)] if name in docs else [d for d in docs if names.index(d) < names.index(name)]
    listed = [s for s in earlier if s in cfg.run.stages]
    if listed:
        return listed[-1]
    for s in reversed(earlier):
        if completed_tasks(cfg, s) is not None:
            return s
    labelled = cfg.input is not None and cfg.input.labels_language
    if "langid" in earlier and not labelled:
        return "langid"
    source = "input" if cfg.input is not None else "extract"
    return source if source in earlier else earlier[-1]


def completed_tasks(cfg: PipelineConfig, name: str) -> list[ShardTask] | None:
    """The shard tasks of `name`'s last complete run, from its index of completion records (with each output's
    content hash); None when it has no index (never ran, or its last run was interrupted).

    Raises ValueError when that run left failed shards: what reads it would silently miss their documents."""
    from pipeline.runtime import read_stage_index
    from pipeline.stages.base import ShardTask

    index = read_stage_index(cfg, name)
    if index is None:
        return None
    if index.get("failed"):
        failed = sorted(index["failed"])
        raise ValueError(f"{name}: {len(failed)} shard(s) failed in its last run ({', '.join(failed[:5])}"
                         f"{', ...' if len(failed) > 5 else ''}); rerun `polyglot {name}` first")  # fmt: skip
    tasks = []
    for shard_id, rec in sorted(index["records"].items()):
        tasks.append(ShardTask(shard_id, tuple(rec.get("inputs", ())), dict(rec["outputs"]),
                               output_hashes=dict(rec.get("output_hashes") or {})))  # fmt: skip
    return tasks


def upstream_tasks(cfg: PipelineConfig, name: str) -> list[ShardTask]:
    """The shard tasks of the stage `name` reads (their `outputs["main"]` are its inputs), in shard-id order:
    from that stage's completion records when it has completed, else from its own plan."""
    up = upstream_stage(cfg, name)
    tasks = completed_tasks(cfg, up)
    if tasks is None:
        try:
            tasks = stage_class(up, cfg)(cfg).plan()
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{name} reads {up}, which has no completed run to plan from, and {up} cannot "
                                    f"plan its own shards: {e}") from None  # fmt: skip
    return sorted(tasks, key=lambda t: t.shard_id)


def tokenizer_dir(cfg: PipelineConfig) -> str:
    """Where `polyglot tokenizer` puts the shared tokenizer (tokenizer.model and the Hugging Face files)."""
    from pipeline.storage import join

    return join(cfg.run.work_dir, "tokenizer")


def tokenizer_model_path(cfg: PipelineConfig) -> str:
    """The trained SentencePiece model that `balance` counts tokens with and `shards` encodes with."""
    from pipeline.storage import join

    return join(tokenizer_dir(cfg), "tokenizer.model")


def count_kept(stats: ShardStats, table: pa.Table) -> None:
    """Count every document of `table` (its `text` and `lang`) as read and kept, from Arrow's string lengths: a step
    that passes every document on (signatures, token counts) builds no Python string for its counts."""
    import pyarrow.compute as pc

    text = table.column("text")
    chars, nbytes = pc.utf8_length(text).to_pylist(), pc.binary_length(text).to_pylist()
    stats.count_batch(table.column("lang").to_pylist(), [None] * table.num_rows, chars, nbytes, chars, nbytes)


def require_tokenizer(cfg: PipelineConfig, stage: str) -> str:
    """The tokenizer model's path; FileNotFoundError with what to run when it is missing."""
    from pipeline.storage import exists

    path = tokenizer_model_path(cfg)
    if not exists(path):
        raise FileNotFoundError(
            f"{stage} needs the shared tokenizer at {path}, which does not exist: run `polyglot tokenizer` first"
        )
    return path


def load_tokenizer(cfg: PipelineConfig) -> spm.SentencePieceProcessor:
    """The shared SentencePiece model, read through fsspec (works for object-store work dirs too)."""
    import sentencepiece as spm

    from pipeline.storage import open_input

    with open_input(tokenizer_model_path(cfg)) as f:
        return spm.SentencePieceProcessor(model_proto=f.read())


def tokenizer_sha256(cfg: PipelineConfig) -> str:
    """The sha256 of the shared tokenizer model's bytes."""
    import hashlib

    from pipeline.storage import open_input

    with open_input(tokenizer_model_path(cfg)) as f:
        return hashlib.sha256(f.read()).hexdigest()


__all__: list[str] = [
    "DOCUMENT_STAGES",
    "completed_tasks",
    "count_kept",
    "document_stages",
    "load_tokenizer",
    "require_tokenizer",
    "runner",
    "stage_class",
    "tokenizer_dir",
    "tokenizer_model_path",
    "tokenizer_sha256",
    "upstream_stage",
    "upstream_tasks",
]
