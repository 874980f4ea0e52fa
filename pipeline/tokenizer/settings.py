"""Settings of the shared SentencePiece tokenizer (the `tokenizer` config section).

Defaults are for a multilingual LLM tokenizer whose first language is Korean and which must cover CJK:

- ``unigram`` with ``vocab_size`` 64,000: fits token ids in uint16 (the shards writer stores ``input_ids`` as uint16
  when the vocabulary has at most 65,535 pieces, int32 otherwise).
- ``character_coverage`` 0.9995: the value SentencePiece recommends for CJK-rich corpora (1.0 would give every rare
  Han character its own piece; with ``byte_fallback`` the rest is spelled as UTF-8 bytes, never ``<unk>``).
- ``split_digits``: numbers become single digits (no "2024" piece), the arithmetic-friendly choice of most LLMs.
- ``normalization_rule_name`` ``nmt_nfkc``: NFKC plus SentencePiece's NMT rules (control characters removed, every
  Unicode space, tab and newline read as a space). Only the *per-code-point* part of the rule is used: the stock
  rules also hold ~220,000 multi-code-point composition entries that Hugging Face ``tokenizers`` cannot reproduce
  (see `pipeline.tokenizer.normalization`), so decomposed input stays decomposed. ``identity`` keeps text as is
  (newlines and tabs survive, as byte-fallback tokens unless frequent enough to earn pieces).

Reproducibility: the trained model depends on the training lines, their order, and ``num_threads`` (SentencePiece's
EM sums per thread; 1 and 2 threads give different models, each bit-identical across runs). ``seed`` drives our
own sampling of training lines; SentencePiece's internal sampling is never used (its seed is read once per
process, so a second training in one process ignored a new seed — measured).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["NormalizationRule", "TokenizerSettings"]

NormalizationRule = Literal["nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity"]


class TokenizerSettings(BaseModel):
    """How the shared tokenizer is trained; every field reaches the SentencePiece trainer or our sampler."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    model_type: Literal["unigram", "bpe"] = Field(default="unigram", description="SentencePiece algorithm.")
    vocab_size: int = Field(default=64_000, ge=300, le=1_000_000, description="Pieces in the vocabulary.")
    character_coverage: float = Field(
        default=0.9995, gt=0.0, le=1.0, description="Share of training characters the base character set covers."
    )
    byte_fallback: bool = Field(default=True, description="Spell uncovered characters as <0xNN> byte pieces.")
    split_digits: bool = Field(default=True, description="Never build pieces of more than one digit.")
    normalization_rule_name: NormalizationRule = Field(
        default="nmt_nfkc", description="Character normalization, applied per code point (see module docstring)."
    )
    add_dummy_prefix: bool = Field(default=True, description="Prefix a space so a text's first word is like any word.")
    remove_extra_whitespaces: bool = Field(
        default=True, description="Drop leading/trailing spaces and collapse runs of spaces to one."
    )
    max_sentence_length: int = Field(
        default=4192,
        ge=64,
        description="Longest training line in UTF-8 bytes; longer lines are cut on a character boundary, not dropped.",
    )
    max_sentencepiece_length: int = Field(default=16, ge=1, le=64, description="Longest piece in characters.")
    sample_chars: int = Field(
        default=200_000_000,
        ge=1_000,
        description="Characters of text in the balanced training sample, at most (see sample_fraction).",
    )
    sample_fraction: float = Field(
        default=0.25,
        gt=0.0,
        le=1.0,
        description="The balanced sample takes at most this share of the corpus's characters (then sample_chars "
        "caps it): a sample of the whole corpus cannot be balanced, and training time stays in proportion to the "
        "corpus (see `sample_budget`).",
    )
    max_training_lines: int = Field(
        default=0, ge=0, description="Cap on training lines after sampling (0 = no cap); applied by our seeded sampler."
    )
    sampling_alpha: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Temperature of the sample: family and language weights are (characters available)^alpha; "
        "0 = uniform, 1 = proportional to the data.",
    )
    seed: int = Field(default=0, ge=0, description="Seed of the training-line sample (and SentencePiece's RNG).")
    num_threads: int = Field(
        default=2, ge=1, le=256, description="Trainer threads; part of the model's identity (see module docstring)."
    )
    unk_id: int = Field(default=0, ge=0)
    bos_id: int = Field(default=1, ge=-1, description="-1 = no <s> piece.")
    eos_id: int = Field(default=2, ge=-1, description="-1 = no </s> piece.")
    pad_id: int = Field(default=3, ge=-1, description="-1 = no <pad> piece.")
    user_defined_symbols: tuple[str, ...] = Field(
        default=(), description="Pieces always kept whole (e.g. chat markers); no spaces, stable under normalization."
    )
    required_chars: str = Field(
        default="",
        description="Characters always in the base character set, beside printable ASCII (always required so that "
        "every character of <unk>, <s>, <0xNN> has its own piece; the Hugging Face export relies on it).",
    )
    unigram_score_bits: int = Field(
        default=5,
        ge=0,
        le=16,
        description="Unigram piece scores are rounded to multiples of 2^-bits so that SentencePiece's float32 Viterbi "
        "sums are exact (and equal to the float64 sums of Hugging Face tokenizers) for texts up to "
        "~2^(24-bits) in total score; see pipeline.tokenizer.train.",
    )
    train_extremely_large_corpus: bool = Field(
        default=False, description="SentencePiece passthrough for >2^31 characters of training text."
    )

    @field_validator("user_defined_symbols")
    @classmethod
    def _symbols_usable(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for symbol in v:
            if not symbol or any(ch.isspace() or ch == "\u2581" for ch in symbol):
                raise ValueError(f"user-defined symbol {symbol!r} is empty or contains whitespace / '\u2581'")
        if len(set(v)) != len(v):
            raise ValueError("a user-defined symbol is listed twice")
        return v

    @model_validator(mode="after")
    def _ids_consistent(self) -> TokenizerSettings:
        ids = [i for i in (self.unk_id, self.bos_id, self.eos_id, self.pad_id) if i >= 0]
        if len(set(ids)) != len(ids):
            raise ValueError("unk_id, bos_id, eos_id and pad_id must differ (or be -1)")
        if max(ids) >= len(ids):
            raise ValueError(f"special ids must be the first pieces 0..{len(ids) - 1}, got {sorted(ids)}")
        reserved = len(ids) + len(self.user_defined_symbols) + (256 if self.byte_fallback else 0)
        if self.vocab_size <= reserved + 100:
            raise ValueError(f"vocab_size {self.vocab_size} leaves almost no room beside {reserved} reserved pieces")
        return self

    @property
    def ids_dtype(self) -> str:
        """Numpy dtype of token ids for this vocabulary: uint16 up to 65,535 pieces, int32 beyond."""
        return "uint16" if self.vocab_size <= 65_535 else "int32"
