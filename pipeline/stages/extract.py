"""`polyglot extract`: WARC/WET shards → one Parquet file of documents per shard.

Reading, charset decoding and HTML → text live in `pipeline.ingest` (Ray-free); this stage plans shards, turns the
reader's documents into Parquet row groups as they come and counts every record it could not use, by reason. Across
the shard's documents it drops each site's template lines (`pipeline.ingest.site_repeats`), the one step that needs
more than one page.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyarrow as pa

from pipeline.ingest.site_repeats import SiteRepeats
from pipeline.ingest.warc import (
    Document,
    ExtractSettings,
    Skipped,
    extract_stream,
    too_short,
)
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage, shard_ids
from pipeline.storage import (
    ROW_GROUP_BYTES,
    ParquetSink,
    expand_inputs,
    join,
    open_input,
    open_parquet,
    parquet_writer,
    release_memory,
)

#: Columns of an extract output shard, in order.
SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        ("warc_record_id", pa.string()),
        ("fetch_date", pa.string()),
        ("crawl_id", pa.string()),
        ("source_shard", pa.string()),
        ("record_offset", pa.int64()),
        ("source_format", pa.string()),
        ("content_type", pa.string()),
        ("charset", pa.string()),
        ("charset_source", pa.string()),
        ("payload_bytes", pa.int64()),
    ]
)


#: The spilled documents: the output columns and what the last pass needs (the page's site, what to count).
SPILL_SCHEMA = SCHEMA.append(pa.field("host", pa.string())).append(pa.field("full_text_fallback", pa.bool_())).append(
    pa.field("repairs", pa.list_(pa.string()))
)
#: Documents per batch of the spill and of the passes over it.
BATCH_DOCS = 1000


def doc_id(shard_id: str, offset: int) -> str:
    """A document's id: its source shard and the byte offset of its record — stable across reruns."""
    return f"{shard_id}/{offset}"


class ExtractStage(Stage):
    name = "extract"
    version = "4"  # 2: NFC-normalized text; 3: boilerplate pass, site repeats, truncation recovery, no comments; 4: deep pages

    def config_parts(self) -> tuple[str, ...]:
        """How records become documents, and the crawl id; not `inputs` (adding a file must not redo the others)."""
        return (*(f"extract.{k}" for k in ExtractSettings.model_fields), "extract.crawl_id")

    def input_files(self) -> list[str]:
        """The WARC/WET files to read: the configured inputs, else what `download` fetched."""
        ex = self.cfg.extract
        if ex.inputs is not None:
            return expand_inputs(ex.inputs)
        from pipeline.stages.download import DownloadStage

        return [t.outputs["main"] for t in DownloadStage(self.cfg).plan()]

    def plan(self) -> list[ShardTask]:
        files = self.input_files()
        ids = shard_ids(files)
        return [
            ShardTask(shard_id=ids[f], inputs=(f,), outputs={"main": join(self.stage_dir(), f"{ids[f]}.parquet")})
            for f in files
        ]

    def setup(self) -> None:
        self.options = self.cfg.extract

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        """Read the WARC once, spilling its documents to a local temporary Parquet file and each page's line keys to
        `SiteRepeats`; then decide each site's template lines over the spill, and stream the spill to the output
        without them. A worker holds one batch of documents and the keys of template lines, not the shard."""
        stats = ShardStats()
        with tempfile.TemporaryDirectory(prefix="polyglot-extract-") as tmp:
            spill = os.path.join(tmp, "documents.parquet")
            min_pages = self.cfg.extract.site_repeat_pages
            repeats = SiteRepeats(tmp, min_pages) if min_pages else None
            self._read(task, spill, stats, progress, repeats)
            if repeats is not None:
                repeats.find(_spilled_pages(spill))
            with parquet_writer(task.outputs["main"], SCHEMA) as out, open_parquet(spill) as docs:
                for batch in docs.iter_batches(batch_size=BATCH_DOCS):
                    out.write(self._finish_batch(batch, repeats, stats))
                    release_memory()
        return stats

    def _read(
        self, task: ShardTask, spill: str, stats: ShardStats, progress: Progress, repeats: SiteRepeats | None
    ) -> None:
        """Extract every record into `spill` (SPILL_SCHEMA), counting skipped records, and each page's lines into
        `repeats`."""
        source = posixpath.basename(task.inputs[0])
        rows: list[Document] = []
        row_hosts: list[str] = []
        n = docs = 0
        with open(spill, "wb") as f, open_input(task.inputs[0]) as stream:
            sink = ParquetSink(f, SPILL_SCHEMA, BATCH_DOCS, ROW_GROUP_BYTES)
            try:
                for item in extract_stream(stream, self.options, crawl_id=self.cfg.extract.crawl_id):
                    n += 1
                    if n % 500 == 0:
                        progress(500)
                    if isinstance(item, Skipped):
                        stats.seen("und", "", 0)
                        stats.removed_doc("und", item.reason)
                        continue
                    assert isinstance(item, Document)
                    host = urlsplit(item.url).hostname or f"#{docs}"
                    docs += 1
                    if repeats is not None:
                        repeats.add(host, item.text)
                    rows.append(item)
                    row_hosts.append(host)
                    if len(rows) == BATCH_DOCS:
                        sink.write(_spill_batch(rows, row_hosts, task.shard_id, source))
                        rows, row_hosts = [], []
                        release_memory()
                if rows:
                    sink.write(_spill_batch(rows, row_hosts, task.shard_id, source))
            except BaseException:
                sink.abort()
                raise
            sink.close()
        progress(n % 500)

    def _finish_batch(self, batch: pa.RecordBatch, repeats: SiteRepeats | None, stats: ShardStats) -> pa.RecordBatch:
        """A spilled batch without its sites' template lines and the pages they left too short, counted."""
        texts = batch.column("text").to_pylist()
        keep = []
        dropped = 0
        for i, (host, payload, fallback, repairs) in enumerate(
            zip(*(batch.column(c).to_pylist() for c in ("host", "payload_bytes", "full_text_fallback", "repairs")))
        ):
            if repeats is not None:
                texts[i], n = repeats.strip(host, texts[i])
                dropped += n
            stats.seen("und", texts[i], payload)
            if too_short(texts[i], self.options.min_text_chars):  # only site repeats can have shortened it
                stats.removed_doc("und", "empty_extraction")
                keep.append(False)
                continue
            keep.append(True)
            stats.kept("und", texts[i])
            if fallback:
                stats.count("full_text_fallback")
            for repair in repairs:
                stats.count(repair)
        if dropped:
            stats.count("site_repeat_lines", dropped)
        cols = [pa.array(texts, pa.string()) if f.name == "text" else batch.column(f.name) for f in SCHEMA]
        return pa.RecordBatch.from_arrays(cols, schema=SCHEMA).filter(pa.array(keep, pa.bool_()))


def _spilled_pages(spill: str) -> Iterator[tuple[str, str]]:
    """(host, text) of the spilled documents, in order, a batch at a time."""
    with open_parquet(spill) as docs:
        for batch in docs.iter_batches(batch_size=BATCH_DOCS, columns=["host", "text"]):
            yield from zip(batch.column("host").to_pylist(), batch.column("text").to_pylist(), strict=True)
            release_memory()


def _spill_batch(docs: list[Document], hosts: list[str], shard_id: str, source: str) -> pa.RecordBatch:
    """Documents as a batch of SPILL_SCHEMA: the output columns and what the last pass needs to count them."""
    cols = {
        "doc_id": [doc_id(shard_id, d.offset) for d in docs],
        "text": [d.text for d in docs],
        "url": [d.url for d in docs],
        "warc_record_id": [d.record_id for d in docs],
        "fetch_date": [d.date for d in docs],
        "crawl_id": [d.crawl_id for d in docs],
        "source_shard": [source] * len(docs),
        "record_offset": [d.offset for d in docs],
        "source_format": [d.source_format for d in docs],
        "content_type": [d.content_type for d in docs],
        "charset": [d.charset for d in docs],
        "charset_source": [d.charset_source for d in docs],
        "payload_bytes": [d.payload_bytes for d in docs],
        "host": hosts,
        "full_text_fallback": [d.full_text_fallback for d in docs],
        "repairs": [list(d.repairs) for d in docs],
    }
    return pa.RecordBatch.from_pydict(cols, schema=SPILL_SCHEMA)
