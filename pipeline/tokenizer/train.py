"""Training the shared SentencePiece model: balanced line sample → deterministic in-memory training → model file.

Decisions, each measured on this machine (sentencepiece 0.2.3, demo texts, 682 lines / 111k characters):

- **In memory, no temp text file.** ``SentencePieceTrainer.train(sentence_iterator=..., model_writer=...)``; two
  trainings from the same lines in the same order give bit-identical model bytes, in one process and across
  processes, with 1 or 2 threads. The per-code-point normalization (`pipeline.tokenizer.normalization`) goes in
  as a ``SentencePieceNormalizer`` object (same charsmap and pieces as a rule TSV file, no temp file).
- **Input order**: the demo lines reversed gave the same model (SentencePiece counts sentences), but nothing
  documents that, so the sampler fixes the order anyway.
- **Threads are part of the model.** 1 thread and 2 threads give *different* models (unigram and BPE), each
  reproducible: keep ``num_threads`` fixed in the config, do not derive it from the machine.
- **Our sampler, not SentencePiece's.** With ``input_sentence_size`` SentencePiece samples with its own RNG, which
  is unseeded by default (different models on every run) and, once used in a process, ignores later
  ``set_random_generator_seed`` calls (seeds 1 and 2 gave the same model in one process). We sample lines ourselves
  (`training_quotas`, `sample_training_lines`, seeded) and pass ``input_sentence_size=0`` (use every line).
- **No silent drops.** SentencePiece skips lines longer than ``max_sentence_length`` *bytes*; `split_training_lines`
  cuts them on a character boundary (at the last space in the window when there is one) instead.
- **Printable ASCII is always required** (``required_chars``), so ``<``, ``>``, ``/``, ``0-9``, ``A-F``, ``x`` ...
  have pieces of their own; the Hugging Face export relies on it to keep ``<0x41>`` / ``<s>`` typed in a text from
  matching the byte and control pieces (which SentencePiece never matches from text).
- **Unigram scores are rounded to multiples of 2^-bits.** SentencePiece's Viterbi adds float32 scores,
  ``tokenizers`` float64: on long documents the rounding differs and near-ties go the other way (UDHR Hungarian and
  Tajik as single documents, 99.1% of UDHR documents identical before). With scores on a 2^-bits grid every float32
  partial sum below 2^(24-bits) in magnitude is exact, so both libraries compare the same numbers and break ties the
  same way (first candidate wins). The rounding moves a piece's log-probability by at most 2^-(bits+1).
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm
import xxhash
from sentencepiece import sentencepiece_model_pb2 as pb

from pipeline.tokenizer.normalization import per_codepoint_rules
from pipeline.tokenizer.settings import TokenizerSettings

__all__ = [
    "PRINTABLE_ASCII",
    "MODEL_FILENAME",
    "quantize_unigram_scores",
    "sample_budget",
    "sample_training_lines",
    "split_training_lines",
    "train_sentencepiece",
    "training_quotas",
]

MODEL_FILENAME = "tokenizer.model"
#: Marks the normalizer name of our models: the stock rule restricted to single-code-point keys.
PER_CODEPOINT_SUFFIX = "_per_codepoint"
PRINTABLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))


def _cut_point(line: str, max_bytes: int) -> int:
    """Largest character index i such that line[:i] fits in max_bytes of UTF-8 (at least 1)."""
    encoded_lengths = np.fromiter((len(ch.encode("utf-8")) for ch in line), dtype=np.int64, count=len(line))
    i = int(np.searchsorted(np.cumsum(encoded_lengths), max_bytes, side="right"))
    return max(i, 1)


def split_training_lines(text: str, max_bytes: int) -> Iterator[str]:
    """A document as training lines: one per non-blank line, stripped; lines over max_bytes cut, never dropped.

    A long line is cut at the last whitespace inside the byte window when that keeps at least half the window,
    otherwise at the last whole character that fits (CJK and Thai text may have no spaces at all).
    """
    for raw in text.splitlines():
        line = raw.strip()
        while line:
            if len(line.encode("utf-8")) <= max_bytes:
                yield line
                break
            cut = _cut_point(line, max_bytes)
            space = max((line.rfind(ws, 0, cut) for ws in (" ", "\t", "\u3000")), default=-1)
            if space >= cut // 2:
                cut = space
            head, line = line[:cut].rstrip(), line[cut:].lstrip()
            if head:
                yield head


def _water_fill(weights: Mapping[str, float], capacity: Mapping[str, float], total: float) -> dict[str, float]:
    """Split total in proportion to weights, no key above its capacity; the excess goes to the others."""
    alloc: dict[str, float] = {}
    open_keys = {k for k, w in weights.items() if w > 0 and capacity[k] > 0}
    remaining = total
    while open_keys and remaining > 1e-9:
        weight_sum = sum(weights[k] for k in open_keys)
        capped = {k for k in open_keys if remaining * weights[k] / weight_sum >= capacity[k] - alloc.get(k, 0.0)}
        if not capped:
            for k in open_keys:
                alloc[k] = alloc.get(k, 0.0) + remaining * weights[k] / weight_sum
            break
        for k in capped:
            remaining -= capacity[k] - alloc.get(k, 0.0)
            alloc[k] = float(capacity[k])
        open_keys -= capped
    return alloc


def sample_budget(corpus_chars: int, settings: TokenizerSettings) -> int:
    """Characters the balanced sample may take: ``sample_fraction`` of the corpus, at most ``sample_chars``.

    Why a fraction: `training_quotas` never repeats text, so a budget at or above the corpus takes every language
    whole and the "balanced" sample is the corpus itself (on the 10,000-page bench the balanced and unbalanced
    models came out identical); and unigram training costs ~5 s per million characters at 64k pieces on 2 cores,
    so a budget that grows with the corpus keeps the step a fixed share of a chain whose other stages grow with it.
    """
    return max(1, min(settings.sample_chars, math.floor(settings.sample_fraction * corpus_chars)))


def training_quotas(
    chars_by_lang: Mapping[str, int], family_of: Mapping[str, str], total_chars: int, alpha: float
) -> dict[str, int]:
    """Characters of training text to take per language: balanced over families, then languages, never repeated.

    Family f gets a share ∝ (characters available in f)^alpha of ``total_chars``, language l inside f a share
    ∝ (characters of l)^alpha of its family's budget; nobody gets more than it has (water-filling hands the excess
    to the others, families first). alpha = 0 is uniform, 1 proportional. When everything available is less than
    ``total_chars`` every language gets all it has.
    """
    langs = {lang: n for lang, n in chars_by_lang.items() if n > 0}
    families: dict[str, list[str]] = {}
    for lang in sorted(langs):
        families.setdefault(family_of.get(lang, lang), []).append(lang)
    family_chars = {f: float(sum(langs[lang] for lang in members)) for f, members in families.items()}
    family_budget = _water_fill({f: n**alpha for f, n in family_chars.items()}, family_chars, float(total_chars))
    quotas: dict[str, int] = {}
    for family, members in families.items():
        budget = family_budget.get(family, 0.0)
        inside = _water_fill(
            {lang: float(langs[lang]) ** alpha for lang in members},
            {lang: float(langs[lang]) for lang in members},
            budget,
        )
        for lang in members:
            quotas[lang] = min(langs[lang], int(math.floor(inside.get(lang, 0.0) + 1e-6)))
    return quotas


def sample_training_lines(
    lines_by_lang: Mapping[str, Sequence[str]], quotas: Mapping[str, int], seed: int
) -> list[str]:
    """A seeded sample: per language (sorted), lines in a seeded random order until its character quota is reached.

    The result depends only on the inputs and the seed (each language's permutation is seeded by seed and an
    xxhash of its code, so adding a language does not reshuffle the others).
    """
    sample: list[str] = []
    for lang in sorted(lines_by_lang):
        quota = quotas.get(lang, 0)
        lines = lines_by_lang[lang]
        if quota <= 0 or not lines:
            continue
        rng = np.random.default_rng([seed, xxhash.xxh64_intdigest(lang.encode("utf-8"))])
        taken = 0
        for index in rng.permutation(len(lines)):
            if taken >= quota:
                break
            line = lines[int(index)]
            sample.append(line)
            taken += len(line)
    return sample


def quantize_unigram_scores(model: pb.ModelProto, bits: int) -> None:
    """Round the scores of normal pieces to multiples of 2^-bits, in place (see module docstring)."""
    step = float(2**bits)
    for piece in model.pieces:
        if piece.type == pb.ModelProto.SentencePiece.NORMAL:
            piece.score = round(piece.score * step) / step


def _trainer_kwargs(settings: TokenizerSettings) -> dict[str, object]:
    required = "".join(dict.fromkeys(PRINTABLE_ASCII + settings.required_chars))
    return dict(
        model_type=settings.model_type,
        vocab_size=settings.vocab_size,
        character_coverage=settings.character_coverage,
        byte_fallback=settings.byte_fallback,
        split_digits=settings.split_digits,
        add_dummy_prefix=settings.add_dummy_prefix,
        remove_extra_whitespaces=settings.remove_extra_whitespaces,
        max_sentence_length=settings.max_sentence_length,
        max_sentencepiece_length=settings.max_sentencepiece_length,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=settings.num_threads,
        unk_id=settings.unk_id,
        bos_id=settings.bos_id,
        eos_id=settings.eos_id,
        pad_id=settings.pad_id,
        user_defined_symbols=list(settings.user_defined_symbols),
        required_chars=required,
        train_extremely_large_corpus=settings.train_extremely_large_corpus,
        minloglevel=2,
    )


class VocabularyTooLarge(ValueError):
    """The sample holds fewer distinct pieces than ``vocab_size``: SentencePiece's own limit, in a readable message."""


_TOO_HIGH = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")


def train_sentencepiece(sentences: Iterable[str], settings: TokenizerSettings, out_dir: str | Path) -> Path:
    """Train on ``sentences`` (in this order) and write ``out_dir/tokenizer.model``; returns its path.

    Every item is passed through `split_training_lines` first, so documents may be given as they are and no line is
    dropped for length. Deterministic for fixed lines, order, settings and ``num_threads``.
    """
    out_path = Path(out_dir) / MODEL_FILENAME
    out_path.parent.mkdir(parents=True, exist_ok=True)
    lines = (line for text in sentences for line in split_training_lines(text, settings.max_sentence_length))
    kwargs = _trainer_kwargs(settings)
    spm.set_random_generator_seed(settings.seed)
    buffer = io.BytesIO()
    if settings.normalization_rule_name == "identity":
        kwargs["normalization_rule_name"] = "identity"
    else:
        spm.set_min_log_level(2)  # the rule compiler logs at INFO otherwise (process-wide, like minloglevel)
        kwargs["normalizer"] = spm.SentencePieceNormalizer(
            norm_map=per_codepoint_rules(settings.normalization_rule_name),
            add_dummy_prefix=kwargs.pop("add_dummy_prefix"),
            remove_extra_whitespaces=kwargs.pop("remove_extra_whitespaces"),
            escape_whitespaces=True,
        )
    counted = _Counted(lines)
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=counted, model_writer=buffer, **kwargs)
    except RuntimeError as e:
        m = _TOO_HIGH.search(str(e))
        if m is None:
            raise
        raise VocabularyTooLarge(
            f"tokenizer.vocab_size {int(m[1]):,} is more than the training sample can fill: SentencePiece found at "
            f"most {int(m[2]):,} pieces in its {counted.lines:,} lines ({counted.chars:,} characters); lower "
            "tokenizer.vocab_size or train on more text (tokenizer.sample_fraction, sample_chars)"
        ) from None
    model = pb.ModelProto()
    model.ParseFromString(buffer.getvalue())
    if settings.normalization_rule_name != "identity":
        model.normalizer_spec.name = f"{settings.normalization_rule_name}{PER_CODEPOINT_SUFFIX}"
    if settings.model_type == "unigram":
        quantize_unigram_scores(model, settings.unigram_score_bits)
    tmp_path = out_path.with_name(out_path.name + ".tmp")
    tmp_path.write_bytes(model.SerializeToString())
    os.replace(tmp_path, out_path)
    return out_path


class _Counted:
    """An iterator of training lines that counts what it hands out (for the error message above)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._it = iter(lines)
        self.lines = self.chars = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self.lines += 1
        self.chars += len(line)
        return line
