"""`polyglot shards`: the balanced documents as training shards — token ids, globally shuffled, with a manifest.

1. **scatter** (per balance shard on Ray actors, `ShardsScatter`, sub-stage ``shards/scatter``): SentencePiece (once
   per actor) encodes the chosen documents into numpy offsets + ids (`pipeline.tokenizer.encode.encode_batch`; the
   Arrow list column is built from numpy — 1,800 MB/s against 51 MB/s from Python lists) and checks every length
   against balance's ``num_tokens`` (a different tokenizer fails loudly). Repeats become separate rows with a
   ``repeat`` index (0 .. repeats-1), and every row gets a **shuffle key** = xxh3-64 of (doc_id, repeat) under a
   seed salted from ``shards.seed``; its output shard is ``key mod N``, so copies of one document land in
   independent shards. ``N = ceil(achieved tokens / shard_tokens)`` is fixed on the driver from balance's plan before
   this step. One scatter file per balance shard (``shards/_scatter/<shard>.arrow``, Arrow IPC *file* format) holds
   one record batch per output shard, rows sorted by key: the (input, output) pieces of the shuffle as batches of
   one file rather than M × N files (millions on a real crawl), read back by batch index through the file footer.
2. **gather** (one Ray worker task per output shard, `ShardsStage`): batch ``j`` of every scatter file, merged by key
   (each piece is sorted, so an output batch of ~`ROWS_PER_BATCH` rows is a key range: a contiguous slice of every
   piece, sorted by (key, doc_id, repeat)), streamed to ``shards/shard-NNNNN.arrow`` through a temporary name while
   its sha256 is computed. Memory: one output batch plus the memory-mapped pieces.
3. **manifest** (driver): ``shards/manifest.json`` (per shard: name, rows, tokens, tokens per language, bytes,
   sha256; totals per language and family; the tokenizer's sha256, vocabulary size, id dtype and special ids) and a
   dataset card ``shards/README.md`` (per-language and per-family tables, how to load). Then the scatter files and
   their records are deleted, as are shard files and records left by an earlier run with a larger N.
4. **Megatron export** (driver, only with ``shards.megatron``; before the manifest, which lists it): every row of
   the output shards, shard 0 first, in stored order, streamed batch by batch from the (memory-mapped) shards into
   one indexed dataset ``shards/megatron/corpus_text_document.{bin,idx}`` (`pipeline.megatron`; the eos id after
   every document with ``shards.megatron_eod``). One pair for the corpus, not one per shard: GPT-NeoX reads one
   ``data_path`` and splits it train/valid/test by document range; several paths need train, valid and test lists
   with weights of their own. Redone only when a shard changed; its record sits with the manifest's. Turned off,
   its files and record are removed. Speed (`scripts/bench/megatron.py`, 50 M tokens, one process, 2 shared cores):
   with eod ids ~240 M tokens/s at load 5 (~100 M at load 18), bounded by the sha256 the manifest lists (~450 MB/s
   here); a plain copy of the shards' bytes takes 1/4.4 (1/2.9) of the time, a per-document loop like
   preprocess_data.py's builder 4.7x (4.5x) the export's.

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

**Reruns.** When every output shard's record matches (inputs = the balance outputs' fingerprints, the tokenizer's
fingerprint, N; config = the ``shards`` section) and the manifest is current, nothing runs — not even the scatter,
whose files are gone by then. Everything is a pure function of the balance outputs, the tokenizer and the config:
the same inputs give byte-identical shards and manifest.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from pipeline import megatron
from pipeline.config import PipelineConfig
from pipeline.report import dataset_card
from pipeline.runtime import CompositeStage, CorpusStep, ShardStep, StageResult
from pipeline.stages import tokenizer_model_path
from pipeline.stages.balance import (
    ENCODE_BATCH,
    BalanceStage,
    load_tokenizer,
    plan_json_path,
    require_tokenizer,
    tokenizer_sha256,
)
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage, work_path
from pipeline.storage import (
    atomic_open,
    atomic_write_bytes,
    exists,
    fingerprint,
    fs_and_path,
    is_local,
    join,
    list_files,
    read_json,
    read_parquet,
    write_json,
)
from pipeline.tokenizer.encode import EncodedBatch, encode_batch, ids_dtype

log = logging.getLogger(__name__)

SCATTER_VERSION = "1"
SHARDS_VERSION = "1"
MANIFEST_VERSION = "1"
MEGATRON_VERSION = "1"
#: The Megatron files' prefix: what ``preprocess_data.py --output-prefix corpus`` would call them.
MEGATRON_NAME = "corpus_text_document"
#: Rows per record batch of an output shard (bounds the gather's memory; fixed, so the bytes are deterministic).
ROWS_PER_BATCH = 4096
#: Columns of an output shard, in order (``text`` only with ``shards.write_text``).
COLUMNS = ("doc_id", "text", "lang", "family", "url", "input_ids", "num_tokens", "repeat")
KEY = "shuffle_key"


# ------------------------------------------------------------------------------------------------------ paths


def shards_dir(cfg: PipelineConfig) -> str:
    return join(cfg.run.work_dir, "shards")


def scatter_dir(cfg: PipelineConfig) -> str:
    return work_path(cfg, "shards", "scatter")


def scatter_path(cfg: PipelineConfig, shard_id: str) -> str:
    return join(scatter_dir(cfg), f"{shard_id}.arrow")


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.arrow"


def manifest_path(cfg: PipelineConfig) -> str:
    return join(shards_dir(cfg), "manifest.json")


def card_path(cfg: PipelineConfig) -> str:
    return join(shards_dir(cfg), "README.md")


def megatron_dir(cfg: PipelineConfig) -> str:
    return join(shards_dir(cfg), "megatron")


def megatron_prefix(cfg: PipelineConfig) -> str:
    """``shards/megatron/corpus_text_document``: the data path to give GPT-NeoX or Megatron-LM."""
    return join(megatron_dir(cfg), MEGATRON_NAME)


# ------------------------------------------------------------------------------------------------ shared pieces


def balance_plan(cfg: PipelineConfig) -> dict[str, Any]:
    """balance's plan.json; FileNotFoundError with what to run when it is missing."""
    path = plan_json_path(cfg)
    if not exists(path):
        raise FileNotFoundError(
            f"shards reads the balance plan at {path}, which does not exist: run `polyglot balance` first"
        )
    return read_json(path)


def num_output_shards(cfg: PipelineConfig, plan: dict[str, Any]) -> int:
    """N = ceil(achieved tokens / shard_tokens), at least 1."""
    return max(1, math.ceil(int(plan["achieved_total"]) / cfg.shards.shard_tokens))


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


def _open_ipc_file(url: str) -> pa.ipc.RecordBatchFileReader:
    """An Arrow IPC file reader: memory-mapped when local, else over the remote file (range reads per batch)."""
    if is_local(url):
        return pa.ipc.open_file(pa.memory_map(fs_and_path(url)[1], "r"))
    fs, path = fs_and_path(url)
    return pa.ipc.open_file(fs.open(path, "rb"))


# --------------------------------------------------------------------------------------------------- 1. scatter


class ShardsScatter(Stage):
    """Per balance shard: encode, materialize repeats, key and split the rows by output shard."""

    name = "shards/scatter"
    version = SCATTER_VERSION

    def config_parts(self) -> tuple[str, ...]:
        return ("shards",)

    def plan(self) -> list[ShardTask]:
        n = num_output_shards(self.cfg, balance_plan(self.cfg))
        return [
            ShardTask(t.shard_id, (t.outputs["main"],), {"main": scatter_path(self.cfg, t.shard_id)}, {"num_shards": n})
            for t in sorted(BalanceStage(self.cfg).plan(), key=lambda t: t.shard_id)
        ]

    def input_fingerprint(self, task: ShardTask) -> str:
        return "+".join(
            [
                self.identity_of(task, task.inputs[0]),
                f"tokenizer={fingerprint(tokenizer_model_path(self.cfg))}",
                f"num_shards={task.params['num_shards']}",
            ]
        )

    def setup(self) -> None:
        self.processor = load_tokenizer(self.cfg)

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        n_out = int(task.params["num_shards"])
        write_text = self.cfg.shards.write_text
        columns = ["doc_id", "text", "lang", "family", "url", "num_tokens", "repeats"]
        table = read_parquet(task.inputs[0], columns=columns)
        texts = table.column("text").to_pylist()
        n = len(texts)
        lengths: list[np.ndarray] = []
        ids: list[np.ndarray] = []
        for s in range(0, n, ENCODE_BATCH):
            enc = encode_batch(self.processor, texts[s : s + ENCODE_BATCH])
            lengths.append(enc.lengths)
            ids.append(enc.ids)
            progress(min(ENCODE_BATCH, n - s))
        dtype = ids_dtype(self.processor.get_piece_size())
        flat = np.concatenate(ids) if ids else np.zeros(0, dtype)
        lens = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        expected = table.column("num_tokens").to_numpy().astype(np.int64)
        if not np.array_equal(lens, expected):
            bad = int(np.flatnonzero(lens != expected)[0])
            doc = table.column("doc_id")[bad].as_py()
            raise ValueError(
                f"{task.shard_id}: document {doc} encodes to {int(lens[bad])} tokens but balance counted "
                f"{int(expected[bad])}: the tokenizer changed after `polyglot balance`; rerun it"
            )
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        input_ids = EncodedBatch(offsets, flat).to_arrow()

        # one row per copy: source row, copy index, key, output shard; sorted by (output shard, key)
        reps = table.column("repeats").to_numpy().astype(np.int64)
        src = np.repeat(np.arange(n, dtype=np.int64), reps)
        first = np.repeat(np.cumsum(reps) - reps, reps)
        repeat = (np.arange(src.size, dtype=np.int64) - first).astype(np.int32)
        doc_bytes = [d.encode() for d in table.column("doc_id").to_pylist()]
        keys = shuffle_keys([doc_bytes[i] for i in src.tolist()], repeat, self.cfg.shards.seed)
        out = keys % np.uint64(n_out)
        order = np.lexsort((keys, out))
        src, repeat, keys, out = src[order], repeat[order], keys[order], out[order]
        bounds = np.searchsorted(out, np.arange(n_out + 1, dtype=np.uint64), side="left")

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
        stats = ShardStats()
        with atomic_ipc_writer(task.outputs["main"], schema, stream=False, sha256=False) as (writer, _):
            for j in range(n_out):
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
        for k, lang in enumerate(names.tolist()):
            c = stats.by_lang[lang]
            c.docs_in, c.docs_out = int(per_lang["docs"][k]), int(per_lang["copies"][k])
            c.chars_in, c.bytes_in = int(per_lang["chars"][k]), int(per_lang["bytes"][k])
            c.chars_out, c.bytes_out = int(per_lang["chars_out"][k]), int(per_lang["bytes_out"][k])
            stats.count(f"tokens/encoded/{lang}", int(per_lang["tokens"][k]))
        return stats


# ---------------------------------------------------------------------------------------------------- 2. gather


class ShardsStage(Stage):
    """Per output shard: merge its piece of every scatter file in key order into ``shard-NNNNN.arrow``."""

    name = "shards"
    version = SHARDS_VERSION

    def __init__(self, cfg: PipelineConfig) -> None:
        super().__init__(cfg)
        self._identity: str | None = None

    def config_parts(self) -> tuple[str, ...]:
        return ("shards",)

    def plan(self) -> list[ShardTask]:
        n = num_output_shards(self.cfg, balance_plan(self.cfg))
        inputs = sorted(BalanceStage(self.cfg).plan(), key=lambda t: t.shard_id)
        pieces = tuple(scatter_path(self.cfg, t.shard_id) for t in inputs)
        return [
            ShardTask(
                shard_id=shard_name(j).removesuffix(".arrow"),
                inputs=(scatter_dir(self.cfg),),
                outputs={"main": join(shards_dir(self.cfg), shard_name(j))},
                params={"index": j, "num_shards": n, "scatter": pieces},
            )
            for j in range(n)
        ]

    def input_fingerprint(self, task: ShardTask) -> str:
        """What the output shard is made of: the scatter inputs' identity (balance outputs, tokenizer, N — not the
        scatter files themselves, which are deleted after a successful run) and its index."""
        if self._identity is None:
            scatter = ShardsScatter(self.cfg)
            parts = [f"{t.shard_id}:{scatter.input_fingerprint(t)}" for t in scatter.plan()]
            self._identity = xxhash.xxh3_64_hexdigest("|".join(parts).encode())
        return f"{self._identity}#{task.params['index']}"

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        j = int(task.params["index"])
        readers = [_open_ipc_file(p) for p in task.params["scatter"]]
        if not readers:
            raise ValueError("no scatter files: balance has no shards")
        scatter_schema = readers[0].schema
        pieces = [b for b in (r.get_batch(j) for r in readers) if b.num_rows]
        keys = [b.column(KEY).to_numpy() for b in pieces]
        # batch boundaries: every ROWS_PER_BATCH-th distinct key of the shard (equal keys stay in one batch)
        cuts = (np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.uint64))[::ROWS_PER_BATCH]
        slices = [np.append(np.searchsorted(k, cuts, side="left"), k.size) for k in keys]
        schema = pa.schema([f for f in scatter_schema if f.name != KEY])
        stats = ShardStats()
        tokens: dict[str, int] = defaultdict(int)
        with atomic_ipc_writer(task.outputs["main"], schema, stream=True) as (writer, sink):
            for i in range(cuts.size):
                parts = [p.slice(int(s[i]), int(s[i + 1] - s[i])) for p, s in zip(pieces, slices) if s[i + 1] > s[i]]
                batch = pa.Table.from_batches(parts, schema=scatter_schema)
                order = pc.sort_indices(batch, [(KEY, "ascending"), ("doc_id", "ascending"), ("repeat", "ascending")])
                batch = batch.take(order).drop_columns([KEY]).combine_chunks()
                writer.write_table(batch)
                _count_batch(batch, stats, tokens)
                progress(batch.num_rows)
        for lang, n in tokens.items():
            stats.count(f"tokens/written/{lang}", n)
        stats.meta["sha256"] = sink.sha256.hexdigest()
        stats.meta["bytes"] = str(sink.size)
        return stats


def _count_batch(batch: pa.Table, stats: ShardStats, tokens: dict[str, int]) -> None:
    """Per language: rows (as documents in and out), characters and bytes of text, tokens."""
    aggs = [("num_tokens", "sum"), ("lang", "count")]
    if "text" in batch.column_names:
        batch = batch.append_column("_chars", pc.utf8_length(batch.column("text"))).append_column(
            "_bytes", pc.binary_length(batch.column("text"))
        )
        aggs += [("_chars", "sum"), ("_bytes", "sum")]
    for row in batch.group_by("lang").aggregate(aggs).to_pylist():
        c = stats.by_lang[row["lang"]]
        c.docs_in += row["lang_count"]
        c.docs_out += row["lang_count"]
        c.chars_in += row.get("_chars_sum") or 0
        c.chars_out += row.get("_chars_sum") or 0
        c.bytes_in += row.get("_bytes_sum") or 0
        c.bytes_out += row.get("_bytes_sum") or 0
        tokens[row["lang"]] += row["num_tokens_sum"] or 0


# ------------------------------------------------------------------------------------------- Megatron export


def _shard_token_batches(url: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(offsets, ids) of every record batch of an output shard, in stored order; memory-mapped when local."""
    fs, path = fs_and_path(url)
    source = pa.memory_map(path, "r") if is_local(url) else fs.open(path, "rb")
    with source:
        for batch in pa.ipc.open_stream(source):
            ids = batch.column("input_ids")
            yield ids.offsets.to_numpy(), ids.values.to_numpy()


def write_megatron(cfg: PipelineConfig, tasks: list[ShardTask]) -> dict[str, Any]:
    """``shards/megatron/corpus_text_document.{bin,idx}``: every row of the output shards, shard 0 first, in stored
    order, one document each (with the eos id appended under ``shards.megatron_eod``); returns the manifest entry."""
    from pipeline.runtime import stage_records

    processor = load_tokenizer(cfg)
    eod: int | None = None
    if cfg.shards.megatron_eod:
        eod = int(processor.eos_id())
        if eod < 0:
            raise ValueError(
                "shards.megatron_eod appends the tokenizer's eos id after every document, but the tokenizer has no "
                "eos piece (tokenizer.eos_id: -1): train it with one, or set shards.megatron_eod: false"
            )
    ordered = sorted(tasks, key=lambda t: int(t.params["index"]))
    records = stage_records(cfg, ShardsStage.name, [t.shard_id for t in ordered])
    shards = []
    first = 0
    for t in ordered:
        st = records[t.shard_id]["stats"]
        rows = int(st["docs_out"])
        tokens = sum(v for k, v in st["counters"].items() if k.startswith("tokens/written/"))
        name = shard_name(int(t.params["index"]))
        shards.append({"name": name, "first_document": first, "documents": rows,
                       "tokens": tokens + (rows if eod is not None else 0)})  # fmt: skip
        first += rows
    batches = itertools.chain.from_iterable(_shard_token_batches(t.outputs["main"]) for t in ordered)
    info = megatron.write_indexed_dataset(
        megatron_prefix(cfg),
        batches,
        num_documents=first,
        dtype=megatron.token_dtype(processor.get_piece_size()),
        eod=eod,
    )
    expected = sum(e["tokens"] for e in shards)
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
        "shards": shards,
    }


# -------------------------------------------------------------------------------------------------- 3. manifest


def build_manifest(
    cfg: PipelineConfig, tasks: list[ShardTask], plan: dict[str, Any], megatron_entry: dict[str, Any] | None = None
) -> dict[str, Any]:
    """manifest.json from the gather records, the balance plan and the tokenizer (and the Megatron export's entry,
    when there is one)."""
    from pipeline.runtime import stage_records

    processor = load_tokenizer(cfg)
    families = {lang: lp["family"] for lang, lp in plan["plan"]["languages"].items()}
    entries = []
    by_lang: dict[str, int] = defaultdict(int)
    rows_by_lang: dict[str, int] = defaultdict(int)
    records = stage_records(cfg, ShardsStage.name, [t.shard_id for t in tasks])
    for t in tasks:
        st = records[t.shard_id]["stats"]
        prefix = "tokens/written/"
        per_lang = {k.removeprefix(prefix): v for k, v in st["counters"].items() if k.startswith(prefix)}
        for lang, v in per_lang.items():
            by_lang[lang] += v
        for lang, c in st["by_lang"].items():
            rows_by_lang[lang] += c["docs_out"]
        entries.append(
            {
                "name": shard_name(int(t.params["index"])),
                "rows": st["docs_out"],
                "tokens": sum(per_lang.values()),
                "tokens_by_lang": dict(sorted(per_lang.items())),
                "bytes": int(st["meta"]["bytes"]),
                "sha256": st["meta"]["sha256"],
            }
        )
    total = sum(by_lang.values())
    by_family: dict[str, int] = defaultdict(int)
    for lang, v in by_lang.items():
        by_family[families.get(lang, "")] += v
    vocab = processor.get_piece_size()
    manifest = {
        "format": "arrow-ipc-stream",
        "columns": output_schema(pa.from_numpy_dtype(ids_dtype(vocab)), cfg.shards.write_text).names,
        "num_shards": len(entries),
        "rows": sum(e["rows"] for e in entries),
        "tokens": total,
        "shard_tokens": cfg.shards.shard_tokens,
        "seed": cfg.shards.seed,
        "tokens_by_lang": dict(sorted(by_lang.items())),
        "rows_by_lang": dict(sorted(rows_by_lang.items())),
        "tokens_by_family": dict(sorted(by_family.items())),
        "families": {lang: families[lang] for lang in sorted(by_lang) if lang in families},
        "lang_weights": {lang: round(v / total, 8) for lang, v in sorted(by_lang.items())} if total else {},
        "tokenizer": {
            "sha256": tokenizer_sha256(cfg),
            "vocab_size": vocab,
            "ids_dtype": str(ids_dtype(vocab)),
            "unk_id": processor.unk_id(),
            "bos_id": processor.bos_id(),
            "eos_id": processor.eos_id(),
            "pad_id": processor.pad_id(),
        },
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


def _check_balance_complete(cfg: PipelineConfig, plan: dict[str, Any]) -> None:
    """Every balance shard is complete and current, and the tokenizer is the one balance counted with."""
    from pipeline.runtime import is_complete

    stage = BalanceStage(cfg)
    stale = [t.shard_id for t in stage.plan() if not is_complete(stage, t)]
    if stale:
        raise RuntimeError(
            f"balance is missing or out of date for {len(stale)} shard(s) ({', '.join(stale[:5])}"
            f"{', ...' if len(stale) > 5 else ''}): run `polyglot balance` first"
        )
    if plan.get("tokenizer_sha256") != tokenizer_sha256(cfg):
        raise RuntimeError(
            "the tokenizer changed after `polyglot balance` counted tokens with it: run `polyglot balance` again"
        )


def _remove(url: str, recursive: bool = False) -> None:
    fs, path = fs_and_path(url)
    if fs.exists(path):
        fs.rm(path, recursive=recursive)


def _megatron_line(summary: dict[str, Any]) -> str:
    return (f"shards megatron: {summary['documents']:,} documents, {summary['tokens']:,} {summary['dtype']} tokens "
            f"-> {summary['prefix']}.bin/.idx")  # fmt: skip


def _megatron_entry(cfg: PipelineConfig) -> dict[str, Any] | None:
    """What the Megatron step wrote (its record's summary), for the manifest; None when the export is off."""
    from pipeline.runtime import global_record_path

    if not cfg.shards.megatron:
        return None
    return dict(read_json(global_record_path(cfg, "shards", "megatron"))["stats"])


def _gathered_identity(cfg: PipelineConfig, tasks: list[ShardTask]) -> str:
    """The output shards' records and bytes (sha256), which the Megatron export and the manifest are made of."""
    from pipeline.runtime import shard_records_fingerprint

    return shard_records_fingerprint(cfg, ShardsStage, tasks, lambda rec: rec["stats"]["meta"]["sha256"])


def _write_manifest(cfg: PipelineConfig, tasks: list[ShardTask]) -> dict[str, Any]:
    plan = balance_plan(cfg)
    built = build_manifest(cfg, tasks, plan, _megatron_entry(cfg))
    write_json(manifest_path(cfg), built)
    atomic_write_bytes(card_path(cfg), dataset_card(built, plan).encode("utf-8"))
    return {k: built[k] for k in ("num_shards", "rows", "tokens")}


class Shards(CompositeStage):
    """`polyglot shards`: scatter (per balance shard; skipped when every output shard is current) -> gather (per
    output shard) -> Megatron export (with ``shards.megatron``) -> manifest and dataset card -> clean-up. Its
    result's `details` are the manifest's totals."""

    name = "shards"
    result_step = ShardsStage

    @classmethod
    def prepare(cls, cfg: PipelineConfig) -> None:
        require_tokenizer(cfg, "shards")
        _check_balance_complete(cfg, balance_plan(cfg))

    @classmethod
    def steps(cls, cfg: PipelineConfig) -> list[ShardStep | CorpusStep]:
        from pipeline.runtime import is_complete

        def gathered_current(cfg: PipelineConfig) -> bool:
            gather = ShardsStage(cfg)
            return all(is_complete(gather, t) for t in gather.plan())

        steps: list[ShardStep | CorpusStep] = [ShardStep(ShardsScatter, not_needed=gathered_current), ShardStep(ShardsStage)]
        if cfg.shards.megatron:
            steps.append(CorpusStep(
                "megatron", write_megatron, MEGATRON_VERSION,
                lambda cfg: xxhash.xxh3_64_hexdigest(f"eod={cfg.shards.megatron_eod}".encode()),
                outputs=lambda cfg, tasks: {"bin": megatron.bin_path(megatron_prefix(cfg)),
                                            "idx": megatron.idx_path(megatron_prefix(cfg))},
                inputs=_gathered_identity, describe=_megatron_line,
            ))  # fmt: skip
        steps.append(CorpusStep(
            "manifest", _write_manifest, MANIFEST_VERSION, lambda cfg: cfg.section_hash(*ShardsStage(cfg).config_parts()),
            outputs=lambda cfg, tasks: {"manifest": manifest_path(cfg), "card": card_path(cfg)},
            inputs=lambda cfg, tasks: xxhash.xxh3_64_hexdigest(
                f"{_gathered_identity(cfg, tasks)}|megatron={json.dumps(_megatron_entry(cfg), sort_keys=True)}".encode()),
        ))  # fmt: skip
        return steps

    @classmethod
    def finish(cls, cfg: PipelineConfig, result: StageResult) -> None:
        """Clean-up (scatter files and their records; Megatron files when the export is off; shards of an earlier
        run with more shards), then the manifest's totals."""
        from pipeline.runtime import global_record_path, record_path

        _remove(scatter_dir(cfg), recursive=True)
        _remove(join(cfg.run.work_dir, "_state", ShardsScatter.name), recursive=True)
        if not cfg.shards.megatron:  # Megatron files of an earlier run would no longer match the shards
            _remove(megatron_dir(cfg), recursive=True)
            _remove(global_record_path(cfg, "shards", "megatron"))
        names = {shard_name(int(t.params["index"])) for t in ShardsStage(cfg).plan()}
        for f in list_files(shards_dir(cfg), ".arrow"):
            base = f.rstrip("/").rsplit("/", 1)[-1]
            if base.startswith("shard-") and base not in names:
                _remove(f)
                _remove(record_path(cfg, ShardsStage.name, base.removesuffix(".arrow")))
        manifest = read_json(manifest_path(cfg))
        result.details.update({k: manifest[k] for k in ("tokens", "rows", "tokens_by_lang")},
                              manifest_path=manifest_path(cfg))  # fmt: skip
        mix = ", ".join(f"{lang} {w:.1%}" for lang, w in sorted(manifest["lang_weights"].items(), key=lambda kv: -kv[1]))
        log.info(f"shards manifest: {manifest['num_shards']} shards, {manifest['rows']:,} rows, {manifest['tokens']:,} "
                 f"tokens ({mix}) -> {manifest_path(cfg)}")  # fmt: skip


run = Shards.run
