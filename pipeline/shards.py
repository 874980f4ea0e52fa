"""Training shards from the balanced documents: encode and key (scatter), merge by key (gather), the Megatron export
and the manifest — the logic of `polyglot shards` (`pipeline.stages.shards` plans the steps and moves the files).

The steps, as `polyglot shards` runs them:

1. **scatter** (per balance shard on Ray actors): SentencePiece (once per actor) encodes the chosen documents into
   numpy offsets + ids (`scatter_shard`, `pipeline.tokenizer.encode.encode_batch`; the Arrow list column is built
   from numpy — 1,800 MB/s against 51 MB/s from Python lists) and checks every length against balance's
   ``num_tokens`` (a different tokenizer fails loudly). Repeats become separate rows with a ``repeat`` index (0 ..
   repeats-1), and every row gets a **shuffle key** = xxh3-64 of (doc_id, repeat) under a seed salted from
   ``shards.seed``; its output shard is ``key mod N``, so copies of one document land in independent shards. ``N =
   ceil(achieved tokens / shard_tokens)`` is fixed on the driver from balance's plan before this step. One scatter
   file per balance shard (``_work/shards/scatter/<shard>.arrow``, Arrow IPC *file* format) holds one record batch
   per output shard, rows sorted by key: the (input, output) pieces of the shuffle as batches of one file rather than
   M × N files (millions on a real crawl), read back by batch index through the file footer.
2. **gather** (one Ray worker task per output shard; `gather_shard`): batch ``j`` of every scatter file, merged by key
   (each piece is sorted, so an output batch of ~`ROWS_PER_BATCH` rows is a key range: a contiguous slice of every
   piece, sorted by (key, doc_id, repeat)), streamed to ``shards/shard-NNNNN.arrow`` through a temporary name while
   its sha256 is computed. Memory: one output batch plus the memory-mapped pieces.
3. **manifest** (driver; `build_manifest`): ``shards/manifest.json`` (per shard: name, rows, tokens, tokens per
   language, bytes, sha256; totals per language and family; the tokenizer's sha256, vocabulary size, id dtype and
   special ids) and a dataset card ``shards/README.md`` (per-language and per-family tables, how to load). Then the
   scatter files and their records are deleted, as are shard files and records left by an earlier run with a larger
   N.
4. **Megatron export** (driver, only with ``shards.megatron``, before the manifest, which lists it;
   `export_megatron`): every row of the output shards, shard 0 first, in stored order, streamed batch by batch from
   the (memory-mapped) shards into one indexed dataset ``shards/megatron/corpus_text_document.{bin,idx}``
   (`pipeline.megatron`; the eos id after every document with ``shards.megatron_eod``). One pair for the corpus, not
   one per shard: GPT-NeoX reads one ``data_path`` and splits it train/valid/test by document range; several paths
   need train, valid and test lists with weights of their own. Redone only when a shard changed; its record sits with
   the manifest's. Turned off, its files and record are removed. Speed (`scripts/bench/megatron.py`, 50 M tokens, one
   process, 2 shared cores): with eod ids ~240 M tokens/s at load 5 (~100 M at load 18), bounded by the sha256 the
   manifest lists (~450 MB/s here); a plain copy of the shards' bytes takes 1/4.4 (1/2.9) of the time, a per-document
   loop like preprocess_data.py's builder 4.7x (4.5x) the export's.

Everything is a pure function of its inputs: the same documents, tokenizer and settings give byte-identical files.

**Format.** Arrow IPC *streaming* format, not the file format: ``datasets.Dataset.from_file`` opens files with
``pa.ipc.open_stream`` only (datasets 5.2, ``table._memory_mapped_record_batch_reader_from_file``) and
``load_dataset("arrow", ...)`` tries the stream format first, so stream files load with no glue either way; a
memory-mapped stream is read zero-copy just like a file. (`pipeline.training` reads them once its `_Shard` falls
back to ``open_stream``.) Columns: ``doc_id, text`` (unless ``write_text: false``)``, lang, family, url, input_ids``
(``list<uint16>`` for vocabularies up to 65,535 pieces, else ``list<int32>``)``, num_tokens`` (int32) ``, repeat``
(int32, the copy index). There is no ``repeats`` column: copies are already rows, so a reader must not repeat again.

**Sizes.** ``N = ceil(total / shard_tokens)`` shards by hash, so each holds ``total / N ≤ shard_tokens`` tokens on
average, with binomial spread (±√ of a shard's documents). Limits: a balance shard's text must fit one Arrow string
array (2 GiB; one WARC's text is ~100s of MB), and a gather task memory-maps one scatter file per balance shard.

**Speed** (`scripts/bench/shards.py`, UDHR in ~460 languages + 100 real CC pages, 16k-piece unigram model, one
process; 2 shared cores under heavy load, so ±10%): tokenize + write 16.5-18 MB/s of text = 0.73-0.83 × the speed of
SentencePiece's own ``encode(list, num_threads=1)`` (20-23 MB/s) measured in the same runs. Of the gap, ~12 points are
``encode_batch``'s list-of-ids → numpy conversion (``np.fromiter`` over a chained iterator, the fastest of the
conversions tried; ``array.extend`` and per-document ``np.array`` were slower); keys, takes and the scatter write
~5 points; the gather (merge, sort, stream write with sha256) runs at ~250 MB/s, ~8 points.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sentencepiece as spm
import xxhash

from pipeline import megatron
from pipeline.storage import atomic_open, fs_and_path, is_local, join
from pipeline.tokenizer.encode import ENCODE_BATCH, EncodedBatch, encode_batch, ids_dtype

#: Rows per record batch of an output shard (bounds the gather's memory; fixed, so the bytes are deterministic).
ROWS_PER_BATCH = 4096
#: Columns of an output shard, in order (``text`` only with ``shards.write_text``).
COLUMNS = ("doc_id", "text", "lang", "family", "url", "input_ids", "num_tokens", "repeat")
KEY = "shuffle_key"
#: The Megatron files' prefix: what ``preprocess_data.py --output-prefix corpus`` would call them.
MEGATRON_NAME = "corpus_text_document"
#: The balance output's columns a scatter reads.
INPUT_COLUMNS = ["doc_id", "text", "lang", "family", "url", "num_tokens", "repeats"]


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.arrow"


def num_output_shards(achieved_total: int, shard_tokens: int) -> int:
    """N = ceil(achieved tokens / shard_tokens), at least 1."""
    return max(1, math.ceil(int(achieved_total) / shard_tokens))


def shuffle_keys(doc_ids: list[bytes], repeat: np.ndarray, seed: int) -> np.ndarray:
    """uint64 key per row from (doc_id, repeat): doc_id bytes + 4 little-endian bytes of the copy index (fixed width,
    so distinct pairs never give the same byte string), hashed with xxh3-64 under a seed salted from `seed`."""
    salt = xxhash.xxh64_intdigest(f"polyglot-shards:{seed}".encode())
    h = xxhash.xxh3_64_intdigest
    return np.fromiter(
        (h(d + r.to_bytes(4, "little"), salt) for d, r in zip(doc_ids, repeat.tolist())),
        dtype=np.uint64,
        count=len(doc_ids),
    )


def output_schema(ids_type: pa.DataType, write_text: bool) -> pa.Schema:
    types = {
        "doc_id": pa.string(), "text": pa.string(), "lang": pa.string(), "family": pa.string(), "url": pa.string(),
        "input_ids": pa.list_(ids_type), "num_tokens": pa.int32(), "repeat": pa.int32(),
    }  # fmt: skip
    return pa.schema([(c, types[c]) for c in COLUMNS if write_text or c != "text"])


@contextmanager
def atomic_ipc_writer(url: str, schema: pa.Schema, *, stream: bool, sha256: bool = True) -> Iterator[tuple[Any, Any]]:
    """An Arrow IPC writer (stream or file format) through `storage.atomic_open`; yields (writer, file) — the file
    has the size, and the sha256 when asked for, once the block ends."""
    with atomic_open(url, sha256=sha256) as sink:
        pyfile = pa.PythonFile(sink, mode="w")
        writer = pa.ipc.new_stream(pyfile, schema) if stream else pa.ipc.new_file(pyfile, schema)
        yield writer, sink
        writer.close()


def open_ipc_file(url: str) -> pa.ipc.RecordBatchFileReader:
    """An Arrow IPC file reader: memory-mapped when local, else over the remote file (range reads per batch)."""
    if is_local(url):
        return pa.ipc.open_file(pa.memory_map(fs_and_path(url)[1], "r"))
    fs, path = fs_and_path(url)
    return pa.ipc.open_file(fs.open(path, "rb"))


# --------------------------------------------------------------------------------------------------------- scatter


def encode_checked(
    processor: spm.SentencePieceProcessor, table: pa.Table, progress: Callable[[int], None], shard_id: str
) -> tuple[pa.Array, np.ndarray]:
    """The documents' ids as an Arrow list column and their lengths; ValueError when a length differs from
    balance's ``num_tokens`` (the tokenizer changed after balance counted)."""
    texts = table.column("text").to_pylist()
    n = len(texts)
    lengths: list[np.ndarray] = []
    ids: list[np.ndarray] = []
    for s in range(0, n, ENCODE_BATCH):
        enc = encode_batch(processor, texts[s : s + ENCODE_BATCH])
        lengths.append(enc.lengths)
        ids.append(enc.ids)
        progress(min(ENCODE_BATCH, n - s))
    dtype = ids_dtype(processor.get_piece_size())
    flat = np.concatenate(ids) if ids else np.zeros(0, dtype)
    lens = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    expected = table.column("num_tokens").to_numpy().astype(np.int64)
    if not np.array_equal(lens, expected):
        bad = int(np.flatnonzero(lens != expected)[0])
        doc = table.column("doc_id")[bad].as_py()
        raise ValueError(
            f"{shard_id}: document {doc} encodes to {int(lens[bad])} tokens but balance counted "
            f"{int(expected[bad])}: the tokenizer changed after `polyglot balance`; rerun it"
        )
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    return EncodedBatch(offsets, flat).to_arrow(), lens


def scatter_shard(
    processor: spm.SentencePieceProcessor,
    table: pa.Table,
    out_url: str,
    *,
    num_shards: int,
    seed: int,
    write_text: bool,
    shard_id: str = "",
    progress: Callable[[int], None] = lambda n: None,
) -> dict[str, dict[str, int]]:
    """Encode one balance shard (`INPUT_COLUMNS`), materialize its repeats, key the rows and write them to `out_url`
    split by output shard (batch j = output shard j, rows sorted by key). Returns per language: ``docs`` (input
    documents), ``copies`` (rows written), ``chars``/``bytes`` of the input text and ``chars_out``/``bytes_out``/
    ``tokens`` of the rows written."""
    input_ids, lens = encode_checked(processor, table, progress, shard_id)
    n = table.num_rows

    # one row per copy: source row, copy index, key, output shard; sorted by (output shard, key)
    reps = table.column("repeats").to_numpy().astype(np.int64)
    src = np.repeat(np.arange(n, dtype=np.int64), reps)
    first = np.repeat(np.cumsum(reps) - reps, reps)
    repeat = (np.arange(src.size, dtype=np.int64) - first).astype(np.int32)
    doc_bytes = [d.encode() for d in table.column("doc_id").to_pylist()]
    keys = shuffle_keys([doc_bytes[i] for i in src.tolist()], repeat, seed)
    out = keys % np.uint64(num_shards)
    order = np.lexsort((keys, out))
    src, repeat, keys, out = src[order], repeat[order], keys[order], out[order]
    bounds = np.searchsorted(out, np.arange(num_shards + 1, dtype=np.uint64), side="left")

    base = {
        "doc_id": table.column("doc_id").combine_chunks(),
        "text": table.column("text").combine_chunks(),
        "lang": table.column("lang").combine_chunks(),
        "family": table.column("family").combine_chunks(),
        "url": table.column("url").combine_chunks(),
        "input_ids": input_ids,
        "num_tokens": pa.array(lens.astype(np.int32), pa.int32()),
    }
    schema = output_schema(input_ids.type.value_type, write_text).append(pa.field(KEY, pa.uint64()))
    with atomic_ipc_writer(out_url, schema, stream=False, sha256=False) as (writer, _):
        for j in range(num_shards):
            lo, hi = int(bounds[j]), int(bounds[j + 1])
            take = pa.array(src[lo:hi])
            arrays = [
                pa.array(repeat[lo:hi], pa.int32()) if name == "repeat"
                else pa.array(keys[lo:hi], pa.uint64()) if name == KEY
                else base[name].take(take).cast(schema.field(name).type)
                for name in schema.names
            ]  # fmt: skip
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
    langs = np.asarray(table.column("lang").to_pylist(), dtype=object).astype(str)
    names, inverse = np.unique(langs, return_inverse=True)
    chars = pc.utf8_length(table.column("text")).to_numpy().astype(np.int64)
    nbytes = pc.binary_length(table.column("text")).to_numpy().astype(np.int64)
    per_lang = {
        key: np.bincount(inverse, weights=w, minlength=names.size).astype(np.int64)
        for key, w in (("docs", None), ("copies", reps), ("chars", chars), ("bytes", nbytes),
                       ("chars_out", chars * reps), ("bytes_out", nbytes * reps), ("tokens", lens * reps))
    }  # fmt: skip
    return {lang: {key: int(v[k]) for key, v in per_lang.items()} for k, lang in enumerate(names.tolist())}


# ---------------------------------------------------------------------------------------------------------- gather


@dataclass
class GatheredShard:
    """What one output shard holds, per language: ``rows``, ``chars``, ``bytes`` (of the text; 0 without it) and
    ``tokens``; and the file's sha256 and size."""

    by_lang: dict[str, dict[str, int]] = field(default_factory=dict)
    sha256: str = ""
    size: int = 0


def gather_shard(
    scatter_files: Sequence[str], index: int, out_url: str, progress: Callable[[int], None] = lambda n: None
) -> GatheredShard:
    """Output shard `index`: batch `index` of every scatter file, merged in key order, streamed to `out_url`.
    Memory: one output batch plus the memory-mapped pieces."""
    readers = [open_ipc_file(p) for p in scatter_files]
    if not readers:
        raise ValueError("no scatter files: balance has no shards")
    scatter_schema = readers[0].schema
    pieces = [b for b in (r.get_batch(index) for r in readers) if b.num_rows]
    keys = [b.column(KEY).to_numpy() for b in pieces]
    # batch boundaries: every ROWS_PER_BATCH-th distinct key of the shard (equal keys stay in one batch)
    cuts = (np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.uint64))[::ROWS_PER_BATCH]
    slices = [np.append(np.searchsorted(k, cuts, side="left"), k.size) for k in keys]
    schema = pa.schema([f for f in scatter_schema if f.name != KEY])
    gathered = GatheredShard()
    with atomic_ipc_writer(out_url, schema, stream=True) as (writer, sink):
        for i in range(cuts.size):
            parts = [p.slice(int(s[i]), int(s[i + 1] - s[i])) for p, s in zip(pieces, slices) if s[i + 1] > s[i]]
            batch = pa.Table.from_batches(parts, schema=scatter_schema)
            order = pc.sort_indices(batch, [(KEY, "ascending"), ("doc_id", "ascending"), ("repeat", "ascending")])
            batch = batch.take(order).drop_columns([KEY]).combine_chunks()
            writer.write_table(batch)
            _count_batch(batch, gathered.by_lang)
            progress(batch.num_rows)
    gathered.sha256 = sink.sha256.hexdigest()
    gathered.size = sink.size
    return gathered


def _count_batch(batch: pa.Table, by_lang: dict[str, dict[str, int]]) -> None:
    """Per language: rows, characters and bytes of text, tokens."""
    aggs = [("num_tokens", "sum"), ("lang", "count")]
    if "text" in batch.column_names:
        batch = batch.append_column("_chars", pc.utf8_length(batch.column("text"))).append_column(
            "_bytes", pc.binary_length(batch.column("text"))
        )
        aggs += [("_chars", "sum"), ("_bytes", "sum")]
    for row in batch.group_by("lang").aggregate(aggs).to_pylist():
        c = by_lang.setdefault(row["lang"], dict.fromkeys(("rows", "chars", "bytes", "tokens"), 0))
        c["rows"] += row["lang_count"]
        c["chars"] += row.get("_chars_sum") or 0
        c["bytes"] += row.get("_bytes_sum") or 0
        c["tokens"] += row["num_tokens_sum"] or 0


# ------------------------------------------------------------------------------------------------ Megatron export


def shard_token_batches(url: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(offsets, ids) of every record batch of an output shard, in stored order; memory-mapped when local."""
    fs, path = fs_and_path(url)
    source = pa.memory_map(path, "r") if is_local(url) else fs.open(path, "rb")
    with source:
        for batch in pa.ipc.open_stream(source):
            ids = batch.column("input_ids")
            yield ids.offsets.to_numpy(), ids.values.to_numpy()


def megatron_prefix(shards_dir: str) -> str:
    """``<shards_dir>/megatron/corpus_text_document``: the data path to give GPT-NeoX or Megatron-LM."""
    return join(shards_dir, "megatron", MEGATRON_NAME)


def megatron_eod_id(processor: spm.SentencePieceProcessor) -> int:
    """The id appended after every document (``shards.megatron_eod``): the tokenizer's eos; ValueError without one."""
    eod = int(processor.eos_id())
    if eod < 0:
        raise ValueError(
            "shards.megatron_eod appends the tokenizer's eos id after every document, but the tokenizer has no "
            "eos piece (tokenizer.eos_id: -1): train it with one, or set shards.megatron_eod: false"
        )
    return eod


@dataclass(frozen=True)
class WrittenShard:
    """An output shard as the Megatron export and the manifest see it: its file, name, rows and tokens."""

    url: str
    name: str
    rows: int
    tokens: int


def export_megatron(shards_dir: str, shards: list[WrittenShard], vocab_size: int, eod: int | None) -> dict[str, Any]:
    """``<shards_dir>/megatron/corpus_text_document.{bin,idx}``: every row of `shards` (in the given order, shard 0
    first), in stored order, one document each (with the `eod` id appended, when given); returns the manifest
    entry."""
    entries = []
    first = 0
    for s in shards:
        entries.append({"name": s.name, "first_document": first, "documents": s.rows,
                        "tokens": s.tokens + (s.rows if eod is not None else 0)})  # fmt: skip
        first += s.rows
    batches = itertools.chain.from_iterable(shard_token_batches(s.url) for s in shards)
    info = megatron.write_indexed_dataset(
        megatron_prefix(shards_dir),
        batches,
        num_documents=first,
        dtype=megatron.token_dtype(vocab_size),
        eod=eod,
    )
    expected = sum(e["tokens"] for e in entries)
    if info.tokens != expected:
        raise ValueError(f"the Megatron files hold {info.tokens} tokens but the shard records count {expected}")
    rel = f"megatron/{MEGATRON_NAME}"
    return {
        "format": "megatron-mmap-indexed-dataset",
        "prefix": rel,
        "bin": {"name": f"{rel}.bin", "bytes": info.bin.bytes, "sha256": info.bin.sha256},
        "idx": {"name": f"{rel}.idx", "bytes": info.idx.bytes, "sha256": info.idx.sha256},
        "dtype": info.dtype,
        "eod_id": eod,
        "documents": info.documents,
        "tokens": info.tokens,
        "shards": entries,
    }


# -------------------------------------------------------------------------------------------------------- manifest


def tokenizer_entry(processor: spm.SentencePieceProcessor, sha256: str) -> dict[str, Any]:
    """The manifest's tokenizer: sha256, vocabulary size, ids dtype and special ids."""
    vocab = processor.get_piece_size()
    return {
        "sha256": sha256,
        "vocab_size": vocab,
        "ids_dtype": str(ids_dtype(vocab)),
        "unk_id": processor.unk_id(),
        "bos_id": processor.bos_id(),
        "eos_id": processor.eos_id(),
        "pad_id": processor.pad_id(),
    }


def build_manifest(
    shards: list[dict[str, Any]],
    plan: dict[str, Any],
    tokenizer: dict[str, Any],
    *,
    shard_tokens: int,
    seed: int,
    write_text: bool,
    megatron_entry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """manifest.json from the output shards (each: ``name``, ``rows``, ``bytes``, ``sha256``, ``tokens_by_lang``,
    ``rows_by_lang``), balance's plan.json, the tokenizer's entry (`tokenizer_entry`) and the Megatron export's entry,
    when there is one."""
    families = {lang: lp["family"] for lang, lp in plan["plan"]["languages"].items()}
    entries = []
    by_lang: dict[str, int] = defaultdict(int)
    rows_by_lang: dict[str, int] = defaultdict(int)
    for s in shards:
        per_lang = s["tokens_by_lang"]
        for lang, v in per_lang.items():
            by_lang[lang] += v
        for lang, n in s["rows_by_lang"].items():
            rows_by_lang[lang] += n
        entries.append(
            {
                "name": s["name"],
                "rows": s["rows"],
                "tokens": sum(per_lang.values()),
                "tokens_by_lang": dict(sorted(per_lang.items())),
                "bytes": s["bytes"],
                "sha256": s["sha256"],
            }
        )
    total = sum(by_lang.values())
    by_family: dict[str, int] = defaultdict(int)
    for lang, v in by_lang.items():
        by_family[families.get(lang, "")] += v
    manifest = {
        "format": "arrow-ipc-stream",
        "columns": output_schema(pa.from_numpy_dtype(np.dtype(tokenizer["ids_dtype"])), write_text).names,
        "num_shards": len(entries),
        "rows": sum(e["rows"] for e in entries),
        "tokens": total,
        "shard_tokens": shard_tokens,
        "seed": seed,
        "tokens_by_lang": dict(sorted(by_lang.items())),
        "rows_by_lang": dict(sorted(rows_by_lang.items())),
        "tokens_by_family": dict(sorted(by_family.items())),
        "families": {lang: families[lang] for lang in sorted(by_lang) if lang in families},
        "lang_weights": {lang: round(v / total, 8) for lang, v in sorted(by_lang.items())} if total else {},
        "tokenizer": tokenizer,
        "balance": {
            "available_tokens": {lang: lp["available"] for lang, lp in sorted(plan["plan"]["languages"].items())},
            "available_docs": dict(sorted(plan["available_docs"].items())),
            "warnings": plan["plan"]["warnings"],
        },
        "shards": entries,
    }
    if megatron_entry is not None:
        manifest["megatron"] = megatron_entry
    return manifest
