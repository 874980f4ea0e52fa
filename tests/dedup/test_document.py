"""One normalization for both dedup keys: identical to `normalize_for_exact` and `normalize_for_shingles` separately."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from pipeline.dedup._unicode import char_safe, has_astral, one_pass_safe
from pipeline.dedup.document import exact_hash_and_shingles, normalize_both
from pipeline.dedup.normalize import exact_hash, normalize_for_exact
from pipeline.dedup.shingles import ShingleConfig, normalize_for_shingles, shingles

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def reference(text: str, config: ShingleConfig = ShingleConfig()) -> tuple[str, str]:
    return normalize_for_exact(text), normalize_for_shingles(text, config)


TEXTS = [
    "",
    "word",
    "   \n\t ",
    "!!! ... ???",
    "Hello, World! The QUICK brown fox jumps over 12 lazy dogs; snake_case and CamelCase.",
    "Все люди рождаются свободными и равными в своём достоинстве и правах. Статья 1, 2 и 3.",
    "人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。第１条（２０２４年）",
    "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。ｶﾀｶﾅ",
    "모든 인류 구성원의 천부의 존엄성과 동등하고 양도할 수 없는 권리를 인정하는 것이 ㄱㄴ ＡＢＣ",
    "มนุษย์ทั้งหลายเกิดมามีอิสระและเสมอภาคกันในเกียรติศักด์และสิทธิ ๑๒๓",
    "جميع الناس يولدون أحراراً متساوين في الكرامة والحقوق. ١٢٣ ﷺ",
    "सभी मनुष्यों को गौरव और अधिकारों के मामले में जन्मजात स्वतन्त्रता प्राप्त है। १२३",
    "Mixed 混合 текст ไทย 한국어 — “quotes” «guillemets» ‘single’ … 😀👍🏽 e\u0301 Å Ω",
    "Straße STRASSE ẞ ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ ᾼ ᾳ İstanbul ıI ﬁle Ꮳ ꮳ ǅ",
    "Temperature 25℃, area 30㎡, № 5, Brand™, ½ cup, ① ⑴ Ⓐ, a ≠ b, x=\u0338y, ´ ¨",
    "ｆｕｌｌｗｉｄｔｈ　ＴＥＸＴ，ｗｉｔｈ　１２３　ａｎｄ！",
    "repeat " * 400,
    "重复的内容。" * 300,
    "a_b __init__ ＿ x",
    "𝐁𝐨𝐥𝐝 𝟏𝟐𝟑 𐐀𐐨 𑁦 🄐",
    "\u1100\u1161 \u1100 \u1161 ᄀ-ᅡ",
]


@pytest.mark.parametrize("text", TEXTS)
def test_same_as_two_passes_on_texts(text):
    assert normalize_both(text) == reference(text)
    h, sh = exact_hash_and_shingles(text)
    assert h == exact_hash(text) and sh == shingles(text)
    assert exact_hash_and_shingles(text, bits=128, seed=3)[0] == exact_hash(text, bits=128, seed=3)


def test_unsafe_characters_take_the_two_pass_path():
    assert one_pass_safe("Plain ASCII <tag> a=b") and one_pass_safe("中文，标点。") and one_pass_safe("emoji 😀")
    for text in ("25℃", "Brand™", "½", "a ≠ b", "x=\u0338", "Ⓐ", "´", "ᾳ"):
        assert not one_pass_safe(text), text
    assert not char_safe("\U0001d165")  # an astral combining mark separates words: it must not be dropped first


CONTEXTS = ("{c}", "A{c}b", "Ab{c}\u0301c {c}Z", "={c}\u0338", "\u1100{c}\u1161 1{c}2", "Σ{c}ς x{c}_")


def _check_code_points(cps) -> list[str]:
    bad = []
    for cp in cps:
        c = chr(cp)
        for ctx in CONTEXTS:
            text = ctx.format(c=c)
            if normalize_both(text) != reference(text):
                bad.append(f"U+{cp:04X} in {ctx!r}")
    return bad


def test_every_bmp_code_point_in_context():
    cps = [cp for cp in range(0x10000) if not 0xD800 <= cp <= 0xDFFF]
    assert _check_code_points(cps) == []


def test_astral_code_points_in_context():
    # every 5th astral code point of the assigned planes, and every emoji, mark and digit block in full
    cps = set(range(0x10000, 0x32000, 5)) | set(range(0x1F000, 0x1FB00)) | set(range(0x1D100, 0x1D800))
    cps |= set(range(0x11000, 0x11100)) | set(range(0x104A0, 0x104B0)) | set(range(0x1E900, 0x1E960))
    assert _check_code_points(sorted(cps)) == []


TRICKY = (
    list("aAzZ09_ßẞςσΣİıIiǅǆǄﬁĳĲÅåÆæøØ") + ["e\u0301", "E\u0301", "\u0301", "\u0323", "\u0345", "\u0338", "\u0308"]
    + list("ΑΩωᾼᾳὈΰΐ") + list("ᏣꮳᎠ") + list("中文，。「」（）：ｶﾀＡａ１２３") + list("각가각ㄱ")
    + list(" \t\n\u3000\u00a0-—–.,;:!?\"'«»“”…·•") + list("<=>≠≤℃™½①Ⓐ´¨")
    + ["😀", "👍🏽", "\u200d", "\u200c", "\U0001d165"]
    + list("١٢३๑ﷺ") + list("абвАБВЁё")
)


def test_random_strings_of_tricky_characters():
    rng = random.Random(12)
    bad = []
    for _ in range(20000):
        text = "".join(rng.choice(TRICKY) for _ in range(rng.randint(1, 12)))
        if normalize_both(text) != reference(text):
            bad.append(text)
    assert bad == []


def test_other_shingle_configs_fall_back():
    for config in (ShingleConfig(nfkc=False), ShingleConfig(lowercase=False), ShingleConfig(word_n=3, char_n=2)):
        for text in TEXTS:
            assert normalize_both(text, config) == reference(text, config)


def test_has_astral():
    assert not has_astral("") and not has_astral("abc") and not has_astral("中文 é")
    assert has_astral("a😀") and has_astral("\U00010000") and has_astral("中" * 100 + "𝐁")


def _real_texts() -> list[str]:
    out: list[str] = []
    web = SHARED / "web-zh" / "zh-web-500.jsonl.gz"
    cc = SHARED / "cc" / "cc-main-2018-43-pages100.jsonl.gz"
    if web.is_file():
        with gzip.open(web, "rt", encoding="utf-8") as fh:
            out += [json.loads(line)["text"] for line in fh]
    if cc.is_file():
        with gzip.open(cc, "rb") as fh:
            for raw in fh:
                out.append(json.loads(raw.decode("utf-8", "replace")).get("t") or "")
    return out


def test_real_web_pages():
    texts = _real_texts()
    if not texts:
        pytest.skip(f"real pages absent: {SHARED}/web-zh and {SHARED}/cc not found")
    assert [normalize_both(t) for t in texts] == [reference(t) for t in texts]
    assert sum(map(one_pass_safe, texts)) > 0.9 * len(texts)  # the one-pass path is the common one

