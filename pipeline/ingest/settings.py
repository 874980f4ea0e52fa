"""The settings of extraction, owned here and composed by the config's `extract` section (a light module: reading a
config does not import the HTML and WARC libraries)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
