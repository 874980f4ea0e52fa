"""Language ID as an ensemble: fastText decides, other LID models vote only inside groups of confusable languages.

Why: lid.176 confuses close languages (Nynorsk → Bokmål/Danish, Afrikaans → Dutch, Slovak → Czech, Belarusian →
Russian/Ukrainian, ...), and every such error moves balancing budget from a language to its neighbour. Other models
that ship in PyPI wheels and run offline separate some of these pairs better, but are worse than fastText elsewhere
(CLD2 calls many short sentences English). So fastText stays the primary model and its label stands unless it falls
in a *confusable group* (`pipeline/data/lang/confusable_groups.tsv`); then fastText's probabilities of the group's
members, each second model's top label (when it is a member) and the group's *marker words*
(`pipeline/data/lang/group_markers.tsv`: ``ikkje`` is Nynorsk, ``kerana`` Malay, ``uvijek`` Croatian or Bosnian —
each member gets the share of the text's marker words that point to it) are added with per-group weights, and the
member with the most votes wins. A model votes in a group only if it has labels for at least two of the members
written in the text's script (HeLI-OTS knows Malay/Indonesian only as ``msa``: it abstains there; Lingua abstains
where it lacks any member); a model whose
weight in the group is 0 is not run. The weights were measured (README "Language ID"; ``scripts/eval_lid_models.py``).

Second-opinion models:

- ``cld2`` — CLD2 (`pycld2`, Apache-2.0), Common Crawl's own LID; a default dependency.
- ``heliport`` — HeLI-OTS (`heliport`, GPL-3.0, 220 languages, ~90 MB of models in the wheel, ~7 s to load); only
  with the optional extra ``pip install 'polyglot-pipeline[heliport]'``.
- ``lingua`` — Lingua (`lingua-language-detector`, Apache-2.0, 75 languages, ~96 MB wheel); inside a group it
  chooses among the group's members only (one detector per group, built on first use), in its low-accuracy mode
  (~30 MB of models for the groups where it votes); only with the optional extra
  ``pip install 'polyglot-pipeline[lingua]'``. Its weights are the groups file's ``weights_lingua`` column.

When a group votes, the score is fastText's probability of the group (its members' probabilities summed): how sure
it is that the text is in one of these languages, which is what ``langid.min_score`` should test; the vote decides
which one. Every consulted model's top label and score is kept in `EnsemblePrediction.votes`, so a user can decide
again without recomputing. With ``consult="always"`` the second models run on every document, not only inside
groups.

**Languages fastText has no label for** — with ``adopt_unknown=True`` (off by default), a document whose fastText
top probability is under ``adopt_below`` takes a second model's label when that language is not one fastText can
output (CLD2: Faroese, Xhosa, Zulu, Sotho, Tswana, Māori, ...) and, for CLD2, covers at least ``adopt_min_share`` of
the text. The score stays fastText's (low): ``langid.min_score`` should be lowered for those languages.

**Macrolanguage fallback** — with ``macro_fallback=True``, a group with a macrolanguage (``hbs``, ``msa``, ``nor``,
``zho``) whose winner has less than ``macro_min_share`` of the group's votes, with the runner-up also covered by the
macrolanguage, is labelled with the macrolanguage instead of a guess. In the project's code scheme ``msa``, ``nor``
and ``zho`` are also the codes of standard Malay, Bokmål and Chinese (see `pipeline.lang.codes`).
"""

from __future__ import annotations

import functools
import importlib.resources
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.lang.codes import LANGUAGES, UND, normalize_label
from pipeline.lang.identify import LanguageIdentifier, Prediction

__all__ = [
    "MODELS",
    "ConfusableGroup",
    "Ensemble",
    "Lingua",
    "EnsemblePrediction",
    "SecondOpinion",
    "load_groups",
    "load_markers",
    "make_model",
    "parse_groups",
    "parse_markers",
]

log = logging.getLogger(__name__)

#: Second-opinion models the ensemble knows, by name.
MODELS = ("cld2", "heliport", "lingua")
#: The name of the marker-word vote in the groups' weights.
MARKERS = "markers"
_GROUPS_FILE = ("data", "lang", "confusable_groups.tsv")
_MARKERS_FILE = ("data", "lang", "group_markers.tsv")
_WORD = re.compile(r"\w+(?:-\w+)*")


@dataclass(frozen=True, slots=True)
class ConfusableGroup:
    """Languages (ISO 639-3, project scheme) that the primary model confuses, and how the ensemble separates them."""

    name: str
    members: tuple[str, ...]
    macro: str | None = None
    macro_of: tuple[str, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)
    weights_heliport: dict[str, float] = field(default_factory=dict)
    weights_lingua: dict[str, float] = field(default_factory=dict)


def _weights(text: str, where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in text.split():
        name, sep, value = item.partition("=")
        if not sep or name not in (*MODELS, MARKERS):
            raise ValueError(
                f"{where}: bad weight {item!r} (expected NAME=NUMBER with NAME one of {(*MODELS, MARKERS)})"
            )
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"{where}: weight of {name} is not a number: {value!r}") from None
    return out


def parse_groups(text: str, source: str = "<groups>") -> list[ConfusableGroup]:
    """Groups from the TSV format of ``confusable_groups.tsv`` (see its header); precise errors with line numbers."""
    groups: list[ConfusableGroup] = []
    seen: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        where = f"{source}:{n}"
        cols = raw.split("\t")
        if len(cols) not in (6, 7):
            raise ValueError(f"{where}: expected 6 or 7 tab-separated columns, got {len(cols)}")
        name, members_s, macro_s, macro_of_s, w, wh, *rest = (c.strip() for c in cols)
        wl = rest[0] if rest else ""  # no weights_lingua column: Lingua does not vote
        members = tuple(members_s.split())
        if len(members) < 2:
            raise ValueError(f"{where}: group {name!r} needs at least two members")
        for m in members:
            code = normalize_label(m).partition("_")[0]
            if code != m:
                raise ValueError(f"{where}: member {m!r} is not a canonical ISO 639-3 code (use {code!r})")
            if m in seen:
                raise ValueError(f"{where}: {m!r} is already in group {seen[m]!r}; a language may be in one group")
            seen[m] = name
        macro = None if macro_s == "-" else normalize_label(macro_s).partition("_")[0]
        macro_of = () if macro is None else members if macro_of_s == "*" else tuple(macro_of_s.split())
        if any(m not in members for m in macro_of):
            raise ValueError(f"{where}: macro_of {macro_of_s!r} names languages outside the group")
        groups.append(ConfusableGroup(name, members, macro, macro_of, _weights(w, where), _weights(wh, where),
                                      _weights(wl, where)))
    return groups


@functools.cache
def load_groups(path: str | None = None) -> tuple[ConfusableGroup, ...]:
    """The confusable groups of a TSV file (default: the package's ``data/lang/confusable_groups.tsv``)."""
    if path is None:
        res = importlib.resources.files("pipeline").joinpath(*_GROUPS_FILE)
        return tuple(parse_groups(res.read_text(encoding="utf-8"), "/".join(_GROUPS_FILE)))
    return tuple(parse_groups(Path(path).read_text(encoding="utf-8"), str(path)))


def parse_markers(
    text: str, groups: Sequence[ConfusableGroup], source: str = "<markers>"
) -> dict[str, dict[str, frozenset[str]]]:
    """{group: {word: members it points to}} from the TSV format of ``group_markers.tsv`` (see its header)."""
    by_name = {g.name: g for g in groups}
    out: dict[str, dict[str, frozenset[str]]] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        where = f"{source}:{n}"
        cols = raw.split("\t")
        if len(cols) != 3:
            raise ValueError(f"{where}: expected 3 tab-separated columns (group, members, words), got {len(cols)}")
        name, members_s, words = (c.strip() for c in cols)
        if name not in by_name:
            raise ValueError(f"{where}: unknown group {name!r} (groups: {', '.join(by_name)})")
        members = frozenset(members_s.split())
        if not members or not members <= set(by_name[name].members):
            raise ValueError(f"{where}: members {members_s!r} are not all in group {name!r}")
        table = out.setdefault(name, {})
        for word in words.split():
            if word != word.lower():
                raise ValueError(f"{where}: marker words are lower case: {word!r}")
            table[word] = table.get(word, frozenset()) | members
    return out


@functools.cache
def load_markers(path: str | None = None) -> dict[str, dict[str, frozenset[str]]]:
    """The marker words of the package's ``data/lang/group_markers.tsv`` (or of `path`), for `load_groups()`."""
    if path is None:
        res = importlib.resources.files("pipeline").joinpath(*_MARKERS_FILE)
        return parse_markers(res.read_text(encoding="utf-8"), load_groups(), "/".join(_MARKERS_FILE))
    return parse_markers(Path(path).read_text(encoding="utf-8"), load_groups(), str(path))


class SecondOpinion(ABC):
    """A second LID model: its name, the ISO 639-3 languages it can output, and its top label for a text."""

    name: str
    languages: frozenset[str]
    #: Whether `top`'s score is a 0..1 weight of its label (CLD2: the share of the text in that language; Lingua: its
    #: confidence among the candidates): the vote is then weighted by it.
    score_is_share: bool = False

    @abstractmethod
    def top(self, line: str, script: str | None, members: Sequence[str] | None = None) -> tuple[str, float]:
        """(canonical code or `UND`, score) for one normalized line of text. `members` are the languages (ISO 639-3)
        of the confusable group being decided, or None outside a group; a model may restrict itself to them."""


@functools.lru_cache(maxsize=4096)
def _canonical(label: str, script: str | None) -> str:
    """Memoized: a model's label is mapped once per script; one the code table does not know (CLD2's ``xx-Qaai``,
    ...) is `UND`."""
    try:
        return normalize_label(label, script, strict=False)
    except ValueError:  # CLD2's pseudo-languages (xx-Qaai, ...) and the like
        return UND


def _iso3(labels: Iterable[str]) -> frozenset[str]:
    return frozenset(c.partition("_")[0] for c in (_canonical(lb, None) for lb in labels) if c != UND)


class Cld2(SecondOpinion):
    """CLD2 via pycld2; the score is the share of the text in the top language (0..1)."""

    name = "cld2"
    score_is_share = True

    def __init__(self) -> None:
        import pycld2

        self._detect = pycld2.detect
        self._error = pycld2.error
        self.languages = _iso3(code for _, code in pycld2.LANGUAGES)

    def top(self, line: str, script: str | None, members: Sequence[str] | None = None) -> tuple[str, float]:
        try:
            _, _, details = self._detect(line, bestEffort=True)
        except (self._error, ValueError):  # CLD2 rejects some byte sequences (e.g. lone surrogates)
            return UND, 0.0
        _, code, percent, _ = details[0]
        if code == "un":
            return UND, 0.0
        return _canonical(code, script), percent / 100.0


class Heliport(SecondOpinion):
    """HeLI-OTS via heliport (GPL-3.0, optional); the score is HeLI's raw score (lower is more confident)."""

    name = "heliport"

    def __init__(self) -> None:
        try:
            import heliport
        except ImportError:
            raise ImportError(
                "langid.ensemble asks for 'heliport' but the heliport package is not installed: "
                "pip install 'polyglot-pipeline[heliport]' (HeLI-OTS, GPL-3.0)"
            ) from None
        self._model = heliport.Identifier()
        self.languages = _iso3(self._model.get_confidence_all())

    def top(self, line: str, script: str | None, members: Sequence[str] | None = None) -> tuple[str, float]:
        top = self._model.identify_topk_with_score(line, 1)
        if not top:
            return UND, 0.0
        label, score = top[0]
        return _canonical(label, script), float(score)


class Lingua(SecondOpinion):
    """Lingua via lingua-language-detector (Apache-2.0, Rust, 75 languages, n-gram models inside the wheel).

    Lingua is most accurate when it chooses among a few languages, so inside a confusable group it runs a detector
    built from the group's members (built on first use, one per member set; the n-gram models are loaded once per
    language and shared by the detectors). Lingua can only choose among languages it knows: in a group with a member
    it lacks (Nepali beside Hindi/Urdu/Marathi, Uzbek beside Turkish/Azerbaijani, ``hbs``) that member's text would go
    to a known member with full confidence, so there it abstains. Outside a group (``consult: always``,
    `adopt_unknown`) it runs a detector of all its languages. The score is Lingua's confidence in its top label among
    those candidates (0..1).

    `low_accuracy` (the default, what ``langid.ensemble: [..., lingua]`` runs and the ``weights_lingua`` column was
    fitted for) is Lingua's low-accuracy mode: trigram models only, ~30 MB for the 17 languages of the groups where it
    votes. The high-accuracy mode (1- to 5-grams) differs only on texts under 120 characters — Lingua uses trigrams
    alone on longer ones anyway — and holds ~520 MB of models for the same languages; measured in README "Language
    ID" (better Bokmål/Nynorsk/Afrikaans sentences, but Danish −0.020 against fastText alone), not offered in config.
    """

    name = "lingua"
    score_is_share = True

    def __init__(self, low_accuracy: bool = True) -> None:
        try:
            import lingua
        except ImportError:
            raise ImportError(
                "langid.ensemble asks for 'lingua' but the lingua-language-detector package is not installed: "
                "pip install 'polyglot-pipeline[lingua]' (Lingua, Apache-2.0)"
            ) from None
        self._lingua = lingua
        self.low_accuracy = low_accuracy
        self._by_code: dict[str, object] = {}
        for lang in lingua.Language.all():
            code = _canonical(lang.iso_code_639_3.name.lower(), None).partition("_")[0]
            if code != UND:
                self._by_code[code] = lang
        self.languages = frozenset(self._by_code)
        self._detectors: dict[frozenset[str], object] = {}

    def detector(self, members: Sequence[str] | None) -> object | None:
        """The detector for these members (all of Lingua's languages for None); None (abstain) unless Lingua knows
        every member, and at least two."""
        key = self.languages if members is None else frozenset(members)
        got = self._detectors.get(key)
        if got is None:
            if len(key) < 2 or not key <= self.languages:
                return None
            builder = self._lingua.LanguageDetectorBuilder.from_languages(*(self._by_code[c] for c in sorted(key)))
            if self.low_accuracy:
                builder = builder.with_low_accuracy_mode()
            got = self._detectors[key] = builder.build()
        return got

    def top(self, line: str, script: str | None, members: Sequence[str] | None = None) -> tuple[str, float]:
        detector = self.detector(members)
        if detector is None:
            return UND, 0.0
        values = detector.compute_language_confidence_values(line)  # type: ignore[attr-defined]
        if not values or values[0].value <= 0.0:
            return UND, 0.0
        best = values[0]
        return _canonical(best.language.iso_code_639_3.name.lower(), script), float(best.value)


def make_model(name: str) -> SecondOpinion:
    """A second-opinion model by name (one of `MODELS`); loads it."""
    factories: dict[str, Callable[[], SecondOpinion]] = {"cld2": Cld2, "heliport": Heliport, "lingua": Lingua}
    if name not in factories:
        raise ValueError(f"unknown language-ID model {name!r}; known: {', '.join(MODELS)}")
    return factories[name]()


@dataclass(frozen=True, slots=True)
class EnsemblePrediction:
    """The ensemble's decision (`lang`, `score`), fastText's top-k and script, the share of the top language over
    the windows seen, the confusable group consulted (None if none), and every model's (name, top label, score)."""

    lang: str
    score: float
    top_k: list[tuple[str, float]]
    script: str | None
    share: float
    group: str | None
    votes: list[tuple[str, str, float]]


class Ensemble:
    """fastText (`LanguageIdentifier`) plus second opinions inside confusable groups (see the module docstring).

    `weights` ({group: {model: weight}}) replaces the groups' measured weights (for measuring other ones).
    """

    def __init__(
        self,
        lid: LanguageIdentifier,
        models: Sequence[SecondOpinion] = (),
        groups: Sequence[ConfusableGroup] | None = None,
        *,
        consult: str = "groups",
        macro_fallback: bool = False,
        macro_min_share: float = 0.75,
        weights: dict[str, dict[str, float]] | None = None,
        markers: dict[str, dict[str, frozenset[str]]] | None = None,
        adopt_unknown: bool = False,
        adopt_below: float = 0.5,
        adopt_min_share: float = 0.5,
    ) -> None:
        if consult not in ("groups", "always"):
            raise ValueError(f"consult must be 'groups' or 'always', got {consult!r}")
        self.lid = lid
        self.models = list(models)
        self.groups = list(load_groups() if groups is None else groups)
        self.consult = consult
        self.macro_fallback = macro_fallback
        self.macro_min_share = macro_min_share
        names = {m.name for m in self.models}
        if weights is None:  # the measured weights of the groups file, for the models at hand
            weights = {g.name: g.weights_lingua if "lingua" in names
                       else g.weights_heliport if "heliport" in names else g.weights for g in self.groups}
        names.add(MARKERS)
        self._weights = {g.name: {m: w for m, w in weights.get(g.name, {}).items() if m in names} for g in self.groups}
        self.markers = load_markers() if markers is None else markers
        self.adopt_unknown = adopt_unknown
        self.adopt_below = adopt_below
        self.adopt_min_share = adopt_min_share
        self._primary = lid.languages if adopt_unknown else frozenset()
        self._group_of = {m: g for g in self.groups for m in g.members}

    def _members(self, group: ConfusableGroup, script: str | None) -> list[str]:
        """The group's members written in `script` (all of them when the script is unknown)."""
        if script is None:
            return list(group.members)
        han = script in ("Hans", "Hant", "Hani")
        return [m for m in group.members if m not in LANGUAGES or script in LANGUAGES[m].scripts or han
                and {"Hans", "Hant"} & set(LANGUAGES[m].scripts)]

    def predict(self, text: str) -> EnsemblePrediction:
        """The language of `text`: fastText's, unless a confusable group's vote says otherwise."""
        return self._decide(*self.lid.predict_lines(text))

    def predict_many(self, texts: Sequence[str]) -> list[EnsemblePrediction]:
        """`predict` of each text (fastText's windows prepared for all of them at once: `predict_many`)."""
        return [self._decide(p, lines) for p, lines in self.lid.predict_many(texts)]

    def _decide(self, p: Prediction, lines: list[str]) -> EnsemblePrediction:
        votes = [("fasttext", p.lang, p.score)]
        if p.lang == UND:
            return EnsemblePrediction(p.lang, p.score, p.top_k, p.script, p.share, None, votes)
        group = self._group_of.get(p.lang.partition("_")[0])
        members = self._members(group, p.script) if group is not None else []
        weights = self._weights[group.name] if group is not None else {}
        adopt = self.adopt_unknown and p.score < self.adopt_below
        active = [m for m in self.models if self.consult == "always" or adopt
                  or (len(members) > 1 and weights.get(m.name))]
        if not active and not weights.get(MARKERS) and not (self.macro_fallback and group is not None and group.macro):
            return EnsemblePrediction(p.lang, p.score, p.top_k, p.script, p.share, group and group.name, votes)
        joined = " ".join(lines)
        scope = members if len(members) > 1 else None
        opinions = {m.name: m.top(joined, p.script, scope) for m in active}
        votes += [(name, lang, score) for name, (lang, score) in opinions.items()]
        if adopt:
            for m in self.models:
                code, score = opinions[m.name]
                if (code != UND and code.partition("_")[0] not in self._primary
                        and (score >= self.adopt_min_share or not m.score_is_share)):
                    return EnsemblePrediction(code, p.score, p.top_k, p.script, p.share, None, votes)
        if group is None or len(members) < 2:
            return EnsemblePrediction(p.lang, p.score, p.top_k, p.script, p.share, group and group.name, votes)
        return self._vote(p, group, members, opinions, votes, joined)

    def _vote(
        self,
        p: Prediction,
        group: ConfusableGroup,
        members: list[str],
        opinions: dict[str, tuple[str, float]],
        votes: list[tuple[str, str, float]],
        text: str,
    ) -> EnsemblePrediction:
        tally: dict[str, float] = {}
        group_mass = 0.0
        for code, prob in p.top_k:
            iso = code.partition("_")[0]
            if iso in members:
                tally[iso] = tally.get(iso, 0.0) + prob
                group_mass += prob
        for m in self.models:
            w = self._weights[group.name].get(m.name, 0.0)
            if not w or m.name not in opinions or sum(x in m.languages for x in members) < 2:
                continue
            code, score = opinions[m.name]
            iso = code.partition("_")[0]
            if iso in members:
                tally[iso] = tally.get(iso, 0.0) + w * (score if m.score_is_share else 1.0)
        w = self._weights[group.name].get(MARKERS, 0.0)
        table = self.markers.get(group.name)
        if w and table:
            hits: dict[str, int] = {}
            found = 0
            for word in _WORD.findall(text.lower()):
                pointed = table.get(word)
                if pointed is not None:
                    found += 1
                    for m in pointed:
                        hits[m] = hits.get(m, 0) + 1
            for m, k in hits.items():
                if m in members:
                    tally[m] = tally.get(m, 0.0) + w * k / found
        if not tally:  # fastText's labels are all outside the members written in this script
            return EnsemblePrediction(p.lang, p.score, p.top_k, p.script, p.share, group.name, votes)
        ranked = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
        total = sum(tally.values())
        winner, best = ranked[0]
        share = best / total if total > 0 else 0.0
        lang = winner
        if (
            self.macro_fallback
            and group.macro is not None
            and share < self.macro_min_share
            and len(ranked) > 1
            and winner in group.macro_of
            and ranked[1][0] in group.macro_of
        ):
            lang = group.macro
        code = p.lang if lang == p.lang.partition("_")[0] else normalize_label(lang, p.script)
        return EnsemblePrediction(code, min(1.0, group_mass), p.top_k, p.script, p.share, group.name, votes)
