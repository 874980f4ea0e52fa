"""PackedSequenceIterator: packing, exact resumption at step k (with/without weights, across shard boundaries, per
rank), mixing by weights, repeats as epochs, rank slices, and refusals."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from pipeline.training import PackedSequenceIterator, shard_paths_from

EOS = 0


def write_shard(path: Path, docs: list[tuple[str, str, list[int]]], repeats: list[int] | None = None,
                value_type: pa.DataType = pa.uint16(), batch_rows: int = 3) -> Path:  # fmt: skip
    """A minimal balance-style Arrow IPC file (several record batches, to exercise chunked columns)."""
    cols = {
        "doc_id": pa.array([d[0] for d in docs]),
        "text": pa.array([" ".join(map(str, d[2])) for d in docs]),
        "lang": pa.array([d[1] for d in docs]),
        "family": pa.array(["f"] * len(docs)),
        "url": pa.array([f"https://example.org/{d[0]}" for d in docs]),
        "input_ids": pa.array([d[2] for d in docs], type=pa.list_(value_type)),
        "num_tokens": pa.array([len(d[2]) for d in docs], type=pa.int32()),
    }
    if repeats is not None:
        cols["repeats"] = pa.array(repeats, type=pa.int32())
    table = pa.table(cols)
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    return path


def _corpus(tmp_path: Path, n_shards: int = 4, seed: int = 0) -> tuple[list[Path], dict[int, tuple[str, int]]]:
    """Shards of short documents whose every token is the document's number (1..), so streams can be decoded."""
    rng = np.random.default_rng(seed)
    langs = ["kor_Hang", "jpn_Jpan", "rus_Cyrl"]
    paths, docs_meta, number = [], {}, 1
    for s in range(n_shards):
        docs = []
        for _ in range(int(rng.integers(3, 9))):
            lang = langs[int(rng.integers(0, 3))]
            length = int(rng.integers(0, 12))  # empty documents included
            docs.append((f"s{s}/{number}", lang, [number] * length))
            docs_meta[number] = (lang, length)
            number += 1
        paths.append(write_shard(tmp_path / f"shard-{s:05d}.arrow", docs))
    return paths, docs_meta


def _take(it: PackedSequenceIterator, n: int) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        try:
            out.append(next(it))
        except StopIteration:
            break
    return out


def _decode(samples: list[np.ndarray]) -> list[int]:
    """The document numbers in stream order, from samples that overlap by one token."""
    stream = np.concatenate([samples[0]] + [s[1:] for s in samples[1:]]) if samples else np.zeros(0)
    docs, last_eos = [], True
    for tok in stream.tolist():
        if tok == EOS:
            if last_eos:
                docs.append(None)  # an empty document: EOS right after EOS
            last_eos = True
        elif last_eos:
            docs.append(tok)
            last_eos = False
    return docs


def test_corpus_order_packs_every_document_once_with_eos(tmp_path: Path) -> None:
    paths, meta = _corpus(tmp_path)
    it = PackedSequenceIterator(paths, seq_len=7, eos_id=EOS)
    samples = list(it)
    assert all(s.shape == (8,) and s.dtype == np.int32 for s in samples)
    for a, b in zip(samples, samples[1:]):
        assert a[-1] == b[0]  # one-token overlap
    expected_stream = np.concatenate([np.array([n] * meta[n][1] + [EOS]) for n in sorted(meta)])
    assert len(samples) == (expected_stream.size - 1) // 7  # the trailing partial sample is dropped
    got = np.concatenate([samples[0]] + [s[1:] for s in samples[1:]])
    assert (got == expected_stream[: got.size]).all()
    assert _take(it, 1) == []  # stays exhausted


def _resume_check(make, total: int, ks: list[int]) -> list[np.ndarray]:
    reference = _take(make(None), total)
    assert len(reference) == total
    for k in ks:
        it = make(None)
        first = _take(it, k)
        state = json.loads(json.dumps(it.state_dict()))  # must survive JSON
        assert len(json.dumps(state)) < 2000
        resumed = _take(make(state), total - k)
        assert [a.tolist() for a in first + resumed] == [a.tolist() for a in reference], k
    return reference


@pytest.mark.parametrize("seq_len", [1, 5, 16])
def test_resume_in_corpus_order_at_every_k(tmp_path: Path, seq_len: int) -> None:
    paths, meta = _corpus(tmp_path)
    n = len(list(PackedSequenceIterator(paths, seq_len=seq_len, eos_id=EOS)))
    _resume_check(lambda st: PackedSequenceIterator(paths, seq_len=seq_len, eos_id=EOS, state=st), n, list(range(n)))


@pytest.mark.parametrize("world_size", [1, 3])
def test_resume_with_weights_across_cycles_and_ranks(tmp_path: Path, world_size: int) -> None:
    paths, meta = _corpus(tmp_path)
    weights = {"kor_Hang": 0.5, "jpn_Jpan": 0.3, "rus_Cyrl": 0.2}
    for rank in range(world_size):
        def make(state, rank=rank):
            return PackedSequenceIterator(paths, seq_len=6, eos_id=EOS, weights=weights, seed=3, rank=rank,
                                          world_size=world_size, state=state)  # fmt: skip
        # 60 samples of 7 tokens cycle each language's few documents many times (new shuffles per cycle)
        reference = _resume_check(make, 60, [0, 1, 2, 7, 13, 29, 59])
        decoded = [d for d in _decode(reference) if d is not None]
        assert {meta[d][0] for d in decoded} == set(weights)


def test_weights_set_the_token_mix(tmp_path: Path) -> None:
    paths, meta = _corpus(tmp_path, n_shards=6, seed=1)
    weights = {"kor_Hang": 6.0, "jpn_Jpan": 3.0, "rus_Cyrl": 1.0}  # normalized by the iterator
    samples = _take(PackedSequenceIterator(paths, seq_len=31, eos_id=EOS, weights=weights, seed=0), 300)
    tokens = np.concatenate([s[1:] for s in samples])
    per_lang = Counter()
    for tok in tokens[tokens != EOS].tolist():
        per_lang[meta[tok][0]] += 1
    total = sum(per_lang.values())
    for lang, w in weights.items():
        assert per_lang[lang] / total == pytest.approx(w / 10, abs=0.01)


def test_unweighted_languages_are_skipped_and_missing_ones_refused(tmp_path: Path) -> None:
    paths, meta = _corpus(tmp_path)
    samples = _take(PackedSequenceIterator(paths, seq_len=8, eos_id=EOS, weights={"jpn_Jpan": 1.0}), 40)
    assert {meta[d][0] for d in _decode(samples) if d is not None} == {"jpn_Jpan"}
    with pytest.raises(ValueError, match="tha_Thai has weight"):
        PackedSequenceIterator(paths, seq_len=8, eos_id=EOS, weights={"jpn_Jpan": 1.0, "tha_Thai": 1.0})


def test_ranks_get_disjoint_slices_covering_the_corpus(tmp_path: Path) -> None:
    paths, meta = _corpus(tmp_path, n_shards=5, seed=2)
    seen: list[int] = []
    for rank in range(3):
        # seq_len 1 loses nothing but the final token, so every document of the rank shows up
        samples = list(PackedSequenceIterator(paths, seq_len=1, eos_id=EOS, rank=rank, world_size=3))
        docs = [d for d in _decode(samples) if d is not None]
        seen += docs
    non_empty = sorted(n for n, (_, length) in meta.items() if length > 0)
    assert sorted(seen) == non_empty


def test_repeats_are_epochs_a_pass_apart(tmp_path: Path) -> None:
    docs = [(f"d{i}", "kor_Hang", [i] * 3) for i in range(1, 7)]
    path = write_shard(tmp_path / "rep.arrow", docs, repeats=[1, 3, 0, 2, 1, 1])
    order = _decode(list(PackedSequenceIterator([path], seq_len=1, eos_id=EOS)))
    assert order == [1, 2, 4, 5, 6, 2, 4, 2]  # pass 0: repeats > 0, pass 1: > 1, pass 2: > 2
    shuffled = _decode(list(PackedSequenceIterator([path], seq_len=1, eos_id=EOS, shuffle=True, seed=5)))
    assert Counter(shuffled) == Counter(order)
    assert shuffled[:5] != [1, 2, 4, 5, 6] or shuffled[5:] != [2, 4, 2]  # seeded order differs from storage order


def test_manifest_source_and_int32_vocab(tmp_path: Path) -> None:
    big = [(f"d{i}", "zho_Hans", [70_000 + i] * 4) for i in range(5)]
    write_shard(tmp_path / "a.arrow", big[:2], value_type=pa.int32())
    write_shard(tmp_path / "b.arrow", big[2:], value_type=pa.int32())
    manifest = {"shards": [{"name": "a.arrow", "rows": 2, "sha256": "x"}, {"name": "b.arrow", "rows": 3}],
                "tokenizer_sha256": "y"}  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert shard_paths_from(tmp_path / "manifest.json") == [str(tmp_path / "a.arrow"), str(tmp_path / "b.arrow")]
    samples = list(PackedSequenceIterator(tmp_path / "manifest.json", seq_len=4, eos_id=EOS))
    stream = np.concatenate([samples[0]] + [s[1:] for s in samples[1:]])
    assert stream[:5].tolist() == [70_000] * 4 + [EOS] and stream.max() == 70_004
    with pytest.raises(ValueError, match="does not fit dtype uint16"):
        PackedSequenceIterator(tmp_path / "manifest.json", seq_len=4, eos_id=EOS, dtype=np.uint16)


def test_state_from_a_different_setup_is_refused(tmp_path: Path) -> None:
    paths, _ = _corpus(tmp_path)
    it = PackedSequenceIterator(paths, seq_len=8, eos_id=EOS, weights={"kor_Hang": 1.0}, seed=1)
    _take(it, 3)
    state = it.state_dict()
    with pytest.raises(ValueError, match="different settings or shards"):
        PackedSequenceIterator(paths, seq_len=8, eos_id=EOS, weights={"kor_Hang": 1.0}, seed=2, state=state)
    with pytest.raises(ValueError, match="different settings or shards"):
        PackedSequenceIterator(paths[:-1], seq_len=8, eos_id=EOS, weights={"kor_Hang": 1.0}, seed=1, state=state)
    with pytest.raises(ValueError, match="rank"):
        PackedSequenceIterator(paths, seq_len=8, eos_id=EOS, rank=2, world_size=2)
