"""The per-line fast paths of `DocView` give what the plain per-line code gives (see pipeline/filter/view.py)."""

from __future__ import annotations

import pytest

from pipeline.filter import view as view_mod
from pipeline.filter.view import DocView
from pipeline.text import segment
from pipeline.text.segment import profile_for


def test_class_tables_match_their_patterns() -> None:
    for table, pattern in ((view_mod._FOREIGN_GATE, view_mod._FOREIGN_CHAR_RE),
                           (view_mod._FOREIGN_RUN, view_mod._FOREIGN_RUN_RE)):  # fmt: skip
        expected = [cp for cp in range(0x110000) if pattern.match(chr(cp))]
        assert table.nonzero()[0].tolist() == expected


def _slow_line_sizes(v: DocView) -> list[float]:
    k = v.profile.chars_per_word
    out = []
    for line, n in zip(v.lines, v.line_units, strict=True):
        if n and view_mod._FOREIGN_CHAR_RE.search(line):
            runs = view_mod._FOREIGN_RUN_RE.findall(line.lower())
            n = n - sum(map(len, runs)) + len(runs) * k
        out.append(float(n))
    return out


_MANY = "\n".join(f"第{i}行 ABC İ{i} x\u0387y Ω\u2126 K\u212a ΣΑΣ 中文。" if i % 3 else "  \t " for i in range(120))

TEXTS = [
    _MANY,
    _MANY.replace("İ", "I"),
    "第一行 ABC 是 42 个。\n\n  第二行İstanbul x\u0387y  \n·\n\u3000\nΑΣ.Σ ΣΑΣ 中文\n\x01ab\x01 cd",
    "Kelvin \u212a 中 and Ω\u2126 ohm。\nẞ straße 中文 TEST\n",
    "  \n\t\n",
    "无外文的一行。\n第二行！",
]


@pytest.mark.parametrize("text", TEXTS)
def test_line_facts_match_per_line_code(text: str) -> None:
    for script in ("Hans", "Latn"):
        v = DocView(text, profile_for(script))
        assert v.lower_lines == [line.lower() for line in v.lines]
        assert v.line_ends_sentence == [segment.ends_sentence(line) for line in v.lines]
        if v.char_units:
            assert v.line_sizes == _slow_line_sizes(v)
            assert v.line_units == segment.line_unit_counts(v.text, v.profile)
            assert (v._char_line_table is not None) == (len(v.lines) >= view_mod._LINE_TABLE_MIN_LINES)
        marks = view_mod._MID_SENTENCE_MARKS
        assert v.line_has_sentence_mark == [
            end or any(m in line for m in marks) for end, line in zip(v.line_ends_sentence, v.lines, strict=True)
        ]


def _old_rebuild(text: str, kept: list[int], edited: dict[int, str]) -> str:
    import re

    keep, out, i = set(kept), [], 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if not stripped:
            out.append("")
            continue
        if i in keep:
            out.append(edited.get(i, stripped))
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def test_rebuild_matches_join_and_collapse() -> None:
    import random

    from pipeline.filter.quality import _rebuild

    rng = random.Random(7)
    pieces = ["", " ", "\t\u3000", "a", " b c ", "第一行。", "x [1] y"]
    for _ in range(2000):
        text = "\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 9)))
        v = DocView(text, profile_for("Latn"))
        kept = sorted(rng.sample(range(len(v.lines)), rng.randint(0, len(v.lines))))
        edited = {i: "e" for i in kept if rng.random() < 0.2}
        assert _rebuild(v, kept, edited) == _old_rebuild(text, kept, edited)


@pytest.mark.parametrize("text", [*TEXTS, "\n\nΑΣ\nhead line\n\nΣΑΣ. Body one. Two!\nMore body text here.\nfoot İ\n",
                                  "\n\nΑΣ\nhead line\n\nΣΑΣ. Body one ΑΣ. Two!\n \nMore body ΣΑ text here.\nfoot\n"])
def test_views_cut_lower_from_the_page(text: str) -> None:
    for script in ("Hans", "Latn"):
        page = DocView(text, profile_for(script))
        page.lower_lines  # noqa: B018 - measured, as the page rules do
        main = page.main_view(1.0)
        assert main.lower == main.text.lower()
        index = list(range(0, len(page.lines), 2))
        kept = DocView.of_lines([page.lines[i] for i in index], page, page, index)
        assert kept.lower == kept.text.lower()


def test_substring_entries_found_as_the_pattern_finds_them() -> None:
    """`TermMatcher`'s pair filter gives what the entries' pattern's findall gives: one-character entries, entries
    that start or continue past the BMP, overlapping entries, an entry at the text's end."""
    import random

    from pipeline.filter.lexicon import TermMatcher

    rng = random.Random(5)
    han = [chr(c) for c in range(0x4E00, 0x4E40)] + ["𡳞", "𨳊", "\uffff"]
    terms = {"屄", "𡳞", "𨳊中", "中𨳊", "一二", "一二三", "二三"}
    while len(terms) < 150:
        terms.add("".join(rng.choice(han) for _ in range(rng.randint(2, 4))))
    m = TermMatcher(dict.fromkeys(terms, 1.0))
    assert m._pairs is not None and m._substring is not None
    pieces = [*terms, *han, "，", "。", "a", " ", "😀"]
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(100, 400)))
        assert m._substring_matches(text) == m._substring.findall(text)


def test_hangul_stems_found_as_the_pattern_finds_them() -> None:
    """The same for the Korean entries matched at the start of an eojeol (`TermMatcher._stem_re`)."""
    import random

    from pipeline.filter import lexicon

    rng = random.Random(6)
    syllables = [chr(c) for c in range(0xAC00, 0xAC30)]
    terms = {"좆", "19금", "av배우"}
    while len(terms) < 120:
        terms.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))))
    m = lexicon.TermMatcher(dict.fromkeys(terms, 1.0))
    assert m._stem_pairs is not None and m._stem_re is not None
    pieces = [*terms, *syllables, " ", "을", "는", ".", "a", "1"]
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(100, 400)))
        found = lexicon._matches(m._stem_re, m._stem_pairs, text)
        assert [x.span() for x in found] == [x.span() for x in m._stem_re.finditer(text)]


def test_line_units_count_tokens_as_split() -> None:
    """`DocView.line_units` counts a line's whitespace tokens without splitting it when it can: what split() gives,
    whatever whitespace the line holds."""
    spaces = [" ", "  ", "\t", "\xa0", "\u3000", "\u2009", "\u2028", "\x85", "\x1f", "\u200b", "\x0b"]
    words = ["a", "bc", "Straße", "中文", "x.y", "—", "\u00ad", "😀"]
    import random

    rng = random.Random(7)
    for _ in range(500):
        text = "".join(rng.choice(words + spaces + ["\n"]) for _ in range(rng.randint(1, 60)))
        v = DocView(text, profile_for("Latn"))
        assert v.line_units == [len(line.split()) for line in v.lines], repr(text)
