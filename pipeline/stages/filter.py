"""`polyglot filter`: the URL filter, then language-aware quality rules, then PII masking, per shard.

Where a document is judged: first by its URL (`pipeline.filter.url.URLFilter`: blocklists, banned words), then by
`pipeline.filter.quality.QualityFilter` (the rule families of `pipeline.filter.rules`: bad words, page shape, Gopher,
C4, FineWeb, the user's own rules, with "word", "sentence end" and "n-gram" defined per script); thresholds come from
the `filter.quality` config (global values rescaled per script, then per-script and per-language overrides).
A removed document goes to `_removed/filter/<shard>.parquet` with `filter_reason` (``url:<reason>`` or
``<family>:<rule>``, e.g. ``url:blocklist:adult``, ``page:error_page``); a kept one continues with C4's line
removals applied and its PII masked (`pipeline.filter.pii`).

With `filter.write_measurements` every document's measurements (one column per rule, ``<family>.<metric>``, null
where a rule does not apply) go to `attributes/filter/<shard>.parquet` with its `doc_id`, `lang` and `filter_reason`:
re-threshold from them without recomputing (`polyglot calibrate` measures a reference corpus with the same rules).

Counts in the shard's record: documents kept and removed per language and rule (`removed`), and counters
``pii/<kind>/<lang>`` (items masked) and ``lines_removed/<rule>/<lang>`` (C4 line removals).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator

import pyarrow as pa

from pipeline.filter.pii import PIIMasker
from pipeline.filter.quality import QualityFilter, QualityResult
from pipeline.filter.url import URLFilter
from pipeline.stages.base import BatchResult, DocumentStage, ShardStats, ShardTask
from pipeline.storage import join, parquet_writer


class FilterStage(DocumentStage):
    name = "filter"
    version = "2"
    reason_column = "filter_reason"

    def config_parts(self) -> tuple[str, ...]:
        return ("filter",)

    def task_for(self, upstream: ShardTask) -> ShardTask:
        f = self.cfg.filter
        outputs = self.document_outputs(upstream.shard_id, removed=f.write_removed)
        if f.write_measurements:
            outputs["attributes"] = join(self.cfg.run.work_dir, "attributes", "filter", f"{upstream.shard_id}.parquet")
        return ShardTask(upstream.shard_id, (upstream.outputs["main"],), outputs, input_hashes=upstream.reading())

    def input_fingerprint(self, task: ShardTask) -> str:
        """The shard's input plus the word and domain lists the config names: a list edited in place (same path,
        so the same config) must redo the shards."""
        from pipeline.storage import fingerprint

        f = self.cfg.filter
        lists = [*f.url.blocklists.values()] if f.url.enabled else []
        q = f.quality
        for override in (q, *q.by_script.values(), *q.by_lang.values()):
            bw = getattr(override, "badwords", None)
            if bw is not None and bw.replace:
                lists += list(bw.replace.values())
        return "+".join([super().input_fingerprint(task), *(fingerprint(p) for p in sorted(set(lists)))])

    def setup(self) -> None:
        f = self.cfg.filter
        self.urls = URLFilter(f.url) if f.url.enabled else None
        self.quality = QualityFilter(f.quality)
        self.masker = PIIMasker(f.pii) if f.mask_pii else None

    def main_fields(self) -> list[pa.Field]:
        return [pa.field("text", pa.string()), pa.field("lines_removed", pa.int32()), pa.field("pii_masked", pa.int32())]

    def begin(self, task: ShardTask, num_rows: int | None) -> None:
        # Each batch's measurements are spilled to a local Arrow file: the output's columns (their union) are known
        # only after the last batch, and holding them would grow a worker with the shard.
        self._attributes: _Spill | None = _Spill() if "attributes" in task.outputs else None
        self._langs: set[str] = set()

    def decide(self, batch: pa.RecordBatch, stats: ShardStats) -> BatchResult:
        texts = batch.column("text").to_pylist()
        langs = batch.column("lang").to_pylist()
        urls = batch.column("url").to_pylist() if "url" in batch.schema.names else [None] * len(texts)
        measure = self._attributes is not None
        measurements: list[dict[str, float]] = []
        out_texts: list[str] = []
        reasons: list[str | None] = []
        masked: list[int] = []
        lines_removed: list[int] = []
        url_reasons = [self.urls.check(url) for url in urls] if self.urls is not None else [None] * len(texts)
        measured: Iterator[tuple[QualityResult, dict[str, float]]] = iter(())
        if measure:  # the documents the URL filter keeps, measured as one batch (`apply_measured_many`)
            keep = [i for i, r in enumerate(url_reasons) if r is None]
            measured = iter(self.quality.apply_measured_many([texts[i] for i in keep], [langs[i] for i in keep]))
        for text, lang, url_reason in zip(texts, langs, url_reasons, strict=True):
            if url_reason is not None:
                res, found = QualityResult(url_reason, text), {}
            elif measure:
                res, found = next(measured)
            else:
                res, found = self.quality.apply(text, lang), {}
            measurements.append(found)
            for rule, n in res.removed_lines.items():
                stats.count(f"lines_removed/{rule}/{lang}", n)
            new = res.text
            n_masked = 0
            if res.reason is None and self.masker is not None:
                new, found = self.masker.mask(new)
                for kind, n in found.items():
                    if n:
                        stats.count(f"pii/{kind}/{lang}", n)
                        n_masked += n
            out_texts.append(new)
            reasons.append(res.reason)
            masked.append(n_masked)
            lines_removed.append(sum(res.removed_lines.values()) if res.text is not text else 0)
        if self._attributes is not None:
            self._attributes.append(_attributes(batch, reasons, measurements))
            self._langs.update(langs)
        columns = {
            "text": pa.array(out_texts, pa.string()),
            "lines_removed": pa.array(lines_removed, pa.int32()),
            "pii_masked": pa.array(masked, pa.int32()),
        }
        return BatchResult(reasons, columns)

    def finish(self, task: ShardTask, stats: ShardStats) -> None:
        """The measurements of the whole shard in one file, written once the last batch is measured: its columns are
        the union of every batch's (sorted; float32, a few hundred bytes a document). The schema metadata
        ``polyglot.thresholds`` holds, per language, each column's rule, comparison and threshold."""
        spill = self._attributes
        if spill is None:
            return
        thresholds = {lang: self.quality.thresholds_for(lang) for lang in sorted(self._langs)}
        meta = {b"polyglot.thresholds": json.dumps(thresholds, sort_keys=True, ensure_ascii=False).encode()}
        fixed = [pa.field("doc_id", pa.string()), pa.field("lang", pa.string()), pa.field("filter_reason", pa.string())]
        schema = pa.schema(fixed + [pa.field(n, pa.float32()) for n in sorted(spill.names)], metadata=meta)
        try:
            with parquet_writer(task.outputs["attributes"], schema) as out:
                for part in spill.parts():
                    n = part.num_rows
                    out.write(pa.table([part.column(f.name) if f.name in part.column_names else pa.nulls(n, f.type)
                                        for f in schema], schema=schema))  # fmt: skip
        finally:
            spill.close()
            self._attributes = None


class _Spill:
    """Per-batch attribute tables in a local temporary folder (Arrow IPC, read back one at a time)."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="polyglot-attributes-")
        self._count = 0
        self.names: set[str] = set()

    def append(self, table: pa.Table) -> None:
        self.names.update(n for n in table.column_names if n not in ("doc_id", "lang", "filter_reason"))
        with pa.OSFile(os.path.join(self._dir.name, f"{self._count:06d}.arrow"), "wb") as f, \
                pa.ipc.new_file(f, table.schema) as w:  # fmt: skip
            w.write_table(table)
        self._count += 1

    def parts(self) -> Iterator[pa.Table]:
        for i in range(self._count):  # read into memory: the writer may keep a part's rows past the next one
            with pa.OSFile(os.path.join(self._dir.name, f"{i:06d}.arrow")) as f:
                yield pa.ipc.open_file(f).read_all()

    def close(self) -> None:
        self._dir.cleanup()


def _attributes(batch: pa.RecordBatch, reasons: list[str | None], rows: list[dict[str, float]]) -> pa.Table:
    """doc_id, lang, filter_reason and one float32 column per measurement of a batch (sorted names; null where not
    measured)."""
    names = sorted({k for row in rows for k in row})
    cols: dict[str, pa.Array] = {
        "doc_id": batch.column("doc_id"),
        "lang": batch.column("lang"),
        "filter_reason": pa.array(reasons, pa.string()),
    }
    for name in names:
        cols[name] = pa.array([row.get(name) for row in rows], pa.float32())
    return pa.table(cols)
