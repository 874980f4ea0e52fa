"""Bulk encoding into numpy/Arrow, and the parity report's numbers on hand-checked examples."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import sentencepiece as spm

from pipeline.tokenizer.encode import EncodedBatch, count_tokens, encode_batch, ids_dtype
from pipeline.tokenizer.parity import LanguageParity, ParityTable, compare_parity, parity_report


def test_encode_batch_matches_sentencepiece_and_builds_arrow(trained, demo_lines) -> None:
    model_path, _, _ = trained
    processor = spm.SentencePieceProcessor(model_file=str(model_path))
    texts = [*demo_lines[:50], "", "１２３"]
    batch = encode_batch(model_path, texts, num_threads=2)
    expected = processor.encode(texts)
    assert batch.ids.dtype == np.uint16 and batch.offsets.dtype == np.int64
    assert batch.offsets[0] == 0 and len(batch.offsets) == len(texts) + 1
    assert [batch.ids[a:b].tolist() for a, b in zip(batch.offsets[:-1], batch.offsets[1:])] == expected
    column = batch.to_arrow()
    assert column.type == pa.list_(pa.uint16())
    assert column.to_pylist() == expected
    assert count_tokens(processor, texts).tolist() == [len(e) for e in expected]


def test_ids_dtype_boundary() -> None:
    assert ids_dtype(65_535) == np.uint16 and ids_dtype(65_536) == np.int32
    batch = EncodedBatch(np.array([0, 2, 3]), np.array([70_000, 1, 5], dtype=np.int32))
    assert batch.to_arrow().type == pa.list_(pa.int32()) and batch.lengths.tolist() == [2, 1]


def test_parity_table_hand_example() -> None:
    table = ParityTable(
        (
            LanguageParity("eng", sentences=2, characters=100, tokens=20),  # 10 tok/sent, 5 chars/tok
            LanguageParity("kor", sentences=2, characters=60, tokens=30),  # 15 tok/sent, 2 chars/tok
            LanguageParity("tha", sentences=4, characters=200, tokens=50),  # 12.5 tok/sent, 4 chars/tok
        )
    )
    assert [r.tokens_per_sentence for r in table.rows] == [10.0, 15.0, 12.5]
    assert [r.chars_per_token for r in table.rows] == [5.0, 2.0, 4.0]
    assert table.ratio == 1.5 and table.most_expensive == "kor" and table.cheapest == "eng"
    assert "1.500 (kor / eng)" in table.to_text()
    other = ParityTable((LanguageParity("eng", 2, 100, 10), LanguageParity("kor", 2, 60, 40)))
    text = compare_parity(table, other)
    assert "balanced 1.500, unbalanced 4.000" in text and "tha" not in text


def test_parity_report_counts_tokens_with_the_model(trained) -> None:
    model_path, _, _ = trained
    processor = spm.SentencePieceProcessor(model_file=str(model_path))
    parallel = {"kor": ["안녕하세요.", "도서관이 문을 열었다."], "eng": ["Hello.", "The library opened."]}
    table = parity_report(model_path, parallel)
    assert [r.lang for r in table.rows] == ["eng", "kor"]
    for row in table.rows:
        tokens = sum(len(processor.encode(s)) for s in parallel[row.lang])
        assert (row.sentences, row.tokens) == (2, tokens)
        assert row.characters == sum(map(len, parallel[row.lang]))
        assert row.tokens_per_sentence == pytest.approx(tokens / 2)
    per_sentence = [r.tokens_per_sentence for r in table.rows]
    assert table.ratio == pytest.approx(max(per_sentence) / min(per_sentence))
