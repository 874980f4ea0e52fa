"""Unicode character classes shared by the exact-dedup normalizer and the shingler.

One regular expression, `WORD_RE`, decides what a "word character" is for the whole dedup package:

* `\\w` (letters, digits, `_`, as Python's `re` defines it: `str.isalnum()` plus underscore),
* every combining mark of the Basic Multilingual Plane (categories Mn, Mc, Me). Python's `\\w` does not match
  marks, so a plain `\\w+` cuts Hindi `मानव` into `म`, `नव` and Thai/Khmer/Myanmar words at every vowel sign;
* ZERO WIDTH NON-JOINER / JOINER (U+200C/U+200D), which are part of Persian and Indic orthography.

Everything else (spaces, punctuation, symbols and emoji, control and format characters) separates words.

Why only the BMP marks: `re` compiles a class whose members all lie in the BMP into a constant-time lookup table, but
falls back to a linear scan over ~400 ranges as soon as one member is astral, which made tokenizing 4-10x slower
(measured: 54 us -> 213 us for 3 KB of English). Astral combining marks (Brahmi, Chakma, Adlam ... ) therefore act as
separators: tokenization stays deterministic, so near-duplicate detection still works for those scripts, only with
shorter tokens.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata


def _ranges(codepoints: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in codepoints:
        if out and cp == out[-1][1] + 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def _char_class(codepoints: list[int]) -> str:
    parts = []
    for a, b in _ranges(sorted(codepoints)):
        parts.append(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}")
    return "".join(parts)


_BMP_MARKS = [cp for cp in range(0x10000) if unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me")]

#: One word (a maximal run of word characters, see the module doc).
WORD_RE = re.compile("[\\w" + _char_class(_BMP_MARKS) + "\u200c\u200d]+")

#: Unicode decimal digits (category Nd, any script); the exact-dedup key maps each to "0".
DIGIT_RE = re.compile(r"\d")

UNICODE_VERSION = unicodedata.unidata_version
PYTHON = sys.version_info[:2]


# ---- when one tokenization can serve both normalizations ------------------------------------------------------------
#
# `normalize.normalize_for_exact` is NFKC → casefold → NFKC over the whole text, then keeps the word characters;
# `shingles.normalize_for_shingles` lower-cases, keeps the word runs, then NFKC over the words. The exact key can be
# taken from the shingle text (casefold → NFKC → digits → drop spaces) when dropping the separators before NFKC cannot
# change what NFKC and case folding do to the words. That holds when every character of the text is "safe":
#
# * a separator is a starter (ccc 0) that takes part in no canonical composition, and so are the characters it
#   normalizes to, none of which is a word character: NFKC treats it like the space that replaces it (`™` → `tm`,
#   `℃` → `°c`, `½` → `1⁄2` and `¨` → ` ̈` are unsafe). A separator that only composes with a following mark (`=` +
#   U+0338 → `≠`) is safe, and that mark is unsafe instead;
# * a word character lower-cases to word characters, `casefold(lower(c)) == casefold(c)`, lower-casing commutes with its
#   compatibility decomposition and leaves combining marks alone, case folding respects canonical equivalence on it
#   (not U+0345 and the Greek letters holding it), and its NFKC-casefold image holds word characters only.
#
# Unsafe characters are rare in real text (2-4% of web pages hold one: `℃`, `㎡`, `™`, `½`, circled letters):
# such a text is normalized twice, as before. tests/dedup/test_document.py checks the equivalence on every code point
# and on texts.


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def _nfkd(s: str) -> str:
    return unicodedata.normalize("NFKD", s)


def _is_word(c: str) -> bool:
    return WORD_RE.fullmatch(c) is not None


@functools.cache
def _compositions() -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """(characters that are the second of a canonical composition, first character → its second characters)."""
    second: set[str] = set()
    partners: dict[str, set[str]] = {}
    for cp in range(sys.maxunicode + 1):
        d = unicodedata.decomposition(chr(cp))
        if d and d[0] != "<":
            parts = d.split()
            if len(parts) == 2:
                a, b = chr(int(parts[0], 16)), chr(int(parts[1], 16))
                second.add(b)
                partners.setdefault(a, set()).add(b)
    # Hangul syllables compose algorithmically: leading jamo + vowel, LV syllable + trailing jamo
    vowels = {chr(cp) for cp in range(0x1161, 0x1176)}
    trailing = {chr(cp) for cp in range(0x11A8, 0x11C3)}
    second |= vowels | trailing
    for cp in range(0x1100, 0x1113):
        partners.setdefault(chr(cp), set()).update(vowels)
    return frozenset(second), {a: frozenset(b) for a, b in partners.items()}


def _word_char_safe(c: str) -> bool:
    lower, fold, nfkd = c.lower(), c.casefold(), _nfkd(c)
    if not all(map(_is_word, lower)) or lower.casefold() != fold:
        return False
    if _nfkd(lower) != "".join(x.lower() for x in nfkd):
        return False
    marks = [x for x in nfkd if unicodedata.combining(x)]
    if any(x.lower() != x or x.casefold() != x for x in marks):
        return False
    if _nfkd(fold) != _nfkd(nfkd.casefold()):
        return False
    return all(_is_word(x) for x in _nfkc(_nfkc(c).casefold()))


def _separator_chars(c: str) -> str:
    return c + _nfkd(c) + _nfkc(c) + _nfkc(_nfkc(c).casefold())


def _separator_safe(c: str) -> bool:
    """A separator (not a word character) NFKC treats like a space; its composition partners are checked apart."""
    if any(map(_is_word, c.lower())):
        return False
    second, _ = _compositions()
    for x in _separator_chars(c):
        if unicodedata.combining(x) or x in second or 0xAC00 <= ord(x) <= 0xD7A3:
            return False
    return not any(x != "_" and _is_word(x) for x in _nfkc(_nfkc(c).casefold()))


def _partner_marks(c: str) -> frozenset[str]:
    _, partners = _compositions()
    out: set[str] = set()
    for x in _separator_chars(c):
        out |= partners.get(x, frozenset())
    return frozenset(out)


@functools.lru_cache(maxsize=4096)
def char_safe(c: str) -> bool:
    """Whether an astral character keeps the one-tokenization exact key equal to `normalize_for_exact` (see above),
    checked one by one with this cache; BMP characters go through `unsafe_bmp_re`. Stricter than the BMP table: a
    word character that is the second of any composition, or a separator with a composition partner, is unsafe."""
    second, _ = _compositions()
    if _is_word(c):
        return c not in second and _word_char_safe(c)
    return _separator_safe(c) and not _partner_marks(c)


@functools.cache
def unsafe_bmp_re() -> re.Pattern[str]:
    """One character class of every unsafe BMP character (built once, ~1 s: a BMP-only class is a constant-time table
    lookup in `re`, see the module doc), searched once per text."""
    second, partners = _compositions()
    unsafe: set[str] = set()
    for cp in range(0x10000):
        c = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            unsafe.add(c)
        elif not unicodedata.decomposition(c) and c.lower() == c and c.casefold() == c:
            # no decomposition, no case mapping (most characters): the checks below reduce to these
            if _is_word(c):
                continue
            if unicodedata.combining(c) or c in second or 0xAC00 <= cp <= 0xD7A3:
                unsafe.add(c)
            else:
                unsafe |= partners.get(c, frozenset())
        elif _is_word(c):
            if not _word_char_safe(c):
                unsafe.add(c)
        elif _separator_safe(c):
            unsafe |= _partner_marks(c)
        else:
            unsafe.add(c)
    return re.compile("[" + _char_class([ord(c) for c in unsafe if ord(c) < 0x10000]) + "]")


# The size of a str whose characters take 4 bytes (it holds an astral character), per length: CPython's compact
# layout. O(1) instead of a ~25 µs scan of a 3 KB text for the 0.5% of texts that hold one (emoji, mostly).
_WIDE_BASE = sys.getsizeof("\U00010000") - 8
_CPYTHON = sys.implementation.name == "cpython"
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")


def has_astral(text: str) -> bool:
    """Whether the text holds a character beyond the BMP."""
    if text.isascii():
        return False
    if _CPYTHON:
        return sys.getsizeof(text) == _WIDE_BASE + 4 * (len(text) + 1)
    return _ASTRAL_RE.search(text) is not None


def one_pass_safe(text: str) -> bool:
    """Whether the exact key of `text` can be taken from its shingle normalization (every character safe)."""
    if text.isascii():
        return True  # every ASCII character is safe (`<`, `=`, `>` compose only with U+0338, which is unsafe)
    if unsafe_bmp_re().search(text) is not None:
        return False
    return not has_astral(text) or all(map(char_safe, set(_ASTRAL_RE.findall(text))))
