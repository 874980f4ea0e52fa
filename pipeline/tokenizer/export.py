"""Hugging Face export of the SentencePiece model, built from the model proto, with the same ids as SentencePiece.

`export_hf(model_path, out_dir)` writes ``tokenizer.json`` (for ``tokenizers.Tokenizer.from_file``),
``tokenizer_config.json`` and ``special_tokens_map.json`` (for ``transformers.PreTrainedTokenizerFast
.from_pretrained``) and a copy of ``tokenizer.model``. `compare_ids` encodes texts with both and raises
`IdMismatchError` on the first batch with any difference; the stage runs it after every export.

Every divergence between SentencePiece and a straightforward conversion, and what this module does about it:

- **Normalizer.** ``tokenizers``' ``Precompiled`` works on grapheme clusters and takes the shortest matching rule;
  SentencePiece takes the longest match. Fixed by per-code-point rules in the model and separator insertion here
  (`pipeline.tokenizer.normalization`).
- **Whitespace.** SentencePiece drops leading spaces, collapses runs of spaces and drops trailing ones *after*
  normalization (so U+3000 and, with ``nmt_nfkc``, tabs and newlines count; only U+0020 after normalization does),
  then adds the dummy prefix only if something is left. Reproduced with regex ``Replace`` steps and ``Prepend``
  (which leaves an empty string empty) in that order; without ``remove_extra_whitespaces`` the prefix is prepended
  before normalization, as SentencePiece does for any non-empty input (even one that normalizes to nothing).
- **No pre-tokenizer.** SentencePiece runs Viterbi / BPE over the whole normalized text. A ``Metaspace`` or
  ``Digits`` pre-tokenizer (``split_digits`` is a *training* option: ``"▁1"`` stays one piece) splits where
  SentencePiece does not. Only user-defined symbols are isolated (``Split``), because SentencePiece always emits
  them whole; they must be stable under the normalization (checked).
- **Pieces SentencePiece never matches from text** (``<unk>``, ``<s>``, ``</s>``, ``<pad>``, ``<0xNN>``): a
  ``tokenizers`` Unigram matches any vocabulary string, so a text containing ``<0x41>`` or ``<s>`` (an HTML
  strike-through tag!) would get the byte/control piece. They get a score below that of spelling them with
  single-character pieces (training always requires printable ASCII), so they never win; byte fallback still finds
  them by name. In BPE they are unreachable anyway (merges only build normal pieces).
- **Special tokens typed in text** are text for SentencePiece. ``tokenizer.json`` registers no added tokens (a
  registered ``<s>`` is cut out of any text, and ``encode_special_tokens`` is not saved in the file);
  ``tokenizer_config.json`` names them for transformers with ``split_special_tokens=True``.
- **Unigram Viterbi**: same algorithm and tie rule (first candidate wins) as SentencePiece's ``EncodeOptimized``,
  but float64 sums against float32; made identical by the score grid of `pipeline.tokenizer.train`.
- **Byte fallback / unk**: ``byte_fallback`` on the model; ``<unk>`` runs fused like SentencePiece.
- **BPE merges**: ranked by piece score (SentencePiece's priority), splits of one piece by id of the left part.
  Residual, by design of ``tokenizers``: SentencePiece gives *all* splits of one piece the same priority and takes
  the leftmost, ``tokenizers`` ranks each split; they differ only when two different splits of the same piece
  overlap (``[ab][a][ba]`` → ``aba``). `compare_ids` would report such a text.
- **No post-processor**: SentencePiece's ``encode`` adds no ``<s>``/``</s>``; neither does the export.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE, Unigram

from pipeline.tokenizer.normalization import SEPARATOR, charsmap_rules

__all__ = ["IdMismatch", "IdMismatchError", "IdParityReport", "build_hf_tokenizer", "compare_ids", "export_hf"]

_Type = pb.ModelProto.SentencePiece
_NEVER_FROM_TEXT = (_Type.CONTROL, _Type.UNKNOWN, _Type.BYTE, _Type.UNUSED)


def load_model_proto(model_path: str | Path) -> pb.ModelProto:
    model = pb.ModelProto()
    model.ParseFromString(Path(model_path).read_bytes())
    return model


def _check_supported(model: pb.ModelProto) -> list[tuple[str, str]]:
    spec = model.normalizer_spec
    if not spec.escape_whitespaces or model.trainer_spec.treat_whitespace_as_suffix:
        raise ValueError("export needs escape_whitespaces=true and treat_whitespace_as_suffix=false")
    if model.trainer_spec.model_type not in (pb.TrainerSpec.UNIGRAM, pb.TrainerSpec.BPE):
        raise ValueError("export supports unigram and bpe models only")
    rules = charsmap_rules(spec.precompiled_charsmap)
    if any(len(src) != 1 for src, _ in rules):
        raise ValueError(
            "the model's normalization has multi-code-point rules, which tokenizers' Precompiled normalizer cannot "
            "reproduce; train it with pipeline.tokenizer.train (per-code-point rules)"
        )
    if rules and dict(rules).get(SEPARATOR) != "":
        raise ValueError("the model's normalization must delete U+0001 (the separator of the export)")
    rewritten = {src for src, dst in rules if src != dst}
    for piece in model.pieces:
        if piece.type == _Type.USER_DEFINED and any(ch in rewritten or ch == " " for ch in piece.piece):
            raise ValueError(f"user-defined symbol {piece.piece!r} is changed by the normalization")
    return rules


def _normalizer(model: pb.ModelProto, rules: list[tuple[str, str]]) -> normalizers.Normalizer:
    spec = model.normalizer_spec
    steps: list[normalizers.Normalizer] = []
    if spec.add_dummy_prefix and not spec.remove_extra_whitespaces:
        steps.append(normalizers.Prepend("\u2581"))
    if rules:
        # after every character: a separator inserted at position 0 survives Precompiled (tokenizers 0.23 alignment bug)
        steps.append(normalizers.Replace(Regex(r"(?<=[\s\S])"), SEPARATOR))
        steps.append(normalizers.Precompiled(spec.precompiled_charsmap))
    if spec.remove_extra_whitespaces:
        steps.append(normalizers.Replace(Regex(r"\A +"), ""))
        steps.append(normalizers.Replace(Regex(" {2,}"), " "))
        if spec.add_dummy_prefix:
            steps.append(normalizers.Prepend("\u2581"))
    steps.append(normalizers.Replace(" ", "\u2581"))
    if spec.remove_extra_whitespaces:
        # after escaping, like SentencePiece: a "▁" typed in the text is stripped at the end too (rules without
        # "▁" → " ", e.g. identity, keep it as a character everywhere else)
        steps.append(normalizers.Replace(Regex("\u2581+\\z"), ""))
    return normalizers.Sequence(steps)


def _unigram(model: pb.ModelProto) -> Unigram:
    normal = [p.score for p in model.pieces if p.type == _Type.NORMAL]
    min_score = min(normal) if normal else -10.0
    vocab: list[tuple[str, float]] = []
    for piece in model.pieces:
        if piece.type == _Type.NORMAL:
            score = float(piece.score)
        elif piece.type == _Type.USER_DEFINED:
            score = 0.0
        else:  # never from text: worse than spelling the string with single-character pieces
            score = (len(piece.piece) + 1) * min_score - 1.0
        vocab.append((piece.piece, score))
    return Unigram(vocab, unk_id=model.trainer_spec.unk_id, byte_fallback=model.trainer_spec.byte_fallback)


def _bpe(model: pb.ModelProto) -> BPE:
    vocab = {piece.piece: i for i, piece in enumerate(model.pieces)}
    normal = {p.piece: (p.score, i) for i, p in enumerate(model.pieces) if p.type == _Type.NORMAL}
    ranked: list[tuple[float, int, int, str, str]] = []
    for piece, (score, piece_id) in normal.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in normal and right in normal:
                ranked.append((-score, piece_id, normal[left][1], left, right))
    ranked.sort()
    merges = [(left, right) for *_, left, right in ranked]
    has_symbols = any(p.type == _Type.USER_DEFINED for p in model.pieces)
    return BPE(
        vocab=vocab,
        merges=merges,
        unk_token=model.pieces[model.trainer_spec.unk_id].piece,
        fuse_unk=True,
        byte_fallback=model.trainer_spec.byte_fallback,
        ignore_merges=has_symbols,
    )


def build_hf_tokenizer(model_path: str | Path) -> Tokenizer:
    """The ``tokenizers`` pipeline equivalent to the SentencePiece model (see module docstring)."""
    model = load_model_proto(model_path)
    rules = _check_supported(model)
    tokenizer = Tokenizer(_unigram(model) if model.trainer_spec.model_type == pb.TrainerSpec.UNIGRAM else _bpe(model))
    tokenizer.normalizer = _normalizer(model, rules)
    symbols = sorted((p.piece for p in model.pieces if p.type == _Type.USER_DEFINED), key=lambda s: (-len(s), s))
    if symbols:
        pattern = "|".join(re.escape(s) for s in symbols)
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    steps: list[decoders.Decoder] = [decoders.Replace("\u2581", " ")]
    if model.trainer_spec.byte_fallback:
        steps.append(decoders.ByteFallback())
    steps.append(decoders.Fuse())
    if model.normalizer_spec.add_dummy_prefix:
        steps.append(decoders.Strip(content=" ", left=1, right=0))
    tokenizer.decoder = decoders.Sequence(steps)
    # No added tokens: ``encode_special_tokens`` is not saved in tokenizer.json, so a registered "<s>" would be cut
    # out of any text by ``Tokenizer.from_file`` users. transformers learns the special tokens from
    # tokenizer_config.json (with split_special_tokens=True).
    return tokenizer


def _special_tokens_map(model: pb.ModelProto) -> dict[str, str]:
    spec = model.trainer_spec
    named = {"unk_token": spec.unk_id, "bos_token": spec.bos_id, "eos_token": spec.eos_id, "pad_token": spec.pad_id}
    return {name: model.pieces[i].piece for name, i in named.items() if 0 <= i < len(model.pieces)}


def export_hf(model_path: str | Path, out_dir: str | Path) -> Path:
    """Write the Hugging Face tokenizer files (and a copy of tokenizer.model) into out_dir; returns out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model_proto(model_path)
    tokenizer = build_hf_tokenizer(model_path)
    tokenizer.save(str(out / "tokenizer.json"))
    specials = _special_tokens_map(model)
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **specials,
        "model_max_length": 1_000_000_000,
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": True,
        "add_bos_token": False,
        "add_eos_token": False,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", "utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps(specials, ensure_ascii=False, indent=2) + "\n", "utf-8")
    if Path(model_path).resolve() != (out / "tokenizer.model").resolve():
        shutil.copyfile(model_path, out / "tokenizer.model")
    return out


@dataclass(frozen=True)
class IdMismatch:
    """One text whose ids differ: where they first differ, and the pieces around that point on both sides."""

    index: int
    first_difference: int
    sentencepiece: list[str]
    hugging_face: list[str]


@dataclass(frozen=True)
class IdParityReport:
    texts: int
    characters: int
    tokens: int
    mismatches: list[IdMismatch] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.mismatches


class IdMismatchError(AssertionError):
    """The Hugging Face export and SentencePiece disagree on at least one text."""

    def __init__(self, report: IdParityReport) -> None:
        self.report = report
        first = report.mismatches[0]
        super().__init__(
            f"Hugging Face export differs from SentencePiece on {len(report.mismatches)} of {report.texts} texts; "
            f"first: text #{first.index} at token {first.first_difference}: "
            f"sentencepiece {first.sentencepiece} vs tokenizers {first.hugging_face}"
        )


def compare_ids(
    model_path: str | Path, hf_dir: str | Path, texts: Sequence[str], *, raise_on_mismatch: bool = True
) -> IdParityReport:
    """Encode texts with SentencePiece and with the exported tokenizer.json; report (by default raise) differences."""
    processor = spm.SentencePieceProcessor(model_file=str(model_path))
    tokenizer = Tokenizer.from_file(str(Path(hf_dir) / "tokenizer.json"))
    expected = processor.encode(list(texts))
    got = [e.ids for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]
    mismatches = []
    size = processor.get_piece_size()

    def piece(i: int) -> str:  # an id from a foreign tokenizer.json may lie outside this model's vocabulary
        return processor.id_to_piece(i) if 0 <= i < size else f"<id {i} out of vocabulary>"

    for index, (a, b) in enumerate(zip(expected, got, strict=True)):
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            window = slice(max(0, at - 2), at + 4)
            mismatches.append(
                IdMismatch(
                    index,
                    at,
                    [piece(i) for i in a[window]],
                    [piece(i) for i in b[window]],
                )
            )
    report = IdParityReport(len(texts), sum(map(len, texts)), sum(map(len, expected)), mismatches)
    if mismatches and raise_on_mismatch:
        raise IdMismatchError(report)
    return report
