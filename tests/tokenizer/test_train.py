"""Training: determinism, settings reaching the model, line splitting, balanced sampling, score grid."""

from __future__ import annotations

import pytest
import sentencepiece as spm
from pydantic import ValidationError
from sentencepiece import sentencepiece_model_pb2 as pb

from pipeline.tokenizer.export import load_model_proto
from pipeline.tokenizer.settings import TokenizerSettings
from pipeline.tokenizer.train import (
    PRINTABLE_ASCII,
    quantize_unigram_scores,
    sample_budget,
    sample_training_lines,
    split_training_lines,
    train_sentencepiece,
    training_quotas,
)


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_two_trainings_give_identical_model_bytes(model_type, demo_lines, tmp_path) -> None:
    settings = TokenizerSettings(model_type=model_type, vocab_size=4000)
    first = train_sentencepiece(demo_lines, settings, tmp_path / "a").read_bytes()
    second = train_sentencepiece(iter(demo_lines), settings, tmp_path / "b").read_bytes()
    assert first == second
    fewer = train_sentencepiece(demo_lines[:-50], settings, tmp_path / "c").read_bytes()
    assert fewer != first


def test_settings_reach_the_model(trained) -> None:
    model_path, _, settings = trained
    model = load_model_proto(model_path)
    processor = spm.SentencePieceProcessor(model_file=str(model_path))
    assert processor.get_piece_size() == settings.vocab_size == 4000
    spec = model.trainer_spec
    assert spec.character_coverage == pytest.approx(0.9995)
    assert spec.byte_fallback and spec.split_digits
    assert spec.model_type == (pb.TrainerSpec.UNIGRAM if settings.model_type == "unigram" else pb.TrainerSpec.BPE)
    pieces = [p.piece for p in model.pieces]
    assert [p for p in pieces if p.startswith("<0x")] == [f"<0x{b:02X}>" for b in range(256)]
    normal = [p.piece for p in model.pieces if p.type == pb.ModelProto.SentencePiece.NORMAL]
    assert not [p for p in normal if sum(ch.isdigit() for ch in p) > 1]  # digits split
    assert [p for p in processor.encode("2024", out_type=str) if p != "▁"] == ["2", "0", "2", "4"]
    assert pieces[:4] == ["<unk>", "<s>", "</s>", "<pad>"]
    assert set(PRINTABLE_ASCII) <= set(pieces)  # required, even '~' or '`' that the demo text lacks
    assert model.normalizer_spec.add_dummy_prefix and model.normalizer_spec.remove_extra_whitespaces
    # nmt_nfkc per code point: full-width digits become ASCII digits, each its own piece; a rare Han character
    # outside the coverage is spelled in bytes
    assert processor.encode("１２", out_type=str) == ["▁", "1", "2"]
    assert processor.encode("𪚲", out_type=str) == ["▁", "<0xF0>", "<0xAA>", "<0x9A>", "<0xB2>"]


def test_coverage_and_symbols_and_rules_reach_the_model(demo_lines, tmp_path) -> None:
    settings = TokenizerSettings(
        vocab_size=4000,
        character_coverage=0.98,
        normalization_rule_name="identity",
        user_defined_symbols=("<tool>",),
        remove_extra_whitespaces=False,
        byte_fallback=False,
        pad_id=-1,
    )
    model = load_model_proto(train_sentencepiece(demo_lines, settings, tmp_path))
    assert model.trainer_spec.character_coverage == pytest.approx(0.98)
    assert not model.normalizer_spec.precompiled_charsmap and not model.normalizer_spec.remove_extra_whitespaces
    pieces = {p.piece: p.type for p in model.pieces}
    assert pieces["<tool>"] == pb.ModelProto.SentencePiece.USER_DEFINED
    assert "<pad>" not in pieces and "<0x41>" not in pieces
    processor = spm.SentencePieceProcessor(model_proto=model.SerializeToString())
    assert "<tool>" in processor.encode("a<tool>b", out_type=str)
    # lower coverage drops rare characters: fewer single-character pieces than at 0.9995
    full = load_model_proto(train_sentencepiece(demo_lines, TokenizerSettings(vocab_size=4000), tmp_path / "full"))
    singles = lambda m: sum(1 for p in m.pieces if len(p.piece) == 1 and p.type == 1)  # noqa: E731
    assert singles(model) < singles(full)


def test_unigram_scores_sit_on_the_grid(trained) -> None:
    model_path, _, settings = trained
    model = load_model_proto(model_path)
    step = 2.0**settings.unigram_score_bits
    normal = [p.score for p in model.pieces if p.type == pb.ModelProto.SentencePiece.NORMAL]
    if settings.model_type == "unigram":
        assert all((s * step).is_integer() for s in normal)
        assert len(set(normal)) > 50  # still a real distribution, not collapsed
    proto = pb.ModelProto()
    proto.pieces.add(piece="a", score=-1.23456, type=pb.ModelProto.SentencePiece.NORMAL)
    proto.pieces.add(piece="<s>", score=0.5, type=pb.ModelProto.SentencePiece.CONTROL)
    quantize_unigram_scores(proto, 3)
    assert proto.pieces[0].score == -1.25 and proto.pieces[1].score == 0.5


def test_split_training_lines_cuts_long_lines_on_character_boundaries() -> None:
    assert list(split_training_lines("  one \n\n two\r\nthree  ", 100)) == ["one", "two", "three"]
    korean = "가" * 50  # 3 bytes each: 150 bytes
    parts = list(split_training_lines(korean, 64))
    assert "".join(parts) == korean  # nothing dropped
    assert all(len(p.encode()) <= 64 for p in parts) and [len(p) for p in parts] == [21, 21, 8]
    words = " ".join(["word"] * 40)  # 199 bytes: cut at spaces
    parts = list(split_training_lines(words, 64))
    assert all(len(p.encode()) <= 64 and not p.startswith(" ") and not p.endswith(" ") for p in parts)
    assert " ".join(parts) == words
    emoji = "😀" * 10  # 4-byte characters, limit not a multiple of 4
    parts = list(split_training_lines(emoji, 10))
    assert "".join(parts) == emoji and all(len(p.encode()) <= 10 for p in parts)


def test_training_never_drops_a_long_line(tmp_path, demo_lines) -> None:
    settings = TokenizerSettings(vocab_size=4000, max_sentence_length=256)
    rare = "ꙮ" * 400  # one 1,200-byte line of a character seen nowhere else
    model = train_sentencepiece([*demo_lines, rare], settings, tmp_path)
    assert "ꙮ" in {p.piece for p in load_model_proto(model).pieces}


def test_training_quotas_hand_example() -> None:
    chars = {"kor": 100, "jpn": 400, "zho": 1600, "eng": 10_000}
    families = {"kor": "korean", "jpn": "cjk", "zho": "cjk", "eng": "germanic"}
    # alpha 0: families equal (1,000 each); korean has only 100, its 900 go half to cjk, half to germanic (1,450);
    # inside cjk equal halves (725), jpn has only 400, zho takes the rest
    assert training_quotas(chars, families, 3000, 0.0) == {"kor": 100, "jpn": 400, "zho": 1050, "eng": 1450}
    q = training_quotas(chars, families, 1200, 0.0)
    # korean capped at 100 → the other two families share 1,100; cjk's 550 split 275/275
    assert q == {"kor": 100, "jpn": 275, "zho": 275, "eng": 550}
    # alpha 1: proportional to what is available
    q = training_quotas(chars, families, 1210, 1.0)
    assert q == {"kor": 10, "jpn": 40, "zho": 160, "eng": 1000}
    # alpha 0.5 inside cjk: sqrt(400):sqrt(1600) = 1:2
    q = training_quotas({"jpn": 400, "zho": 1600}, {"jpn": "cjk", "zho": "cjk"}, 300, 0.5)
    assert q == {"jpn": 100, "zho": 200}
    assert training_quotas(chars, families, 10**9, 0.3) == chars  # everything, never more


def test_sample_training_lines_is_seeded_and_respects_quotas() -> None:
    lines = {"kor": [f"ko {i} " * 3 for i in range(100)], "eng": [f"en {i}" for i in range(100)]}
    quotas = {"kor": 100, "eng": 50}
    a = sample_training_lines(lines, quotas, seed=1)
    assert a == sample_training_lines(lines, quotas, seed=1)
    assert a != sample_training_lines(lines, quotas, seed=2)
    ko = [s for s in a if s.startswith("ko")]
    en = [s for s in a if s.startswith("en")]
    assert 100 <= sum(map(len, ko)) < 100 + 24 and 50 <= sum(map(len, en)) < 50 + 6
    assert len(set(a)) == len(a)  # no line twice
    # adding a language does not reshuffle the others
    more = sample_training_lines({**lines, "zho": ["中文"] * 5}, {**quotas, "zho": 4}, seed=1)
    assert [s for s in more if not s.startswith("中")] == a


def test_settings_are_strict() -> None:
    with pytest.raises(ValidationError):
        TokenizerSettings(vocab_szie=1000)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        TokenizerSettings(model_type="wordpiece")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        TokenizerSettings(user_defined_symbols=("a b",))
    with pytest.raises(ValidationError):
        TokenizerSettings(bos_id=0)  # clashes with unk_id
    assert TokenizerSettings().ids_dtype == "uint16" and TokenizerSettings(vocab_size=70_000).ids_dtype == "int32"


def test_sample_budget_is_a_share_of_the_corpus_capped_by_sample_chars() -> None:
    settings = TokenizerSettings(sample_chars=5_000_000, sample_fraction=0.25)
    assert sample_budget(12_000_000, settings) == 3_000_000  # a quarter of a small corpus
    assert sample_budget(400_000_000, settings) == 5_000_000  # the cap on a large one
    assert sample_budget(3, settings) == 1  # never an empty budget
    whole = TokenizerSettings(sample_chars=5_000_000, sample_fraction=1.0)
    assert sample_budget(12_000_000, whole) == 5_000_000 and sample_budget(4_000_000, whole) == 4_000_000
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValidationError, match="sample_fraction"):
            TokenizerSettings(sample_fraction=bad)
