"""Per-language quality thresholds from a reference corpus (FineWeb-2's method): the library of `polyglot calibrate`.

Why: the global thresholds are datatrove's English defaults, rescaled per script by a few factors measured on the
UDHR (`pipeline.filter.settings`). FineWeb-2 instead picked each language's thresholds from the distribution of the
rule's measurement over clean reference text of that language. Here:

1. `read_reference` reads reference documents (Parquet, JSON lines (.gz), Arrow IPC file or stream, CSV, a saved
   Hugging Face dataset, or local files through `datasets.load_dataset`; globs and fsspec URLs) with the reader the
   `input` stage uses (`pipeline.ingest.documents`), normalizes each document's
   language (`pipeline.lang.codes.normalize_label`, with the text's script as a hint: ``zh`` becomes ``zho_Hans`` or
   ``zho_Hant``) and keeps at most ``max_docs_per_lang`` per language (a seeded reservoir, or the first N);
2. `measure_reference` measures every rule on every document under the config's quality settings
   (`QualityFilter.apply_measured`);
3. `calibrate_thresholds` picks, per language and rule, the threshold at which at most the rule's *tail* of the
   reference fails it: for a ``max`` rule the (1 - tail) quantile, for a ``min`` rule the tail quantile. The
   denominator is every reference document of the language (a rule that does not apply to a document never fails
   it). The quantile is an observed value (the inverted empirical CDF), rounded to 3 significant digits *away* from
   failing (a ``max`` threshold up, a ``min`` one down; integer settings to integers) and then checked: the emitted
   threshold never makes the rule fail more than its tail of the reference.

What is left alone, and why:

- rules without a numeric threshold (C4's switches: lorem ipsum, ``{``, all lines removed) and rules the config turns
  off for the language (a calibration must not switch a rule on);
- by default the *length* rules (`LENGTH_RULES`): a reference corpus is cut into documents of whatever length its
  builder chose, which says nothing about how short or long a web page may be; and the bad-word rates
  (`badwords:*`): they measure topic, and a clean reference has none, so their quantile is zero. Name a rule in
  ``tails`` (or in ``rules``) to calibrate it anyway;
- a rule with no tail in the reference (``degenerate: keep``): when at least 1 - tail of the documents share the
  extreme value (no repetition at all, every word with a letter), the quantile *is* that value and the threshold would
  fail any document that differs from it at all; the config's threshold is kept and the report says so;
- rules measured on fewer than ``min_docs`` documents, languages with fewer than ``min_docs`` documents, and rules
  whose tail is less than one document (the quantile would be the single most extreme reference document).

The result (`Calibration`) is a ``filter.quality.by_lang`` mapping in the script's own units (the units of the
measurements), written as YAML with a comment header, plus a JSON report per language and rule (old and new
threshold, share of the reference failing at each). Use it with ``filter.quality_thresholds: <file>`` in the config
(the config's own ``by_lang`` keys win) or paste it under ``filter.quality.by_lang``.

Ray-free: measuring runs in this process, or in `workers` local processes.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
import math
import random
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.filter.rules import FAMILIES, Rule
from pipeline.filter.settings import QualityRules, QualitySettings

if TYPE_CHECKING:
    from rich.console import Console

    from pipeline.filter.quality import QualityFilter
    from pipeline.ingest.documents import Unit

__all__ = [
    "Calibration",
    "CalibrationError",
    "CalibrateSettings",
    "LENGTH_RULES",
    "LanguageMeasurements",
    "Reference",
    "calibrate_thresholds",
    "measure_reference",
    "read_reference",
    "render",
    "run_calibration",
]

log = logging.getLogger(__name__)

#: Rules whose measurement is the document's length: not calibrated unless named in ``tails`` or ``rules``.
LENGTH_RULES: tuple[str, ...] = (
    "gopher_quality:too_few_words",
    "gopher_quality:too_many_words",
    "page:too_little_prose",
    "c4:too_few_sentences",
)
#: Patterns of rules left out by default for other reasons (bad-word rates measure topic, not quality).
DEFAULT_EXCLUDED: tuple[str, ...] = (*LENGTH_RULES, "badwords:*")

Format = Literal["auto", "parquet", "jsonl", "arrow", "csv", "hf"]
_NGRAM_REASON = re.compile(r"gopher_repetition:(top|dup)_\d+_gram")
_CUSTOM_REASON = re.compile(r"custom:[A-Za-z_]\w*")
_SIGNIFICANT = 3


class CalibrationError(ValueError):
    """Reference input that cannot be used (missing field, unknown language label, unreadable file); for the user."""


# --------------------------------------------------------------------------------------------------------- settings


def _default_rules() -> list[tuple[str, Rule]]:
    defaults = QualityRules()
    return [(f"{fam.name}:{r.name}", r) for fam in FAMILIES for r in fam.rules(getattr(defaults, fam.name))]


#: The reasons of the built-in rules under the default settings (n-gram sizes vary per script; see _NGRAM_REASON).
_KNOWN_REASONS = tuple(reason for reason, _ in _default_rules())
_SWITCH_REASONS = frozenset(reason for reason, r in _default_rules() if r.switch_value is not None)


def _check_reason(key: str) -> str:
    """A rule reason or an fnmatch pattern of reasons; a precise error for an unknown or non-numeric one."""
    if any(ch in key for ch in "*?["):
        family = key.partition(":")[0]
        if family not in {f.name for f in FAMILIES}:
            known = ", ".join(f.name for f in FAMILIES)
            raise ValueError(f"{key!r}: unknown rule family {family!r} ({known})")
        return key
    if key in _SWITCH_REASONS:
        raise ValueError(f"{key!r} has no numeric threshold to calibrate (it is a switch: on or off)")
    if key in _KNOWN_REASONS or _NGRAM_REASON.fullmatch(key) or _CUSTOM_REASON.fullmatch(key):
        return key
    close = difflib.get_close_matches(key, _KNOWN_REASONS, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else " (e.g. gopher_quality:stop_words, fineweb:list_ratio)"
    raise ValueError(f"unknown rule {key!r}: expected '<family>:<rule>' as in filter reasons{hint}")


class CalibrateSettings(BaseModel):
    """The ``calibrate:`` section: which reference documents, which rules and how much of the reference may fail."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    inputs: list[str] = Field(
        min_length=1, description="Reference files, globs, directories or a saved HF dataset dir (local or fsspec)."
    )
    format: Format = Field(
        "auto", description="parquet, jsonl (.jsonl/.json[.gz]), arrow (IPC file or stream), csv, hf (a saved "
        "dataset dir, or local files read with datasets.load_dataset); auto: by suffix, a saved dataset dir as hf.",
    )
    text_field: str = Field("text", min_length=1, description="The field holding the document text.")
    lang_field: str | None = Field(
        None, description="The field holding each document's language (any code form); default 'lang' unless `lang`."
    )
    lang: str | None = Field(None, description="One language for every document (instead of lang_field).")
    default_tail: float = Field(
        0.05, gt=0, lt=1, description="Share of the reference allowed to fail a rule (FineWeb-2's quantile)."
    )
    tails: dict[str, float] = Field(
        default_factory=dict,
        description="Per rule reason (or fnmatch pattern) → its tail, e.g. gopher_quality:stop_words: 0.02. Naming "
        "a length rule here calibrates it.",
    )
    rules: list[str] | None = Field(
        None, description="Only these rule reasons (or patterns); default: every numeric rule but the length and "
        "bad-word rules.",
    )
    max_docs_per_lang: int | None = Field(
        10_000, ge=1, description="Cap per language (null: every document, all held in memory)."
    )
    sample: Literal["reservoir", "first"] = Field(
        "reservoir", description="Which documents the cap keeps: a seeded reservoir sample, or the first N."
    )
    min_docs: int = Field(100, ge=1, description="Languages (and rules) with fewer reference documents are skipped.")
    seed: int = Field(0, description="Seed of the reservoir sample.")
    degenerate: Literal["keep", "use"] = Field(
        "keep", description="When the quantile is the reference's own extreme value (no tail to cut): keep the "
        "config's threshold, or use that value anyway.",
    )
    workers: int = Field(1, ge=1, description="Local processes that measure documents.")
    output: str | None = Field(
        None, description="The YAML file to write (path or URL); default <work_dir>/calibration/thresholds.yaml. "
        "The report goes beside it as <name>.report.json.",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_lang_field(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("lang") is None and data.get("lang_field") is None:
            data = {**data, "lang_field": "lang"}
        return data

    @model_validator(mode="after")
    def _one_language_source(self) -> CalibrateSettings:
        if self.lang is not None and self.lang_field is not None:
            raise ValueError("give lang_field (a field per document) or lang (one language for all), not both")
        return self

    @field_validator("lang")
    @classmethod
    def _known_lang(cls, v: str | None) -> str | None:
        from pipeline.lang.codes import known_language

        return known_language(v)

    @field_validator("tails")
    @classmethod
    def _tails(cls, v: dict[str, float]) -> dict[str, float]:
        for key, tail in v.items():
            _check_reason(key)
            if not 0 < tail < 1:
                raise ValueError(f"{key!r}: a tail is a share of the reference within (0, 1), got {tail}")
        return v

    @field_validator("rules")
    @classmethod
    def _rules(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        if not v:
            raise ValueError("an empty list calibrates nothing; leave it out for the default set")
        for key in v:
            _check_reason(key)
        return v

    @model_validator(mode="after")
    def _tails_are_calibrated(self) -> CalibrateSettings:
        if self.rules is not None:
            for key in self.tails:
                if not any(ch in key for ch in "*?[") and not any(fnmatch.fnmatchcase(key, r) for r in self.rules):
                    raise ValueError(f"tails: {key!r} is not among `rules` ({', '.join(self.rules)}): it would not "
                                     "be calibrated")  # fmt: skip
        return self

    def tail_for(self, reason: str) -> float:
        """The rule's tail: its own entry, else the longest matching pattern, else the default."""
        if reason in self.tails:
            return self.tails[reason]
        matches = [k for k in self.tails if fnmatch.fnmatchcase(reason, k)]
        return self.tails[max(matches, key=len)] if matches else self.default_tail

    def selected(self, reason: str) -> bool:
        """Whether a rule is calibrated: listed in `rules`, or by default every rule but `DEFAULT_EXCLUDED` (a rule
        named exactly in `tails` is calibrated even then)."""
        if self.rules is not None:
            return any(fnmatch.fnmatchcase(reason, r) for r in self.rules)
        if reason in self.tails:
            return True
        return not any(fnmatch.fnmatchcase(reason, p) for p in DEFAULT_EXCLUDED)

    def output_path(self, work_dir: str) -> str:
        from pipeline.storage import join

        return self.output or join(work_dir, "calibration", "thresholds.yaml")


def report_path(output: str) -> str:
    """Where the JSON report of `output` goes: beside it, ``<name>.report.json``."""
    for suffix in (".yaml", ".yml"):
        if output.endswith(suffix):
            return output[: -len(suffix)] + ".report.json"
    return output + ".report.json"


# ---------------------------------------------------------------------------------------------------------- reading


@dataclass
class Reference:
    """Reference documents by canonical language, after the cap, in input order."""

    files: list[str]
    docs: dict[str, list[str]]
    #: Documents read per language before the cap.
    seen: dict[str, int]
    #: Documents left out: ``no_language`` (null or empty label, ``und``), ``empty_text``.
    skipped: dict[str, int] = field(default_factory=dict)


Row = tuple[str, str, Any, Any]  # (file, "row N" / "line N", language label, text)


def _rows(settings: CalibrateSettings, units: list[Unit]) -> Iterator[Row]:
    """Every reference record through the shared reader (`pipeline.ingest.documents`), strictly: a malformed line
    or a line without a field stops the calibration with its position, instead of being skipped."""
    from pipeline.ingest.documents import ROW, InputError, read_unit

    t, lf = settings.text_field, settings.lang_field
    fields = [t] + ([lf] if lf else [])
    for unit in units:
        what = "line" if unit.kind == "jsonl" else "row"
        try:
            for batch in read_unit(unit, fields, strict=True):
                texts = batch.column(t).to_pylist()
                langs = batch.column(lf).to_pylist() if lf else [None] * len(texts)
                for row, label, text in zip(batch.column(ROW).to_pylist(), langs, texts, strict=True):
                    yield unit.label, f"{what} {row + 1}", label, text
        except InputError as e:
            raise CalibrationError(str(e)) from None


def read_reference(settings: CalibrateSettings, progress: Callable[[int], None] | None = None) -> Reference:
    """Read, label and cap the reference documents (`progress(n)` after every 1000 documents read)."""
    from pipeline.ingest.documents import InputError, units_for_paths
    from pipeline.lang.codes import UND, normalize_label
    from pipeline.text.scripts import dominant_script

    try:
        units = units_for_paths(settings.inputs, settings.format, section="calibrate")
    except InputError as e:
        raise CalibrationError(str(e)) from None
    cap = settings.max_docs_per_lang
    kept: dict[str, list[tuple[int, str]]] = {}
    seen: dict[str, int] = {}
    rngs: dict[str, random.Random] = {}
    skipped = {"no_language": 0, "empty_text": 0}
    n = 0
    for where, pos, label, text in _rows(settings, units):
        n += 1
        if progress is not None and n % 1000 == 0:
            progress(n)
        if text is None or (isinstance(text, str) and not text.strip()):
            skipped["empty_text"] += 1
            continue
        if not isinstance(text, str):
            raise CalibrationError(f"{where}: {pos}: field {settings.text_field!r} is {type(text).__name__}, "
                                   "not text")  # fmt: skip
        label = settings.lang if settings.lang is not None else label
        if label is None or (isinstance(label, str) and not label.strip()):
            skipped["no_language"] += 1
            continue
        if not isinstance(label, str):
            raise CalibrationError(f"{where}: {pos}: language {label!r} is not a code")
        try:
            lang = normalize_label(label, dominant_script(text))
        except ValueError as e:
            raise CalibrationError(f"{where}: {pos}: {e}") from None
        if lang == UND:
            skipped["no_language"] += 1
            continue
        i = seen.get(lang, 0)
        seen[lang] = i + 1
        docs = kept.setdefault(lang, [])
        if cap is None or len(docs) < cap:
            docs.append((i, text))
        elif settings.sample == "reservoir":  # Algorithm R, one seeded stream per language: order-independent
            rng = rngs.get(lang)
            if rng is None:
                rng = rngs[lang] = random.Random(f"{settings.seed}:{lang}")
            j = rng.randrange(i + 1)
            if j < cap:
                docs[j] = (i, text)
    if progress is not None:
        progress(n)
    files = [u.location for u in units]
    out = {lang: [t for _, t in sorted(docs)] for lang, docs in sorted(kept.items())}
    return Reference(files, out, dict(sorted(seen.items())), {k: v for k, v in skipped.items() if v})


# -------------------------------------------------------------------------------------------------------- measuring


@dataclass
class LanguageMeasurements:
    """Every rule's measurement of every reference document of one language."""

    lang: str
    documents: int
    #: The config's decision per document (None: kept), as `QualityFilter.apply` gives it.
    reasons: list[str | None]
    #: ``"<family>.<metric>"`` → one value per document (NaN: the rule does not apply to it).
    columns: dict[str, np.ndarray]


_WORKER_FILTER: QualityFilter | None = None


def _init_worker(settings: QualitySettings) -> None:
    from pipeline.filter.quality import QualityFilter

    global _WORKER_FILTER
    _WORKER_FILTER = QualityFilter(settings)


def _measure_chunk(args: tuple[str, list[str]]) -> list[tuple[str | None, dict[str, float]]]:
    lang, texts = args
    qf = _WORKER_FILTER
    assert qf is not None
    script = lang.partition("_")[2] or None
    out = []
    for text in texts:
        result, values = qf.apply_measured(text, lang, script)
        out.append((result.reason, values))
    return out


def measure_reference(
    reference: Reference,
    quality: QualitySettings,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> dict[str, LanguageMeasurements]:
    """Measure every document under `quality` (`progress(k)` with the documents measured since the last call)."""
    chunks = [(lang, texts[i : i + 64]) for lang, texts in reference.docs.items() for i in range(0, len(texts), 64)]
    results: dict[str, list[tuple[str | None, dict[str, float]]]] = {lang: [] for lang in reference.docs}
    if workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                                 initargs=(quality,)) as pool:  # fmt: skip
            for (lang, texts), res in zip(chunks, pool.map(_measure_chunk, chunks), strict=True):
                results[lang].extend(res)
                if progress is not None:
                    progress(len(texts))
    else:
        _init_worker(quality)
        for lang, texts in chunks:
            results[lang].extend(_measure_chunk((lang, texts)))
            if progress is not None:
                progress(len(texts))
    out: dict[str, LanguageMeasurements] = {}
    for lang, rows in results.items():
        names = sorted({k for _, values in rows for k in values})
        columns = {k: np.array([values.get(k, np.nan) for _, values in rows], dtype=float) for k in names}
        out[lang] = LanguageMeasurements(lang, len(rows), [r for r, _ in rows], columns)
    return out


# ------------------------------------------------------------------------------------------------------ thresholds


@dataclass(frozen=True)
class _RuleInForce:
    """One rule as it applies to one language: where its threshold lives and what it is."""

    reason: str
    family: str
    column: str
    rule: Rule
    threshold: float | None
    integer: bool


def _is_integer_field(rules: QualityRules, family: str, key: str) -> bool:
    model = type(getattr(rules, family))
    info = model.model_fields.get(key)
    if info is None:
        return False
    args = set(get_args(info.annotation)) or {info.annotation}
    return int in args and float not in args


def _rules_in_force(quality: QualitySettings, custom: Sequence[Rule], lang: str) -> list[_RuleInForce]:
    """Every rule of the enabled families for a language, with its threshold (the engine's own plan, rebuilt from
    the public pieces: `QualitySettings.rules_for` and `FAMILIES`)."""
    rules = quality.rules_for(lang, lang.partition("_")[2] or None)
    out = []
    for fam in FAMILIES:
        s = getattr(rules, fam.name)
        if not s.enabled:
            continue
        for r in custom if fam.name == "custom" else fam.rules(s):
            integer = r.entry is None and _is_integer_field(rules, fam.name, r.key)
            out.append(_RuleInForce(f"{fam.name}:{r.name}", fam.name, f"{fam.name}.{r.metric_name}", r,
                                    r.threshold(s), integer))  # fmt: skip
    return out


def _fails(values: np.ndarray, op: str, threshold: float) -> np.ndarray:
    return values > threshold if op == "max" else values < threshold  # NaN compares False: not measured, not failed


def _round_out(value: float, op: str, integer: bool) -> float:
    """Rounded away from failing: a max threshold up, a min one down, to 3 significant digits (integers: whole)."""
    if integer:
        return float(math.ceil(value) if op == "max" else math.floor(value))
    if value == 0 or not math.isfinite(value):
        return value
    exp = math.floor(math.log10(abs(value))) - _SIGNIFICANT + 1
    d = Decimal(repr(value)).quantize(Decimal(1).scaleb(exp), rounding=ROUND_CEILING if op == "max" else ROUND_FLOOR)
    return float(d)


def quantile_threshold(values: np.ndarray, documents: int, op: str, tail: float) -> tuple[float, bool]:
    """The strictest observed value at which at most `tail` × `documents` of the reference fails (`values`: the
    measured documents, NaN-free), and whether it is the reference's own extreme (no tail to cut)."""
    vals = np.sort(values)
    n = len(vals)
    allowed = min(int(math.floor(documents * tail + 1e-9)), n - 1)
    if op == "max":
        t = float(vals[n - allowed - 1])
        return t, t <= vals[0]
    t = float(vals[allowed])
    return t, t >= vals[-1]


def _plain(v: float | None, integer: bool) -> float | int | None:
    if v is None:
        return None
    return int(v) if integer else float(v)


@dataclass
class Calibration:
    """The calibrated thresholds (`by_lang`, a ``filter.quality.by_lang`` mapping) and the report behind them."""

    by_lang: dict[str, dict[str, dict[str, Any]]]
    report: dict[str, Any]

    def yaml_text(self) -> str:
        """The YAML file: a comment header (inputs, documents, tails, command), then the by_lang mapping."""
        r = self.report
        langs = r["languages"]
        lines = [
            "# Per-language quality thresholds from a reference corpus (polyglot calibrate: FineWeb-2's quantiles).",
            "# A filter.quality.by_lang mapping in each script's own units. Use it with",
            "#   filter: {quality_thresholds: <this file>}   (the config's own filter.quality.by_lang keys win)",
            "# or paste it under filter.quality.by_lang.",
            f"# command: {r['command']}",
            f"# inputs ({r['format']}, text field {r['text_field']!r}, "
            + (f"language {r['lang']!r}" if r.get("lang") else f"language field {r['lang_field']!r}")
            + f"): {', '.join(r['inputs'])}",
            "# documents per language: "
            + (", ".join(f"{lang} {v['documents']}" for lang, v in langs.items()) or "none"),
        ]
        if r["skipped_languages"]:
            lines.append(f"# skipped (fewer than min_docs={r['min_docs']} documents): "
                         + ", ".join(f"{lang} {n}" for lang, n in r["skipped_languages"].items()))  # fmt: skip
        tails = ", ".join(f"{k} {v}" for k, v in r["tails"].items())
        lines.append(f"# tails: default {r['default_tail']}" + (f"; {tails}" if tails else ""))
        lines.append(f"# thresholds: {r['calibrated']} calibrated, {_left_alone(r)}; details in the .report.json "
                     "beside this file")  # fmt: skip
        body = yaml.safe_dump(self.by_lang, sort_keys=False, allow_unicode=True, default_flow_style=False)
        return "\n".join(lines) + "\n" + (body if self.by_lang else "{}\n")


def calibrate_thresholds(
    measurements: dict[str, LanguageMeasurements],
    quality: QualitySettings,
    settings: CalibrateSettings,
    *,
    reference: Reference | None = None,
    command: str = "",
) -> Calibration:
    """Per language and selected rule, the quantile threshold (module docstring), checked against the reference."""
    custom = quality.compiled_custom_rules()
    custom_names = {f"custom:{r.name}" for r in custom}
    for key in [*settings.tails, *(settings.rules or [])]:
        if key.startswith("custom:") and not any(ch in key for ch in "*?[") and key not in custom_names:
            raise CalibrationError(f"calibrate: {key!r} names no rule of filter.quality.custom_rules "
                                   f"({', '.join(sorted(custom_names)) or 'none defined'})")  # fmt: skip
    by_lang: dict[str, dict[str, dict[str, Any]]] = {}
    languages: dict[str, Any] = {}
    skipped: dict[str, int] = {}
    total = 0
    for lang, m in measurements.items():
        if m.documents < settings.min_docs:
            skipped[lang] = m.documents
            log.warning("calibrate: %s: %d documents, fewer than min_docs=%d: skipped", lang, m.documents,
                        settings.min_docs)  # fmt: skip
            continue
        rules = _rules_in_force(quality, custom, lang)
        effective = quality.rules_for(lang, lang.partition("_")[2] or None)
        new: dict[str, float] = {}  # reason → calibrated threshold
        rows = []
        for rif in rules:
            r = rif.rule
            if r.switch_value is not None or not settings.selected(rif.reason):
                continue
            tail = settings.tail_for(rif.reason)
            col = m.columns.get(rif.column)
            values = col[~np.isnan(col)] if col is not None else np.empty(0)
            row: dict[str, Any] = {
                "rule": rif.reason, "column": rif.column, "op": r.op,
                "setting": f"{rif.family}.{r.key}" + (f".{r.entry}" if r.entry is not None else ""),
                "tail": tail, "measured": int(len(values)), "old": _plain(rif.threshold, rif.integer),
                "quantile": None, "new": None, "fail_old": None, "fail_new": None,
            }  # fmt: skip
            if rif.threshold is not None and col is not None:
                row["fail_old"] = float(_fails(col, r.op, rif.threshold).sum() / m.documents)
            if rif.threshold is None:
                row["status"] = "off"
            elif len(values) < settings.min_docs:
                row["status"] = "few_measurements"
            elif m.documents * tail < 1 - 1e-9:  # the quantile would be the single most extreme document
                row["status"] = "tail_too_small"
            else:
                raw, degenerate = quantile_threshold(values, m.documents, r.op, tail)
                row["quantile"] = raw
                chosen = _round_out(raw, r.op, rif.integer)
                if _fails(values, r.op, chosen).sum() > m.documents * tail + 1e-9:
                    chosen = raw  # rounding can only loosen; this guards the invariant all the same
                share = float(_fails(values, r.op, chosen).sum() / m.documents)
                if share > tail + 1e-12:
                    row["status"] = "check_failed"
                    log.error("calibrate: %s %s: %s fails %.4f of the reference > tail %s; kept the config's",
                              lang, rif.reason, chosen, share, tail)  # fmt: skip
                elif degenerate and settings.degenerate == "keep":
                    row["status"] = "no_tail"
                else:
                    row.update(status="calibrated", new=_plain(chosen, rif.integer), fail_new=share)
                    new[rif.reason] = chosen
            rows.append(row)
        patch = _patch(rules, effective, new)
        if patch:
            by_lang[lang] = patch
        total += len(new)
        languages[lang] = {
            "documents": m.documents,
            "documents_read": (reference.seen.get(lang, m.documents) if reference else m.documents),
            "removed_before": _removed(m, rules, {}),
            "removed_after": _removed(m, rules, new),
            "rules": rows,
        }
    _validate(quality, by_lang)
    report = {
        "command": command,
        "inputs": list(settings.inputs),
        "files": reference.files if reference else [],
        "format": settings.format,
        "text_field": settings.text_field,
        "lang_field": settings.lang_field,
        "lang": settings.lang,
        "default_tail": settings.default_tail,
        "tails": dict(settings.tails),
        "rules": settings.rules,
        "min_docs": settings.min_docs,
        "max_docs_per_lang": settings.max_docs_per_lang,
        "sample": settings.sample,
        "seed": settings.seed,
        "degenerate": settings.degenerate,
        "skipped_documents": dict(reference.skipped) if reference else {},
        "skipped_languages": skipped,
        "calibrated": total,
        "languages": languages,
    }
    return Calibration(by_lang, report)


def _patch(rules: list[_RuleInForce], effective: QualityRules, new: dict[str, float]) -> dict[str, dict[str, Any]]:
    """``{family: {key: value}}`` for the calibrated rules: an n-gram table whole (an override replaces the whole
    table), a user rule's threshold alone (custom thresholds merge per rule)."""
    out: dict[str, dict[str, Any]] = {}
    for rif in rules:
        if rif.reason not in new:
            continue
        r, value = rif.rule, new[rif.reason]
        fam = out.setdefault(rif.family, {})
        if r.entry is None:
            fam[r.key] = _plain(value, rif.integer)
        elif rif.family == "custom":
            fam.setdefault(r.key, {})[r.entry] = float(value)
        else:
            table = fam.setdefault(r.key, dict(getattr(getattr(effective, rif.family), r.key)))
            table[r.entry] = float(value)
    return out


def _removed(m: LanguageMeasurements, rules: list[_RuleInForce], new: dict[str, float]) -> float:
    """Share of the reference that fails at least one rule (the calibrated thresholds where given), or is empty."""
    if not m.documents:
        return 0.0
    failed = np.array([r == "quality:empty" for r in m.reasons])
    for rif in rules:
        threshold = new.get(rif.reason, rif.threshold)
        col = m.columns.get(rif.column)
        if threshold is not None and col is not None:
            failed |= _fails(col, rif.rule.op, threshold)
    return float(failed.sum() / m.documents)


def _validate(quality: QualitySettings, by_lang: dict[str, dict[str, dict[str, Any]]]) -> None:
    """The mapping must load as filter.quality.by_lang over the config's own settings (ranges, min <= max)."""
    from pydantic import ValidationError

    try:
        QualitySettings.model_validate({**quality.model_dump(exclude={"by_lang"}), "by_lang": by_lang})
    except (ValidationError, ValueError) as e:
        raise CalibrationError(f"calibrate: the thresholds do not load as filter.quality.by_lang: {e}") from e


# ---------------------------------------------------------------------------------------------------- running it all

ProgressFn = Callable[[str, int, "int | None"], None]


def run_calibration(
    settings: CalibrateSettings,
    quality: QualitySettings,
    output: str,
    *,
    command: str = "",
    progress: ProgressFn | None = None,
) -> Calibration:
    """Read, measure, calibrate; write the YAML to `output` and the report beside it (`report_path`).

    `progress(step, done, total)`: step ``read`` (total None) then ``measure`` (total known).
    """
    from pipeline.storage import atomic_write_bytes, write_json

    reference = read_reference(settings, (lambda n: progress("read", n, None)) if progress else None)
    if not reference.docs:
        raise CalibrationError(f"calibrate: no reference documents with a language in {', '.join(settings.inputs)}"
                               f" (skipped: {reference.skipped or 'none'})")  # fmt: skip
    total = sum(len(d) for d in reference.docs.values())
    done = 0

    def measured(k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress("measure", done, total)

    if progress is not None:
        progress("measure", 0, total)
    measurements = measure_reference(reference, quality, workers=settings.workers, progress=measured)
    cal = calibrate_thresholds(measurements, quality, settings, reference=reference, command=command)
    cal.report["output"] = output
    atomic_write_bytes(output, cal.yaml_text().encode("utf-8"))
    write_json(report_path(output), cal.report)
    log.info("calibrate: %s", summary(cal))
    return cal


def summary(cal: Calibration) -> str:
    """One line: languages, documents, thresholds calibrated and left alone, where the file went."""
    r = cal.report
    langs = r["languages"]
    docs = sum(v["documents"] for v in langs.values())
    skipped = f", {len(r['skipped_languages'])} skipped (< {r['min_docs']} documents)" if r["skipped_languages"] else ""
    where = f" -> {r['output']}" if r.get("output") else ""
    n = len(langs)
    return (f"calibrate: {n} language{'s' * (n != 1)}{skipped} | {docs:,} documents | {r['calibrated']} thresholds "
            f"calibrated, {_left_alone(r)}{where}")  # fmt: skip


def _left_alone(report: dict[str, Any]) -> str:
    """'N left as in force (k no tail, ...)' over every language's rules that are on but not calibrated."""
    counts: dict[str, int] = {}
    for v in report["languages"].values():
        for x in v["rules"]:
            if x["status"] not in ("calibrated", "off"):
                counts[x["status"]] = counts.get(x["status"], 0) + 1
    names = {"no_tail": "no tail", "few_measurements": "few measured", "tail_too_small": "tail < 1 document",
             "check_failed": "check failed"}  # fmt: skip
    detail = ", ".join(f"{n} {names.get(k, k)}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"{sum(counts.values())} left as in force" + (f" ({detail})" if detail else "")


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1):
        return f"{int(v):,}"
    return f"{v:.4g}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def render(cal: Calibration, console: Console) -> None:
    """A table per language: rule, threshold in force, calibrated threshold, share of the reference failing at each
    (rules not calibrated say why: no tail, tail < 1 document, few measured, off)."""
    from rich import box
    from rich.table import Table

    notes = {"no_tail": "no tail", "off": "off", "few_measurements": "few measured", "tail_too_small": "tail < 1 doc",
             "check_failed": "check failed"}  # fmt: skip
    for lang, v in cal.report["languages"].items():
        t = Table(title=f"{lang}: {v['documents']:,} reference documents (n: measured); removed by the whole filter "
                        f"{_pct(v['removed_before'])} -> {_pct(v['removed_after'])}; fails: share failing the rule",
                  box=box.SIMPLE_HEAD, title_justify="left")  # fmt: skip
        t.add_column("rule", no_wrap=True)
        for name in ("op", "tail", "n", "in force", "calibrated", "fails (in force)", "fails (calibrated)"):
            t.add_column(name, justify="left" if name == "op" else "right", no_wrap=True)
        t.add_column("note")
        for x in v["rules"]:
            changed = x["status"] == "calibrated" and x["new"] != x["old"]
            new = _fmt(x["new"]) if x["status"] == "calibrated" else "-"
            t.add_row(x["rule"], x["op"], f"{x['tail']:g}", f"{x['measured']:,}", _fmt(x["old"]),
                      f"[bold]{new}[/bold]" if changed else new, _pct(x["fail_old"]), _pct(x["fail_new"]),
                      notes.get(x["status"], ""))  # fmt: skip
        console.print(t)
