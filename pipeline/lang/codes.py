"""The project's one language code scheme: ``<ISO 639-3>_<ISO 15924 script>`` (``kor_Hang``, ``zho_Hant``).

Why one scheme: fastText lid.176 says ``__label__ko``, GlotLID/OpenLID say ``__label__kor_Hang`` or ``cmn_Hani``, users
write ``ko`` or ``zh-Hant``, Common Crawl says ``kor``. Every stage, config key, family table and statistic uses the
canonical form returned by `normalize_label`, so counts per language add up across models and runs.

Decisions:

- **Language part**: ISO 639-3, and the *macrolanguage* code where the language is the written standard of a
  macrolanguage, i.e. the code that the ISO 639-1 code stands for: ``zho`` not ``cmn``, ``ara`` not ``arb``, ``msa``
  not ``zsm``, ``fas`` not ``pes``, ``swa``, ``est``, ``lav``, ``uzb``, ``nep``, ``mon``, ``sqi``, ``aze``, ``yid``,
  ``orm``, ``nor`` (Bokmål), ``kur`` (Kurmanji), ``kom``, ``mlg``, ``pus``, ... (see `_MEMBER_TO_MACRO`). Other members
  of those macrolanguages that LID models label on their own keep their code because they are distinct written
  varieties: ``yue``/``wuu`` (not folded into ``zho``), ``arz``/``ary``/... (Arabic vernaculars), ``ind``/``min``
  (``msa``), ``nno`` (``nor``), ``ckb`` (``kur``), ``azb`` (``aze``), ``prs`` (``fas``), ``mhr``/``mrj``.
  ``hrv``/``bos``/``srp`` stay apart; ``hbs`` (Serbo-Croatian, lid.176 ``sh``) is its own code.
- **Script part**: always present (ISO 15924, title case), so ``srp_Cyrl``/``srp_Latn`` and ``zho_Hans``/``zho_Hant``
  are distinct languages for balancing. A label without a script gets the script detected in the text when the
  language is written in it (``normalize_label("sr", script="Latn") == "srp_Latn"``), else the language's default
  script. Japanese is always ``Jpan`` and Korean ``Hang`` (Hanja and kana are part of those).
- **und**: `UND` (bare ``und``, no script) means *undetermined*: nothing to identify (empty text after normalization)
  or a model's own "no language" label (``und``, ``zxx``, ``mis``, ``mul``).
- **Exceptions** with no valid single ISO 639-3 code, kept because lid.176 predicts them: ``nah`` (Nahuatl, an ISO
  639-2/5 collective code), ``eml`` (Emilian-Romagnol, retired in 2009 when split into ``egl``/``rgn``), ``ber``
  (Berber, collective, used by Tatoeba).
- **lid.176's Wikipedia codes**: ``__label__als`` is *Alemannic* (→ ``gsw_Latn``), not ISO's Tosk Albanian ``als``
  (→ ``sqi_Latn``); ``bh`` is Bhojpuri (→ ``bho_Deva``); ``sh`` → ``hbs_Latn``. The Wikipedia reading applies only to
  script-less ``__label__xx`` labels, the lid.176 format.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

from pipeline.text.scripts import SCRIPT_NAMES, SCRIPTS

__all__ = [
    "LANGUAGES",
    "LID176_LABELS",
    "UND",
    "Language",
    "expand_label",
    "language_name",
    "normalize_label",
]

#: The undetermined language: no text to identify, or a model's "no language" label.
UND = "und"

#: fastText lid.176's 176 labels (Wikipedia language codes), as on fastText's language-identification page.
LID176_LABELS: tuple[str, ...] = tuple(
    "af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb ckb co cs cv cy da de "
    "diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gu gv he hi hif hr hsb ht hu hy ia id ie ilo "
    "io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la lb lez li lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms "
    "mt mwl my myv mzn nah nap nds ne new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn "
    "sco sd sh si sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa war wuu xal xmf "
    "yi yo yue zh".split()
)


@dataclass(frozen=True, slots=True)
class Language:
    """One language of the table: its ISO 639-3 code, scripts (the default first), English name, ISO 639-1 code."""

    iso639_3: str
    scripts: tuple[str, ...]
    name: str
    iso639_1: str | None = None

    @property
    def script(self) -> str:
        """The default script: the one a label without a script (and no detected script to go by) gets."""
        return self.scripts[0]

    @property
    def code(self) -> str:
        """The canonical code in the default script, e.g. ``srp_Cyrl``."""
        return f"{self.iso639_3}_{self.scripts[0]}"


# ISO 639-3, ISO 639-1 (or -), scripts (default first), English name. All of lid.176, OpenLID / FLORES-200, Tatoeba,
# and the languages a multilingual crawl meets most; GlotLID labels outside it pass through `normalize_label(...,
# strict=False)` unchanged.
_TABLE = """
aar aa Latn Afar
abk ab Cyrl Abkhaz
ace - Latn,Arab Acehnese
acm - Arab Mesopotamian Arabic
acq - Arab Ta'izzi-Adeni Arabic
ady - Cyrl Adyghe
aeb - Arab Tunisian Arabic
afr af Latn Afrikaans
aii - Syrc Assyrian Neo-Aramaic
ajp - Arab South Levantine Arabic
aka ak Latn Akan
alt - Cyrl Southern Altai
amh am Ethi Amharic
ang - Latn Old English
apc - Arab Levantine Arabic
ara ar Arab Arabic
arg an Latn Aragonese
arq - Arab Algerian Arabic
ars - Arab Najdi Arabic
ary - Arab Moroccan Arabic
arz - Arab Egyptian Arabic
asm as Beng Assamese
ast - Latn Asturian
ava av Cyrl Avaric
awa - Deva Awadhi
aym ay Latn Aymara
azb - Arab South Azerbaijani
aze az Latn,Cyrl,Arab Azerbaijani
bak ba Cyrl Bashkir
bal - Arab Baluchi
bam bm Latn,Nkoo Bambara
ban - Latn,Bali Balinese
bar - Latn Bavarian
bcl - Latn Central Bikol
bel be Cyrl,Latn Belarusian
bem - Latn Bemba
ben bn Beng Bengali
ber - Latn,Tfng Berber
bho - Deva Bhojpuri
bis bi Latn Bislama
bjn - Latn,Arab Banjar
blt - Tavt Tai Dam
bod bo Tibt Tibetan
bos bs Latn,Cyrl Bosnian
bpy - Beng Bishnupriya
bre br Latn Breton
brx - Deva Bodo
bug - Latn,Bugi Buginese
bul bg Cyrl Bulgarian
bxr - Cyrl Russia Buriat
cat ca Latn Catalan
cbk - Latn Chavacano
cdo - Latn,Hant,Hans Min Dong Chinese
ceb - Latn Cebuano
ces cs Latn Czech
cha ch Latn Chamorro
che ce Cyrl Chechen
chr - Cher Cherokee
chu cu Cyrl,Glag Church Slavonic
chv cv Cyrl Chuvash
cjk - Latn Chokwe
cjy - Hans,Hant Jin Chinese
ckb - Arab,Latn Central Kurdish
cnr - Latn,Cyrl Montenegrin
cop - Copt Coptic
cor kw Latn Cornish
cos co Latn Corsican
crh - Latn,Cyrl Crimean Tatar
csb - Latn Kashubian
cym cy Latn Welsh
dan da Latn Danish
deu de Latn German
dik - Latn Southwestern Dinka
diq - Latn Dimli
div dv Thaa Dhivehi
doi - Deva Dogri
dsb - Latn Lower Sorbian
dtp - Latn Central Dusun
dty - Deva Dotyali
dyu - Latn Dyula
dzo dz Tibt Dzongkha
ell el Grek Greek
eml - Latn Emilian-Romagnol
eng en Latn English
epo eo Latn Esperanto
est et Latn Estonian
eus eu Latn Basque
ewe ee Latn Ewe
ext - Latn Extremaduran
fao fo Latn Faroese
fas fa Arab Persian
fij fj Latn Fijian
fin fi Latn Finnish
fon - Latn Fon
fra fr Latn French
frp - Latn Arpitan
frr - Latn Northern Frisian
fry fy Latn Western Frisian
ful ff Latn,Adlm Fulah
fur - Latn Friulian
fuv - Latn Nigerian Fulfulde
gaa - Latn Ga
gag - Latn Gagauz
gan - Hant,Hans Gan Chinese
gez - Ethi Geez
gla gd Latn Scottish Gaelic
gle ga Latn Irish
glg gl Latn Galician
glk - Arab Gilaki
glv gv Latn Manx
got - Goth,Latn Gothic
grc - Grek Ancient Greek
grn gn Latn Guarani
gsw - Latn Swiss German
guj gu Gujr Gujarati
hak - Latn,Hant,Hans Hakka Chinese
hat ht Latn Haitian Creole
hau ha Latn,Arab Hausa
haw - Latn Hawaiian
hbs sh Latn,Cyrl Serbo-Croatian
heb he Hebr Hebrew
hif - Latn,Deva Fiji Hindi
hil - Latn Hiligaynon
hin hi Deva Hindi
hne - Deva Chhattisgarhi
hrv hr Latn Croatian
hsb - Latn Upper Sorbian
hsn - Hans,Hant Xiang Chinese
hun hu Latn Hungarian
hye hy Armn Armenian
ibo ig Latn Igbo
ido io Latn Ido
iii ii Yiii Nuosu
iku iu Cans,Latn Inuktitut
ile ie Latn Interlingue
ilo - Latn Iloko
ina ia Latn Interlingua
ind id Latn Indonesian
inh - Cyrl Ingush
isl is Latn Icelandic
ita it Latn Italian
jav jv Latn,Java Javanese
jbo - Latn Lojban
jpn ja Jpan Japanese
kaa - Latn,Cyrl Karakalpak
kab - Latn Kabyle
kac - Latn Kachin
kal kl Latn Kalaallisut
kam - Latn Kamba
kan kn Knda Kannada
kas ks Arab,Deva Kashmiri
kat ka Geor Georgian
kau kr Latn,Arab Kanuri
kaz kk Cyrl,Latn,Arab Kazakh
kbd - Cyrl Kabardian
kbp - Latn Kabiye
kea - Latn Kabuverdianu
kha - Latn Khasi
khm km Khmr Khmer
kik ki Latn Kikuyu
kin rw Latn Kinyarwanda
kir ky Cyrl Kyrgyz
kjh - Cyrl Khakas
kmb - Latn Kimbundu
koi - Cyrl Komi-Permyak
kok - Deva Konkani
gom - Deva,Latn,Knda Goan Konkani
kom kv Cyrl Komi
kon kg Latn Kongo
kor ko Hang Korean
krc - Cyrl Karachay-Balkar
krl - Latn Karelian
kum - Cyrl Kumyk
kur ku Latn,Arab,Cyrl Kurdish
lad - Latn,Hebr Ladino
lao lo Laoo Lao
lat la Latn Latin
lav lv Latn Latvian
lez - Cyrl Lezghian
lfn - Latn Lingua Franca Nova
lij - Latn Ligurian
lim li Latn Limburgish
lin ln Latn Lingala
lit lt Latn Lithuanian
lld - Latn Ladin
lmo - Latn Lombard
lrc - Arab Northern Luri
ltg - Latn Latgalian
ltz lb Latn Luxembourgish
lua - Latn Luba-Lulua
lug lg Latn Ganda
luo - Latn Luo
lus - Latn Mizo
lzh - Hant,Hans Literary Chinese
mad - Latn Madurese
mag - Deva Magahi
mai - Deva Maithili
mal ml Mlym Malayalam
mar mr Deva Marathi
max - Latn North Moluccan Malay
mdf - Cyrl Moksha
mhr - Cyrl Eastern Mari
min - Latn Minangkabau
mkd mk Cyrl Macedonian
mlg mg Latn Malagasy
mlt mt Latn Maltese
mni - Beng,Mtei Manipuri
mnw - Mymr Mon
mon mn Cyrl,Mong Mongolian
mos - Latn Mossi
mri mi Latn Maori
mrj - Cyrl Western Mari
msa ms Latn,Arab Malay
mwl - Latn Mirandese
mya my Mymr Burmese
myv - Cyrl Erzya
mzn - Arab Mazanderani
nah - Latn Nahuatl
nan - Latn,Hant,Hans Min Nan Chinese
nap - Latn Neapolitan
nav nv Latn Navajo
nbl nr Latn South Ndebele
nde nd Latn North Ndebele
nds - Latn Low German
nep ne Deva Nepali
new - Deva Newari
nld nl Latn Dutch
nno nn Latn Norwegian Nynorsk
nog - Cyrl Nogai
nor no Latn Norwegian
nov - Latn Novial
nso - Latn Northern Sotho
nus - Latn Nuer
nya ny Latn Chichewa
oci oc Latn Occitan
oji oj Cans,Latn Ojibwe
ori or Orya Odia
orm om Latn,Ethi Oromo
orv - Cyrl Old Russian
oss os Cyrl Ossetian
pag - Latn Pangasinan
pam - Latn Pampanga
pan pa Guru Punjabi
pap - Latn Papiamento
pcd - Latn Picard
pcm - Latn Nigerian Pidgin
pfl - Latn Palatine German
pli pi Latn,Deva,Sinh,Mymr,Thai Pali
pms - Latn Piedmontese
pnb - Arab Western Punjabi
pol pl Latn Polish
por pt Latn Portuguese
prs - Arab Dari
pus ps Arab Pashto
que qu Latn Quechua
quc - Latn K'iche'
quy - Latn Ayacucho Quechua
roh rm Latn Romansh
ron ro Latn,Cyrl Romanian
rue - Cyrl Rusyn
run rn Latn Rundi
rup - Latn Aromanian
rus ru Cyrl Russian
sag sg Latn Sango
sah - Cyrl Yakut
san sa Deva Sanskrit
sat - Olck Santali
scn - Latn Sicilian
sco - Latn Scots
sdh - Arab Southern Kurdish
sgs - Latn Samogitian
shi - Tfng,Latn,Arab Tachelhit
shn - Mymr Shan
sin si Sinh Sinhala
skr - Arab Saraiki
slk sk Latn Slovak
slv sl Latn Slovenian
sme se Latn Northern Sami
smo sm Latn Samoan
sna sn Latn Shona
snd sd Arab,Deva Sindhi
som so Latn Somali
sot st Latn Southern Sotho
spa es Latn Spanish
sqi sq Latn Albanian
srd sc Latn Sardinian
srn - Latn Sranan Tongo
srp sr Cyrl,Latn Serbian
ssw ss Latn Swati
sun su Latn Sundanese
sux - Xsux Sumerian
swa sw Latn Swahili
swe sv Latn Swedish
swg - Latn Swabian
syc - Syrc Classical Syriac
szl - Latn Silesian
tah ty Latn Tahitian
tam ta Taml Tamil
taq - Latn,Tfng Tamasheq
tat tt Cyrl,Latn Tatar
tcy - Knda Tulu
tel te Telu Telugu
tet - Latn Tetum
tgk tg Cyrl,Latn,Arab Tajik
tgl tl Latn,Tglg Tagalog
tha th Thai Thai
tir ti Ethi Tigrinya
ton to Latn Tongan
tpi - Latn Tok Pisin
tsn tn Latn Tswana
tso ts Latn Tsonga
tuk tk Latn,Cyrl Turkmen
tum - Latn Tumbuka
tur tr Latn Turkish
twi tw Latn Twi
tyv - Cyrl Tuvinian
tzl - Latn Talossan
tzm - Tfng,Latn Central Atlas Tamazight
udm - Cyrl Udmurt
uig ug Arab,Cyrl,Latn Uyghur
ukr uk Cyrl Ukrainian
umb - Latn Umbundu
urd ur Arab Urdu
uzb uz Latn,Cyrl Uzbek
vec - Latn Venetian
ven ve Latn Venda
vep - Latn Veps
vie vi Latn Vietnamese
vls - Latn West Flemish
vol vo Latn Volapuk
vro - Latn Voro
war - Latn Waray
wln wa Latn Walloon
wol wo Latn Wolof
wuu - Hans,Hant Wu Chinese
xal - Cyrl Kalmyk
xho xh Latn Xhosa
xmf - Geor Mingrelian
yid yi Hebr Yiddish
yor yo Latn Yoruba
yua - Latn Yucatec Maya
yue - Hant,Hans Cantonese
zgh - Tfng Standard Moroccan Tamazight
zha za Latn Zhuang
zho zh Hans,Hant Chinese
zul zu Latn Zulu
"""


def _parse_table() -> dict[str, Language]:
    out: dict[str, Language] = {}
    for line in _TABLE.strip().splitlines():
        iso3, iso1, scripts, name = line.split(None, 3)
        out[iso3] = Language(iso3, tuple(scripts.split(",")), name, None if iso1 == "-" else iso1)
    return out


#: Every language the project knows, by ISO 639-3 code.
LANGUAGES: dict[str, Language] = _parse_table()

#: Individual languages that are the written standard of a macrolanguage → the macrolanguage (see module docstring).
_MEMBER_TO_MACRO = {
    "cmn": "zho", "arb": "ara", "zsm": "msa", "zlm": "msa", "pes": "fas", "swh": "swa", "ekk": "est", "lvs": "lav",
    "uzn": "uzb", "npi": "nep", "khk": "mon", "als": "sqi", "azj": "aze", "ydd": "yid", "gaz": "orm", "nob": "nor",
    "kmr": "kur", "kpv": "kom", "plt": "mlg", "pbt": "pus", "pbu": "pus", "ayr": "aym", "gug": "grn", "knc": "kau",
    "ory": "ori", "fil": "tgl",
}  # fmt: skip

#: Other names of a language: ISO 639-2/B codes, retired or deprecated codes.
_OTHER_ALIASES = {
    "alb": "sqi", "arm": "hye", "baq": "eus", "bur": "mya", "chi": "zho", "cze": "ces", "dut": "nld", "fre": "fra",
    "geo": "kat", "ger": "deu", "gre": "ell", "ice": "isl", "mac": "mkd", "mao": "mri", "may": "msa", "per": "fas",
    "rum": "ron", "slo": "slk", "tib": "bod", "wel": "cym",
    "iw": "heb", "in": "ind", "ji": "yid", "jw": "jav", "mo": "ron", "mol": "ron", "kzj": "dtp", "bh": "bho",
}  # fmt: skip

#: lid.176 labels that are Wikipedia codes with another meaning in ISO (only for script-less ``__label__xx``).
_WIKIPEDIA = {"als": "gsw"}

#: Labels that mean "no language decided" in some model or standard.
_NO_LANGUAGE = frozenset({"und", "zxx", "mis", "mul"})

#: Codes of any form → ISO 639-3 of a `LANGUAGES` entry.
_ALIASES: dict[str, str] = {}
for _lang in LANGUAGES.values():
    _ALIASES[_lang.iso639_3] = _lang.iso639_3
    if _lang.iso639_1:
        _ALIASES[_lang.iso639_1] = _lang.iso639_3
_ALIASES.update(_MEMBER_TO_MACRO)
_ALIASES.update(_OTHER_ALIASES)
del _lang

# Region subtags that imply a script (BCP-47 without a script subtag: zh-TW is traditional).
_REGION_SCRIPT = {"TW": "Hant", "HK": "Hant", "MO": "Hant", "CN": "Hans", "SG": "Hans", "MY": "Hans"}
_SINITIC_SCRIPTS = frozenset({"Hans", "Hant"})
# Script labels that carry no script information.
_NO_SCRIPT = frozenset({"Zyyy", "Zzzz", "Zinh", "Zxxx"})
# ISO 15924 codes that are not single Unicode scripts but are valid in labels.
_COMPOSITE_SCRIPTS = frozenset(
    {"Hans", "Hant", "Jpan", "Kore", "Hrkt", "Hanb", "Latf", "Latg", "Cyrs", "Syre", "Syrj", "Syrn", "Aran", "Geok",
     "Zsym", "Zmth", "Zsye", "Brai", "Qaaa"}
)  # fmt: skip
_KNOWN_SCRIPTS = frozenset(SCRIPTS) | _COMPOSITE_SCRIPTS | _NO_SCRIPT
_SUBTAG = re.compile(r"[-_]")


def _resolve_script(lang: Language, script: str | None, hint: str | None) -> str:
    """The script for `lang` given a script `script` stated by the label and a `hint` detected in the text."""
    if script is not None and script not in _NO_SCRIPT:
        if script in lang.scripts:
            return script
        if "Jpan" in lang.scripts and script in ("Hira", "Kana", "Hrkt", "Hani"):
            return "Jpan"
        if "Hang" in lang.scripts and script in ("Kore", "Hani"):
            return "Hang"
        if script == "Hani" and _SINITIC_SCRIPTS.intersection(lang.scripts):
            return hint if hint in _SINITIC_SCRIPTS and hint in lang.scripts else lang.script
        return script  # a script the table doesn't list for this language: the label knows better
    if hint is not None and hint in lang.scripts:
        return hint
    return lang.script


class _UnknownLanguage(ValueError):
    """An unknown language code. Its message, with difflib's suggestions (~0.5 ms), is written only when shown: a
    model's odd labels (CLD2's ``xx-Qaai``, ...) are told unknown by catching it, by the hundred, at set-up."""

    def __init__(self, what: str, label: str) -> None:
        super().__init__(what, label)
        self.what, self.label = what, label

    def __str__(self) -> str:
        return _unknown_message(self.what, self.label)


def _unknown(what: str, label: str) -> ValueError:
    return _UnknownLanguage(what, label)


def _unknown_message(what: str, label: str) -> str:
    low = what.lower()
    names = {lang.name.lower(): lang.iso639_3 for lang in LANGUAGES.values()}
    hints = [f"'{names[low]}' ({LANGUAGES[names[low]].name})"] if low in names else []
    for m in difflib.get_close_matches(low, list(_ALIASES) + list(names), n=3, cutoff=0.75):
        code = names.get(m, _ALIASES.get(m))
        if code and all(code not in h for h in hints):
            hints.append(f"'{code}' ({LANGUAGES[code].name})")
    more = f"; did you mean {' or '.join(hints)}?" if hints else ""
    return (
        f"unknown language code '{what}' in label '{label}': expected ISO 639-1 (ko), ISO 639-3 (kor), a canonical "
        f"code (kor_Hang), a fastText label (__label__ko, __label__kor_Hang) or BCP-47 (zh-Hant, sr-Latn); "
        f"{len(LANGUAGES)} languages are known (pipeline.lang.codes.LANGUAGES){more}"
    )


@functools.lru_cache(maxsize=8192)
def known_language(code: str | None) -> str | None:
    """`code` unchanged when it names a language (any form `normalize_label` reads), else ValueError: the check
    behind every settings field that takes one language for all documents."""
    if code is not None and normalize_label(code) == UND:
        raise ValueError(f"{code!r} is not a language")
    return code


def normalize_label(label: str, script: str | None = None, *, strict: bool = True) -> str:
    """The canonical ``xxx_Scpt`` code (or `UND`) of a language label in any common form.

    Accepts ``__label__ko``, ``ko``, ``kor``, ``KOR``, ``kor_Hang``, ``__label__kor_Hang``, GlotLID/OpenLID individual
    codes (``cmn_Hani``, ``arb_Arab``, ``pes_Arab``, ``zsm_Latn``), ISO 639-2/B (``chi``) and BCP-47 (``zh-Hant``,
    ``sr-Latn``, ``zh-TW``, ``zh-yue``). `script` is the script detected in the text (`dominant_script`): it picks the
    script of a language written in several (sr, zh, uz, az, ...) when the label doesn't say; it is ignored when the
    language isn't written in it. Raises ValueError for an unknown code or a malformed label; with ``strict=False``
    (for model outputs) a well-formed unknown ``xxx`` or ``xxx_Scpt`` passes through as ``xxx_Scpt`` (script
    ``Zzzz`` when neither label nor text gives one), so a 2,000-language GlotLID model never stops a run.
    """
    raw = label.strip()
    fasttext = raw.startswith("__label__")
    body = raw[9:] if fasttext else raw
    parts = _SUBTAG.split(body)
    lang_code = parts[0].lower()
    if not (2 <= len(lang_code) <= 3 and lang_code.isascii() and lang_code.isalpha()):
        if not body:
            raise ValueError(f"empty language label {label!r}")
        raise _unknown(parts[0], label)
    label_script = region = None
    for i, sub in enumerate(parts[1:], start=1):
        if sub.lower() == "x":  # BCP-47 private use: the rest is not ours to read
            break
        if len(sub) == 4 and sub.isascii() and sub.isalpha():
            label_script = sub.title()
            if label_script not in _KNOWN_SCRIPTS and strict:
                raise ValueError(f"unknown ISO 15924 script '{sub}' in label '{label}' (e.g. Latn, Hang, Hans, Cyrl)")
        elif i == 1 and len(sub) == 3 and sub.isascii() and sub.isalpha() and label_script is None:
            lang_code = sub.lower()  # BCP-47 extended language subtag: zh-yue is yue
        elif (len(sub) == 2 and sub.isalpha()) or (len(sub) == 3 and sub.isdigit()):
            region = region or sub.upper()
        elif not sub:
            raise ValueError(f"malformed language label {label!r}")
        # anything else is a BCP-47 variant (e.g. el-polyton): it doesn't change the language or the script
    if lang_code in _NO_LANGUAGE:
        return UND
    iso3 = _WIKIPEDIA.get(lang_code) if fasttext and label_script is None else None
    iso3 = iso3 or _ALIASES.get(lang_code)
    if iso3 is None:
        if strict or len(lang_code) != 3:
            raise _unknown(parts[0], label)
        return f"{lang_code}_{label_script or script or 'Zzzz'}"
    lang = LANGUAGES[iso3]
    if label_script is None and region is not None and _SINITIC_SCRIPTS.intersection(lang.scripts):
        label_script = _REGION_SCRIPT.get(region)
    return f"{iso3}_{_resolve_script(lang, label_script, script)}"


def language_name(code: str) -> str:
    """English name of a language in any code form; the script is named when the language has several.

    ``language_name("kor_Hang") == "Korean"``, ``language_name("zh-Hant") == "Chinese (Traditional)"``,
    ``language_name("und") == "Undetermined"``. Raises ValueError for unknown codes.
    """
    canonical = normalize_label(code)
    if canonical == UND:
        return "Undetermined"
    iso3, _, script = canonical.partition("_")
    lang = LANGUAGES[iso3]
    if len(lang.scripts) > 1 or script != lang.script:
        return f"{lang.name} ({SCRIPT_NAMES.get(script, script)})"
    return lang.name


def expand_label(label: str) -> list[str]:
    """Every canonical code a user's label stands for: all scripts of the language when the label names none.

    Why: ``normalize_label("zh")`` must pick one code (``zho_Hans``), but a user who keeps ``zh`` means traditional
    Chinese too. ``expand_label("zh") == ["zho_Hans", "zho_Hant"]``, ``expand_label("zh-TW") == ["zho_Hant"]``,
    ``expand_label("sr") == ["srp_Cyrl", "srp_Latn"]``, ``expand_label("ko") == ["kor_Hang"]``.
    """
    canonical = normalize_label(label)
    if canonical == UND:
        return [UND]
    iso3, _, script = canonical.partition("_")
    body = label.strip().removeprefix("__label__")
    subtags = _SUBTAG.split(body)[1:]
    names_script = any(len(t) == 4 and t.isalpha() and t.title() != "Hani" for t in subtags)  # Hani: either form
    implies_script = any(t.upper() in _REGION_SCRIPT for t in subtags if len(t) == 2)
    if names_script or implies_script:
        return [canonical]
    return [f"{iso3}_{s}" for s in LANGUAGES[iso3].scripts]
