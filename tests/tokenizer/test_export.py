"""Hugging Face export: loads in tokenizers and transformers, and gives SentencePiece's ids exactly."""

from __future__ import annotations

import io
import json
import sys

import pytest
import sentencepiece as spm
from tokenizers import Tokenizer, normalizers

from pipeline.tokenizer.export import IdMismatchError, compare_ids, export_hf
from pipeline.tokenizer.settings import TokenizerSettings
from pipeline.tokenizer.train import train_sentencepiece

#: Texts where a straightforward conversion goes wrong: whitespace, controls, NFKC, byte fallback, piece names.
TRICKY = [
    "", " ", "   ", "\t", "\n", "\r\n", " a", "a ", "  a  b  ", "a\tb", "a\nb", "a\r\nb", "\n\nabc\n\n", "a  \n  b",
    "\u3000a\u3000", "a\u3000\u3000b", "x\u00a0y", "\u2009thin\u2009space",
    "ＡＢＣ１２３", "１２３ ４５", "①②⑩", "ﬁ", "㍿", "Ⅻ", "ｶﾞ", "ｶ\uff9e", "ｱｲｳ", "ﾞ", "¨a", " ¨", "µ", "ǅ",
    "e\u0301", "Ａ\u0301", "ﬁ\u0301", "e\u0301\u0301", "n\u0303\u0301", "A\u030a", "\u0301abc", "\u0915\u093c",
    "\u1100\u1161\u11a8", "\u1100", "가\u11a8", "ㄱㅏ",
    "😀👍🏽👨\u200d👩\u200d👧", "\U0001F600" * 4, "x\u200dy", "\u200b\u200c\ufeff",
    "𠀋𪚲𫝆", "龘靐齉", "\x00\x01\x7f", "\x01", "\x01\x02", " \x01 ", "\x1b[31mred\x1b[0m", "\ufffd",
    "1234567890", "10,000.50 ₩", "٣٤٥", "2024年3月", "v1.2.3-rc4",
    "▁", "▁▁a", " ▁", "a▁", "a ▁ b",
    "<s>", "</s>", "a<s>b", "<unk>", "<pad>", "<0x41>", "x<0x41>y", "<0xZZ>", "<s>text</s>",
    "a" * 3000, "가나다라" * 500, " ".join(["word"] * 500),
]


@pytest.fixture(scope="module")
def hf_tokenizer(trained) -> Tokenizer:
    return Tokenizer.from_file(str(trained[1] / "tokenizer.json"))


def test_export_writes_the_hugging_face_files(trained) -> None:
    model_path, hf_dir, _ = trained
    assert {p.name for p in hf_dir.iterdir()} >= {
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model"
    }
    assert (hf_dir / "tokenizer.model").read_bytes() == model_path.read_bytes()
    config = json.loads((hf_dir / "tokenizer_config.json").read_text())
    assert config["split_special_tokens"] is True and config["bos_token"] == "<s>"
    assert json.loads((hf_dir / "special_tokens_map.json").read_text()) == {
        "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"
    }


def test_demo_texts_identical_ids_in_every_language(trained, demo_texts) -> None:
    model_path, hf_dir, _ = trained
    assert len(demo_texts) == 13
    for lang, lines in demo_texts.items():
        report = compare_ids(model_path, hf_dir, lines)  # raises on any difference
        assert report.identical and report.texts == len(lines) and report.tokens > 0, lang
    whole = compare_ids(model_path, hf_dir, ["\n".join(lines) for lines in demo_texts.values()])
    assert whole.identical


def test_tricky_texts_identical_ids(trained, hf_tokenizer) -> None:
    model_path, hf_dir, _ = trained
    report = compare_ids(model_path, hf_dir, TRICKY)
    assert report.identical
    processor = spm.SentencePieceProcessor(model_file=str(model_path))
    # the cases that failed before the fixes, spelled out
    assert hf_tokenizer.encode("Ａ\u0301").tokens == [processor.id_to_piece(i) for i in processor.encode("Ａ\u0301")]
    assert hf_tokenizer.encode("<s>").ids != [processor.bos_id()]
    assert "<0x41>" not in hf_tokenizer.encode("x<0x41>y").tokens


def test_every_code_point_normalizes_and_encodes_identically(trained, hf_tokenizer) -> None:
    """All 1.1M code points (but surrogates), 256 a text, through both normalizers and both encoders."""
    model_path, hf_dir, _ = trained
    chars = [chr(c) for c in range(1, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    texts = ["".join(chars[i : i + 256]) for i in range(0, len(chars), 256)]
    sp_normalizer = spm.SentencePieceNormalizer(model_file=str(model_path))
    hf_normalized = [hf_tokenizer.normalizer.normalize_str(t) for t in texts]
    assert sp_normalizer.normalize(texts) == hf_normalized
    assert compare_ids(model_path, hf_dir, texts).identical


def test_transformers_loads_the_export_and_agrees(trained, demo_texts) -> None:
    transformers = pytest.importorskip("transformers")
    model_path, hf_dir, _ = trained
    tokenizer = transformers.PreTrainedTokenizerFast.from_pretrained(str(hf_dir))
    processor = spm.SentencePieceProcessor(model_file=str(model_path))
    texts = [lines[0] for lines in demo_texts.values()] + TRICKY
    assert tokenizer(texts)["input_ids"] == processor.encode(texts)
    assert tokenizer.encode("<s>hello</s>") == processor.encode("<s>hello</s>")  # typed specials stay text
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id) == (
        1, 2, 3, 0
    )
    assert len(tokenizer) == processor.get_piece_size()
    for text in [lines[0] for lines in demo_texts.values()]:
        assert tokenizer.decode(processor.encode(text)) == processor.decode(processor.encode(text))


def test_compare_ids_fails_loudly_on_a_mismatch(trained, tmp_path) -> None:
    model_path, hf_dir, _ = trained
    broken = Tokenizer.from_file(str(hf_dir / "tokenizer.json"))
    broken.normalizer = normalizers.Sequence([normalizers.Replace(" ", "\u2581")])  # no dummy prefix, no NFKC
    broken.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(IdMismatchError, match="differs from SentencePiece on 2 of 3 texts"):
        compare_ids(model_path, tmp_path, ["hello", "ＡＢＣ", ""])
    report = compare_ids(model_path, tmp_path, ["hello", "ＡＢＣ", ""], raise_on_mismatch=False)
    assert [m.index for m in report.mismatches] == [0, 1] and report.mismatches[0].first_difference == 0


@pytest.mark.parametrize(
    "variant",
    [
        dict(model_type="unigram", normalization_rule_name="identity", user_defined_symbols=("<tool>", "[MASK]")),
        dict(model_type="bpe", normalization_rule_name="nfkc_cf", remove_extra_whitespaces=False),
        dict(model_type="unigram", byte_fallback=False, add_dummy_prefix=False, pad_id=-1),
        dict(model_type="bpe", user_defined_symbols=("<tool>", "</tool>"), byte_fallback=False),
        dict(
            model_type="unigram",
            normalization_rule_name="nmt_nfkc_cf",
            split_digits=False,
            remove_extra_whitespaces=False,
        ),
    ],
    ids=["uni-identity-symbols", "bpe-nfkc_cf-spaces", "uni-nobytes-noprefix", "bpe-symbols-nobytes", "uni-cf"],
)
def test_settings_variants_identical_ids(variant, demo_lines, tmp_path) -> None:
    settings = TokenizerSettings(vocab_size=4000, **variant)
    model_path = train_sentencepiece(demo_lines, settings, tmp_path)
    hf_dir = export_hf(model_path, tmp_path / "hf")
    extra = ["a <tool> b", "<tool><tool>x", " <tool> ", "[MASK]x", "x</tool>", "<too", "\t\ta"]
    assert compare_ids(model_path, hf_dir, demo_lines + TRICKY + extra).identical


def test_export_refuses_a_stock_multi_code_point_normalizer(demo_lines, tmp_path) -> None:
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(demo_lines), model_writer=buffer, vocab_size=4000, minloglevel=2
    )
    (tmp_path / "stock.model").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="multi-code-point"):
        export_hf(tmp_path / "stock.model", tmp_path / "hf")


@pytest.mark.slow
def test_every_udhr_language_identical_ids(trained, shared_data) -> None:
    """~460 UDHR translations, each as paragraphs and as one document (whole-text Viterbi over ~10k characters)."""
    model_path, hf_dir, _ = trained
    files = sorted((shared_data / "udhr").glob("udhr_*.txt"))
    assert len(files) > 400
    documents = [f.read_text(encoding="utf-8") for f in files]
    paragraphs = [p for d in documents for p in d.splitlines()]
    assert compare_ids(model_path, hf_dir, documents).identical
    assert compare_ids(model_path, hf_dir, paragraphs).identical
