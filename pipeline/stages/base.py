"""The stage contract: a stage turns each input shard into one output file, independently of the others.

A stage plans its shard tasks on the driver, sets itself up once per worker (model loading lives in `setup`, never
in the per-shard path), and processes one shard at a time, returning the shard's counts. The runtime
(`pipeline.runtime`) decides where and whether each task runs; nothing here knows about Ray, so a stage can be
tested by calling `setup()` and `process()` directly.
"""

from __future__ import annotations

import posixpath
import re
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from pipeline.config import PipelineConfig

Progress = Callable[[int], None]


_SUFFIXES = re.compile(r"(\.warc)?\.\w+(\.(gz|zst|lz4|bz2|xz))?$")


def shard_ids(paths: list[str]) -> dict[str, str]:
    """Stable shard ids from file names (CC names are unique); a short path hash settles collisions."""
    stems = {p: _SUFFIXES.sub("", posixpath.basename(p.rstrip("/"))) or "shard" for p in paths}
    counts: dict[str, int] = {}
    for s in stems.values():
        counts[s] = counts.get(s, 0) + 1
    return {p: s if counts[s] == 1 else f"{s}-{xxhash.xxh32_hexdigest(p.encode())[:6]}" for p, s in stems.items()}


@dataclass(frozen=True)
class ShardTask:
    """One unit of work: a shard id, the files it reads and the files it writes (name → path)."""

    shard_id: str
    inputs: tuple[str, ...]
    outputs: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    #: Content hashes of inputs that an earlier stage wrote (from its completion record): they identify those
    #: inputs instead of size and mtime, so an input rewritten with equal bytes redoes nothing.
    input_hashes: dict[str, str] = field(default_factory=dict)
    #: Content hashes of this task's outputs, when the task comes from a completion record.
    output_hashes: dict[str, str] = field(default_factory=dict)

    def reading(self, name: str = "main") -> dict[str, str]:
        """`input_hashes` for a task that reads this task's output `name`."""
        url = self.outputs[name]
        return {url: self.output_hashes[name]} if name in self.output_hashes else {}


@dataclass
class LangCounts:
    docs_in: int = 0
    docs_out: int = 0
    chars_in: int = 0
    chars_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class ShardStats:
    """What one shard did: documents, characters and bytes in and out per language, and removals by reason.

    Stages call `seen` for every document they read and `kept` or `removed` for each one; the totals land in the
    shard's completion record and `polyglot stats` adds them up.
    """

    def __init__(self) -> None:
        self.by_lang: dict[str, LangCounts] = defaultdict(LangCounts)
        self.removed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.counters: dict[str, int] = defaultdict(int)
        self.meta: dict[str, str] = {}

    def seen(self, lang: str, text: str, nbytes: int | None = None) -> None:
        """Count a document read; `nbytes` overrides the UTF-8 size (e.g. the raw HTML payload)."""
        c = self.by_lang[lang]
        c.docs_in += 1
        c.chars_in += len(text)
        c.bytes_in += len(text.encode("utf-8")) if nbytes is None else nbytes

    def kept(self, lang: str, text: str) -> None:
        c = self.by_lang[lang]
        c.docs_out += 1
        c.chars_out += len(text)
        c.bytes_out += len(text.encode("utf-8"))

    def count_batch(
        self,
        langs: list[str],
        reasons: list[str | None],
        chars_in: list[int],
        bytes_in: list[int],
        chars_out: list[int],
        bytes_out: list[int],
    ) -> None:
        """`seen`, then `kept` or `removed_doc`, for a batch of documents given as their sizes (no text is built:
        the sizes come from Arrow's string lengths)."""
        for lang, reason, ci, bi, co, bo in zip(langs, reasons, chars_in, bytes_in, chars_out, bytes_out, strict=True):
            c = self.by_lang[lang]
            c.docs_in += 1
            c.chars_in += ci
            c.bytes_in += bi
            if reason is None:
                c.docs_out += 1
                c.chars_out += co
                c.bytes_out += bo
            else:
                self.removed[reason][lang] += 1

    def removed_doc(self, lang: str, reason: str) -> None:
        self.removed[reason][lang] += 1

    def count(self, name: str, n: int = 1) -> None:
        """A free-form counter (e.g. records skipped before they became documents)."""
        self.counters[name] += n

    @property
    def docs_in(self) -> int:
        return sum(c.docs_in for c in self.by_lang.values())

    @property
    def docs_out(self) -> int:
        return sum(c.docs_out for c in self.by_lang.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "by_lang": {k: vars(v).copy() for k, v in sorted(self.by_lang.items())},
            "removed": {r: dict(sorted(d.items())) for r, d in sorted(self.removed.items())},
            "counters": dict(sorted(self.counters.items())),
            "meta": dict(sorted(self.meta.items())),
        }


#: Where the documents a stage removes or rejects go, outside every stage's kept-document folder.
REMOVED_DIR = "_removed"
#: Where the intermediate files of a stage's steps go (signatures, LSH bands, counts), outside its output folder.
WORK_DIR = "_work"


def work_path(cfg: PipelineConfig, *parts: str) -> str:
    """`<work_dir>/_work/<parts...>`: a stage folder holds only what its users read (`load_dataset` on
    `<work_dir>/<stage>` gives its documents and nothing else)."""
    from pipeline.storage import join

    return join(cfg.run.work_dir, WORK_DIR, *parts)


class Stage(ABC):
    """Base class of every stage. Subclasses set `name`, plan their tasks and process one shard.

    A third-party stage is one subclass registered under `plugins` in the config (or an entry point): a document
    stage (the default `kind`) only writes `process`; its shards are the previous document stage's, and
    `self.settings` holds its `Settings` model validated from the config.
    """

    name: ClassVar[str]
    #: How the stage is wired (`pipeline.registry.Kind`): a plug-in is a document stage unless it says otherwise.
    kind: ClassVar[str] = "document"
    #: For a plug-in: the stage it runs after, unless the config says otherwise.
    after: ClassVar[str | None] = None
    #: For a plug-in: the pydantic model of its `plugins.<name>.settings`.
    Settings: ClassVar[type[Any] | None] = None
    #: CPUs one worker of this stage needs (I/O-bound stages ask for less and run more workers).
    cpus_per_worker: ClassVar[float] = 1.0
    #: Bump when a change of code changes the outputs, so completed shards are redone.
    version: ClassVar[str] = "1"
    #: What `process` reports to `progress`: "docs", or the name of a counter it also records (e.g. "bytes").
    progress_unit: ClassVar[str] = "docs"

    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    @classmethod
    def run(cls, cfg: PipelineConfig, address: str | None = None, force: bool = False) -> Any:
        """What `polyglot <name>` does: every shard through the runtime. A stage with corpus-wide steps overrides
        this to chain its steps."""
        from pipeline.runtime import run_stage

        return run_stage(cls, cfg, address=address, force=force)

    @cached_property
    def settings(self) -> Any:
        """A plug-in's validated settings (`plugins.<name>.settings`)."""
        return self.cfg.plugin_settings(self.name)

    def stage_dir(self) -> str:
        """`<work_dir>/<name>`; a step of a stage (`dedup/signatures`) writes under `<work_dir>/_work/`."""
        from pipeline.storage import join

        return work_path(self.cfg, self.name) if "/" in self.name else join(self.cfg.run.work_dir, self.name)

    @abstractmethod
    def plan(self) -> list[ShardTask]:
        """The shard tasks of this stage (driver side; cheap, no data is read)."""

    def config_parts(self) -> tuple[str, ...]:
        """The config keys (sections or dotted paths) whose change must redo completed shards; a plug-in's own
        settings by default."""
        return (f"plugins.{self.name}",)

    def input_fingerprint(self, task: ShardTask) -> str:
        """Identity of a task's inputs: the content hash an earlier stage recorded for a file it wrote, else size
        and mtime/ETag."""
        return "+".join(self.identity_of(task, p) for p in task.inputs)

    @staticmethod
    def identity_of(task: ShardTask, path: str) -> str:
        """One input's identity: its recorded content hash when an earlier stage wrote it, else size and mtime."""
        from pipeline.storage import fingerprint

        return f"xxh3:{task.input_hashes[path]}" if path in task.input_hashes else fingerprint(path)

    def document_outputs(self, shard_id: str, *, removed: bool) -> dict[str, str]:
        """A document stage's outputs for a shard: `<stage>/<shard>.parquet`, and `_removed/<stage>/<shard>.parquet`
        when the stage writes the documents it removes."""
        from pipeline.storage import join

        outputs = {"main": join(self.stage_dir(), f"{shard_id}.parquet")}
        if removed:
            outputs["removed"] = self.removed_path(shard_id)
        return outputs

    def removed_path(self, shard_id: str) -> str:
        """`<work_dir>/_removed/<stage>/<shard>.parquet`: outside the kept folder, so reading a stage's folder
        (`datasets.load_dataset("parquet", data_dir=...)`, Ray Data) gives only its kept documents."""
        from pipeline.storage import join

        return join(self.cfg.run.work_dir, REMOVED_DIR, self.name, f"{shard_id}.parquet")

    def max_workers(self) -> int | None:
        """Cap on parallel workers from the stage's own config (None: as many as the CPUs allow)."""
        return None

    def setup(self) -> None:
        """Worker-side, once: load models and other heavy state."""

    @abstractmethod
    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        """Worker-side: read the task's inputs, write its outputs atomically, return its counts.

        Call `progress(n)` every few hundred documents so the driver can show live progress.
        """


class Splittable(ABC):
    """A mix-in for a stage whose large shards are cut into parts that run on several workers at once.

    Why: one shard is one worker, so a single large file (a 1 GB Common Crawl WARC) would run on one core while the
    others idle. The runtime asks `split` for a pending shard's parts, runs `process_part` for each on any worker
    (each part writes its own files, under `parts_dir`, and gets its own record there, so a rerun redoes only the
    parts that are missing), then `merge` on one worker, which writes the shard's outputs — byte for byte those of
    `process`, whatever the number of parts — before the runtime removes the parts and writes the shard's record.
    """

    cfg: PipelineConfig
    name: ClassVar[str]

    @abstractmethod
    def split(self, task: ShardTask, max_parts: int) -> list[ShardTask]:
        """Driver side, cheap: the parts of `task` (at most `max_parts`), each a task whose outputs are in
        `parts_dir(task.shard_id)`; fewer than two: the shard runs whole (`process`)."""

    @abstractmethod
    def process_part(self, part: ShardTask, progress: Progress) -> dict[str, Any]:
        """Worker side: one part into its outputs; returns what the merge needs of it (JSON: kept in its record)."""

    @abstractmethod
    def merge(self, task: ShardTask, parts: list[ShardTask], results: list[dict[str, Any]],
              progress: Progress) -> ShardStats:  # fmt: skip
        """Worker side: the shard's outputs from its parts' outputs and results (in part order), and its counts."""

    def parts_dir(self, shard_id: str) -> str:
        """Where a split shard's parts and their records go: `<work_dir>/_work/<stage>/parts/<shard>/`, in the work
        dir (not a worker's disk) because the parts and the merge may run on different nodes."""
        return work_path(self.cfg, self.name, "parts", shard_id)


@dataclass
class BatchResult:
    """A document stage's decision on one batch: why each document is removed (None: kept) and the values of the
    stage's new columns (`DocumentStage.main_fields`, `removed_fields`), one per document of the batch."""

    reasons: list[str | None] | pa.Array
    columns: dict[str, pa.Array] = field(default_factory=dict)
    removed_columns: dict[str, pa.Array] = field(default_factory=dict)


@dataclass
class BatchStream:
    """A stage's kept documents of one shard, batch by batch, in the order the stage writes them: what a fused next
    stage reads instead of the Parquet file. Iterating `batches` to the end is what completes the stage's outputs;
    `schema` is the schema a reader of the written file sees (`storage.parquet_schema`)."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]


class BatchSource(ABC):
    """A stage that can hand its kept documents to the next stage in memory while it writes them (the head of a fused
    chain, `pipeline.fusion`): extract, and every document stage."""

    @abstractmethod
    def stream(self, task: ShardTask, stats: ShardStats, progress: Progress) -> BatchStream:
        """Process one shard as `process` does, yielding the batches of the main output as they are written."""


def _text_ends(text: pa.Array) -> np.ndarray:
    """Cumulative UTF-8 bytes of a string column, row by row, read from its offsets buffer (no copy, and no Arrow
    compute call: the first one sets up ~35 MB of compute state in a worker that otherwise never needs it)."""
    if not len(text):
        return np.zeros(0, dtype=np.int64)
    width = np.int64 if pa.types.is_large_string(text.type) else np.int32
    offsets = np.frombuffer(text.buffers()[1], dtype=width)[text.offset : text.offset + len(text) + 1]
    return (offsets[1:] - offsets[0]).astype(np.int64)


def rebatch(batches: Iterable[pa.RecordBatch], max_rows: int, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """The rows of `batches` regrouped into batches of at most `max_rows` rows and `max_bytes` bytes of text (at least
    one row). The boundaries depend on the rows alone, not on how they came in: a stage reading a Parquet file and the
    same stage fed in memory by a fused upstream see the same batches, so their outputs (row groups included) are
    byte-identical. Batches that already fit pass through without a copy."""
    parts: list[pa.RecordBatch] = []
    rows = nbytes = 0
    for batch in batches:
        n = batch.num_rows
        if not n:
            continue
        ends = _text_ends(batch.column("text"))
        start = 0
        while start < n:
            base = int(ends[start - 1]) if start else 0
            fit = int(np.searchsorted(ends[start:], base + max_bytes - nbytes, side="right"))
            take = min(n - start, max_rows - rows, fit)
            if take == 0 and not parts:
                take = 1  # one document above the byte cap: a batch of its own
            if take:
                parts.append(batch.slice(start, take) if take < n else batch)
                rows += take
                nbytes += int(ends[start + take - 1]) - base
                start += take
            if rows == max_rows or start < n:  # full (or the next row would not fit): close the batch
                yield parts[0] if len(parts) == 1 else pa.concat_batches(parts)
                parts, rows, nbytes = [], 0, 0
    if parts:
        yield parts[0] if len(parts) == 1 else pa.concat_batches(parts)


class DocumentStage(Stage, BatchSource):
    """A stage that reads one Parquet file of documents per shard and splits it into kept documents (`main`) and
    removed ones (`removed_output`, when the task has it), batch by batch.

    `split` is the one loop: it takes the input in batches of at most `batch_rows` documents and `batch_bytes` of
    text (`rebatch`), asks `decide` about each batch, writes the kept and removed rows through streaming Parquet
    writers, counts every document and passes the kept batches on. `process` feeds it the input file; a fused run
    (`pipeline.fusion`) feeds it the previous stage's batches in memory. A worker therefore holds one batch and one
    row group of each output, whatever the shard's size. Subclasses keep only their decision.
    """

    #: Key of the removed documents' output in `task.outputs`; not written when the task has no such output.
    removed_output: ClassVar[str] = "removed"
    #: Name of the removed output's column that holds the reason.
    reason_column: ClassVar[str]
    batch_rows: ClassVar[int] = 1000
    batch_bytes: ClassVar[int] = 32 * 2**20

    def plan(self) -> list[ShardTask]:
        """A document stage's shards are those of the document stage it reads, planned from that stage's completion
        records (kept and removed outputs per shard), one `task_for` each."""
        from pipeline.stages import upstream_tasks

        return [self.task_for(t) for t in upstream_tasks(self.cfg, self.name)]

    def task_for(self, upstream: ShardTask) -> ShardTask:
        """This stage's task for one shard of the stage it reads (`upstream`, with its output hashes when it comes
        from a completion record). Planning goes through here so that a fused run, which knows the upstream's hashes
        only once the upstream has written the shard, makes exactly the tasks `plan` makes."""
        return ShardTask(upstream.shard_id, (upstream.outputs["main"],),
                         self.document_outputs(upstream.shard_id, removed=True), input_hashes=upstream.reading())  # fmt: skip

    def main_fields(self) -> list[pa.Field]:
        """New columns of the kept documents, in order (a name of an input column replaces that column in place)."""
        return []

    def removed_fields(self) -> list[pa.Field]:
        """Columns appended to the input's in the removed output, in order; the reason column among them."""
        return [pa.field(self.reason_column, pa.string())]

    def begin(self, task: ShardTask, num_rows: int | None) -> None:
        """Per shard, before the first batch (e.g. open side inputs and check they cover the `num_rows` documents;
        None when the stage runs fused behind the stage that is still writing its input)."""

    @abstractmethod
    def decide(self, batch: pa.RecordBatch, stats: ShardStats) -> BatchResult:
        """The decision on one batch of input documents (free-form counters go to `stats`; documents are counted
        by the loop)."""

    def finish(self, task: ShardTask, stats: ShardStats) -> None:
        """Per shard, after the last batch: write any other output of the task."""

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        """The schema of the kept documents for an input of `input_schema`."""
        return _with_fields(input_schema, self.main_fields(), replace=True)

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        stats = ShardStats()
        for _ in self.stream(task, stats, progress).batches:
            pass
        return stats

    def stream(self, task: ShardTask, stats: ShardStats, progress: Progress) -> BatchStream:
        """The shard read from its input file, through `split`."""
        from pipeline.storage import open_parquet, parquet_schema

        with open_parquet(task.inputs[0]) as pf:
            schema = pf.schema_arrow
        return BatchStream(parquet_schema(self.output_schema(schema)), self._from_file(task, stats, progress))

    def _from_file(self, task: ShardTask, stats: ShardStats, progress: Progress) -> Iterator[pa.RecordBatch]:
        from pipeline.storage import open_parquet

        with open_parquet(task.inputs[0]) as pf:
            meta = pf.metadata
            # One thread: a worker has one CPU, and Arrow's decoding threads each grow their own allocator arena.
            batches = pf.iter_batches(batch_size=self._batch_size(meta), use_threads=False)
            yield from self.split(task, pf.schema_arrow, batches, stats, progress, num_rows=meta.num_rows)

    def split(
        self,
        task: ShardTask,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        stats: ShardStats,
        progress: Progress | None = None,
        num_rows: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Decide on the documents of `batches` (of `schema`, regrouped by `rebatch`), write the kept and removed
        ones and yield each batch's kept documents; the outputs are complete once the iterator is exhausted (an error
        or an abandoned iterator leaves none of them)."""
        from pipeline.storage import parquet_writer, release_memory

        with ExitStack() as outputs:
            main_schema = self.output_schema(schema)
            removed_schema = _with_fields(schema, self.removed_fields(), replace=False)
            removed_names = [f.name for f in self.removed_fields()]
            main = outputs.enter_context(parquet_writer(task.outputs["main"], main_schema))
            removed = None
            if self.removed_output in task.outputs:
                removed = outputs.enter_context(parquet_writer(task.outputs[self.removed_output], removed_schema))
            self.begin(task, num_rows)
            for batch in rebatch(batches, self.batch_rows, self.batch_bytes):
                res = self.decide(batch, stats)
                reasons = res.reasons if isinstance(res.reasons, pa.Array) else pa.array(res.reasons, pa.string())
                kept = pc.is_null(reasons)
                out = _batch(batch, main_schema, res.columns)
                kept_out = out.filter(kept)
                main.write(kept_out)
                if removed is not None:
                    new = {**res.columns, **res.removed_columns, self.reason_column: reasons}
                    added = {name: new[name] for name in removed_names}
                    removed.write(_batch(batch, removed_schema, added).filter(pc.invert(kept)))
                text_in, text_out = batch.column("text"), out.column("text")
                stats.count_batch(
                    out.column("lang").to_pylist(),
                    reasons.to_pylist(),
                    pc.utf8_length(text_in).to_pylist(),
                    pc.binary_length(text_in).to_pylist(),
                    pc.utf8_length(text_out).to_pylist(),
                    pc.binary_length(text_out).to_pylist(),
                )
                if progress is not None:
                    progress(batch.num_rows)
                yield kept_out
                release_memory()
            self.finish(task, stats)

    def _batch_size(self, meta: Any) -> int:
        """Rows per read: `batch_rows`, fewer when the documents average more than `batch_bytes / batch_rows` (what
        the reader holds at once; `rebatch` then sets the batches `decide` sees)."""
        raw = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if not raw or not meta.num_rows:
            return self.batch_rows
        return max(1, min(self.batch_rows, self.batch_bytes * meta.num_rows // raw))


def _with_fields(schema: pa.Schema, fields: list[pa.Field], *, replace: bool) -> pa.Schema:
    """`schema` with `fields` appended (or, with `replace`, put in place of an input column of the same name)."""
    out = schema
    for f in fields:
        i = out.get_field_index(f.name) if replace else -1
        out = out.set(i, f) if i >= 0 else out.append(f)
    return out


def _batch(batch: pa.RecordBatch, schema: pa.Schema, values: dict[str, pa.Array]) -> pa.RecordBatch:
    """The batch's columns laid out as `schema`, the stage's new (or replaced) ones taken from `values`."""
    cols = [values[f.name] if f.name in values else batch.column(f.name) for f in schema]
    return pa.RecordBatch.from_arrays(cols, schema=schema)
