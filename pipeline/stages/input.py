"""`polyglot input`: your own corpus (Parquet, JSONL, Arrow, CSV, a Hugging Face dataset) → one Parquet file of
documents per shard, in the columns the next stage reads.

Reading and column mapping live in `pipeline.ingest.documents` (Ray-free); one unit of it (a file, a row range of a
saved dataset, a streamed data file) is one shard. Document ids are the source's own (``columns.id``, as strings), or
``<shard>/<row index>`` like the WARC stages' ``<shard>/<offset>``, so the same input gives byte-identical outputs.

Without a language (neither ``columns.lang`` nor ``lang``) the output has extract's columns and the run goes
input → langid. With one, it also has langid's columns (`pipeline.stages.langid.ADDED`) and the run may go
input → filter: ``lang`` canonicalized (`pipeline.lang.codes`, the text's script settling ``zh`` or ``sr``),
``lang_script`` the text's dominant script, ``family`` from the config's family table, ``lang_score`` the mapped
score column or null (the label was not scored by the pipeline's model; nothing downstream reads it), and the
columns only langid can fill (``lang_topk``, ``lang_share``, ``lang_group``, ``lang_models``) null. A document whose
language is missing, unknown or not one of `languages` is removed and counted by reason (``no_language``,
``unknown_language_code``, ``unwanted_language``), as are records without text (``no_text``, ``text_not_string``) and
malformed JSON lines (``malformed_json``, ``not_an_object``); removed documents are counted, not written.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any

import pyarrow as pa

from pipeline.ingest.documents import ROW, InputError, InputSettings, Unit, language_of, list_units, read_documents, source_name
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage, shard_ids
from pipeline.stages.extract import SCHEMA as EXTRACT_SCHEMA
from pipeline.stages.extract import doc_id
from pipeline.stages.langid import ADDED as LANGID_COLUMNS
from pipeline.stages.langid import REASON_UNWANTED
from pipeline.storage import fingerprint, join, write_parquet
from pipeline.text.scripts import dominant_script

#: Columns of an input output shard without a language: extract's, then the metadata passed through.
DOCUMENT_SCHEMA = EXTRACT_SCHEMA
#: With a language: extract's and langid's, then the metadata.
LABELLED_SCHEMA = pa.schema([*EXTRACT_SCHEMA, *(pa.field(n, t) for n, t in LANGID_COLUMNS)])


def _settings(cfg: Any) -> InputSettings:
    if cfg.input is None:
        raise ValueError("input: the config has no `input` section (paths or dataset, and columns)")
    return cfg.input


class InputStage(Stage):
    name = "input"
    cpus_per_worker = 0.5  # reading and light per-document work: I/O bound
    version = "1"

    def config_parts(self) -> tuple[str, ...]:
        return ("input", "languages", "families")

    def plan(self) -> list[ShardTask]:
        units = list_units(_settings(self.cfg))
        files = [u.location for u in units if u.is_file]
        ids = shard_ids(files)
        tasks = []
        for u in units:
            if u.is_file:
                sid, inputs = ids[u.location], (u.location,)
            else:
                base = shard_ids([u.location])[u.location]  # the dataset's folder or hub name, without its owner
                sid = "-".join(p for p in (base, u.name, u.split, f"{u.part:05d}") if p)
                inputs = ()
            tasks.append(ShardTask(sid, inputs, self.document_outputs(sid, removed=False), params={"unit": u}))
        return tasks

    def input_fingerprint(self, task: ShardTask) -> str:
        """A file's size and mtime; a saved dataset's index files (they change with its data); a streamed
        dataset's name, configuration, split and part (its revision is the hub's business)."""
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
        from pipeline.lang.families import family_of

        table = self.cfg.family_table()
        self._family = lambda code: family_of(code, table)
        self.wanted = set(self.cfg.languages) if self.cfg.languages is not None else None

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        settings = _settings(self.cfg)
        unit: Unit = task.params["unit"]
        labelled = settings.labels_language
        schema = LABELLED_SCHEMA if labelled else DOCUMENT_SCHEMA
        stats = ShardStats()
        skipped: Counter[str] = Counter()
        cols: dict[str, list[Any]] = {name: [] for name in schema.names}
        meta_parts: list[pa.Table] = []
        fixed = {"source_shard": source_name(unit), "source_format": unit.builder or unit.kind.removeprefix("hf_")}
        for table in read_documents(unit, settings, skipped):
            rows = table.column(ROW).to_pylist()
            texts = table.column("text").to_pylist()
            ids = table.column("id").to_pylist() if "id" in table.column_names else [None] * len(texts)
            urls = table.column("url").to_pylist() if "url" in table.column_names else [None] * len(texts)
            labels = (table.column("lang").to_pylist() if "lang" in table.column_names else [settings.lang] * len(texts))
            scores = (table.column("lang_score").to_pylist() if "lang_score" in table.column_names
                      else [None] * len(texts))  # fmt: skip
            keep = []
            for row, text, source_id, url, label, score in zip(rows, texts, ids, urls, labels, scores, strict=True):
                if settings.normalize == "NFC" and not unicodedata.is_normalized("NFC", text):
                    text = unicodedata.normalize("NFC", text)
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
                    cols["lang"].append(code)
                    cols["lang_score"].append(_score(score))
                    cols["lang_script"].append(script)
                    cols["family"].append(self._family(code))
                else:
                    stats.seen(lang, text)
                keep.append(True)
                stats.kept(lang, text)
                if source_id is None:
                    stats.count("ids_assigned")
                cols["doc_id"].append(doc_id(task.shard_id, row) if source_id is None else str(source_id))
                cols["text"].append(text)
                cols["url"].append(None if url is None else str(url))
                cols["record_offset"].append(row)
                for name, value in fixed.items():
                    cols[name].append(value)
            progress(len(texts))
            extra = [n for n in table.column_names if n not in ("text", "id", "url", "lang", "lang_score", ROW)]
            if extra:
                meta_parts.append(table.select(extra).filter(pa.array(keep, pa.bool_())))
        for reason, n in sorted(skipped.items()):
            if reason == "invalid_utf8_replaced":
                stats.count(reason, n)
                continue
            stats.by_lang["und"].docs_in += n  # records that never became documents, like extract's skipped ones
            stats.removed[reason]["und"] += n
        out = _table(cols, schema)
        if meta_parts or settings.columns.metadata:
            out = _with_metadata(out, meta_parts, task, settings)
        distinct = len(set(out.column("doc_id").to_pylist()))
        if distinct != out.num_rows:
            stats.count("duplicate_ids", out.num_rows - distinct)
        write_parquet(out, task.outputs["main"])
        return stats


def _score(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _table(cols: dict[str, list[Any]], schema: pa.Schema) -> pa.Table:
    n = len(cols["doc_id"])
    arrays = [pa.array(cols[f.name] if cols[f.name] else [None] * n, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _with_metadata(out: pa.Table, parts: list[pa.Table], task: ShardTask, settings: InputSettings) -> pa.Table:
    """The documents with the metadata columns appended; batches whose types differ are unified (a column that is a
    number in one batch and text in another becomes text)."""
    if not parts:
        names = [] if settings.columns.metadata == "all" else list(settings.columns.metadata)
        parts = [pa.table({n: pa.array([], pa.null()) for n in names})]
    try:
        meta = pa.concat_tables(parts, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        meta = pa.concat_tables([_as_text(p) for p in parts], promote_options="permissive")
    for name in meta.column_names:
        if name in out.column_names:
            raise InputError(f"input: shard {task.shard_id}: metadata column {name!r} has the name of an output "
                             "column; list input.columns.metadata without it")  # fmt: skip
        out = out.append_column(name, meta.column(name))
    return out


def _as_text(table: pa.Table) -> pa.Table:
    import json

    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_string(col.type) or pa.types.is_null(col.type):
            cols[name] = col.cast(pa.string())
        else:
            cols[name] = pa.array([None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
                                   for v in col.to_pylist()], pa.string())  # fmt: skip
    return pa.table(cols)
