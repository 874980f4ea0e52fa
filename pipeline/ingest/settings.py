"""The settings of the ingest libraries, owned here and composed by the config's `extract` and `input` sections (a
light module: reading a config does not import the HTML, WARC and Arrow libraries)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ExtractSettings(BaseModel):
    """How records become documents; the config's `extract` section is this model plus where the inputs are."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    extractor: Literal["resiliparse", "trafilatura"] = "resiliparse"
    main_content: bool = Field(default=True, description="Drop boilerplate (menus, footers) when extracting.")
    main_content_fallback: bool = Field(
        default=True,
        description="When main-content extraction is empty, keep all visible text instead (Resiliparse's boilerplate "
        "heuristics empty some real article pages; the quality filter judges the fuller text later).",
    )
    comments: bool = Field(default=False, description="Keep the text of comment sections (Resiliparse).")
    remove_boilerplate: bool = Field(
        default=True,
        description="After main content (Resiliparse), drop link lines and a tail of short lines after the last prose "
        "line (`pipeline.ingest.boilerplate`).",
    )
    drop_repeated_lines: bool = Field(
        default=True,
        description="After main content, drop the later copies of a line the page's text already holds (captions "
        "and photo credits an HTML page shows twice); counted as the repeated_lines_dropped repair.",
    )
    site_repeat_pages: int = Field(
        default=3,
        ge=0,
        description="Drop non-prose lines found on this many pages of one host in a shard (site templates); 0: off.",
    )
    recover_truncated: bool = Field(
        default=True,
        description="When main content is a small part of the visible text that lacks its long paragraphs, take the "
        "article from the visible text (counted as main_content_recovered).",
    )
    normalize: Literal["NFC", "none"] = Field(
        default="NFC",
        description="Unicode normalization of document text: NFC composes decomposed Hangul (conjoining jamo) and "
        "Vietnamese combining tone marks into the precomposed form language ID, dedup and the tokenizer expect.",
    )
    max_dom_depth: int = Field(
        default=512, ge=16, description="A page nested deeper is extracted as all visible text (deep_dom_plain_text): "
        "main-content extraction time grows super-linearly with nesting (100,000 levels: tens of minutes).",
    )
    max_payload_mb: float = Field(default=5.0, gt=0, description="Larger HTTP payloads are skipped as oversized.")
    min_text_chars: int = Field(
        default=20,
        ge=1,
        description="Shorter extractions are skipped as empty; counted in English-equivalent characters "
        "(a Han character ~3.3, a kana ~2.3, a Hangul syllable ~2.5: the filter's units per script).",
    )
    max_bad_char_ratio: float = Field(default=0.005, ge=0, le=1, description="Decoding-failure threshold.")
    max_control_ratio: float = Field(
        default=0.02, ge=0, le=1,
        description="More control bytes (NUL, ...) than this fraction: binary; fewer NULs are stripped.",
    )

    @property
    def max_payload_bytes(self) -> int:
        return int(self.max_payload_mb * 2**20)


Format = Literal["auto", "parquet", "jsonl", "arrow", "csv", "hf"]


class ColumnMap(BaseModel):
    """Which source column holds what. Only `text` is required; the rest may be left out."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    text: str = Field("text", min_length=1, description="The column holding the document text.")
    id: str | None = Field(None, description="Document ids (kept as strings); default: <shard>/<row index>.")
    lang: str | None = Field(
        None, description="Each document's language, in any code form (ko, kor, kor_Hang, zh-Hant); without it "
        "(and without input.lang) the run needs the langid stage.",
    )
    lang_score: str | None = Field(None, description="A confidence of that label (e.g. FineWeb-2's language_score).")
    url: str | None = Field(None, description="The document's URL (the URL filter skips documents without one).")
    metadata: list[str] | Literal["all"] = Field(
        default_factory=list, description="Source columns passed through unchanged; 'all': every unmapped column."
    )

    def mapped(self) -> dict[str, str]:
        """Pipeline name → source column, for the mapped columns."""
        pairs = {"text": self.text, "id": self.id, "lang": self.lang, "lang_score": self.lang_score, "url": self.url}
        return {k: v for k, v in pairs.items() if v is not None}


class InputSettings(BaseModel):
    """The ``input:`` section: where the documents are and which column is what."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    paths: list[str] | None = Field(
        None, description="Files, globs, directories or saved HF dataset dirs (local or fsspec URLs); one shard per "
        "file.",
    )
    dataset: str | None = Field(
        None, description="A saved HF dataset dir (datasets.load_from_disk), or anything datasets.load_dataset "
        "streams: a hub name (where the network allows) or a local data folder.",
    )
    name: str | None = Field(None, description="The dataset configuration (load_dataset's `name`).")
    split: str | None = Field(None, description="Only this split of a dataset; default: every split.")
    format: Format = Field(
        "auto", description="parquet, jsonl (.jsonl/.json/.ndjson, optionally .gz), arrow (IPC file or stream, "
        ".feather), csv, hf (files read with datasets.load_dataset); auto: by suffix, a saved dataset dir as hf.",
    )
    columns: ColumnMap = Field(default_factory=ColumnMap)
    lang: str | None = Field(None, description="One language for every document (instead of columns.lang).")
    normalize: Literal["NFC", "none"] = Field("NFC", description="Unicode normalization of the text, as extract's.")
    rows_per_shard: int = Field(
        100_000, ge=1, description="Rows per shard for a saved dataset (files and streamed data files: one shard each)."
    )
    split_mb: float = Field(
        256.0, ge=0, description="A Parquet file larger than this is read as parts (whole row groups; at most one part "
        "per worker, none when there are many more shards than workers) on several workers at once and merged into "
        "the same output as a whole-file read; 0: never. Not part of a shard's identity (changing it redoes nothing).",
    )

    #: Settings that do not change a shard's output, left out of its config hash.
    HASH_EXCLUDE: ClassVar[frozenset[str]] = frozenset({"split_mb"})

    @model_validator(mode="after")
    def _one_source(self) -> InputSettings:
        if (self.paths is None) == (self.dataset is None):
            raise ValueError("give input.paths (files) or input.dataset (a Hugging Face dataset), exactly one")
        if self.paths is not None and not self.paths:
            raise ValueError("input.paths is empty")
        if self.name is not None and self.dataset is None:
            raise ValueError("input.name (a dataset configuration) needs input.dataset")
        if self.lang is not None and self.columns.lang is not None:
            raise ValueError("give input.columns.lang (a column) or input.lang (one language for all), not both")
        return self

    @field_validator("lang")
    @classmethod
    def _known_lang(cls, v: str | None) -> str | None:
        from pipeline.lang.codes import known_language

        return known_language(v)

    @property
    def labels_language(self) -> bool:
        """Whether the input says each document's language (then the run may go input → filter, no langid)."""
        return self.lang is not None or self.columns.lang is not None
