"""The shard reader: documents from WARC/WET records, a Skipped with a reason for everything else, damage survived."""

from __future__ import annotations

import gzip
import io
import random
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.ingest.html import html_to_text
from pipeline.ingest.warc import SKIP_REASONS, Document, ExtractSettings, Skipped, extract_stream
from pipeline.ingest.warc_writer import WarcWriter, format_record, gzip_member

KO = "대한민국은 민주공화국이다. 대한민국의 주권은 국민에게 있고, 모든 권력은 국민으로부터 나온다."
UTF8 = [("Content-Type", "text/html; charset=utf-8")]


def html(text: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body><article><p>{text}</p></article></body></html>"


def page(i: int) -> bytes:
    return html(f"page {i}: {KO}").encode("utf-8")


def build(tmp_path: Path, fill: Callable[[WarcWriter], object], *, compress: bool = True) -> tuple[Path, list[int]]:
    path = tmp_path / ("t.warc.gz" if compress else "t.warc")
    with open(path, "wb") as fh:
        w = WarcWriter(fh, compress=compress)
        fill(w)
    return path, w.offsets


def read(path: Path | bytes, options: ExtractSettings | None = None, **kw: str) -> list[Document | Skipped]:
    if isinstance(path, bytes):
        return list(extract_stream(io.BytesIO(path), options or ExtractSettings(), **kw))
    with open(path, "rb") as fh:
        return list(extract_stream(fh, options or ExtractSettings(), **kw))


def summary(items: list[Document | Skipped]) -> list[tuple]:
    return [("doc", x.offset, x.url) if isinstance(x, Document) else (x.reason, x.offset) for x in items]


def good(w: WarcWriter, i: int, body: bytes | None = None) -> str:
    return w.response(f"https://ex.kr/{i}", body or page(i), http_headers=UTF8)


# -- documents -------------------------------------------------------------------------------------------------------


def test_cc_style_triples_give_documents_with_all_fields(tmp_path: Path) -> None:
    def fill(w: WarcWriter) -> None:
        w.warcinfo({"isPartOf": "CC-MAIN-2026-01"}, filename="t.warc.gz")
        for i in range(3):
            url = f"https://ex.kr/{i}"
            rq = w.request(url)
            rid = w.response(url, page(i), http_headers=UTF8, concurrent_to=rq, date=f"2026-01-0{i + 1}T00:00:00Z")
            w.metadata(url, {"charset-detected": "UTF-8"}, refers_to=rid)

    path, offsets = build(tmp_path, fill)
    docs = read(path)
    assert [type(d) for d in docs] == [Document] * 3
    d = docs[1]
    assert d.offset == offsets[5]  # warcinfo, then (request, response, metadata) per page
    assert d.url == "https://ex.kr/1" and d.date == "2026-01-02T00:00:00Z"
    assert d.record_id.startswith("<urn:uuid:")
    assert (d.crawl_id, d.source_format, d.content_type) == ("CC-MAIN-2026-01", "warc", "text/html")
    assert (d.charset, d.charset_source, d.payload_bytes) == ("utf-8", "utf-8", len(page(1)))
    assert d.text == f"page 1: {KO}"
    assert read(path, crawl_id="MINE")[0].crawl_id == "MINE"  # the argument wins over warcinfo


def test_no_warcinfo_means_no_crawl_id(tmp_path: Path) -> None:
    path, _ = build(tmp_path, lambda w: good(w, 1))
    assert read(path)[0].crawl_id is None


def test_wet_conversion_records(tmp_path: Path) -> None:
    def fill(w: WarcWriter) -> None:
        w.warcinfo({"isPartOf": "CC-MAIN-2026-01"}, filename="t.warc.wet.gz")
        w.conversion("https://ex.kr/1", f"  {KO}\n두 번째 줄\n", language="kor")
        w.conversion("https://ex.kr/2", "   \n")

    path, offsets = build(tmp_path, fill)
    items = read(path)
    d = items[0]
    assert isinstance(d, Document)
    assert (d.offset, d.source_format, d.content_type, d.charset, d.crawl_id) == (
        offsets[1],
        "wet",
        "text/plain",
        "utf-8",
        "CC-MAIN-2026-01",
    )
    assert d.text == f"{KO}\n두 번째 줄"
    assert isinstance(items[1], Skipped) and items[1].reason == "empty_extraction"


def test_legacy_korean_pages(tmp_path: Path) -> None:
    def fill(w: WarcWriter) -> None:
        euc_kr = [("Content-Type", "text/html; charset=EUC-KR")]
        w.response("https://ex.kr/h", html(KO).encode("euc-kr"), http_headers=euc_kr)
        meta = '<meta charset="ks_c_5601-1987">'
        w.response("https://ex.kr/m", html(KO, meta).encode("cp949"), http_headers=[("Content-Type", "text/html")])
        w.response("https://ex.kr/u", html(KO).encode("euc-kr"), http_headers=UTF8)  # mislabelled

    docs = read(build(tmp_path, fill)[0])
    assert [(d.text, d.charset, d.charset_source) for d in docs] == [
        (KO, "cp949", "header"),
        (KO, "cp949", "meta"),
        (KO, "cp949", "detected"),
    ]


def test_http_encodings_are_undone_by_fastwarc(tmp_path: Path) -> None:
    body = page(1)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)

    def fill(w: WarcWriter) -> None:
        w.response("https://ex.kr/gz", gzip.compress(body, mtime=0), http_headers=UTF8 + [("Content-Encoding", "gzip")])
        w.response("https://ex.kr/ch", chunked, http_headers=UTF8 + [("Transfer-Encoding", "chunked")])

    docs = read(build(tmp_path, fill)[0])
    assert [(type(d), d.text) for d in docs] == [(Document, f"page 1: {KO}")] * 2


def test_identified_payload_type_stands_in_for_a_missing_content_type(tmp_path: Path) -> None:
    def fill(w: WarcWriter) -> None:
        w.raw(
            format_record(
                [
                    ("WARC-Type", "response"),
                    ("WARC-Target-URI", "https://ex.kr/x"),
                    ("WARC-Identified-Payload-Type", "text/html"),
                    ("Content-Type", "application/http; msgtype=response"),
                ],
                b"HTTP/1.1 200 OK\r\n\r\n" + page(1),
            )
        )
        w.response("https://ex.kr/y", page(2), http_headers=[])

    items = read(build(tmp_path, fill)[0])
    assert isinstance(items[0], Document)
    assert (items[1].reason, items[1].detail) == ("not_html", "content type (none)")


def test_main_content_option(tmp_path: Path) -> None:
    body = b"<html><body><nav>Menu items here</nav><article><p>" + KO.encode() + b"</p></article></body></html>"
    path, _ = build(tmp_path, lambda w: good(w, 1, body))
    assert "Menu" not in read(path)[0].text
    assert "Menu items here" in read(path, ExtractSettings(main_content=False))[0].text


def test_extractor_misconfiguration_fails_the_shard_not_each_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    path, _ = build(tmp_path, lambda w: good(w, 1))
    with pytest.raises(ImportError, match="polyglot-pipeline"):
        read(path, ExtractSettings(extractor="trafilatura"))
    with pytest.raises(ValueError, match="'resiliparse' or 'trafilatura'"):  # refused when the settings are made
        ExtractSettings(extractor="lynx")


# -- skip reasons ----------------------------------------------------------------------------------------------------


def test_every_skip_reason_of_a_readable_record(tmp_path: Path) -> None:
    junk = bytes(b for b in random.Random(0).randbytes(6000) if b)

    def fill(w: WarcWriter) -> None:
        w.request("https://ex.kr/req")  # not a document, not reported
        w.response("https://ex.kr/png", b"\x89PNG....", http_headers=[("Content-Type", "image/png")])
        w.response("https://ex.kr/404", page(1), status=404, http_headers=UTF8)
        w.response("https://ex.kr/301", b"", status=301, http_headers=UTF8 + [("Location", "/")])
        w.response("https://ex.kr/big", page(1) * 100, http_headers=UTF8)
        w.response("https://ex.kr/bin", b"<html>\x00\x01\x02</html>", http_headers=UTF8)
        w.response("https://ex.kr/junk", junk, http_headers=[("Content-Type", "text/html; charset=euc-kr")])
        w.response("https://ex.kr/empty", b"<html><script>var a = 1;</script></html>", http_headers=UTF8)
        w.response("https://ex.kr/short", html("안").encode(), http_headers=UTF8)
        w.raw(
            format_record(
                [
                    ("WARC-Type", "response"),
                    ("WARC-Target-URI", "https://ex.kr/badhttp"),
                    ("Content-Type", "application/http; msgtype=response"),
                ],
                b"NOT HTTP AT ALL\r\n\x01garbage\r\n",
            )
        )
        w.metadata("https://ex.kr/req", {"x": "y"}, refers_to=None)
        good(w, 9)

    items = read(build(tmp_path, fill)[0], ExtractSettings(max_payload_mb=10_000 / 2**20, min_text_chars=5))
    got = [(x.url, x.reason) if isinstance(x, Skipped) else (x.url, "doc") for x in items]
    assert got == [
        ("https://ex.kr/png", "not_html"),
        ("https://ex.kr/404", "http_status"),
        ("https://ex.kr/301", "http_status"),
        ("https://ex.kr/big", "oversized"),
        ("https://ex.kr/bin", "binary"),
        ("https://ex.kr/junk", "decode_failed"),
        ("https://ex.kr/empty", "empty_extraction"),
        ("https://ex.kr/short", "empty_extraction"),
        ("https://ex.kr/badhttp", "malformed_record"),
        ("https://ex.kr/9", "doc"),
    ]
    for x in items[:-1]:
        assert x.reason in SKIP_REASONS and x.detail and x.offset is not None
    assert items[0].detail == "content type image/png"
    assert items[1].detail == "HTTP 404"


# -- damaged files ---------------------------------------------------------------------------------------------------


def _bad_length(delta: int) -> Callable[[WarcWriter], None]:
    def fill(w: WarcWriter) -> None:
        good(w, 1)
        block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + page(2)
        headers = [
            ("WARC-Type", "response"),
            ("WARC-Target-URI", "https://ex.kr/2"),
            ("Content-Type", "application/http; msgtype=response"),
        ]
        w.raw(format_record(headers, block, content_length=len(block) + delta))
        good(w, 3)
        good(w, 4)

    return fill


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize(
    "name, fill, expect",
    [
        (
            "garbage between records",
            lambda w: (good(w, 1), w.raw(b"GARBAGE\r\n" * 5, compress=False), good(w, 3)),
            [("doc", 0), ("malformed_record", 1), ("doc", 2)],
        ),
        (
            "gzip member of garbage between records",
            lambda w: (good(w, 1), w.raw(b"GARBAGE\r\n" * 5), good(w, 3)),
            [("doc", 0), ("malformed_record", 1), ("doc", 2)],
        ),
        ("Content-Length too big", _bad_length(+300), [("doc", 0), ("malformed_record", 1), ("doc", 2), ("doc", 3)]),
        ("Content-Length too small", _bad_length(-30), [("doc", 0), ("malformed_record", 1), ("doc", 2), ("doc", 3)]),
        (
            "empty gzip member between records",
            lambda w: (good(w, 1), w.raw(gzip_member(b""), compress=False), good(w, 3)),
            [("doc", 0), ("malformed_record", 1), ("doc", 2)],
        ),
        (
            "trailing junk",
            lambda w: (good(w, 1), good(w, 2), w.raw(b"junk", compress=False)),
            [("doc", 0), ("doc", 1), ("malformed_record", 2)],
        ),
    ],
)
def test_damage_is_reported_and_reading_goes_on(
    tmp_path: Path, compress: bool, name: str, fill: Callable[[WarcWriter], object], expect: list[tuple[str, int]]
) -> None:
    path, offsets = build(tmp_path, fill, compress=compress)
    items = read(path)
    assert [(kind, off) for kind, off, *_ in summary(items)] == [(k, offsets[i]) for k, i in expect], name
    for x in items:
        if isinstance(x, Skipped):
            assert x.detail, name


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_truncated_last_record(tmp_path: Path, compress: bool) -> None:
    big = html(KO * 200).encode()
    path, offsets = build(tmp_path, lambda w: (good(w, 1), good(w, 2, big)), compress=compress)
    data = path.read_bytes()
    for cut in (50, 300):
        items = read(data[:-cut])
        assert summary(items) == [("doc", 0, "https://ex.kr/1"), ("truncated", offsets[1])], cut
        assert items[1].url == "https://ex.kr/2" and items[1].detail


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_truncated_record_in_mid_file(tmp_path: Path, compress: bool) -> None:
    big = html(KO * 200).encode()
    path, offsets = build(tmp_path, lambda w: (good(w, 1), good(w, 2, big), good(w, 3), good(w, 4)), compress=compress)
    data = path.read_bytes()
    cut = offsets[1] + (offsets[2] - offsets[1]) // 2
    items = read(data[:cut] + data[offsets[2] :])
    kinds = summary(items)
    assert kinds[0] == ("doc", 0, "https://ex.kr/1")
    assert kinds[1] == ("truncated", offsets[1])
    assert [k[2] for k in kinds[2:]] == ["https://ex.kr/3", "https://ex.kr/4"]  # the records after it survive


def test_not_a_warc_and_empty_input() -> None:
    items = read(b"<html><body>just a page</body></html>")
    assert [(x.reason, x.offset) for x in items] == [("malformed_record", 0)]
    assert "FastWARC" in items[0].detail
    assert [(x.reason, x.offset) for x in read(b"")] == [("empty_file", 0)]  # counted, never silent


class _Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._b = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray) -> int:  # type: ignore[override]
        chunk = self._b.read(len(buf))
        buf[: len(chunk)] = chunk
        return len(chunk)


def test_unseekable_stream_is_spooled(tmp_path: Path) -> None:
    """FastWARC 2.0.1 panics on a stream that cannot seek; the reader spools it and reads on past damage."""
    path, offsets = build(tmp_path, lambda w: (good(w, 1), w.raw(b"GARBAGE" * 5, compress=False), good(w, 3)))
    items = list(extract_stream(io.BufferedReader(_Unseekable(path.read_bytes())), ExtractSettings()))
    assert [(k, off) for k, off, *_ in summary(items)] == [
        ("doc", 0),
        ("malformed_record", offsets[1]),
        ("doc", offsets[2]),
    ]


def damaged(data: bytes, rng: random.Random) -> bytes:
    """`data` with one random bit flip, insertion (1-50 bytes) or deletion (1-200 bytes)."""
    d = bytearray(data)
    p = rng.randrange(len(d))
    kind = rng.choice(["flip", "insert", "delete"])
    if kind == "flip":
        d[p] ^= 1 << rng.randrange(8)
    elif kind == "insert":
        d[p:p] = rng.randbytes(rng.randint(1, 50))
    else:
        del d[p : p + rng.randint(1, 200)]
    return bytes(d)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_random_damage_never_stops_the_shard(tmp_path: Path, compress: bool) -> None:
    """One random flip, insertion or deletion anywhere: no exception, and each of the 12 pages is a document or is
    accounted for by a Skipped (at most two pages can share one report, e.g. a deletion across a boundary)."""

    def fill(w: WarcWriter) -> None:
        w.warcinfo({"isPartOf": "CC-MAIN-2026-01"}, filename="t.warc.gz")
        for i in range(12):
            url = f"https://ex.kr/{i}"
            w.request(url)
            good(w, i, html(f"{i} " + KO * (1 + 5 * i)).encode())
            w.metadata(url, {"a": "b"}, refers_to=None)

    data = build(tmp_path, fill, compress=compress)[0].read_bytes()
    rng = random.Random(7)
    for _ in range(60):
        items = read(damaged(data, rng))
        offsets = [x.offset for x in items]
        assert len(items) >= 11, (kind, p, summary(items))
        assert len(offsets) == len(set(offsets)), (kind, p, summary(items))  # nothing reported twice


# -- real Common Crawl data ------------------------------------------------------------------------------------------


def _script_share(text: str, lo: str, hi: str) -> float:
    letters = [c for c in text if c.isalpha() and not c.isascii()]
    return sum(lo <= c <= hi for c in letters) / max(len(letters), 1)


def test_cc_excerpt_every_html_response_is_a_readable_document(shared_data: Path) -> None:
    path = shared_data / "cc" / "cc-main-2020-34-excerpt.warc.gz"
    items = read(path, ExtractSettings(main_content=False))
    assert all(isinstance(x, Document) for x in items), [x for x in items if isinstance(x, Skipped)]
    assert len(items) == 16
    assert {d.crawl_id for d in items} == {"CC-MAIN-2020-34"}
    by_charset = {}
    for d in items:
        assert "\ufffd" not in d.text
        by_charset.setdefault(d.charset, []).append(d)
    ru = [d for d in by_charset["cp1251"] if d.url == "http://01spb.ru/company/"]
    assert ru and _script_share(ru[0].text, "\u0400", "\u04ff") > 0.95 and "О компании" in ru[0].text
    gb = by_charset["gb18030"]  # labelled GB2312 or GBK in the header or <meta>
    assert {d.charset_source for d in gb} == {"header", "meta"} and len(gb) >= 6
    for d in gb:
        assert _script_share(d.text, "\u3000", "\u9fff") > 0.9, d.url  # Han and CJK punctuation, no mojibake


def test_cc_truncated_member(shared_data: Path) -> None:
    items = read(shared_data / "cc" / "truncated-member.warc.gz")
    assert [(x.reason, x.offset) for x in items] == [("truncated", 0)]
    assert items[0].url.startswith("http://www.houstonpress.com/") and "cut short" in items[0].detail


def test_whirlwind_same_page_from_warc_and_wet(shared_data: Path) -> None:
    (warc,) = read(shared_data / "cc" / "whirlwind.warc.gz")
    (wet,) = read(shared_data / "cc" / "whirlwind.warc.wet.gz")
    assert (warc.source_format, wet.source_format) == ("warc", "wet")
    assert warc.url == wet.url == "https://an.wikipedia.org/wiki/Escopete"
    assert warc.crawl_id == wet.crawl_id == "CC-MAIN-2024-22"
    ours = {ln.strip() for ln in warc.text.splitlines() if len(ln.strip()) > 60}
    theirs = {ln.strip() for ln in wet.text.splitlines()}
    assert ours and len(ours & theirs) / len(ours) > 0.5  # the same article paragraphs, extracted twice


def test_empty_main_content_falls_back_to_all_visible_text(tmp_path: Path) -> None:
    """A page whose only text sits in a list that the boilerplate heuristics drop is not lost."""
    body = ("<html><body><div><ul>" + "".join(f"<li><a href='/{i}'>{KO[:20]} {i}</a></li>" for i in range(12))
            + "</ul></div></body></html>").encode()
    path, _ = build(tmp_path, lambda w: w.response("https://ex.kr/list", body, http_headers=UTF8))
    opts = ExtractSettings(min_text_chars=20)
    main_only = html_to_text(body.decode(), main_content=True).strip()
    if len(main_only) >= 20:
        pytest.skip("Resiliparse keeps this list as main content; nothing to fall back from")
    (doc,) = read(path, opts)
    assert isinstance(doc, Document) and doc.full_text_fallback and "대한민국" in doc.text
    (skipped,) = read(path, ExtractSettings(min_text_chars=20, main_content_fallback=False))
    assert isinstance(skipped, Skipped) and skipped.reason == "empty_extraction"


def test_text_is_nfc_normalized(tmp_path: Path) -> None:
    """Korean written as conjoining jamo (NFD) comes out as precomposed syllables, unless normalization is off."""
    import unicodedata

    nfd = unicodedata.normalize("NFD", KO)
    assert nfd != KO
    path, _ = build(tmp_path, lambda w: w.response("https://ex.kr/nfd", html(nfd).encode(), http_headers=UTF8))
    (doc,) = read(path)
    assert KO in doc.text and unicodedata.is_normalized("NFC", doc.text)
    (raw,) = read(path, ExtractSettings(normalize="none"))
    assert nfd in raw.text


# -- binary by evidence ----------------------------------------------------------------------------------------------


def test_stray_nul_bytes_in_a_text_page_are_stripped_not_fatal(tmp_path: Path) -> None:
    body = html(f"{KO} " * 4 + "<a href=\"/news\x00\x00/1\">관련\x00 기사</a>").encode("utf-8")
    path, _ = build(tmp_path, lambda w: w.response("https://ex.kr/news", body, http_headers=UTF8))
    (doc,) = read(path)
    assert isinstance(doc, Document), doc
    assert KO in doc.text and "관련 기사" in doc.text and "\x00" not in doc.text
    assert doc.repairs == ("nul_stripped",) and doc.payload_bytes == len(body) - 3


@pytest.mark.parametrize(
    ("name", "payload", "why"),
    [
        ("png", b"\x89PNG\r\n\x1a\n" + b"IHDR" + bytes(range(1, 200)), "signature"),
        ("gzip", gzip.compress(page(1)), "signature"),  # compression the server did not declare
        ("pdf", b"%PDF-1.7\n" + page(1), "signature"),
        ("blob", bytes(random.Random(1).randbytes(4000)), "control bytes"),
        ("utf16-no-bom", html(KO).encode("utf-16-le"), "control bytes"),
    ],
)
def test_binary_payloads_served_as_html(tmp_path: Path, name: str, payload: bytes, why: str) -> None:
    path, _ = build(tmp_path, lambda w: w.response(f"https://ex.kr/{name}", payload, http_headers=UTF8))
    (item,) = read(path)
    assert isinstance(item, Skipped) and item.reason == "binary" and why in item.detail, item


def test_utf16_with_bom_is_text_not_binary(tmp_path: Path) -> None:
    body = "\ufeff".encode("utf-16-le") + html(KO).encode("utf-16-le")
    path, _ = build(tmp_path, lambda w: w.response("https://ex.kr/u16", body, http_headers=[("Content-Type", "text/html")]))
    (doc,) = read(path)
    assert isinstance(doc, Document) and doc.text == KO and doc.repairs == ()


# -- min_text_chars in script-aware units ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("吾輩は猫である。名前はまだ無い。", True),  # a whole Japanese sentence: 16 characters
        ("朱镕基总理在北京会见了代表团。", True),  # a whole Chinese sentence: 15 characters
        ("대한민국은 민주공화국이다.", True),  # 14 characters
        ("Read more about it", False),  # an 18-character English fragment
        ("Menu", False),
        ("これは", False),  # three kana say about one English word
    ],
)
def test_min_text_chars_counts_a_short_cjk_sentence_like_english(tmp_path: Path, text: str, kept: bool) -> None:
    path, _ = build(tmp_path, lambda w: w.response("https://ex.jp/", html(text).encode(), http_headers=UTF8))
    (item,) = read(path, ExtractSettings(min_text_chars=20, main_content_fallback=False))
    if kept:
        assert isinstance(item, Document) and item.text == text
    else:
        assert isinstance(item, Skipped) and item.reason == "empty_extraction" and "English-equivalent" in item.detail


# -- legacy encodings end to end ---------------------------------------------------------------------------------------

JA = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"


@pytest.mark.parametrize(
    ("text", "codec", "header", "charset"),
    [
        (JA, "iso2022_jp", "text/html", "iso2022_jp_2"),  # 7-bit: looks like ASCII
        (KO, "iso2022_kr", "text/html", "iso2022_kr"),
        (KO + " 똠방각하", "johab", "text/html; charset=johab", "johab"),  # a label WHATWG does not define
    ],
)
def test_legacy_korean_and_japanese_pages_are_documents(
    tmp_path: Path, text: str, codec: str, header: str, charset: str
) -> None:
    body = html(text).encode(codec)
    path, _ = build(tmp_path, lambda w: w.response("https://ex.jp/", body, http_headers=[("Content-Type", header)]))
    (doc,) = read(path)
    assert isinstance(doc, Document), doc
    assert (doc.text, doc.charset) == (text, charset) and "\x1b" not in doc.text


# -- oversized records and pathological pages ---------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("encoding", ["gzip", None])
@pytest.mark.parametrize("mb", [8, pytest.param(48, marks=pytest.mark.slow), pytest.param(100, marks=pytest.mark.slow)])
def test_an_oversized_record_is_skipped_and_the_rest_of_the_file_read(
    tmp_path: Path, compress: bool, encoding: str | None, mb: int
) -> None:
    body = b"<html><body>" + b"<p>filler text of a very large page</p>\n" * (mb * 2**20 // 40) + b"</body></html>"
    headers = list(UTF8)
    if encoding == "gzip":
        body = gzip.compress(body, 1)
        headers.append(("Content-Encoding", "gzip"))

    def fill(w: WarcWriter) -> None:
        good(w, 0)
        w.response("https://ex.kr/big", body, http_headers=headers)
        for i in (1, 2, 3):
            good(w, i)

    path, offsets = build(tmp_path, fill, compress=compress)
    items = read(path)
    assert summary(items) == [("doc", offsets[0], "https://ex.kr/0"), ("oversized", offsets[1]),
                              *(("doc", offsets[i], f"https://ex.kr/{i - 1}") for i in (2, 3, 4))]  # fmt: skip


def test_a_deeply_nested_page_takes_the_linear_path(tmp_path: Path) -> None:
    sentence = "모든 인류 구성원의 천부의 존엄성과 동등하고 양도할 수 없는 권리를 인정하는 것이 세계의 자유의 기초이다."
    deep = f"<html><body>{'<div>' * 100_000}<p>{sentence}</p>{'</div>' * 100_000}</body></html>".encode()

    def fill(w: WarcWriter) -> None:
        good(w, 0)
        w.response("https://ex.kr/deep", deep, http_headers=UTF8)
        good(w, 1)

    path, _ = build(tmp_path, fill)
    items = read(path)  # main-content extraction alone would take tens of minutes on this page
    docs = [x for x in items if isinstance(x, Document)]
    assert [d.url for d in docs] == ["https://ex.kr/0", "https://ex.kr/deep", "https://ex.kr/1"]
    assert docs[1].text == sentence and docs[1].repairs == ("deep_dom_plain_text",)
    assert docs[0].repairs == () and docs[2].repairs == ()


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("delta", [300, 5000, 100_000])
@pytest.mark.parametrize("last", [False, True])
def test_a_content_length_too_long_counts_the_record_once(tmp_path: Path, compress: bool, delta: int, last: bool) -> None:
    def fill(w: WarcWriter) -> None:
        _bad_length(delta)(w) if not last else (good(w, 1), w.raw(_bad_record(delta)))

    path, offsets = build(tmp_path, fill, compress=compress)
    items = read(path)
    assert [off for _, off, *_ in summary(items)] == offsets  # every record once, in order
    assert [isinstance(x, Document) for x in items] == [True, False] + [True] * (len(offsets) - 2)
    assert items[1].reason in ("malformed_record", "truncated") and items[1].detail


def _bad_record(delta: int) -> bytes:
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + page(2)
    headers = [("WARC-Type", "response"), ("WARC-Target-URI", "https://ex.kr/2"),
               ("Content-Type", "application/http; msgtype=response")]  # fmt: skip
    return format_record(headers, block, content_length=len(block) + delta)
