"""Shingles for near-duplicate detection, chosen by the script the document is written in.

The script is the text's own dominant script (`text_script`: `pipeline.text.scripts.dominant_script`, most letters,
with Han/kana/Hangul pooled into Chinese, Japanese or Korean), never its language label: two copies of one text get
the same shingles whatever language ID said about each (a Simplified/Traditional mix labelled `zho_Hans` once and
`zho_Hant` the next, a language the model lacks labelled at random). The script decides the shingle kind:

* **word n-grams** (default n = 5) for scripts that separate words with spaces: Latin, Cyrillic, Greek, Arabic,
  Hebrew, Devanagari and the other Indic scripts, Georgian, Armenian, Ethiopic ... and Tibetan (its tsheg `་` is
  punctuation, so "words" are syllables there);
* **character n-grams** (default n = 5) for scripts written without spaces between words (`CHAR_SCRIPTS`): Han
  (`Hani`, `Hans`, `Hant`), Japanese (`Jpan`, `Hira`, `Kana`), Thai, Lao, Khmer, Myanmar, Javanese, Balinese, Tai
  Tham, Tai Le, New Tai Lue, Yi;
* **Korean (`Hang`, `Kore`): character n-grams** by default (`korean="char"`), decided by measurement -- see
  `KOREAN_DECISION` below and `scripts/bench/dedup_quality.py --korean-study`.

A text without a letter (numbers, symbols) gets word n-grams.

Preprocessing (both kinds): lower case, words are maximal runs of word characters (`_unicode.WORD_RE`: letters,
digits, combining marks, ZWNJ/ZWJ; everything else separates words), then Unicode NFKC on the words. Character
shingles are taken over the word characters with all separators removed, so spacing differences do not matter.
A document with fewer tokens than n gives one shingle (all its tokens); a document with no word character gives no
shingle (its MinHash is the empty signature; `lsh.band_keys` skips it).

Shingles are UTF-8 `bytes` (word n-grams joined by one space), ready for `minhash.MinHasher` and for
`datasketch.MinHash.update_batch` -- feeding the same list to both gives identical signatures.

Speed (one core, ~3 KB UDHR chunks in 442 space-delimited languages, see scripts/bench/minhash.py): word shingles
~130 us per document (~7,500 docs/s), above the ~5,560 docs/s "regex words + 5-gram join" floor of the perf notes:
the text is encoded once and every n-gram is one slice of the encoded bytes (no per-shingle join or encode).
The regex tokenizer is ~60% of that time; it is what makes punctuation and Unicode handling right.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_serializer

from pipeline.text.scripts import dominant_script

from ._unicode import WORD_RE

__all__ = [
    "CHAR_SCRIPTS",
    "KOREAN_SCRIPTS",
    "KOREAN_DECISION",
    "ShingleConfig",
    "DEFAULT_CONFIG",
    "text_script",
    "shingle_kind",
    "normalize_for_shingles",
    "tokenize",
    "word_shingles",
    "char_shingles",
    "shingles",
    "shingles_of_normalized",
    "shingle_many",
]

#: ISO 15924 codes of scripts written without spaces between words: character n-grams.
CHAR_SCRIPTS = frozenset(
    {"Hani", "Hans", "Hant", "Jpan", "Hira", "Kana", "Hrkt", "Thai", "Laoo", "Khmr", "Mymr", "Java", "Bali", "Lana",
     "Tale", "Talu", "Yiii"}
)

#: Korean scripts (`Kore` = Hangul + Hanja); their shingle kind is `ShingleConfig.korean`.
KOREAN_SCRIPTS = frozenset({"Hang", "Kore", "Jamo"})

KOREAN_DECISION = """\
Korean uses CHARACTER 5-grams (over Hangul syllables, spaces removed), not word 5-grams over eojeol.

Measured (`scripts/bench/dedup_quality.py --korean-study`, real Korean UDHR + Tatoeba text, 33 bases, 363 docs):
copies get a known fraction e of their eojeol edited, half of them are also re-spaced (15% of the spaces dropped,
5% of the eojeol split -- spacing, 띄어쓰기, varies between copies of one Korean text on the web). Truth independent
of the shingling: duplicate if e <= 3%, not if e >= 10% or another base. Full pipeline at threshold 0.8:

    shingles        per doc   precision  recall  recall (same spacing)  recall (re-spaced)
    char 5-grams        576      1.000    1.000          1.000                 1.000
    word 5-grams        194      1.000    0.250          0.727                 0.000

Re-spacing alone leaves the character-5-gram Jaccard at 1.000 but drops the eojeol-5-gram Jaccard to 0.31 (min
0.18): a moved space changes no character n-gram, and destroys up to 2n eojeol n-grams. Eojeol are long (a word plus
its particles), so eojeol 5-grams are also too coarse for edits: mean true J at e = 1-3% is 0.91 with characters,
0.83 with eojeol. The cost: ~3x more shingles per document (hashing time grows with it).
"""


class ShingleConfig(BaseModel):
    """How documents are cut into shingles: the `dedup.shingles` section of the config. Frozen (hashable): pass it to
    workers / cache on it."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    word_n: int = Field(default=5, ge=1, description="Word n-gram size for space-delimited scripts.")
    char_n: int = Field(default=5, ge=1, description="Character n-gram size for zh/ja/th and other no-space scripts.")
    korean: Literal["char", "word"] = Field(
        default="char", description="Korean (`Hang`, `Kore`): character n-grams (measured: see above) or eojeol n-grams."
    )
    char_scripts: frozenset[str] = Field(
        default=CHAR_SCRIPTS, description="Scripts cut into character n-grams (ISO 15924 codes)."
    )
    nfkc: bool = Field(default=True, description="NFKC-normalize before cutting.")
    lowercase: bool = Field(default=True, description="Case-fold before cutting.")

    @field_serializer("char_scripts")
    def _sorted(self, v: frozenset[str]) -> list[str]:
        """In a fixed order: the config hash (what decides reruns) must not depend on set iteration order."""
        return sorted(v)


DEFAULT_CONFIG = ShingleConfig()


def text_script(text: str) -> str:
    """The ISO 15924 script most of the text's letters are in (`Hans`, `Jpan`, `Hang`, `Latn`, ...); "" without one."""
    return dominant_script(text) or ""


def shingle_kind(script: str, config: ShingleConfig = DEFAULT_CONFIG) -> str:
    """"word" or "char" for a script code (`text_script`); "" (no letter) → "word"."""
    if script in KOREAN_SCRIPTS:
        return config.korean
    return "char" if script in config.char_scripts else "word"


def normalize_for_shingles(text: str, config: ShingleConfig = DEFAULT_CONFIG) -> str:
    """The document's words, normalized, joined by single spaces.

    Lower case, words = `WORD_RE` runs, then NFKC on the joined words. Normalizing after tokenizing gives the same
    shingles as before for every character that matters (full-width letters and digits, ligatures, half-width kana
    are word characters and are folded either way; punctuation is dropped either way) but is much cheaper: CJK text
    is almost never NFKC-normal because of its full-width punctuation, and NFKC costs ~85 us on 1,000 Han characters
    against ~3 us for the quick check that passes once the punctuation is gone.
    """
    if config.lowercase:
        text = text.lower()
    s = " ".join(WORD_RE.findall(text))
    if config.nfkc and not s.isascii():
        t = unicodedata.normalize("NFKC", s)
        if t != s:  # NFKC can create spaces (U+FC5E -> " ٌّ", U+FDFA -> 4 words): keep exactly one between words
            s = " ".join(t.split())
    return s


def tokenize(text: str, config: ShingleConfig = DEFAULT_CONFIG) -> list[str]:
    """Words of the text, normalized (see `normalize_for_shingles`)."""
    s = normalize_for_shingles(text, config)
    return s.split() if s else []


def _word_ngrams(joined: str, n: int) -> list[bytes]:
    """n-grams of the words of `joined` (words separated by exactly one space), as slices of its UTF-8 encoding."""
    if not joined:
        return []
    b = joined.encode("utf-8", "surrogatepass")
    spaces = np.flatnonzero(np.frombuffer(b, dtype=np.uint8) == 32)  # 0x20 is never part of a multi-byte sequence
    n_words = len(spaces) + 1
    if n_words <= n:
        return [b]
    if n == 1:
        return b.split(b" ")
    # n-gram i spans from the start of word i to the end of word i+n-1: one slice of the encoded text per shingle
    # (~45% cheaper than splitting into words and joining every n-gram)
    starts = [0]
    starts += (spaces + 1).tolist()
    ends = spaces.tolist()
    ends.append(len(b))
    return [b[i:j] for i, j in zip(starts[: n_words - n + 1], ends[n - 1 :])]


def _char_ngrams(chars: str, n: int) -> list[bytes]:
    if not chars:
        return []
    b = chars.encode("utf-8", "surrogatepass")
    if len(chars) <= n:
        return [b]
    if len(b) == len(chars):  # ASCII: one byte per character
        return [b[i : i + n] for i in range(len(b) - n + 1)]
    # byte offset of every character (UTF-8 lead bytes), then slice the encoded text: ~40% faster than slicing the
    # str and encoding every n-gram
    starts = np.flatnonzero((np.frombuffer(b, dtype=np.uint8) & 0xC0) != 0x80).tolist()
    starts.append(len(b))
    return [b[i:j] for i, j in zip(starts[:-n], starts[n:])]


def _strip_spaces(joined: str) -> str:
    # NFKC may have produced spaces (e.g. U+FDFA), so split() rather than replace(" ", "")
    return "".join(joined.split()) if joined else ""


def word_shingles(text: str, n: int = 5, config: ShingleConfig = DEFAULT_CONFIG) -> list[bytes]:
    """Word n-grams (UTF-8, words joined by one space) of a text, in order, duplicates kept."""
    return _word_ngrams(normalize_for_shingles(text, config), n)


def char_shingles(text: str, n: int = 5, config: ShingleConfig = DEFAULT_CONFIG) -> list[bytes]:
    """Character n-grams (UTF-8) over the text's word characters, separators removed, in order, duplicates kept."""
    return _char_ngrams(_strip_spaces(normalize_for_shingles(text, config)), n)


def shingles(text: str, config: ShingleConfig = DEFAULT_CONFIG, script: str | None = None) -> list[bytes]:
    """The shingles of one document, by its script (`text_script`, or `script` when the caller has it already)."""
    kind = shingle_kind(text_script(text) if script is None else script, config)
    return shingles_of_normalized(normalize_for_shingles(text, config), kind, config)


def shingles_of_normalized(joined: str, kind: str, config: ShingleConfig = DEFAULT_CONFIG) -> list[bytes]:
    """The shingles of a text already normalized by `normalize_for_shingles`, of kind "word" or "char"."""
    if kind == "char":
        return _char_ngrams(_strip_spaces(joined), config.char_n)
    return _word_ngrams(joined, config.word_n)


def shingle_many(texts: list[str], config: ShingleConfig = DEFAULT_CONFIG) -> list[list[bytes]]:
    """`shingles` of every text."""
    return [shingles(t, config) for t in texts]
