"""Units of text per script for the quality rules: words or characters, lines, paragraphs, sentence ends.

Why: Gopher/C4/FineWeb rules count "words", "sentences" and "n-grams", and those mean different things per writing
system. Everything here is regex- or C-level string work (no per-character Python loop), because the filter runs on
every document of a crawl.

Decisions per script (`profile_for`):

- **Space-delimited scripts** (Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari, ... — every script not listed
  below): a *word* is a maximal run of characters that are neither whitespace nor Unicode punctuation (category
  ``P*``), where one connector (``' ’ - . · ‐ ‑ ׳ ״``) between two such runs keeps them together: ``don't``,
  ``e-mail``, ``3.5``, ``l·l`` are one word, ``end.`` is ``end``. Symbols (``$ | + → © ★`` and emoji, category
  ``S*``) are word characters, so ``$100`` and ``|`` are words — words without a letter, which is what the Gopher
  "fraction of words with a letter" rule needs to see in menus and symbol soup. Measured: 60-70 µs for 3 KB of
  English (one ``findall``), against 15 µs for bare ``str.split``; `joined_words` gives the same words from a
  per-code-point class table in ~20 µs (what the quality filter's view uses on a page).
- **Korean (Hang)**: the same rule, so a word is an *eojeol* (a space-separated word with its particles attached:
  ``도서관에서``). Eojeols are longer in meaning and shorter in characters than English words: ~0.68 eojeol per
  English word and a mean of ~2.9 syllables on the UDHR (English: 5.0 letters), so Korean gets its own thresholds.
- **Han (Hani/Hans/Hant, Bopomofo), Japanese (Jpan, Hira, Kana), Thai, Lao, Khmer, Myanmar and the other scripts of
  `SPACELESS_SCRIPTS`**: *character units*. Every character that is neither whitespace, a zero-width separator nor
  punctuation is one unit (Latin letters and digits inside such text too, one unit each); n-grams are character
  n-grams. No dictionary segmenter: the pure-Python ones (jieba, PyThaiNLP newmm) cost more per document than the
  whole rule set may (see scripts/bench/filter.py), MeCab-class ones need a dictionary download, and the Gopher rules
  only need counts and repetitions, which character units measure as well once the thresholds are rescaled.
  `ScriptProfile.chars_per_word` is the rescaling factor: units per English word, measured on the parallel UDHR text
  (English 1,753 words): Han 1.5, Japanese 2.2, Thai 5.1, Lao 5.9, Khmer 5.8, Myanmar 8.2 (code points, vowel signs
  included); 4.0 for the other spaceless scripts (not measured). Mean word length is meaningless for them and is
  not checked.
- **Sentence ends** (`TERMINAL_PUNCTUATION`): ``. ! ?`` and their full-width / script forms ``。 ． ！ ？ ｡`` (CJK),
  ``। ॥`` (Indic), ``؟ ۔`` (Arabic, Urdu), ``։`` (Armenian), ``። ፧`` (Ethiopic), ``។ ៕`` (Khmer), ``။`` (Myanmar),
  ``། ༎`` (Tibetan), ``‼ ⁇ ⁈ ⁉ ‽``, small forms ``﹒ ﹗ ﹖``. Closing quotes and brackets after them are skipped
  (``…다."``, ``。」``). An ellipsis (``...``, ``…``) does not end a sentence (as in C4). **Thai and Lao** end sentences
  with a space, not a mark: `ScriptProfile.sentence_punct` is False for them, the line-punctuation rules are off by
  default and a "sentence" is a space-separated chunk.
- **Lines** are the stripped non-empty pieces between ``\\n``; **paragraphs** are separated by blank lines.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from pipeline.text.scripts import SPACELESS_SCRIPTS

__all__ = [
    "BULLET_STARTS",
    "CLOSING_PUNCTUATION",
    "CONNECTORS",
    "ELLIPSIS_ENDS",
    "TERMINAL_PUNCTUATION",
    "TERMINAL_SET",
    "SENTENCE_MARK_RE",
    "ScriptProfile",
    "char_units",
    "char_gram_starts",
    "count_letterless_units",
    "count_letterless_words",
    "ends_sentence",
    "joined_words",
    "latin_char_equivalents",
    "line_unit_count",
    "line_unit_counts",
    "profile_for",
    "sentence_count",
    "split_lines",
    "split_paragraphs",
    "unit_codepoints",
    "units",
    "words",
]


def _char_class(predicate: object) -> str:
    """A regex character-class body for every BMP code point where `predicate(char)` holds (ranges merged).

    BMP only on purpose: `re` turns an all-BMP class into a constant-time table lookup (see dedup/_unicode.py).
    """
    ranges: list[list[int]] = []
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF or not predicate(chr(cp)):  # type: ignore[operator]
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges
    )


#: Characters that keep two word pieces together when they stand between them (``don't``, ``e-mail``, ``3.5``).
CONNECTORS = "'’-.·‐‑׳״"
_ZERO_WIDTH = "\u200b\u2060\ufeff"  # separators that are not \s; ZWNJ/ZWJ (U+200C/D) belong to words
_P = _char_class(lambda c: unicodedata.category(c)[0] == "P")
_LM = _char_class(lambda c: unicodedata.category(c)[0] in "LM")
_SEP = rf"\s{_ZERO_WIDTH}{_P}"
_CONN = re.escape(CONNECTORS)

_WORD_RE = re.compile(rf"[^{_SEP}]+(?:[{_CONN}][^{_SEP}]+)*")
# Runs are written `[x][x]*`, not `[x]+`: `re` skips ahead to a possible first character only when the pattern starts
# with a plain character set, not a repeated one (2-3x faster on a page where the set is rare).
_NON_UNIT_RE = re.compile(rf"[{_SEP}][{_SEP}]*")
# A word made only of non-letters (digits, symbols), with the same boundaries as _WORD_RE: not preceded by a word
# character nor by "word character + connector" (checked by look-behinds *after* the first character, so that the
# pattern starts with a character set and `re` jumps between the rare digits and symbols: 4x faster than
# look-behinds first), and not followed by a word character.
_LETTERLESS_WORD_RE = re.compile(
    rf"[^{_SEP}{_LM}](?<![^{_SEP}].)(?<![^{_SEP}][{_CONN}].)[^{_SEP}{_LM}]*(?:[{_CONN}][^{_SEP}{_LM}]+)*(?![^{_SEP}])"
)
_LETTERLESS_CHAR_RE = re.compile(rf"[^{_SEP}{_LM}]")

#: Sentence-ending marks of every script (module docstring); ``...`` / ``…`` are excluded by `ends_sentence`.
TERMINAL_PUNCTUATION = ".!?。．！？｡।॥؟۔։።፧។៕။།༎‼⁇⁈⁉‽﹒﹗﹖"
#: Closing quotes and brackets that may follow a sentence end.
CLOSING_PUNCTUATION = "\"'”’»›)]」』）】〕〉》〗〙〛］"
#: Line starts that mark a list item (Gopher's bullet rule; datatrove checks only "•" and "-").
BULLET_STARTS = (
    "•", "-", "*", "·", "●", "○", "■", "□", "▪", "▫", "◦", "‣", "–", "—", "►", "▶", "➢", "✓", "✔", "→", "・",
)  # fmt: skip
#: Line ends that mark a truncated line (Gopher's ellipsis rule).
ELLIPSIS_ENDS = ("...", "…")
_TERMINAL_TUPLE = tuple(TERMINAL_PUNCTUATION)
#: The marks are single characters: a set test of the last one, not `endswith` trying 35 suffixes in turn.
TERMINAL_SET = frozenset(TERMINAL_PUNCTUATION)
# A sentence end: a run of ASCII-like marks followed by a space, a closer or the end; or any run of the marks that
# need no following space (CJK full stops, Devanagari danda, Arabic question mark, ...).
# (The pattern starts with one character set, not a repeated one, so `re` scans for it quickly instead of trying every
# position: 2.3x faster on English prose than with `[...]+`.)
_SENTENCE_MARKS = r"[.!?‼⁇⁈⁉‽﹒﹗﹖։。．！？｡।॥؟۔።፧។៕။།༎]"
_SENTENCE_END_RE = re.compile(
    _SENTENCE_MARKS + _SENTENCE_MARKS + "*"
    r"(?:(?<=[。．！？｡।॥؟۔።፧។៕။།༎])|(?=[\s" + re.escape(CLOSING_PUNCTUATION) + r"]|\Z))"
)
#: A sentence end anywhere in a string (the pattern `sentence_count` counts).
SENTENCE_MARK_RE = _SENTENCE_END_RE
_PARAGRAPH_RE = re.compile(r"\n[ \t\r\f\v\u00a0\u3000]*\n\s*")


@dataclass(frozen=True, slots=True)
class ScriptProfile:
    """How the quality rules see text in one script."""

    script: str
    #: ``word`` (space-delimited tokens) or ``char`` (one unit per non-space, non-punctuation character).
    unit: Literal["word", "char"]
    #: Units per English word on parallel text (UDHR): how counts and n-gram sizes are rescaled from English.
    chars_per_word: float
    #: Whether sentences end with a punctuation mark (False for Thai and Lao).
    sentence_punct: bool


# Units per English word, measured on the UDHR (module docstring). Han-family and kana scripts share one value each.
_CHARS_PER_WORD = {
    "Hani": 1.5, "Hans": 1.5, "Hant": 1.5, "Bopo": 1.5,
    "Jpan": 2.2, "Hira": 2.2, "Kana": 2.2,
    "Thai": 5.1, "Laoo": 5.9, "Khmr": 5.8, "Mymr": 8.2,
}  # fmt: skip
_UNMEASURED_SPACELESS = 4.0
#: Eojeols per English word on the UDHR (Korean is space-delimited: the factor rescales word counts only).
KOREAN_WORDS_PER_WORD = 0.68
_NO_SENTENCE_PUNCT = frozenset({"Thai", "Laoo"})
#: Letters per English word, and Hangul syllables per eojeol, on the UDHR (module docstring).
ENGLISH_LETTERS_PER_WORD = 5.0
KOREAN_SYLLABLES_PER_WORD = 2.9


@lru_cache(maxsize=256)
def profile_for(script: str | None) -> ScriptProfile:
    """The profile of an ISO 15924 script code (``Hang``, ``Jpan``, ``Hans``, ``Latn``, ...); None → Latin-like."""
    code = (script or "Latn").strip().title()
    if code in SPACELESS_SCRIPTS or code in _CHARS_PER_WORD:
        return ScriptProfile(
            code, "char", _CHARS_PER_WORD.get(code, _UNMEASURED_SPACELESS), code not in _NO_SENTENCE_PUNCT
        )
    if code == "Hang":
        return ScriptProfile(code, "word", KOREAN_WORDS_PER_WORD, True)
    return ScriptProfile(code, "word", 1.0, True)


@lru_cache(maxsize=256)
def _latin_weight(script: str) -> float:
    """How many English letters one letter of `script` stands for (1 for alphabets, ~3.3 for Han)."""
    if script == "Hang":
        return ENGLISH_LETTERS_PER_WORD / (KOREAN_WORDS_PER_WORD * KOREAN_SYLLABLES_PER_WORD)
    profile = profile_for(script)
    return ENGLISH_LETTERS_PER_WORD / profile.chars_per_word if profile.unit == "char" else 1.0


def latin_char_equivalents(text: str) -> float:
    """The length of `text` in characters of English text that say as much: each letter of a script with character
    units (Han, kana, Thai, ...) or of Hangul weighs English letters per word / its letters per English word
    (`profile_for`), everything else 1. A 17-character Japanese sentence is ~38, a Chinese one ~56.
    """
    from pipeline.text.scripts import (
        script_counts,  # builds a 1 MB table on first import
    )

    return len(text) + sum(n * (_latin_weight(s) - 1.0) for s, n in script_counts(text).items())


#: The smallest `_latin_weight` of any script (Myanmar): below `min_chars / MIN_LATIN_WEIGHT` characters a text may
#: be short in `latin_char_equivalents`; above it, it cannot.
MIN_LATIN_WEIGHT = ENGLISH_LETTERS_PER_WORD / max(_CHARS_PER_WORD.values())


def words(text: str) -> list[str]:
    """Words of space-delimited text (module docstring); pass lower-cased text to compare words case-insensitively."""
    return _WORD_RE.findall(text)


def char_units(text: str) -> str:
    """The text without whitespace, zero-width separators and punctuation: one character per unit."""
    return _NON_UNIT_RE.sub("", text)


def _unit_class_table() -> np.ndarray:
    """Per code point: 0 a word (or unit) character, 1 a separator (whitespace, zero-width, punctuation), 2 a
    connector. Built by running the separator class itself over every BMP code point, so it cannot disagree with the
    regexes; nothing outside the BMP is a separator (`_P` is BMP only, and no whitespace lies there)."""
    table = np.zeros(0x110000, dtype=np.uint8)
    bmp = "".join(map(chr, range(0x10000)))
    table[[m.start() for m in re.finditer(f"[{_SEP}]", bmp)]] = 1
    table[[ord(c) for c in CONNECTORS]] = 2
    return table


_UNIT_CLASS = _unit_class_table()
_WORD, _CONNECTOR = 0, 2
#: Below this many characters the regexes are cheaper than the table (numpy's fixed cost per call).
_SHORT = 256


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _from_codepoints(cps: np.ndarray) -> str:
    return cps.tobytes().decode("utf-32-le", "surrogatepass")


def joined_words(text: str) -> tuple[str, np.ndarray]:
    """``" ".join(words(text))`` and its code points (uint32). On a page, a lookup of every code point's class in a
    table and a few array operations: ~4x cheaper than `words`' regex, whose class of ~700 ranges is tested per
    character."""
    if len(text) < _SHORT:
        joined = " ".join(_WORD_RE.findall(text))
        return joined, _codepoints(joined)
    cps = _codepoints(text)
    cls = _UNIT_CLASS.take(cps)
    word = cls == _WORD
    conn = (cls[1:-1] == _CONNECTOR).nonzero()[0] + 1  # the method: no np.* dispatch
    if len(conn):  # one connector between two word characters joins them: don't, e-mail, 3.5 (not end., a--b)
        word[conn[word[conn - 1] & word[conn + 1]]] = True
    # Word characters, and the first character of each run of others after a word, as a space (the one after the
    # last word is cut below).
    keep = word.copy()
    keep[1:] |= word[:-1]
    out = np.where(word, cps, 32)[keep]
    if len(out) and out[-1] == 32:
        out = out[:-1]
    return _from_codepoints(out), out


def unit_codepoints(text: str) -> np.ndarray:
    """The code points of `char_units(text)` (uint32): a table lookup instead of the regex on a page."""
    if len(text) < _SHORT:
        return _codepoints(char_units(text))
    cps = _codepoints(text)
    return cps[_UNIT_CLASS.take(cps) == _WORD]


def _foreign_table() -> np.ndarray:
    """Per code point: whether it is a letter or digit of the scripts written with spaces between words inside
    character-unit text (Latin, Greek, Cyrillic; ASCII digits)."""
    table = np.zeros(0x110000, dtype=bool)
    table[ord("0") : ord("9") + 1] = True
    table[ord("a") : ord("z") + 1] = True
    table[ord("A") : ord("Z") + 1] = True
    table[0xC0:0x250] = True
    table[0x370:0x500] = True
    table[[0xD7, 0xF7]] = False  # × and ÷
    return table


_FOREIGN_CHAR = _foreign_table()


def char_gram_starts(text: str) -> np.ndarray | None:
    """Where each n-gram unit starts in `char_units(text)` (int64 offsets): one character each, but a run of Latin,
    Greek or Cyrillic letters or digits, unbroken in `text`, is one unit, as a word is in English (in a Chinese page
    ``PassPaper`` is one unit, not nine characters that repeat as 8-grams on their own). None when every unit is one
    character (no two such characters side by side)."""
    cps = _codepoints(text)
    unit = _UNIT_CLASS.take(cps) == _WORD
    foreign = _FOREIGN_CHAR.take(cps) & unit
    glued = foreign[1:] & foreign[:-1]  # a foreign character right after another, nothing between them
    if not glued.any():
        return None
    cont = np.zeros(len(cps), dtype=bool)
    cont[1:] = glued
    return (~cont[unit]).nonzero()[0]


def units(text: str, script: str | None) -> list[str]:
    """The script's units of `text`: words for space-delimited scripts, single characters for spaceless ones."""
    if profile_for(script).unit == "char":
        return list(char_units(text))
    return words(text)


def count_letterless_words(text: str) -> int:
    """How many `words` of `text` contain no letter (numbers, ``$100``, ``|``, ``★★★``, emoji)."""
    return len(_LETTERLESS_WORD_RE.findall(text))


def count_letterless_units(units_text: str) -> int:
    """How many characters of a `char_units` string are neither letters nor marks (digits, symbols)."""
    return len(_LETTERLESS_CHAR_RE.findall(units_text))


def line_unit_count(line: str, profile: ScriptProfile) -> int:
    """Units in one line: whitespace tokens (as C4 counts words) or characters for character-unit scripts."""
    if profile.unit == "char":
        return len(_NON_UNIT_RE.sub("", line))
    return len(line.split())


_SPACE_BUT_NEWLINE = _char_class(lambda c: c.isspace() and c != "\n")
_NON_UNIT_KEEP_NEWLINE = rf"[{_SPACE_BUT_NEWLINE}{_ZERO_WIDTH}{_P}]"
_NON_UNIT_KEEP_NEWLINE_RE = re.compile(_NON_UNIT_KEEP_NEWLINE + _NON_UNIT_KEEP_NEWLINE + "*")  # one class: a fast scan


def line_unit_counts(text: str, profile: ScriptProfile) -> list[int]:
    """`line_unit_count` of every line of `split_lines(text)`, in one regex pass for character-unit scripts."""
    if profile.unit != "char":
        return [len(line.split()) for line in split_lines(text)]
    units_by_line = _NON_UNIT_KEEP_NEWLINE_RE.sub("", text).split("\n")
    return [len(u) for raw, u in zip(text.split("\n"), units_by_line, strict=True) if not raw.isspace() and raw]


def split_lines(text: str) -> list[str]:
    """Stripped non-empty lines."""
    return [s for s in (line.strip() for line in text.split("\n")) if s]


def split_paragraphs(text: str) -> list[str]:
    """Stripped non-empty paragraphs (pieces between blank lines)."""
    if "\n" not in text:
        stripped = text.strip()
        return [stripped] if stripped else []
    return [s for s in (p.strip() for p in _PARAGRAPH_RE.split(text)) if s]


def ends_sentence(line: str) -> bool:
    """Whether a stripped line ends with a sentence mark (closing quotes/brackets skipped); an ellipsis does not."""
    core = line.rstrip(CLOSING_PUNCTUATION)
    return core[-1:] in TERMINAL_SET and not core.endswith(("..", "…"))


def sentence_count(line: str, profile: ScriptProfile) -> int:
    """Sentences in one line: sentence ends, plus one for an unterminated tail (a heading is one sentence).

    For scripts without sentence marks (Thai, Lao) every space-separated chunk is a sentence.
    """
    if not profile.sentence_punct:
        return len(line.split())
    n = len(_SENTENCE_END_RE.findall(line))
    return n if line.rstrip(CLOSING_PUNCTUATION).endswith(_TERMINAL_TUPLE) else n + 1
