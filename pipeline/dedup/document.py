"""What dedup computes per document -- its exact key and its shingles -- from one normalization of its text.

`normalize.normalize_for_exact` (NFKC, casefold, NFKC, digits -> 0, word characters only) and
`shingles.normalize_for_shingles` (lower case, word runs, NFKC on the words) both tokenize the whole text, and the
first one runs NFKC over all of it: on CJK pages, whose full-width punctuation is never NFKC-normal, that NFKC is most
of the cost. `normalize_both` tokenizes once: the shingle text comes out as before, and the exact form is derived from
it (casefold, NFKC of the words, digits -> 0, spaces removed) whenever every character of the text is safe for that
(`_unicode.one_pass_safe`: 96-98% of real web pages); other texts are normalized twice, as before. Both results are
identical to the two functions' in every case (tests/dedup/test_document.py).
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np

from ._unicode import DIGIT_RE, has_astral, one_pass_safe
from .normalize import hash_normalized, normalize_for_exact
from .shingles import (
    DEFAULT_CONFIG,
    ShingleConfig,
    normalize_for_shingles,
    shingle_kind,
    shingles_of_normalized,
    text_script,
)

__all__ = ["normalize_both", "exact_hash_and_shingles"]

# ASCII digits 1-9 -> "0" by `str.translate`: for an ASCII string it runs a cached byte table (~10x the regex).
_ASCII_ZERO = str.maketrans("123456789", "000000000")


@functools.cache
def _bmp_zero_table() -> np.ndarray:
    """UTF-16 code unit -> itself, or "0" for a decimal digit (`DIGIT_RE`) of the BMP."""
    table = np.arange(0x10000, dtype=np.uint16)
    digits = [cp for cp in range(0x10000) if DIGIT_RE.match(chr(cp))]
    table[digits] = ord("0")
    return table


def _zero_digits(s: str) -> str:
    """`DIGIT_RE.sub("0", s)`. A table lookup over the UTF-16 code units when the text has no astral character
    (~3x faster than the regex on real pages: numbers are frequent and `re.sub` pays per match); `s` holds no
    surrogate (`one_pass_safe` texts only)."""
    if has_astral(s):
        return DIGIT_RE.sub("0", s)
    units = np.frombuffer(s.encode("utf-16-le"), dtype=np.uint16)
    return _bmp_zero_table()[units].tobytes().decode("utf-16-le")


def _exact_from_shingle_text(joined: str) -> str:
    """`normalize_for_exact` of a safe text, from its `normalize_for_shingles` form (lower-cased, NFKC'd words)."""
    if joined.isascii():
        return joined.lower().translate(_ASCII_ZERO).replace(" ", "").replace("_", "")
    folded = joined.casefold()
    if folded != joined:  # casefold can leave a non-NFKC string (ß -> ss is fine, U+1E9E -> ss, ...)
        folded = unicodedata.normalize("NFKC", folded)
    return _zero_digits(folded).replace(" ", "").replace("_", "")


def normalize_both(text: str, config: ShingleConfig = DEFAULT_CONFIG) -> tuple[str, str]:
    """(`normalize_for_exact(text)`, `normalize_for_shingles(text, config)`), tokenizing the text once when it can."""
    joined = normalize_for_shingles(text, config)
    if config.lowercase and config.nfkc and one_pass_safe(text):
        return _exact_from_shingle_text(joined), joined
    return normalize_for_exact(text), joined


def exact_hash_and_shingles(
    text: str, config: ShingleConfig = DEFAULT_CONFIG, script: str | None = None, bits: int = 64, seed: int = 0
) -> tuple[int, list[bytes]]:
    """(`normalize.exact_hash(text, bits, seed)`, `shingles.shingles(text, config, script)`) from one normalization:
    the dedup stage's per-document work before MinHash."""
    exact, joined = normalize_both(text, config)
    kind = shingle_kind(text_script(text) if script is None else script, config)
    return hash_normalized(exact, bits, seed), shingles_of_normalized(joined, kind, config)
