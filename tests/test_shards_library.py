"""`pipeline.shards` without Ray: keys, scatter → gather round trip, the Megatron export and the manifest."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest

from pipeline.shards import (
    KEY,
    WrittenShard,
    build_manifest,
    export_megatron,
    gather_shard,
    num_output_shards,
    open_ipc_file,
    output_schema,
    scatter_shard,
    shard_name,
    shuffle_keys,
    tokenizer_entry,
)


def test_names_and_counts() -> None:
    assert shard_name(7) == "shard-00007.arrow"
    assert num_output_shards(0, 100) == 1 and num_output_shards(100, 100) == 1 and num_output_shards(101, 100) == 2


def test_shuffle_keys_depend_on_doc_copy_and_seed() -> None:
    ids = [b"a", b"a", b"b"]
    k = shuffle_keys(ids, np.array([0, 1, 0]), seed=0)
    assert k.dtype == np.uint64 and len(set(k.tolist())) == 3
    assert (shuffle_keys(ids, np.array([0, 1, 0]), seed=0) == k).all()
    assert (shuffle_keys(ids, np.array([0, 1, 0]), seed=1) != k).all()


def _balanced(processor, n: int = 40) -> pa.Table:
    texts = [f"Document number {i} about the weather." if i % 2 else f"문서 {i}번 날씨 이야기"
             for i in range(n)]  # fmt: skip
    return pa.table({
        "doc_id": [f"d{i:03d}" for i in range(n)], "text": texts,
        "lang": ["eng_Latn" if i % 2 else "kor_Hang" for i in range(n)],
        "family": ["germanic" if i % 2 else "korean" for i in range(n)], "url": [None] * n,
        "num_tokens": pa.array([len(processor.encode(t)) for t in texts], pa.int32()),
        "repeats": pa.array([1 + (i % 3 == 0) for i in range(n)], pa.int32()),
    })  # fmt: skip


def test_scatter_then_gather_round_trip(tmp_path, small_tokenizer) -> None:
    table = _balanced(small_tokenizer)
    halves = [table.slice(0, 25), table.slice(25)]
    scatter = [str(tmp_path / f"scatter-{i}.arrow") for i in range(2)]
    counted = [scatter_shard(small_tokenizer, t, p, num_shards=3, seed=5, write_text=True, shard_id=f"b{i}")
               for i, (t, p) in enumerate(zip(halves, scatter))]  # fmt: skip
    assert sum(c["copies"] for per in counted for c in per.values()) == sum(table.column("repeats").to_pylist())
    reader = open_ipc_file(scatter[0])
    assert reader.num_record_batches == 3 and KEY in reader.schema.names
    rows, tokens = 0, 0
    for j in range(3):
        out = tmp_path / shard_name(j)
        g = gather_shard(scatter, j, str(out))
        assert g.sha256 == hashlib.sha256(out.read_bytes()).hexdigest() and g.size == out.stat().st_size
        shard = pa.ipc.open_stream(pa.memory_map(str(out))).read_all()
        assert shard.schema == output_schema(pa.uint16(), True)
        ids = [d.encode() for d in shard.column("doc_id").to_pylist()]
        keys = shuffle_keys(ids, shard.column("repeat").to_numpy(), 5)
        assert (np.diff(keys.astype(np.float64)) >= 0).all() and (keys % np.uint64(3) == j).all()
        rows += shard.num_rows
        tokens += sum(c["tokens"] for c in g.by_lang.values())
        for row in shard.to_pylist()[:3]:
            assert row["input_ids"] == small_tokenizer.encode(row["text"])
    repeats = table.column("repeats").to_pylist()
    expected_tokens = sum(n * r for n, r in zip(table.column("num_tokens").to_pylist(), repeats))
    assert rows == sum(table.column("repeats").to_pylist()) and tokens == expected_tokens
    again = str(tmp_path / "again.arrow")
    scatter_shard(small_tokenizer, halves[0], again, num_shards=3, seed=5, write_text=True)
    assert open(again, "rb").read() == open(scatter[0], "rb").read()


def test_scatter_refuses_counts_from_another_tokenizer(tmp_path, small_tokenizer) -> None:
    table = _balanced(small_tokenizer, 4)
    wrong = table.set_column(5, "num_tokens", pa.array([1, 1, 1, 1], pa.int32()))
    with pytest.raises(ValueError, match="the tokenizer changed after `polyglot balance`"):
        scatter_shard(small_tokenizer, wrong, str(tmp_path / "x.arrow"), num_shards=1, seed=0, write_text=False,
                      shard_id="s")  # fmt: skip


def test_megatron_export_and_manifest(tmp_path, small_tokenizer) -> None:
    table = _balanced(small_tokenizer, 10)
    scatter = str(tmp_path / "scatter.arrow")
    scatter_shard(small_tokenizer, table, scatter, num_shards=2, seed=0, write_text=False)
    written, shards = [], []
    for j in range(2):
        url = str(tmp_path / shard_name(j))
        g = gather_shard([scatter], j, url)
        rows = sum(c["rows"] for c in g.by_lang.values())
        tokens_by_lang = {lang: c["tokens"] for lang, c in g.by_lang.items()}
        written.append(WrittenShard(url, shard_name(j), rows, sum(tokens_by_lang.values())))
        shards.append({"name": shard_name(j), "rows": rows, "bytes": g.size, "sha256": g.sha256,
                       "tokens_by_lang": tokens_by_lang, "rows_by_lang": {k: c["rows"] for k, c in g.by_lang.items()}})
    entry = export_megatron(str(tmp_path), written, small_tokenizer.get_piece_size(), eod=2)
    total = sum(w.tokens for w in written)
    assert entry["documents"] == sum(w.rows for w in written) and entry["tokens"] == total + entry["documents"]
    assert (tmp_path / "megatron" / "corpus_text_document.bin").stat().st_size == entry["bin"]["bytes"]
    plan = {"plan": {"languages": {"eng_Latn": {"family": "germanic", "available": 9},
                                   "kor_Hang": {"family": "korean", "available": 8}}, "warnings": []},
            "available_docs": {"kor_Hang": 5, "eng_Latn": 5}}  # fmt: skip
    manifest = build_manifest(shards, plan, tokenizer_entry(small_tokenizer, "abc"), shard_tokens=100, seed=0,
                              write_text=False, megatron_entry=entry)  # fmt: skip
    assert manifest["tokens"] == total and manifest["num_shards"] == 2 and manifest["megatron"] is entry
    assert manifest["columns"] == ["doc_id", "lang", "family", "url", "input_ids", "num_tokens", "repeat"]
    assert set(manifest["tokens_by_family"]) == {"germanic", "korean"}
    assert manifest["tokenizer"]["ids_dtype"] == "uint16" and manifest["tokenizer"]["sha256"] == "abc"
    assert sum(manifest["lang_weights"].values()) == pytest.approx(1.0)
