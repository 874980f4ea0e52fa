"""Every stage the pipeline knows, in one table: the CLI verbs, the stage names a config accepts, the default
`run.stages` and what each stage reads all come from here.

A built-in stage is one `StageSpec` below. A third-party stage is one `Stage` subclass, registered either in the
config (`plugins: {<name>: {class: "mypkg.stages:MyStage", after: filter, settings: {...}}}`) or by a package
entry point in the group `polyglot.stages` (`<name> = "mypkg.stages:MyStage"`). This module imports no stage
code: classes are loaded by import path when a stage runs, so reading a config stays cheap.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Literal

#: "files": fetches raw files (no documents); "source": makes documents from raw input; "document": reads the
#: previous document stage's shards and writes documents (possibly with a corpus-wide step, as dedup); "corpus":
#: reads the last document stage's shards.
Kind = Literal["files", "source", "document", "corpus"]

ENTRY_POINT_GROUP = "polyglot.stages"


@dataclass(frozen=True)
class StageSpec:
    """One stage: its name (the CLI verb and `run.stages` entry), its class by import path, and how it is wired."""

    name: str
    target: str
    kind: Kind
    help: str
    #: In `run.stages` when a config does not list its stages.
    default: bool = True
    #: For a plug-in: the stage it runs after.
    after: str | None = None

    def load(self) -> type[Any]:
        """The stage class (imported now, not when the registry is read)."""
        return load_class(self.target, f"stage '{self.name}'")


BUILTIN: tuple[StageSpec, ...] = (
    StageSpec(
        "download", "pipeline.stages.download:DownloadStage", "files",
        "Fetch Common Crawl shards.\n\nReads `crawl-data/<crawl>/<kind>.paths.gz` from download.base_url, picks "
        "shards (first N, seeded sample, or a list) and writes them to <work_dir>/download/crawl-data/..., verified "
        "(size, gzip integrity) and resumable.",
        default=False,
    ),
    StageSpec(
        "extract", "pipeline.stages.extract:ExtractStage", "source",
        "WARC/WET → text.\n\nReads extract.inputs (or the downloaded shards); writes <work_dir>/extract/<shard>.parquet "
        "with doc_id, text, url, WARC record id, fetch date, crawl id, source shard and record offset. Unusable "
        "records are counted by reason.",
    ),
    StageSpec(
        "input", "pipeline.stages.input:InputStage", "source",
        "Your own corpus → documents (instead of download and extract).\n\nReads the `input` section's files "
        "(Parquet, JSONL(.gz), Arrow, CSV) or Hugging Face dataset; writes <work_dir>/input/<shard>.parquet, one shard "
        "per file (or dataset part), with doc_id, text, url and, when the input gives each document's language, "
        "langid's columns, so the run may go on with filter; the metadata columns are passed through. Records without "
        "text, malformed lines and unwanted languages are counted by reason.",
        default=False,
    ),
    StageSpec(
        "langid", "pipeline.stages.langid:LangidStage", "document",
        "Language identification (fastText, with second opinions inside confusable groups).\n\nReads the previous "
        "stage's documents; writes <work_dir>/langid/<shard>.parquet (kept documents with lang, score, top-k, "
        "script) and <work_dir>/_removed/langid/<shard>.parquet (the rest, with reject_reason).",
    ),
    StageSpec(
        "filter", "pipeline.stages.filter:FilterStage", "document",
        "Language-aware quality rules (Gopher, C4, FineWeb; words and sentences defined per script), then PII "
        "masking.\n\nReads the previous stage's documents; writes <work_dir>/filter/<shard>.parquet (kept, C4 line "
        "removals applied, PII replaced by typed placeholders) and <work_dir>/_removed/filter/<shard>.parquet (with "
        "filter_reason).",
    ),
    StageSpec(
        "dedup", "pipeline.stages.dedup:Dedup", "document",
        "Exact and near-duplicate (MinHash LSH) removal across the whole corpus.\n\nReads the previous stage's "
        "documents; writes <work_dir>/dedup/<shard>.parquet (kept documents with dup_cluster_size and "
        "dup_cluster_id) and <work_dir>/_removed/dedup/<shard>.parquet (dedup_reason, duplicate_of). "
        "Intermediates: <work_dir>/dedup/signatures/, bands/, clusters/ (Arrow).",
    ),
    StageSpec(
        "tokenizer", "pipeline.stages.tokenizer:Tokenizer", "corpus",
        "Train the shared SentencePiece tokenizer on a family-balanced sample, export it for Hugging Face.\n\n"
        "Reads the last document stage's documents; writes <work_dir>/tokenizer/ (tokenizer.model, tokenizer.json "
        "and its configs, the id-parity check against SentencePiece, and the parity report beside an unbalanced "
        "baseline).",
    ),
    StageSpec(
        "balance", "pipeline.stages.balance:Balance", "corpus",
        "Balance tokens per language family (temperature or UniMax, repeat caps), on exact token counts.\n\nReads "
        "the last document stage's documents and <work_dir>/tokenizer/tokenizer.model; writes "
        "<work_dir>/balance/<shard>.parquet (the chosen documents with their repeat count) and the plan table.",
    ),
    StageSpec(
        "shards", "pipeline.stages.shards:Shards", "corpus",
        "Write training shards: Arrow IPC files of token ids, globally shuffled, with a manifest and a dataset "
        "card.\n\nReads <work_dir>/balance/ and the tokenizer; writes <work_dir>/shards/ (shard-NNNNN.arrow, "
        "manifest.json, README.md), loadable with datasets.Dataset.from_file and pipeline.training.",
    ),
)

BUILTIN_NAMES: tuple[str, ...] = tuple(s.name for s in BUILTIN)


def load_class(target: str, what: str) -> type[Any]:
    """Import `module:Class`; a ValueError naming `what` when it cannot be."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{what}: '{target}' is not an import path of the form 'package.module:Class'")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except ImportError as e:
        raise ValueError(f"{what}: cannot import '{module}': {e}") from None
    except AttributeError:
        raise ValueError(f"{what}: '{module}' has no '{attr}'") from None
    if not isinstance(obj, type):
        raise ValueError(f"{what}: '{target}' is not a class")
    return obj


@lru_cache(maxsize=1)
def entry_point_targets() -> dict[str, str]:
    """Stages installed packages declare in the `polyglot.stages` entry-point group: name → import path."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN_NAMES}


def plugin_spec(name: str, target: str, after: str | None) -> StageSpec:
    """The spec of a third-party stage: kind, anchor and help come from its class (`after` overrides its anchor)."""
    from pipeline.stages.base import Stage

    cls = load_class(target, f"plugins.{name}")
    if not issubclass(cls, Stage):
        raise ValueError(f"plugins.{name}: {target} is not a subclass of pipeline.stages.base.Stage")
    if getattr(cls, "name", None) != name:
        raise ValueError(f"plugins.{name}: {target} is named '{getattr(cls, 'name', None)}'; register it under that "
                         "name (a stage's name is its output folder and its records' folder)")  # fmt: skip
    kind = cls.kind
    anchor = after or cls.after
    if anchor is None:
        raise ValueError(f"plugins.{name}: say after which stage it runs (`after:`, or the class's `after`)")
    doc = (cls.__doc__ or f"Third-party stage {target}.").strip()
    return StageSpec(name, target, kind, doc, after=anchor)


def ordered(specs: list[StageSpec]) -> list[StageSpec]:
    """Pipeline order: the built-ins in their order, each plug-in right after its anchor (plug-ins on the same
    anchor in the order given)."""
    by_name = {s.name: s for s in specs}
    out = [s for s in specs if s.after is None]
    placed = {s.name for s in out}
    pending = [s for s in specs if s.after is not None]
    while pending:
        progress = False
        for s in list(pending):
            if s.after in placed:
                i = max(i for i, o in enumerate(out) if o.name == s.after or _anchored_to(o, s.after, by_name))
                out.insert(i + 1, s)
                placed.add(s.name)
                pending.remove(s)
                progress = True
        if not progress:
            bad = ", ".join(f"{s.name} (after: {s.after})" for s in pending)
            raise ValueError(f"plugins: unknown `after` stage for {bad}; known: {', '.join(by_name)}")
    return out


def _anchored_to(spec: StageSpec, anchor: str | None, by_name: dict[str, StageSpec]) -> bool:
    """Whether `spec` sits in the chain of plug-ins that follows `anchor`."""
    seen = set()
    while spec.after is not None and spec.name not in seen:
        if spec.after == anchor:
            return True
        seen.add(spec.name)
        nxt = by_name.get(spec.after)
        if nxt is None:
            return False
        spec = nxt
    return False
