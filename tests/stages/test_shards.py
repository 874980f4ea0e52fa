"""`polyglot shards` on a real local Ray: token ids equal SentencePiece's, repeats as rows spread over shards, the
manifest's sha256 and counts, the dataset card, loading with `datasets` both ways and with the training iterator,
uint16/int32 ids, reruns that change nothing, byte-identical shards from the same inputs, seeded shuffle."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

from pipeline.stages import balance as balance_stage
from pipeline.stages import shards as shards_stage
from tests.stages.test_balance import (  # noqa: F401 - tiny_tokenizer is a fixture
    SHARDS,
    install_tokenizer,
    make_cfg,
    tiny_tokenizer,
    tree_state,
    write_upstream,
)

pytestmark = pytest.mark.slow  # Ray actors: a few seconds per stage run

SHARD_TOKENS = 30_000


def build(tmp: Path, model: Path, seed: int = 0):
    """Upstream + tokenizer + balance + shards in `tmp`; returns (cfg, shards result)."""
    write_upstream(tmp)
    install_tokenizer(tmp, model)
    cfg = make_cfg(tmp, shards={"shard_tokens": SHARD_TOKENS, "seed": seed})
    assert balance_stage.run(cfg).ok
    return cfg, shards_stage.run(cfg)


def read_stream(path: Path) -> pa.Table:
    return pa.ipc.open_stream(pa.memory_map(str(path))).read_all()


def all_rows(out: Path) -> list[dict]:
    manifest = json.loads((out / "manifest.json").read_text())
    return [
        dict(r, _shard=e["name"]) for e in manifest["shards"] for r in read_stream(out / e["name"]).to_pylist()
    ]


@pytest.fixture(scope="module")
def built(ray_session, tiny_tokenizer: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("shards")
    cfg, result = build(tmp, tiny_tokenizer)
    return tmp, cfg, result


def test_rows_are_the_balanced_copies_with_sentencepiece_ids(built, tiny_tokenizer: Path) -> None:
    tmp, cfg, result = built
    out = tmp / "out" / "shards"
    manifest = json.loads((out / "manifest.json").read_text())
    plan = json.loads((tmp / "out" / "balance" / "plan.json").read_text())
    assert result.ok
    assert manifest["num_shards"] == math.ceil(plan["achieved_total"] / SHARD_TOKENS) == result.shards >= 4
    rows = all_rows(out)

    # every chosen document appears `repeats` times, as copies 0..repeats-1, and nothing else appears
    chosen = pa.concat_tables([pq.read_table(tmp / "out" / "balance" / f"{s}.parquet") for s in SHARDS]).to_pylist()
    assert Counter((r["doc_id"], r["repeat"]) for r in rows) == Counter(
        (d["doc_id"], k) for d in chosen for k in range(d["repeats"])
    )
    assert sum(r["num_tokens"] for r in rows) == plan["achieved_total"] == manifest["tokens"] == result.details["tokens"]

    # ids are SentencePiece's encode of the text, uint16 for this 2,000-piece vocabulary
    sp = spm.SentencePieceProcessor(model_file=str(tiny_tokenizer))
    assert [list(r["input_ids"]) for r in rows] == sp.encode([r["text"] for r in rows])
    assert all(r["num_tokens"] == len(r["input_ids"]) for r in rows)
    schema = pa.ipc.open_stream(pa.memory_map(str(out / "shard-00000.arrow"))).schema
    assert schema.field("input_ids").type == pa.list_(pa.uint16())
    assert schema.names == ["doc_id", "text", "lang", "family", "url", "input_ids", "num_tokens", "repeat"]
    by_id = {d["doc_id"]: d for d in chosen}
    fields = ("lang", "family", "url")
    assert all([r[f] for f in fields] == [by_id[r["doc_id"]][f] for f in fields] for r in rows)

    # shuffled: not in input order; copies of a document spread over shards
    ids = [r["doc_id"] for r in rows]
    assert ids != sorted(ids)
    places: dict[str, set[str]] = {}
    for r in rows:
        places.setdefault(r["doc_id"], set()).add(r["_shard"])
    many = [d for d in chosen if d["repeats"] >= 3]
    assert many and sum(len(places[d["doc_id"]]) > 1 for d in many) > 0.8 * len(many)
    # shard sizes: about total / N each
    sizes = [e["tokens"] for e in manifest["shards"]]
    assert max(sizes) < 1.6 * plan["achieved_total"] / len(sizes)


def test_manifest_card_records_and_cleanup(built, tiny_tokenizer: Path) -> None:
    tmp, cfg, result = built
    out = tmp / "out" / "shards"
    manifest = json.loads((out / "manifest.json").read_text())
    for e in manifest["shards"]:
        data = (out / e["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == e["sha256"] and len(data) == e["bytes"]
        table = read_stream(out / e["name"])
        assert table.num_rows == e["rows"]
        per_lang = Counter()
        for lang, n in zip(table.column("lang").to_pylist(), table.column("num_tokens").to_pylist()):
            per_lang[lang] += n
        assert per_lang == Counter(e["tokens_by_lang"])
    assert manifest["tokenizer"]["sha256"] == hashlib.sha256(tiny_tokenizer.read_bytes()).hexdigest()
    assert manifest["tokenizer"]["ids_dtype"] == "uint16" and manifest["tokenizer"]["eos_id"] == 2
    names = [e["name"] for e in manifest["shards"]] + ["README.md", "manifest.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    card = (out / "README.md").read_text()
    for lang, n in manifest["tokens_by_lang"].items():
        assert f"| {lang} |" in card and f"{n:,}" in card
    assert "| germanic |" in card and "Balance warnings" in card
    # records: tokens written per language (the stats report's exact counts), no scatter records left behind
    state = tmp / "out" / "_state" / "shards"
    recs = [json.loads((state / f"{e['name'].removesuffix('.arrow')}.json").read_text()) for e in manifest["shards"]]
    written = Counter()
    for rec in recs:
        written.update({k.removeprefix("tokens/written/"): v for k, v in rec["stats"]["counters"].items()})
    assert written == Counter(manifest["tokens_by_lang"])
    assert not (state / "scatter").exists() and not (out.parent / "_work" / "shards" / "scatter").exists()


def test_datasets_reads_the_shards_both_ways(built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    import datasets

    tmp, cfg, result = built
    out = tmp / "out" / "shards"
    manifest = json.loads((out / "manifest.json").read_text())
    files = [str(out / e["name"]) for e in manifest["shards"]]
    ds = datasets.load_dataset("arrow", data_files=files, split="train", cache_dir=str(tmp_path / "hf" / "datasets"))
    assert ds.num_rows == manifest["rows"]
    assert ds.features["input_ids"].feature.dtype == "uint16"
    first = read_stream(Path(files[0])).slice(0, 1).to_pylist()[0]
    assert ds[0]["input_ids"] == first["input_ids"] and ds[0]["doc_id"] == first["doc_id"]
    # the dataset card's YAML points `load_dataset(<shards dir>)` at the shard files (not at manifest.json)
    whole = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf" / "datasets"))
    assert whole.num_rows == manifest["rows"] and whole.column_names == manifest["columns"]
    for f, e in zip(files, manifest["shards"]):
        one = datasets.Dataset.from_file(f)
        assert one.num_rows == e["rows"]
        assert sum(one["num_tokens"]) == e["tokens"]


def test_packed_sequence_iterator_reads_the_manifest(built) -> None:
    from pipeline.training import PackedSequenceIterator

    tmp, cfg, result = built
    out = tmp / "out" / "shards"
    manifest = json.loads((out / "manifest.json").read_text())
    it = PackedSequenceIterator(str(out / "manifest.json"), seq_len=64, eos_id=manifest["tokenizer"]["eos_id"])
    stream = np.concatenate([s[:-1] for s in it])
    rows = all_rows(out)
    expected = np.concatenate([np.append(np.asarray(r["input_ids"], np.int32), 2) for r in rows])
    assert np.array_equal(stream, expected[: stream.size]) and stream.size > expected.size - 65


def test_rerun_changes_nothing(built) -> None:
    tmp, cfg, first = built
    before = tree_state(tmp / "out")
    again = shards_stage.run(cfg)
    assert again.ok and again.skipped == again.shards == first.shards
    assert tree_state(tmp / "out") == before


def test_same_inputs_give_byte_identical_shards(built, tiny_tokenizer: Path, tmp_path: Path) -> None:
    tmp, cfg, first = built
    _, second = build(tmp_path, tiny_tokenizer)
    a, b = tmp / "out" / "shards", tmp_path / "out" / "shards"
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for p in a.iterdir():
        assert p.read_bytes() == (b / p.name).read_bytes(), p.name


def test_int32_ids_for_a_large_vocabulary_and_a_new_seed(built, tiny_tokenizer: Path, tmp_path: Path) -> None:
    """The tiny model plus 66,000 UNUSED pieces (never produced by encode): same ids, but > 65,535 pieces."""
    tmp, cfg, first = built
    model = pb.ModelProto()
    model.ParseFromString(tiny_tokenizer.read_bytes())
    for i in range(66_000):
        piece = model.pieces.add()
        piece.piece, piece.score, piece.type = f"<unused{i}>", 0.0, pb.ModelProto.SentencePiece.UNUSED
    big = tmp_path / "big.model"
    big.write_bytes(model.SerializeToString())
    _, result = build(tmp_path, big, seed=1)
    assert result.ok
    out = tmp_path / "out" / "shards"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tokenizer"]["ids_dtype"] == "int32" and manifest["tokenizer"]["vocab_size"] == 68_000
    assert read_stream(out / "shard-00000.arrow").schema.field("input_ids").type == pa.list_(pa.int32())
    rows, before = all_rows(out), all_rows(tmp / "out" / "shards")
    key = lambda r: (r["doc_id"], r["repeat"])  # noqa: E731
    # same documents, copies and ids; another seed places and orders them differently
    assert sorted((key(r), r["input_ids"]) for r in rows) == sorted((key(r), r["input_ids"]) for r in before)
    assert [key(r) for r in rows] != [key(r) for r in before]
    assert [r["_shard"] for r in sorted(rows, key=key)] != [r["_shard"] for r in sorted(before, key=key)]


def test_needs_balance_first(ray_session, tiny_tokenizer: Path, tmp_path: Path) -> None:
    write_upstream(tmp_path)
    install_tokenizer(tmp_path, tiny_tokenizer)
    with pytest.raises(FileNotFoundError, match="polyglot balance"):
        shards_stage.run(make_cfg(tmp_path))
