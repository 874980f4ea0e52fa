"""Text normalization for EXACT deduplication, and the exact-dedup hash.

Two documents are exact duplicates when their *normalized* texts are equal; `exact_hash` is the xxh3 hash of the
UTF-8 bytes of `normalize_for_exact(text)`. The normalization, in order:

1. **Unicode NFKC.** Folds compatibility variants that extractors and sites produce for the same text: full-width
   Latin letters and digits in CJK pages (`Ａ１` -> `A1`), half-width katakana, ligatures (`ﬁ`), compatibility Hangul
   jamo, superscripts, NBSP and the other exotic spaces.
2. **Case folding** (`str.casefold`, full Unicode folding: `Straße` == `STRASSE`, Greek final sigma). Case-only
   variants (titles in caps, a shouted copy) are the same document for a pretraining corpus.
3. **Every decimal digit, of any script, becomes `0`** (CCNet does the same for its line hashes). Pages generated from
   one template that differ only in numbers -- dates, counters, prices, scores, "page 3 of 10" -- are duplicates for
   training purposes; the number of digits is kept, so a table of numbers still differs from a longer one.
4. **Punctuation, symbols (emoji included), control/format characters and ALL whitespace are removed**; what remains
   is the sequence of word characters (letters, combining marks, digits; see `_unicode.WORD_RE`). Removing punctuation
   merges copies that differ by quote style (`"` vs `“`), dashes, bullets, trailing `...` or an emoji. Removing all
   whitespace (instead of collapsing it) also merges copies whose extraction put line breaks or spaces in different
   places -- notably spaces inserted between CJK characters at element boundaries, and Korean spacing (띄어쓰기)
   variants, which are frequent on the Korean web. Two genuinely different documents whose word characters agree
   everywhere except where spaces fall do not occur in practice.

Not done, on purpose: accent / diacritic stripping (CCNet strips combining marks after NFD; that destroys Indic,
Thai and Vietnamese text, where marks are letters, and decomposes Hangul syllables), transliteration, and any
language-specific stemming. Near-duplicates beyond these variants are MinHash's job (`shingles`, `minhash`, `lsh`).

A text with no word character at all normalizes to `""`; `exact_hash("")` is a fixed value, so all such documents
form one exact-duplicate group -- the caller usually drops them before (they are empty for a corpus).

Hash width: 64 bits by default. The probability of any collision among n distinct documents is ~ n^2 / 2^65:
~3e-8 for 1e6 documents, ~3% for 1e9. Use `bits=128` for a corpus of billions (two uint64 columns), or when a false
merge of two different documents anywhere is unacceptable.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import numpy as np
import xxhash

from ._unicode import DIGIT_RE, WORD_RE

__all__ = ["normalize_for_exact", "exact_hash", "exact_hashes", "hash_normalized"]


def normalize_for_exact(text: str) -> str:
    """The canonical form compared by exact dedup: NFKC, casefold, digits -> 0, only word characters kept."""
    if not text:
        return ""
    # NFKC again after casefold: folding can leave a non-NFKC string (the Unicode "NFKC_Casefold" recipe)
    s = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    s = DIGIT_RE.sub("0", s)
    # `_` is \\w for `re` but punctuation (Pc) for us
    return "".join(WORD_RE.findall(s.replace("_", " ")))


def exact_hash(text: str, bits: int = 64, seed: int = 0) -> int:
    """xxh3 hash of the UTF-8 bytes of `normalize_for_exact(text)`: an unsigned int of 64 (default) or 128 bits."""
    return hash_normalized(normalize_for_exact(text), bits, seed)


def hash_normalized(normalized: str, bits: int = 64, seed: int = 0) -> int:
    """`exact_hash` of a text whose `normalize_for_exact` form is `normalized`."""
    data = normalized.encode("utf-8", "surrogatepass")
    if bits == 64:
        return xxhash.xxh3_64_intdigest(data, seed)
    if bits == 128:
        return xxhash.xxh3_128_intdigest(data, seed)
    raise ValueError(f"bits must be 64 or 128, got {bits}")


def exact_hashes(texts: Iterable[str], bits: int = 64, seed: int = 0) -> np.ndarray:
    """`exact_hash` of every text, as uint64 `[n]` (bits=64) or uint64 `[n, 2]` (bits=128: high word, low word)."""
    if bits == 64:
        return np.fromiter((exact_hash(t, 64, seed) for t in texts), dtype=np.uint64)
    if bits != 128:
        raise ValueError(f"bits must be 64 or 128, got {bits}")
    values = [exact_hash(t, 128, seed) for t in texts]
    out = np.empty((len(values), 2), dtype=np.uint64)
    mask = (1 << 64) - 1
    for i, v in enumerate(values):
        out[i, 0] = v >> 64
        out[i, 1] = v & mask
    return out
