"""The Gopher n-gram measurements of `DocView` equal a direct computation over all n-gram positions, whatever the
order in which the sizes are asked (each size narrows the positions the next ones look at)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest

from pipeline.filter import view
from pipeline.filter.view import DocView
from pipeline.text import segment
from pipeline.text.segment import profile_for

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


# ---- reference: every position, no candidates -----------------------------------------------------------------------


def ref_top_count(v: DocView, n: int) -> int:
    if v.n_gram_units < n:
        return 0
    _, counts = np.unique(v.ngram_keys(n), return_counts=True)
    return int(counts.max())


def ref_top_chars(v: DocView, n: int) -> int:
    if v.n_gram_units < n:
        return 0
    _, first, counts = np.unique(v.ngram_keys(n), return_index=True, return_counts=True)
    top = int(counts.max())
    if top < 2:
        return 0
    chars = v.ngram_chars(n)
    if isinstance(chars, int):
        return top * chars
    return top * int(chars[first[counts == top]].max())


def ref_dup_chars(v: DocView, n: int) -> int:
    total = v.n_gram_units
    if total < n:
        return 0
    keys = v.ngram_keys(n)
    seen: set[int] = set()
    covered = np.zeros(total, dtype=bool)
    for i, k in enumerate(keys.tolist()):
        if k in seen:
            covered[i : i + n] = True
        seen.add(k)
    return int(covered.sum()) if isinstance(v.ngram_chars(1), int) else int(v.unit_lengths[covered].sum())


def measured(v: DocView, order: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    fns = {"top": v.top_ngram_chars, "count": v.top_ngram_count, "dup": v.dup_ngram_chars}
    return {(kind, n): fns[kind](n) for kind, n in order}


def reference(text: str, script: str, order: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    v = DocView(text, profile_for(script))
    fns = {
        "top": lambda n: ref_top_chars(v, n),
        "count": lambda n: ref_top_count(v, n),
        "dup": lambda n: ref_dup_chars(v, n),
    }
    return {(kind, n): fns[kind](n) for kind, n in order}


TEXTS = [
    ("", "Latn"),
    ("word", "Latn"),
    ("one two", "Latn"),
    ("the cat sat on the mat and the cat sat on the hat while the dog sat on the mat " * 3, "Latn"),
    ("Все люди рождаются свободными. Все люди рождаются равными. Все люди рождаются.\n" * 5, "Cyrl"),
    ("人人生而自由，在尊严和权利上一律平等。人人生而自由。" * 7, "Hans"),
    ("すべての人間は、生まれながらにして自由であり、すべての人間は平等である。", "Jpan"),
    ("มนุษย์ทั้งหลายเกิดมามีอิสระและเสมอภาคกันในเกียรติศักด์และสิทธิ มนุษย์ทั้งหลายเกิดมา", "Thai"),
    ("모든 인류 구성원의 천부의 존엄성과 모든 인류 구성원의 권리를", "Hang"),
    ("Mixed 混合 текст ไทย 한국어 mixed 混合 текст", "Latn"),
    ("buy cheap pills " * 200, "Latn"),
    ("a " * 500, "Latn"),
    ("哈" * 800, "Hans"),
    ("a b a b a b a c a b a b", "Latn"),
]

SIZES = list(range(1, 13))


def _orders(rng: random.Random) -> list[list[tuple[str, int]]]:
    pipeline_order = [("top", n) for n in (2, 3, 4)] + [("dup", n) for n in range(5, 11)]
    everything = [(k, n) for k in ("top", "count", "dup") for n in SIZES]
    shuffled = everything[:]
    rng.shuffle(shuffled)
    return [pipeline_order, everything, everything[::-1], shuffled, [("dup", n) for n in (10, 5, 7)]]


@pytest.mark.parametrize("text,script", TEXTS)
def test_same_as_every_position(text, script):
    rng = random.Random(len(text))
    for order in _orders(rng):
        assert measured(DocView(text, profile_for(script)), order) == reference(text, script, order), order


def test_random_repetitive_texts():
    rng = random.Random(5)
    words = ["a", "bb", "ccc", "the", "of", "кот", "猫", "ไทย"]
    for _ in range(300):
        text = " ".join(rng.choice(words[: rng.randint(2, len(words))]) for _ in range(rng.randint(0, 60)))
        script = rng.choice(["Latn", "Hans"])
        order = _orders(rng)[3]
        assert measured(DocView(text, profile_for(script)), order) == reference(text, script, order), (text, script)


@pytest.mark.parametrize("few", [0, 10**9])
def test_dict_and_sort_grouping_agree(monkeypatch, few):
    """Every size grouped by sorting (few = 0) or in a dict (few = 10^9): the measurements do not depend on which
    grouping ran (the filter picks by the number of candidate positions)."""
    monkeypatch.setattr(view, "_FEW_POSITIONS", few)
    rng = random.Random(few % 7)
    words = ["a", "bb", "ccc", "the", "of", "кот", "猫", "ไทย"]
    texts = [(t, s) for t, s in TEXTS]
    for _ in range(150):
        text = " ".join(rng.choice(words[: rng.randint(2, len(words))]) for _ in range(rng.randint(0, 400)))
        texts.append((text, rng.choice(["Latn", "Hans"])))
    for text, script in texts:
        for order in _orders(rng):
            assert measured(DocView(text, profile_for(script)), order) == reference(text, script, order), order


def _web_zh_texts(n: int) -> list[str]:
    """The first `n` real Chinese pages of the shared data (the test is skipped without them)."""
    path = SHARED / "web-zh" / "zh-web-500.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"real pages absent: {path} not found")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh][:n]


def test_real_pages():
    texts = _web_zh_texts(150)
    order = [("top", n) for n in (3, 5, 6)] + [("dup", n) for n in (8, 9, 11, 12, 14, 15)]  # the Han sizes
    for text in texts:
        assert measured(DocView(text, profile_for("Hans")), order) == reference(text, "Hans", order)


def test_batch_same_as_each_view(monkeypatch):
    """`measure_ngrams` over many views (also cut into several chunks) gives each view what it measures alone."""
    rng = random.Random(11)
    words = ["a", "bb", "ccc", "the", "of", "кот", "猫", "ไทย", "PassPaper", "2024"]
    texts = list(TEXTS)
    for _ in range(120):
        text = " ".join(rng.choice(words[: rng.randint(2, len(words))]) for _ in range(rng.randint(0, 300)))
        texts.append((text, rng.choice(["Latn", "Hans", "Thai"])))
    order = [(k, n) for k in ("top", "count", "dup") for n in SIZES]
    for chunk_units in (10**9, 100):
        monkeypatch.setattr(view, "_BATCH_UNITS", chunk_units)
        for char_units in (False, True):
            group = [(t, s) for t, s in texts if (profile_for(s).unit == "char") == char_units]
            views = [DocView(t, profile_for(s)) for t, s in group]
            view.measure_ngrams(views, SIZES)
            for v, (text, script) in zip(views, group, strict=True):
                assert measured(v, order) == measured(DocView(text, profile_for(script)), order), (text, script)


def test_batch_real_pages():
    texts = _web_zh_texts(150)
    sizes = (3, 5, 6, 8, 9, 11, 12, 14, 15)
    order = [(k, n) for k in ("top", "count", "dup") for n in sizes]
    views = [DocView(t, profile_for("Hans")) for t in texts]
    view.measure_ngrams(views, sizes)
    for v, text in zip(views, texts, strict=True):
        assert measured(v, order) == measured(DocView(text, profile_for("Hans")), order)


def test_grouping_order_groups_as_the_stable_sort():
    """`_grouping_order` puts equal keys side by side in position order, also when different keys share the 32
    bits it sorts by (then it falls back to the full sort)."""
    rng = np.random.default_rng(2)
    base = rng.integers(0, 2**63, 50, dtype=np.int64).astype(np.uint64)
    shared = (base[0] >> np.uint64(32)) << np.uint64(32)
    collide = np.array([shared | np.uint64(1), shared | np.uint64(2)], dtype=np.uint64)  # same high 32 bits
    for keys in (base[rng.integers(0, 50, 400)], base[:20],
                 np.concatenate((collide, base[rng.integers(0, 50, 200)], collide[::-1], collide))):
        order, in_order = view._grouping_order(keys)
        assert (in_order == keys[order]).all()
        runs = [(int(k), int(p)) for k, p in zip(keys[order], order, strict=True)]
        ref = keys.argsort(kind="stable")
        assert sorted(runs) == sorted((int(keys[p]), int(p)) for p in ref)
        # each key's positions form one ascending run
        seen: dict[int, list[int]] = {}
        last = None
        for k, p in runs:
            assert k == last or k not in seen
            seen.setdefault(k, []).append(p)
            last = k
        assert all(ps == sorted(ps) for ps in seen.values())


_PIECES = ["word", "Mot", "3", "4.5", "$100", "3-d", "a-b", "x'", "'y", "★★", "😀", "𝐀𝐁", "İ", "ΣΑΣ", ".", "...",
           "?!", "。", "！？", "」", "」。", "\"", ")", "।", "…", "-", "'", " ", "  ", "\t", "\u3000", "\u00a0", "\n",
           "\n\n", " \n ", "中文", "ไทย", "한국어", "PassPaper", "v2", "[1]", "©", "\u200b", "e-mail", "don't"]


def _random_texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = ["", "\n", "a", ".", "x.", "。", " . ", "3", "3-d", "-3", "a-3", "a'3", "3'a"]
    for _ in range(n):
        out.append("".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 80))))
    return out


def _measured_in_chunks(monkeypatch, measure, texts: list[str], script: str):
    """(view, text) pairs after `measure` ran over all the texts' views at once, then in chunks of ~50 characters."""
    for limit in (10**9, 50):
        monkeypatch.setattr(view, "_LINE_BATCH_CHARS", limit)
        views = [DocView(t, profile_for(script)) for t in texts]
        measure(views)
        yield from zip(views, texts, strict=True)


@pytest.mark.parametrize("script", ["Latn", "Hans", "Thai", "Hang"])
def test_measure_lines_same_as_each_page(monkeypatch, script):
    """`measure_lines` over many pages (in one chunk and in many) gives each page the per-line features it
    measures alone: units per line, sentence ends per line (the regex), character scripts' line table and foreign
    words."""
    texts = _random_texts(len(script), 300)
    names = ("line_units", "line_sentence_ends", "_char_line_table", "foreign_words", "line_sizes", "sentence_total")
    for v, text in _measured_in_chunks(monkeypatch, view.measure_lines, texts, script):
        alone = DocView(text, profile_for(script))
        for name in names:
            if name == "_char_line_table" and not alone.char_units:
                continue
            if name == "line_sentence_ends" and alone.lines:
                assert v.line_sentence_ends == [len(segment.SENTENCE_MARK_RE.findall(ln)) for ln in alone.lines]
                continue
            if name == "_char_line_table" and alone.lines:  # measured per line alone below 32 lines
                units, gate, chars, runs = v._char_line_table
                assert units == segment.line_unit_counts(text, alone.profile)
                assert [g > 0 for g in gate] == [bool(view._FOREIGN_CHAR_RE.search(ln)) for ln in alone.lines]
                assert (sum(runs), sum(chars)) == alone.foreign_words
                continue
            assert getattr(v, name) == getattr(alone, name), (name, text)


def test_measure_letterless_words_same_as_the_regex(monkeypatch):
    texts = _random_texts(7, 400)
    for v, text in _measured_in_chunks(monkeypatch, view.measure_letterless_words, texts, "Latn"):
        assert v.letterless_words == segment.count_letterless_words(text.lower()), text


@pytest.mark.parametrize("script", ["Latn", "Hans"])
def test_measure_units_same_as_each_page(monkeypatch, script):
    """`measure_units` gives each page the words (or character units) and code points it tokenizes alone."""
    texts = _random_texts(3, 300) + ["a-", "-a", "a-b-c", "'a'", "x.\ny", "a.\n.b", "", ""]
    for v, text in _measured_in_chunks(monkeypatch, view.measure_units, texts, script):
        alone = DocView(text, profile_for(script))
        assert (v.words, v.unit_text, v.joined) == (alone.words, alone.unit_text, alone.joined), text
        assert v._codepoints.tolist() == alone._codepoints.tolist()


def test_line_flags_kept_by_lower_case():
    """`measure_pages` looks the line classes up in the lower-cased text: every code point whose lower case is one
    character has the same `_LINE_FLAGS` as it (the one lower-cased into several, İ, makes the page fall back)."""
    cps = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000 and len(chr(c).lower()) == 1]
    lower = [ord(chr(c).lower()) for c in cps]
    flags = view._FLAGS
    assert not ((flags[cps] ^ flags[lower]) & view._LINE_FLAGS).any()


@pytest.mark.parametrize("script", ["Latn", "Hans", "Hang"])
def test_measure_pages_same_as_each_page(monkeypatch, script):
    """`measure_pages` gives each page the per-line features and units it measures alone, and the letterless words
    (a main text's cut from its page's)."""
    texts = _random_texts(11, 300) + ["İ.\nA b.", "ΣΑΣ. b\nc d."]
    names = ("line_units", "line_sentence_ends", "line_sizes", "sentence_total", "words", "unit_text", "joined",
             "letterless_words")
    for v, text in _measured_in_chunks(monkeypatch, view.measure_pages, texts, script):
        alone = DocView(text, profile_for(script))
        for name in names:
            if name == "letterless_words" and alone.char_units:
                continue
            if name == "line_sentence_ends" and alone.lines:
                assert v.line_sentence_ends == [len(segment.SENTENCE_MARK_RE.findall(ln)) for ln in alone.lines]
                continue
            assert getattr(v, name) == getattr(alone, name), (name, text)
        if v.lines and not v.char_units:
            main = v.main_view(1)
            assert main.letterless_words == segment.count_letterless_words(main.lower), text
