"""Fast Unicode script detection: per-character ISO 15924 script of letters, script counts, a text's dominant script.

Why: language ID, script-aware quality filters and tokenizers all need "which writing system is this text in" on
every document, so it must cost microseconds. A precomputed codepoint → script-id table (one uint8 per codepoint,
1.1 MB, built once at import from the range list below) is applied with numpy to ``text.encode("utf-32-le")``;
``unicodedata`` is never called per character.

What counts: letters and script-specific combining marks (General_Category L* and M*, e.g. Indic vowel signs) of a
real script. Digits, punctuation, symbols, spaces and characters of the Common/Inherited scripts (ASCII digits, "ー",
generic combining accents U+0300–036F, Arabic harakat) are not counted, so "Seoul 2024!" is 5 Latin letters.

Composite codes returned by `dominant_script` (ISO 15924 has them for exactly this):

- ``Hang`` — Korean: Hangul with or without Hanja (Han). ISO's ``Kore`` (Hangul + Han) is folded into ``Hang``
  because the project writes Korean as ``kor_Hang``.
- ``Jpan`` — Japanese: any real share (>= 5 %) of Hiragana/Katakana among the Han + kana letters.
- ``Hans`` / ``Hant`` — Han alone, decided by `HANS_ONLY` / `HANT_ONLY`: high-frequency characters that exist in only
  one of the two forms (这/這, 们/們, 国/國, ...). ``Hani`` when neither side wins (no marker, or a tie).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "HANGUL_SHARE",
    "HANS_ONLY",
    "HANT_ONLY",
    "KANA_SHARE",
    "SCRIPTS",
    "SCRIPT_NAMES",
    "SCRIPT_OF_ID",
    "SPACELESS_SCRIPTS",
    "dominant_script",
    "dominant_scripts_of_counts",
    "han_variant",
    "script_counts",
    "script_id_table",
    "script_ids",
    "script_of",
]

# Generated from the Unicode 17.0 Character Database (Scripts.txt restricted to General_Category L*/M*, unassigned
# codepoints merged into their neighbours' ranges): every letter or mark of a real script, as hex ranges per ISO 15924
# code. Common and Inherited characters are absent on purpose (see the module docstring).
_RANGES = {
    "Adlm": "1E900-1E94B",
    "Aghb": "10530-10563",
    "Ahom": "11700-1172B 11740-11746",
    "Arab": (
        "610-61A 620-63F 641-64A 656-65F 66E-66F 671-6D3 6D5-6DC 6DF-6E8 6EA-6EF 6FA-6FC 6FF 750-77F 870-887 "
        "889-88F 897-8E1 8E3-8FF FB50-FBB1 FBD3-FD3D FD50-FD8F FD92-FDC7 FDF0-FDFB FE70-FEFC 10EC2-10EC7 "
        "10EFA-10EFF 1EE00-1EEBB"
    ),
    "Armi": "10840-10855",
    "Armn": "531-559 560-588 FB13-FB17",
    "Avst": "10B00-10B35",
    "Bali": "1B00-1B4C 1B6B-1B73",
    "Bamu": "A6A0-A6E5 A6F0-A6F1 16800-16A38",
    "Bass": "16AD0-16AF4",
    "Batk": "1BC0-1BF3",
    "Beng": "980-9E3 9F0-9F1 9FC 9FE",
    "Berf": "16EA0-16ED3",
    "Bhks": "11C00-11C40",
    "Bopo": "3105-312F 31A0-31BF",
    "Brah": "11000-11046 11070-1107F",
    "Bugi": "1A00-1A1B",
    "Buhd": "1740-1753",
    "Cakm": "11100-11134 11144-11147",
    "Cans": "1401-166C 166F-167F 18B0-18F5 11AB0-11ABF",
    "Cari": "102A0-102D0",
    "Cham": "AA00-AA4D",
    "Cher": "13A0-13FD AB70-ABBF",
    "Chrs": "10FB0-10FC4",
    "Copt": "3E2-3EF 2C80-2CE4 2CEB-2CF3",
    "Cpmn": "12F90-12FF0",
    "Cprt": "10800-1083F",
    "Cyrl": (
        "400-481 483-484 487-52F 1C80-1C8A 1D2B 1D78 2DE0-2DFF A640-A672 A674-A67D A67F-A69F FE2E-FE2F "
        "1E030-1E08F"
    ),
    "Deva": "900-950 955-963 971-97F A8E0-A8F7 A8FB A8FD-A8FF",
    "Diak": "11900-11943",
    "Dogr": "11800-1183A",
    "Dsrt": "10400-1044F",
    "Dupl": "1BC00-1BC99 1BC9D-1BC9E",
    "Egyp": "13000-1342F 13440-143FA",
    "Elba": "10500-10527",
    "Elym": "10FE0-10FF6",
    "Ethi": "1200-135F 1380-138F 2D80-2DDE AB01-AB2E 1E7E0-1E7FE",
    "Gara": "10D4A-10D6D 10D6F-10D85",
    "Geor": "10A0-10FA 10FC-10FF 1C90-1CBF 2D00-2D2D",
    "Glag": "2C00-2C5F 1E000-1E02A",
    "Gong": "11D60-11D98",
    "Gonm": "11D00-11D47",
    "Goth": "10330-10340 10342-10349",
    "Gran": "11300-11339 1133C-11374",
    "Grek": (
        "370-373 376-37D 37F 386 388-3E1 3F0-3F5 3F7-3FF 1D26-1D2A 1D5D-1D61 1D66-1D6A 1DBF 1F00-1FBC 1FBE "
        "1FC2-1FCC 1FD0-1FDB 1FE0-1FEC 1FF2-1FFC 2126 AB65 1D242-1D244"
    ),
    "Gujr": "A81-AE3 AF9-AFF",
    "Gukh": "16100-1612F",
    "Guru": "A01-A5E A70-A75",
    "Hang": "1100-11FF 302E-302F 3131-318E A960-A97C AC00-D7FB FFA0-FFDC",
    "Hani": "3005 303B 3400-4DBF 4E00-9FFF F900-FAD9 16FE3 16FF0-16FF3 20000-33479",
    "Hano": "1720-1734",
    "Hatr": "108E0-108F5",
    "Hebr": "591-5BD 5BF 5C1-5C2 5C4-5C5 5C7-5F2 FB1D-FB28 FB2A-FB4F",
    "Hira": "3041-3096 309D-309F 1B001-1B11F 1B132-1B152",
    "Hluw": "14400-14646",
    "Hmng": "16B00-16B36 16B40-16B43 16B63-16B8F",
    "Hmnp": "1E100-1E13D 1E14E",
    "Hung": "10C80-10CF2",
    "Ital": "10300-1031F 1032D-1032F",
    "Java": "A980-A9C0",
    "Kali": "A90A-A92D",
    "Kana": "30A1-30FA 30FD-30FF 31F0-31FF FF66-FF6F FF71-FF9D 1AFF0-1B000 1B120-1B122 1B155-1B167",
    "Kawi": "11F00-11F42 11F5A",
    "Khar": "10A00-10A3F",
    "Khmr": "1780-17D3 17D7 17DC-17DD",
    "Khoj": "11200-11237 1123E-11241",
    "Kits": "16FE4 18B00-18CFF",
    "Knda": "C80-C83 C85-CE3 CF1-CF3",
    "Krai": "16D40-16D6C",
    "Kthi": "11080-110BA 110C2",
    "Lana": "1A20-1A7F 1AA7",
    "Laoo": "E81-ECE EDC-EDF",
    "Latn": (
        "41-5A 61-7A AA BA C0-D6 D8-F6 F8-2B8 2E0-2E4 1D00-1D25 1D2C-1D5C 1D62-1D65 1D6B-1D77 1D79-1DBE "
        "1E00-1EFF 2071 207F 2090-209C 212A-212B 2132 214E 2183-2184 2C60-2C7F A722-A787 A78B-A7FF AB30-AB5A "
        "AB5C-AB64 AB66-AB69 FB00-FB06 FF21-FF3A FF41-FF5A 10780-107BA 1DF00-1DF2A"
    ),
    "Lepc": "1C00-1C37 1C4D-1C4F",
    "Limb": "1900-193B",
    "Lina": "10600-10767",
    "Linb": "10000-100FA",
    "Lisu": "A4D0-A4FD 11FB0",
    "Lyci": "10280-1029C",
    "Lydi": "10920-10939",
    "Mahj": "11150-11173 11176",
    "Maka": "11EE0-11EF6",
    "Mand": "840-85B",
    "Mani": "10AC0-10AC7 10AC9-10AE6",
    "Marc": "11C72-11CB6",
    "Medf": "16E40-16E7F",
    "Mend": "1E800-1E8C4 1E8D0-1E8D6",
    "Merc": "109A0-109B7 109BE-109BF",
    "Mero": "10980-1099F",
    "Mlym": "D00-D4E D54-D57 D5F-D63 D7A-D7F",
    "Modi": "11600-11640 11644",
    "Mong": "180B-180D 180F 1820-18AA",
    "Mroo": "16A40-16A5E",
    "Mtei": "AAE0-AAEF AAF2-AAF6 ABC0-ABEA ABEC-ABED",
    "Mult": "11280-112A8",
    "Mymr": "1000-103F 1050-108F 109A-109D A9E0-A9EF A9FA-A9FE AA60-AA76 AA7A-AA7F",
    "Nagm": "1E4D0-1E4EF",
    "Nand": "119A0-119E1 119E3-119E4",
    "Narb": "10A80-10A9C",
    "Nbat": "10880-1089E",
    "Newa": "11400-1144A 1145E-11461",
    "Nkoo": "7CA-7F5 7FA-7FD",
    "Nshu": "16FE1 1B170-1B2FB",
    "Ogam": "1681-169A",
    "Olck": "1C5A-1C7D",
    "Onao": "1E5D0-1E5F0",
    "Orkh": "10C00-10C48",
    "Orya": "B01-B63 B71",
    "Osge": "104B0-104FB",
    "Osma": "10480-1049D",
    "Ougr": "10F70-10F85",
    "Palm": "10860-10876",
    "Pauc": "11AC0-11AF8",
    "Perm": "10350-1037A",
    "Phag": "A840-A873",
    "Phli": "10B60-10B72",
    "Phlp": "10B80-10B91",
    "Phnx": "10900-10915",
    "Plrd": "16F00-16F9F",
    "Prti": "10B40-10B55",
    "Rjng": "A930-A953",
    "Rohg": "10D00-10D27",
    "Runr": "16A0-16EA 16F1-16F8",
    "Samr": "800-82D",
    "Sarb": "10A60-10A7C",
    "Saur": "A880-A8C5",
    "Sgnw": "1DA00-1DA36 1DA3B-1DA6C 1DA75 1DA84 1DA9B-1DAAF",
    "Shaw": "10450-1047F",
    "Shrd": "11180-111C4 111C9-111CC 111CE-111CF 111DA 111DC 11B60-11B67",
    "Sidd": "11580-115C0 115D8-115DD",
    "Sidt": "10940-10959",
    "Sind": "112B0-112EA",
    "Sinh": "D81-DDF DF2-DF3",
    "Sogd": "10F30-10F50",
    "Sogo": "10F00-10F1C 10F27",
    "Sora": "110D0-110E8",
    "Soyo": "11A50-11A99 11A9D",
    "Sund": "1B80-1BAF 1BBA-1BBF",
    "Sunu": "11BC0-11BE0",
    "Sylo": "A800-A827 A82C",
    "Syrc": "710-74F 860-86A",
    "Tagb": "1760-1773",
    "Takr": "11680-116B8",
    "Tale": "1950-1974",
    "Talu": "1980-19C9",
    "Taml": "B82-BD7",
    "Tang": "16FE0 17000-18AFF 18D00-18DF2",
    "Tavt": "AA80-AADD",
    "Tayo": "1E6C0-1E6FF",
    "Telu": "C00-C63",
    "Tfng": "2D30-2D6F 2D7F",
    "Tglg": "1700-171F",
    "Thaa": "780-7B1",
    "Thai": "E01-E3A E40-E4E",
    "Tibt": "F00 F18-F19 F35 F37 F39 F3E-F84 F86-FBC FC6",
    "Tirh": "11480-114C5 114C7",
    "Tnsa": "16A70-16ABE",
    "Todr": "105C0-105F3",
    "Tols": "11DB0-11DDB",
    "Toto": "1E290-1E2AE",
    "Tutg": "11380-113D3 113E1-113E2",
    "Ugar": "10380-1039D",
    "Vaii": "A500-A60C A610-A61F A62A-A62B",
    "Vith": "10570-105BC",
    "Wara": "118A0-118DF 118FF",
    "Wcho": "1E2C0-1E2EF",
    "Xpeo": "103A0-103CF",
    "Xsux": "12000-12399 12480-12543",
    "Yezi": "10E80-10EAC 10EB0-10EB1",
    "Yiii": "A000-A48C",
    "Zanb": "11A00-11A3E 11A47",
}

#: English names of the scripts most corpora meet (any other code in `SCRIPTS` serves as its own name).
SCRIPT_NAMES: dict[str, str] = {
    "Adlm": "Adlam", "Arab": "Arabic", "Armn": "Armenian", "Bali": "Balinese", "Beng": "Bengali",
    "Bopo": "Bopomofo", "Brah": "Brahmi", "Cakm": "Chakma", "Cans": "Canadian Syllabics", "Cher": "Cherokee",
    "Copt": "Coptic", "Cyrl": "Cyrillic", "Deva": "Devanagari", "Egyp": "Egyptian hieroglyphs", "Ethi": "Ethiopic",
    "Geor": "Georgian", "Glag": "Glagolitic", "Goth": "Gothic", "Gran": "Grantha", "Grek": "Greek",
    "Gujr": "Gujarati", "Guru": "Gurmukhi", "Hang": "Hangul", "Hani": "Han", "Hans": "Simplified",
    "Hant": "Traditional", "Hebr": "Hebrew", "Hira": "Hiragana", "Hmnp": "Nyiakeng Puachue Hmong",
    "Java": "Javanese", "Jpan": "Japanese", "Kana": "Katakana", "Khmr": "Khmer", "Knda": "Kannada", "Kore": "Korean",
    "Lana": "Tai Tham", "Laoo": "Lao", "Latn": "Latin", "Lepc": "Lepcha", "Limb": "Limbu", "Mand": "Mandaic",
    "Mlym": "Malayalam", "Mong": "Mongolian", "Mtei": "Meitei Mayek", "Mymr": "Myanmar", "Nkoo": "N'Ko",
    "Ogam": "Ogham", "Olck": "Ol Chiki", "Orya": "Oriya", "Osge": "Osage", "Rohg": "Hanifi Rohingya",
    "Runr": "Runic", "Samr": "Samaritan", "Sinh": "Sinhala", "Sund": "Sundanese", "Syrc": "Syriac",
    "Tale": "Tai Le", "Talu": "New Tai Lue", "Taml": "Tamil", "Tang": "Tangut", "Tavt": "Tai Viet",
    "Telu": "Telugu", "Tfng": "Tifinagh", "Tglg": "Tagalog", "Thaa": "Thaana", "Thai": "Thai", "Tibt": "Tibetan",
    "Vaii": "Vai", "Xsux": "Cuneiform", "Yiii": "Yi",
}  # fmt: skip

#: Scripts written without spaces between words: word counts, n-gram filters and tokenizers need a segmenter (or
#: character-level rules) for them. Korean (``Hang``) is written with spaces and is not in the set.
SPACELESS_SCRIPTS: frozenset[str] = frozenset(
    {"Hani", "Hans", "Hant", "Jpan", "Hira", "Kana", "Bopo", "Yiii", "Thai", "Laoo", "Khmr", "Mymr", "Tibt",
     "Lana", "Tavt", "Talu", "Java", "Bali"}
)  # fmt: skip

# Simplified/traditional counterparts, frequent in running text, where each side exists in one standard only.
# Left out on purpose: simplified forms that are also ordinary traditional characters (后 "queen", 里 "village",
# 台 as in 台灣, 干 面 只 系 云 着 才 几 余 范 松 谷), and variants common on both sides (烟 猫 尔 万).
_HAN_PAIRS = (
    "这這 们們 国國 说說 个個 来來 时時 会會 为為 对對 发發 学學 过過 还還 没沒 么麼 经經 样樣 现現 进進 动動 种種 开開 "
    "关關 问問 间間 从從 长長 实實 点點 东東 两兩 应應 头頭 体體 机機 当當 处處 见見 边邊 电電 话話 让讓 认認 听聽 写寫 "
    "读讀 买買 卖賣 车車 门門 马馬 鱼魚 鸟鳥 龙龍 飞飛 书書 办辦 华華 业業 产產 与與 专專 义義 乐樂 习習 乡鄉 亲親 众眾 "
    "优優 传傳 价價 员員 决決 则則 刚剛 别別 务務 劳勞 区區 医醫 单單 历歷 压壓 县縣 参參 双雙 变變 号號 吗嗎 围圍 图圖 "
    "场場 声聲 备備 妈媽 孙孫 宝寶 导導 将將 尽盡 层層 岁歲 师師 带帶 帮幫 庆慶 库庫 张張 录錄 总總 战戰 报報 护護 择擇 "
    "换換 无無 旧舊 显顯 术術 杀殺 杂雜 权權 条條 极極 标標 树樹 欢歡 汉漢 济濟 热熱 爱愛 环環 画畫 礼禮 称稱 笔筆 纪紀 "
    "约約 级級 线線 组組 结結 给給 统統 继繼 续續 维維 网網 职職 联聯 脑腦 节節 药藥 虽雖 观觀 规規 视視 觉覺 计計 论論 "
    "设設 证證 识識 试試 语語 请請 调調 谁誰 谈談 资資 质質 运運 远遠 选選 钱錢 错錯 队隊 阳陽 际際 难難 须須 顾顧 领領 "
    "题題 风風 饭飯 馆館 验驗 农農 兴興 军軍 达達 讲講 陆陸 页頁 顺順 气氣 广廣 记記 许許 该該 谢謝 亚亞 丽麗 举舉 严嚴 "
    "仅僅 伟偉 伤傷 乱亂 亿億 仪儀 团團 剧劇 吴吳 侬儂 钟鐘 铁鐵 银銀 闻聞 阶階 随隨 养養 满滿 灯燈 爷爺 独獨 疗療 监監 "
    "盘盤 码碼 确確 离離 积積 穷窮 竞競 红紅 纸紙 细細 绝絕 绿綠"
)
#: Han characters found only in simplified Chinese text (the first of each pair above).
HANS_ONLY: frozenset[str] = frozenset(p[0] for p in _HAN_PAIRS.split())
#: Han characters found only in traditional Chinese text: the pairs' second halves, plus traditional characters whose
#: simplified form is also an ordinary character (後/后, 裡/里, 於/于, 麵/面, 幹/干, 隻/只, 係/系, 臺/台, 製/制, 鬆/松,
#: 餘/余) or already listed (髮/发).
HANT_ONLY: frozenset[str] = frozenset(p[1] for p in _HAN_PAIRS.split()) | frozenset("後裡於麵髮製幹隻係鬆餘臺")


def _build() -> tuple[np.ndarray, tuple[str, ...]]:
    """The codepoint → id table (0 = not counted) and the id → ISO 15924 code list."""
    codes = sorted(_RANGES)
    table = np.zeros(0x110000, dtype=np.uint8)
    for sid, code in enumerate(codes, start=1):
        for part in _RANGES[code].split():
            lo, _, hi = part.partition("-")
            table[int(lo, 16) : int(hi or lo, 16) + 1] = sid
    # Two extra ids tag the simplified-only and traditional-only Han characters, so one bincount also decides
    # Hans vs Hant; both read back as "Hani" through SCRIPT_OF_ID.
    of_id = ["", *codes, "Hani", "Hani"]
    table[[ord(c) for c in HANS_ONLY]] = len(codes) + 1
    table[[ord(c) for c in HANT_ONLY]] = len(codes) + 2
    return table, tuple(of_id)


_TABLE, SCRIPT_OF_ID = _build()
#: ISO 15924 codes of every script the table knows (every Unicode 17 script with letters).
SCRIPTS: tuple[str, ...] = tuple(sorted(_RANGES))
_N = len(SCRIPT_OF_ID)
_ID = {code: i for i, code in enumerate(SCRIPT_OF_ID) if code and i <= len(SCRIPTS)}
_HANI, _HANS_MARK, _HANT_MARK = _ID["Hani"], _N - 2, _N - 1
_HIRA, _KANA, _HANG = _ID["Hira"], _ID["Kana"], _ID["Hang"]
_CJK_IDS = [_HANI, _HANS_MARK, _HANT_MARK, _HIRA, _KANA, _HANG]
#: A Japanese text needs at least this share of kana among its Han + kana letters (headlines with one particle: 10 %).
KANA_SHARE = 0.05
#: A Korean text needs at least this share of Hangul among its Hangul + Han letters (mixed-script Korean is ~50 %).
HANGUL_SHARE = 0.1


def script_ids(text: str) -> np.ndarray:
    """Per-character script ids (uint8, one per codepoint; 0 = not a letter); `SCRIPT_OF_ID` maps id → code.

    Lone surrogates (from ``surrogateescape`` decoding) are accepted and read as not-a-letter.
    """
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _TABLE.take(cps)  # the same as _TABLE[cps], without fancy indexing's iterator: ~2x cheaper


def script_of(char: str) -> str | None:
    """ISO 15924 code of one character, or None for digits, punctuation, symbols, spaces and Common letters."""
    return SCRIPT_OF_ID[_TABLE[ord(char)]] or None


def _counts(text: str) -> np.ndarray:
    return np.bincount(script_ids(text), minlength=_N)


def script_counts(text: str) -> dict[str, int]:
    """Number of letters per ISO 15924 script (scripts with none are absent); Han counts all Han variants."""
    c = _counts(text)
    c[_HANI] += c[_HANS_MARK] + c[_HANT_MARK]
    return {SCRIPT_OF_ID[i]: int(c[i]) for i in np.flatnonzero(c[1 : _N - 2]) + 1}


def _variant(c: np.ndarray) -> str:
    s, t = c[_HANS_MARK], c[_HANT_MARK]
    return "Hans" if s > t else "Hant" if t > s else "Hani"


def han_variant(text: str) -> str:
    """``Hans``, ``Hant`` or ``Hani`` (undecided) for a Han text, by the `HANS_ONLY` / `HANT_ONLY` marker counts."""
    return _variant(_counts(text))


def dominant_script(text: str) -> str | None:
    """The script most of the text's letters are in, with the CJK composites (module docstring); None if no letter.

    Han, kana and Hangul letters are first pooled into one of ``Hang``, ``Jpan`` or ``Hans``/``Hant``/``Hani``, then
    that pool competes with every other script by letter count (a Korean page with more English letters than
    Hangul ones is ``Latn``).
    """
    return _dominant(_counts(text))


def script_id_table() -> np.ndarray:
    """The code point → script id table behind `script_ids` (uint8, read-only; `SCRIPT_OF_ID` maps id → code): for a
    caller that folds it into a table of its own, to look both up at once."""
    view = _TABLE.view()
    view.flags.writeable = False
    return view


def dominant_scripts_of_counts(counts: np.ndarray) -> list[str | None]:
    """`dominant_script` of texts given as their letters per script id (a row a text, `len(SCRIPT_OF_ID)` columns:
    ``np.bincount(script_ids(text), minlength=len(SCRIPT_OF_ID))``), for a caller that counted them for many texts at
    once. The rows are changed."""
    return [_dominant(c) for c in counts]


def _dominant(c: np.ndarray) -> str | None:
    han = int(c[_HANI] + c[_HANS_MARK] + c[_HANT_MARK])
    kana = int(c[_HIRA] + c[_KANA])
    hang = int(c[_HANG])
    cjk_code, cjk = None, 0
    if hang and hang >= kana and hang >= HANGUL_SHARE * (hang + han):
        cjk_code, cjk = "Hang", hang + han
    elif kana and kana >= KANA_SHARE * (kana + han):
        cjk_code, cjk = "Jpan", kana + han + hang
    elif han:
        cjk_code, cjk = _variant(c), han
    if han or kana or hang:
        c[_CJK_IDS] = 0
    best = int(np.argmax(c[1:])) + 1
    n = int(c[best])
    if cjk >= n:
        return cjk_code
    return SCRIPT_OF_ID[best] if n else None
