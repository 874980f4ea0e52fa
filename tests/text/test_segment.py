"""Units per script (words, eojeols, characters), sentence ends, lines and paragraphs for the quality rules."""

from __future__ import annotations

import random

import pytest

from pipeline.text import segment
from pipeline.text.segment import (
    char_units,
    count_letterless_units,
    count_letterless_words,
    ends_sentence,
    line_unit_count,
    line_unit_counts,
    profile_for,
    sentence_count,
    split_lines,
    split_paragraphs,
    units,
    words,
)


def test_words_split_punctuation_keep_connectors_and_symbols() -> None:
    text = "Don't stop: the e-mail costs $100 | ★★★ at 3.5%, «quoted» — U.S. end... l·l"
    assert words(text.lower()) == [
        "don't", "stop", "the", "e-mail", "costs", "$100", "|", "★★★", "at", "3.5", "quoted", "u.s", "end", "l·l",
    ]  # fmt: skip


def test_words_of_other_space_delimited_scripts() -> None:
    assert words("Привет, мир! Как дела?") == ["Привет", "мир", "Как", "дела"]
    assert words("قال أحد السكان: «الحديقة جميلة»؟") == ["قال", "أحد", "السكان", "الحديقة", "جميلة"]
    assert words("मानव अधिकार।") == ["मानव", "अधिकार"]  # vowel signs (marks) stay inside the word
    assert words("a\u200bb") == ["a", "b"]  # zero-width space separates


def test_korean_words_are_eojeols() -> None:
    text = "서울 마포구는 지난 3일 성산동에 구립도서관을 새로 열었다고 밝혔다."
    assert words(text) == ["서울", "마포구는", "지난", "3일", "성산동에", "구립도서관을", "새로", "열었다고", "밝혔다"]
    prof = profile_for("Hang")
    assert prof.unit == "word" and prof.chars_per_word == pytest.approx(0.68)


def test_char_units_drop_spaces_punctuation_and_zero_width() -> None:
    assert char_units("我们今天去了北京。 你好！iPhone 15") == "我们今天去了北京你好iPhone15"
    assert char_units("東京\u200bへ、行きます。") == "東京へ行きます"
    assert units("ที่ผ่านมา มี", "Thai") == list("ที่ผ่านมามี")  # code points, vowel and tone marks included
    assert units("我们，好", "Hans") == ["我", "们", "好"]
    assert units("a b, c", "Latn") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("script", "unit", "factor", "punct"),
    [
        ("Latn", "word", 1.0, True),
        ("Cyrl", "word", 1.0, True),
        ("Arab", "word", 1.0, True),
        ("Hang", "word", 0.68, True),
        ("Hans", "char", 1.5, True),
        ("Hant", "char", 1.5, True),
        ("Hani", "char", 1.5, True),
        ("Jpan", "char", 2.2, True),
        ("Thai", "char", 5.1, False),
        ("Laoo", "char", 5.9, False),
        ("Khmr", "char", 5.8, True),
        ("Mymr", "char", 8.2, True),
        ("Tibt", "char", 4.0, True),  # spaceless, not measured: the default factor
        (None, "word", 1.0, True),
        ("hang", "word", 0.68, True),  # case-insensitive
    ],
)
def test_profiles(script: str | None, unit: str, factor: float, punct: bool) -> None:
    prof = profile_for(script)
    assert (prof.unit, prof.chars_per_word, prof.sentence_punct) == (unit, pytest.approx(factor), punct)


@pytest.mark.parametrize(
    ("line", "ends"),
    [
        ("The council voted on Tuesday.", True),
        ('He said "yes."', True),
        ("새 도서관이 문을 열었다.", True),
        ("開館は来月です。", True),
        ("他说：“我们明天见！”", True),
        ("「本当ですか？」", True),
        ("هل زرت الحديقة الجديدة؟", True),
        ("یہ ایک جملہ ہے۔", True),
        ("यह एक वाक्य है।", True),
        ("នេះជាប្រយោគ។", True),
        ("ဒါဟာ ဝါကျ ဖြစ်သည်။", True),
        ("Read more...", False),
        ("Read more…", False),
        ("Home | News | Sports", False),
        ("Contact us:", False),
        ("마포구 새 구립도서관 문 열어", False),
    ],
)
def test_ends_sentence(line: str, ends: bool) -> None:
    assert ends_sentence(line) is ends


def test_sentence_count() -> None:
    latin = profile_for("Latn")
    assert sentence_count('He said "yes." Then he left. Pi is 3.14 or so', latin) == 3
    assert sentence_count("U.S. troops left. Done!", latin) == 3  # abbreviations count: an approximation
    assert sentence_count("A heading without a mark", latin) == 1
    assert sentence_count("Hi... there.", latin) == 2
    assert sentence_count("我们去了北京。你好！他呢", profile_for("Hans")) == 3
    assert sentence_count("今日は晴れです。明日は雨でしょう。", profile_for("Jpan")) == 2
    assert sentence_count("هل أنت هنا؟ نعم.", profile_for("Arab")) == 2
    # Thai writes no sentence marks: space-separated chunks are the sentences
    assert sentence_count("เทศบาลเปิดตลาดนัด มีพ่อค้าแม่ค้ามาร่วมขาย ชาวบ้านดีใจ", profile_for("Thai")) == 3


def test_lines_and_paragraphs() -> None:
    text = "  Title  \r\nfirst line\n\n \n second para \nmore\n\n\n\nthird\n"
    assert split_lines(text) == ["Title", "first line", "second para", "more", "third"]
    assert split_paragraphs(text) == ["Title  \r\nfirst line", "second para \nmore", "third"]
    assert split_paragraphs("one paragraph only") == ["one paragraph only"]
    assert split_paragraphs("  \n ") == []
    assert split_lines("") == []


def test_letterless_words_and_units() -> None:
    assert count_letterless_words("don't stop 3.5 $100 | ★★★ end. abc-123 1,000 ok") == 6  # 3.5 $100 | ★★★ 1 000
    assert count_letterless_words("") == 0
    assert count_letterless_words("서울 2024년 3일 ★") == 1
    assert count_letterless_units(char_units("北京2024年★★")) == 6
    assert count_letterless_units(char_units("ที่ผ่านมา")) == 0  # Thai vowel/tone marks are not "letterless"


def test_line_unit_counts_match_per_line_counts() -> None:
    rng = random.Random(7)
    pieces = ["我们", "。", " ", "\u3000", "\n", "\r\n", "ab", "、", "x", "\n\n", "ที่", "★", "\t", "\u200b"]
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        for script in ("Hans", "Thai", "Latn", "Hang"):
            prof = profile_for(script)
            assert line_unit_counts(text, prof) == [line_unit_count(line, prof) for line in split_lines(text)]


def test_terminal_punctuation_constants_are_consistent() -> None:
    assert "…" not in segment.TERMINAL_PUNCTUATION  # an ellipsis is not a sentence end (C4)
    for mark in "。！？｡।؟۔។။":
        assert mark in segment.TERMINAL_PUNCTUATION
    assert all(len(b) == 1 for b in segment.BULLET_STARTS)


def test_unit_class_table_matches_the_regexes_on_every_code_point() -> None:
    """The table behind `joined_words` / `unit_codepoints` classifies every code point as the regexes do."""
    sep = __import__("re").compile(f"[{segment._SEP}]")
    for cp in range(0x110000):
        c = chr(cp)
        want = 2 if c in segment.CONNECTORS else 1 if sep.fullmatch(c) else 0
        assert segment._UNIT_CLASS[cp] == want, hex(cp)


@pytest.mark.parametrize("size", [40, 3000])
def test_joined_words_and_unit_codepoints_equal_the_regex_forms(size: int) -> None:
    """Short texts take the regexes, long ones the table: both give `words` and `char_units` exactly, connectors at
    the edges, doubled, between symbols, lone surrogates and astral characters included."""
    rng = random.Random(size)
    alphabet = [*"ab xyZ  .-'’·‐‑׳״,!?\n\t\u200b\u3000ü漢字한글123$|★", "\ud800", "😀", "\U00010100", "\u00a0", "...", "--"]
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, size)))
        joined, cps = segment.joined_words(text)
        assert joined == " ".join(words(text))
        assert cps.tobytes().decode("utf-32-le", "surrogatepass") == joined
        assert segment.unit_codepoints(text).tobytes().decode("utf-32-le", "surrogatepass") == char_units(text)


def test_sentence_end_pattern_counts_as_its_plus_form() -> None:
    """`_SENTENCE_END_RE` is written `[m][m]*...` for speed; it finds exactly what `[m]+...` finds (backtracking
    into a run of marks, CJK marks that need no space, closers, the end of the text)."""
    import re

    marks = segment._SENTENCE_MARKS
    plus = re.compile(marks + "+" + segment._SENTENCE_END_RE.pattern[2 * len(marks) + 1 :])
    rng = random.Random(3)
    alphabet = [*"ab .!?。！」)\"' \n…", "...", "。.", ".。", "?!"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert [m.span() for m in segment._SENTENCE_END_RE.finditer(text)] == [m.span() for m in plus.finditer(text)]
