"""Heuristic quality filter: rule families per script, fast, Ray-free; the engine over `pipeline.filter.rules`.

`QualityFilter(settings).check(text, lang, script)` returns None to keep a document or the reason that removes it,
``<family>:<rule>``; `QualityFilter.apply` also returns the text after C4's line removal and the removed-line counts;
`QualityFilter.explain` returns every measurement, the effective thresholds and every rule that fails;
`QualityFilter.measure` returns every measurement as one flat row (the filter stage writes them beside the
documents, so thresholds can be changed and re-applied without recomputing; `polyglot stats` plots them).

The rules are data (`pipeline.filter.rules`: name, measurement on the shared `DocView`, comparison, settings key,
scale per script); this module runs them: families in order — badwords, page, gopher_repetition, gopher_quality,
c4, fineweb, custom — and the first failing rule is the reason. C4 first removes lines (its line rules below), then
its document rules and FineWeb's measure the lines it keeps. Settings, per-script rescaling and overrides:
`pipeline.filter.settings`; units per script: `pipeline.text.segment`; word lists: `pipeline.filter.lexicon`.

Reasons: ``quality:empty`` (no non-blank line) and ``<family>:<rule>`` for every rule of `pipeline.filter.rules`
(`REASONS` lists the fixed ones; n-gram rules are ``top_<n>_gram`` / ``dup_<n>_gram`` with n in the script's units,
user rules ``custom:<name>``). C4's removed lines are counted by ``too_long_word``, ``no_terminal_punct``,
``too_few_words``, ``javascript``, ``policy``.

Definitions (where they differ from datatrove 0.10, and why):

- Words are `segment.words` of the lower-cased text (punctuation split off, symbols kept), not an NLTK/spaCy
  tokenization: that tokenizer is what makes datatrove's Gopher filter run at ~170 docs/s here.
- Word counts (``too_few_words``, ``list_ratio``, the page rules) are in script units: in a character-unit script a
  Latin word or a number counts as one English word's worth of characters, not one unit per letter.
- ``alpha_words_frac`` = words with a letter / all words, where pure-symbol tokens (``|``, ``★★★``, ``$100``) *are*
  words; datatrove drops punctuation tokens from the count, so symbol soup slipped through.
- Stop words: *distinct* list entries present (datatrove 0.10); the rule is skipped for languages without a list.
- Duplicated n-grams: characters of the words covered by any repeated occurrence (not the first) of an n-gram,
  overlaps counted once, over ``len(text)`` — the Gopher paper's definition. Top n-gram: the most frequent n-gram ×
  its occurrences over ``len(text)``, only when it occurs at least twice. In a character-unit script an n-gram unit
  is a character, but a Latin, Greek or Cyrillic word or a number written inside the text is one unit (a brand name
  repeated in a Chinese page is one repeated unit, not a run of repeated letter n-grams).
- C4 removes lines (``remove_lines: true``) and returns the new text; ``remove_lines: false`` only counts them —
  the decision is the same (C4's document rules and FineWeb measure the kept lines either way), the text is not
  changed. Lorem ipsum and ``{`` are looked for in the lines C4 keeps.

Speed: `DocView` computes shared features once and lazily; the n-gram rules hash units once and build every n-gram
key with one numpy expression, and each size sorts only the positions where the largest smaller size measured found a
repeat (an n-gram occurring twice starts with an (n-1)-gram occurring twice); in check mode a rule's `settled` test (n-gram count bounds) skips work that cannot
change the decision. `apply_measured_many` (the filter stage's call per batch) measures the features that are numpy
or regex work over the whole text for many documents at once (`view.measure_pages`: `measure_lines` and
`measure_units`; `measure_ngrams`, `measure_letterless_words`): per document, numpy's fixed cost per call was most
of their cost.
Measured with scripts/bench/filter.py (docs/s per core, per script group).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.filter.lexicon import Lexicon, anchor_groups
from pipeline.filter.rules import FAMILIES, Family, Rule
from pipeline.filter.settings import C4Settings, QualityRules, QualitySettings
from pipeline.filter.view import DocView, measure_letterless_words, measure_ngrams, measure_pages
from pipeline.text import segment
from pipeline.text.scripts import dominant_script, script_counts
from pipeline.text.segment import profile_for

__all__ = ["DocView", "QualityFilter", "QualityResult", "QualityTally", "REASONS"]


def _fixed_reasons() -> tuple[str, ...]:
    out = ["quality:empty"]
    defaults = QualityRules()
    for fam in FAMILIES:
        for rule in fam.rules(getattr(defaults, fam.name)):
            if rule.entry is None:
                out.append(f"{fam.name}:{rule.name}")
    return tuple(out)


#: Every reason `QualityFilter.check` can return, except the per-size n-gram ones and user rules.
REASONS: tuple[str, ...] = _fixed_reasons()

_CITATION_RE = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")


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


_POLICY_CACHE: dict[tuple[tuple[str, ...], str], tuple[tuple[str, tuple[str, ...]], ...]] = {}
_SCRIPT_FAMILY = {"Hang": {"Hang", "Hani"}, "Jpan": {"Hira", "Kana", "Hani"}, "Hans": {"Hani"}, "Hant": {"Hani"}}


def _policy_phrases(phrases: tuple[str, ...], script: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The phrases worth looking for in a document of `script`: Latin-script ones (cookie banners are often in
    English) and those in the document's own script, grouped under the substrings they share (`anchor_groups`).
    Plain ``in`` tests: a regex alternation of 40 literals cost ~70 µs per 3 KB document, these ~10 µs; an anchor
    test first rules out its group (9 tests instead of 20 on a Latin page)."""
    key = (phrases, script)
    out = _POLICY_CACHE.get(key)
    if out is None:
        allowed = {"Latn"} | _SCRIPT_FAMILY.get(script, {script})
        out = anchor_groups(tuple(p for p in phrases if not set(script_counts(p)) - allowed))
        _POLICY_CACHE[key] = out
    return out


def _c4_lines(v: DocView, c: C4Settings) -> tuple[list[int] | None, dict[int, str], dict[str, int]]:
    """C4's line rules: (indices of the lines kept — None when all are kept unchanged —, line index → line after
    citation removal, removed lines by rule)."""
    lines, lower, text = v.lines, v.lower, v.text
    max_len, min_units = c.max_word_length, c.min_words_per_line
    check_punct = c.drop_no_terminal_punct_lines and v.profile.sentence_punct
    ends = v.line_ends_sentence if check_punct else None
    units = v.line_units if min_units is not None else None
    # Whole-text pre-checks: the per-line tests for rare content run only when the text has it at all.
    cite = c.remove_citations and "[" in text
    js = c.drop_javascript_lines and "javascript" in lower
    policy: tuple[str, ...] = ()
    if c.drop_policy_lines:
        groups = _policy_phrases(c.policy_phrases, v.profile.script)
        policy = tuple(p for anchor, group in groups if anchor in lower for p in group if p in lower)
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
        if js or policy:
            line_lower = line.lower() if i in edited else v.lower_lines[i]
            if js and "javascript" in line_lower:
                removed["javascript"] += 1
                continue
            if policy and any(p in line_lower for p in policy):
                removed["policy"] += 1
                continue
        kept.append(i)
    all_kept = len(kept) == len(lines) and not edited
    return (None if all_kept else kept), edited, dict(removed)


def _rebuild(v: DocView, kept: list[int], edited: dict[int, str]) -> str:
    """The text without C4's removed lines (blank lines between kept paragraphs preserved, at most one in a row)."""
    # The kept lines joined by "\n", or "\n\n" where a blank line stood between them in the page: what joining
    # every kept and blank line and collapsing 3+ line breaks gave, from the page's lines (no strip per raw line).
    lines, nonblank = v.lines, v._nonblank
    out: list[str] = []
    blank = False
    i = 0
    next_kept = iter(kept)
    want = next(next_kept, -1)
    for keep in nonblank:
        if not keep:
            blank = True
            continue
        if i == want:
            if out:
                out.append("\n\n" if blank else "\n")
            out.append(edited.get(i, lines[i]))
            blank = False
            want = next(next_kept, -1)
        i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Step:
    family: Family
    settings: Any
    rules: tuple[tuple[Rule, float | None], ...]
    #: Per rule, what the per-document loop needs, flattened: (measure, threshold, settled, view name or None,
    #: fails above?, reason, metric name, ``<family>.<metric>`` column).
    checks: tuple[tuple[Any, float | None, Any, str | None, bool, str, str, str], ...] = ()

    @classmethod
    def of(cls, family: Family, settings: Any, rules: tuple[Rule, ...]) -> _Step:
        pairs = tuple((r, r.threshold(settings)) for r in rules)
        checks = tuple(
            (r.measure, t, r.settled, r.on, r.op == "max", f"{family.name}:{r.name}", r.metric_name,
             f"{family.name}.{r.metric_name}")
            for r, t in pairs
        )
        return cls(family, settings, pairs, checks)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything a (language, script) pair needs, resolved once: the enabled families with their thresholds."""

    rules: QualityRules
    steps: tuple[_Step, ...]
    lexicon: Lexicon
    #: The n-gram sizes the Gopher repetition rules measure (none when the family is off).
    ngram_sizes: tuple[int, ...] = ()


class QualityFilter:
    """Applies the quality rules of `QualitySettings` to one document at a time (no Ray; cheap to construct)."""

    def __init__(self, settings: QualitySettings | None = None) -> None:
        self.settings = settings or QualitySettings()
        self._custom: tuple[Rule, ...] = tuple(self.settings.compiled_custom_rules())
        self._plans: dict[tuple[str | None, str | None], _Plan] = {}
        self._langs: dict[str, tuple[str | None, str | None]] = {}

    def rules_for(self, lang: str | None, script: str | None) -> QualityRules:
        """Effective rules for a canonical language code and script (cached)."""
        return self._plan(lang, script).rules

    def _plan(self, lang: str | None, script: str | None) -> _Plan:
        key = (lang, script)
        plan = self._plans.get(key)
        if plan is None:
            rules = self.settings.rules_for(lang, script)
            steps = []
            for fam in FAMILIES:
                s = getattr(rules, fam.name)
                if not s.enabled:
                    continue
                fam_rules = self._custom if fam.name == "custom" else fam.rules(s)
                steps.append(_Step.of(fam, s, tuple(fam_rules)))
            bw = rules.badwords
            lexicon = Lexicon.build(
                lang,
                stop_words=rules.gopher_quality.stop_words,
                categories=bw.categories if bw.enabled else (),
                soft_weight=bw.soft_weight,
                extra=bw.extra,
                replace={cat: _read_list(path) for cat, path in bw.replace.items()},
            )
            g = rules.gopher_repetition
            sizes = tuple(sorted({*g.max_top_ngram_char_frac, *g.max_dup_ngram_char_frac})) if g.enabled else ()
            plan = self._plans[key] = _Plan(rules, tuple(steps), lexicon, sizes)
        return plan

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

    def _prepare(self, text: str, lang: str | None, script: str | None) -> tuple[_Plan, dict[str, DocView]]:
        """The document's plan and page view, before any rule runs (a batch measures features of many at once)."""
        lang, script = self._lang_script(text, lang, script)
        plan = self._plan(lang, script)
        v = DocView(text, profile_for(script), plan.lexicon)
        page = plan.rules.page
        v.teasers = None if page.min_teaser_lines is None else (page.min_teaser_lines, page.paragraph_units)
        return plan, {"page": v}

    def _run(
        self, text: str, lang: str | None, script: str | None, record: dict[str, dict[str, Any]] | None,
        flat: dict[str, float] | None = None, prepared: tuple[_Plan, dict[str, DocView]] | None = None,
    ) -> tuple[str | None, str, dict[str, int], list[str]]:
        """`flat`: the measurements as ``{"<family>.<metric>": float}``, filled directly (`apply_measured`), instead
        of `record`'s ``{family: {metric: value}}``; either one measures every rule (no early exit). `prepared`:
        `_prepare`'s plan and views (`apply_measured_many` measures some of their features for a whole batch)."""
        plan, views = prepared or self._prepare(text, lang, script)
        v = views["page"]
        if not v.lines:
            return "quality:empty", text, {}, ["quality:empty"]
        full = record is not None or flat is not None
        failed: list[str] = []
        out_text, removed = text, {}
        for step in plan.steps:
            on = step.family.on
            view = views.get(on)  # type: ignore[assignment]
            if view is None:
                if "main" not in views:
                    views["main"] = v.main_view(plan.rules.page.prose_line_units)
                if on in ("c4_kept", "kept"):
                    views["c4_kept"], views["kept"], out_text, removed = _after_c4(v, views["main"], plan.rules.c4)
                view = views[on]
            settings = step.settings
            for measure, threshold, settled, rule_on, above, reason, metric, column in step.checks:
                if threshold is None and not full:
                    continue
                here = view if rule_on is None else views[rule_on]  # a rule may measure another (computed) view
                if not full and settled is not None and settled(here, threshold):
                    continue
                value = measure(here, settings)
                if value is None:
                    continue
                if flat is not None:  # one dict store, no nested dict and f-string per rule
                    flat[column] = float(value)
                elif record is not None:
                    record.setdefault(step.family.name, {})[metric] = value
                if threshold is not None and (value > threshold if above else value < threshold):
                    failed.append(reason)
                    if not full:
                        return reason, out_text, removed, failed
        return (failed[0] if failed else None), out_text, removed, failed

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

    def apply_measured(
        self, text: str, lang: str | None, script: str | None = None
    ) -> tuple[QualityResult, dict[str, float]]:
        """`apply` with every rule measured (no early exit): the result and ``{"<family>.<metric>": value}``."""
        flat: dict[str, float] = {}
        reason, out, removed, _ = self._run(text, lang, script, None, flat)
        return QualityResult(reason, out, removed), flat

    def apply_measured_many(
        self, texts: Sequence[str], langs: Sequence[str | None], scripts: Sequence[str | None] | None = None
    ) -> list[tuple[QualityResult, dict[str, float]]]:
        """`apply_measured` of each document (what the filter stage runs on a batch), the same results: the
        features that are numpy or regex work over the whole text are measured for the batch together (the pages'
        per-line counts, units and letterless words, `measure_pages`; the main texts' n-grams, `measure_ngrams`, and
        letterless words when not cut from their page's, `measure_letterless_words`): per document, numpy's fixed
        cost per call is most of their cost."""
        out: list[tuple[QualityResult, dict[str, float]]] = []
        for lo in range(0, len(texts), _BATCH_DOCS):
            hi = lo + _BATCH_DOCS
            prepared = [
                self._prepare(text, lang, script)
                for text, lang, script in zip(texts[lo:hi], langs[lo:hi], scripts[lo:hi] if scripts else
                                              [None] * len(texts[lo:hi]), strict=True)
            ]  # fmt: skip
            pages = [views["page"] for _, views in prepared]
            measure_pages(pages)
            groups: dict[tuple[tuple[int, ...], bool], list[DocView]] = {}
            for plan, views in prepared:
                v = views["page"]
                if v.lines:
                    _ = v.unit_text if v.char_units else v.words  # the main text's are cut from them (`main_view`)
                    main = views["main"] = v.main_view(plan.rules.page.prose_line_units)
                    groups.setdefault((plan.ngram_sizes, main.char_units), []).append(main)
            for (sizes, char_units), group in groups.items():
                if sizes:
                    measure_ngrams(group, sizes)
                if not char_units:
                    measure_letterless_words(group)
            for text, prep in zip(texts[lo:hi], prepared, strict=True):
                flat: dict[str, float] = {}
                reason, new, removed, _ = self._run(text, None, None, None, flat, prep)
                out.append((QualityResult(reason, new, removed), flat))
        return out

    def explain(self, text: str, lang: str | None, script: str | None = None) -> dict[str, Any]:
        """Every measurement, the effective thresholds, every failing rule and the decision, as plain data."""
        record: dict[str, Any] = {}
        reason, out, removed, failed = self._run(text, lang, script, record)
        lang_c, script_c = self._lang_script(text, lang, script)
        return {
            "lang": lang_c,
            "script": script_c,
            "unit": profile_for(script_c).unit,
            "decision": reason,
            "failed": failed,
            "measurements": record,
            "removed_lines": removed,
            "text_changed": out is not text,
            "rules": self.rules_for(lang_c, script_c).model_dump(mode="json"),
        }

    def thresholds_for(self, lang: str | None, script: str | None = None) -> dict[str, dict[str, Any]]:
        """``{"<family>.<metric>": {"rule": "<family>:<name>", "op": "max"|"min", "threshold": value}}`` in force for a
        language (the values its measurements are compared with; null: the rule is off)."""
        lang_c, script_c = self._lang_script("", lang, script)
        out: dict[str, dict[str, Any]] = {}
        for step in self._plan(lang_c, script_c).steps:
            for rule, threshold in step.rules:
                out.setdefault(f"{step.family.name}.{rule.metric_name}", {
                    "rule": f"{step.family.name}:{rule.name}", "op": rule.op, "threshold": threshold,
                })  # fmt: skip
        return out

    def metrics(self) -> list[tuple[str, str, str]]:
        """(column ``<family>.<metric>``, op, settings key) of every rule under the global settings, in order."""
        out: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for step in self._plan(None, None).steps:
            for rule, _ in step.rules:
                col = f"{step.family.name}.{rule.metric_name}"
                if col not in seen:
                    seen.add(col)
                    out.append((col, rule.op, rule.key))
        return out


def _after_c4(v: DocView, main: DocView, c: C4Settings) -> tuple[DocView, DocView, str, dict[str, int]]:
    """C4's line rules clean the whole page: (the view of the page's lines C4 keeps, the view of the main text's
    lines C4 keeps, the page's text to keep, removed lines by rule). C4 off: the page and the main text."""
    if not c.enabled:
        return v, main, v.text, {}
    kept, edited, removed = _c4_lines(v, c)
    if kept is None:
        return v, main, v.text, removed
    out = _rebuild(v, kept, edited) if c.remove_lines else v.text

    def view(index: list[int], parent: DocView) -> DocView:
        lines = [edited.get(i, v.lines[i]) for i in index]
        if edited:  # an edited line must be measured again
            return DocView.of_lines(lines, parent)
        return DocView.of_lines(lines, parent, v, index)

    page_kept = view(kept, v)
    if main is v:
        return page_kept, page_kept, out, removed
    first, last = main.first_line, main.first_line + len(main.lines) - 1  # the main text: a run of the page's lines
    return page_kept, view([i for i in kept if first <= i <= last], main), out, removed


#: `apply_measured_many` prepares at most this many documents' views at once: the batch functions work in smaller
#: chunks still (~20 pages), and the views of a whole stage batch would otherwise be held in memory together.
_BATCH_DOCS = 256


def _read_list(path: str) -> list[str]:
    """A replacement word list: one entry a line, ``#`` comments (path or fsspec URL)."""
    from pipeline.storage import open_input

    with open_input(path) as fh:
        text = fh.read().decode("utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


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
