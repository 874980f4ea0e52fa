"""Ray-free shard reader: a WARC or WET stream → extracted `Document`s, and a `Skipped` for each record it can't use.

Records are read with FastWARC's `ArchiveIterator` (HTTP headers parsed by FastWARC, chunked transfer and
gzip/deflate/brotli content encodings undone by it). Documents come from `response` records with an HTML content
type and from WET `conversion` records. `request`, `metadata`, `revisit`, `resource` and `warcinfo` records are not
documents and are not reported (the warcinfo record only supplies the crawl id from its `isPartOf` field).

Skip reasons, a fixed vocabulary the extract stage counts per shard:

* ``not_html`` — a response whose content type is not text/html or application/xhtml+xml (or has none);
* ``http_status`` — a response whose HTTP status is not 2xx;
* ``oversized`` — payload larger than ``max_payload_bytes`` (not read into memory when Content-Length says so;
  reading resumes at the next record, found from the raw framing, so nothing after it is lost);
* ``binary`` — a text content type over binary data (images served as text/html, undecoded compression, ...),
  judged by evidence: a file-format magic number at the start (PNG, JPEG, GIF, PDF, gzip, zip, ...), or control
  bytes (C0 other than tab, newlines, form feed and ESC) making up more than ``max_control_ratio`` of the payload.
  A few stray NUL bytes in an otherwise textual page are removed, not fatal (counted as the ``nul_stripped`` repair);
* ``decode_failed`` — no charset candidate decodes the page with at most ``max_bad_char_ratio`` replacement
  characters (see `pipeline.ingest.charset`);
* ``empty_extraction`` — less than ``min_text_chars`` of text after extraction, counted in English-equivalent
  characters (`pipeline.text.segment.latin_char_equivalents`: the filter's units per script), or the extractor
  failed on the page. With ``main_content_fallback`` (default) a page whose main-content extraction comes out
  empty is extracted once more with all visible text before it is given up: on 100 real CC pages Resiliparse's
  boilerplate heuristics emptied 3 pages that hold real text (one a full news article);
* ``malformed_record`` — FastWARC cannot parse the record (bad WARC header, a Content-Length that disagrees with
  the record, garbage between records) or the HTTP headers are unusable;
* ``truncated`` — the record or its gzip member is cut short, or the stream ends mid-record;
* ``empty_file`` — the input holds no bytes at all (a download cut at zero, a placeholder file).

Bad input never stops the shard. What FastWARC 2.0.1 does with broken input, measured: on garbage between records,
a gzip member that is cut short in mid-file, or a wrong Content-Length it raises ``OSError`` ("Invalid WARC header",
"Gzip decompression error: data error") from the iterator, which is then dead ("No reader set"). On a last record cut
short it yields the partial record silently (a payload shorter than its Content-Length, or headers without
Content-Length). On an empty gzip member between records it stops silently, as if the file had ended. So this
reader, on an iterator error, finds where the damage is (re-walking from the last good record, checking gzip
members with zlib), reports it once as a `Skipped`, and starts a new iterator at the next record start (gzip
member magic, or a ``WARC/1.`` line in an uncompressed file); at the end of a gzip file it checks that no readable
record follows where FastWARC stopped. FastWARC 2.0.1 panics (a Rust ``PanicException``, not an ``OSError``) on a
stream that cannot seek, e.g. a pipe, so such a stream is first spooled to a temporary file; a panic on damaged data
is reported like any other reader failure.

Text of a kept page (`extract_page`): Resiliparse main content (no comment sections unless ``comments``), then the
boilerplate pass of `pipeline.ingest.boilerplate` (link lines, a short-line tail); a main text under
`RECOVER_BELOW_CHARS` is checked for truncation against all visible text, and a truncated one is replaced by the
article found in the visible text (the ``main_content_recovered`` repair); last, later copies of a line are dropped
(``repeated_lines_dropped``). Repairs are not skips: the document is kept and the stage counts each repair by name,
as it counts ``full_text_fallback``.

The common path costs a few attribute reads, a ``startswith`` for magic numbers, one ``in`` check for NUL bytes and
the ASCII/UTF-8 fast path of the charset decoder on top of FastWARC and Resiliparse.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from fastwarc.warc import ArchiveIterator, HeaderMap, WarcRecord, WarcRecordType
from resiliparse.parse.html import HTMLTree

from pipeline.ingest.boilerplate import (
    anchor_texts,
    drop_repeated_lines,
    looks_truncated,
    recover_article,
    remove_boilerplate,
)
from pipeline.ingest.charset import decode_html
from pipeline.ingest.html import dom_deeper_than, html_to_text, require_extractor
from pipeline.ingest.settings import ExtractSettings
from pipeline.text.segment import MIN_LATIN_WEIGHT, latin_char_equivalents

__all__ = [
    "ExtractSettings",
    "Document",
    "Skipped",
    "SKIP_REASONS",
    "HTML_TYPES",
    "extract_page",
    "extract_stream",
    "part_range",
    "record_start_after",
    "too_short",
]

#: Every value `Skipped.reason` can take.
SKIP_REASONS = (
    "not_html",
    "http_status",
    "oversized",
    "binary",
    "decode_failed",
    "empty_extraction",
    "malformed_record",
    "truncated",
    "empty_file",
)
#: Content types read as HTML (lower case, without parameters).
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_WANTED = WarcRecordType.warcinfo | WarcRecordType.response | WarcRecordType.conversion
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_START = b"WARC/1."
_CHUNK = 1 << 20
#: Truncated main content is looked for only below this many characters (the cases seen: 30-600 of 8,000-14,000):
#: the check extracts the page a second time, which longer main texts do not need.
RECOVER_BELOW_CHARS = 1000
#: Magic numbers of binary formats that get served as text/html (payload start, leading whitespace skipped). Hand
#: listed: a libmagic binding needs a system library, and these few prefixes cost one `startswith`.
_MAGIC = (
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"%PDF-", b"\x1f\x8b", b"PK\x03\x04", b"BZh",
    b"7z\xbc\xaf\x27\x1c", b"\x28\xb5\x2f\xfd", b"Rar!\x1a\x07", b"OggS", b"ID3", b"fLaC", b"wOFF", b"wOF2",
    b"\x7fELF", b"\x00\x00\x01\x00", b"II*\x00", b"MM\x00*", b"\xd0\xcf\x11\xe0",
)  # fmt: skip
#: C0 control bytes that text never holds (tab, LF, VT, FF, CR and ESC — ISO-2022's escape — excluded).
_CONTROL = bytes(b for b in range(0x20) if b not in b"\t\n\x0b\x0c\r\x1b")


@dataclass
class Document:
    """One extracted page."""

    offset: int  # byte offset of the record in the (compressed) file — the doc id is built from it
    record_id: str
    url: str
    date: str
    crawl_id: str | None
    source_format: str  # "warc" (HTML response) or "wet" (conversion record)
    content_type: str
    charset: str
    charset_source: str
    payload_bytes: int
    text: str
    full_text_fallback: bool = False  # main-content extraction was empty; this is all visible text
    #: What was repaired on the way, counted per name by the stage: ``nul_stripped``, ``main_content_recovered``,
    #: ``deep_dom_plain_text``, ``repeated_lines_dropped``.
    repairs: tuple[str, ...] = ()


@dataclass
class Skipped:
    """A record (or a stretch of the file) that gave no document, and why."""

    offset: int | None
    reason: str
    detail: str
    url: str | None = None


Item = Document | Skipped


def extract_stream(
    stream: BinaryIO,
    options: ExtractSettings,
    *,
    crawl_id: str | None = None,
    byte_range: tuple[int, int] | None = None,
    on_crawl_id: Callable[[int, str], None] | None = None,
) -> Iterator[Item]:
    """Every document of a WARC/WET stream, and a `Skipped` for each record or damaged stretch that gave none.

    `byte_range` (from `part_range`) reads only the records that start in [start, end): the parts of one file
    together give exactly the items of the whole file, in the same order, with the same offsets. A part after the
    first has not seen the file's warcinfo record: its documents carry the crawl id of the warcinfo records in its
    own range only (None before the first), and `on_crawl_id(offset, crawl_id)` reports each crawl id a warcinfo
    record sets, so the caller can give the earlier documents the crawl id the parts before left in force."""
    return _ShardReader(stream, options, crawl_id, byte_range, on_crawl_id).run()


#: How far past a part's nominal start a record start is looked for. A record-gzipped WARC has a member start every
#: record (Common Crawl: every few KB, at most ~1 MB); without one in this window the part is empty and the part
#: before it reads on, so a single-member file is read whole by its first part.
SPLIT_SEARCH_BYTES = 8 * 2**20
_SCAN_BLOCK = 1 << 20


def part_range(
    stream: BinaryIO, index: int, count: int, search_bytes: int = SPLIT_SEARCH_BYTES
) -> tuple[int, int] | None:
    """The byte range [start, end) that part `index` of `count` of a record-gzipped WARC reads; None when the part
    has nothing to read.

    Each nominal split point (`k * size // count`) moves forward to the next gzip member that starts a WARC record
    (`record_start_after`); every part computes the same points, so the parts cover each record exactly once, and a
    document's offset, hence its id, is the same as in a whole-file read. Only a few KB around each point are read
    (ranged reads on an fsspec file). A file that is not gzip (an uncompressed WARC: a `WARC/1.` line may sit inside
    a payload) has no split point: its first part is the whole file and the others are None.
    """
    if not 0 <= index < count:
        raise ValueError(f"part {index} of {count}")
    size = stream.seek(0, 2)
    stream.seek(0)
    if count == 1 or stream.read(2) != _GZIP_MAGIC[:2]:
        return (0, size) if index == 0 else None
    points: dict[int, int | None] = {}

    def point(k: int) -> int | None:
        if k not in points:  # past 0: only the first part starts at the file's start
            points[k] = record_start_after(stream, max(1, k * size // count), search_bytes)
        return points[k]

    start = 0 if index == 0 else point(index)
    if start is None:
        return None
    end = next((p for p in map(point, range(index + 1, count)) if p is not None), size)
    return (start, end) if end > start else None


def record_start_after(stream: BinaryIO, at: int, search_bytes: int = SPLIT_SEARCH_BYTES) -> int | None:
    """The first offset in [at, at + search_bytes) where a gzip member starts whose data begin with a WARC record
    (`WARC/1.` after a little decompression); None when there is none. Magic bytes inside compressed data do not
    decompress to a WARC header, so they are passed over."""
    stop = at + search_bytes
    pos = at
    overlap = len(_GZIP_MAGIC) - 1
    while pos < stop:
        stream.seek(pos)
        want = min(_SCAN_BLOCK, stop - pos) + overlap
        block = stream.read(want)
        i = block.find(_GZIP_MAGIC)
        while 0 <= i and pos + i < stop:
            if _starts_record(stream, pos + i):
                return pos + i
            i = block.find(_GZIP_MAGIC, i + 1)
        if len(block) < want:  # the end of the file
            return None
        pos += len(block) - overlap
    return None


def _starts_record(stream: BinaryIO, at: int) -> bool:
    """Whether the gzip member at `at` begins with a WARC record header (its first bytes decompressed)."""
    stream.seek(at)
    d = zlib.decompressobj(wbits=31)
    head = b""
    try:
        while len(head) < len(_WARC_START):
            chunk = stream.read(4096)
            if not chunk:
                return False
            head += d.decompress(chunk, len(_WARC_START) - len(head))
            if d.eof:
                break
    except zlib.error:
        return False
    return head.startswith(_WARC_START)


class _ShardReader:
    """One pass over one stream; holds the crawl id and what is needed to resume after damage."""

    def __init__(
        self,
        stream: BinaryIO,
        options: ExtractSettings,
        crawl_id: str | None,
        byte_range: tuple[int, int] | None = None,
        on_crawl_id: Callable[[int, str], None] | None = None,
    ) -> None:
        require_extractor(options.extractor)  # a configuration error must fail the shard, not skip every page
        if not _seekable(stream):
            spool = tempfile.TemporaryFile()
            shutil.copyfileobj(stream, spool, _CHUNK)
            spool.seek(0)
            stream = spool
        self.stream = stream
        self.opt = options
        self.crawl_id = crawl_id
        self.crawl_id_fixed = crawl_id is not None
        if byte_range is not None:
            stream.seek(byte_range[0])
        self.start = stream.tell()
        #: Records starting at or after this offset belong to the next part (None: read to the end).
        self.end = byte_range[1] if byte_range is not None else None
        self.on_crawl_id = on_crawl_id
        self.gzip = stream.read(2) == _GZIP_MAGIC[:2]
        stream.seek(self.start)
        self.size: int | None = None

    # -- the loop ------------------------------------------------------------------------------------------------

    def run(self) -> Iterator[Item]:
        if self._size() <= self.start:
            yield Skipped(self.start, "empty_file", "the input holds no bytes")
            return
        end = self._size() if self.end is None else self.end
        it_start = self.start
        it = self._iterator(it_start)
        last: int | None = None  # offset of the last record this iterator gave us
        pending: Item | None = None  # held back one record: damage found next may be this record's fault
        while True:
            try:
                rec = next(it)
                pos = rec.stream_pos
                if pos >= end:  # the next part's first record
                    if pending is not None:
                        yield pending
                    return
                try:
                    item = self._record(rec)
                except OSError:
                    raise  # the stream failed under the payload reader: damage, handled below
                except Exception as e:  # noqa: BLE001 — a record we cannot use must not stop the shard
                    item = Skipped(pos, "malformed_record", f"unusable record: {type(e).__name__}: {e}")
            except StopIteration:
                if pending is not None:
                    yield pending
                    pending = None
                resume = self._check_end(it_start if last is None else last)
                if resume is None:
                    return
                skipped, it_start = resume
                if skipped is not None and _before(skipped, end):
                    yield skipped
                if it_start >= end:
                    return
            except BaseException as e:  # any reader failure is damage to report, never fatal
                if not _reader_failure(e):
                    raise
                reports, at = self._diagnose(it_start if last is None else last, pending, e)
                pending = None
                yield from (r for r in reports if _before(r, end))
                if at is None or at >= end:
                    return
                it_start = at
            else:
                nxt = None
                if isinstance(item, Skipped) and item.reason in ("oversized", "truncated"):
                    # Past the record by its raw framing, not through FastWARC: it would read (and content-decode)
                    # the rest of an oversized record, which lost every record after a large gzip-encoded one, and
                    # after a payload shorter than its Content-Length it stumbles on the next record.
                    nxt = self._record_end(pos)
                    if nxt is not None and item.reason == "truncated":  # the record is whole: its length lies
                        item = Skipped(pos, "malformed_record", f"Content-Length larger than the record: {item.detail}",
                                       item.url)  # fmt: skip
                if item is not None:
                    if pending is not None:
                        yield pending
                    pending = item
                last = pos
                if nxt is None:
                    continue
                if nxt >= end:
                    if pending is not None:
                        yield pending
                    return
                it_start = nxt
            it, last = self._iterator(it_start), None

    def _iterator(self, at: int) -> Iterator[WarcRecord]:
        self.stream.seek(at)
        return iter(ArchiveIterator(self.stream, record_types=_WANTED, parse_http=True, auto_decode="all"))

    # -- one record ----------------------------------------------------------------------------------------------

    def _record(self, rec: WarcRecord) -> Item | None:
        """Turn one record into a Document or a Skipped (None for warcinfo). Reads the payload before returning."""
        rtype = rec.record_type
        if rtype == WarcRecordType.response:
            return self._response(rec)
        if rtype == WarcRecordType.conversion:
            return self._conversion(rec)
        if not self.crawl_id_fixed:  # warcinfo
            fields = HeaderMap()
            fields.parse(rec.reader, has_status_line=False)
            found = fields.get("isPartOf")
            if found:
                self.crawl_id = found
                if self.on_crawl_id is not None:
                    self.on_crawl_id(rec.stream_pos, found)
        return None

    def _response(self, rec: WarcRecord) -> Item:
        pos = rec.stream_pos
        url = rec.headers.get("WARC-Target-URI")
        if not rec.is_http_parsed:
            return self._broken_header(rec, url, "HTTP headers missing or cut short")
        status = rec.http_headers.status_code
        if status is None:
            return self._broken_header(rec, url, "HTTP status line could not be parsed")
        if not 200 <= status < 300:
            return Skipped(pos, "http_status", f"HTTP {status}", url)
        ctype = rec.http_content_type or rec.headers.get("WARC-Identified-Payload-Type")
        ctype = ctype.lower() if ctype else ""
        if ctype not in HTML_TYPES:
            return Skipped(pos, "not_html", f"content type {ctype or '(none)'}", url)
        payload = self._payload(rec, url)
        if isinstance(payload, Skipped):
            return payload
        repairs: tuple[str, ...] = ()
        if (why := _binary_evidence(payload, self.opt.max_control_ratio)) is not None:
            return Skipped(pos, "binary", f"{why} in a {ctype} payload", url)
        if b"\x00" in payload and payload[:2] not in (b"\xff\xfe", b"\xfe\xff"):
            payload, repairs = payload.replace(b"\x00", b""), ("nul_stripped",)
        dec = decode_html(payload, rec.http_charset, max_bad_ratio=self.opt.max_bad_char_ratio)
        if dec.bad_chars > self.opt.max_bad_char_ratio * len(dec.text):
            return Skipped(
                pos,
                "decode_failed",
                f"best candidate {dec.charset} left {dec.bad_chars} replacement characters in {len(dec.text)}",
                url,
            )
        try:
            text, fallback, made = extract_page(dec.text, self.opt)
        except Exception as e:  # noqa: BLE001 — one page the extractor chokes on is a skipped page
            return Skipped(pos, "empty_extraction", f"extractor failed: {type(e).__name__}: {e}", url)
        repairs += made
        doc = self._document(rec, url, "warc", ctype, dec.charset, dec.source, len(payload), text)
        if isinstance(doc, Document):
            doc.full_text_fallback = fallback
            doc.repairs = repairs
        return doc

    def _conversion(self, rec: WarcRecord) -> Item:
        pos = rec.stream_pos
        url = rec.headers.get("WARC-Target-URI")
        payload = self._payload(rec, url)
        if isinstance(payload, Skipped):
            return payload
        try:
            text, source = payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:  # WET text is UTF-8 by definition: count the damage, don't guess
            text, source = payload.decode("utf-8", "replace"), "fallback"
            bad = text.count("\ufffd")
            if bad > self.opt.max_bad_char_ratio * len(text):
                return Skipped(pos, "decode_failed", f"{bad} invalid UTF-8 sequences in {len(text)} chars", url)
        ctype = (rec.headers.get("Content-Type") or "text/plain").split(";", 1)[0].strip().lower()
        repairs: tuple[str, ...] = ()
        if "\x00" in text:
            text, repairs = text.replace("\x00", ""), ("nul_stripped",)
        doc = self._document(rec, url, "wet", ctype, "utf-8", source, len(payload), text.strip())
        if isinstance(doc, Document):
            doc.repairs = repairs
        return doc

    def _payload(self, rec: WarcRecord, url: str | None) -> bytes | Skipped:
        """The payload, read at most cap+1 bytes; oversized and cut-short payloads become a Skipped."""
        cap = self.opt.max_payload_bytes
        length = rec.content_length
        if length == 0 and rec.headers.get("Content-Length") is None:
            return self._broken_header(rec, url, "WARC header has no Content-Length")
        if length > cap:
            return Skipped(rec.stream_pos, "oversized", f"{length} bytes > cap {cap}", url)
        payload = rec.reader.read(cap + 1)
        n = len(payload)
        if n > cap:  # decoded content grew past the cap
            return Skipped(rec.stream_pos, "oversized", f"more than {cap} bytes after content decoding", url)
        if n < length and not self._content_decoded(rec):
            return Skipped(rec.stream_pos, "truncated", f"payload cut short: {n} of {length} bytes", url)
        return payload

    @staticmethod
    def _content_decoded(rec: WarcRecord) -> bool:
        """Whether FastWARC undid a transfer/content encoding (the payload length then differs legitimately)."""
        if not rec.is_http_parsed:
            return False
        h = rec.http_headers
        return h.get("Content-Encoding") is not None or h.get("Transfer-Encoding") is not None

    def _too_short(self, text: str) -> bool:
        return too_short(text, self.opt.min_text_chars)

    def _broken_header(self, rec: WarcRecord, url: str | None, what: str) -> Skipped:
        """A record whose headers are unusable: truncated if the record (or its gzip member) is cut short, else
        malformed. Re-reads the record, but only for such records."""
        live = self.stream.tell()  # FastWARC is mid-stream on the same file object: put it back where it was
        try:
            cut = self._extent(rec.stream_pos)[1] == "cut"
        finally:
            self.stream.seek(live)
        return Skipped(rec.stream_pos, "truncated" if cut else "malformed_record", what, url)

    def _document(
        self, rec: WarcRecord, url: str | None, fmt: str, ctype: str, charset: str, source: str, size: int, text: str
    ) -> Item:
        pos = rec.stream_pos
        if self._too_short(text):
            size = latin_char_equivalents(text)
            return Skipped(
                pos, "empty_extraction", f"{size:.1f} English-equivalent chars of text < {self.opt.min_text_chars}", url
            )
        if self.opt.normalize == "NFC":
            # normalize() returns a normalized text as it is after the quick check is_normalized() starts with; a
            # text the check cannot settle is normalized once, not once to compare and again to keep
            text = unicodedata.normalize("NFC", text)
        return Document(
            offset=pos,
            record_id=rec.record_id or "",
            url=url or "",
            date=rec.headers.get("WARC-Date") or "",
            crawl_id=self.crawl_id,
            source_format=fmt,
            content_type=ctype,
            charset=charset,
            charset_source=source,
            payload_bytes=size,
            text=text,
        )

    # -- damage ----------------------------------------------------------------------------------------------------
    # Only reached when FastWARC raised or stopped early: may re-read, but never on the common path.

    def _diagnose(self, base: int, pending: Item | None, err: Exception) -> tuple[list[Item], int | None]:
        """After FastWARC raised: what to report (the held-back record included) and where to resume (None: stop).

        `base` is the offset of the last record read well, or where the failed iterator started.
        """
        msg = f"FastWARC: {type(err).__name__}: {err}"
        keep: list[Item] = [pending] if pending is not None else []
        # FastWARC itself, walking again from the last good record over all record types, finds the last record it
        # can frame; the damage is in that record or right after it.
        seen = self._walk(base)
        where = seen[-1] if seen else None
        at, reason, detail = self._locate(where, base, msg)
        report = Skipped(at, reason, detail)
        if pending is not None and pending.offset == at:  # the record held back is the damaged one
            if isinstance(pending, Skipped) and pending.reason in ("truncated", "malformed_record"):
                out = keep  # already reported as damaged, e.g. its payload was cut short
            else:
                report.url = pending.url
                out = [report]
        else:
            out = keep + [report]
        return out, self._resume_point(at + 1)  # `at` is damaged and at or after `base`: always progress

    def _locate(self, where: int | None, base: int, msg: str) -> tuple[int, str, str]:
        """(offset, reason, detail) of the damage, given the last record FastWARC could frame (None: not even one)."""
        if where is not None:
            end, state = self._extent(where)
            if state == "cut":
                return where, "truncated", f"record cut short ({msg})"
            if state == "bad_length":
                return where, "malformed_record", f"Content-Length disagrees with the record's length ({msg})"
        else:
            end = base
        if end >= self._size():
            return end, "truncated", f"stream ends mid-record ({msg})"
        if not self.gzip:
            return end, "malformed_record", f"no valid WARC record here ({msg})"
        state = self._member(end)[1]
        if state == "not_gzip":
            nxt = self._next_start(end)
            span = (nxt if nxt is not None else self._size()) - end
            return end, "malformed_record", f"{span} bytes that are not a gzip member ({msg})"
        if state == "cut":
            return end, "truncated", f"gzip member cut short ({msg})"
        if state == "corrupt":
            return end, "malformed_record", f"corrupt gzip member ({msg})"
        return end, "malformed_record", f"gzip member holds no valid WARC record ({msg})"

    def _check_end(self, base: int) -> tuple[Skipped | None, int] | None:
        """After FastWARC ended cleanly: is there a record it could still read that it never reached?

        Gzip: FastWARC stops silently at an empty gzip member. Uncompressed: a record cut short in mid-file swallows
        the records after it as its payload (already reported as truncated); the records inside are resumed.
        """
        seen = self._walk(base)
        if self.gzip:
            end = self._member(seen[-1])[0] if seen else base
            if end >= self._size():
                return None
            at = self._resume_point(end)
            if at is None:
                return None
            detail = f"FastWARC stopped here before the end of the file; resumed at {at}"
            return Skipped(end, "malformed_record", detail), at
        if not seen or self._extent(seen[-1])[1] != "cut":
            return None
        at = self._resume_point(seen[-1] + 1)
        return None if at is None else (None, at)

    def _record_end(self, at: int) -> int | None:
        """Where the next record starts after the one at `at`, from the raw framing (its gzip member, or its WARC
        header and Content-Length); None when that cannot be told (a gzip member holding several records)."""
        end, state = self._member(at) if self.gzip else self._extent(at)
        if state != "ok":
            return None
        if end >= self._size() or self._resume_point(end) == end:
            return end
        return None

    def _resume_point(self, frm: int) -> int | None:
        """The first offset at or after `frm` where FastWARC reads a record starting exactly there, or None."""
        pos = frm
        while (cand := self._next_start(pos)) is not None:
            self.stream.seek(cand)
            try:
                if next(iter(ArchiveIterator(self.stream, parse_http=False))).stream_pos == cand:
                    return cand
            except Exception:  # noqa: BLE001 — not a record start (e.g. magic bytes inside compressed data)
                pass
            pos = cand + 1
        return None

    def _walk(self, at: int) -> list[int]:
        """Offsets of the records FastWARC frames from `at` on, any type, until it fails or stops."""
        self.stream.seek(at)
        seen: list[int] = []
        try:
            for rec in ArchiveIterator(self.stream, parse_http=False):
                seen.append(rec.stream_pos)
        except Exception:  # noqa: BLE001 — the failure being located
            pass
        return seen

    def _extent(self, at: int) -> tuple[int, str]:
        """(end offset, state) of the record at `at`; state is "ok", "cut" or "bad_length" (Content-Length lies)."""
        if self.gzip:
            end, state = self._member(at)
            if state != "ok":
                return end, "cut" if state == "cut" else "bad_length"
            self.stream.seek(at)
            data = zlib.decompress(self.stream.read(end - at), wbits=31)
            head, n = _parse_warc_head(io.BytesIO(data))
            length = _content_length(head)
            if length is None or len(data) != n + length + 4:
                return end, "bad_length" if len(data) > n else "cut"
            return end, "ok"
        self.stream.seek(at)
        head, n = _parse_warc_head(self.stream)
        length = _content_length(head)
        if length is None:
            return at + n, "cut" if at + n >= self._size() else "bad_length"
        end = at + n + length + 4
        if end > self._size():
            return self._size(), "cut"
        return end, "ok" if self._read_at(end - 4, 4) == b"\r\n\r\n" else "bad_length"

    def _member(self, at: int) -> tuple[int, str]:
        """(end offset, state) of the gzip member at `at`: "ok", "not_gzip", "corrupt", or "cut" — the file ends
        inside it, or its deflate data stop making sense exactly where a new member begins."""
        if self._read_at(at, 2) != _GZIP_MAGIC[:2]:
            return at, "not_gzip"
        boundary = self._next_start(at + 1)
        d = zlib.decompressobj(wbits=31)
        pos, crossed = at, False
        self.stream.seek(at)
        while not d.eof:
            limit = boundary - pos if boundary is not None and boundary > pos else _CHUNK
            chunk = self.stream.read(min(_CHUNK, limit))
            if not chunk:
                return pos, "cut"
            try:
                d.decompress(chunk, _CHUNK)
                while d.unconsumed_tail and not d.eof:
                    d.decompress(d.unconsumed_tail, _CHUNK)
            except zlib.error:
                return pos, "cut" if crossed else "corrupt"
            pos += len(chunk)
            if boundary is not None and pos >= boundary and not d.eof:
                crossed = True
                boundary = self._next_start(pos + 1)
                self.stream.seek(pos)
        return pos - len(d.unused_data), "ok"

    def _next_start(self, frm: int) -> int | None:
        """The next offset at or after `frm` that looks like a record start: gzip magic, or a WARC/1.x line."""
        needle = _GZIP_MAGIC if self.gzip else _WARC_START
        pos = frm
        while True:
            self.stream.seek(pos)
            block = self.stream.read(_CHUNK + len(needle))
            i = block.find(needle)
            if i >= 0:
                return pos + i
            if len(block) <= len(needle):
                return None
            pos += _CHUNK

    def _read_at(self, at: int, n: int) -> bytes:
        self.stream.seek(at)
        return self.stream.read(n)

    def _size(self) -> int:
        if self.size is None:
            self.size = self.stream.seek(0, 2)
        return self.size


def too_short(text: str, limit: int) -> bool:
    """Whether `text` is below `limit` English-equivalent characters (counted only near the limit)."""
    if len(text) >= limit / MIN_LATIN_WEIGHT:
        return False
    return not text or latin_char_equivalents(text) < limit


def extract_page(html: str, opt: ExtractSettings) -> tuple[str, bool, tuple[str, ...]]:
    """A decoded page's text as the extract stage keeps it, and how: (text, fell back to all visible text, the
    repairs made: ``main_content_recovered`` or ``deep_dom_plain_text``, then ``repeated_lines_dropped``). May raise
    what the extractor raises."""
    text, fallback, repair = _page_text(html, opt)
    repairs = (repair,) if repair else ()
    if opt.main_content and opt.drop_repeated_lines:
        text, dropped = drop_repeated_lines(text)
        if dropped:
            repairs += ("repeated_lines_dropped",)
    return text, fallback, repairs


def _page_text(html: str, opt: ExtractSettings) -> tuple[str, bool, str | None]:
    tree = HTMLTree.parse(html) if opt.extractor == "resiliparse" else None
    kw = {"extractor": opt.extractor, "comments": opt.comments, "tree": tree}
    if tree is not None and opt.main_content and dom_deeper_than(tree, opt.max_dom_depth):
        # main content would take minutes on such a page: all visible text is linear, boilerplate lines removed
        text = html_to_text(html, main_content=False, **kw).strip()
        return (remove_boilerplate(text, frozenset()) if opt.remove_boilerplate else text), False, "deep_dom_plain_text"
    text = html_to_text(html, main_content=opt.main_content, **kw).strip()
    if not opt.main_content:
        return text, False, None
    resiliparse = opt.extractor == "resiliparse"
    anchors = anchor_texts(html) if resiliparse and (opt.remove_boilerplate or opt.recover_truncated) else frozenset()
    if resiliparse and opt.remove_boilerplate:
        text = remove_boilerplate(text, anchors)
    short = too_short(text, opt.min_text_chars)
    check_truncated = resiliparse and opt.recover_truncated and len(text) < RECOVER_BELOW_CHARS
    if not (short and opt.main_content_fallback) and not check_truncated:
        return text, False, None
    full = html_to_text(html, main_content=False, **kw).strip()
    if (
        check_truncated
        and looks_truncated(text, full)
        # prose that is the comment section the options leave out is not a truncated article
        and (opt.comments or looks_truncated(html_to_text(html, main_content=True, **(kw | {"comments": True})), full))
    ):
        recovered = recover_article(full, anchors)
        if len(recovered) > 2 * len(text) and not too_short(recovered, opt.min_text_chars):  # it did find more
            return recovered, False, "main_content_recovered"
    if short and opt.main_content_fallback:
        return full, True, None
    return text, False, None


def _parse_warc_head(stream: BinaryIO) -> tuple[HeaderMap, int]:
    """A WARC header block parsed by FastWARC, and its length in bytes (blank line included)."""
    head = HeaderMap()
    n = head.parse(stream, has_status_line=True)
    return head, n


def _content_length(head: HeaderMap) -> int | None:
    try:
        return int(head.get("Content-Length") or "")
    except ValueError:
        return None


def _binary_evidence(payload: bytes, max_control_ratio: float) -> str | None:
    """Why a payload is binary data rather than text (None: it is text). UTF-16 with a BOM is text."""
    if payload.lstrip()[:16].startswith(_MAGIC):
        return "a binary file signature"
    if b"\x00" not in payload or payload[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    control = len(payload) - len(payload.translate(None, _CONTROL))
    if control > max_control_ratio * len(payload):
        return f"{control} control bytes in {len(payload)}"
    return None


def _before(item: Item, end: int) -> bool:
    """Whether an item belongs to a part that ends at `end` (records from `end` on are the next part's)."""
    return item.offset is None or item.offset < end


def _reader_failure(e: BaseException) -> bool:
    """Errors that mean damaged input: exceptions, and FastWARC's Rust panics (a BaseException) — not interrupts."""
    return isinstance(e, Exception) or type(e).__name__ == "PanicException"


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False
