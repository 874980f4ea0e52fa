"""Charset decisions on self-made pages in the encodings the Korean/CJK/Slavic web still uses."""

from __future__ import annotations

import random

import pytest

from pipeline.ingest.charset import SOURCES, decode_html, resolve_label

KO = (
    "대한민국은 민주공화국이다. 대한민국의 주권은 국민에게 있고, 모든 권력은 국민으로부터 나온다. "
    "모든 국민은 인간으로서의 존엄과 가치를 가지며, 행복을 추구할 권리를 가진다."
)
KO_CP949_ONLY = "똠방각하와 햏자는 뷁을 외쳤다. 펲시와 샾 기호도 썼다. " + KO  # syllables outside KS X 1001
JA = (
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
    "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。"
)
ZH_GBK = "朱镕基总理在北京会见了来访的代表团，双方就经济合作、文化交流等问题深入交换了意见。陶喆和王堃也出席了会议。"
ZH_BIG5 = "臺灣是一個位於東亞的島嶼，擁有豐富的自然景觀與多元的文化傳統。許多旅客喜歡到夜市品嘗當地的小吃。"
RU = (
    "Москва - столица России, крупнейший по численности населения город страны. "
    "Город расположен на реке Москве в центре Восточно-Европейской равнины, между Окой и Волгой."
)
TH = (
    "ประเทศไทยเป็นประเทศที่ตั้งอยู่ในภูมิภาคเอเชียตะวันออกเฉียงใต้ มีกรุงเทพมหานครเป็นเมืองหลวง "
    "และเป็นศูนย์กลางทางเศรษฐกิจของประเทศ"
)
PT = "A informação sobre as eleições e as decisões da comissão está disponível em português, français et español."


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}<title>t</title></head><body><p>{body}</p><p>{body}</p></body></html>"


def meta(label: str) -> str:
    return f'<meta charset="{label}">'


def meta_http_equiv(label: str) -> str:
    return f'<meta http-equiv="Content-Type" content="text/html; charset={label}">'


def test_korean_fixtures() -> None:
    # Python's euc_kr encodes syllables outside KS X 1001 as 8-byte jamo sequences; keep KO free of them.
    assert KO.encode("euc-kr") == KO.encode("cp949")
    with pytest.raises(UnicodeDecodeError):
        KO_CP949_ONLY.encode("cp949").decode("euc-kr")


def test_ascii() -> None:
    d = decode_html(page("plain text").encode("ascii"), "euc-kr")
    assert (d.source, d.charset, d.bad_chars, d.text) == ("ascii", "ascii", 0, page("plain text"))


def test_valid_utf8_wins_over_any_label() -> None:
    html = page(KO, meta("euc-kr"))
    d = decode_html(html.encode("utf-8"), "euc-kr")
    assert (d.source, d.charset, d.text) == ("utf-8", "utf-8", html)


def test_utf8_mislabelled_iso_8859_1() -> None:
    html = page(RU + " " + PT)
    d = decode_html(html.encode("utf-8"), "iso-8859-1")
    assert (d.source, d.text) == ("utf-8", html)


def test_utf8_bom_is_dropped() -> None:
    html = page(JA)
    assert decode_html(b"\xef\xbb\xbf" + html.encode(), None).text == html


LEGACY_CASES = [
    (KO, "euc-kr", "euc-kr", "", "header", "cp949"),
    (KO, "euc-kr", "EUC-KR", meta("euc-kr"), "header", "cp949"),
    (KO, "euc-kr", None, meta("euc-kr"), "meta", "cp949"),
    (KO, "euc-kr", None, meta_http_equiv("ks_c_5601-1987"), "meta", "cp949"),
    (KO, "euc-kr", None, "", "detected", "cp949"),
    (KO, "euc-kr", "utf-8", "", "detected", "cp949"),  # mislabelled as UTF-8 in the header
    (KO, "euc-kr", "utf-8", meta("euc-kr"), "meta", "cp949"),
    (KO, "euc-kr", "iso-8859-1", "", "detected", "cp949"),  # Apache's default label on a Korean site
    (KO, "euc-kr", "x-bogus-charset", "", "detected", "cp949"),  # unknown labels are ignored
    (KO_CP949_ONLY, "cp949", "euc-kr", "", "header", "cp949"),
    (KO_CP949_ONLY, "cp949", None, meta("ks_c_5601-1987"), "meta", "cp949"),
    (KO_CP949_ONLY, "cp949", None, "", "fallback", "cp949"),  # uchardet gives up on early UHC syllables
    (KO_CP949_ONLY, "cp949", "iso-8859-1", "", "fallback", "cp949"),
    (JA, "shift_jis", "Shift_JIS", "", "header", "cp932"),
    (JA, "shift_jis", None, meta("x-sjis"), "meta", "cp932"),
    (JA, "shift_jis", None, "", "detected", "cp932"),
    (JA, "euc-jp", "euc-jp", "", "header", "euc_jp"),
    (JA, "euc-jp", None, "", "detected", "euc_jp"),
    (ZH_GBK, "gbk", "gb2312", "", "header", "gb18030"),  # GB2312 label, GBK-only characters
    (ZH_GBK, "gbk", None, meta_http_equiv("GB2312"), "meta", "gb18030"),
    (ZH_GBK, "gbk", None, "", "detected", "gb18030"),
    (ZH_BIG5, "big5", "big5", "", "header", "big5hkscs"),
    (ZH_BIG5, "big5", None, "", "detected", "big5hkscs"),
    (RU, "cp1251", "windows-1251", "", "header", "cp1251"),
    (RU, "cp1251", None, "", "detected", "cp1251"),
    (RU, "cp1251", "iso-8859-1", "", "detected", "cp1251"),
    (RU, "koi8-r", "koi8-r", "", "header", "koi8-r"),
    (RU, "koi8-r", None, meta_http_equiv("KOI8-R"), "meta", "koi8-r"),
    (RU, "koi8-r", None, "", "detected", "koi8-r"),
    (RU, "mac_cyrillic", "x-mac-cyrillic", "", "header", "mac-cyrillic"),
    (RU, "mac_cyrillic", None, "", "detected", "mac-cyrillic"),
    (TH, "tis-620", "tis-620", "", "header", "cp874"),
    (TH, "tis-620", None, "", "detected", "cp874"),
    (PT, "latin-1", "iso-8859-1", "", "header", "cp1252"),
    (PT, "latin-1", None, meta("latin1"), "meta", "cp1252"),
]


@pytest.mark.parametrize(
    "text, encoding, header, head, source, charset",
    LEGACY_CASES,
    ids=[f"{c[1]}-header:{c[2]}-{'meta' if c[3] else 'nometa'}" for c in LEGACY_CASES],
)
def test_legacy_encodings_round_trip(
    text: str, encoding: str, header: str | None, head: str, source: str, charset: str
) -> None:
    html = page(text, head)
    d = decode_html(html.encode(encoding), header)
    assert d.text == html
    assert (d.source, d.charset, d.bad_chars) == (source, charset, 0)


def test_nearly_utf8_page_keeps_its_label() -> None:
    """A UTF-8 page with one stray byte is still UTF-8: a few replacement characters, under the threshold."""
    body = page(KO + JA + RU).encode("utf-8").replace(b"<body>", b"<body>\xff")
    for label in ("utf-8", None, "windows-1252"):
        d = decode_html(body, label)
        assert (d.source, d.charset, d.bad_chars) == ("mostly_utf8", "utf-8", 1), label
    # the caller still judges the replacement characters against its own ratio
    assert decode_html(body, "utf-8", max_bad_ratio=0.0).bad_chars == 1


def test_meta_outside_scan_window_is_ignored() -> None:
    html = page(PT, "<!--" + "x" * 3000 + "-->" + meta("koi8-r"))
    assert decode_html(html.encode("latin-1"), None).source != "meta"
    assert decode_html(html.encode("latin-1"), None, meta_scan_bytes=8192).source == "meta"


def test_utf16_with_bom() -> None:
    html = page(KO)
    d = decode_html(b"\xff\xfe" + html.encode("utf-16-le"), "utf-16")
    assert (d.text, d.charset, d.source) == (html, "utf-16-le", "detected")


def test_hopeless_bytes_fall_back_with_their_damage() -> None:
    junk = bytes(b for b in random.Random(0).randbytes(6000) if b)
    d = decode_html(junk, "euc-kr")
    assert d.source == "fallback"
    assert d.bad_chars > 0.005 * len(d.text)
    assert d.bad_ratio == d.bad_chars / len(d.text)
    assert d.source in SOURCES


@pytest.mark.parametrize(
    "label, codec",
    [
        ("gb2312", "gb18030"),
        ("x-gbk", "gb18030"),
        ("GBK", "gb18030"),
        ("euc-kr", "cp949"),
        ("ks_c_5601-1987", "cp949"),
        ("shift_jis", "cp932"),
        ("sjis", "cp932"),
        ("x-sjis", "cp932"),
        ("iso-8859-1", "cp1252"),
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("tis-620", "cp874"),
        ("iso-8859-11", "cp874"),
        ("x-mac-cyrillic", "mac-cyrillic"),
        ("big5", "big5hkscs"),
        (' "UTF-8" ', "utf-8"),
        ("koi8-r", "koi8-r"),
        ("bogus", None),
        ("", None),
        (None, None),
        ("cp949", "cp949"),  # not WHATWG labels, but Python decodes them: honoured rather than dropped
        ("johab", "johab"),
        ("ISO-2022-KR", "iso2022_kr"),
        ("mac-cyrillic", "mac-cyrillic"),
        ("base64", None),  # Python codecs that are not text charsets
        ("unicode-escape", None),
        ("utf-7", None),
    ],
)
def test_resolve_label(label: str | None, codec: str | None) -> None:
    assert resolve_label(label) == codec


def test_johab_page_is_decoded_by_its_label() -> None:
    html = page(KO_CP949_ONLY)
    d = decode_html(html.encode("johab"), "johab")
    assert (d.source, d.charset, d.bad_chars, d.text) == ("header", "johab", 0, html)
    d = decode_html(page(KO_CP949_ONLY, meta("johab")).encode("johab"), None)
    assert (d.source, d.charset, d.bad_chars) == ("meta", "johab", 0)


@pytest.mark.parametrize(
    ("text", "codec", "charset"),
    [
        (JA, "iso2022_jp", "iso2022_jp_2"),
        (JA + "ｱｲｳｴｵ", "iso2022_jp_ext", "iso2022_jp_ext"),  # half-width katakana: ESC ( I
        (KO, "iso2022_kr", "iso2022_kr"),
    ],
)
def test_seven_bit_iso2022_pages_are_not_taken_for_ascii(text: str, codec: str, charset: str) -> None:
    html = page(text)
    payload = html.encode(codec)
    assert payload.isascii()  # the trap: 7-bit, so the ASCII fast path would keep the escape sequences
    d = decode_html(payload, None)
    assert (d.source, d.charset, d.bad_chars, d.text) == ("detected", charset, 0, html)
    assert "\x1b" not in d.text
    assert decode_html(payload, "iso-2022-jp" if "jp" in codec else "iso-2022-kr").source == "header"


def test_escape_bytes_alone_do_not_make_iso2022() -> None:
    html = page("a terminal colour code \x1b[31m stays as it is")
    assert decode_html(html.encode("ascii"), None).source == "ascii"


def test_mostly_utf8_with_stray_bytes_is_utf8_not_mojibake() -> None:
    text = "<html><body><p>“Smart quotes” and café, naïve résumé — déjà vu. 대한민국은 민주공화국이다.</p></body></html>"
    body = text.encode()
    damaged = body[:40] + b"\x92" + body[40:]
    for label in ("utf-8", None, "iso-8859-1"):
        dec = decode_html(damaged, label)
        assert (dec.charset, dec.source, dec.bad_chars) == ("utf-8", "mostly_utf8", 1), label
        assert "résumé" in dec.text and "대한민국" in dec.text
    # legacy text is not taken for damaged UTF-8
    assert decode_html("대한민국은 민주공화국이다. 주권은 국민에게 있다.".encode("euc-kr") * 20, None).charset == "cp949"
    latin = ("Voilà un café très élégant, où l'on mange des crêpes. " * 10).encode("cp1252")
    assert decode_html(latin, None).charset == "cp1252"
