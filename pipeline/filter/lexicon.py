"""Word lists per language for the quality rules: stop words, obscene and gambling words, error-page phrases.

Why here: the rules (`pipeline.filter.rules`) only ask "how many" questions of a document; how a list is matched
depends on the script, and compiling a list is setup work, done once per language and filter, never per document.

Matching is script-aware:

- **Chinese, Japanese, Thai and the other character-unit scripts**: substrings of the lower-cased text (one compiled
  regex alternation, longest entries first; measured as fast as an Aho-Corasick automaton here: ~45 ns a character
  for 300 Chinese entries; with 100+ entries it is only tried where an entry's first two characters stand,
  `_matches`).
- **Korean**: an entry matches at the start of an eojeol (particles attach at the end: ``야동을`` is ``야동`` +
  ``을``), never inside one — Korean bad-word stems are often also the middle of ordinary words.
- **Everything else**: whole words (`pipeline.text.segment.words`), and multi-word entries as whole-word phrases, so
  ``essex`` never matches ``sex``.

Lists shipped in `pipeline/data/filter/`: ``badwords/<lang>.txt`` (obscene words: LDNOOBW, CC BY 4.0, curated —
``badwords/README.md`` says what was dropped and why), ``gambling.tsv``, ``adult_extra.tsv`` and ``spam.tsv`` (lang,
strength, term; written for this project; spam: fake pharmacy, replica, fraud-loan, black-market service and
money-making-scheme terms), ``status_phrases.tsv`` (lang, kind, phrase; error and placeholder pages, written
for this project), ``footer_phrases.tsv`` (lang, phrase; copyright and legal lines). ``hard`` entries count 1,
``soft`` entries `soft_weight`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from pipeline.text import segment
from pipeline.text.scripts import SPACELESS_SCRIPTS, script_counts
from pipeline.text.stopwords import ENDINGS, count_stop_words, stop_words_for

if TYPE_CHECKING:
    from pipeline.filter.view import DocView

__all__ = [
    "NOTICE_KINDS",
    "Lexicon",
    "TermMatcher",
    "anchor_groups",
    "builtin_terms",
    "footer_phrases",
    "status_phrases_all",
]

def _data_text(name: str) -> str:
    return resources.files("pipeline").joinpath("data", "filter", name).read_text(encoding="utf-8")


def _lang_key(lang: str | None) -> str | None:
    """Canonical code (kor_Hang) → the list key used in the data files (ko, zh-Hans, zh-Hant, ...)."""
    if lang is None:
        return None
    from pipeline.lang.codes import LANGUAGES

    iso3, _, script = lang.partition("_")
    info = LANGUAGES.get(iso3)
    if info is None:
        return None
    base = info.iso639_1 or iso3
    return f"{base}-{script}" if script and len(info.scripts) > 1 else base


@cache
def _read_tsv(name: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(_data_text(name).splitlines(), delimiter="\t"))
    return [{k: (v or "").strip() for k, v in r.items()} for r in rows]


def _keys_for(lang_key: str) -> tuple[str, ...]:
    """The data-file keys that hold a language's entries: zh-Hans → (zh-Hans, zh); ko → (ko,)."""
    base = lang_key.split("-")[0]
    return (lang_key, base) if base != lang_key else (lang_key,)


@cache
def builtin_terms(category: str, lang_key: str) -> tuple[tuple[str, float], ...]:
    """Shipped (term, weight-class) entries of a category for one language key: ``hard`` → 1.0, ``soft`` → 0.0
    (the caller applies its soft weight)."""
    out: dict[str, float] = {}
    keys = _keys_for(lang_key)
    if category == "adult":
        for key in keys:
            try:
                text = _data_text(f"badwords/{key}.txt")
            except (FileNotFoundError, OSError):
                continue
            for line in text.splitlines():
                term = line.strip().lower()
                if term and not term.startswith("#"):
                    out.setdefault(term, 1.0)
    table = {"adult": "adult_extra.tsv", "gambling": "gambling.tsv", "spam": "spam.tsv"}.get(category)
    if table is not None:
        for row in _read_tsv(table):
            if row["lang"] in keys:
                out.setdefault(row["term"].lower(), 1.0 if row["strength"] == "hard" else 0.0)
    return tuple(sorted(out.items()))


#: Status-phrase kinds that also appear as boilerplate on real pages (a login box, a "enable JavaScript" banner, a
#: "you are being redirected" link): they mark a page only when it has almost no prose.
NOTICE_KINDS = frozenset({"login_required", "javascript_required", "browser_unsupported", "redirect", "search_no_results"})


@cache
def status_phrases_all(notices: bool = False, lang_key: str | None = None) -> tuple[str, ...]:
    """The shipped error phrases (or with `notices` the notice phrases, `NOTICE_KINDS`) of a language and English
    (error pages are often in English on any site); every language's when `lang_key` is None."""
    keys = None if lang_key is None else {*_keys_for(lang_key), "en"}
    return tuple(sorted({
        r["phrase"].lower() for r in _read_tsv("status_phrases.tsv")
        if r["phrase"] and (r["kind"] in NOTICE_KINDS) == notices and (keys is None or r["lang"] in keys)
    }))  # fmt: skip


def _trie(terms: Iterable[str]) -> str:
    """A regex alternation of literal `terms` shaped as a trie (longest match first at each branch): `re` tries
    branches one by one, so 600 phrases as a flat ``a|b|c`` cost ~860 µs per 3 KB of text, as a trie ~110 µs."""
    root: dict[str, dict] = {}
    for term in terms:
        node = root
        for ch in term:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:
            return body + "?" if len(branches) == 1 and len(body) == 1 else f"(?:{body})?"
        return body

    return build(root)


def _alternation(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One compiled pattern matching any of `terms` (the longest where several start at one position)."""
    unique = frozenset(t for t in terms if t)
    return _compiled_trie(unique) if unique else None


@lru_cache(maxsize=1024)
def _compiled_trie(terms: frozenset[str]) -> re.Pattern[str]:
    """`_alternation`'s pattern, built once per set of terms: the lexicons of most languages share the same lists
    (English's, and every script's footer phrases), and building and compiling a trie of a few thousand terms costs
    ~5-30 ms, paid again by each of the ~100 languages a shard of a multilingual crawl holds (a pattern is
    immutable: sharing it changes no match)."""
    return re.compile(_trie(terms))


@lru_cache(maxsize=256)
def anchor_groups(phrases: tuple[str, ...], size: int = 6) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The phrases grouped under a substring every phrase of its group contains (`size` characters, or the whole
    phrase when shorter), greedily the one shared by most: where an anchor is not in a text, no phrase of its group
    is, so one `in` test rules out the group (the 20 cookie and privacy phrases of a Latin page: 9 tests)."""
    left = sorted(set(phrases))
    groups: list[tuple[str, tuple[str, ...]]] = []
    while left:
        shared: dict[str, int] = {}
        for ph in left:
            subs = {ph[i : i + size] for i in range(max(len(ph) - size, 0) + 1)}
            inner = {sub for sub in subs if sub.strip() == sub}  # " have ", " been ": common words, poor anchors
            for sub in inner or subs:
                shared[sub] = shared.get(sub, 0) + 1
        anchor = max(sorted(shared), key=shared.__getitem__)  # ties: the first in sorted order
        group = tuple(ph for ph in left if anchor in ph)
        groups.append((anchor, group))
        left = [ph for ph in left if anchor not in ph]
    return tuple(groups)


_HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")
_ASCII_ALNUM = re.compile(r"[0-9a-z]").match


@lru_cache(maxsize=65536)
def _spaceless(term: str) -> bool:
    """Whether an entry is written in a script without spaces between words (matched as a substring)."""
    return bool(set(script_counts(term)) & (SPACELESS_SCRIPTS | {"Hang"}))


class TermMatcher:
    """Counts weighted occurrences of list entries in a document, per category, matched the way its script needs.

    All categories are matched in one pass: `weights` maps an entry to its weight in each category it belongs to
    (a plain {entry: weight} mapping is one category, ``hits``)."""

    def __init__(self, weights: Mapping[str, float] | Mapping[str, Mapping[str, float]]) -> None:
        table: dict[str, dict[str, float]] = {}
        for term, w in weights.items():
            per_cat = {"hits": w} if isinstance(w, (int, float)) else dict(w)
            per_cat = {c: float(x) for c, x in per_cat.items() if x > 0}
            if term.strip() and per_cat:
                table.setdefault(term.lower(), {}).update(per_cat)
        self.weights = table
        self.categories = tuple(sorted({c for w in table.values() for c in w}))
        # In a character-unit document: its own script's entries as substrings, the others (English porn and casino
        # words in a Chinese page) as whole ASCII words, so "sussex" or "java" never count as "sex" or "av".
        spaceless = sorted(t for t in table if _spaceless(t))
        self._substring = _alternation(spaceless)
        self._pairs = _pair_filter(spaceless) if len(spaceless) >= _PAIR_FILTER_MIN_TERMS else None
        self._ascii_words = _alternation(t for t in table if not _spaceless(t))
        # In a space-delimited document: entries as whole words (`segment.words`), phrases as runs of whole words;
        # in Korean, entries in Hangul also as the start of an eojeol (the particles follow the stem).
        self._whole: set[str] = set()
        #: head word → (words, index of the head, entry, the words joined by a space) of the phrases indexed by it
        self._phrases: dict[str, list[tuple[tuple[str, ...], int, str, str]]] = {}
        stems: set[str] = set()
        for term in table:
            toks = segment.words(term)
            if len(toks) == 1 and toks[0] == term:
                self._whole.add(term)
                if _spaceless(term):
                    stems.add(term)
            elif toks:
                # indexed by its longest word (the rare one: "на хуй" by "хуй"), so a page without it costs nothing
                key = max(range(len(toks)), key=lambda i: (len(toks[i]), i))  # ties: the last word (the noun)
                self._phrases.setdefault(toks[key], []).append((tuple(toks), key, term, " ".join(toks)))
        self._whole_keys = frozenset(self._whole)
        self._phrase_heads = frozenset(self._phrases)
        self._keys = self._whole_keys | self._phrase_heads
        self._stem_re = _alternation(stems)
        self._stem_pairs = _pair_filter(stems) if len(stems) >= _PAIR_FILTER_MIN_TERMS else None

    def __bool__(self) -> bool:
        return bool(self.weights)

    def count_all(self, v: DocView) -> dict[str, float]:
        """Weighted hits per category (every category present, 0.0 when none)."""
        found = self._found(v) if self.weights else []
        out = dict.fromkeys(self.categories, 0.0)
        weights = self.weights
        for term, n in found:
            for cat, w in weights[term].items():
                out[cat] += w * n
        return out

    def count(self, v: DocView, category: str = "hits") -> float:
        return self.count_all(v).get(category, 0.0)

    def _substring_matches(self, lower: str) -> list[str]:
        """``self._substring.findall(lower)`` (`_matches`)."""
        assert self._substring is not None
        if self._pairs is None:
            return self._substring.findall(lower)  # type: ignore[no-any-return]  # no match objects
        return [m.group() for m in _matches(self._substring, self._pairs, lower)]

    def _found(self, v: DocView) -> list[tuple[str, int]]:
        """(entry, occurrences) pairs found in the document."""
        out: list[tuple[str, int]] = []
        if v.char_units:
            lower = v.lower
            if self._substring is not None:
                out += [(m, 1) for m in self._substring_matches(lower)]
            if self._ascii_words is not None:
                for m in self._ascii_words.finditer(lower):  # whole ASCII words: no letter or digit around
                    start, end = m.span()
                    if not (start and _ASCII_ALNUM(lower[start - 1])) and not (
                        end < len(lower) and _ASCII_ALNUM(lower[end])
                    ):
                        out.append((m.group(), 1))
            return out
        words = v.words
        # Set operations and list searches in C: no Python loop over the page's words, and one pass over them for
        # the entries and the phrases' heads. (The hits come in set order, which str hashing randomizes per
        # process: the order they are summed in was never fixed; the shipped weights, 1 and 0.25, sum exactly.)
        present = self._keys.intersection(words)
        out += [(w, words.count(w)) for w in present.intersection(self._whole_keys)]
        for head in present.intersection(self._phrase_heads):
            # A phrase can match only where its words, joined by a space, are a substring of the words joined by a
            # space: one search in C, instead of a scan of the word list per occurrence of a head that is a common
            # word ("online", "người").
            phrases = [p for p in self._phrases[head] if p[3] in v.joined]
            if not phrases:
                continue
            i = -1
            while True:
                try:
                    i = words.index(head, i + 1)
                except ValueError:
                    break
                for toks, key, term, _ in phrases:
                    start = i - key
                    if start >= 0 and tuple(words[start : start + len(toks)]) == toks:
                        out.append((term, 1))
        if self._stem_re is not None and v.profile.script == "Hang":
            # an entry in Hangul at the start of an eojeol (not inside one; a whole-word hit is counted above)
            lower = v.lower
            for m in _matches(self._stem_re, self._stem_pairs, lower):
                start, end = m.span()
                if (start == 0 or not _HANGUL_RE.match(lower[start - 1])) and end < len(lower) and _HANGUL_RE.match(
                    lower[end]
                ):
                    out.append((m.group(), 1))
        return out


#: From this many entries on, `TermMatcher` finds where their first two characters stand (`_PairFilter`) before it
#: tries their pattern: with fewer (Thai's ~50) the pattern alone is as cheap.
_PAIR_FILTER_MIN_TERMS = 100


class _PairFilter(NamedTuple):
    """Where an entry can start in a text: ``table[first[c0] + second[c1]]`` for each pair of adjacent characters
    (c0, c1), over the BMP (a character past it counts as U+FFFF: it shares a row or column with the others past it,
    so a position may be looked at in vain, never missed)."""

    #: Code point → its row offset in `table` (0: no entry starts with it).
    first: np.ndarray
    #: Code point → its column in `table` (0: no entry has it second, or the text ends).
    second: np.ndarray
    table: np.ndarray


def _matches(pattern: re.Pattern[str], pairs: _PairFilter | None, text: str) -> list[re.Match[str]]:
    """``list(pattern.finditer(text))`` for a pattern of literal entries (`_alternation`). With many entries (Chinese:
    ~400) the pattern is tried wherever a character can start one, ~55 ns a character; `pairs` finds the few
    positions where an entry's first two characters stand, and the pattern is matched there alone, left to right
    as finditer does (a match's end is where the next may start)."""
    if pairs is None or len(text) < segment._SHORT:
        return list(pattern.finditer(text))
    cps = segment._codepoints(text)
    key = pairs.first.take(cps, mode="clip")  # clip: any character past the BMP is 0xFFFF (`_pair_filter`)
    key[:-1] += pairs.second.take(cps[1:], mode="clip")
    out: list[re.Match[str]] = []
    end = 0
    match = pattern.match
    for at in pairs.table.take(key).nonzero()[0].tolist():
        if at >= end:
            m = match(text, at)
            if m is not None:
                out.append(m)
                end = m.end()
    return out


def _pair_filter(terms: Iterable[str]) -> _PairFilter:
    """The `_PairFilter` of some entries (two 256 KB tables and one of first × second characters, built once per
    matcher)."""
    terms = [t for t in terms if t]
    bmp = lambda ch: min(ord(ch), 0xFFFF)  # noqa: E731
    firsts = sorted({bmp(t[0]) for t in terms})
    seconds = sorted({bmp(t[1]) for t in terms if len(t) > 1})
    width = len(seconds) + 1
    first = np.zeros(0x10000, dtype=np.int32)
    first[firsts] = np.arange(1, len(firsts) + 1, dtype=np.int32) * width
    second = np.zeros(0x10000, dtype=np.int32)
    second[seconds] = np.arange(1, len(seconds) + 1, dtype=np.int32)
    table = np.zeros((len(firsts) + 1) * width, dtype=bool)
    for t in terms:
        row = int(first[bmp(t[0])])
        if len(t) == 1:
            table[row : row + width] = True  # a one-character entry: whatever follows
        else:
            table[row + int(second[bmp(t[1])])] = True
    return _PairFilter(first, second, table)


@lru_cache(maxsize=256)
def _term_matcher(table: tuple[tuple[str, tuple[tuple[str, float], ...]], ...]) -> TermMatcher:
    """`TermMatcher` of a table given as its items in order, built once: most languages' tables are the same (the
    English lists), and a matcher is ~2 ms to build. The order is part of the key (it orders the hits summed per
    category). Not changed after it is built, so languages can share it."""
    return TermMatcher({term: dict(cats) for term, cats in table})


@cache
def footer_phrases(lang_key: str | None) -> tuple[str, ...]:
    """Copyright, legal and site-credit markers of a language, English and every script (``*``): lines holding
    one are page furniture, never the page's prose."""
    keys = {"*", "en", *(_keys_for(lang_key) if lang_key else ())}
    return tuple(sorted({r["phrase"].lower() for r in _read_tsv("footer_phrases.tsv") if r["lang"] in keys}))


@dataclass
class Lexicon:
    """Everything a language needs from word lists, compiled once per (filter, language)."""

    stops: frozenset[str] | None
    endings: frozenset[str] | None
    words: TermMatcher
    phrases: re.Pattern[str] | None
    notices: re.Pattern[str] | None = None
    footer: re.Pattern[str] | None = None
    #: `anchor_groups` anchors of the phrases and the notices: a text holding none of them holds no phrase, and the
    #: pattern (~290 instructions per character of a Latin page) is not run. None: always run it.
    phrase_anchors: tuple[str, ...] | None = None
    notice_anchors: tuple[str, ...] | None = None

    @classmethod
    def build(
        cls,
        lang: str | None,
        *,
        stop_words: Iterable[str] | None = None,
        categories: Iterable[str] = (),
        soft_weight: float = 0.25,
        extra: Mapping[str, Iterable[str]] | None = None,
        replace: Mapping[str, Iterable[str]] | None = None,
        phrases: Iterable[str] | None = None,
    ) -> Lexicon:
        """`extra` / `replace`: category → entries added to / replacing the shipped list of the language (hard)."""
        stops = frozenset(w.lower() for w in stop_words) if stop_words is not None else (
            stop_words_for(lang) if lang else None
        )
        endings = ENDINGS.get(lang) if lang is not None and stop_words is None else None
        key = _lang_key(lang)
        table: dict[str, dict[str, float]] = {}
        for cat in categories:
            weights: dict[str, float] = {}
            if replace and cat in replace:
                weights = {t.lower(): 1.0 for t in replace[cat]}
            else:
                keys = [key] if key else []
                if key and key.split("-")[0] != "en":
                    keys.append("en")  # English porn and casino words appear on pages in every language
                for k in keys:
                    for term, hard in builtin_terms(cat, k):
                        weights.setdefault(term, 1.0 if hard else soft_weight)
            for t in (extra or {}).get(cat, ()):
                weights[t.lower()] = 1.0
            for term, w in weights.items():
                table.setdefault(term, {})[cat] = w
        phrase_list = status_phrases_all(False, key) if phrases is None else tuple(p.lower() for p in phrases)
        notices = status_phrases_all(True, key) if phrases is None else ()
        return cls(stops, endings, _term_matcher(tuple((t, tuple(c.items())) for t, c in table.items())),
                   _alternation(phrase_list), _alternation(notices),
                   _alternation(footer_phrases(key)), _anchors(phrase_list), _anchors(notices))

    def stop_words_found(self, v: DocView) -> float | None:
        if self.stops is None:
            return None
        if v.char_units:
            return float(count_stop_words(self.stops, text=v.lower))
        return float(count_stop_words(self.stops, words=v.words, endings=self.endings))

    def word_hits(self, v: DocView, category: str) -> float:
        """Weighted hits of a category in the document (all categories are counted at once and kept on the view)."""
        hits = v.__dict__.get("_word_hits")
        if hits is None:
            hits = v.__dict__["_word_hits"] = self.words.count_all(v)
        return hits.get(category, 0.0)

    def status_phrases(self, v: DocView, notices: bool = False) -> int:
        pattern = self.notices if notices else self.phrases
        if pattern is None:
            return 0
        anchors = self.notice_anchors if notices else self.phrase_anchors
        lower = v.lower
        if anchors is not None and not any(a in lower for a in anchors):
            return 0
        return len(pattern.findall(lower))


def _anchors(phrases: Iterable[str]) -> tuple[str, ...]:
    return tuple(anchor for anchor, _ in anchor_groups(tuple(p for p in phrases if p)))


