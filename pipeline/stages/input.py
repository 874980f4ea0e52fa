"""`polyglot input`: your own corpus (Parquet, JSONL, Arrow, CSV, a Hugging Face dataset) → one Parquet file of
documents per shard, in the columns the next stage reads.

Reading and column mapping live in `pipeline.ingest.documents` (Ray-free); one unit of it (a file, a row range of a
saved dataset, a streamed data file) is one shard. Document ids are the source's own (``columns.id``, as strings), or
``<shard>/<row index>`` like the WARC stages' ``<shard>/<offset>``, so the same input gives byte-identical outputs.

Without a language (neither ``columns.lang`` nor ``lang``) the output has extract's columns and the run goes
input → langid. With one, it also has langid's columns (`pipeline.stages.langid.ADDED`) and the run may go
input → filter: ``lang`` canonicalized (`pipeline.lang.codes`, the text's script settling ``zh`` or ``sr``),
``lang_script`` the text's dominant script, ``lang_score`` the mapped
score column or null (the label was not scored by the pipeline's model; nothing downstream reads it), and the
columns only langid can fill (``lang_topk``, ``lang_share``, ``lang_group``, ``lang_models``) null. A document whose
language is missing, unknown or not one of `languages` is removed and counted by reason (``no_language``,
``unknown_language_code``, ``unwanted_language``), as are records without text (``no_text``, ``text_not_string``) and
malformed JSON lines (``malformed_json``, ``not_an_object``); removed documents are counted, not written.

A Parquet file over ``split_mb`` is read as parts on several workers (`Splittable`): each part reads whole batches
of the file (`pipeline.ingest.documents.parquet_parts`, cut at row-group starts) into an Arrow stream of its output
tables, and the merge writes them as one file — the tables, hence the bytes, of a whole-file read.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from dataclasses import replace
from typing import Any

import pyarrow as pa

from pipeline.ingest.documents import (
    ROW,
    InputError,
    InputSettings,
    Unit,
    language_of,
    list_units,
    parquet_parts,
    read_documents,
    source_name,
)
from pipeline.stages.base import (
    BatchSource,
    BatchStream,
    Progress,
    ShardStats,
    ShardTask,
    Splittable,
    Stage,
    shard_ids,
)
from pipeline.stages.extract import SCHEMA as EXTRACT_SCHEMA
from pipeline.stages.extract import doc_id
from pipeline.stages.langid import ADDED as LANGID_COLUMNS
from pipeline.stages.langid import REASON_UNWANTED
from pipeline.storage import atomic_open, file_size, fingerprint, join, open_input, parquet_schema, write_parquet
from pipeline.text.scripts import dominant_script

#: Columns of an input output shard without a language: extract's, then the metadata passed through.
DOCUMENT_SCHEMA = EXTRACT_SCHEMA
#: With a language: extract's and langid's, then the metadata.
LABELLED_SCHEMA = pa.schema([*EXTRACT_SCHEMA, *(pa.field(n, t) for n, t in LANGID_COLUMNS)])


def _settings(cfg: Any) -> InputSettings:
    if cfg.input is None:
        raise ValueError("input: the config has no `input` section (paths or dataset, and columns)")
    return cfg.input


class InputStage(Splittable, Stage, BatchSource):
    name = "input"
    version = "1"

    def config_parts(self) -> tuple[str, ...]:
        labelled = self.cfg.input is not None and self.cfg.input.labels_language
        return ("input", "languages") if labelled else ("input",)

    def plan(self) -> list[ShardTask]:
        units = list_units(_settings(self.cfg))
        ids = shard_ids([u.location for u in units if u.is_file])
        bases = shard_ids(sorted({u.location for u in units if not u.is_file}))  # a dataset's folder or hub name
        tasks = []
        for u in units:
            if u.is_file:
                sid, inputs = ids[u.location], (u.location,)
            else:
                sid = "-".join(p for p in (bases[u.location], u.name, u.split, f"{u.part:05d}") if p)
                inputs = ()
            tasks.append(ShardTask(sid, inputs, self.document_outputs(sid, removed=False), params={"unit": u}))
        return tasks

    def input_fingerprint(self, task: ShardTask) -> str:
        """A file's size and mtime; a saved dataset's split index (`state.json`, rewritten with its data); a streamed
        dataset's name, configuration, split and part only (a new hub revision, or new files in a local data
        folder, are not seen: rerun with --force)."""
        u: Unit = task.params["unit"]
        if u.is_file:
            return super().input_fingerprint(task)
        desc = f"{u.kind}|{u.location}|{u.name}|{u.split}|{u.part}/{u.parts}|{u.start}-{u.stop}"
        if u.kind == "hf_disk":
            from pipeline.storage import exists

            state = join(u.location, u.split, "state.json") if u.split else join(u.location, "state.json")
            if exists(state):
                desc += "|" + fingerprint(state)
        return desc

    def setup(self) -> None:
        self.wanted = set(self.cfg.languages) if self.cfg.languages is not None else None

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        stats = ShardStats()
        self._whole(task, stats, progress)
        return stats

    def stream(self, task: ShardTask, stats: ShardStats, progress: Progress) -> BatchStream:
        """`process`, then the written documents for the next stage of a fused chain (the shard is in memory
        already: it is written whole, then handed on)."""
        out = self._whole(task, stats, progress)
        return BatchStream(parquet_schema(out.schema), iter(out.to_batches()))

    def _whole(self, task: ShardTask, stats: ShardStats, progress: Progress) -> pa.Table:
        """The shard's unit read and written in one piece; returns what was written."""
        settings = _settings(self.cfg)
        skipped: Counter[str] = Counter()
        parts = self._tables(task.params["unit"], task.shard_id, settings, stats, skipped, progress)
        return self._write(task, parts, settings, stats, skipped)

    def _tables(self, unit: Unit, shard_id: str, settings: InputSettings, stats: ShardStats, skipped: Counter[str],
                progress: Progress) -> list[pa.Table]:  # fmt: skip
        """The unit's documents as output tables, one per batch read (their chunks are the output's)."""
        return [self._batch(table, shard_id, unit, settings, stats, progress)
                for table in read_documents(unit, settings, skipped)]  # fmt: skip

    def _write(self, task: ShardTask, parts: list[pa.Table], settings: InputSettings, stats: ShardStats,
               skipped: Counter[str]) -> pa.Table:  # fmt: skip
        """Count what never became a document, then write the shard's tables as one file (returned)."""
        for reason, n in sorted(skipped.items()):
            if reason == "invalid_utf8_replaced":
                stats.count(reason, n)
                continue
            stats.by_lang["und"].docs_in += n  # records that never became documents, like extract's skipped ones
            stats.removed[reason]["und"] += n
        out = _concat(parts, self._schema(settings), task.shard_id, settings)
        distinct = len(set(out.column("doc_id").to_pylist()))
        if distinct != out.num_rows:
            stats.count("duplicate_ids", out.num_rows - distinct)
        write_parquet(out, task.outputs["main"])
        return out

    # -- a large Parquet file in parts (`Splittable`) --------------------------------------------------------------

    def split(self, task: ShardTask, max_parts: int) -> list[ShardTask]:
        """Parts of about `input.split_mb` of a Parquet file, at row-group starts (at most `max_parts`); none for
        other formats or a smaller file. Reads the file's footer."""
        settings = _settings(self.cfg)
        unit: Unit = task.params["unit"]
        if unit.kind != "parquet" or not settings.split_mb:
            return []
        n = min(max_parts, math.ceil((file_size(unit.location) or 0) / (settings.split_mb * 2**20)))
        ranges = parquet_parts(unit.location, n) if n > 1 else []
        if len(ranges) < 2:
            return []
        folder = self.parts_dir(task.shard_id)
        names = [f"part-{k + 1:03d}-of-{len(ranges):03d}" for k in range(len(ranges))]
        return [ShardTask(name, task.inputs, {"tables": join(folder, f"{name}.arrow")},
                          params={"unit": replace(unit, start=a, stop=b), "shard_id": task.shard_id})
                for name, (a, b) in zip(names, ranges, strict=True)]  # fmt: skip

    def process_part(self, part: ShardTask, progress: Progress) -> dict[str, Any]:
        """One part's output tables into an Arrow stream (a table per batch, as `process` holds them); returns its
        counts and what never became a document."""
        settings = _settings(self.cfg)
        unit: Unit = part.params["unit"]
        stats = ShardStats()
        skipped: Counter[str] = Counter()
        tables = self._tables(unit, part.params["shard_id"], settings, stats, skipped, progress)
        schema = tables[0].schema if tables else self._schema(settings)
        chunks = []  # record batches per table: a table of 0 rows is one empty batch, so it comes back too
        with atomic_open(part.outputs["tables"]) as f, pa.ipc.new_stream(f, schema) as stream:
            for table in tables:
                if table.schema != schema:
                    raise InputError(f"{unit.label}: rows {unit.start}-{unit.stop}: a batch's columns differ from the "
                                     "first's; set input.split_mb: 0 for this file")  # fmt: skip
                batches = table.to_batches() or [pa.RecordBatch.from_pylist([], schema=schema)]
                for b in batches:
                    stream.write_batch(b)
                chunks.append(len(batches))
        return {"rows": [unit.start, unit.stop], "chunks": chunks, "stats": stats.to_dict(),
                "skipped": dict(sorted(skipped.items()))}  # fmt: skip

    def merge(self, task: ShardTask, parts: list[ShardTask], results: list[dict[str, Any]],
              progress: Progress) -> ShardStats:  # fmt: skip
        """The parts' tables in order, written as `process` writes the whole file's, and their counts added up."""
        settings = _settings(self.cfg)
        stats = ShardStats()
        skipped: Counter[str] = Counter()
        tables: list[pa.Table] = []
        for part, res in zip(parts, results, strict=True):
            _add_stats(stats, res["stats"])
            skipped.update(res["skipped"])
            with open_input(part.outputs["tables"]) as f:
                batches = list(pa.ipc.open_stream(pa.BufferReader(f.read())))
            if len(batches) != sum(res["chunks"]):
                raise InputError(f"{part.outputs['tables']}: {len(batches)} batches, its part wrote "
                                 f"{sum(res['chunks'])}")  # fmt: skip
            at = 0
            for n in res["chunks"]:
                tables.append(pa.Table.from_batches(batches[at : at + n], schema=batches[at].schema))
                at += n
        self._write(task, tables, settings, stats, skipped)
        return stats

    @staticmethod
    def _schema(settings: InputSettings) -> pa.Schema:
        return LABELLED_SCHEMA if settings.labels_language else DOCUMENT_SCHEMA

    def _batch(self, table: pa.Table, shard_id: str, unit: Unit, settings: InputSettings, stats: ShardStats,
               progress: Progress) -> pa.Table:  # fmt: skip
        """One batch of `read_documents` in the output's columns (then its metadata), its documents counted. Text
        stays in Arrow; a Python string per document is only looked at (NFC, script, counts)."""
        labelled = settings.labels_language
        n = table.num_rows
        texts = table.column("text").to_pylist()
        rows = table.column(ROW).to_pylist()
        source_ids = table.column("id").to_pylist() if "id" in table.column_names else [None] * n
        labels = table.column("lang").to_pylist() if "lang" in table.column_names else [settings.lang] * n
        keep: list[bool] = []
        ids: list[str] = []
        changed = False
        langs: dict[str, list[Any]] = {"lang": [], "lang_script": []}
        for i, (text, row, source_id, label) in enumerate(zip(texts, rows, source_ids, labels, strict=True)):
            if settings.normalize == "NFC" and not unicodedata.is_normalized("NFC", text):
                text = texts[i] = unicodedata.normalize("NFC", text)
                changed = True
            lang = "und"
            if labelled:
                script = dominant_script(text)
                code, reason = language_of(label, script)
                if reason is None and self.wanted is not None and code not in self.wanted:
                    reason = REASON_UNWANTED
                lang = code or "und"
                stats.seen(lang, text)
                if reason is not None:
                    stats.removed_doc(lang, reason)
                    keep.append(False)
                    continue
                langs["lang"].append(code)
                langs["lang_script"].append(script)
            else:
                stats.seen(lang, text)
            keep.append(True)
            stats.kept(lang, text)
            if source_id is None:
                stats.count("ids_assigned")
            ids.append(doc_id(shard_id, row) if source_id is None else str(source_id))
        progress(n)
        mask = pa.array(keep, pa.bool_())
        text_col = pa.array(texts, pa.string()) if changed else table.column("text")
        k = len(ids)
        given: dict[str, Any] = {
            "doc_id": pa.array(ids, pa.string()),
            "text": text_col.filter(mask),
            "url": table.column("url").filter(mask) if "url" in table.column_names else None,
            "source_shard": pa.array([source_name(unit)] * k, pa.string()),
            "record_offset": table.column(ROW).filter(mask),
            "source_format": pa.array([unit.builder or unit.kind.removeprefix("hf_")] * k, pa.string()),
        }
        if labelled:
            given |= {name: pa.array(values, pa.string()) for name, values in langs.items()}
            if "lang_score" in table.column_names:
                given["lang_score"] = _scores(table.column("lang_score").filter(mask))
        cols = [_typed(given.get(f.name), f.type, k) for f in self._schema(settings)]
        out = pa.Table.from_arrays(cols, schema=self._schema(settings))
        meta = [c for c in table.column_names if c not in ("text", "id", "url", "lang", "lang_score", ROW)]
        for name in meta:
            out = out.append_column(name, table.column(name).filter(mask))
        return out


def _add_stats(stats: ShardStats, counts: dict[str, Any]) -> None:
    """Add a part's counts (`ShardStats.to_dict`) to the shard's."""
    for lang, c in counts["by_lang"].items():
        mine = stats.by_lang[lang]
        for k, v in c.items():
            setattr(mine, k, getattr(mine, k) + v)
    for reason, by_lang in counts["removed"].items():
        for lang, n in by_lang.items():
            stats.removed[reason][lang] += n
    for name, n in counts["counters"].items():
        stats.count(name, n)


def _typed(values: Any, typ: pa.DataType, n: int) -> pa.Array | pa.ChunkedArray:
    """A column of the output schema: the given values cast to its type, or nulls."""
    if values is None:
        return pa.nulls(n, typ)
    return values if values.type == typ else values.cast(typ)


def _scores(col: pa.ChunkedArray) -> pa.Array:
    """A mapped score column as float32; values that are not numbers become null."""
    try:
        return col.cast(pa.float32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([_score(v) for v in col.to_pylist()], pa.float32())


def _score(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _concat(parts: list[pa.Table], schema: pa.Schema, shard_id: str, settings: InputSettings) -> pa.Table:
    """The shard's table from its batches. Metadata whose type differs between batches (a number in one, text in
    another) becomes text; listed metadata columns exist (null) even when no document was kept."""
    if not parts:
        meta = settings.columns.metadata
        names = [] if meta == "all" else list(meta)
        return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema] + [pa.nulls(0) for _ in names],
                                    names=[*schema.names, *names])  # fmt: skip
    for part in parts:
        clash = [c for c in part.column_names[len(schema) :] if c in schema.names]
        if clash:
            raise InputError(f"input: shard {shard_id}: metadata column {clash[0]!r} has the name of an output "
                             "column; list input.columns.metadata without it")  # fmt: skip
    try:
        return pa.concat_tables(parts, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.concat_tables([_as_text(p, len(schema)) for p in parts], promote_options="permissive")


def _as_text(table: pa.Table, first: int) -> pa.Table:
    """`table` with its metadata columns (from index `first` on) as text: strings stay, other values as JSON."""
    import json

    for i in range(first, table.num_columns):
        col = table.column(i)
        if pa.types.is_string(col.type):
            continue
        values = [None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
                  for v in col.to_pylist()]  # fmt: skip
        table = table.set_column(i, table.field(i).name, pa.array(values, pa.string()))
    return table
