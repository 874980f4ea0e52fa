"""The pipeline's configuration: one YAML file, validated by pydantic before any work starts.

Every section is strict (unknown keys are refused) so that a typo such as `min_scroe` fails loudly instead of
silently running with a default. `load_config` turns pydantic's errors into messages that name the file, the key
path and what was expected.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import xxhash
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.balance.settings import BalanceSettings
from pipeline.dedup.settings import DedupSettings
from pipeline.filter.calibrate import CalibrateSettings
from pipeline.filter.pii import PIISettings
from pipeline.filter.settings import QualityOverride, QualitySettings
from pipeline.filter.url import URLFilterSettings
from pipeline.ingest.settings import ExtractSettings, InputSettings
from pipeline.registry import (
    BUILTIN,
    StageSpec,
    entry_point_targets,
    ordered,
    plugin_spec,
)
from pipeline.tokenizer.settings import TokenizerSettings

#: The built-in stages in the order `polyglot run` uses (plug-ins go after their anchors: `PipelineConfig.stage_specs`).
STAGE_ORDER: tuple[str, ...] = tuple(s.name for s in BUILTIN)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message is meant for the user as is."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class RunSection(_Section):
    """Where outputs go and which stages `polyglot run` executes."""

    work_dir: str = Field(description="Root of every stage's output: a local path or any fsspec URL (s3://...).")
    stages: list[str] | None = Field(
        default=None,
        description="Stages `polyglot run` executes, always in pipeline order; default: every built-in stage but "
        "download, and the plug-ins of `plugins`.",
    )
    fuse: bool = Field(
        default=True,
        description="Run consecutive per-document stages of `polyglot run` (extract or input, langid, filter, "
        "document plug-ins) as one task per shard: each stage's kept batches go to the next stage in memory instead "
        "of being re-read from Parquet, one scheduling round instead of one per stage. Every stage still writes its "
        "outputs, completion record and index as when run alone (byte-identical outputs); false runs them one "
        "stage after the other.",
    )

    @field_validator("work_dir")
    @classmethod
    def _not_a_file(cls, v: str) -> str:
        if "://" in v or not v.strip():
            return v
        p = Path(v).expanduser()
        for existing in (p, *p.parents):  # the nearest existing path: a file there means no folder can be made
            if existing.exists():
                if not existing.is_dir():
                    what = "is a file" if existing == p else f"is inside {existing}, which is a file"
                    raise ValueError(f"{what}: the work dir must be a folder (or not exist yet)")
                break
        return v

    @field_validator("stages")
    @classmethod
    def _unique(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError("a stage is listed twice")
        return v


class PluginSection(_Section):
    """A third-party stage: its class by import path, where it runs, and its settings (validated by the class's
    `Settings` model)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, populate_by_name=True)

    class_: str | None = Field(
        default=None, alias="class",
        description="'package.module:Class', a subclass of pipeline.stages.base.Stage; may be left out for a stage "
        "an installed package declares in the `polyglot.stages` entry-point group.",
    )
    after: str | None = Field(default=None, description="The stage it runs after (default: the class's `after`).")
    settings: dict[str, Any] = Field(default_factory=dict, description="Its settings (the class's `Settings` model).")


class RaySection(_Section):
    """How to reach Ray: embedded local Ray by default, or an existing cluster."""

    address: str | None = Field(
        default=None,
        description="Existing cluster ('auto', 'host:port', 'ray://host:10001'); None = embedded local Ray. "
        "The --ray-address flag and RAY_ADDRESS override it.",
    )
    num_cpus: int | None = Field(default=None, ge=1, description="CPUs of the embedded Ray (default: all).")
    object_store_mb: int = Field(default=1024, ge=64, description="Object store of the embedded Ray.")
    max_workers: int | None = Field(default=None, ge=1, description="Cap on parallel workers per stage.")
    in_driver_below_mb: float = Field(
        default=1.0,
        ge=0,
        description="A stage whose shards to run have input files totalling less than this runs them in the driver "
        "process, one after the other, without starting Ray (a small run pays no Ray start-up; a crash in native "
        "code then ends the run instead of one worker). Not when Ray is already up or a cluster is joined; 0: always "
        "Ray.",
    )
    shard_retries: int = Field(
        default=2,
        ge=0,
        description="Retries of a shard whose worker died (crash in native code, OOM kill, lost node), each on a "
        "fresh worker, before the shard is reported failed. An exception raised by a stage is not retried.",
    )


class ShardSelection(_Section):
    """Which shards of a crawl's path list to take."""

    mode: Literal["first", "sample", "list"] = "first"
    n: int | None = Field(default=None, ge=1, description="How many shards for `first` and `sample`.")
    seed: int = 0
    paths: list[str] = Field(default_factory=list, description="Explicit relative paths for `list`.")

    @model_validator(mode="after")
    def _consistent(self) -> ShardSelection:
        if self.mode in ("first", "sample") and self.n is None:
            raise ValueError(f"mode '{self.mode}' needs n (how many shards)")
        if self.mode == "list" and not self.paths:
            raise ValueError("mode 'list' needs a non-empty `paths` list")
        return self


class DownloadSection(_Section):
    """Common Crawl shards to fetch: a crawl, a kind and a selection of its path list."""

    base_url: str = "https://data.commoncrawl.org"
    crawl: str = Field(description="Crawl id, e.g. CC-MAIN-2024-10.")
    kind: Literal["warc", "wet"] = "warc"
    select: ShardSelection = Field(default_factory=lambda: ShardSelection(mode="first", n=1))
    retries: int = Field(default=6, ge=0)
    backoff_s: float = Field(default=2.0, ge=0)
    timeout_s: float = Field(default=60.0, gt=0)
    verify_gzip: bool = True
    parallel: int = Field(default=4, ge=1, description="Concurrent downloads (I/O bound: may exceed CPUs).")


class ExtractSection(ExtractSettings):
    """WARC/WET → text: where the files are, and how records become documents (`ExtractSettings`)."""

    inputs: list[str] | None = Field(
        default=None,
        description="WARC/WET files or globs (local or fsspec); default: the files `download` fetched.",
    )
    crawl_id: str | None = Field(default=None, description="Overrides the crawl id read from warcinfo records.")
    split_mb: float = Field(
        default=64.0,
        ge=0,
        description="A gzip WARC/WET file larger than this is read as parts of about this size on several workers at "
        "once (cut at gzip member boundaries; at most one part per worker, and none when there are many more shards "
        "than workers), then merged into the same output as a whole-file read: a single 1 GB Common Crawl file "
        "uses every core. 0: never split. Not part of the shard's identity (changing it redoes nothing).",
    )


class LangidSection(_Section):
    """Language identification: fastText, with second opinions inside confusable groups (pipeline.lang.ensemble)."""

    model_path: str | None = Field(
        default=None, description="Any fastText LID model (lid.176.bin, GlotLID, OpenLID); default: lid.176.ftz."
    )
    top_k: int = Field(default=3, ge=1, le=20)
    min_score: float = Field(default=0.5, ge=0, le=1, description="Minimum top-1 probability to keep a document.")
    min_score_by_lang: dict[str, float] = Field(default_factory=dict, description="Per-language overrides.")
    ensemble: list[Literal["cld2", "heliport", "lingua"]] = Field(
        default_factory=lambda: ["cld2"],
        description="Second-opinion models that vote inside confusable groups: cld2 (default), heliport (GPL-3.0, "
        "needs the `heliport` extra), lingua (Apache-2.0, needs the `lingua` extra); [] for fastText alone.",
    )
    consult: Literal["groups", "always"] = Field(
        default="groups",
        description="Run the second models only where fastText's label is in a confusable group, or on every "
        "document (their labels are then in lang_models for every document).",
    )
    macrolanguage_fallback: bool = Field(
        default=False,
        description="Label a document with the group's macrolanguage (hbs, msa, nor, zho) when the vote inside the "
        "group is not confident.",
    )
    macrolanguage_min_share: float = Field(
        default=0.75, gt=0, le=1, description="Share of the group's votes the winner needs to keep its own label."
    )
    max_windows: int = Field(
        default=3, ge=1, le=50, description="Windows of 1,000 characters a long document is classified in."
    )
    adopt_unknown: bool = Field(
        default=False,
        description="Take a second model's label for a language fastText has no label for (Faroese, Xhosa, Zulu, "
        "Māori...) when fastText's top probability is under adopt_unknown_below.",
    )
    adopt_unknown_below: float = Field(
        default=0.5, gt=0, le=1, description="fastText's top probability under which adopt_unknown applies."
    )

    @field_validator("ensemble")
    @classmethod
    def _unique_models(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"a model is listed twice: {v}")
        return v

    @field_validator("min_score_by_lang")
    @classmethod
    def _codes(cls, v: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for code, score in v.items():
            if not 0 <= score <= 1:
                raise ValueError(f"score for '{code}' must be within [0, 1], got {score}")
            out[_canonical(code)] = score
        return out


class FilterSection(_Section):
    """URL filter, quality rules (per script and language) and PII masking."""

    url: URLFilterSettings = Field(default_factory=URLFilterSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    write_measurements: bool = Field(
        default=True,
        description="Write every quality rule's measurement of every document to attributes/filter/<shard>.parquet "
        "(keyed by doc_id), so thresholds can be changed and re-applied without recomputing.",
    )
    mask_pii: bool = Field(default=True, description="Mask PII in the documents the quality rules keep.")
    pii: PIISettings = Field(default_factory=PIISettings)
    write_removed: bool = Field(default=True, description="Write removed documents to _removed/filter/ with reasons.")
    quality_thresholds: str | None = Field(
        default=None,
        exclude=True,  # what counts is the merged quality.by_lang (hashed); the file's location is not
        description="A YAML filter.quality.by_lang mapping (what `polyglot calibrate` writes), relative to the "
        "config file; merged under quality.by_lang when the config is loaded (the config's own keys win).",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _merge_quality_thresholds(
        cls, data: Any, handler: ModelWrapValidatorHandler[FilterSection], info: ValidationInfo
    ) -> FilterSection:
        """Load `quality_thresholds` now, so every consumer (stages, Ray workers, `section_hash("filter")`) sees
        one `quality.by_lang` and a change of the file's contents reruns the filter."""
        section = handler(data)
        if section.quality_thresholds is None:
            return section
        base = (info.context or {}).get("config_dir")
        path = section.quality_thresholds
        if "://" not in path and base is not None and not Path(path).expanduser().is_absolute():
            path = str(Path(base).absolute() / Path(path).expanduser())
        quality = _with_thresholds_file(section.quality, path)
        return section.model_copy(update={"quality": quality, "quality_thresholds": path})


def _with_thresholds_file(quality: QualitySettings, path: str) -> QualitySettings:
    """`quality` with the file's by_lang overrides merged under its own (key by key; the config's win)."""
    from pipeline.storage import open_input

    where = f"quality_thresholds: {path}"
    try:
        with open_input(path) as fh:
            text = fh.read().decode("utf-8")
    except FileNotFoundError:
        raise ValueError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{where}: cannot read: {e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{where}: not valid YAML: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a filter.quality.by_lang mapping (language: family: key: value), "
                         f"got {type(data).__name__}")  # fmt: skip
    try:
        from_file = QualitySettings.model_validate({"by_lang": data}).by_lang
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or '(top level)'}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
        raise ValueError(f"{where}: {problems}") from None
    merged = dict(from_file)
    for code, own in quality.by_lang.items():
        patch = from_file[code].as_patch() if code in from_file else {}
        for fam, values in own.as_patch().items():
            patch[fam] = {**patch.get(fam, {}), **values}
        merged[code] = QualityOverride.model_validate(patch)
    try:
        return QualitySettings.model_validate(
            {**quality.model_dump(exclude={"by_lang"}), "by_lang": {c: ov.as_patch() for c, ov in merged.items()}}
        )
    except ValidationError as e:
        raise ValueError(f"{where}: merged with the config's quality settings: "
                         + "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())) from None


class TokenizerSection(TokenizerSettings):
    """The shared SentencePiece tokenizer: how it is trained (`TokenizerSettings`), checked and compared."""

    parity_text: str | None = Field(
        default=None,
        description="Parallel text for the parity report: a directory of <lang>.txt files with aligned lines "
        "(any language code form in the file name); default: the project's bundled parallel sentences.",
    )
    compare_unbalanced: bool = Field(
        default=False,
        description="Also train a tokenizer on an unbalanced (proportional) sample of the same size, for the report: "
        "a second training, +45-90% of the step (docs/tokenizer-step.md).",
    )
    verify_docs: int = Field(
        default=5,
        ge=0,
        description="Documents per language (a seeded sample) on which the HF export must give SentencePiece's ids.",
    )


class ShardsSection(_Section):
    """Training shards: Arrow IPC files of token ids, with a manifest and a dataset card."""

    shard_tokens: int = Field(default=500_000_000, ge=1_000, description="Target size of one shard, in tokens.")
    seed: int = Field(default=0, description="Seed of the deterministic global shuffle.")
    write_text: bool = Field(default=True, description="Keep the `text` column beside `input_ids`.")
    megatron: bool = Field(
        default=False,
        description="Also write the shards' documents, in their order, as one Megatron-LM / GPT-NeoX indexed dataset: "
        "shards/megatron/corpus_text_document.bin + .idx (uint16 ids below 65,500 pieces, else int32).",
    )
    megatron_eod: bool = Field(
        default=True,
        description="In the Megatron files, end every document with the tokenizer's eos id, as preprocess_data.py "
        "--append-eod does (neither trainer inserts one between documents).",
    )
    #: The Megatron export is made from the finished Arrow shards: left out of the hash of the steps that make them.
    HASH_EXCLUDE: ClassVar[frozenset[str]] = frozenset({"megatron", "megatron_eod"})


def _canonical(code: str) -> str:
    from pipeline.lang.codes import normalize_label

    return normalize_label(code)


class PipelineConfig(_Section):
    """The whole configuration file."""

    run: RunSection
    ray: RaySection = Field(default_factory=RaySection)
    languages: list[str] | None = Field(
        default=None,
        description="Languages to keep (any code form: ko, kor, kor_Hang); None keeps every identified language.",
    )
    families: dict[str, list[str]] | None = Field(
        default=None, description="Language family table; default: pipeline.lang.families.DEFAULT_FAMILIES."
    )
    download: DownloadSection | None = None
    input: InputSettings | None = Field(
        default=None, description="`polyglot input`: start from your own corpus (Parquet, JSONL, Arrow, HF dataset)."
    )
    extract: ExtractSection = Field(default_factory=ExtractSection)
    langid: LangidSection = Field(default_factory=LangidSection)
    filter: FilterSection = Field(default_factory=FilterSection)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    tokenizer: TokenizerSection = Field(default_factory=TokenizerSection)
    balance: BalanceSettings = Field(default_factory=BalanceSettings)
    shards: ShardsSection = Field(default_factory=ShardsSection)
    calibrate: CalibrateSettings | None = Field(
        default=None, description="`polyglot calibrate`: per-language quality thresholds from a reference corpus."
    )
    plugins: dict[str, PluginSection] = Field(
        default_factory=dict, description="Third-party stages by name: class, `after`, settings."
    )

    @model_validator(mode="after")
    def _resolve_stages(self) -> PipelineConfig:
        """Check every plug-in and every name in run.stages, and put run.stages in pipeline order (all defaults
        when it is not given), so every later check and every stage sees one resolved list."""
        specs = self.stage_specs()
        names = [s.name for s in specs]
        for name, plugin in self.plugins.items():
            self.plugin_settings(name)  # its settings validate now, not in a worker
        if self.run.stages is None:
            chosen = [s.name for s in specs if s.default]
            if self.input is not None:  # the documents come from `input`: no crawl, and no langid when labelled
                crawl = {"download", "extract", *([] if not self.input.labels_language else ["langid"])}
                chosen = ["input", *(n for n in chosen if n not in crawl)]
        else:
            unknown = [s for s in self.run.stages if s not in names]
            if unknown:
                raise ValueError(f"run.stages: unknown stage(s) {', '.join(unknown)}; known: {', '.join(names)} "
                                 "(a third-party stage is declared under `plugins`)")  # fmt: skip
            chosen = [n for n in names if n in self.run.stages]
        if chosen == self.run.stages:
            return self
        return self.model_copy(update={"run": self.run.model_copy(update={"stages": chosen})})

    @field_validator("languages")
    @classmethod
    def _langs(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        out = [_canonical(c) for c in v]
        if len(set(out)) != len(out):
            raise ValueError(f"a language is listed twice (after normalization: {out})")
        return out

    @field_validator("families")
    @classmethod
    def _families(cls, v: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if v is None:
            return None
        seen: dict[str, str] = {}
        out: dict[str, list[str]] = {}
        for fam, codes in v.items():
            if not codes:
                raise ValueError(f"family '{fam}' is empty: list its languages, or remove it")
            out[fam] = []
            for c in codes:
                code = _canonical(c)
                if code in seen:
                    raise ValueError(f"'{c}' ({code}) is in two families: '{seen[code]}' and '{fam}'")
                seen[code] = fam
                out[fam].append(code)
        return out

    @model_validator(mode="after")
    def _balance_families_exist(self) -> PipelineConfig:
        self.balance.check_family_names(self.family_table())
        return self

    @model_validator(mode="after")
    def _languages_are_balanced(self) -> PipelineConfig:
        """A listed language that balance would leave out is refused now, not after every stage ran on it."""
        if "balance" not in self.run.stages or self.languages is None:
            return self
        from pipeline.lang.families import family_of

        table = self.family_table()
        left_out = []
        for lang in self.languages:
            fam, why = self.balance.family_for(lang, family_of(lang, table))
            if fam is None:
                left_out.append(f"{lang} ({why})")
        if left_out:
            where = "`families`" if self.families is not None else "the default family table"
            raise ValueError(
                f"languages: balance would leave out {', '.join(left_out)}; add each to a family of {where} and of "
                "balance.families (or to a family's `languages`), or remove it from `languages`"
            )
        return self

    @model_validator(mode="after")
    def _stages_need_sections(self) -> PipelineConfig:
        stages = self.run.stages
        if "download" in stages and self.download is None:
            raise ValueError("run.stages includes 'download' but there is no `download` section")
        if "input" in stages:
            if self.input is None:
                raise ValueError("run.stages includes 'input' but there is no `input` section")
            crawl = [s for s in ("download", "extract") if s in stages]
            if crawl:
                raise ValueError(f"run.stages lists 'input' with {' and '.join(repr(s) for s in crawl)}: the documents "
                                 "come from `input` or from a crawl, not both; remove one from run.stages")  # fmt: skip
            order = [s.name for s in self.stage_specs()]
            later = [s for s in stages if order.index(s) > order.index("langid")]
            if not self.input.labels_language and "langid" not in stages and later:
                raise ValueError(f"run.stages runs input then {later[0]} without 'langid', but the input has no "
                                 "language: set input.columns.lang (a column) or input.lang, or add 'langid'")
        if "extract" in stages and self.extract.inputs is None and self.download is None:
            raise ValueError("run.stages includes 'extract': it needs extract.inputs or a `download` section")
        return self

    def stage_specs(self) -> list[StageSpec]:
        """Every stage this config can run, in pipeline order: the built-ins, the plug-ins of `plugins`, and the
        entry-point stages named in run.stages."""
        return list(_stage_specs(self._plugin_targets()))

    def _plugin_targets(self) -> tuple[tuple[str, str, str | None], ...]:
        eps = entry_point_targets()
        out = []
        for name, plugin in self.plugins.items():
            target = plugin.class_ or eps.get(name)
            if target is None:
                raise ValueError(f"plugins.{name}: no `class` given and no installed package declares a stage of "
                                 f"that name (entry-point group polyglot.stages)")  # fmt: skip
            out.append((name, target, plugin.after))
        listed = self.run.stages or []
        out += [(n, eps[n], None) for n in listed if n in eps and n not in self.plugins]
        return tuple(out)

    def stage_spec(self, name: str) -> StageSpec:
        """The spec of one stage (KeyError naming the known ones when there is no such stage)."""
        for s in self.stage_specs():
            if s.name == name:
                return s
        raise KeyError(f"no stage '{name}'; known: {', '.join(s.name for s in self.stage_specs())}")

    def plugin_settings(self, name: str) -> BaseModel | dict[str, Any]:
        """A plug-in's settings, validated by its class's `Settings` model (a plain dict when it has none)."""
        plugin = self.plugins.get(name, PluginSection())
        cls = self.stage_spec(name).load()
        model = getattr(cls, "Settings", None)
        if model is None:
            if plugin.settings:
                raise ValueError(f"plugins.{name}.settings: {cls.__name__} takes no settings (it has no `Settings`)")
            return {}
        try:
            return model.model_validate(plugin.settings)
        except ValidationError as e:
            problems = "; ".join(f"plugins.{name}.settings.{'.'.join(str(p) for p in err['loc'])}: "
                                 f"{err['msg'].removeprefix('Value error, ')}" for err in e.errors())  # fmt: skip
            raise ValueError(problems) from None

    def family_table(self) -> dict[str, list[str]]:
        """The families in force: the config's own table, else the default one."""
        if self.families is not None:
            return self.families
        from pipeline.lang.families import DEFAULT_FAMILIES

        return DEFAULT_FAMILIES

    def section_hash(self, *parts: str) -> str:
        """A stable hash of the named config parts, each a section or a dotted key inside one (`dedup.keep`,
        `plugins.myst`): a step redoes its work exactly when what it reads changes."""
        data = {p: _dump(self.value_at(p)) for p in parts}
        return xxhash.xxh3_64_hexdigest(json.dumps(data, sort_keys=True, ensure_ascii=False).encode())

    def value_at(self, path: str) -> Any:
        """The config value at a dotted key path (`dedup.shingles.char_n`)."""
        cur: Any = self
        for part in path.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else getattr(cur, part)
        return cur


@lru_cache(maxsize=32)
def _stage_specs(plugins: tuple[tuple[str, str, str | None], ...]) -> tuple[StageSpec, ...]:
    return tuple(ordered([*BUILTIN, *(plugin_spec(name, target, after) for name, target, after in plugins)]))


def _dump(v: Any) -> Any:
    if isinstance(v, BaseModel):
        return v.model_dump(mode="json", exclude=getattr(v, "HASH_EXCLUDE", None))
    if isinstance(v, dict):
        return {k: _dump(x) for k, x in v.items()}
    return v


def _describe(err: dict[str, Any]) -> str:
    """One readable line per pydantic error: key path, what was expected, what was found."""
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    if kind == "missing":
        return f"{loc}: required key is missing"
    msg = err["msg"].removeprefix("Value error, ")
    if not err["loc"] and kind == "value_error":
        return msg  # a whole-config check: its message names the keys
    got = err.get("input")
    shown = json.dumps(got, ensure_ascii=False, default=str) if not isinstance(got, dict) else "{...}"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{loc}: {msg} (got {shown})"


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The keys a section accepts, to suggest next to an 'unknown key' error."""
    cur: Any = model
    for part in loc[:-1]:
        field = getattr(cur, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        cur = next((a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if cur is None:
            return None
    return sorted(getattr(cur, "model_fields", {}))


def parse_config(data: Any, source: str = "<config>", base_dir: str | Path | None = None) -> PipelineConfig:
    """Validate already-parsed YAML; raise ConfigError naming `source`, the key path and the expectation.

    `base_dir`: what files named in the config (filter.quality_thresholds) are relative to; default: the current
    directory."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level, got {type(data).__name__}")
    try:
        return PipelineConfig.model_validate(data, context={"config_dir": base_dir})
    except ValidationError as e:
        lines = []
        for err in e.errors():
            line = _describe(err)
            if err["type"] == "extra_forbidden":
                allowed = _allowed_keys(PipelineConfig, tuple(err["loc"]))
                if allowed:
                    line += f" (allowed here: {', '.join(allowed)})"
            lines.append(f"  {line}")
        raise ConfigError(f"{source}: invalid configuration\n" + "\n".join(lines)) from None


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a YAML config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config file: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    return parse_config(data, str(p), p.parent)


def _abs(p: str) -> str:
    return p if "://" in p else str(Path(p).expanduser().absolute())


def with_absolute_paths(cfg: PipelineConfig) -> PipelineConfig:
    """Local paths made absolute (against the current directory), so Ray workers anywhere read the same files."""
    run = cfg.run.model_copy(update={"work_dir": _abs(cfg.run.work_dir)})
    ex = cfg.extract
    if ex.inputs is not None:
        ex = ex.model_copy(update={"inputs": [_abs(p) for p in ex.inputs]})
    lid = cfg.langid
    if lid.model_path is not None:
        lid = lid.model_copy(update={"model_path": _abs(lid.model_path)})
    tok = cfg.tokenizer
    if tok.parity_text is not None:
        tok = tok.model_copy(update={"parity_text": _abs(tok.parity_text)})
    inp = cfg.input
    if inp is not None:
        dataset = inp.dataset
        if dataset is not None and "://" not in dataset and Path(dataset).expanduser().exists():
            dataset = _abs(dataset)  # a hub name stays a name
        paths = [_abs(p) for p in inp.paths] if inp.paths is not None else None
        inp = inp.model_copy(update={"paths": paths, "dataset": dataset})
    return cfg.model_copy(update={"run": run, "extract": ex, "input": inp, "langid": lid, "tokenizer": tok})
