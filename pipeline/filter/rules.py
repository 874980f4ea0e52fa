"""Quality rules as data: each rule is a measurement of the shared `DocView`, a comparison and a settings key.

Why: a rule written as a small object can be listed, explained, measured for every document (dolma's attributes,
kept beside the documents so thresholds can change without recomputing), rescaled per script and added by a user
without touching control flow. The engine (`pipeline.filter.quality.QualityFilter`) walks the families in order and
stops at the first failing rule; `explain` and the measurement columns come from the same objects.

A `Rule` fails a document when its measurement is above (``op="max"``) or below (``op="min"``) the threshold in
its family's settings (`key`; null turns the rule off). `scale` says how the threshold, written for English words,
is expressed in another script (`Scale`). A measurement of None means "does not apply to this document" (mean word
length in a character-unit script, line punctuation in Thai).

Families (`FAMILIES`, in the order they run; the reason is ``<family>:<rule>``):

- ``badwords`` — obscene, gambling and spam words per language (`pipeline.filter.lexicon`).
- ``page`` — error and stub pages, link farms and navigation pages, recognized by their shape in script units.
- ``gopher_repetition``, ``gopher_quality`` — on the main text: from the first to the last prose line, so a menu
  repeated at the top and bottom of a page (all visible text, as in WET files) is not taken for repeated content.
- ``c4`` — line removal (`pipeline.filter.quality`, on the whole page: the text kept), then its document rules on
  the lines it keeps.
- ``fineweb`` — on the lines of the main text C4 keeps.
- ``custom`` — the user's own rules (`custom_rule`), from ``filter.quality.custom_rules`` in the config.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from pipeline.text import segment

if TYPE_CHECKING:
    from pipeline.filter.view import DocView

__all__ = ["FAMILIES", "Family", "Rule", "Scale", "custom_rule", "load_object"]


class Scale(str, Enum):
    """How a threshold written for English words is expressed in another script (`pipeline.filter.settings`)."""

    #: The same everywhere: fractions of lines, paragraphs, words with a letter, characters of the whole text.
    NONE = "none"
    #: A count of units (words, characters): × units per English word.
    COUNT = "count"
    #: A ratio per unit: ÷ units per English word.
    PER_UNIT = "per_unit"
    #: A mean word length: × the script's mean-length factor; not checked in character-unit scripts.
    MEAN_LEN = "mean_len"
    #: A small fraction of characters that a fixed amount of boilerplate fills: × English line characters per word
    #: ÷ the script's (a 20-character repeated line is a larger share of a Chinese page than of the same page in
    #: English, which takes ~3-4x the characters).
    CHAR_DENSITY = "char_density"
    #: A length of a line in characters: × the script's line characters per English word ÷ English's.
    LINE_CHARS = "line_chars"
    #: The keys of an {n: fraction} table are n-gram sizes: × units per word in character-unit scripts.
    NGRAM_SIZES = "ngram_sizes"
    #: Checked in space-delimited scripts only (a whitespace token is a phrase in Chinese).
    WORD_SCRIPTS = "word_scripts"
    #: Checked in character-unit scripts only (Chinese, Japanese, Thai, ...).
    CHAR_SCRIPTS = "char_scripts"


Measure = Callable[["DocView", Any], "float | None"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One keep/drop test. The reason it gives is ``<family>:<name>``; its measurement is recorded as `metric`."""

    name: str
    #: (view, family settings) → the measurement, or None when the rule does not apply to the document.
    measure: Measure
    op: Literal["max", "min"]
    #: The family settings field that holds the threshold (None there disables the rule).
    key: str
    scale: Scale = Scale.NONE
    metric: str = ""
    #: For a {n: threshold} field: which entry (n-gram size, user rule name).
    entry: int | str | None = None
    #: A bool settings field: when true the threshold is this fixed value (lorem ipsum: at most 0 occurrences).
    switch_value: float | None = None
    #: A cheap "surely passes with this threshold" test, used in check mode before `measure` (e.g. n-gram bounds).
    settled: Callable[[DocView, float], bool] | None = None
    #: The view this rule measures when not its family's (`Family.on`).
    on: str | None = None
    doc: str = ""

    @property
    def metric_name(self) -> str:
        return self.metric or self.name

    def threshold(self, settings: Any) -> float | None:
        value = getattr(settings, self.key)
        if self.entry is not None:
            value = value.get(self.entry) if value else None
        if self.switch_value is not None:
            return self.switch_value if value else None
        return value  # type: ignore[no-any-return]

    def fails(self, value: float, threshold: float) -> bool:
        return value > threshold if self.op == "max" else value < threshold


@dataclass(frozen=True)
class Family:
    """A list of rules over one settings model (`QualityRules.<name>`) and the view they measure."""

    name: str
    rules: Callable[[Any], Sequence[Rule]]
    #: What the rules measure: ``page`` — the whole document; ``main`` — its main text (from the first to the last
    #: prose line: menus above and below left out, as main-content extraction would); ``c4_kept`` — the page's lines
    #: that C4's line rules keep (C4's document rules, as in C4); ``kept`` — the main text's lines C4 keeps.
    on: Literal["page", "main", "c4_kept", "kept"] = "main"
    #: Settings fields that are not thresholds of a rule but still rescale per script (e.g. what a short line is).
    params: dict[str, Scale] = field(default_factory=dict)

    def scales(self) -> dict[str, Scale]:
        """settings key → how it rescales: the parameters and every rule's threshold (on default settings)."""
        from pipeline.filter.settings import QualityRules

        out = dict(self.params)
        for rule in self.rules(getattr(QualityRules(), self.name)):
            out.setdefault(rule.key, rule.scale)
        return out


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


# --- gopher_repetition --------------------------------------------------------------------------------------------


def _top_settled(n: int) -> Callable[[DocView, float], bool]:
    """The top count at size m <= n bounds the count at n (each n-gram occurrence extends an m-gram one), and
    count × the longest n-gram bounds its characters: a size is often settled without finding its top n-gram."""

    def settled(v: DocView, limit: float) -> bool:
        bound = v.top_ngram_bound(n)
        if bound < 2 or bound * v.longest_ngram(n) <= limit * len(v.text):
            return True
        count = v.top_ngram_count(n)
        return count < 2 or count * v.longest_ngram(n) <= limit * len(v.text)

    return settled


def _dup_settled(n: int) -> Callable[[DocView, float], bool]:
    """Duplicated n-gram coverage only shrinks as n grows: a smaller size already measured at or below this
    threshold settles this one."""

    def settled(v: DocView, limit: float) -> bool:
        return any(m < n and frac <= limit for m, frac in v.dup_ngram_fracs.items())

    return settled


def _top_ngram(n: int) -> Measure:
    return lambda v, s: _ratio(v.top_ngram_chars(n), len(v.text))


def _dup_ngram(n: int) -> Measure:
    def measure(v: DocView, s: Any) -> float:
        frac = _ratio(v.dup_ngram_chars(n), len(v.text))
        v.dup_ngram_fracs[n] = frac
        return frac

    return measure


_REPETITION_FIXED = (
    Rule("dup_para_frac", lambda v, s: _ratio(v.dup_paragraphs[0], len(v.paragraphs)), "max", "max_dup_para_frac",
         doc="paragraphs that repeat an earlier one"),
    Rule("dup_para_char_frac", lambda v, s: _ratio(v.dup_paragraphs[1], len(v.text)), "max",
         "max_dup_para_char_frac", doc="characters in repeated paragraphs"),
    Rule("dup_line_frac", lambda v, s: _ratio(v.dup_lines[0], len(v.lines)), "max", "max_dup_line_frac",
         doc="lines that repeat an earlier one"),
    Rule("dup_line_char_frac", lambda v, s: _ratio(v.dup_lines[1], len(v.text)), "max", "max_dup_line_char_frac",
         doc="characters in repeated lines"),
)  # fmt: skip


def _repetition_rules(s: Any) -> list[Rule]:
    rules = list(_REPETITION_FIXED)
    for n in s.max_top_ngram_char_frac:
        rules.append(Rule(f"top_{n}_gram", _top_ngram(n), "max", "max_top_ngram_char_frac", Scale.NGRAM_SIZES,
                          metric=f"top_{n}_gram_char_frac", entry=n, settled=_top_settled(n),
                          doc=f"characters in all occurrences of the most frequent {n}-gram"))  # fmt: skip
    for n in s.max_dup_ngram_char_frac:
        rules.append(Rule(f"dup_{n}_gram", _dup_ngram(n), "max", "max_dup_ngram_char_frac", Scale.NGRAM_SIZES,
                          metric=f"dup_{n}_gram_char_frac", entry=n, settled=_dup_settled(n),
                          doc=f"characters covered by repeated {n}-grams"))  # fmt: skip
    return rules


# --- gopher_quality -----------------------------------------------------------------------------------------------


def _mean_word_length(v: DocView, s: Any) -> float | None:
    return None if v.char_units else _ratio(v.unit_chars, v.n_units)


def _alpha_words_frac(v: DocView, s: Any) -> float:
    n = v.n_units
    if v.char_units:
        letterless = segment.count_letterless_units(v.unit_text)
    else:
        letterless = v.letterless_words
    return _ratio(n - letterless, n)


def _stop_words(v: DocView, s: Any) -> float | None:
    return None if v.lexicon is None else v.lexicon.stop_words_found(v)


_QUALITY_RULES = (
    Rule("too_few_words", lambda v, s: v.size, "min", "min_words", Scale.COUNT, metric="words", on="page",
         doc="the page's length in script units (a foreign word in a character-unit script counts as one word's worth)"),
    Rule("too_many_words", lambda v, s: v.size, "max", "max_words", Scale.COUNT, metric="words", on="page"),
    Rule("mean_word_length_low", _mean_word_length, "min", "min_mean_word_length", Scale.MEAN_LEN,
         metric="mean_word_length"),
    Rule("mean_word_length_high", _mean_word_length, "max", "max_mean_word_length", Scale.MEAN_LEN,
         metric="mean_word_length"),
    Rule("hash_ratio", lambda v, s: v.text.count("#") / max(v.n_units, 1), "max", "max_hash_ratio",
         Scale.PER_UNIT, doc="'#' per unit"),
    Rule("ellipsis_ratio", lambda v, s: (v.text.count("...") + v.text.count("…")) / max(v.n_units, 1), "max",
         "max_ellipsis_ratio", Scale.PER_UNIT, doc="'...' or '…' per unit"),
    Rule("bullet_lines", lambda v, s: _ratio(sum(1 for ln in v.lines if ln.startswith(segment.BULLET_STARTS)),
                                             len(v.lines)), "max", "max_bullet_lines_frac", metric="bullet_lines_frac"),
    Rule("ellipsis_lines", lambda v, s: _ratio(sum(1 for ln in v.lines if ln.endswith(segment.ELLIPSIS_ENDS)),
                                               len(v.lines)), "max", "max_ellipsis_lines_frac",
         metric="ellipsis_lines_frac"),
    Rule("alpha_words_frac", _alpha_words_frac, "min", "min_alpha_words_frac", doc="units with a letter"),
    Rule("stop_words", _stop_words, "min", "min_stop_words", doc="distinct stop words of the language"),
)  # fmt: skip


# --- c4 (document rules, on the lines C4 keeps) --------------------------------------------------------------------

_C4_RULES = (
    Rule("all_lines_removed", lambda v, s: float(len(v.lines)), "min", "enabled", metric="lines", switch_value=1,
         doc="lines left after C4's line rules"),
    Rule("lorem_ipsum", lambda v, s: float(v.lower.count("lorem ipsum")), "max", "drop_lorem_ipsum",
         switch_value=0),
    Rule("curly_bracket", lambda v, s: float(v.text.count("{")), "max", "drop_curly_bracket", switch_value=0),
    Rule("too_few_sentences", lambda v, s: float(v.sentence_total), "min", "min_sentences", metric="sentences",
         settled=lambda v, limit: len(v.lines) >= limit),  # every line holds at least one sentence
)  # fmt: skip


# --- fineweb (on the lines C4 keeps) ------------------------------------------------------------------------------


def _line_punct(v: DocView, s: Any) -> float | None:
    if not v.profile.sentence_punct or not v.lines:
        return None
    frac = sum(v.line_ends_sentence) / len(v.lines)
    return None if frac == 0 and s.line_punct_exclude_zero else frac


def _short_lines(v: DocView, s: Any) -> float | None:
    if not v.lines:
        return None
    short = s.short_line_chars
    return sum(1 for line in v.lines if len(line) <= short) / len(v.lines)


def _dup_line_chars(v: DocView, s: Any) -> float | None:
    return _ratio(v.dup_lines[1], sum(map(len, v.lines))) if v.lines else None


_FINEWEB_RULES = (
    Rule("line_punct_ratio", _line_punct, "min", "min_line_punct_frac", metric="line_punct_frac",
         doc="lines ending with a sentence mark"),
    Rule("short_line_ratio", _short_lines, "max", "max_short_line_frac", metric="short_line_frac"),
    Rule("dup_line_char_ratio", _dup_line_chars, "max", "max_dup_line_char_frac", Scale.CHAR_DENSITY,
         metric="dup_line_char_frac", doc="characters in repeated lines"),
    Rule("list_ratio", lambda v, s: (len(v.lines) - 1) / max(v.size, 1) if v.lines else None, "max",
         "max_newlines_per_word", Scale.PER_UNIT, metric="newlines_per_word", doc="line breaks per unit"),
)  # fmt: skip


# --- page: error/stub pages and page shape ------------------------------------------------------------------------


def _status_phrases(v: DocView, s: Any) -> float | None:
    """Error phrases in pages with little prose (< `max_error_prose` units), plus notice phrases (login, JavaScript,
    redirect, no results: also boilerplate of real pages) in pages with almost none (< `max_notice_prose`), or two
    or more of them in a page with little prose (an interstitial: "log in to continue ... if you are not redirected")."""
    if v.lexicon is None or s.max_error_prose is None:
        return None
    prose = v.prose_size(s.prose_line_units)
    if prose >= s.max_error_prose:
        return None
    found = v.lexicon.status_phrases(v)
    if s.max_notice_prose is not None:
        notices = v.lexicon.status_phrases(v, notices=True)
        if prose < s.max_notice_prose or notices >= 2:
            found += notices
    return float(found)


def _paragraph_prose(v: DocView, s: Any) -> float | None:
    if not v.profile.sentence_punct:
        return None
    return v.paragraph_size(s.prose_line_units, s.paragraph_units)


def _short_prose_frac(v: DocView, s: Any) -> float | None:
    prose = v.prose_size(s.prose_line_units)
    return _ratio(prose, v.size) if prose < s.short_prose else None


_BAD_CATEGORIES = ("adult", "gambling", "spam")


def _title_grams(title: str) -> set[str]:
    """Character bigrams of a lower-cased title in the CJK and kana blocks (letters of a character-unit script)."""
    return {title[i : i + 2] for i in range(len(title) - 1) if title[i].isalpha() and title[i + 1].isalpha()
            and title[i] >= "\u2e80" and title[i + 1] >= "\u2e80"}  # fmt: skip


def _off_topic_title(v: DocView, s: Any) -> float | None:
    """Weighted bad-word hits in the title (the first line) when the page's prose uses almost none of the title's
    words (fewer than `title_topic_overlap` of its character bigrams): an SEO title — a private-server game, a
    casino — over scraped or reposted text, 0 otherwise. None: no title of 4+ bigrams, or no prose below it."""
    if v.lexicon is None or len(v.lines) < 2:
        return None
    if not any(v.lexicon.word_hits(v, c) for c in _BAD_CATEGORIES):
        return 0.0  # the title is part of the page: no hit in the page, none in the title
    grams = _title_grams(v.lower_lines[0])
    prose = [i for i in v.prose_lines(s.prose_line_units) if i > 0]
    if len(grams) < 4 or not prose:
        return None
    lower = v.lower_lines
    body = "\n".join([lower[i] for i in prose])
    if sum(g in body for g in grams) >= s.title_topic_overlap * len(grams):
        return 0.0
    return sum(v.lexicon.word_hits(v.first_line_view, c) for c in _BAD_CATEGORIES)


#: Runs of 4+ single characters each in its own brackets: 【此】【外】【，】【团】 — text cut into bracketed characters so
#: that keyword filters and duplicate detection miss it (scraped news on spam pages). Digits are left out: [1][2][3].
_BRACKETED_RUN_RE = re.compile(r"(?:【[^\s\d]】|\[[^\s\d]\]){4,}")


def _bracketed_chars(v: DocView, s: Any) -> float:
    text = v.text
    if "】【" not in text and "][" not in text:
        return 0.0  # no two brackets in a row: no run (an `in` test each, in C; the pattern scans ~10x slower)
    return _ratio(sum(len(m) for m in _BRACKETED_RUN_RE.findall(text)), len(text))


_PAGE_RULES = (
    Rule("error_page", _status_phrases, "max", "max_status_phrases", metric="status_phrases",
         doc="error or placeholder phrases in a page with little prose"),
    Rule("too_little_prose", lambda v, s: v.prose_size(s.prose_line_units), "min", "min_prose", Scale.COUNT,
         metric="prose", doc="script units in prose lines (long enough, with a sentence mark)"),
    Rule("too_little_paragraph", _paragraph_prose, "min", "min_paragraph_prose", Scale.CHAR_SCRIPTS,
         metric="paragraph_prose",
         doc="characters in prose lines that are paragraphs (2+ sentences or long): lists of one-line titles and "
             "questions (character-unit scripts with sentence marks only: English news writes one-sentence "
             "paragraphs, a Chinese or Japanese article rarely does)"),
    Rule("prose_frac", lambda v, s: _ratio(v.prose_size(s.prose_line_units), v.size), "min", "min_prose_frac",
         doc="share of the page's units in prose lines (navigation, catalogues, link lists)"),
    Rule("short_prose_frac", _short_prose_frac, "min", "min_short_prose_frac", metric="short_prose_frac",
         doc="prose share of a page with less than short_prose units of prose: a blurb amid menus (store, player, "
             "listing pages) needs a larger share than an article does"),
    Rule("title_injected", lambda v, s: float(v.title_inside_lines), "max", "max_title_injections",
         Scale.CHAR_SCRIPTS, metric="title_inside_lines",
         doc="the first line (title) repeated inside body sentences: parasitic SEO on hacked pages (Chinese web)"),
    Rule("off_topic_title", _off_topic_title, "max", "max_off_topic_title_hits", Scale.CHAR_SCRIPTS,
         metric="off_topic_title_hits",
         doc="bad words in a title the page's prose does not talk about: an SEO title over scraped text (character-"
             "unit scripts only: title and body words compared as character bigrams)"),
    Rule("bracketed_chars", _bracketed_chars, "max", "max_bracketed_frac", metric="bracketed_frac",
         doc="share of the page's characters in runs of single characters each in brackets (【此】【外】【，】): text "
             "obfuscated against keyword filters"),
    Rule("url_ratio", lambda v, s: v.url_tokens / max(v.size, 1), "max", "max_url_ratio", Scale.PER_UNIT,
         metric="url_tokens_per_unit", doc="URLs and domain names per unit (link farms)"),
    Rule("repeated_prefix",
         lambda v, s: v.repeated_prefix_frac(s.prose_line_units) if len(v.lines) >= s.min_lines_for_prefix else None,
         "max", "max_repeated_prefix_frac", metric="repeated_prefix_frac",
         doc="non-prose lines that start like 2+ other lines (keyword, lottery and catalogue lists)"),
)  # fmt: skip


# --- badwords -----------------------------------------------------------------------------------------------------


def _word_rate(category: str) -> Measure:
    def measure(v: DocView, s: Any) -> float | None:
        if v.lexicon is None:
            return None
        hits = v.lexicon.word_hits(v, category)
        if hits < s.min_hits:
            return 0.0
        return 1000.0 * hits / max(v.size, 1)

    return measure


def _title_hits(category: str) -> Measure:
    def measure(v: DocView, s: Any) -> float | None:
        if v.lexicon is None or not v.lines:
            return None
        if not v.lexicon.word_hits(v, category):
            return 0.0  # the title is part of the page: no hit in the page, none in the title
        return v.lexicon.word_hits(v.first_line_view, category)

    return measure


def _badword_rules(s: Any) -> list[Rule]:
    rules = []
    for cat in s.categories:
        rules.append(Rule(cat, _word_rate(cat), "max", "max_per_1000", Scale.NONE, metric=f"{cat}_per_1000",
                          doc=f"{cat} words per 1000 units (0 below min_hits)"))
        rules.append(Rule(f"{cat}_title", _title_hits(cat), "max", "max_title_hits", Scale.NONE,
                          metric=f"{cat}_title_hits",
                          doc=f"weighted {cat} words in the first line (the title, in all-visible-text extractions)"))
    return rules  # fmt: skip


# --- registry -----------------------------------------------------------------------------------------------------


#: The families, in the order they run.
FAMILIES: tuple[Family, ...] = (
    Family("badwords", _badword_rules, on="page"),
    Family("page", lambda s: _PAGE_RULES, on="page",
           params={"max_error_prose": Scale.COUNT, "max_notice_prose": Scale.COUNT, "prose_line_units": Scale.COUNT,
                   "paragraph_units": Scale.COUNT, "short_prose": Scale.COUNT,
                   "min_teaser_lines": Scale.NONE, "title_topic_overlap": Scale.NONE}),
    Family("gopher_repetition", _repetition_rules),
    Family("gopher_quality", lambda s: _QUALITY_RULES),
    Family("c4", lambda s: _C4_RULES, on="c4_kept",
           params={"min_words_per_line": Scale.COUNT, "max_word_length": Scale.WORD_SCRIPTS}),
    Family("fineweb", lambda s: _FINEWEB_RULES, on="kept", params={"short_line_chars": Scale.LINE_CHARS}),
    Family("custom", lambda s: (), on="kept"),  # the user's rules: QualityFilter compiles them from the config
)  # fmt: skip


# --- user rules ---------------------------------------------------------------------------------------------------


def load_object(path: str) -> Any:
    """``module:attribute`` (or ``module.attribute``) → the object; a precise error when it cannot be imported."""
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    if not module or not attr:
        raise ValueError(f"{path!r} is not an import path: write 'package.module:name'")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise ValueError(f"cannot import module {module!r} of {path!r}: {e}") from None
    obj = mod
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"module {module!r} has no attribute {attr!r} (from {path!r})") from None
    return obj


def custom_rule(path: str, name: str | None, op: Literal["max", "min"], scale: Scale, params: dict[str, Any]) -> Rule:
    """A user's rule from an import path: a function ``(view) -> float | None``, or a class whose instance
    (built with `params`) has ``measure(view) -> float | None`` (or is callable) and may name itself (``name``)."""
    obj = load_object(path)
    if inspect.isclass(obj):
        try:
            inst = obj(**params)
        except TypeError as e:
            raise ValueError(f"{path}: cannot build the rule with params {params}: {e}") from None
        fn = getattr(inst, "measure", None) or (inst if callable(inst) else None)
        if fn is None:
            raise ValueError(f"{path}: a rule class needs a measure(view) method or __call__(view)")
        rule_name = name or getattr(inst, "name", None) or obj.__name__
    elif callable(obj):
        if params:
            raise ValueError(f"{path}: params are for rule classes; {obj.__name__} is a function")
        fn, rule_name = obj, name or obj.__name__
    else:
        raise ValueError(f"{path} is neither a function nor a class")
    if not str(rule_name).isidentifier():
        raise ValueError(f"{path}: rule name {rule_name!r} must be an identifier (it becomes 'custom:{rule_name}')")
    measure = fn

    def run(v: DocView, s: Any) -> float | None:
        value = measure(v)
        return None if value is None else float(value)

    return Rule(str(rule_name), run, op, "thresholds", scale, entry=str(rule_name), doc=f"user rule {path}")
