"""The balance stage's steps on plain data (`pipeline.balance.steps`), without Ray or files: counts and sketch, the
plan with its selection rule, and a shard's choice."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from pipeline.balance.plan import Plan
from pipeline.balance.select import SelectionSketch, sketch_shard
from pipeline.balance.settings import BalanceSettings
from pipeline.balance.steps import (
    REASON_DOWNSAMPLED,
    REASON_EXCLUDED,
    check_language_codes,
    cluster_sizes,
    count_shard,
    plan_selection,
    select_shard,
)
from pipeline.lang.families import family_of


def _shard(n_kor: int, n_eng: int, n_xxx: int = 0, prefix: str = "s") -> tuple[pa.Table, pa.Table]:
    """A shard's documents and its counts table (tokens = 10 + i % 7)."""
    langs = ["kor_Hang"] * n_kor + ["eng_Latn"] * n_eng + ["tlh_Latn"] * n_xxx
    ids = [f"{prefix}/{i}" for i in range(len(langs))]
    tokens = [10 + i % 7 for i in range(len(langs))]
    docs = pa.table({"doc_id": ids, "text": [f"t{i}" for i in range(len(langs))], "lang": langs,
                     "dup_cluster_size": pa.array([1] * len(langs), pa.int32())})  # fmt: skip
    counts = pa.table({"doc_id": ids, "lang": langs, "num_tokens": pa.array(tokens, pa.int32()),
                       "dup_cluster_size": pa.array([1] * len(langs), pa.int32())})  # fmt: skip
    return docs, counts


def _sketch(counts: pa.Table, settings: BalanceSettings) -> SelectionSketch:
    return sketch_shard(counts.column("doc_id").to_pylist(), counts.column("lang").to_pylist(),
                        counts.column("num_tokens").to_numpy(), seed=settings.seed)  # fmt: skip


def test_cluster_sizes_default_to_one() -> None:
    assert cluster_sizes(pa.table({"doc_id": ["a", "b"]})).tolist() == [1, 1]
    sizes = cluster_sizes(pa.table({"dup_cluster_size": pa.array([3, None], pa.int32())}))
    assert sizes.tolist() == [3, 1] and sizes.dtype == np.int32


def test_check_language_codes_refuses_short_codes() -> None:
    check_language_codes(["kor_Hang", "eng_Latn", "und"])
    with pytest.raises(ValueError, match="'ko' \\(= kor_Hang\\)"):
        check_language_codes(["kor_Hang", "ko"])


def test_plan_selection_then_select_shard_hits_the_planned_tokens() -> None:
    settings = BalanceSettings(families={"korean": {"share": 0.5}, "germanic": {"share": 0.5}}, max_repeats=3.0)
    shards = [_shard(300, 40, 5, "a"), _shard(200, 30, 0, "b")]
    planned = plan_selection((_sketch(c, settings) for _, c in shards), family_of, settings)
    achieved = sum(planned.plan["achieved"].values())
    assert planned.plan["achieved_total"] == planned.summary["achieved_tokens"] == achieved
    assert planned.selection["families"] == {"kor_Hang": "korean", "eng_Latn": "germanic"}
    assert "tlh_Latn" in planned.selection["excluded"] and planned.table.endswith("\n")
    assert Plan.from_json(planned.plan["plan"]).to_json() == planned.plan["plan"]
    chosen_tokens: dict[str, int] = {}
    for docs, counts in shards:
        chosen = select_shard(docs, counts, planned.selection)
        out = chosen.table
        assert out.column_names == [*docs.column_names, "family", "num_tokens", "repeats"]
        assert min(out.column("repeats").to_pylist()) >= 1
        assert set(out.column("family").to_pylist()) <= {"korean", "germanic"}
        reasons = dict(zip(docs.column("doc_id").to_pylist(), chosen.reasons))
        assert all(reasons[d] is None for d in out.column("doc_id").to_pylist())
        for lang, reason in zip(docs.column("lang").to_pylist(), chosen.reasons):
            assert reason == REASON_EXCLUDED if lang == "tlh_Latn" else reason in (None, REASON_DOWNSAMPLED)
        assert REASON_DOWNSAMPLED in chosen.reasons  # Korean is cut to its share
        for lang, n in chosen.chosen.items():
            chosen_tokens[lang] = chosen_tokens.get(lang, 0) + n
        assert sum(chosen.copies.values()) == sum(out.column("repeats").to_pylist())
    assert {k: v for k, v in chosen_tokens.items() if v} == {k: v for k, v in planned.plan["achieved"].items() if v}


def test_count_shard_counts_with_the_tokenizer(small_tokenizer) -> None:
    processor = small_tokenizer
    texts = ["Hello world, a small test.", "안녕하세요 세계", ""]
    table = pa.table({"doc_id": ["a", "b", "c"], "text": texts, "lang": ["eng_Latn", "kor_Hang", "eng_Latn"]})
    seen: list[int] = []
    counts, sketch = count_shard(processor, table, seed=0, prefer_cluster_size=False, progress=seen.append)
    assert counts.column("num_tokens").to_pylist() == [len(processor.encode(t)) for t in texts]
    assert counts.column("dup_cluster_size").to_pylist() == [1, 1, 1] and sum(seen) == 3
    assert sketch.available_tokens() == {
        "eng_Latn": len(processor.encode(texts[0])), "kor_Hang": len(processor.encode(texts[1]))}  # fmt: skip

