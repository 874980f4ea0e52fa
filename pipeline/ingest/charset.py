"""Bytes of an HTML page → text, choosing the charset the way a careful browser would, and saying how it chose.

Order of decisions (the first that applies wins):

0. ISO-2022 — the payload holds an ISO-2022-JP or ISO-2022-KR escape sequence (``ESC $ B``, ``ESC $ ) C``, ...).
   These encodings are 7-bit: without this step the ASCII fast path would keep the raw escape sequences as text.
   Decoded with Python's ``iso2022_jp_2`` / ``iso2022_jp_ext`` / ``iso2022_kr`` codecs (source ``header`` or
   ``meta`` when a label names ISO-2022, else ``detected``), and accepted under the same ``max_bad_ratio``.
1. ``ascii`` — the payload is pure ASCII: every ASCII-compatible label decodes it the same way.
2. ``utf-8`` — the payload is strictly valid UTF-8 (a leading UTF-8 BOM is dropped). Legacy multi-byte text
   (EUC-KR, Shift_JIS, GBK, ...) and natural single-byte text are almost never valid UTF-8 by accident, so this
   fast path is right even when a label says otherwise, and it skips the costly detection for most of the web.
   ``mostly_utf8`` — a payload of mostly valid UTF-8 with a few invalid bytes (at least `MOSTLY_UTF8` valid
   multi-byte characters per invalid sequence: legacy encodings seldom form valid UTF-8 sequences) is UTF-8 with
   replacement characters, whatever the label, rather than cp1252 mojibake of its whole text.
   A UTF-16 byte-order mark is honoured next, as browsers do (reported as ``detected``).
3. Candidates, each decoded with ``errors="replace"`` and accepted only if replacement characters are at most
   ``max_bad_ratio`` of the decoded characters (else the next candidate is tried):

   a. ``header`` — the HTTP ``Content-Type`` charset;
   b. ``meta`` — ``<meta charset>`` or ``<meta http-equiv ... content="...charset=...">`` in the first
      ``meta_scan_bytes`` bytes;
   c. ``detected`` — uchardet through Resiliparse's ``EncodingDetector``, read with
      ``encoding(html5_compatible=False)``: its default HTML5 renaming turns the ``cp949`` it detects for Korean
      (and ``mac-cyrillic``) into ``utf-8``, which silently drops the text (see the charset notes);
   d. ``fallback`` — guesses without evidence, in order: UTF-8 (most of the web; a page with a few stray bytes
      is damaged UTF-8, and uchardet gives up on it when the stray byte comes early), cp949 if the non-ASCII bytes
      come in runs (uchardet also gives up on CP949 Korean with extension syllables such as 똠/햏/뷁 early in the
      page), then windows-1252, the web's historical default.

4. If no candidate passes, the least-bad decode is returned with source ``fallback`` and its ``bad_chars``: the
   caller decides whether that is a decoding failure.

Labels are mapped as browsers map them (WHATWG, via Resiliparse's ``map_encoding_to_html5``); a label WHATWG does
not define but Python decodes (``johab``, ``cp949``, ``euc-jis-2004``, ``iso-2022-kr``, ...) is honoured through
Python's codec registry rather than ignored (non-text codecs such as ``base64`` are refused). Then they are widened to the
superset codec browsers actually decode with: gb2312/gbk → gb18030, euc-kr/ks_c_5601-1987 → cp949,
shift_jis/sjis → cp932, big5 → big5hkscs, tis-620/iso-8859-11/windows-874 → cp874, x-mac-cyrillic → mac_cyrillic;
iso-8859-1/latin1/us-ascii → cp1252 comes from WHATWG itself. Unknown labels are ignored, not fatal. UTF-16
labels without a BOM are ignored: such a label on a byte-oriented page is a mistake (the HTML spec reads a
``<meta>`` UTF-16 label as UTF-8, which step 2 already covered).

A label that resolves to cp1252 cannot be checked by counting replacement characters (cp1252 decodes nearly any
byte), and it is the most common wrong label (server defaults such as Apache's ``AddDefaultCharset ISO-8859-1`` on
EUC-KR sites). So a cp1252 label is accepted only if the page's non-ASCII bytes look like Latin text — mostly
alone or in pairs between ASCII letters — and not in the long runs that CJK, Cyrillic, Greek or Thai legacy
encodings produce; otherwise the label is passed over and meta/detection decide.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from resiliparse.parse.encoding import EncodingDetector, map_encoding_to_html5

__all__ = ["Decoded", "decode_html", "resolve_label", "SOURCES"]

#: Every value `Decoded.source` can take.
SOURCES = ("ascii", "utf-8", "mostly_utf8", "header", "meta", "detected", "fallback")

#: WHATWG canonical codec → the superset codec browsers decode with (Python's narrow codecs would reject the
#: extension characters real pages use, e.g. GBK-only Han in pages labelled gb2312, or cp949-only Hangul).
_WIDEN = {
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
    "iso8859-11": "cp874",
}
#: WHATWG labels Resiliparse's mapping does not support.
_EXTRA_LABELS = {"x-mac-cyrillic": "mac-cyrillic", "x-mac-ukrainian": "mac-cyrillic"}

#: What to try when uchardet gives up on a page whose high bytes come in runs (multi-byte text): uchardet drops its
#: Korean guess as soon as a CP949 extension syllable (outside KS X 1001, e.g. 똠 햏 뷁) appears early in the page,
#: and Korean is the first target language. Measured: other CJK legacy encodings it detected reliably.
_GIVE_UP_GUESS = "cp949"

#: Python text codecs that are not charsets a web page can be written in.
_NOT_CHARSETS = frozenset(
    {"idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined", "mbcs", "oem", "utf-7"}
)
#: Escape sequences that designate a double-byte set in ISO-2022-JP(-2) (``ESC $ @``, ``ESC $ B``, ``ESC $ A``,
#: ``ESC $ ( C``, ``ESC $ ( D``) or ISO-2022-KR (``ESC $ ) C``); half-width katakana ``ESC ( I`` (iso2022_jp_ext).
_ISO2022_KR = b"\x1b$)C"
_ISO2022_JP = re.compile(rb"\x1b(?:\$[@AB]|\$\([CDQ]|\(I)")
#: Python codecs tried, in order, for a page with ISO-2022-JP escapes (the widest first that decodes it).
_ISO2022_JP_CODECS = ("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_3")

_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:+-]+)""", re.IGNORECASE)
_FOLD_HIGH = bytes(range(0x80)) + b"\x80" * 0x80


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded page: the text, the codec used (Python's canonical name), why it was chosen, and its damage."""

    text: str
    charset: str
    source: str
    bad_chars: int

    @property
    def bad_ratio(self) -> float:
        """Replacement characters per decoded character (0 for an empty text)."""
        return self.bad_chars / len(self.text) if self.text else 0.0


def _python_codec(key: str) -> str | None:
    """A label WHATWG does not define, as a Python text codec (johab, cp949, ...), or None."""
    try:
        info = codecs.lookup(key)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def resolve_label(label: str | None) -> str | None:
    """A charset label → the Python codec a browser-faithful decoder should use, or None if unknown."""
    if not label:
        return None
    key = label.strip().strip("\"'").strip().lower()
    if not key:
        return None
    name = _EXTRA_LABELS.get(key) or map_encoding_to_html5(key, fallback_utf8=False) or _python_codec(key)
    if name is None:
        return None
    name = _WIDEN.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _plausible_cp1252(payload: bytes) -> bool:
    """Whether non-ASCII bytes look like Latin text (isolated accents), not a multi-byte or non-Latin script.

    Counts with two C-level passes instead of a regex (a regex over high-byte-dense CJK pages cost ~60 µs): high bytes
    are folded to one value, then non-overlapping triples of them stand for the bytes inside runs of three or more.
    """
    folded = payload.translate(_FOLD_HIGH)
    high = folded.count(b"\x80")
    return high == 0 or 3 * folded.count(b"\x80\x80\x80") * 2 < high


def _meta_charset(payload: bytes, scan_bytes: int) -> str | None:
    """The first usable charset declared by a <meta> tag near the top of the page."""
    for m in _META_CHARSET.finditer(payload, 0, scan_bytes):
        name = resolve_label(m.group(1).decode("ascii", "replace"))
        if name is not None:
            return name
    return None


def _detect(payload: bytes) -> str | None:
    """uchardet's guess as a Python codec name, without the HTML5 renaming that destroys cp949 and mac-cyrillic."""
    det = EncodingDetector()
    det.update(payload)
    return resolve_label(det.encoding(html5_compatible=False))


def _iso2022(payload: bytes, http_charset: str | None, max_bad_ratio: float, scan_bytes: int) -> Decoded | None:
    """The page decoded as ISO-2022-JP/KR if it holds their escape sequences (and decodes cleanly), else None."""
    if _ISO2022_KR in payload:
        codecs_ = ("iso2022_kr",)
    elif _ISO2022_JP.search(payload):
        codecs_ = _ISO2022_JP_CODECS
    else:
        return None
    source = "detected"
    for label, where in ((resolve_label(http_charset), "header"), (_meta_charset(payload, scan_bytes), "meta")):
        if label is not None and label.startswith("iso2022"):
            source = where
            break
    for codec in codecs_:
        text = payload.decode(codec, "replace")
        bad = text.count("\ufffd")
        if bad <= max_bad_ratio * len(text):
            return Decoded(text, codecs.lookup(codec).name, source, bad)
    return None


#: Valid multi-byte UTF-8 characters needed per invalid sequence to read a page as UTF-8 with replacement.
#: Legacy encodings seldom form valid UTF-8 sequences (cp1252 text: almost never; EUC-KR: ~1 in 3 pairs), so a page
#: of mostly valid UTF-8 with a few stray bytes is UTF-8 — never cp1252 mojibake of its whole text.
MOSTLY_UTF8 = 8


def _mostly_utf8(payload: bytes) -> Decoded | None:
    text = payload.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    valid = sum(1 for ch in text if ch > "\x7f") - bad
    if bad and valid >= MOSTLY_UTF8 * bad:
        return Decoded(text[1:] if text[:1] == "\ufeff" else text, "utf-8", "mostly_utf8", bad)
    return None


def decode_html(
    payload: bytes,
    http_charset: str | None,
    *,
    max_bad_ratio: float = 0.005,
    meta_scan_bytes: int = 2048,
) -> Decoded:
    """Decode an HTML payload (rules in the module docstring); never raises on bad bytes or labels."""
    if b"\x1b" in payload and (iso := _iso2022(payload, http_charset, max_bad_ratio, meta_scan_bytes)) is not None:
        return iso
    if payload.isascii():
        return Decoded(payload.decode("ascii"), "ascii", "ascii", 0)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:  # the C codec, not "utf-8-sig" (a Python-level wrapper, ~40% slower here); drop a BOM by hand
        return Decoded(text[1:] if text[:1] == "\ufeff" else text, "utf-8", "utf-8", 0)

    if (mostly := _mostly_utf8(payload)) is not None:
        return mostly

    if payload[:2] in (b"\xff\xfe", b"\xfe\xff"):
        codec = "utf-16-le" if payload[:2] == b"\xff\xfe" else "utf-16-be"
        text = payload[2:].decode(codec, "replace")
        bad = text.count("\ufffd")
        if bad <= max_bad_ratio * len(text):
            return Decoded(text, codec, "detected", bad)

    tried: set[str] = set()
    best: Decoded | None = None

    def attempt(codec: str | None, source: str) -> Decoded | None:
        nonlocal best
        if codec is None or codec in tried or codec.startswith("utf-16"):
            return None
        if codec == "cp1252" and source in ("header", "meta") and not _plausible_cp1252(payload):
            return None
        tried.add(codec)
        text = payload.decode(codec, "replace")
        bad = text.count("\ufffd")
        dec = Decoded(text, codec, source, bad)
        if bad <= max_bad_ratio * len(text):
            return dec
        if best is None or dec.bad_ratio < best.bad_ratio:
            best = dec
        return None

    found = (
        attempt(resolve_label(http_charset), "header")
        or attempt(_meta_charset(payload, meta_scan_bytes), "meta")
        or attempt(_detect(payload), "detected")
        or attempt("utf-8", "fallback")
        or (None if _plausible_cp1252(payload) else attempt(_GIVE_UP_GUESS, "fallback"))
        or attempt("cp1252", "fallback")
    )
    if found is not None:
        return found
    assert best is not None  # cp1252 is always decoded last unless an earlier candidate passed
    return Decoded(best.text, best.charset, "fallback", best.bad_chars)
