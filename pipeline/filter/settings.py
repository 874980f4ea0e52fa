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
- **Vietnamese** (syllable words; 1.43 per English word, mean length 0.67 × English's): the same kind of rescaling;
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
from typing import Any

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


class QualityRules(_Model):
    """The effective rules for one document's language and script."""

    gopher_repetition: GopherRepetitionSettings = Field(default_factory=GopherRepetitionSettings)
    gopher_quality: GopherQualitySettings = Field(default_factory=GopherQualitySettings)
    c4: C4Settings = Field(default_factory=C4Settings)
    fineweb: FineWebSettings = Field(default_factory=FineWebSettings)


_FAMILIES: dict[str, type[_Model]] = {
    "gopher_repetition": GopherRepetitionSettings,
    "gopher_quality": GopherQualitySettings,
    "c4": C4Settings,
    "fineweb": FineWebSettings,
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


class QualityOverride(_Partial):
    """Keys to change for one script or language; everything not named is inherited."""

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
_LANG_CALIBRATION = {"vie_Latn": Calibration(1.43, 7.3, 0.67, char_units=False)}
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


def _rescaled(base: dict[str, dict[str, Any]], cal: Calibration) -> dict[str, dict[str, Any]]:
    """The global thresholds (English words) expressed in the script's or language's units."""
    k = cal.units_per_word

    def times(v: float | None, digits: int | None = None) -> Any:
        return None if v is None else (max(1, int(v * k + 0.5)) if digits is None else round(v * k, digits))

    def per(v: float | None) -> float | None:
        return None if v is None else round(v / k, 4)

    out = copy.deepcopy(base)
    gq, rep, c4, fw = out["gopher_quality"], out["gopher_repetition"], out["c4"], out["fineweb"]
    gq["min_words"] = times(gq["min_words"])
    gq["max_words"] = times(gq["max_words"])
    gq["max_hash_ratio"] = per(gq["max_hash_ratio"])
    gq["max_ellipsis_ratio"] = per(gq["max_ellipsis_ratio"])
    if cal.mean_len_factor is None:
        gq["min_mean_word_length"] = gq["max_mean_word_length"] = None
    else:
        for key in ("min_mean_word_length", "max_mean_word_length"):
            gq[key] = None if gq[key] is None else round(gq[key] * cal.mean_len_factor, 2)
    if cal.char_units:
        rep["max_top_ngram_char_frac"] = {times(n): f for n, f in rep["max_top_ngram_char_frac"].items()}
        rep["max_dup_ngram_char_frac"] = {times(n): f for n, f in rep["max_dup_ngram_char_frac"].items()}
        c4["max_word_length"] = None
    c4["min_words_per_line"] = times(c4["min_words_per_line"])
    fw["max_newlines_per_word"] = per(fw["max_newlines_per_word"])
    line_scale = cal.line_chars_per_word / _ENGLISH_LINE_CHARS_PER_WORD
    fw["short_line_chars"] = max(1, int(fw["short_line_chars"] * line_scale + 0.5))
    if not cal.sentence_punct:
        fw["min_line_punct_frac"] = None
        c4["drop_no_terminal_punct_lines"] = False
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
        cal = calibration_for(lang, script) if self.rescale_by_script else None
        data = _rescaled(base, cal) if cal is not None else base
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


def _merge(base: dict[str, dict[str, Any]], patch: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {fam: dict(vals) for fam, vals in base.items()}
    for fam, vals in patch.items():
        out.setdefault(fam, {}).update(vals)
    return out

