from __future__ import annotations

import random

import pytest

from pipeline.dedup.shingles import (
    ShingleConfig,
    char_shingles,
    shingle_kind,
    shingle_many,
    shingles,
    text_script,
    tokenize,
    word_shingles,
)

from ._texts import SCRIPTS, make_text


@pytest.mark.parametrize(
    "text, script, kind",
    [("The quick brown fox", "Latn", "word"), ("Всеобщая декларация прав человека", "Cyrl", "word"),
     ("الإعلان العالمي لحقوق الإنسان", "Arab", "word"), ("मानव अधिकारों की सार्वभौम घोषणा", "Deva", "word"),
     ("世界人权宣言", "Hans", "char"), ("世界人權宣言", "Hant", "char"), ("世界人権宣言です", "Jpan", "char"),
     ("สิทธิมนุษยชน", "Thai", "char"), ("세계 인권 선언", "Hang", "char"), ("12 345 !!", "", "word")],
)
def test_the_kind_comes_from_the_text_script(text, script, kind):
    assert text_script(text) == script
    assert shingle_kind(script) == kind


def test_copies_labelled_differently_get_the_same_shingles():
    """The label never decides: a Hans/Hant mix, or text in a script the language model lacks."""
    mixed = "世界人权宣言序言鉴于对人类家庭所有成员的固有尊严及其平等的和不移的权利的承认乃是世界自由正义与和平的基础。鑑於對人權的無視和侮蔑已發展為野蠻暴行"
    assert shingles(mixed) == char_shingles(mixed, 5)
    cherokee = "ᏂᎦᏓ ᎠᏂᏴᏫ ᏂᎨᎫᏓᎸᎾ ᎠᎴ ᎤᏂᏠᏱ ᎤᎾᏕᎿ ᏚᏳᎧᏛ ᎨᏒᎢ"
    assert shingles(cherokee) == word_shingles(cherokee, 5)


def test_korean_can_use_eojeol_word_ngrams():
    assert shingle_kind("Hang", ShingleConfig(korean="word")) == "word"
    with pytest.raises(ValueError):
        ShingleConfig(korean="syllable")


def test_word_shingles_content():
    text = "The quick, brown fox -- jumps over the LAZY dog!"
    assert tokenize(text) == ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]
    sh = word_shingles(text, 5)
    assert sh[0] == b"the quick brown fox jumps"
    assert sh[-1] == b"jumps over the lazy dog"
    assert len(sh) == 9 - 5 + 1
    assert all(isinstance(s, bytes) for s in sh)
    assert shingles(text) == sh
    assert word_shingles(text, 1) == [w.encode() for w in tokenize(text)]


def test_combining_marks_stay_inside_words():
    # Python's \w does not match Devanagari vowel signs; the tokenizer must not cut words there
    assert tokenize("मानव अधिकारों की सार्वभौम घोषणा") == ["मानव", "अधिकारों", "की", "सार्वभौम", "घोषणा"]


def test_char_shingles_ignore_spaces_and_punctuation():
    a = char_shingles("世界人权宣言，序言。", 5)
    b = char_shingles("世界 人权 宣言 序言", 5)
    assert a == b
    assert a[0] == "世界人权宣".encode()
    assert len(a) == 8 - 5 + 1
    assert shingles("世界人权宣言，序言。") == a
    # Thai: characters, vowel signs included
    th = shingles("สิทธิมนุษยชน")
    assert th[0] == "สิทธิ".encode() and len(th) == len("สิทธิมนุษยชน") - 4


def test_nfkc_folds_fullwidth_after_tokenizing():
    assert shingles("ＡＢＣ　ｄｅｆ　１２３ ghi jkl") == shingles("abc def 123 ghi jkl")
    assert shingles("ﾃｽﾄです。テスト") == shingles("テストですテスト")
    # a ligature expanding to several words (U+FDFA) leaves exactly one space between words
    assert b"  " not in b"".join(shingles("a \ufdfa b c d e f"))


def test_korean_default_is_spacing_insensitive():
    a = "모든 인류 구성원의 천부의 존엄성과 동등하고 양도할 수 없는 권리를"
    b = "모든인류 구성원의 천부의존엄성과 동등하고 양도할수 없는 권리를"
    assert set(shingles(a)) == set(shingles(b))
    word = ShingleConfig(korean="word")
    assert set(shingles(a, word)) != set(shingles(b, word))


def test_short_and_empty_documents():
    assert shingles("") == []
    assert shingles("!!! ...") == []
    assert shingles("two words") == [b"two words"]
    assert shingles("短い") == ["短い".encode()]


def test_configurable_n_and_many():
    text = make_text("Cyrillic", random.Random(1), 50)
    cfg = ShingleConfig(word_n=3, char_n=4)
    sh = shingles(text, cfg)
    assert all(s.count(b" ") == 2 for s in sh)
    assert len(shingles(make_text("Han", random.Random(2), 30), cfg)[0].decode()) == 4
    texts = [make_text(s, random.Random(3), 40) for s in SCRIPTS]
    assert shingle_many(texts) == [shingles(t) for t in texts]
