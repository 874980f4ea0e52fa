"""`polyglot extract`: WARC/WET shards → one Parquet file of documents per shard.

Reading, charset decoding and HTML → text live in `pipeline.ingest` (Ray-free); this stage plans shards, turns the
reader's documents into Parquet row groups as they come and counts every record it could not use, by reason. Across
the shard's documents it drops each site's template lines (`pipeline.ingest.site_repeats`), the one step that needs
more than one page.

A large gzip file is read as parts on several workers at once (`Splittable`, `extract.split_mb`): each part extracts
the records of its byte range (`pipeline.ingest.warc.part_range`: cut at gzip member boundaries) into a spill of
documents and a file of site line keys in the work dir, which is the expensive part (Resiliparse); the merge then
decides the site templates over all the parts and writes the output in record order. Document ids are record offsets
in the whole file, and the merge feeds the writer the same batches as a whole-file read, so the output has the same
bytes and the record the same counts whatever the number of parts.
"""

from __future__ import annotations

import math
import os
import posixpath
import tempfile
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.ingest.site_repeats import SiteRepeats
from pipeline.ingest.warc import (
    Document,
    ExtractSettings,
    Skipped,
    extract_stream,
    part_range,
    too_short,
)
from pipeline.stages.base import (
    BatchSource,
    _text_ends,
    BatchStream,
    Progress,
    ShardStats,
    ShardTask,
    Splittable,
    Stage,
    shard_ids,
)
from pipeline.storage import (
    ROW_GROUP_BYTES,
    ParquetSink,
    atomic_open,
    expand_inputs,
    file_size,
    fs_and_path,
    is_local,
    join,
    open_input,
    open_parquet,
    parquet_schema,
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


#: A spill of documents and, for a part after the first, the crawl id its documents before its own first warcinfo
#: record take (the one the parts before it left in force) and that record's offset (None: every document).
SpillPart = tuple[str, tuple[str, int | None] | None]


class ExtractStage(Splittable, Stage, BatchSource):
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
        for _ in self._documents(task, stats, progress):
            pass
        return stats

    # The one interface a fused run (`pipeline.fusion`) uses: the output's batches as they are written.
    def stream(self, task: ShardTask, stats: ShardStats, progress: Progress) -> BatchStream:
        """`process`, handing each batch of the output to the caller as it is written (the next stage of a fused
        chain reads them instead of the file)."""
        return BatchStream(parquet_schema(SCHEMA), self._documents(task, stats, progress))

    def _documents(self, task: ShardTask, stats: ShardStats, progress: Progress) -> Iterator[pa.RecordBatch]:
        with tempfile.TemporaryDirectory(prefix="polyglot-extract-") as tmp:
            spill = os.path.join(tmp, "documents.parquet")
            repeats = self._site_repeats(tmp)
            with open(spill, "wb") as f, open_input(task.inputs[0]) as stream:
                self._read(task.shard_id, task.inputs[0], stream, None, f, stats, progress, repeats)
            yield from self._write(task, [(spill, None)], repeats, stats)

    # -- a large file in parts (`Splittable`) ----------------------------------------------------------------------

    def split(self, task: ShardTask, max_parts: int) -> list[ShardTask]:
        """Parts of about `extract.split_mb` of a gzip file (at most `max_parts`); none for a smaller or an
        uncompressed file (its records cannot be found from an arbitrary offset)."""
        mb = self.cfg.extract.split_mb
        path = task.inputs[0]
        if not mb or not path.lower().endswith(".gz"):
            return []
        size = file_size(path) or 0
        n = min(max_parts, math.ceil(size / (mb * 2**20)))
        if n < 2:
            return []
        folder = self.parts_dir(task.shard_id)
        names = [f"part-{k + 1:03d}-of-{n:03d}" for k in range(n)]
        return [
            ShardTask(name, task.inputs,
                      {"spill": join(folder, f"{name}.parquet"), "keys": join(folder, f"{name}.keys")},
                      params={"shard_id": task.shard_id, "index": k, "count": n})  # fmt: skip
            for k, name in enumerate(names)
        ]

    def process_part(self, part: ShardTask, progress: Progress) -> dict[str, Any]:
        """Extract the records of one byte range into the part's spill and site line keys; returns the range, its
        documents, its skipped records by reason and the crawl ids its warcinfo records set (for the merge)."""
        stats = ShardStats()
        infos: list[tuple[int, str]] = []
        docs = 0
        with tempfile.TemporaryDirectory(prefix="polyglot-extract-part-") as tmp:
            repeats = self._site_repeats(tmp)
            with open_input(part.inputs[0]) as stream, atomic_open(part.outputs["spill"]) as f:
                byte_range = part_range(stream, part.params["index"], part.params["count"])
                if byte_range is None:  # no record starts in this part's window: the part before reads on
                    ParquetSink(f, SPILL_SCHEMA, BATCH_DOCS, ROW_GROUP_BYTES).close()
                else:
                    try:
                        docs = self._read(part.params["shard_id"], part.inputs[0], stream, byte_range, f, stats,
                                          progress, repeats, lambda at, cid: infos.append((at, cid)))  # fmt: skip
                    except Exception as e:  # say which part of the file: the shard's error names only the part
                        raise RuntimeError(f"bytes {byte_range[0]}-{byte_range[1]} of {part.inputs[0]}: "
                                           f"{type(e).__name__}: {e}") from e  # fmt: skip
            with atomic_open(part.outputs["keys"]) as f:
                if repeats is not None:
                    repeats.save_keys(f)
        return {
            "range": list(byte_range) if byte_range else None,
            "docs": docs,
            "skipped": {reason: by_lang["und"] for reason, by_lang in sorted(stats.removed.items())},
            "first_crawl_id_at": infos[0][0] if infos else None,
            "last_crawl_id": infos[-1][1] if infos else None,
        }

    def merge(self, task: ShardTask, parts: list[ShardTask], results: list[dict[str, Any]],
              progress: Progress) -> ShardStats:  # fmt: skip
        """The parts' skipped records counted, their line keys added up, then the templates and the output exactly
        as `process` decides and writes them, over the parts' spills in order."""
        stats = ShardStats()
        with tempfile.TemporaryDirectory(prefix="polyglot-extract-merge-") as tmp:
            repeats = self._site_repeats(tmp)
            spills: list[SpillPart] = []
            in_force: str | None = None
            for k, (part, res) in enumerate(zip(parts, results, strict=True)):
                for reason, n in res["skipped"].items():
                    stats.by_lang["und"].docs_in += n  # as `stats.seen("und", "", 0)` for each
                    stats.removed[reason]["und"] += n
                spill = part.outputs["spill"]
                if not is_local(spill):  # read twice below: fetched once
                    local = os.path.join(tmp, f"{k}.parquet")
                    fs, path = fs_and_path(spill)
                    fs.get_file(path, local)
                    spill = local
                spills.append((spill, (in_force, res["first_crawl_id_at"]) if k and in_force is not None else None))
                in_force = res["last_crawl_id"] or in_force
                if repeats is not None:
                    with open_input(part.outputs["keys"]) as f:
                        repeats.add_keys(f, res["docs"])
            for _ in self._write(task, spills, repeats, stats):
                pass
        return stats

    # -- reading and writing ---------------------------------------------------------------------------------------

    def _site_repeats(self, folder: str) -> SiteRepeats | None:
        min_pages = self.cfg.extract.site_repeat_pages
        return SiteRepeats(folder, min_pages) if min_pages else None

    def _read(
        self,
        shard_id: str,
        url: str,
        stream: BinaryIO,
        byte_range: tuple[int, int] | None,
        out: BinaryIO,
        stats: ShardStats,
        progress: Progress,
        repeats: SiteRepeats | None,
        on_crawl_id: Callable[[int, str], None] | None = None,
    ) -> int:
        """Extract the records (of `byte_range`, else all) into `out` (a spill, SPILL_SCHEMA), counting skipped
        records, and each page's lines into `repeats`; returns the number of documents."""
        source = posixpath.basename(url)
        rows: list[Document] = []
        row_hosts: list[str] = []
        n = docs = 0
        sink = ParquetSink(out, SPILL_SCHEMA, BATCH_DOCS, ROW_GROUP_BYTES)
        try:
            items = extract_stream(stream, self.options, crawl_id=self.cfg.extract.crawl_id, byte_range=byte_range,
                                   on_crawl_id=on_crawl_id)  # fmt: skip
            for item in items:
                n += 1
                if n % 500 == 0:
                    progress(500)
                if isinstance(item, Skipped):
                    stats.seen("und", "", 0)
                    stats.removed_doc("und", item.reason)
                    continue
                assert isinstance(item, Document)
                host = urlsplit(item.url).hostname or f"#{item.offset}"  # a page of its own (the offset is unique)
                docs += 1
                if repeats is not None:
                    repeats.add(host, item.text)
                rows.append(item)
                row_hosts.append(host)
                if len(rows) == BATCH_DOCS:
                    sink.write(_spill_batch(rows, row_hosts, shard_id, source))
                    rows, row_hosts = [], []
                    release_memory()
            if rows:
                sink.write(_spill_batch(rows, row_hosts, shard_id, source))
        except BaseException:
            sink.abort()
            raise
        sink.close()
        progress(n % 500)
        return docs

    def _write(self, task: ShardTask, spills: list[SpillPart], repeats: SiteRepeats | None,
               stats: ShardStats) -> Iterator[pa.RecordBatch]:  # fmt: skip
        """Decide the site templates over the spilled pages, then write the output (`output_batches`), yielding each
        batch once written (the next stage of a fused chain reads them)."""
        if repeats is not None:
            repeats.find(_spilled_pages(spills))
        with parquet_writer(task.outputs["main"], SCHEMA) as out:
            for batch in self.output_batches(spills, repeats, stats):
                out.write(batch)
                yield batch
                release_memory()

    def output_batches(
        self, spills: list[SpillPart], repeats: SiteRepeats | None, stats: ShardStats
    ) -> Iterator[pa.RecordBatch]:
        """The output's batches (SCHEMA), in record order: the spilled documents `BATCH_DOCS` at a time, whatever
        the parts' sizes (the writer's row groups, hence the file's bytes, depend on the batches it is given),
        without their sites' template lines, each counted."""
        for batch in _spill_batches(spills):
            yield self._finish_batch(batch, repeats, stats)

    def _finish_batch(self, batch: pa.RecordBatch, repeats: SiteRepeats | None, stats: ShardStats) -> pa.RecordBatch:
        """A spilled batch without its sites' template lines and the pages they left too short, counted."""
        texts = batch.column("text").to_pylist()
        payloads = batch.column("payload_bytes").to_pylist()
        keep = []
        reasons: list[str | None] = []
        dropped = 0
        for i, (host, fallback, repairs) in enumerate(
            zip(*(batch.column(c).to_pylist() for c in ("host", "full_text_fallback", "repairs")))
        ):
            if repeats is not None:
                texts[i], n = repeats.strip(host, texts[i])
                dropped += n
            if too_short(texts[i], self.options.min_text_chars):  # only site repeats can have shortened it
                reasons.append("empty_extraction")
                keep.append(False)
                continue
            reasons.append(None)
            keep.append(True)
            if fallback:
                stats.count("full_text_fallback")
            for repair in repairs:
                stats.count(repair)
        if dropped:
            stats.count("site_repeat_lines", dropped)
        text = pa.array(texts, pa.string())
        chars = [len(t) for t in texts]
        # the kept texts' UTF-8 sizes from the Arrow array's offsets: no second encoding of each text
        nbytes = np.diff(_text_ends(text), prepend=0).tolist()
        stats.count_batch(["und"] * len(texts), reasons, chars, payloads, chars, nbytes)
        cols = [text if f.name == "text" else batch.column(f.name) for f in SCHEMA]
        return pa.RecordBatch.from_arrays(cols, schema=SCHEMA).filter(pa.array(keep, pa.bool_()))


def _spilled_pages(spills: list[SpillPart]) -> Iterator[tuple[str, str]]:
    """(host, text) of the spilled documents, in order, a batch at a time."""
    for spill, _ in spills:
        with open_parquet(spill) as docs:
            for batch in docs.iter_batches(batch_size=BATCH_DOCS, columns=["host", "text"]):
                yield from zip(batch.column("host").to_pylist(), batch.column("text").to_pylist(), strict=True)
                release_memory()


def _spill_batches(spills: list[SpillPart]) -> Iterator[pa.RecordBatch]:
    """The spilled documents of every spill in order, `BATCH_DOCS` at a time across the spills (the last batch
    fewer), crawl ids given where a part's are to be filled."""
    held: list[pa.RecordBatch] = []
    rows = 0
    for spill, fill in spills:
        with open_parquet(spill) as docs:
            for batch in docs.iter_batches(batch_size=BATCH_DOCS):
                held.append(batch if fill is None else _fill_crawl_id(batch, *fill))
                rows += batch.num_rows
                while rows >= BATCH_DOCS:
                    out, held, rows = _take(held, BATCH_DOCS), _drop(held, BATCH_DOCS), rows - BATCH_DOCS
                    yield out
    if rows:
        yield _take(held, rows)


def _take(batches: list[pa.RecordBatch], n: int) -> pa.RecordBatch:
    """The first `n` rows of `batches` as one batch (the first batch itself when it is exactly that)."""
    if batches[0].num_rows == n:
        return batches[0]
    table = pa.Table.from_batches(batches).slice(0, n).combine_chunks()
    return table.to_batches()[0]


def _drop(batches: list[pa.RecordBatch], n: int) -> list[pa.RecordBatch]:
    """`batches` without their first `n` rows."""
    out = []
    for b in batches:
        if n >= b.num_rows:
            n -= b.num_rows
            continue
        out.append(b.slice(n) if n else b)
        n = 0
    return out


def _fill_crawl_id(batch: pa.RecordBatch, crawl_id: str | None, before: int | None) -> pa.RecordBatch:
    """A part's documents before its own first warcinfo record (`before`; None: all) with `crawl_id`: the part's
    reader had not seen the warcinfo record in force there, a part before it had."""
    i = batch.schema.get_field_index("crawl_id")
    if before is None:
        return batch.set_column(i, "crawl_id", pa.array([crawl_id] * batch.num_rows, pa.string()))
    col = pc.if_else(pc.less(batch.column("record_offset"), before), pa.scalar(crawl_id, pa.string()),
                     batch.column("crawl_id"))  # fmt: skip
    return batch.set_column(i, "crawl_id", col)


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
