"""Quality-filter settings: one model per rule family, per-script rescaling, per-script and per-language overrides.

Why this shape: datatrove users know the four families and their knobs (Gopher quality, Gopher repetition, C4,
FineWeb), so the global values are datatrove's defaults under the same meaning, and they are written *for English
words*. A threshold that counts words, characters per line or n-gram sizes cannot mean the same in Chinese, Korean or
Thai, so with ``rescale_by_script`` (default on) each document's thresholds are derived from the global ones with a
calibration measured on parallel text (the UDHR; see `pipeline.text.segment`):

- **character-unit scripts** (Han, Japanese, Thai, Lao, Khmer, Myanmar, ...; factor ``k`` = units per English word:
  Han 1.5, Japanese 2.2, Thai 5.1, Lao 5.9, Khmer 5.8, Myanmar 8.2, other spaceless 4.0): ``min_words`` and
  ``max_words`` × k (Han: 75 units), n-gram sizes × k (Han top n-grams 3/5/6 and duplicated 8..15 characters instead of
  2/3/4 and 5..10 words), ``min_words_per_line`` × k, per-word ratios (``#`` and ellipsis per word, newlines per word)
  ÷ k, ``short_line_chars`` × line characters per English word / 6; mean word length and C4's ``max_word_length``
  are not checked (a whitespace token is a phrase there);
- **Korean** (eojeol words; 0.68 eojeol per English word, mean length 0.58 × English's): word counts × 0.68, per-word
  ratios ÷ 0.68, mean word length bounds × 0.58 (3-10 → 1.74-5.8), short lines 13 characters; n-gram sizes stay in
  words;
- **Vietnamese** (syllable words; 1.43 per English word, mean length 0.82 × English's): the same kind of rescaling;
- **Thai and Lao** write no sentence marks: the line-punctuation rules (FineWeb ``min_line_punct_frac``, C4
  ``drop_no_terminal_punct_lines``) are off.

Then ``by_script`` and ``by_lang`` overrides apply *as written* (in the script's own units: characters for character
scripts), in this order: global → rescaled for the script/language → ``by_script[script]`` → ``by_lang[lang]``. An
override names only the keys it changes; ``null`` turns a single rule off; ``enabled: false`` turns a family off.
`QualitySettings.rules_for` returns the effective `QualityRules` of a (language, script) pair.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)

from pipeline.text.scripts import SCRIPTS
from pipeline.text.segment import KOREAN_WORDS_PER_WORD, profile_for

__all__ = [
    "C4Settings",
    "DEFAULT_POLICY_PHRASES",
    "FineWebSettings",
    "GopherQualitySettings",
    "GopherRepetitionSettings",
    "QualityOverride",
    "QualityRules",
    "QualitySettings",
    "calibration_for",
]

#: C4's policy phrases (datatrove's list) plus their equivalents in the project's languages; matched lower-cased.
DEFAULT_POLICY_PHRASES: tuple[str, ...] = (
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
    "개인정보처리방침", "개인정보 처리방침", "이용약관", "쿠키를 사용", "プライバシーポリシー", "利用規約", "クッキーを使用",
    "cookieを使用", "隐私政策", "隱私權政策", "隐私条款", "使用条款", "使用條款", "политика конфиденциальности",
    "пользовательское соглашение", "файлы cookie", "использует cookie", "політика конфіденційності",
    "datenschutzerklärung", "verwendet cookies", "politique de confidentialité", "utilise des cookies",
    "política de privacidad", "utiliza cookies", "usa cookies", "informativa sulla privacy", "utilizza cookie",
    "política de privacidade", "polityka prywatności", "ochrana osobních údajů", "chính sách bảo mật",
    "นโยบายความเป็นส่วนตัว", "kebijakan privasi", "سياسة الخصوصية", "ملفات تعريف الارتباط",
)  # fmt: skip


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _check_ngrams(v: dict[int, float]) -> dict[int, float]:
    for n, frac in v.items():
        if n < 1:
            raise ValueError(f"n-gram size must be >= 1, got {n}")
        if not 0 <= frac <= 1:
            raise ValueError(f"fraction for {n}-grams must be within [0, 1], got {frac}")
    return dict(sorted(v.items()))


class GopherQualitySettings(_Model):
    """Gopher's document-quality rules (Rae et al. 2021, table A1; datatrove GopherQualityFilter)."""

    enabled: bool = True
    min_words: int | None = Field(50, ge=0, description="Fewer units (words or characters) → too_few_words.")
    max_words: int | None = Field(100_000, ge=1, description="More units → too_many_words.")
    min_mean_word_length: float | None = Field(3.0, ge=0, description="Mean word length below → mean_word_length_low.")
    max_mean_word_length: float | None = Field(10.0, gt=0, description="Mean word length above → ..._high.")
    max_hash_ratio: float | None = Field(0.1, ge=0, description="'#' per word above → hash_ratio.")
    max_ellipsis_ratio: float | None = Field(0.1, ge=0, description="'...' or '…' per word above → ellipsis_ratio.")
    max_bullet_lines_frac: float | None = Field(0.9, ge=0, le=1, description="Lines starting with a bullet.")
    max_ellipsis_lines_frac: float | None = Field(0.3, ge=0, le=1, description="Lines ending with an ellipsis.")
    min_alpha_words_frac: float | None = Field(0.8, ge=0, le=1, description="Words (units) with a letter, at least.")
    min_stop_words: int | None = Field(2, ge=0, description="Distinct stop words required (languages with a list).")
    stop_words: tuple[str, ...] | None = Field(
        None, description="Replaces the built-in list of the language (pipeline.text.stopwords); lower case."
    )

    @model_validator(mode="after")
    def _ranges(self) -> GopherQualitySettings:
        if self.min_words is not None and self.max_words is not None and self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) is larger than max_words ({self.max_words})")
        lo, hi = self.min_mean_word_length, self.max_mean_word_length
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"min_mean_word_length ({lo}) is larger than max_mean_word_length ({hi})")
        return self


class GopherRepetitionSettings(_Model):
    """Gopher's repetition rules (datatrove GopherRepetitionFilter); character fractions are of the whole text."""

    enabled: bool = True
    max_dup_para_frac: float | None = Field(0.3, ge=0, le=1, description="Paragraphs that repeat an earlier one.")
    max_dup_para_char_frac: float | None = Field(0.2, ge=0, le=1, description="Characters in repeated paragraphs.")
    max_dup_line_frac: float | None = Field(0.3, ge=0, le=1, description="Lines that repeat an earlier one.")
    max_dup_line_char_frac: float | None = Field(0.2, ge=0, le=1, description="Characters in repeated lines.")
    max_top_ngram_char_frac: dict[int, float] = Field(
        default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16},
        description="n → max fraction of characters in the most frequent n-gram (all its occurrences).",
    )
    max_dup_ngram_char_frac: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="n → max fraction of characters covered by repeated occurrences of n-grams.",
    )

    check_ngrams = field_validator("max_top_ngram_char_frac", "max_dup_ngram_char_frac")(_check_ngrams)


class C4Settings(_Model):
    """C4's rules (Raffel et al. 2020; datatrove C4QualityFilter). Line rules remove lines, document rules drop."""

    enabled: bool = True
    remove_lines: bool = Field(
        True, description="Return the text without the lines the line rules reject; false: count them only."
    )
    drop_no_terminal_punct_lines: bool = Field(
        False, description="Line rule: no sentence mark at the end. Off as in FineWeb (its line_punct rule covers it)."
    )
    min_words_per_line: int | None = Field(3, ge=1, description="Line rule: fewer units (whitespace words).")
    max_word_length: int | None = Field(1000, ge=1, description="Line rule: a whitespace word longer than this.")
    drop_javascript_lines: bool = Field(True, description="Line rule: the line mentions 'javascript'.")
    drop_policy_lines: bool = Field(True, description="Line rule: the line contains a policy phrase.")
    policy_phrases: tuple[str, ...] = Field(DEFAULT_POLICY_PHRASES, description="Lower-case substrings.")
    remove_citations: bool = Field(True, description="Delete [1], [edit], [citation needed] before the line rules.")
    drop_lorem_ipsum: bool = Field(True, description="Document rule: a kept line contains 'lorem ipsum'.")
    drop_curly_bracket: bool = Field(True, description="Document rule: a kept line contains '{'.")
    min_sentences: int | None = Field(5, ge=1, description="Document rule: fewer sentences in the kept lines.")

    @field_validator("policy_phrases")
    @classmethod
    def _lower(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not p.strip() for p in v):
            raise ValueError("policy phrases must not be empty")
        return tuple(p.lower() for p in v)


class FineWebSettings(_Model):
    """FineWeb's rules (Penedo et al. 2024; datatrove FineWebQualityFilter), on the text C4 leaves."""

    enabled: bool = True
    min_line_punct_frac: float | None = Field(0.12, ge=0, le=1, description="Lines ending a sentence, at least.")
    line_punct_exclude_zero: bool = Field(False, description="Keep documents where no line ends with a mark.")
    max_short_line_frac: float | None = Field(0.67, ge=0, le=1, description="Lines of <= short_line_chars.")
    short_line_chars: int = Field(30, ge=1, description="What a short line is, in characters.")
    max_dup_line_char_frac: float | None = Field(0.01, ge=0, le=1, description="Characters in repeated lines.")
    max_newlines_per_word: float | None = Field(0.3, ge=0, description="Line breaks per unit (list-like pages).")


class BadwordsSettings(_Model):
    """Obscene, gambling and spam words per language (C4 / FineWeb-2 style, `pipeline.filter.lexicon`), on a rate.

    A page fails a category when its weighted hits (hard entries 1, soft `soft_weight`) reach `min_hits` *and* exceed
    `max_per_1000` per 1000 script units: one word never drops a page (C4's single-hit rule removed medical and
    LGBT pages), a link farm that repeats them does.
    """

    enabled: bool = True
    categories: tuple[Literal["adult", "gambling", "spam"], ...] = Field(
        ("adult", "gambling", "spam"), description="Lists to use."
    )
    min_hits: float = Field(3.0, ge=0, description="Weighted hits below this never fail a page.")
    max_per_1000: float | None = Field(1.0, ge=0, description="Weighted hits per 1000 units above → badwords:<cat>.")
    max_title_hits: float | None = Field(
        1.5, ge=0, description="Weighted hits in the first line (the title) above this → badwords:<cat>_title."
    )
    soft_weight: float = Field(0.25, ge=0, le=1, description="Weight of a `soft` entry (hard entries count 1).")
    extra: dict[Literal["adult", "gambling", "spam"], tuple[str, ...]] = Field(
        default_factory=dict, description="category → entries added to the shipped lists (per language: by_lang)."
    )
    replace: dict[Literal["adult", "gambling", "spam"], str] = Field(
        default_factory=dict,
        description="category → a file (path or URL) of entries, one a line, replacing the shipped list "
        "(per language: by_lang).",
    )


class PageSettings(_Model):
    """Error and stub pages, link farms and navigation pages, recognized by their shape (`pipeline.filter.rules`).

    A *prose line* holds at least `prose_line_units` units and a sentence end; a page's *prose* is the units of its
    prose lines. Counts are for English words and rescale per script.
    """

    enabled: bool = True
    prose_line_units: float = Field(8, ge=1, description="Units a line needs to count as prose (with a sentence end).")
    min_teaser_lines: int | None = Field(
        3, ge=1, description="Prose lines of paragraph_units or more ending with an ellipsis are teasers, not prose, "
        "when a page has this many (truncated snippets, 'related articles ……' lists); null: they stay prose."
    )
    max_error_prose: float | None = Field(
        150, ge=0, description="Pages with less prose than this are searched for error/placeholder phrases."
    )
    max_notice_prose: float | None = Field(
        60, ge=0, description="Pages with less prose than this are also searched for notice phrases (login, "
        "JavaScript, redirect, no results), which real pages carry as boilerplate."
    )
    max_status_phrases: float | None = Field(0, ge=0, description="Status phrases above this in such a page → error_page.")
    min_prose: float | None = Field(30, ge=0, description="Fewer prose units → too_little_prose (stubs, menus).")
    paragraph_units: float = Field(
        25, ge=1, description="Units a prose line needs to count as a paragraph when it holds one sentence end only."
    )
    min_paragraph_prose: float | None = Field(
        45, ge=0, description="Fewer characters in paragraphs (prose lines of 2+ sentences or paragraph_units) → "
        "too_little_paragraph (lists of one-line titles or questions; character-unit scripts only, in characters)."
    )
    min_prose_frac: float | None = Field(0.2, ge=0, le=1, description="Prose share of all units, at least.")
    short_prose: float = Field(
        200, ge=0, description="Pages with less prose than this need min_short_prose_frac of prose, not min_prose_frac."
    )
    min_short_prose_frac: float | None = Field(
        0.3, ge=0, le=1, description="Prose share of a page with little prose (< short_prose), at least → "
        "short_prose_frac (a short blurb amid menus: store, player and listing pages)."
    )
    max_title_injections: float | None = Field(
        2, ge=0, description="Title found inside more body lines than this → title_injected (character-unit "
        "scripts only: in English a title is quoted in captions and links; in Chinese spam it is injected)."
    )
    max_off_topic_title_hits: float | None = Field(
        0.5, ge=0, description="Weighted adult, gambling or spam words in a title whose words the page's prose does "
        "not use (title_topic_overlap), above this → off_topic_title (character-unit scripts only)."
    )
    title_topic_overlap: float = Field(
        0.1, ge=0, le=1, description="Share of the title's character bigrams the prose must hold for the title to be "
        "on topic (off_topic_title)."
    )
    max_bracketed_frac: float | None = Field(
        0.1, ge=0, le=1, description="Share of characters in runs of single bracketed characters (【此】【外】), above "
        "→ bracketed_chars (text obfuscated against keyword filters)."
    )
    max_url_ratio: float | None = Field(0.03, ge=0, description="URLs/domain names per unit above → url_ratio.")
    max_repeated_prefix_frac: float | None = Field(
        0.5, ge=0, le=1, description="Lines starting like 2+ other lines, at most (keyword and lottery lists)."
    )
    min_lines_for_prefix: int = Field(8, ge=1, description="repeated_prefix is checked on pages with this many lines.")


class CustomRuleSpec(_Model):
    """A user's rule: a function or class named by import path (`pipeline.filter.rules.custom_rule`)."""

    rule: str = Field(description="'package.module:function' (view → float) or 'package.module:Class'.")
    name: str | None = Field(None, description="Reason suffix (custom:<name>); default: the function/class name.")
    max: float | None = Field(None, description="Fail when the measurement is above this.")
    min: float | None = Field(None, description="Fail when the measurement is below this.")
    scale: Literal["none", "count", "per_unit"] = Field("none", description="How the threshold rescales per script.")
    params: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of a rule class.")

    @model_validator(mode="after")
    def _one_bound(self) -> CustomRuleSpec:
        if (self.max is None) == (self.min is None):
            raise ValueError(f"custom rule {self.rule!r} needs exactly one of max or min")
        return self


class CustomSettings(_Model):
    """Thresholds of the user's rules, by rule name (null turns one off); the rules come from `custom_rules`."""

    enabled: bool = True
    thresholds: dict[str, float | None] = Field(default_factory=dict)


class QualityRules(_Model):
    """The effective rules for one document's language and script."""

    badwords: BadwordsSettings = Field(default_factory=BadwordsSettings)
    page: PageSettings = Field(default_factory=PageSettings)
    gopher_repetition: GopherRepetitionSettings = Field(default_factory=GopherRepetitionSettings)
    gopher_quality: GopherQualitySettings = Field(default_factory=GopherQualitySettings)
    c4: C4Settings = Field(default_factory=C4Settings)
    fineweb: FineWebSettings = Field(default_factory=FineWebSettings)
    custom: CustomSettings = Field(default_factory=CustomSettings)


_FAMILIES: dict[str, type[_Model]] = {
    "badwords": BadwordsSettings,
    "page": PageSettings,
    "gopher_repetition": GopherRepetitionSettings,
    "gopher_quality": GopherQualitySettings,
    "c4": C4Settings,
    "fineweb": FineWebSettings,
    "custom": CustomSettings,
}


class _Partial(_Model):
    """An override: dumps only the keys that were given (so a dump validates back to the same override)."""

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}


def _partial(model: type[_Model]) -> type[_Model]:
    """The same fields, all optional with default None; what is left unset inherits, explicit null disables a rule."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        new = copy.copy(info)
        new.default = None
        new.default_factory = None
        fields[name] = (info.annotation | None, new)
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{model.__name__}Override", __base__=_Partial, __doc__=f"Partial {model.__name__}.", **fields
    )


GopherQualityOverride = _partial(GopherQualitySettings)
GopherRepetitionOverride = _partial(GopherRepetitionSettings)
C4Override = _partial(C4Settings)
FineWebOverride = _partial(FineWebSettings)
BadwordsOverride = _partial(BadwordsSettings)
PageOverride = _partial(PageSettings)
CustomOverride = _partial(CustomSettings)


class QualityOverride(_Partial):
    """Keys to change for one script or language; everything not named is inherited."""

    badwords: BadwordsOverride | None = None  # type: ignore[valid-type]
    page: PageOverride | None = None  # type: ignore[valid-type]
    custom: CustomOverride | None = None  # type: ignore[valid-type]
    gopher_repetition: GopherRepetitionOverride | None = None  # type: ignore[valid-type]
    gopher_quality: GopherQualityOverride | None = None  # type: ignore[valid-type]
    c4: C4Override | None = None  # type: ignore[valid-type]
    fineweb: FineWebOverride | None = None  # type: ignore[valid-type]

    def as_patch(self) -> dict[str, dict[str, Any]]:
        """``{family: {key: value}}`` with only the keys the user wrote (an explicit null included)."""
        out: dict[str, dict[str, Any]] = {}
        for fam in _FAMILIES:
            part = getattr(self, fam)
            if part is not None:
                out[fam] = part.model_dump(exclude_unset=True)
        return out


@dataclass(frozen=True, slots=True)
class Calibration:
    """How a script or language differs from English words (measured on the UDHR, see the module docstring)."""

    #: Units (words or characters) per English word.
    units_per_word: float
    #: Line characters (spaces included) per English word; English: 6.0.
    line_chars_per_word: float
    #: Mean unit length relative to English's; None: mean length is not checked (character units).
    mean_len_factor: float | None
    #: n-gram sizes are in characters and rescale with `units_per_word`.
    char_units: bool
    sentence_punct: bool = True


_ENGLISH_LINE_CHARS_PER_WORD = 6.0
_LANG_CALIBRATION = {"vie_Latn": Calibration(1.43, 7.3, 0.82, char_units=False)}
# Line characters per English word for the character-unit scripts: units plus the few spaces they use.
_SPACELESS_LINE_CHARS = {"Thai": 5.3, "Laoo": 6.1, "Khmr": 6.1, "Mymr": 8.9}


def calibration_for(lang: str | None, script: str | None) -> Calibration | None:
    """The calibration for a document, or None when English's thresholds apply unchanged (Latin, Cyrillic, ...)."""
    if lang in _LANG_CALIBRATION:
        return _LANG_CALIBRATION[lang]
    profile = profile_for(script)
    if profile.unit == "char":
        k = profile.chars_per_word
        line_chars = _SPACELESS_LINE_CHARS.get(profile.script, k)
        return Calibration(k, line_chars, None, char_units=True, sentence_punct=profile.sentence_punct)
    if profile.script == "Hang":
        return Calibration(KOREAN_WORDS_PER_WORD, 2.62, 0.58, char_units=False)
    return None


def _rescaled(
    base: dict[str, dict[str, Any]], cal: Calibration, custom_scales: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """The global thresholds (English words) expressed in the script's or language's units, each key as its rule
    declares (`pipeline.filter.rules.Scale`)."""
    from pipeline.filter.rules import FAMILIES, Scale

    k = cal.units_per_word
    line_scale = cal.line_chars_per_word / _ENGLISH_LINE_CHARS_PER_WORD

    def scaled(v: Any, how: Scale) -> Any:
        if v is None or isinstance(v, bool) or how is Scale.NONE:
            return v
        if how is Scale.COUNT:
            return max(1, int(v * k + 0.5)) if isinstance(v, int) else round(v * k, 3)
        if how is Scale.PER_UNIT:
            return round(v / k, 4)
        if how is Scale.MEAN_LEN:
            return None if cal.mean_len_factor is None else round(v * cal.mean_len_factor, 2)
        if how is Scale.CHAR_DENSITY:
            return round(v / line_scale, 4)
        if how is Scale.LINE_CHARS:
            return max(1, int(v * line_scale + 0.5))
        if how is Scale.NGRAM_SIZES:
            return {max(1, int(n * k + 0.5)): f for n, f in v.items()} if cal.char_units else v
        if how is Scale.WORD_SCRIPTS:
            return None if cal.char_units else v
        if how is Scale.CHAR_SCRIPTS:
            return v if cal.char_units else None
        raise AssertionError(how)

    out = copy.deepcopy(base)
    for fam in FAMILIES:
        data = out[fam.name]
        for key, how in fam.scales().items():
            data[key] = scaled(data[key], how)
    for name, how in (custom_scales or {}).items():
        th = out["custom"]["thresholds"]
        if name in th:
            th[name] = scaled(th[name], Scale(how))
    if not cal.sentence_punct:
        out["fineweb"]["min_line_punct_frac"] = None
        out["c4"]["drop_no_terminal_punct_lines"] = False
    return out


_COMPOSITE_SCRIPTS = frozenset({"Hang", "Jpan", "Hans", "Hant", "Hani", "Kore"})


def _canonical_script(code: str) -> str:
    s = code.strip().title()
    if s not in _COMPOSITE_SCRIPTS and s not in SCRIPTS:
        raise ValueError(f"unknown ISO 15924 script {code!r} in by_script (e.g. Hang, Jpan, Hans, Hant, Thai, Latn)")
    return s


def _canonical_langs(code: str) -> list[str]:
    from pipeline.lang.codes import expand_label

    return expand_label(code)


class QualitySettings(QualityRules):
    """The ``filter.quality`` section: global rules (in English-word units), rescaling, per-script/language overrides."""

    rescale_by_script: bool = Field(
        True, description="Derive each script's thresholds from the global ones (module docstring); false: use as is."
    )
    by_script: dict[str, QualityOverride] = Field(
        default_factory=dict, description="Overrides per ISO 15924 script (Hang, Jpan, Hans, Thai, ...), as written."
    )
    by_lang: dict[str, QualityOverride] = Field(
        default_factory=dict,
        description="Overrides per language in any code form (ko, kor_Hang, zh-Hant); a code without a script "
        "applies to every script of the language (zh: zho_Hans and zho_Hant), a code with one wins over it.",
    )
    custom_rules: list[CustomRuleSpec] = Field(
        default_factory=list,
        description="Your own rules by import path; reason custom:<name>, threshold overridable per script/language "
        "under custom.thresholds.<name>.",
    )

    @field_validator("custom_rules")
    @classmethod
    def _custom_names(cls, v: list[CustomRuleSpec]) -> list[CustomRuleSpec]:
        seen: set[str] = set()
        for spec in v:
            name = _custom_name(spec)
            if name in seen:
                raise ValueError(f"two custom rules are named {name!r}: give one a `name`")
            seen.add(name)
        return v

    def compiled_custom_rules(self) -> list[Any]:
        """The user's rules as `pipeline.filter.rules.Rule` objects (imports their modules)."""
        from pipeline.filter.rules import Scale, custom_rule

        return [
            custom_rule(spec.rule, spec.name, "max" if spec.max is not None else "min", Scale(spec.scale), spec.params)
            for spec in self.custom_rules
        ]

    @field_validator("by_script")
    @classmethod
    def _scripts(cls, v: dict[str, QualityOverride]) -> dict[str, QualityOverride]:
        out: dict[str, QualityOverride] = {}
        for code, ov in v.items():
            s = _canonical_script(code)
            if s in out:
                raise ValueError(f"script {s!r} is listed twice (as {code!r})")
            out[s] = ov
        return out

    @field_validator("by_lang")
    @classmethod
    def _langs(cls, v: dict[str, QualityOverride]) -> dict[str, QualityOverride]:
        general: dict[str, QualityOverride] = {}
        specific: dict[str, QualityOverride] = {}
        for label, ov in v.items():
            codes = _canonical_langs(label)
            target = specific if len(codes) == 1 else general
            for c in codes:
                if c in target:
                    raise ValueError(f"language {c!r} is listed twice (as {label!r} and another code for it)")
                target[c] = ov
        merged = dict(general)
        for c, ov in specific.items():
            if c in general:  # zh and zh-Hant both given: the specific keys win over the general ones
                patch = _merge(general[c].as_patch(), ov.as_patch())
                ov = QualityOverride.model_validate(patch)
            merged[c] = ov
        return dict(sorted(merged.items()))

    @model_validator(mode="after")
    def _overrides_resolve(self) -> QualitySettings:
        # Resolve every override now, so a bad combination (min_words above max_words, ...) fails at load time.
        for script in self.by_script:
            self._resolve(None, script, where=f"by_script.{script}")
        for lang in self.by_lang:
            self._resolve(lang, lang.partition("_")[2] or None, where=f"by_lang.{lang}")
        return self

    def rules_for(self, lang: str | None, script: str | None) -> QualityRules:
        """Effective rules for a canonical language code and a script (see the module docstring for the order)."""
        return self._resolve(lang, script)

    def _resolve(self, lang: str | None, script: str | None, where: str = "") -> QualityRules:
        base = {fam: getattr(self, fam).model_dump() for fam in _FAMILIES}
        custom_scales: dict[str, str] = {}
        for spec in self.custom_rules:
            name = _custom_name(spec)
            base["custom"]["thresholds"].setdefault(name, spec.max if spec.max is not None else spec.min)
            custom_scales[name] = spec.scale
        cal = calibration_for(lang, script) if self.rescale_by_script else None
        data = _rescaled(base, cal, custom_scales) if cal is not None else base
        if self.rescale_by_script and (cal is None or not cal.char_units):
            data = _word_script_only_off(data)
        if script is not None:
            s = script.title()
            if s in ("Hans", "Hant") and "Hani" in self.by_script:
                data = _merge(data, self.by_script["Hani"].as_patch())
            if s in self.by_script:
                data = _merge(data, self.by_script[s].as_patch())
        if lang is not None and lang in self.by_lang:
            data = _merge(data, self.by_lang[lang].as_patch())
        try:
            return QualityRules.model_validate(data)
        except ValidationError as e:
            prefix = where or f"rules for {lang}/{script}"
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
                for err in e.errors()
            )
            raise ValueError(f"{prefix}: {problems}") from None


def _word_script_only_off(data: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The thresholds of rules meant for character-unit scripts only (`Scale.CHAR_SCRIPTS`), turned off."""
    from pipeline.filter.rules import FAMILIES, Scale

    out = data
    for fam in FAMILIES:
        for key, how in fam.scales().items():
            if how is Scale.CHAR_SCRIPTS and data[fam.name].get(key) is not None:
                out = {**out, fam.name: {**out[fam.name], key: None}}
    return out


def _merge(base: dict[str, dict[str, Any]], patch: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {fam: dict(vals) for fam, vals in base.items()}
    for fam, vals in patch.items():
        target = out.setdefault(fam, {})
        for key, value in vals.items():
            if fam == "custom" and key == "thresholds" and isinstance(target.get(key), dict) and value is not None:
                target[key] = {**target[key], **value}  # one user rule's threshold, not the whole table
            else:
                target[key] = value
    return out


def _custom_name(spec: CustomRuleSpec) -> str:
    """The rule's name without importing it when given; else the function's or class's own name."""
    if spec.name is not None:
        return spec.name
    from pipeline.filter.rules import Scale, custom_rule

    return custom_rule(spec.rule, None, "max", Scale.NONE, spec.params).name

