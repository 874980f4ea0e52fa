"""The tokenizer's training sample (`pipeline.tokenizer.sample`), Ray-free: quotas, the seeded draw, training lines,
verification candidates and the composition the report shows."""

from __future__ import annotations

import unicodedata

from pipeline.tokenizer.sample import (
    SAMPLE_SCHEMA,
    VERIFY_SCHEMA,
    balanced_quotas,
    composition_by_family,
    draw_fraction,
    draw_probabilities,
    draw_sample,
    sample_composition,
    verify_candidates,
    verify_rank,
)
from pipeline.tokenizer.settings import TokenizerSettings


def test_draw_depends_on_seed_and_doc_id_only() -> None:
    ids = [f"doc/{i}" for i in range(2000)]
    u = draw_fraction(ids, 0)
    assert ((u >= 0) & (u < 1)).all() and abs(u.mean() - 0.5) < 0.03
    assert (draw_fraction(ids[::-1], 0)[::-1] == u).all()
    assert (draw_fraction(ids, 1) != u).mean() > 0.99


def test_quotas_are_balanced_and_unbalanced_with_the_same_total() -> None:
    chars = {"kor_Hang": 90_000, "eng_Latn": 9_000, "deu_Latn": 1_000}
    families = {"kor_Hang": "korean", "eng_Latn": "germanic", "deu_Latn": "germanic"}
    settings = TokenizerSettings(sample_chars=20_000, sample_fraction=1.0, sampling_alpha=0.3)
    balanced, unbalanced = balanced_quotas(chars, families, settings)
    assert abs(sum(balanced.values()) - 20_000) <= len(chars)
    assert abs(sum(unbalanced.values()) - sum(balanced.values())) <= len(chars)
    assert balanced["kor_Hang"] / sum(balanced.values()) < 0.8  # flatter than the corpus (90% Korean)
    assert abs(unbalanced["kor_Hang"] / sum(unbalanced.values()) - 0.9) < 0.01  # proportional
    assert all(q <= chars[lang] for lang, q in balanced.items())  # never more text than a language has
    p = draw_probabilities(balanced, chars)
    assert p["deu_Latn"] == min(1.0, balanced["deu_Latn"] / 1_000) and all(0 < v <= 1 for v in p.values())
    assert draw_probabilities({"xxx": 5, "eng_Latn": 0}, chars) == {}


def test_draw_sample_takes_whole_documents_as_nfc_lines() -> None:
    doc_ids = [f"d{i}" for i in range(6)]
    texts = ["Vie\u0301t\nline two", "a b", "c", "d", "e", "f"]
    langs = ["vie_Latn", "vie_Latn", "eng_Latn", "eng_Latn", "deu_Latn", "deu_Latn"]
    table, balanced, unbalanced = draw_sample(doc_ids, texts, langs, {"vie_Latn": 1.0, "eng_Latn": 1.0},
                                              {"eng_Latn": 1.0}, seed=0, max_sentence_length=4192)  # fmt: skip
    assert table.schema == SAMPLE_SCHEMA
    rows = table.to_pylist()
    assert [r["line"] for r in rows] == [unicodedata.normalize("NFC", "Vie\u0301t"), "line two", "a b", "c", "d"]
    assert [r["unbalanced"] for r in rows] == [False, False, False, True, True]
    assert set(balanced) == {"vie_Latn", "eng_Latn"} and set(unbalanced) == {"eng_Latn"}
    assert (balanced["vie_Latn"].docs, balanced["vie_Latn"].lines, balanced["vie_Latn"].chars) == (2, 3, 15)
    assert balanced["vie_Latn"].bytes == 16 and unbalanced["eng_Latn"].docs == 2
    empty, none, _ = draw_sample(doc_ids, texts, langs, {}, {}, seed=0, max_sentence_length=4192)
    assert empty.num_rows == 0 and none == {}


def test_verify_candidates_are_the_lowest_ranks_per_language_with_raw_text() -> None:
    doc_ids = [f"d{i}" for i in range(20)]
    langs = ["a"] * 10 + ["b"] * 10
    texts = [f"raw\u0301 {i}" for i in range(20)]
    table = verify_candidates(doc_ids, texts, langs, seed=3, k=2)
    assert table.schema == VERIFY_SCHEMA
    ranks = verify_rank(doc_ids, 3).tolist()
    for lang, lo in (("a", 0), ("b", 10)):
        best = sorted(range(lo, lo + 10), key=ranks.__getitem__)[:2]
        got = [r for r in table.to_pylist() if r["lang"] == lang]
        assert [r["doc_id"] for r in got] == [doc_ids[i] for i in best]
        assert [r["text"] for r in got] == [texts[i] for i in best]
    assert verify_candidates(doc_ids, texts, langs, seed=3, k=0).num_rows == 0


def test_composition_adds_the_shards_and_sums_families() -> None:
    estimate = {"docs": {"a": 3}, "chars": {"a": 300}, "bytes": {"a": 310}}
    shard = {"by_lang": {"a": {"docs_in": 2, "chars_in": 200, "docs_out": 1, "chars_out": 90},
                         "b": {"docs_in": 1, "chars_in": 50, "docs_out": 0, "chars_out": 0}},
             "counters": {"balanced/lines/a": 4, "unbalanced/docs/b": 1, "unbalanced/chars/b": 50}}  # fmt: skip
    comp = sample_composition(estimate, ({"a": 100}, {"a": 80, "b": 20}), [shard, shard], lambda lang: "fam")
    assert list(comp) == ["a", "b"]
    assert comp["a"] | {} == {
        "family": "fam", "corpus_docs_estimate": 3, "corpus_chars_estimate": 300, "corpus_bytes_estimate": 310,
        "corpus_docs": 4, "corpus_chars": 400, "quota_chars": 100, "sample_docs": 2, "sample_chars": 180,
        "sample_lines": 8, "unbalanced_quota_chars": 80, "unbalanced_docs": 0, "unbalanced_chars": 0,
        "unbalanced_lines": 0,
    }  # fmt: skip
    assert comp["b"]["unbalanced_docs"] == 2 and comp["b"]["corpus_chars_estimate"] == 0
    assert composition_by_family(comp) == {
        "fam": {"corpus_chars": 500, "quota_chars": 100, "sample_chars": 180, "unbalanced_chars": 100}
    }

