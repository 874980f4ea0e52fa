"""The shared per-document view the quality rules measure: lines, units, n-gram hashes, computed once and lazily.

Why one view: two rules that need the words of a document must not tokenize it twice, and a rule that never runs
(early exit, a threshold set to null) must cost nothing. Every feature is a `cached_property`.

Units per script (`pipeline.text.segment`): words for space-delimited scripts, characters for Han, Japanese, Thai and
the other spaceless scripts. `size` is the document's length in *script units* for counting rules: in a
character-unit script a Latin word or a number counts as one word's worth of characters (``units_per_word``), not one
unit per letter, so "404 Error - Not Found" is 4 words' worth in a Chinese page, not 16 characters.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import compress
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

import numpy as np

from pipeline.text import segment
from pipeline.text.segment import ScriptProfile

if TYPE_CHECKING:
    from pipeline.filter.lexicon import Lexicon

__all__ = [
    "DocView", "find_duplicates", "measure_letterless_words", "measure_lines", "measure_ngrams", "measure_pages",
    "measure_units",
]

_T = TypeVar("_T")


class _lazy(Generic[_T]):  # noqa: N801 - used as a decorator, like functools.cached_property
    """A per-instance cached attribute without `functools.cached_property`'s lock (Python 3.11 takes an RLock on
    every first access: a view has ~30 features, per document, and the lock cost more than many of them)."""

    def __init__(self, fn: Callable[[Any], _T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, cls: type | None = None) -> _T:
        if obj is None:
            return self  # type: ignore[return-value]
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


# Rolling n-gram hash modulo 2^64 (numpy uint64 arithmetic wraps): key(i, n) = sum_j h[i+j] * M^j.
_M = 0x9E3779B97F4A7C15
_M_INV = pow(_M, -1, 1 << 64)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_SEVEN, _ONE = np.uint64(7), np.uint64(1)


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


def _hash_prefix(cps: np.ndarray, pw: np.ndarray) -> np.ndarray:
    """Prefix sums of mix(c[k]) * M^k mod 2^64 over code points `cps` (`pw`: M^k), where mix(c) = (c ^ (c >> 7)) *
    _MIX + 1 spreads small code points over 64 bits. Computed in the output array: on a batch chunk the four
    temporaries of the expression were ~1 MB each, and a freed heap top that large is returned to the system and
    faulted in again by the next chunk."""
    n = len(cps)
    out = np.zeros(n + 1, dtype=np.uint64)
    # Array arithmetic wraps modulo 2^64 without a warning (only numpy scalars warn): no np.errstate needed.
    mixed = out[1:]
    mixed[:] = cps
    mixed ^= mixed >> _SEVEN
    mixed *= _MIX
    mixed += _ONE
    mixed *= pw[:n]
    np.cumsum(mixed, out=mixed)
    return out


def _space_bounds(cps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the words of a text of words joined by single spaces (its code points `cps`).
    Filled in place: np.concatenate with Python lists converts them to arrays first (~2 µs each)."""
    spaces = (cps == 32).nonzero()[0]
    starts = np.empty(len(spaces) + 1, dtype=np.int64)
    starts[0] = 0
    np.add(spaces, 1, out=starts[1:])
    ends = np.empty(len(spaces) + 1, dtype=np.int64)
    ends[:-1] = spaces
    ends[-1] = len(cps)
    return starts, ends


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(repeated items, their characters): every occurrence after the first of an item (datatrove's definition)."""
    if len(set(items)) == len(items):
        return 0, 0
    counts = Counter(items)  # counted in C; then a pass over the distinct items, not over every item
    return len(items) - len(counts), sum(len(it) * (c - 1) for it, c in counts.items() if c > 1)


class _Grams(NamedTuple):
    """The n-grams of one size that occur more than once, over some positions (all, or the candidates)."""

    #: Occurrences of the most frequent n-gram (1 when none repeats).
    top: int
    #: First position of each most frequent n-gram (when `top` >= 2).
    top_first: np.ndarray
    #: Sorted positions of every occurrence but the first of each repeated n-gram.
    later: np.ndarray
    #: Sorted positions of every occurrence of each repeated n-gram.
    repeated: np.ndarray


_EMPTY = np.empty(0, dtype=np.int64)
_NO_REPEAT = _Grams(1, _EMPTY, _EMPTY, _EMPTY)
#: Up to this many positions a dict groups the keys: cheaper than numpy's ~15 calls of fixed cost (~17 µs) below
#: ~100 keys, and the sizes after the first usually have a few dozen candidate positions.
_FEW_POSITIONS = 96


def _group_few(keys: np.ndarray, pos: np.ndarray) -> _Grams:
    """`_Grams` of a few (key, position) pairs, positions ascending, grouped in a dict."""
    groups: dict[int, list[int]] = {}
    for k, p in zip(keys.tolist(), pos.tolist(), strict=True):
        g = groups.get(k)
        if g is None:
            groups[k] = [p]
        else:
            g.append(p)
    reps = [g for g in groups.values() if len(g) > 1]
    if not reps:
        return _NO_REPEAT
    top = max(map(len, reps))
    first = [g[0] for g in reps if len(g) == top]  # positions ascending: the first is the first occurrence
    later = sorted(p for g in reps for p in g[1:])
    repeated = sorted(p for g in reps for p in g)
    return _Grams(top, np.array(first, dtype=np.int64), np.array(later, dtype=np.int64),
                  np.array(repeated, dtype=np.int64))  # fmt: skip


def _group_many(keys: np.ndarray, pos: np.ndarray) -> _Grams:
    """`_Grams` of (key, position) pairs, positions ascending, by a stable sort of the keys (each run of equal keys
    then lists its positions ascending: its first is the first occurrence)."""
    m = len(keys)
    order = keys.argsort(kind="stable")  # methods, not np.* functions: no Python-level dispatch per call
    sk = keys[order]
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(sk[1:], sk[:-1], out=new[1:])
    starts = new.nonzero()[0]
    counts = np.empty(len(starts), dtype=np.int64)  # np.diff(starts, append=m) costs 4x more in Python overhead
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1] = m - starts[-1]
    top = int(counts.max())
    if top < 2:
        return _NO_REPEAT
    ordered = pos[order]
    in_repeat = (counts > 1).repeat(counts)
    later, repeated = ordered[in_repeat & ~new], ordered[in_repeat]  # fresh arrays: sorted in place
    later.sort()
    repeated.sort()
    return _Grams(top, ordered[starts[counts == top]], later, repeated)


#: A line longer than this is a paragraph even when it names a copyright or a licence: only shorter ones are footers.
_FOOTER_MAX_CHARS = 200


class DocView:
    """Per-document features shared by the rules, each computed at most once and only when a rule asks."""

    #: (lines, units): prose lines of at least `units` ending with an ellipsis are teasers, not prose, when the page
    #: has `lines` of them (truncated snippets, "related articles"); None: they stay prose. Set from
    #: ``page.min_teaser_lines`` and ``page.paragraph_units``.
    teasers: tuple[int, float] | None = None

    def __init__(self, text: str, profile: ScriptProfile, lexicon: Lexicon | None = None, lower: str | None = None
                 ) -> None:
        self.text = text
        self.profile = profile
        #: `lower`: ``text.lower()`` when the caller has it already (cut from a page's: see `main_view`, `of_lines`).
        self.lower = text.lower() if lower is None else lower
        self.char_units = profile.unit == "char"
        #: The language's word lists (stop words, bad words, status phrases); None: no language-specific lists.
        self.lexicon = lexicon
        #: Duplicated n-gram coverage per size, as the rules measure it (smaller sizes bound larger ones).
        self.dup_ngram_fracs: dict[int, float] = {}
        self._top_counts: dict[int, int] = {}
        #: n → `_Grams` of the n-grams at the candidate positions (`_ngram_candidates`).
        self._grams: dict[int, _Grams] = {}
        #: Index of this view's first line among its page's lines (a main-text view starts below the header).
        self.first_line = 0

    @classmethod
    def of_lines(cls, lines: list[str], parent: DocView, page: DocView | None = None, index: list[int] | None = None
                 ) -> DocView:
        """A view of some lines of a page (what C4 keeps), sharing its profile and word lists. With `page` and the
        lines' `index` in it (lines unchanged), the per-line features are taken from the page instead of measured
        again, and the view's `size` is the sum of its lines' sizes."""
        lower = None
        if page is not None and index is not None and "lower_lines" in page.__dict__:
            # lower() of lines joined by "\n" is the join of their lower(): its one context rule (final sigma)
            # stops at a line break. A join instead of lower-casing the text again.
            low = page.__dict__["lower_lines"]
            lower = "\n".join([low[i] for i in index])
        view = cls("\n".join(lines), parent.profile, parent.lexicon, lower)
        view.teasers = parent.teasers
        view.__dict__["lines"] = lines
        if page is not None and index is not None:
            # Only the features the page has measured: the others depend on each line alone, and the view measures
            # them on its own lines when asked (C4 keeps a few of a Chinese page's lines: counting the sentence
            # ends of all of them cost more than the rest of the view).
            have = page.__dict__
            for name in _PER_LINE:
                values = have.get(name)
                if values is not None:
                    view.__dict__[name] = [values[i] for i in index]
            view.__dict__["size"] = float(sum(view.line_sizes))
        return view

    @_lazy
    def lines(self) -> list[str]:
        # `segment.split_lines`, with map and compress in C, keeping the blank-line flags (`_nonblank`) on the way.
        stripped = list(map(str.strip, self.text.split("\n")))
        keep = self.__dict__["_nonblank"] = list(map(bool, stripped))
        return list(compress(stripped, keep))

    @_lazy
    def _nonblank(self) -> list[bool]:
        """Per piece of ``text.split("\\n")``: whether it is a line (`lines` are the non-blank pieces, stripped)."""
        return [bool(raw) and not raw.isspace() for raw in self.text.split("\n")]

    @_lazy
    def lower_lines(self) -> list[str]:
        """``line.lower()`` of every line, cut from `lower` (one lower() per document, not one per line: lower()
        never turns whitespace into anything else nor anything into whitespace or a line break, and its only
        context rule, the final sigma, stops at whitespace, so lower and strip commute)."""
        return list(map(str.strip, compress(self.lower.split("\n"), self._nonblank)))

    def main_span(self, min_line_units: float) -> tuple[int, int] | None:
        """(first, last) index of the prose lines (`prose_size`): the page's main text lies between them, its
        header and footer (menus, breadcrumbs, link lists) outside. None when there is no prose line."""
        prose = self.prose_lines(min_line_units)
        return (prose[0], prose[-1]) if prose else None

    def main_view(self, min_line_units: float) -> DocView:
        """The view of the main text (`main_span`, blank lines kept); the whole page when it has no prose line."""
        span = self.main_span(min_line_units)
        if span is None or (span[0] == 0 and span[1] == len(self.lines) - 1):
            return self
        raw = self.text.split("\n")
        nonblank = list(compress(range(len(raw)), self._nonblank))  # the raw index of each line
        a, b = nonblank[span[0]], nonblank[span[1]] + 1
        text = "\n".join(raw[a:b])
        lower = None
        if len(self.lower) == len(self.text):
            # lower() kept every length: it mapped each character to one, at the same offset, and the main text
            # starts and ends at a line break, where the final-sigma context stops: cut it from the page's lower.
            start = sum(map(len, raw[:a])) + a
            lower = self.lower[start : start + len(text)]
        view = DocView(text, self.profile, self.lexicon, lower)
        view.first_line = span[0]
        view.teasers = self.teasers
        lo, hi = span[0], span[1] + 1
        view.__dict__["lines"] = self.lines[lo:hi]
        for name in _PER_LINE:
            if name in self.__dict__:
                view.__dict__[name] = self.__dict__[name][lo:hi]
        # Words and character units never cross a line break, so the main text's are a slice of the page's: reuse
        # them when the page has them (its header and footer are tokenized instead, usually a few short lines).
        key = "unit_text" if self.char_units else "words"
        if key in self.__dict__:
            cut = segment.char_units if self.char_units else segment.words
            head = len(cut("\n".join(raw[:a]).lower()))
            tail = len(cut("\n".join(raw[b:]).lower()))
            whole = self.__dict__[key]
            view.__dict__[key] = whole[head : len(whole) - tail]
        at = self.__dict__.get("_letterless_at")
        if at is not None and lower is not None:  # the page's letterless words in the main text (none spans a break)
            view.__dict__["letterless_words"] = bisect_left(at, start + len(text)) - bisect_left(at, start)
        return view

    @_lazy
    def paragraphs(self) -> list[str]:
        return segment.split_paragraphs(self.text)

    @_lazy
    def words(self) -> list[str]:
        """Lower-cased words (word scripts) or the characters of `unit_text` (character scripts)."""
        if self.char_units:
            return list(self.unit_text)
        joined = self.joined
        return joined.split(" ") if joined else []

    @_lazy
    def unit_text(self) -> str:
        """Character scripts: the lower-cased text without spaces and punctuation, one character per unit."""
        cps = segment.unit_codepoints(self.lower)
        if self.char_units:
            self.__dict__["_codepoints"] = cps
        return cps.tobytes().decode("utf-32-le", "surrogatepass")

    @_lazy
    def letterless_words(self) -> int:
        """Word scripts: `words` without a letter (`segment.count_letterless_words`)."""
        return segment.count_letterless_words(self.lower)

    @_lazy
    def n_units(self) -> int:
        return len(self.unit_text) if self.char_units else len(self.words)

    @_lazy
    def joined(self) -> str:
        """Character units: `unit_text`; words: the words joined by single spaces (n-grams are substrings of it)."""
        if self.char_units:
            return self.unit_text
        if "words" in self.__dict__:  # given (a main-text view takes a slice of its page's words)
            return " ".join(self.words)
        joined, self.__dict__["_codepoints"] = segment.joined_words(self.lower)
        return joined

    @_lazy
    def _gram_starts(self) -> np.ndarray | None:
        """Character scripts: where each n-gram unit starts in `unit_text` when a foreign word or number makes one
        unit of several characters (`segment.char_gram_starts`); None: one unit per character (and word scripts)."""
        return segment.char_gram_starts(self.lower) if self.char_units else None

    @_lazy
    def _char_grams(self) -> bool:
        """The n-gram units are single characters: positions and character counts are the same."""
        return self.char_units and self._gram_starts is None

    @_lazy
    def n_gram_units(self) -> int:
        """Units the n-gram rules count: `n_units`, but a foreign word or number in a character script is one unit."""
        starts = self._gram_starts
        return self.n_units if starts is None else len(starts)

    @_lazy
    def unit_chars(self) -> int:
        """Characters in all units (spaces between words not counted)."""
        return self.n_units if self.char_units else len(self.joined) - max(self.n_units - 1, 0)

    @_lazy
    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end offsets of every n-gram unit in `joined` (words contain no space, so spaces delimit them;
        character scripts: `_gram_starts`)."""
        cps = self._codepoints
        if self.char_units:
            starts = self._gram_starts
            if starts is None:
                starts = np.arange(len(cps), dtype=np.int64)
                return starts, starts + 1
            return starts, np.append(starts[1:], len(cps))
        return _space_bounds(cps)

    @_lazy
    def _codepoints(self) -> np.ndarray:
        return np.frombuffer(self.joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)

    @_lazy
    def unit_lengths(self) -> np.ndarray:
        starts, ends = self._bounds
        return ends - starts

    @_lazy
    def _prefix(self) -> tuple[np.ndarray, np.ndarray]:
        """(prefix sums of c[k] * M^k mod 2^64 over the characters of `joined`, M^-k per character)."""
        pw, inv = _Powers.get(len(self._codepoints) + 1)
        return _hash_prefix(self._codepoints, pw), inv

    @_lazy
    def _unit_hash(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per unit i: (prefix sum at its start, prefix sum at its end, M^-start): the key of the n-gram at i is
        (end[i + n - 1] - start[i]) * inv[i], three array lookups per size instead of five."""
        p, inv = self._prefix
        if self._char_grams:  # unit i is character i
            return p[:-1], p[1:], inv[: self.n_units]
        starts, ends = self._bounds
        return p[starts], p[ends], inv[starts]

    def ngram_keys(self, n: int) -> np.ndarray:
        """One uint64 key per n-gram position: the polynomial hash of its characters in `joined` (equal n-grams,
        equal keys; two different n-grams collide with probability ~2^-64)."""
        m = self.n_gram_units - n + 1
        if m <= 0:
            return np.empty(0, dtype=np.uint64)
        at_start, at_end, inv = self._unit_hash
        return (at_end[n - 1 :] - at_start[:m]) * inv[:m]

    def ngram_chars(self, n: int) -> np.ndarray | int:
        """Characters of each n-gram with the spaces between its words (an int for character units: n)."""
        if self._char_grams:
            return n
        m = self.n_gram_units - n + 1
        starts, ends = self._bounds
        return ends[n - 1 :] - starts[:m]

    def longest_ngram(self, n: int) -> int:
        """Characters of the longest n-gram (0 if the document has fewer than n units)."""
        if self.n_gram_units < n:
            return 0
        chars = self.ngram_chars(n)
        return chars if isinstance(chars, int) else int(chars.max())

    def _ngram_keys_at(self, n: int, pos: np.ndarray) -> np.ndarray:
        """`ngram_keys(n)[pos]`, computed for those positions only."""
        at_start, at_end, inv = self._unit_hash
        return (at_end[pos + (n - 1)] - at_start[pos]) * inv[pos]

    def _ngram_candidates(self, n: int) -> np.ndarray | None:
        """Positions that can start a repeated n-gram: those whose m-gram repeats, for the largest size m < n measured
        (an n-gram that occurs twice starts with an m-gram that occurs twice there); None: every position. On a
        normal page few 4-grams repeat, so the larger sizes sort a few keys instead of all of them."""
        below = [m for m in self._grams if m < n]
        if not below:
            return None
        pos = self._grams[max(below)].repeated
        return pos[pos <= self.n_gram_units - n]

    def _ngrams(self, n: int) -> _Grams:
        """The repeated n-grams (`_Grams`), over the candidate positions only (`_ngram_candidates`)."""
        grams = self._grams.get(n)
        if grams is not None:
            return grams
        pos = self._ngram_candidates(n)
        if pos is None:
            keys = self.ngram_keys(n)
            pos = np.arange(len(keys), dtype=np.int64)
        elif len(pos):
            keys = self._ngram_keys_at(n, pos)
        if not len(pos):
            grams = _NO_REPEAT
        elif len(pos) <= _FEW_POSITIONS:
            grams = _group_few(keys, pos)
        else:
            grams = _group_many(keys, pos)
        self._grams[n] = grams
        return grams

    def top_ngram_count(self, n: int) -> int:
        """Occurrences of the most frequent n-gram, 1 when none repeats (0 without an n-gram)."""
        if n in self._top_counts:
            return self._top_counts[n]
        count = 0 if self.n_gram_units < n else self._ngrams(n).top
        self._top_counts[n] = count
        return count

    def top_ngram_bound(self, n: int) -> int:
        """An upper bound of `top_ngram_count(n)`: the smallest count found at a size <= n (else: computed at n)."""
        known = [c for m, c in self._top_counts.items() if m <= n]
        return min(known) if known else self.top_ngram_count(n)

    def top_ngram_chars(self, n: int) -> int:
        """Characters covered by all occurrences of the most frequent n-gram (the one covering most among ties);
        0 when no n-gram occurs twice: a single occurrence is not repetition (datatrove counts it, and so fails
        short documents)."""
        known = self.__dict__.get("_ngram_chars")  # measured with the batch (`measure_ngrams`)
        if known is not None and ("top", n) in known:
            return known["top", n]  # type: ignore[no-any-return]
        top = self.top_ngram_count(n)
        if top < 2:
            return 0
        if self._char_grams:
            return top * n
        at = self._ngrams(n).top_first  # first occurrence of each most frequent n-gram
        starts, ends = self._bounds
        return top * int((ends[at + (n - 1)] - starts[at]).max())

    def dup_ngram_chars(self, n: int) -> int:
        """Characters of the units covered by a repeated (not first) occurrence of some n-gram, overlaps once."""
        known = self.__dict__.get("_ngram_chars")  # measured with the batch (`measure_ngrams`)
        if known is not None and ("dup", n) in known:
            return known["dup", n]  # type: ignore[no-any-return]
        total = self.n_gram_units
        if total < n:
            return 0
        later = self._ngrams(n).later
        if not len(later):
            return 0
        # The union of the equal-length spans [s, s + n) of the sorted starts s is the disjoint union of
        # [s_i, min(s_i + n, s_i+1)): one pass over the starts, not over every unit of the document.
        ends = np.minimum(later + n, np.append(later[1:], total))
        if self._char_grams:
            return int((ends - later).sum())
        cum = self._unit_cum
        return int((cum[ends] - cum[later]).sum())

    @_lazy
    def _unit_cum(self) -> np.ndarray:
        """Characters in n-gram units 0..i-1, for i = 0..n_gram_units."""
        out = np.zeros(self.n_gram_units + 1, dtype=np.int64)
        np.cumsum(self.unit_lengths, out=out[1:])
        return out

    @_lazy
    def line_ends_sentence(self) -> list[bool]:
        # `segment.ends_sentence` inlined: one function call less per line.
        closing, terminal, ellipsis = segment.CLOSING_PUNCTUATION, segment.TERMINAL_SET, ("..", "…")
        return [(core := line.rstrip(closing))[-1:] in terminal and not core.endswith(ellipsis) for line in self.lines]

    @_lazy
    def line_units(self) -> list[int]:
        """Units per line as C4 counts them: whitespace words, or characters for character-unit scripts."""
        if self.char_units:
            table = self._char_line_table
            if table is not None:
                return table[0]
            return segment.line_unit_counts(self.text, self.profile)
        # `lines` are stripped and not empty: a line whose only whitespace is single spaces (every other whitespace
        # character is unprintable) has one token more than spaces, counted without building the tokens.
        return [
            line.count(" ") + 1 if line.isprintable() and "  " not in line else len(line.split()) for line in self.lines
        ]

    @_lazy
    def _char_line_table(self) -> tuple[list[int], list[int], list[int], list[int]] | None:
        """Character scripts, pages of many lines: per line (units, holds a foreign character, characters in foreign
        runs of the lower-cased line, foreign runs), by table lookups over the code points and one count per line
        id: what `segment.line_unit_counts` and the per-line search and findall of `line_sizes` give, ~2x cheaper
        on a 200-line page (numpy's fixed cost loses below ~30 lines). None: a short page, measured per line."""
        if len(self.lines) < _LINE_TABLE_MIN_LINES:
            return None
        cps = segment._codepoints(self.text)
        line_id = np.cumsum(cps == 10)
        n_raw = int(line_id[-1]) + 1
        units = np.bincount(line_id[segment._UNIT_CLASS.take(cps) == segment._WORD], minlength=n_raw)
        gate = np.bincount(line_id[_FOREIGN_GATE.take(cps)], minlength=n_raw)
        lower = segment._codepoints(self.lower)
        if len(lower) != len(cps):  # a character lower-cased into several: the line breaks moved
            line_id = np.cumsum(lower == 10)
        run = _FOREIGN_RUN.take(lower)
        chars = np.bincount(line_id[run], minlength=n_raw)
        runs = np.bincount(line_id[_starts(run)], minlength=n_raw)
        keep = np.array(self._nonblank, dtype=bool)
        return units[keep].tolist(), gate[keep].tolist(), chars[keep].tolist(), runs[keep].tolist()

    @_lazy
    def line_sentence_ends(self) -> list[int]:
        """Sentence ends in each line (`segment.SENTENCE_MARK_RE`)."""
        find = segment.SENTENCE_MARK_RE.findall
        return [len(find(line)) for line in self.lines]

    @_lazy
    def sentence_total(self) -> int:
        """Sentences in all lines (see `segment.sentence_count`): sentence ends, plus one per unterminated line."""
        if not self.profile.sentence_punct:
            return len(self.text.split())
        counted = self.__dict__.get("line_sentence_ends")
        if counted is not None:
            ends = sum(counted)
        else:
            # One findall over the lines joined by "\n", not one per line: a match never holds a line break, and
            # after a line's last mark "\n" passes the look-ahead as the end of the line did (`\s` or `\Z`).
            ends = len(segment.SENTENCE_MARK_RE.findall("\n".join(self.lines)))
        return ends + self.line_ends_sentence.count(False)

    @_lazy
    def first_line_view(self) -> DocView:
        """A view of the first line alone (SEO pages stuff their title, the first line of all visible text)."""
        return DocView(self.lines[0] if self.lines else "", self.profile, self.lexicon)

    @_lazy
    def dup_paragraphs(self) -> tuple[int, int]:
        """(paragraphs repeating an earlier one, their characters)."""
        return find_duplicates(self.paragraphs)

    @_lazy
    def dup_lines(self) -> tuple[int, int]:
        """(lines repeating an earlier one, their characters)."""
        return find_duplicates(self.lines)

    # --- features for the page-shape rules -------------------------------------------------------------------

    @_lazy
    def foreign_words(self) -> tuple[int, int]:
        """Character-unit scripts: (runs of Latin/Cyrillic/Greek letters or digits, their characters)."""
        runs = _FOREIGN_RUN_RE.findall(self.lower)
        return len(runs), sum(map(len, runs))

    @_lazy
    def size(self) -> float:
        """Length in script units: words, or characters with each embedded foreign word counted as one word's worth."""
        if not self.char_units:
            return float(self.n_units)
        runs, chars = self.foreign_words
        return float(self.n_units - chars) + runs * self.profile.chars_per_word

    @_lazy
    def line_sizes(self) -> list[float]:
        if not self.char_units:
            return [float(n) for n in self.line_units]
        k = self.profile.chars_per_word
        table = self._char_line_table
        if table is not None:
            units, gate, chars, runs = table
            return [
                float(n - c + r * k) if n and g else float(n)
                for n, g, c, r in zip(self.line_units, gate, chars, runs, strict=True)
            ]
        out = []
        for line, n in zip(self.lines, self.line_units, strict=True):
            if n and _FOREIGN_CHAR_RE.search(line):
                runs = _FOREIGN_RUN_RE.findall(line.lower())
                n = n - sum(map(len, runs)) + len(runs) * k
            out.append(float(n))
        return out

    @_lazy
    def line_has_sentence_mark(self) -> list[bool]:
        """Whether each line holds a sentence end anywhere (not only at its end)."""
        if not self.profile.sentence_punct:
            return [True] * len(self.lines)
        # A line that ends a sentence has one; otherwise look for a mark followed by a space, or a mark of the
        # scripts that need none (~5x cheaper than the sentence regex per line, same answer on prose), with one
        # regex alternation of the marks: the same answer as an `in` test per mark, ~7x cheaper per line.
        search = _MID_SENTENCE_MARK_RE.search
        return [
            end or search(line) is not None for end, line in zip(self.line_ends_sentence, self.lines, strict=True)
        ]


    def prose_lines(self, min_line_units: float) -> list[int]:
        """Indices of the prose lines: at least `min_line_units`, holding a sentence end (scripts that write no
        sentence marks: length alone), and no copyright or legal marker in a footer-sized line (``© 2016 ... 版权所有
        ... 粤ICP备``). Menus, link lists, titles, catalogue rows and footers are not prose."""
        cache = self.__dict__.setdefault("_prose_lines", {})
        out = cache.get(min_line_units)
        if out is None:
            sizes, marks = self.line_sizes, self.line_has_sentence_mark
            out = [i for i, (n, m) in enumerate(zip(sizes, marks, strict=True)) if m and n >= min_line_units]
            footer = self.lexicon.footer if self.lexicon is not None else None
            if footer is not None:
                lines, lower = self.lines, self.lower_lines
                out = [i for i in out if len(lines[i]) > _FOOTER_MAX_CHARS or not footer.search(lower[i])]
            teasers = self.teasers
            if teasers is not None and len(out) >= teasers[0]:
                out = _without_teasers(self, out, *teasers)
            cache[min_line_units] = out
        return out

    def prose_size(self, min_line_units: float) -> float:
        """Script units in the prose lines (`prose_lines`)."""
        cache = self.__dict__.setdefault("_prose", {})
        if min_line_units not in cache:
            sizes = self.line_sizes
            cache[min_line_units] = sum(sizes[i] for i in self.prose_lines(min_line_units))
        return cache[min_line_units]  # type: ignore[no-any-return]

    def paragraph_size(self, min_line_units: float, paragraph_units: float) -> float:
        """Script units in the prose lines (`prose_lines`) that read as paragraphs: two sentence ends or more, or at
        least `paragraph_units`. A list of titles, questions or teasers is made of one-sentence lines; an article
        has at least one paragraph."""
        sizes, lines = self.line_sizes, self.lines
        ends = self.__dict__.get("line_sentence_ends")  # only the short prose lines need counting: not every line
        find = segment.SENTENCE_MARK_RE.findall
        return sum(
            sizes[i] for i in self.prose_lines(min_line_units)
            if sizes[i] >= paragraph_units or (ends[i] if ends is not None else len(find(lines[i]))) >= 2
        )

    @_lazy
    def title_inside_lines(self) -> int:
        """Times the first line (the title, in all-visible-text pages; 8+ characters) occurs inside another line,
        neither at its start nor at its end: hacked pages inject their SEO title into the body's sentences
        (breadcrumbs end with the title, headings start with it)."""
        lines = self.lines
        if len(lines) < 2 or len(lines[0]) < 8:
            return 0
        title, n = lines[0], 0
        text = self.text
        if text.find(title, text.find(title) + 1) < 0:  # one `find` in C: the title occurs nowhere else
            return 0
        for line in lines[1:]:
            if len(line) <= len(title) + 1:
                continue
            i = line.find(title)
            while i >= 0:
                if 0 < i and i + len(title) < len(line) - 1:
                    n += 1
                i = line.find(title, i + 1)
        return n

    @_lazy
    def url_tokens(self) -> int:
        """URLs and bare domain names in the text (link farms list them by the dozen): domain names with a known
        top-level domain, or URLs (``://``) when there are more of those."""
        lower = self.lower
        if "." not in lower:
            return 0
        domains = sum(
            1
            for m in _DOMAIN_END_RE.finditer(lower)
            if m.group(1) in _TLD_SET and m.start() > 0 and lower[m.start() - 1].isalnum()
            and lower[m.start() - 1].isascii()
        )
        return max(domains, lower.count("://"))

    def repeated_prefix_frac(self, min_line_units: float) -> float:
        """Share of the lines that are not prose (`prose_size`) and start (2 words, or 3 characters) like 2+ other
        such lines: keyword, lottery and catalogue lists. Prose lines are left out, so text that repeats an
        opening on purpose (a charter's "Everyone has the right ...") is not a list."""
        if not self.lines:
            return 0.0
        lead, sizes, marks = _LEAD_CHARS, self.line_sizes, self.line_has_sentence_mark
        if self.char_units:  # slice, then lower: lower() of a cut string may differ (final sigma, "İ")
            keys = [
                "" if mark and n >= min_line_units else line.lstrip(lead)[:3].lower()
                for line, n, mark in zip(self.lines, sizes, marks, strict=True)
            ]
        else:  # lower() maps no character into `_LEAD_CHARS` nor changes one of them: lower, then strip
            keys = [
                "" if mark and n >= min_line_units else " ".join(low.lstrip(lead).split(None, 2)[:2])
                for low, n, mark in zip(self.lower_lines, sizes, marks, strict=True)
            ]
        counts = Counter(keys)  # counted in C
        return sum(c for k, c in counts.items() if k and c >= 3) / len(keys)


def _without_teasers(v: DocView, prose: list[int], least: int, units: float) -> list[int]:
    """The prose lines but the teasers — lines of at least `units` ending with an ellipsis — when `least` or more are:
    truncated snippets and "related articles ……" excerpts, not the page's own text. One truncated paragraph (a
    chapter cut off at the end) stays prose, and so do short lines trailing off ("呵呵……", "そうですね…"): casual
    writing ends thoughts that way, a snippet is cut at a fixed length. Only lines that end no sentence are looked
    at (an ellipsis is no sentence end): most prose lines are ruled out by a list lookup."""
    lines, ends_sentence, sizes = v.lines, v.line_ends_sentence, v.line_sizes
    closing, ends = segment.CLOSING_PUNCTUATION, segment.ELLIPSIS_ENDS
    cut = [i for i in prose
           if not ends_sentence[i] and sizes[i] >= units and lines[i].rstrip(closing).endswith(ends)]  # fmt: skip
    if len(cut) < least:
        return prose
    drop = set(cut)
    return [i for i in prose if i not in drop]


_MID_SENTENCE_MARKS = (". ", "? ", "! ", ".\" ", "。", "！", "？", "．", "｡", "।", "؟", "۔", "។", "။", "።", "։ ")
_MID_SENTENCE_MARK_RE = re.compile("|".join(map(re.escape, _MID_SENTENCE_MARKS)))

#: Per-line features a view of some of a page's lines can take from the page instead of measuring them again.
_PER_LINE = ("line_units", "line_sizes", "line_sentence_ends", "line_ends_sentence", "line_has_sentence_mark")

_TLDS = (
    "com|net|org|info|biz|edu|gov|cn|top|xyz|vip|club|site|online|shop|loan|download|win|bid|date|cricket|"
    "party|racing|review|science|stream|trade|webcam|men|work|link|click|pw|tk|ml|ga|cf|gq|cc|tv|me|io|co|ws|"
    "uk|de|fr|ru|jp|kr|tw|hk|in|br|it|es|nl|pl|us|ca|au|vn|th|id|my|sg|ph|eu|asia"
)
_TLD_SET = frozenset(_TLDS.split("|"))
# A domain name ends with ".<known TLD>" after a letter or digit and before no further label. The pattern starts with
# the literal "." so `re` skips ahead between dots (with a look-behind or a class first it scanned ~25x slower); the
# TLD and the character before the dot are checked in Python, on the few matches.
_DOMAIN_END_RE = re.compile(r"\.([a-z]{2,8})(?![a-z0-9-]|\.[a-z0-9])")
_LEAD_CHARS = " \t\u3000\u00a0-*•·●○■□▪▫◦‣–—►▶➢✓✔→・|>#[](){}【】「」『』《》〈〉\"'“”‘’.,:;!?、，。：；！？_=+~"
_FOREIGN = r"[0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]"
_FOREIGN_RUN_RE = re.compile(_FOREIGN + _FOREIGN + "*")  # `[x][x]*`, not `[x]+`: see `pipeline.text.segment`
_FOREIGN_CHAR_RE = re.compile(r"[0-9A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]")
#: Pages of at least this many lines get their per-line unit and foreign-run counts from `DocView._char_line_table`.
_LINE_TABLE_MIN_LINES = 32


def _class_table(pattern: re.Pattern[str]) -> np.ndarray:
    """Per code point: whether a one-character class `pattern` matches it (the pattern itself decides)."""
    table = np.zeros(0x110000, dtype=bool)
    bmp = "".join(map(chr, range(0x10000)))
    table[[m.start() for m in pattern.finditer(bmp)]] = True
    return table


_FOREIGN_GATE = _class_table(_FOREIGN_CHAR_RE)
_FOREIGN_RUN = _class_table(re.compile(_FOREIGN))


#: `measure_ngrams` takes views in chunks of about this many units (words, or characters of character-unit text):
#: larger chunks spill the caches and make two keys sharing the 32 bits `_grouping_order` sorts by likelier.
_BATCH_UNITS = 1 << 14


def measure_ngrams(views: Sequence[DocView], sizes: Sequence[int]) -> None:
    """The n-gram rules' figures of many views at once, for every size in `sizes` — the most frequent n-gram's
    occurrences and characters, the characters covered by repeated n-grams — kept on each view, where
    `top_ngram_count`, `top_ngram_chars` and `dup_ngram_chars` find them. The views share one unit kind (words or
    character units).

    Why: per document, each size costs ~15 numpy calls whose fixed cost exceeds the work on a 3 KB page; over a
    batch they are paid once per size. The values are the per-view ones: a key is the same offset-free polynomial
    hash of the n-gram's characters wherever the text lies in the batch, a stable sort keeps the positions of equal
    keys ascending — document by document — and a run of equal keys ends where its document does."""
    chunk: list[DocView] = []
    units = 0
    for v in views:
        size = len(v.lower) if v.char_units else v.n_units
        if chunk and units + size > _BATCH_UNITS:
            _measure_ngrams(chunk, sizes)
            chunk, units = [], 0
        chunk.append(v)
        units += size
    if chunk:
        _measure_ngrams(chunk, sizes)


def _grouping_order(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stable order of `keys` that puts equal keys side by side (positions ascending among them), as
    ``keys.argsort(kind="stable")`` does: two stable radix passes over the keys' top 32 bits, 16 at a time (numpy
    sorts 16-bit keys by radix, ~3x cheaper than a merge sort of the 64-bit ones). When two different keys share
    those bits and land side by side, the full sort instead. Returns the order and the keys in it."""
    if len(keys) <= _FEW_POSITIONS:
        order = keys.argsort(kind="stable")
        return order, keys[order]
    order = ((keys >> np.uint64(32)).astype(np.uint16)).argsort(kind="stable")
    order = order[((keys[order] >> np.uint64(48)).astype(np.uint16)).argsort(kind="stable")]
    sk = keys[order]
    high = sk >> np.uint64(32)
    if ((high[1:] == high[:-1]) & (sk[1:] != sk[:-1])).any():
        order = keys.argsort(kind="stable")
        return order, keys[order]
    return order, sk


def _batch_units(views: Sequence[DocView]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """(code points of the views' n-gram text, one after the other; start and end offsets of every n-gram unit in
    them; units per view). Words: the views' `joined` texts joined by a space (a unit ends at a space). Character
    units: `char_gram_starts` and `unit_codepoints` over the views' lower-cased texts joined by a line break (a
    separator: no unit spans it, and `unit_codepoints` leaves no gap between the views' units)."""
    if not views[0].char_units:
        counts = [v.n_gram_units for v in views]
        cps = segment._codepoints(" ".join([v.joined for v in views if v.n_gram_units]))
        starts, ends = _space_bounds(cps) if len(cps) else (_EMPTY, _EMPTY)
        return cps, starts, ends, counts
    lowers = [v.lower for v in views]
    raw = segment._codepoints("\n".join(lowers))
    unit = segment._UNIT_CLASS.take(raw) == segment._WORD
    foreign = segment._FOREIGN_CHAR.take(raw) & unit
    glued = np.zeros(len(raw), dtype=bool)
    np.logical_and(foreign[1:], foreign[:-1], out=glued[1:])  # a foreign character right after another
    cps = raw[unit]
    starts = (~glued[unit]).nonzero()[0]
    ends = np.append(starts[1:], len(cps)) if len(starts) else _EMPTY
    lengths = np.array([len(s) + 1 for s in lowers], dtype=np.int64)
    view_of_char = np.arange(len(views)).repeat(lengths)[: len(raw)]
    counts = np.bincount(view_of_char[unit][starts], minlength=len(views)).tolist()
    return cps, starts, ends, counts


def _measure_ngrams(views: Sequence[DocView], sizes: Sequence[int]) -> None:
    cps, starts, ends, counts = _batch_units(views)
    k = len(views)
    units = np.array(counts, dtype=np.int64)
    view_of = np.arange(k).repeat(units)  # the view of each unit
    total = len(starts)
    room = units.cumsum()[view_of] - np.arange(total)  # units from each one to its view's end
    pw, inv = _Powers.get(len(cps) + 1)
    prefix = _hash_prefix(cps, pw)
    at_start, at_end, at_inv = prefix[starts], prefix[ends], inv[starts]
    del cps, prefix  # the chunk's largest arrays: freed before the sizes' work, not after it
    cum = np.zeros(total + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=cum[1:])
    found: list[dict[tuple[str, int], int]] = [v.__dict__.setdefault("_ngram_chars", {}) for v in views]
    cand: np.ndarray | None = None  # None: every position (the first size)
    for n in sorted(set(sizes)):
        top = (units >= n).astype(np.int64)  # 1: no n-gram repeats; 0: no n-gram at all
        top_chars = np.zeros(k, dtype=np.int64)
        dup_chars = np.zeros(k, dtype=np.int64)
        if cand is None:  # slices, not gathers, over every position; then those whose n-gram ends in their view
            m = max(total - n + 1, 0)
            valid = room[:m] >= n
            pos = valid.nonzero()[0]
            keys = ((at_end[n - 1 :] - at_start[:m]) * at_inv[:m])[valid]
        else:
            pos = cand[room[cand] >= n]
            keys = (at_end[pos + (n - 1)] - at_start[pos]) * at_inv[pos]
        cand = _EMPTY
        if len(pos):
            order, sk = _grouping_order(keys)
            at = pos[order]
            sv = view_of[at]
            m = len(sk)
            new = np.empty(m, dtype=bool)
            new[0] = True
            np.not_equal(sk[1:], sk[:-1], out=new[1:])
            new[1:] |= sv[1:] != sv[:-1]
            run = new.nonzero()[0]
            count = np.empty(len(run), dtype=np.int64)
            np.subtract(run[1:], run[:-1], out=count[:-1])
            count[-1] = m - run[-1]
            repeats = count > 1
            if repeats.any():
                run_view = sv[run]
                np.maximum.at(top, run_view[repeats], count[repeats])
                best = repeats & (count == top[run_view])
                first = at[run[best]]  # the first occurrence of each most frequent n-gram
                longest = np.zeros(k, dtype=np.int64)
                np.maximum.at(longest, run_view[best], ends[first + (n - 1)] - starts[first])
                top_chars = np.where(top >= 2, top * longest, 0)
                in_repeat = repeats.repeat(count)
                cand, later = at[in_repeat], at[in_repeat & ~new]  # fresh arrays: sorted in place
                cand.sort()
                later.sort()
                # as `dup_ngram_chars`: the union of the spans [s, s + n) is that of [s_i, min(s_i + n, s_i+1))
                # (the next later start, in a later view, lies past this view's units)
                span_end = np.minimum(later + n, np.append(later[1:], total))
                dup_chars = np.bincount(view_of[later], weights=cum[span_end] - cum[later], minlength=k).astype(
                    np.int64
                )
        for v, f, t, tc, dc in zip(views, found, top.tolist(), top_chars.tolist(), dup_chars.tolist(), strict=True):
            v._top_counts[n] = t
            f["top", n] = tc
            f["dup", n] = dc


# --- per-line features of many pages at once (`measure_lines`, `measure_letterless_words`) ------------------------

_SPACE = _class_table(re.compile(r"\s"))
_MARK = _class_table(re.compile(segment._SENTENCE_MARKS))
#: The sentence marks that end a sentence without a following space (the look-behind of `SENTENCE_MARK_RE`).
_MARK_ALONE = _class_table(re.compile(r"[。．！？｡।॥؟۔።፧។៕။།༎]"))
#: What may follow the other marks at a sentence end (the look-ahead of `SENTENCE_MARK_RE`, with the text's end).
_MARK_FOLLOW = _class_table(re.compile(r"[\s" + re.escape(segment.CLOSING_PUNCTUATION) + r"]"))
_LETTER = _class_table(re.compile(f"[{segment._LM}]"))


def _flag_table() -> np.ndarray:
    """The classes `measure_lines` and `measure_letterless_words` look up, one bit each in one table: a single
    `take` per text instead of one per class (a lookup costs ~10 instructions a character, a bit test ~1)."""
    out = np.zeros(0x110000, dtype=np.uint8)
    classes = (segment._UNIT_CLASS == segment._WORD, _SPACE, _FOREIGN_GATE, _MARK, _MARK_ALONE, _MARK_FOLLOW,
               _LETTER, segment._UNIT_CLASS == segment._CONNECTOR)  # fmt: skip
    for bit, table in enumerate(classes):
        out |= table.astype(np.uint8) << bit
    return out


_FLAGS = _flag_table()
_F_WORD, _F_SPACE, _F_GATE, _F_MARK, _F_ALONE, _F_FOLLOW, _F_LETTER, _F_CONNECTOR = (1 << b for b in range(8))
#: `measure_lines` and `measure_letterless_words` take texts in chunks of about this many characters.
_LINE_BATCH_CHARS = 1 << 16


def _chunks(views: Sequence[DocView], limit: int) -> list[list[DocView]]:
    out: list[list[DocView]] = [[]]
    chars = 0
    for v in views:
        if out[-1] and chars + len(v.text) > limit:
            out.append([])
            chars = 0
        out[-1].append(v)
        chars += len(v.text)
    return out if out[0] else []


def _starts(flags: np.ndarray) -> np.ndarray:
    """Where a run of True begins (one comparison, True > False: not a copy, a negation and an and)."""
    out = np.empty(len(flags), dtype=bool)
    if len(flags):
        out[0] = flags[0]
        np.greater(flags[1:], flags[:-1], out=out[1:])
    return out


def _ends(flags: np.ndarray) -> np.ndarray:
    """Where a run of True ends (its last position): `_starts` of the reversed flags, without reversed strides."""
    out = np.empty(len(flags), dtype=bool)
    if len(flags):
        out[-1] = flags[-1]
        np.greater(flags[:-1], flags[1:], out=out[:-1])
    return out


def measure_lines(pages: Sequence[DocView]) -> None:
    """The per-line features of many pages at once, kept on each page as the lazy features they stand for:
    `line_units` (word scripts: whitespace tokens; character scripts: `_char_line_table` and `foreign_words`) and,
    in scripts with sentence marks, `line_sentence_ends`. Why: per page these are a Python loop over the lines (a
    `split`, a regex search and findall per line) or ~12 numpy calls; over a batch the calls are paid once. The
    values are the per-page ones: every feature is counted per line, and the pages are joined by a line break.

    `line_sentence_ends` counts the matches of `segment.SENTENCE_MARK_RE` per line without the regex: each maximal
    run of marks holds exactly one, when it contains a mark that needs no following space or is followed by
    whitespace, a closing mark or the end (otherwise none: the greedy run backtracks to its last such mark, or
    fails at every start inside the run)."""
    for chunk in _chunks([v for v in pages if v.lines], _LINE_BATCH_CHARS):
        _measure_lines(chunk)


def _measure_lines(pages: list[DocView], cps: np.ndarray | None = None, flags: np.ndarray | None = None) -> None:
    """`cps`, `flags`: the code points of the pages' texts joined by a line break and their `_FLAGS`, when the caller
    has them (`measure_pages`)."""
    if cps is None or flags is None:
        cps = segment._codepoints("\n".join([v.text for v in pages]))
        flags = _FLAGS.take(cps)
    size = len(cps)
    # A line's count is the number of counted positions before its line break less those before the previous one
    # (a binary search per line, not per position; a cumulative sum over every character cost more than the rest).
    breaks = (cps == 10).nonzero()[0]
    n_raw = len(breaks) + 1
    keep = np.fromiter((f for v in pages for f in v._nonblank), dtype=bool, count=n_raw)
    cut: list[int] = []  # where each page's lines end among all the chunk's lines
    for v in pages:
        cut.append((cut[-1] if cut else 0) + len(v.lines))

    def per_line(at: np.ndarray, breaks: np.ndarray = breaks) -> list[list[int]]:
        """Per page, per line: how many of the positions `at` (ascending, never a line break) it holds."""
        before = np.empty(n_raw + 1, dtype=np.int64)
        before[0], before[-1] = 0, len(at)
        before[1:-1] = at.searchsorted(breaks)
        counts = np.diff(before)[keep].tolist()
        return [counts[a:b] for a, b in zip([0, *cut[:-1]], cut, strict=True)]

    word_pages = [v for v in pages if not v.char_units]
    if word_pages:
        tokens = per_line(_starts((flags & _F_SPACE) == 0).nonzero()[0])
        for v, units in zip(pages, tokens, strict=True):
            if not v.char_units:
                v.__dict__["line_units"] = units
    if len(word_pages) < len(pages):
        units = per_line(((flags & _F_WORD) != 0).nonzero()[0])
        gate = per_line(((flags & _F_GATE) != 0).nonzero()[0])
        lower = segment._codepoints("\n".join([v.lower for v in pages]))
        # a character lower-cased into several moves the line breaks
        lower_breaks = breaks if len(lower) == size else (lower == 10).nonzero()[0]
        run = _FOREIGN_RUN.take(lower)
        chars, runs = per_line(run.nonzero()[0], lower_breaks), per_line(_starts(run).nonzero()[0], lower_breaks)
        for i, v in enumerate(pages):
            if v.char_units:
                v.__dict__["_char_line_table"] = (units[i], gate[i], chars[i], runs[i])
                v.__dict__["foreign_words"] = (sum(runs[i]), sum(chars[i]))
    if any(v.profile.sentence_punct for v in pages):
        mark = (flags & _F_MARK) != 0
        first = _starts(mark).nonzero()[0]
        last = _ends(mark).nonzero()[0]  # the last mark of each run
        after = last + 1
        follow = np.ones(len(after), dtype=bool)  # the end of the text follows the last run of the last page
        inside = after < size
        follow[inside] = (flags[after[inside]] & _F_FOLLOW) != 0
        alone = ((flags & _F_ALONE) != 0).nonzero()[0]
        if len(alone):  # a run holding a mark that needs no space after it
            follow |= alone.searchsorted(after) > alone.searchsorted(first)
        for v, counts in zip(pages, per_line(first[follow]), strict=True):
            if v.profile.sentence_punct:
                v.__dict__["line_sentence_ends"] = counts


def measure_letterless_words(views: Sequence[DocView]) -> None:
    """`letterless_words` of many word-script views at once, without `segment`'s regex (~70 instructions a
    character): a letterless word starts with a character that is neither a separator nor a letter or mark, after
    a separator that does not join it to a word before (a connector after a word character), and its run of such
    characters ends at a separator or the text's end (what the regex's look-arounds and backtracking accept).
    Views that have the count already (a main text's, cut from its page's: `main_view`) are left out."""
    todo = [v for v in views if not v.char_units and "letterless_words" not in v.__dict__]
    for chunk in _chunks(todo, _LINE_BATCH_CHARS):
        texts = [v.lower for v in chunk]
        at = _letterless_starts(_FLAGS.take(segment._codepoints("\n".join(texts))))
        starts = np.cumsum([len(t) + 1 for t in texts])  # where each next view starts
        counts = np.bincount(starts.searchsorted(at, side="right"), minlength=len(chunk)).tolist()
        for v, n in zip(chunk, counts, strict=True):
            v.__dict__["letterless_words"] = n


def _letterless_starts(flags: np.ndarray) -> np.ndarray:
    """Where each letterless word starts (`measure_letterless_words`), in the text whose `_FLAGS` are `flags`."""
    size = len(flags)
    sep = (flags & _F_WORD) == 0  # connectors are separators too
    bare = (flags & (_F_WORD | _F_LETTER)) == _F_WORD
    first = _starts(bare).nonzero()[0]
    last = _ends(bare).nonzero()[0]
    after = last + 1
    ok = np.ones(len(first), dtype=bool)
    inside = after < size
    ok[inside] = sep[after[inside]]
    ok &= (first == 0) | sep[first - 1]
    joined = (first >= 2) & ((flags[first - 1] & _F_CONNECTOR) != 0) & ~sep[first - 2]
    ok &= ~joined
    return first[ok]


#: The classes `_measure_lines` looks up on a word-script page: the same for every code point and its lower case
#: (checked over every code point by tests/filter), so a page's lower-cased text gives them when it is as long.
_LINE_FLAGS = _F_SPACE | _F_MARK | _F_ALONE | _F_FOLLOW


def measure_pages(pages: Sequence[DocView]) -> None:
    """`measure_lines` and `measure_units` of many pages. Word-script pages whose lower-cased text is as long as
    the text (no character lower-cased into several) get both from one class lookup over their lower-cased texts:
    the line features only look up `_LINE_FLAGS`, which lower-casing keeps, at the same offsets. One encoding and one
    table lookup per character less than the two functions apart."""
    pages = [v for v in pages if v.lines]
    shared = [v for v in pages if not v.char_units and len(v.lower) == len(v.text)]
    if len(shared) < len(pages):
        rest = [v for v in pages if v.char_units or len(v.lower) != len(v.text)]
        measure_lines(rest)
        measure_units(rest)
    for chunk in _chunks(shared, _LINE_BATCH_CHARS):
        cps = segment._codepoints("\n".join([v.lower for v in chunk]))
        flags = _FLAGS.take(cps)
        _measure_lines(chunk, cps, flags)
        _measure_units(chunk, False, cps, flags)


def measure_units(pages: Sequence[DocView]) -> None:
    """The units of many pages at once: `joined` (words joined by a space: `segment.joined_words`) of word-script
    pages, `unit_text` (`segment.unit_codepoints`) of character-unit ones, with their code points; the same class
    table and array operations as those functions, over the pages' lower-cased texts joined by a line break (not a
    word character: no word spans it, and a connector beside it joins nothing, as at a text's start or end)."""
    for char_units in (False, True):
        for chunk in _chunks([v for v in pages if v.char_units == char_units], _LINE_BATCH_CHARS):
            _measure_units(chunk, char_units)


def _measure_units(chunk: list[DocView], char_units: bool, cps: np.ndarray | None = None,
                   flags: np.ndarray | None = None) -> None:
    """`cps`, `flags`: the code points of the pages' lower-cased texts joined by a line break and their `_FLAGS`, when
    the caller has them (`measure_pages`)."""
    lowers = [v.lower for v in chunk]
    if cps is None or flags is None:
        cps = segment._codepoints("\n".join(lowers))
        flags = _FLAGS.take(cps)
    word = (flags & _F_WORD) != 0
    bounds = np.zeros(len(chunk) + 1, dtype=np.int64)  # where each page starts (its line break goes with it)
    np.cumsum([len(s) + 1 for s in lowers], out=bounds[1:])
    np.minimum(bounds, len(cps), out=bounds)
    if char_units:
        keep, out = word, cps[word]
    else:
        conn = (((flags[1:-1] & _F_CONNECTOR) != 0).nonzero()[0] + 1) if len(cps) > 2 else _EMPTY
        if len(conn):  # as `segment.joined_words`
            word[conn[word[conn - 1] & word[conn + 1]]] = True
        keep = word.copy()
        keep[1:] |= word[:-1]
        out = np.where(word, cps, 32)[keep]
    cut = keep.nonzero()[0].searchsorted(bounds).tolist()  # characters of the output before each page's start
    if not char_units:
        # Letterless words from the same flags, kept per page as offsets in its lower-cased text: `main_view` counts
        # its main text's from them (`measure_letterless_words` would look up the main text's characters again).
        letterless = _letterless_starts(flags)
        split = letterless.searchsorted(bounds).tolist()
        offsets = (letterless - bounds.take(np.arange(len(chunk)).repeat(np.diff(split)))).tolist()
    for i, (v, a, b) in enumerate(zip(chunk, cut[:-1], cut[1:], strict=True)):
        piece = out[a:b]
        if char_units:
            v.__dict__["_codepoints"] = piece
            v.__dict__["unit_text"] = segment._from_codepoints(piece)
        else:
            if len(piece) and piece[-1] == 32:  # the space after the last word
                piece = piece[:-1]
            v.__dict__["_codepoints"] = piece
            v.__dict__["joined"] = segment._from_codepoints(piece)
            v.__dict__["_letterless_at"] = at = offsets[split[i] : split[i + 1]]
            v.__dict__["letterless_words"] = len(at)
