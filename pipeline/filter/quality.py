"""Heuristic quality filter: Gopher quality, Gopher repetition, C4 and FineWeb rules, per script, fast, Ray-free.

`QualityFilter(settings).check(text, lang, script)` returns None to keep a document or the reason that removes it,
``<family>:<rule>``; `QualityFilter.apply` also returns the text after C4's line removal and the removed-line counts;
`QualityFilter.explain` returns every measurement, the effective thresholds and every rule that fails (for
calibration and debugging). Settings, per-script rescaling and overrides: `pipeline.filter.settings`; units per
script (words, eojeols, characters) and sentence ends: `pipeline.text.segment`; stop words: `pipeline.text.stopwords`.

Families run in datatrove's FineWeb order — gopher_repetition, gopher_quality, c4, fineweb — and the first failing
rule is the reason. Reasons (all fixed strings):

- ``quality:empty`` — no non-blank line.
- ``gopher_repetition:`` ``dup_para_frac``, ``dup_para_char_frac``, ``dup_line_frac``, ``dup_line_char_frac``,
  ``top_<n>_gram``, ``dup_<n>_gram`` (n in the script's units: characters for Han, Japanese, Thai, ...).
- ``gopher_quality:`` ``too_few_words``, ``too_many_words``, ``mean_word_length_low``, ``mean_word_length_high``,
  ``hash_ratio``, ``ellipsis_ratio``, ``bullet_lines``, ``ellipsis_lines``, ``alpha_words_frac``, ``stop_words``.
- ``c4:`` ``lorem_ipsum``, ``curly_bracket``, ``too_few_sentences``, ``all_lines_removed``; removed lines are counted
  by ``too_long_word``, ``no_terminal_punct``, ``too_few_words``, ``javascript``, ``policy``.
- ``fineweb:`` ``line_punct_ratio``, ``short_line_ratio``, ``dup_line_char_ratio``, ``list_ratio``.

Definitions (where they differ from datatrove 0.10, and why):

- Words are `segment.words` of the lower-cased text (punctuation split off, symbols kept), not an NLTK/spaCy
  tokenization: that tokenizer is what makes datatrove's Gopher filter run at ~170 docs/s here.
- ``alpha_words_frac`` = words with a letter / all words, where pure-symbol tokens (``|``, ``★★★``, ``$100``) *are*
  words; datatrove drops punctuation tokens from the count, so symbol soup slipped through. Character-unit scripts:
  units that are letters or marks / all units (digits and symbols are units).
- Stop words: *distinct* list entries present (datatrove 0.10); the rule is skipped for languages without a list.
- Duplicated n-grams: characters of the words covered by any repeated occurrence (not the first) of an n-gram,
  overlaps counted once, over ``len(text)`` — the Gopher paper's definition; datatrove's greedy scan skips ahead
  after each hit and can count less. Top n-gram: the most frequent n-gram (the one covering most characters among
  ties) × its occurrences, over ``len(text)``, as in datatrove, but only when it occurs at least twice (datatrove
  counts a single occurrence, which fails short documents for "repetition").
- C4 removes lines (``remove_lines: true``, datatrove's behaviour) and returns the new text; blank lines between
  kept paragraphs are preserved. ``remove_lines: false`` only counts them: the decision is the same, the text is
  unchanged. C4's line rules default as in FineWeb's pipeline (no terminal-punctuation line rule; FineWeb's
  ``line_punct_ratio`` judges that per document). Lorem ipsum and ``{`` are looked for in the lines C4 keeps.
- FineWeb runs on the text C4 leaves (as in FineWeb's pipeline); its "newlines" are breaks between non-blank lines
  (C4's output has one ``\\n`` between lines), its character denominator the characters of those lines.

Speed: a `DocView` computes shared features once (lower-cased text, lines, words or character units, hashes) and
rules read them. n-gram rules hash units once (Python ``hash`` per word, code points for characters) and build every
n-gram key with one numpy expression (a polynomial rolling hash modulo 2^64), so they cost a few numpy calls, not a
Python loop; duplicated n-gram coverage only decreases with n, so in `check` one pass at the smallest n settles all
sizes unless it is above the smallest threshold, and top n-gram counts bound the larger sizes. Measured with
scripts/bench/filter.py on one core of the 2-core dev box while it was shared (load average 2-3, so read ±30 %),
~3 KB documents, `check`, docs/s: Latin 2,900, Cyrillic 4,200, Hangul 4,000, Han 4,600, Kana 3,800, Thai 4,900,
Arabic 2,150, all 3,400 — datatrove 0.10.1's GopherQualityFilter alone on the same documents: 165 (20x slower);
bare ``str.split``: 87,000; our tokenization alone: 16,600. What costs: the word regex (~45 µs per 1.7 KB of
Cyrillic or Arabic, ~75 µs per 3.2 KB of English) and ~15-25 numpy calls for the n-gram rules (two sorts).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from pipeline.filter.settings import (
    C4Settings,
    FineWebSettings,
    GopherQualitySettings,
    GopherRepetitionSettings,
    QualityRules,
    QualitySettings,
)
from pipeline.text import segment
from pipeline.text.scripts import dominant_script, script_counts
from pipeline.text.segment import ScriptProfile, profile_for
from pipeline.text.stopwords import ENDINGS, count_stop_words, stop_words_for

__all__ = ["DocView", "QualityFilter", "QualityResult", "QualityTally", "REASONS"]

#: Every reason `QualityFilter.check` can return, except the per-size n-gram ones (``top_<n>_gram``, ``dup_<n>_gram``).
REASONS: tuple[str, ...] = (
    "quality:empty",
    "gopher_repetition:dup_para_frac", "gopher_repetition:dup_para_char_frac",
    "gopher_repetition:dup_line_frac", "gopher_repetition:dup_line_char_frac",
    "gopher_quality:too_few_words", "gopher_quality:too_many_words", "gopher_quality:mean_word_length_low",
    "gopher_quality:mean_word_length_high", "gopher_quality:hash_ratio", "gopher_quality:ellipsis_ratio",
    "gopher_quality:bullet_lines", "gopher_quality:ellipsis_lines", "gopher_quality:alpha_words_frac",
    "gopher_quality:stop_words",
    "c4:lorem_ipsum", "c4:curly_bracket", "c4:too_few_sentences", "c4:all_lines_removed",
    "fineweb:line_punct_ratio", "fineweb:short_line_ratio", "fineweb:dup_line_char_ratio", "fineweb:list_ratio",
)  # fmt: skip

_CITATION_RE = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
_MANY_NEWLINES_RE = re.compile(r"\n{3,}")

# Rolling n-gram hash modulo 2^64 (numpy uint64 arithmetic wraps): key(i, n) = sum_j h[i+j] * M^j.
_M = 0x9E3779B97F4A7C15
_M_INV = pow(_M, -1, 1 << 64)
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def _power_table(base: int, size: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        out = np.full(size, base, dtype=np.uint64)
        out[0] = 1
        return np.cumprod(out, dtype=np.uint64)


class _Powers:
    """M^i and M^-i modulo 2^64, grown on demand."""

    size = 0
    pow: np.ndarray = np.empty(0, dtype=np.uint64)
    inv: np.ndarray = np.empty(0, dtype=np.uint64)

    #: Tables up to this many entries are kept for the next document (8 MB each); longer documents get their own.
    keep = 1 << 20

    @classmethod
    def get(cls, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n > cls.size:
            size = max(n, min(2 * cls.size, cls.keep), 8192)
            pw, inv = _power_table(_M, size), _power_table(_M_INV, size)
            if size > cls.keep:
                return pw[:n], inv[:n]
            cls.pow, cls.inv, cls.size = pw, inv, size
        return cls.pow[:n], cls.inv[:n]


def _find_duplicates(items: list[str]) -> tuple[int, int]:
    """(repeated items, their characters): every occurrence after the first of an item (datatrove's definition)."""
    if len(set(items)) == len(items):
        return 0, 0
    seen: set[str] = set()
    n = chars = 0
    for it in items:
        if it in seen:
            n += 1
            chars += len(it)
        else:
            seen.add(it)
    return n, chars


@dataclass(frozen=True, slots=True)
class QualityResult:
    """Outcome of `QualityFilter.apply`."""

    #: None = keep; else ``<family>:<rule>``.
    reason: str | None
    #: The text to keep: C4's line removal applied (the input object itself when nothing changed).
    text: str
    #: Lines C4 removed, by line rule (also filled when ``remove_lines`` is false: counted, not removed).
    removed_lines: dict[str, int] = field(default_factory=dict)

    @property
    def kept(self) -> bool:
        return self.reason is None


class DocView:
    """Per-document features shared by the rules, each computed at most once and only when a rule asks."""

    def __init__(self, text: str, profile: ScriptProfile) -> None:
        self.text = text
        self.profile = profile
        self.lower = text.lower()
        self.char_units = profile.unit == "char"

    @cached_property
    def lines(self) -> list[str]:
        return segment.split_lines(self.text)

    @cached_property
    def paragraphs(self) -> list[str]:
        return segment.split_paragraphs(self.text)

    @cached_property
    def words(self) -> list[str]:
        """Lower-cased words (word scripts) or the characters of `unit_text` (character scripts)."""
        return list(self.unit_text) if self.char_units else segment.words(self.lower)

    @cached_property
    def unit_text(self) -> str:
        """Character scripts: the lower-cased text without spaces and punctuation, one character per unit."""
        return segment.char_units(self.lower)

    @cached_property
    def n_units(self) -> int:
        return len(self.unit_text) if self.char_units else len(self.words)

    @cached_property
    def joined(self) -> str:
        """Character units: `unit_text`; words: the words joined by single spaces (n-grams are substrings of it)."""
        return self.unit_text if self.char_units else " ".join(self.words)

    @cached_property
    def unit_chars(self) -> int:
        """Characters in all units (spaces between words not counted)."""
        return self.n_units if self.char_units else len(self.joined) - max(self.n_units - 1, 0)

    @cached_property
    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end offsets of every unit in `joined` (words contain no space, so spaces delimit them)."""
        cps = self._codepoints
        if self.char_units:
            starts = np.arange(len(cps), dtype=np.int64)
            return starts, starts + 1
        spaces = np.flatnonzero(cps == 32)
        return np.concatenate(([0], spaces + 1)), np.concatenate((spaces, [len(cps)]))

    @cached_property
    def _codepoints(self) -> np.ndarray:
        return np.frombuffer(self.joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)

    @cached_property
    def unit_lengths(self) -> np.ndarray:
        starts, ends = self._bounds
        return ends - starts

    @cached_property
    def _prefix(self) -> tuple[np.ndarray, np.ndarray]:
        """(prefix sums of c[k] * M^k mod 2^64 over the characters of `joined`, M^-k per character)."""
        cps = self._codepoints.astype(np.uint64)
        n = len(cps)
        pw, inv = _Powers.get(n + 1)
        out = np.zeros(n + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            mixed = (cps ^ (cps >> np.uint64(7))) * _MIX + np.uint64(1)  # spread small code points over 64 bits
            np.cumsum(mixed * pw[:n], out=out[1:])
        return out, inv

    def ngram_keys(self, n: int) -> np.ndarray:
        """One uint64 key per n-gram position: the polynomial hash of its characters in `joined` (equal n-grams,
        equal keys; two different n-grams collide with probability ~2^-64)."""
        m = self.n_units - n + 1
        if m <= 0:
            return np.empty(0, dtype=np.uint64)
        p, inv = self._prefix
        with np.errstate(over="ignore"):
            if self.char_units:  # unit i is character i: no offsets to look up
                return (p[n:] - p[:m]) * inv[:m]
            starts, ends = self._bounds
            s, e = starts[:m], ends[n - 1 :]
            return (p[e] - p[s]) * inv[s]

    def ngram_chars(self, n: int) -> np.ndarray | int:
        """Characters of each n-gram with the spaces between its words (an int for character units: n)."""
        if self.char_units:
            return n
        m = self.n_units - n + 1
        starts, ends = self._bounds
        return ends[n - 1 :] - starts[:m]

    def longest_ngram(self, n: int) -> int:
        """Characters of the longest n-gram (0 if the document has fewer than n units)."""
        if self.n_units < n:
            return 0
        chars = self.ngram_chars(n)
        return chars if isinstance(chars, int) else int(chars.max())

    def top_ngram_count(self, n: int) -> int:
        """Occurrences of the most frequent n-gram (a sort, no positions: cheaper than `top_ngram_chars`)."""
        if self.n_units < n:
            return 0
        sk = np.sort(self.ngram_keys(n))
        edges = np.flatnonzero(sk[1:] != sk[:-1])
        runs = np.diff(np.concatenate(([-1], edges, [len(sk) - 1])))
        return int(runs.max())

    def top_ngram_chars(self, n: int) -> int:
        """Characters covered by all occurrences of the most frequent n-gram (the one covering most among ties);
        0 when no n-gram occurs twice: a single occurrence is not repetition (datatrove counts it, and so fails
        short documents)."""
        if self.n_units < n:
            return 0
        _, first, counts = np.unique(self.ngram_keys(n), return_index=True, return_counts=True)
        top = int(counts.max())
        if top < 2:
            return 0
        chars = self.ngram_chars(n)
        if isinstance(chars, int):
            return top * chars
        return top * int(chars[first[counts == top]].max())

    def dup_ngram_chars(self, n: int) -> int:
        """Characters of the units covered by a repeated (not first) occurrence of some n-gram, overlaps once."""
        total = self.n_units
        if total < n:
            return 0
        keys = self.ngram_keys(n)
        sk = np.sort(keys)
        if not (sk[1:] == sk[:-1]).any():  # the usual case, settled without positions
            return 0
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        repeat = sk[1:] == sk[:-1]
        if not repeat.any():
            return 0
        starts = order[1:][repeat]  # stable sort: the first occurrence of a key comes first, so these are repeats
        delta = np.bincount(starts, minlength=total + 1)[: total + 1] - np.bincount(starts + n, minlength=total + 1)[
            : total + 1
        ]
        covered = np.cumsum(delta[:total]) > 0
        if self.char_units:
            return int(covered.sum())
        return int(self.unit_lengths[covered].sum())

    @cached_property
    def line_ends_sentence(self) -> list[bool]:
        return [segment.ends_sentence(line) for line in self.lines]

    @cached_property
    def line_units(self) -> list[int]:
        """Units per line as C4 counts them: whitespace words, or characters for character-unit scripts."""
        return segment.line_unit_counts(self.text, self.profile)

    @cached_property
    def sentence_total(self) -> int:
        """Sentences in all lines (see `segment.sentence_count`)."""
        prof = self.profile
        if not prof.sentence_punct:
            return len(self.text.split())
        ends = len(segment._SENTENCE_END_RE.findall(self.text))
        closers = segment.CLOSING_PUNCTUATION
        terminal = segment._TERMINAL_TUPLE
        return ends + sum(1 for line in self.lines if not line.rstrip(closers).endswith(terminal))

    def units_in(self, line: str) -> int:
        """Units of one line with the document's own unit definition (for the text C4 leaves)."""
        return len(segment.char_units(line)) if self.char_units else len(segment.words(line))


class _Eval:
    """Records measurements (explain) and failures; `hit` says whether to stop (check stops at the first)."""

    __slots__ = ("failed", "record")

    def __init__(self, record: dict[str, dict[str, Any]] | None) -> None:
        self.record = record
        self.failed: list[str] = []

    def hit(self, reason: str) -> bool:
        self.failed.append(reason)
        return self.record is None

    def put(self, family: str, key: str, value: Any) -> None:
        if self.record is not None:
            self.record.setdefault(family, {})[key] = value


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _gopher_repetition(v: DocView, c: GopherRepetitionSettings, ev: _Eval) -> bool:
    """Gopher repetition rules; True = stop (a failure in check mode)."""
    fam, full, n_chars = "gopher_repetition", ev.record is not None, len(v.text)
    for unit, max_frac, max_char_frac in (
        ("para", c.max_dup_para_frac, c.max_dup_para_char_frac),
        ("line", c.max_dup_line_frac, c.max_dup_line_char_frac),
    ):
        if not (full or max_frac is not None or max_char_frac is not None):
            continue
        items = v.paragraphs if unit == "para" else v.lines
        dup, dup_chars = _find_duplicates(items)
        frac, char_frac = _ratio(dup, len(items)), _ratio(dup_chars, n_chars)
        ev.put(fam, f"dup_{unit}_frac", frac)
        ev.put(fam, f"dup_{unit}_char_frac", char_frac)
        if max_frac is not None and frac > max_frac and ev.hit(f"{fam}:dup_{unit}_frac"):
            return True
        if max_char_frac is not None and char_frac > max_char_frac and ev.hit(f"{fam}:dup_{unit}_char_frac"):
            return True
    # Top n-grams: the top count at size n bounds the top count at every larger size (each occurrence of an
    # (n+1)-gram is one of its n-gram prefix), and count × longest n-gram bounds the characters, so in check mode
    # a size is settled without finding the n-gram itself whenever that bound passes.
    bound: int | None = None
    for n, limit in c.max_top_ngram_char_frac.items():
        if not full:
            if bound is None:
                bound = v.top_ngram_count(n)
            if bound < 2 or bound * v.longest_ngram(n) <= limit * n_chars:
                continue
            bound = min(bound, v.top_ngram_count(n))
            if bound < 2 or bound * v.longest_ngram(n) <= limit * n_chars:
                continue
        frac = _ratio(v.top_ngram_chars(n), n_chars)
        ev.put(fam, f"top_{n}_gram_char_frac", frac)
        if frac > limit and ev.hit(f"{fam}:top_{n}_gram"):
            return True
    # Duplicated n-grams: coverage only shrinks as n grows, so one pass at the smallest n settles every size
    # whose threshold it does not exceed.
    sizes = c.max_dup_ngram_char_frac
    if sizes:
        smallest_limit = min(sizes.values())
        first = True
        for n, limit in sizes.items():
            frac = _ratio(v.dup_ngram_chars(n), n_chars)
            ev.put(fam, f"dup_{n}_gram_char_frac", frac)
            if frac > limit and ev.hit(f"{fam}:dup_{n}_gram"):
                return True
            if first and not full and frac <= smallest_limit:
                break
            first = False
    return False


def _gopher_quality(
    v: DocView, c: GopherQualitySettings, stops: frozenset[str] | None, endings: frozenset[str] | None, ev: _Eval
) -> bool:
    """Gopher quality rules; True = stop."""
    fam, full = "gopher_quality", ev.record is not None
    n = v.n_units
    ev.put(fam, "words", n)
    if c.min_words is not None and n < c.min_words and ev.hit(f"{fam}:too_few_words"):
        return True
    if c.max_words is not None and n > c.max_words and ev.hit(f"{fam}:too_many_words"):
        return True
    if not v.char_units and (full or c.min_mean_word_length is not None or c.max_mean_word_length is not None):
        mean = _ratio(v.unit_chars, n)
        ev.put(fam, "mean_word_length", mean)
        lo, hi = c.min_mean_word_length, c.max_mean_word_length
        if lo is not None and mean < lo and ev.hit(f"{fam}:mean_word_length_low"):
            return True
        if hi is not None and mean > hi and ev.hit(f"{fam}:mean_word_length_high"):
            return True
    text = v.text
    denom = max(n, 1)
    if full or c.max_hash_ratio is not None:
        hash_ratio = text.count("#") / denom
        ev.put(fam, "hash_ratio", hash_ratio)
        if c.max_hash_ratio is not None and hash_ratio > c.max_hash_ratio and ev.hit(f"{fam}:hash_ratio"):
            return True
    if full or c.max_ellipsis_ratio is not None:
        ell = (text.count("...") + text.count("…")) / denom
        ev.put(fam, "ellipsis_ratio", ell)
        if c.max_ellipsis_ratio is not None and ell > c.max_ellipsis_ratio and ev.hit(f"{fam}:ellipsis_ratio"):
            return True
    lines = v.lines
    if full or c.max_bullet_lines_frac is not None:
        frac = _ratio(sum(1 for line in lines if line.startswith(segment.BULLET_STARTS)), len(lines))
        ev.put(fam, "bullet_lines_frac", frac)
        if c.max_bullet_lines_frac is not None and frac > c.max_bullet_lines_frac and ev.hit(f"{fam}:bullet_lines"):
            return True
    if full or c.max_ellipsis_lines_frac is not None:
        frac = _ratio(sum(1 for line in lines if line.endswith(segment.ELLIPSIS_ENDS)), len(lines))
        ev.put(fam, "ellipsis_lines_frac", frac)
        if (
            c.max_ellipsis_lines_frac is not None
            and frac > c.max_ellipsis_lines_frac
            and ev.hit(f"{fam}:ellipsis_lines")
        ):
            return True
    if full or c.min_alpha_words_frac is not None:
        if v.char_units:
            letterless = segment.count_letterless_units(v.unit_text)
        else:
            letterless = segment.count_letterless_words(v.lower)
        alpha = _ratio(n - letterless, n)
        ev.put(fam, "alpha_words_frac", alpha)
        if c.min_alpha_words_frac is not None and alpha < c.min_alpha_words_frac and ev.hit(f"{fam}:alpha_words_frac"):
            return True
    if stops is not None and (full or c.min_stop_words is not None):
        if v.char_units:
            found = count_stop_words(stops, text=v.lower)
        else:
            found = count_stop_words(stops, words=v.words, endings=endings)
        ev.put(fam, "stop_words", found)
        if c.min_stop_words is not None and found < c.min_stop_words and ev.hit(f"{fam}:stop_words"):
            return True
    return False


_POLICY_CACHE: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = {}
_SCRIPT_FAMILY = {"Hang": {"Hang", "Hani"}, "Jpan": {"Hira", "Kana", "Hani"}, "Hans": {"Hani"}, "Hant": {"Hani"}}


def _policy_phrases(phrases: tuple[str, ...], script: str) -> tuple[str, ...]:
    """The phrases worth looking for in a document of `script`: Latin-script ones (cookie banners are often in
    English) and those in the document's own script. Plain ``in`` tests: a regex alternation of 40 literals cost
    ~70 µs per 3 KB document, these ~10 µs."""
    key = (phrases, script)
    out = _POLICY_CACHE.get(key)
    if out is None:
        allowed = {"Latn"} | _SCRIPT_FAMILY.get(script, {script})
        out = tuple(p for p in phrases if not set(script_counts(p)) - allowed)
        _POLICY_CACHE[key] = out
    return out


@dataclass(slots=True)
class _C4Outcome:
    stop: bool
    kept: list[int] | None  # indices into DocView.lines; None = every line kept unchanged
    edited: dict[int, str]  # line index → line after citation removal
    removed: dict[str, int]


def _c4(v: DocView, c: C4Settings, ev: _Eval) -> _C4Outcome:
    """C4 line rules (counted / removed) and document rules; `stop` = a failure in check mode."""
    fam = "c4"
    lines, lower, text = v.lines, v.lower, v.text
    max_len, min_units = c.max_word_length, c.min_words_per_line
    check_punct = c.drop_no_terminal_punct_lines and v.profile.sentence_punct
    ends = v.line_ends_sentence if check_punct else None
    units = v.line_units if min_units is not None else None
    # Whole-text pre-checks: the per-line tests for rare content run only when the text has it at all.
    cite = c.remove_citations and "[" in text
    lorem = c.drop_lorem_ipsum and "lorem ipsum" in lower
    js = c.drop_javascript_lines and "javascript" in lower
    curly = c.drop_curly_bracket and "{" in text
    policy: tuple[str, ...] = ()
    if c.drop_policy_lines:
        policy = tuple(p for p in _policy_phrases(c.policy_phrases, v.profile.script) if p in lower)
    special = lorem or js or curly or bool(policy)
    removed: Counter[str] = Counter()
    kept: list[int] = []
    edited: dict[int, str] = {}
    for i, line in enumerate(lines):
        if max_len is not None and len(line) > max_len and max(map(len, line.split())) > max_len:
            removed["too_long_word"] += 1
            continue
        if cite and "[" in line:
            new = _CITATION_RE.sub("", line).strip()
            if new != line:
                edited[i] = line = new
                if not line:
                    removed["too_few_words"] += 1
                    continue
        if ends is not None and not (segment.ends_sentence(line) if i in edited else ends[i]):
            removed["no_terminal_punct"] += 1
            continue
        if units is not None:
            n = segment.line_unit_count(line, v.profile) if i in edited else units[i]
            if n < min_units:  # type: ignore[operator]
                removed["too_few_words"] += 1
                continue
        if special:
            line_lower = line.lower()
            if lorem and "lorem ipsum" in line_lower:
                if ev.hit(f"{fam}:lorem_ipsum"):
                    return _C4Outcome(True, None, {}, dict(removed))
                lorem = False
            if js and "javascript" in line_lower:
                removed["javascript"] += 1
                continue
            if curly and "{" in line:
                if ev.hit(f"{fam}:curly_bracket"):
                    return _C4Outcome(True, None, {}, dict(removed))
                curly = False
            if policy and any(p in line_lower for p in policy):
                removed["policy"] += 1
                continue
        kept.append(i)
    all_kept = len(kept) == len(lines) and not edited
    ev.put(fam, "lines", len(lines))
    ev.put(fam, "removed_lines", dict(removed))
    if not kept:
        if ev.hit(f"{fam}:all_lines_removed"):
            return _C4Outcome(True, [], edited, dict(removed))
    elif ev.record is not None or (c.min_sentences is not None and len(kept) < c.min_sentences):
        # (every kept line holds at least one sentence, so with min_sentences lines or more nothing to count)
        if all_kept:
            sentences = v.sentence_total
        elif 2 * len(kept) >= len(lines):
            dropped = set(range(len(lines))).difference(kept)
            sentences = v.sentence_total - sum(segment.sentence_count(lines[i], v.profile) for i in dropped)
            sentences += sum(
                segment.sentence_count(edited[i], v.profile) - segment.sentence_count(lines[i], v.profile)
                for i in edited
                if i not in dropped
            )
        else:
            sentences = sum(segment.sentence_count(edited.get(i, lines[i]), v.profile) for i in kept)
        ev.put(fam, "sentences", sentences)
        if c.min_sentences is not None and sentences < c.min_sentences and ev.hit(f"{fam}:too_few_sentences"):
            return _C4Outcome(True, kept, edited, dict(removed))
    return _C4Outcome(False, None if all_kept else kept, edited, dict(removed))


def _fineweb(v: DocView, c: FineWebSettings, kept: list[int] | None, edited: dict[int, str], ev: _Eval) -> bool:
    """FineWeb rules on the lines C4 kept (all lines when `kept` is None); True = stop."""
    fam, full = "fineweb", ev.record is not None
    if kept is None:
        lines, idx = v.lines, None
    else:
        idx = kept
        lines = [edited.get(i, v.lines[i]) for i in kept]
    n_lines = len(lines)
    ev.put(fam, "lines", n_lines)
    if not n_lines:
        return False  # C4 reported it (all_lines_removed)
    if v.profile.sentence_punct and (full or c.min_line_punct_frac is not None):
        if idx is None:
            ends = sum(v.line_ends_sentence)
        else:
            flags = v.line_ends_sentence
            ends = sum(1 for i in idx if (segment.ends_sentence(edited[i]) if i in edited else flags[i]))
        frac = ends / n_lines
        ev.put(fam, "line_punct_frac", frac)
        if (
            c.min_line_punct_frac is not None
            and frac < c.min_line_punct_frac
            and not (frac == 0 and c.line_punct_exclude_zero)
            and ev.hit(f"{fam}:line_punct_ratio")
        ):
            return True
    if full or c.max_short_line_frac is not None:
        short = c.short_line_chars
        frac = sum(1 for line in lines if len(line) <= short) / n_lines
        ev.put(fam, "short_line_frac", frac)
        if c.max_short_line_frac is not None and frac > c.max_short_line_frac and ev.hit(f"{fam}:short_line_ratio"):
            return True
    if full or c.max_dup_line_char_frac is not None:
        _, dup_chars = _find_duplicates(lines)
        frac = _ratio(dup_chars, sum(map(len, lines)))
        ev.put(fam, "dup_line_char_frac", frac)
        if (
            c.max_dup_line_char_frac is not None
            and frac > c.max_dup_line_char_frac
            and ev.hit(f"{fam}:dup_line_char_ratio")
        ):
            return True
    if full or c.max_newlines_per_word is not None:
        if idx is None:
            n_units = v.n_units
        elif 2 * len(idx) >= len(v.lines):  # few lines removed: subtract them (and correct edited lines)
            dropped = set(range(len(v.lines))).difference(idx)
            n_units = v.n_units - sum(v.units_in(v.lines[i].lower()) for i in dropped)
            n_units += sum(
                v.units_in(edited[i].lower()) - v.units_in(v.lines[i].lower()) for i in edited if i not in dropped
            )
        else:
            n_units = sum(v.units_in(line.lower()) for line in lines)
        ratio = (n_lines - 1) / max(n_units, 1)
        ev.put(fam, "newlines_per_word", ratio)
        if c.max_newlines_per_word is not None and ratio > c.max_newlines_per_word and ev.hit(f"{fam}:list_ratio"):
            return True
    return False


def _rebuild(text: str, kept: list[int], edited: dict[int, str]) -> str:
    """The text without C4's removed lines (blank lines between kept paragraphs preserved, at most one in a row)."""
    keep = set(kept)
    out: list[str] = []
    i = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if not stripped:
            out.append("")
            continue
        if i in keep:
            out.append(edited.get(i, stripped))
        i += 1
    return _MANY_NEWLINES_RE.sub("\n\n", "\n".join(out)).strip()


class QualityFilter:
    """Applies the quality rules of `QualitySettings` to one document at a time (no Ray; cheap to construct)."""

    def __init__(self, settings: QualitySettings | None = None) -> None:
        self.settings = settings or QualitySettings()
        self._rules: dict[tuple[str | None, str | None], QualityRules] = {}
        self._langs: dict[str, tuple[str | None, str | None]] = {}
        self._stops: dict[tuple[str | None, tuple[str, ...] | None], frozenset[str] | None] = {}

    def rules_for(self, lang: str | None, script: str | None) -> QualityRules:
        """Effective rules for a canonical language code and script (cached)."""
        key = (lang, script)
        rules = self._rules.get(key)
        if rules is None:
            rules = self._rules[key] = self.settings.rules_for(lang, script)
        return rules

    def _lang_script(self, text: str, lang: str | None, script: str | None) -> tuple[str | None, str | None]:
        if lang is not None:
            cached = self._langs.get(lang)
            if cached is None:
                from pipeline.lang.codes import UND, normalize_label

                try:
                    code = normalize_label(lang, strict=False)
                except ValueError:
                    code = UND
                cached = (None, None) if code == UND else (code, code.partition("_")[2] or None)
                self._langs[lang] = cached
            lang, lang_script = cached
            script = script or lang_script
        if script is None or script == "Zzzz":
            script = dominant_script(text)
        return lang, script

    def _stop_words(self, lang: str | None, c: GopherQualitySettings) -> frozenset[str] | None:
        key = (lang, c.stop_words)
        if key not in self._stops:
            if c.stop_words is not None:
                self._stops[key] = frozenset(w.lower() for w in c.stop_words)
            else:
                self._stops[key] = stop_words_for(lang) if lang else None
        return self._stops[key]

    def _run(self, text: str, lang: str | None, script: str | None, record: dict[str, Any] | None) -> tuple[
        str | None, str, dict[str, int], _Eval
    ]:
        lang, script = self._lang_script(text, lang, script)
        rules = self.rules_for(lang, script)
        v = DocView(text, profile_for(script))
        ev = _Eval(record)
        if not v.lines:
            ev.hit("quality:empty")
            return "quality:empty", text, {}, ev
        if rules.gopher_repetition.enabled and _gopher_repetition(v, rules.gopher_repetition, ev):
            return ev.failed[0], text, {}, ev
        gq = rules.gopher_quality
        endings = ENDINGS.get(lang) if lang is not None and gq.stop_words is None else None
        if gq.enabled and _gopher_quality(v, gq, self._stop_words(lang, gq), endings, ev):
            return ev.failed[0], text, {}, ev
        kept: list[int] | None = None
        edited: dict[int, str] = {}
        removed: dict[str, int] = {}
        out_text = text
        if rules.c4.enabled:
            c4 = _c4(v, rules.c4, ev)
            removed = c4.removed
            if c4.stop:
                return ev.failed[0], text, removed, ev
            if rules.c4.remove_lines and c4.kept is not None:
                kept, edited = c4.kept, c4.edited
                out_text = _rebuild(text, kept, edited)
        if rules.fineweb.enabled and _fineweb(v, rules.fineweb, kept, edited, ev):
            return ev.failed[0], out_text, removed, ev
        return (ev.failed[0] if ev.failed else None), out_text, removed, ev

    def check(self, text: str, lang: str | None, script: str | None = None) -> str | None:
        """None to keep the document, else the first failing rule (``<family>:<rule>``).

        `lang` is any language code (canonical ``kor_Hang`` is cheapest; ``ko`` works); `script` defaults to the
        code's script, or the text's dominant script when the code has none (``und``, None).
        """
        return self._run(text, lang, script, None)[0]

    def apply(self, text: str, lang: str | None, script: str | None = None) -> QualityResult:
        """`check` plus the text to keep (C4's line removal applied) and the removed-line counts."""
        reason, out, removed, _ = self._run(text, lang, script, None)
        return QualityResult(reason, out, removed)

    def explain(self, text: str, lang: str | None, script: str | None = None) -> dict[str, Any]:
        """Every measurement, the effective thresholds, every failing rule and the decision, as plain data."""
        record: dict[str, Any] = {}
        reason, out, removed, ev = self._run(text, lang, script, record)
        lang_c, script_c = self._lang_script(text, lang, script)
        prof = profile_for(script_c)
        return {
            "lang": lang_c,
            "script": script_c,
            "unit": prof.unit,
            "decision": reason,
            "failed": list(ev.failed),
            "measurements": record,
            "removed_lines": removed,
            "text_changed": out is not text,
            "rules": self.rules_for(lang_c, script_c).model_dump(mode="json"),
        }


@dataclass
class QualityTally:
    """Counts for a stage's completion record: documents kept/removed per language and reason, C4 line removals."""

    docs: Counter[tuple[str, str]] = field(default_factory=Counter)
    lines_removed: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, lang: str, result: QualityResult) -> None:
        self.docs[(lang, result.reason or "kept")] += 1
        for rule, n in result.removed_lines.items():
            self.lines_removed[(lang, rule)] += n

    def as_dict(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{"docs": {lang: {"kept" | reason: n}}, "lines_removed": {lang: {rule: n}}}`` (sorted, JSON-ready)."""
        out: dict[str, dict[str, dict[str, int]]] = {"docs": {}, "lines_removed": {}}
        for name, counter in (("docs", self.docs), ("lines_removed", self.lines_removed)):
            for (lang, key), n in sorted(counter.items()):
                out[name].setdefault(lang, {})[key] = n
        return out
