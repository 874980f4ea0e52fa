"""Word lists per language for the quality rules: stop words, obscene and gambling words, error-page phrases.

Why here: the rules (`pipeline.filter.rules`) only ask "how many" questions of a document; how a list is matched
depends on the script, and compiling a list is setup work, done once per language and filter, never per document.

Matching is script-aware:

- **Chinese, Japanese, Thai and the other character-unit scripts**: substrings of the lower-cased text (one compiled
  regex alternation, longest entries first; measured as fast as an Aho-Corasick automaton here: ~45 ns a character
  for 300 Chinese entries).
- **Korean**: an entry matches at the start of an eojeol (particles attach at the end: ``야동을`` is ``야동`` +
  ``을``), never inside one — Korean bad-word stems are often also the middle of ordinary words.
- **Everything else**: whole words (`pipeline.text.segment.words`), and multi-word entries as whole-word phrases, so
  ``essex`` never matches ``sex``.

Lists shipped in `pipeline/data/filter/`: ``badwords/<lang>.txt`` (obscene words: LDNOOBW, CC BY 4.0, curated —
``badwords/README.md`` says what was dropped and why), ``gambling.tsv`` and ``adult_extra.tsv`` (lang, strength,
term; written for this project), ``status_phrases.tsv`` (lang, kind, phrase; error and placeholder pages, written
for this project). ``hard`` entries count 1, ``soft`` entries `soft_weight`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from pipeline.text import segment
from pipeline.text.scripts import SPACELESS_SCRIPTS, script_counts
from pipeline.text.stopwords import ENDINGS, count_stop_words, stop_words_for

if TYPE_CHECKING:
    from pipeline.filter.view import DocView

__all__ = ["NOTICE_KINDS", "Lexicon", "TermMatcher", "builtin_terms", "status_phrases_all"]

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


def _read_tsv(name: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(_data_text(name).splitlines(), delimiter="\t"))
    return [{k: (v or "").strip() for k, v in r.items()} for r in rows]


def _keys_for(lang_key: str) -> tuple[str, ...]:
    """The data-file keys that hold a language's entries: zh-Hans → (zh-Hans, zh); ko → (ko,)."""
    base = lang_key.split("-")[0]
    return (lang_key, base) if base != lang_key else (lang_key,)


@lru_cache(maxsize=None)
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
    table = {"adult": "adult_extra.tsv", "gambling": "gambling.tsv"}.get(category)
    if table is not None:
        for row in _read_tsv(table):
            if row["lang"] in keys:
                out.setdefault(row["term"].lower(), 1.0 if row["strength"] == "hard" else 0.0)
    return tuple(sorted(out.items()))


#: Status-phrase kinds that also appear as boilerplate on real pages (a login box, a "enable JavaScript" banner, a
#: "you are being redirected" link): they mark a page only when it has almost no prose.
NOTICE_KINDS = frozenset({"login_required", "javascript_required", "browser_unsupported", "redirect", "search_no_results"})


@lru_cache(maxsize=None)
def status_phrases_all(notices: bool = False) -> tuple[str, ...]:
    """Every shipped error/placeholder phrase of all languages (error pages are often in English on any site):
    the error kinds, or with `notices` the notice kinds (`NOTICE_KINDS`)."""
    rows = _read_tsv("status_phrases.tsv")
    return tuple(sorted({r["phrase"].lower() for r in rows if r["phrase"] and (r["kind"] in NOTICE_KINDS) == notices}))


def _alternation(terms: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(terms), key=lambda t: (-len(t), t))
    return re.compile("|".join(map(re.escape, ordered))) if ordered else None


def _spaceless(term: str) -> bool:
    """Whether an entry is written in a script without spaces between words (matched as a substring)."""
    return bool(set(script_counts(term)) & (SPACELESS_SCRIPTS | {"Hang"}))


class TermMatcher:
    """Counts weighted occurrences of list entries in a document, matched the way its script needs."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.weights = {t.lower(): w for t, w in weights.items() if t.strip() and w > 0}
        # In a character-unit document: its own script's entries as substrings, the others (English porn and casino
        # words in a Chinese page) as whole ASCII words, so "sussex" or "java" never count as "sex" or "av".
        self._substring = _alternation(t for t in self.weights if _spaceless(t))
        others = sorted((t for t in self.weights if not _spaceless(t)), key=lambda t: (-len(t), t))
        self._ascii_words = (
            re.compile(r"\b(?:" + "|".join(map(re.escape, others)) + r")\b", re.ASCII) if others else None
        )
        # In a space-delimited document: entries as whole words (`segment.words`), phrases as runs of whole words;
        # in Korean, entries in Hangul also as the start of an eojeol (the particles follow the stem).
        self._whole: dict[str, float] = {}
        self._phrases: dict[str, list[tuple[tuple[str, ...], float]]] = {}
        self._stems: dict[str, float] = {}
        for term, w in self.weights.items():
            toks = segment.words(term)
            if len(toks) == 1 and toks[0] == term:
                self._whole[term] = w
                if _spaceless(term):
                    self._stems[term] = w
            elif toks:
                self._phrases.setdefault(toks[0], []).append((tuple(toks[1:]), w))
        self._stem_lengths = sorted({len(t) for t in self._stems}, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.weights)

    def count(self, v: DocView) -> float:
        if not self.weights:
            return 0.0
        if v.char_units:
            total = 0.0
            if self._substring is not None:
                total += sum(self.weights[m] for m in self._substring.findall(v.lower))
            if self._ascii_words is not None:
                total += sum(self.weights[m] for m in self._ascii_words.findall(v.lower))
            return total
        words = v.words
        whole, phrases = self._whole, self._phrases
        total = sum(whole[w] for w in words if w in whole)
        if phrases:
            for i, w in enumerate(words):
                for rest, weight in phrases.get(w, ()):
                    if tuple(words[i + 1 : i + 1 + len(rest)]) == rest:
                        total += weight
        if self._stems and v.profile.script == "Hang":
            stems, lengths = self._stems, self._stem_lengths
            for w in words:
                if w in stems:
                    continue  # counted as a whole word
                for n in lengths:
                    if len(w) > n and w[:n] in stems:
                        total += stems[w[:n]]
                        break
        return total


@dataclass
class Lexicon:
    """Everything a language needs from word lists, compiled once per (filter, language)."""

    stops: frozenset[str] | None
    endings: frozenset[str] | None
    categories: dict[str, TermMatcher]
    phrases: re.Pattern[str] | None
    notices: re.Pattern[str] | None = None

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
        matchers: dict[str, TermMatcher] = {}
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
            matchers[cat] = TermMatcher(weights)
        phrase_list = status_phrases_all() if phrases is None else tuple(p.lower() for p in phrases)
        notices = status_phrases_all(notices=True) if phrases is None else ()
        return cls(stops, endings, matchers, _alternation(phrase_list), _alternation(notices))

    def stop_words_found(self, v: DocView) -> float | None:
        if self.stops is None:
            return None
        if v.char_units:
            return float(count_stop_words(self.stops, text=v.lower))
        return float(count_stop_words(self.stops, words=v.words, endings=self.endings))

    def word_hits(self, v: DocView, category: str) -> float:
        m = self.categories.get(category)
        return m.count(v) if m is not None else 0.0

    def status_phrases(self, v: DocView, notices: bool = False) -> int:
        pattern = self.notices if notices else self.phrases
        return len(pattern.findall(v.lower)) if pattern is not None else 0


