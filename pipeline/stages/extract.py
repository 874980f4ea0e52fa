"""`polyglot extract`: WARC/WET shards → one Parquet file of documents per shard.

Reading, charset decoding and HTML → text live in `pipeline.ingest` (Ray-free); this stage plans shards, turns the
reader's documents into an Arrow table and counts every record it could not use, by reason. Across the shard's
documents it drops each site's template lines (`pipeline.ingest.boilerplate.drop_site_repeats`), the one step that
needs more than one page.
"""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

import pyarrow as pa

from pipeline.ingest.boilerplate import drop_site_repeats
from pipeline.ingest.warc import (
    Document,
    ExtractSettings,
    Skipped,
    extract_stream,
    too_short,
)
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage, shard_ids
from pipeline.storage import expand_inputs, join, open_input, write_parquet

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
        ex = self.cfg.extract
        self.options = self.cfg.extract

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        stats = ShardStats()
        source = posixpath.basename(task.inputs[0])
        docs: list[Document] = []
        n = 0
        with open_input(task.inputs[0]) as stream:
            for item in extract_stream(stream, self.options, crawl_id=self.cfg.extract.crawl_id):
                n += 1
                if n % 500 == 0:
                    progress(500)
                if isinstance(item, Skipped):
                    stats.seen("und", "", 0)
                    stats.removed_doc("und", item.reason)
                    continue
                assert isinstance(item, Document)
                docs.append(item)
        progress(n % 500)
        self._drop_site_repeats(docs, stats)
        cols: dict[str, list] = {name: [] for name in SCHEMA.names}
        for item in docs:
            stats.seen("und", item.text, item.payload_bytes)
            if too_short(item.text, self.options.min_text_chars):  # only site repeats can have shortened it
                stats.removed_doc("und", "empty_extraction")
                continue
            stats.kept("und", item.text)
            if item.full_text_fallback:
                stats.count("full_text_fallback")
            for repair in item.repairs:
                stats.count(repair)
            cols["doc_id"].append(doc_id(task.shard_id, item.offset))
            cols["text"].append(item.text)
            cols["url"].append(item.url)
            cols["warc_record_id"].append(item.record_id)
            cols["fetch_date"].append(item.date)
            cols["crawl_id"].append(item.crawl_id)
            cols["source_shard"].append(source)
            cols["record_offset"].append(item.offset)
            cols["source_format"].append(item.source_format)
            cols["content_type"].append(item.content_type)
            cols["charset"].append(item.charset)
            cols["charset_source"].append(item.charset_source)
            cols["payload_bytes"].append(item.payload_bytes)
        write_parquet(pa.table(cols, schema=SCHEMA), task.outputs["main"])
        return stats

    def _drop_site_repeats(self, docs: list[Document], stats: ShardStats) -> None:
        """Remove each site's template lines across the shard's pages (`drop_site_repeats`), counting them."""
        min_pages = self.cfg.extract.site_repeat_pages
        if not min_pages or len(docs) < min_pages:
            return
        hosts = [(urlsplit(d.url).hostname or f"#{i}") for i, d in enumerate(docs)]
        texts, dropped = drop_site_repeats(list(zip(hosts, (d.text for d in docs), strict=True)), min_pages)
        if dropped:
            stats.count("site_repeat_lines", dropped)
            for d, text in zip(docs, texts, strict=True):
                d.text = text
