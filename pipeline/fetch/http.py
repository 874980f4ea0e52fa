"""Robust download of large gzip files (Common Crawl WARC/WET/WAT shards, ~1 GB each) over HTTP(S).

Shards are fetched by many workers for hours, so every failure a CDN or a long transfer can produce is expected:
5xx and 429 answers, refused or reset connections, stalls, bodies that end early, a server that ignores `Range`,
and (rarely, but it ruins a corpus silently) bytes that arrive corrupt. `fetch_file` streams into `<dest>.part`,
resumes it with `Range: bytes=N-` after a transient failure, and renames it to `dest` only once its size equals the
server's total and, by default, every gzip member decompresses with a correct CRC. Whatever happens, `dest` either
does not exist or is a complete, verified file.

Ray-free by design: the download stage (`pipeline.stages.download`) plans the shards and handles remote targets.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import http.client
import os
import random
import re
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3

__all__ = [
    "FetchError",
    "FetchResult",
    "check_crawl_id",
    "fetch_file",
    "read_paths_list",
    "select_paths",
    "verify_gzip_file",
    "GzipCheckError",
]

KINDS = ("warc", "wet", "wat")
SELECT_MODES = ("first", "sample", "list")
CC_CRAWL_ID = re.compile(r"^CC-MAIN-(\d{4})-(\d{2})$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Answers worth retrying: the server or something before it is overloaded or timed out, not the request wrong.
_RETRY_4XX = frozenset({408, 429})
# Errors raised while connecting or reading the body; all mean "the transfer broke", so resume and retry.
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,  # ProtocolError (IncompleteRead, reset), ReadTimeoutError, ...
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)
# Request errors that no retry can fix.
_PERMANENT_REQUEST_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.TooManyRedirects,
)


class FetchError(RuntimeError):
    """A download that failed permanently (4xx) or ran out of attempts; `dest` was not created."""

    def __init__(self, url: str, reason: str, attempts: int) -> None:
        self.url = url
        self.reason = reason
        self.attempts = attempts
        super().__init__(f"fetch {url} failed after {attempts} attempt{'s' if attempts != 1 else ''}: {reason}")

    def __reduce__(self):  # noqa: ANN204 - keeps the three fields when Ray pickles the error to the driver
        return (type(self), (self.url, self.reason, self.attempts))


class GzipCheckError(ValueError):
    """The file is not a complete, intact gzip stream (bad header, bad deflate data, CRC/length mismatch, cut)."""


@dataclass(frozen=True)
class FetchResult:
    """A verified file at `path`: its size, SHA-256, how many HTTP attempts it took and whether a Range resume
    contributed bytes to it (from this call or from a `.part` left by an earlier, killed run)."""

    path: Path
    bytes: int
    sha256: str
    attempts: int
    resumed: bool


# ---------------------------------------------------------------------------------------------------- gzip check


# zlib hands back the bytes after a member's end as a fresh copy (`unused_data`), so feeding it a whole 1 MiB read
# copies ~0.5 MiB per member; Common Crawl writes one member per record (a few KB). Feeding 64 KiB slices bounds
# that copy: measured 1.2x faster on a WARC-like mix (7.5 KB members), 1.7x on 2.7 KB members, ~1.0x on 1 MB
# members (best of 3, shared 2-core machine under load).
_GZIP_FEED_BYTES = 64 * 1024


def verify_gzip_file(path: str | Path, *, chunk_bytes: int = 1 << 20) -> int:
    """Decompress every gzip member of `path` (output discarded, constant memory); return the member count.

    zlib checks each member's CRC-32 and length, so a flipped byte anywhere is caught. Trailing NUL padding is
    accepted (as gzip(1) does); any other trailing bytes must form further valid members. Raises `GzipCheckError`.
    Reads `chunk_bytes` at a time and decompresses them in 64 KiB slices: ~100-115 MB/s of compressed input on
    multi-member WARC-like files here (gzip -t: 55-72 MB/s), i.e. ~10 s of one core per 1 GB shard.
    """
    out_max = 1 << 20
    members = 0
    offset = 0  # compressed bytes fed so far, for the error message
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    started = False  # has the current decompressor been fed any byte of a member?
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            for start in range(0, len(block), _GZIP_FEED_BYTES):
                data = block[start:start + _GZIP_FEED_BYTES]
                offset += len(data)
                while True:
                    if not started:
                        data = data.lstrip(b"\x00")
                        if not data:
                            break
                        started = True
                    try:
                        out = d.decompress(data, out_max)
                    except zlib.error as e:
                        raise GzipCheckError(
                            f"corrupt gzip in member {members + 1} (near byte {offset:,}): {e}"
                        ) from None
                    if d.eof:
                        members += 1
                        data = d.unused_data
                        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        started = False
                        continue
                    data = d.unconsumed_tail
                    if not data and len(out) < out_max:
                        break  # needs more input; a full output buffer may still hold pending bytes: loop on then
    if started:
        raise GzipCheckError(f"gzip ends inside member {members + 1} after {offset:,} bytes (truncated)")
    if members == 0:
        raise GzipCheckError("no gzip member in the file" if offset else "empty file, not gzip")
    return members


# ------------------------------------------------------------------------------------------------- HTTP helpers


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)


def _parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """(first, last, total) from `Content-Range: bytes first-last/total` or `bytes */total`; None for unknowns."""
    m = _CONTENT_RANGE.match(value or "")
    if not m:
        return None, None, None
    first = int(m.group(1)) if m.group(1) is not None else None
    last = int(m.group(2)) if m.group(2) is not None else None
    total = int(m.group(3)) if m.group(3) != "*" else None
    return first, last, total


def _content_length(resp: requests.Response) -> int | None:
    value = resp.headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _validator(resp: requests.Response) -> str | None:
    """A strong validator for `If-Range` (strong ETag, else Last-Modified), so a resume never splices two versions."""
    etag = resp.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return resp.headers.get("Last-Modified")


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


class _Retry(Exception):
    """Internal: this attempt failed in a way another attempt may fix.

    `delay_s` overrides the backoff (a `Retry-After`); `immediate` skips it (the server is fine, only our part was
    unusable); `discard` throws the part away first (it can't be continued: corrupt, too long, another version).
    """

    def __init__(self, reason: str, *, delay_s: float | None = None, immediate: bool = False, discard: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.delay_s = delay_s
        self.immediate = immediate
        self.discard = discard


class _Permanent(Exception):
    """Internal: an answer no retry can fix (4xx other than 408/416/429, an invalid URL)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _short(e: BaseException) -> str:
    """One line naming an exception (requests' messages span lines and repeat the URL)."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__


def _raw_chunks(resp: requests.Response, chunk_bytes: int) -> Iterator[bytes]:
    """The body's raw bytes (never content-decoded) as they arrive: `read1` hands over what one socket read got,
    so a connection reset loses nothing already received (a full-size `read` would drop its partial chunk)."""
    raw = resp.raw
    if not hasattr(raw, "read1"):  # urllib3 < 2.3
        yield from raw.stream(chunk_bytes, decode_content=False)
        return
    while chunk := raw.read1(chunk_bytes, decode_content=False):
        yield chunk


# ------------------------------------------------------------------------------------------------------- fetch


class _Download:
    """The state one `fetch_file` call carries across attempts: the part's running hash, the server's size and
    validator, and whether a Range resume contributed to the part."""

    def __init__(
        self,
        url: str,
        part: Path,
        session: requests.Session,
        timeout_s: float,
        chunk_bytes: int,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        self.url = url
        self.part = part
        self.session = session
        self.timeout_s = timeout_s
        self.chunk_bytes = chunk_bytes
        self.on_progress = on_progress
        self.sha = hashlib.sha256()  # over part[0:hashed]
        self.hashed = 0
        self.total: int | None = None  # the server's full size, once known
        self.validator: str | None = None  # ETag / Last-Modified of the version being assembled
        self.resumed = False

    def reset(self) -> None:
        """Throw the part away: the next attempt starts from byte 0."""
        _remove(self.part)
        self.sha, self.hashed, self.resumed = hashlib.sha256(), 0, False

    def sync(self) -> int:
        """Bytes in the part, with the hash covering exactly them: the part is re-read only when it was not written
        by this call (a `.part` from a killed run), so a resume never hashes the same bytes twice."""
        try:
            size = self.part.stat().st_size
        except FileNotFoundError:
            size = 0
        if size != self.hashed:
            self.sha, self.hashed = hashlib.sha256(), 0
            with open(self.part, "rb") as f:
                while block := f.read(self.chunk_bytes):
                    self.sha.update(block)
                    self.hashed += len(block)
        return self.hashed

    def attempt(self) -> None:
        """One HTTP request. On return the part holds the whole file as far as this response tells;
        raises `_Retry` or `_Permanent` otherwise."""
        offset = self.sync()
        headers = {"Accept-Encoding": "identity"}  # the raw .gz bytes, never a transfer-decoded body
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if self.validator:
                headers["If-Range"] = self.validator
        try:
            resp = self.session.get(self.url, headers=headers, stream=True, timeout=(self.timeout_s, self.timeout_s))
        except _PERMANENT_REQUEST_ERRORS as e:
            raise _Permanent(f"bad request: {_short(e)}") from None
        except _NETWORK_ERRORS as e:
            raise _Retry(f"request failed: {_short(e)}") from None
        with resp:
            self._receive(resp, offset)

    def _receive(self, resp: requests.Response, offset: int) -> None:
        status = resp.status_code
        what = f"HTTP {status} {resp.reason or ''}".strip()
        if status == 416:
            _, _, total = _parse_content_range(resp.headers.get("Content-Range"))
            if total is not None and total == offset:
                self.total = total  # the part already holds every byte (a run killed just before the rename)
                self.resumed = True
                return
            size = f"{total:,}" if total is not None else "unknown"
            raise _Retry(f"{what} for a {offset:,}-byte part (server size {size}); starting over", immediate=True,
                         discard=True)
        if status in _RETRY_4XX or status >= 500:
            wait = _parse_retry_after(resp.headers.get("Retry-After")) if status in (429, 503) else None
            raise _Retry(what, delay_s=wait)
        if 400 <= status < 500:
            raise _Permanent(what)
        if status == 200:
            # a full body: the first request, a server that ignores Range, or an If-Range saying the file changed
            self.sha, self.hashed, self.resumed = hashlib.sha256(), 0, False
            expected = _content_length(resp)
            self.total = expected  # None (chunked): then a clean end and the gzip check vouch for the file
            mode = "wb"
        elif status == 206:
            first, last, total = _parse_content_range(resp.headers.get("Content-Range"))
            if first is None or last is None or first != offset:
                got = resp.headers.get("Content-Range")
                raise _Retry(f"asked for bytes={offset}- but got Content-Range {got!r}; starting over", immediate=True,
                             discard=True)
            if total is not None and self.total is not None and total != self.total:
                raise _Retry(f"server size changed from {self.total:,} to {total:,} bytes; starting over",
                             immediate=True, discard=True)
            if total is not None:
                self.total = total
            expected = last + 1 - first
            mode = "ab"
        else:
            raise _Retry(f"unexpected {what}")
        validator = _validator(resp)
        if validator:
            self.validator = validator
        if status == 206 and offset:
            self.resumed = True
        got = 0
        with open(self.part, mode) as f:
            chunks = _raw_chunks(resp, self.chunk_bytes)
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration:
                    break
                except _NETWORK_ERRORS as e:
                    raise _Retry(f"transfer broke after {offset + got:,} bytes: {_short(e)}") from None
                if not chunk:
                    continue
                f.write(chunk)
                self.sha.update(chunk)
                self.hashed += len(chunk)
                got += len(chunk)
                if self.on_progress is not None:
                    self.on_progress(len(chunk))
        if expected is not None and got < expected:
            raise _Retry(f"body cut short: {offset + got:,} of {offset + expected:,} bytes")

    def finish(self, dest: Path, verify_gzip: bool, attempts: int) -> FetchResult:
        """Check size and gzip integrity, make the part durable, and give it the final name."""
        size = self.sync()
        if self.total is not None and size != self.total:
            if size < self.total:
                raise _Retry(f"body cut short: {size:,} of {self.total:,} bytes")
            raise _Retry(f"got {size:,} bytes but the server's size is {self.total:,}; starting over", discard=True)
        if verify_gzip:
            try:
                verify_gzip_file(self.part, chunk_bytes=self.chunk_bytes)
            except GzipCheckError as e:
                raise _Retry(f"{e}; discarded, downloading again from scratch", discard=True) from None
        with open(self.part, "rb+") as f:  # durable before it gets the final name the stage's record points to
            os.fsync(f.fileno())
        os.replace(self.part, dest)
        return FetchResult(dest, size, self.sha.hexdigest(), attempts, self.resumed)


def fetch_file(
    url: str,
    dest: str | Path,
    *,
    retries: int = 6,
    backoff_s: float = 1.0,
    max_backoff_s: float = 60.0,
    timeout_s: float = 60.0,
    chunk_bytes: int = 1 << 20,
    verify_gzip: bool = True,
    session: requests.Session | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> FetchResult:
    """Download `url` to the local path `dest`, resuming and retrying until the file is complete and verified.

    Up to `1 + retries` HTTP requests. Transient failures (5xx, 408, 429, connection errors, `timeout_s` without a
    byte, bodies cut short, a corrupt gzip) wait `backoff_s * 2**k`, jittered to 50-100 % (deterministic per URL,
    so parallel workers spread apart), capped at `max_backoff_s`; a `Retry-After` on 429/503 replaces that wait
    (also capped, so a bad header cannot park a worker for hours). The next request resumes `<dest>.part` with
    `Range` (and `If-Range`, so a changed file is never spliced). A 200 to a Range request restarts from zero; a
    416 means the part is already complete (then only verified) or longer than the file (then redone at once).
    The result must match the server's total size and, with `verify_gzip`, decompress cleanly member by member;
    a corrupt file is discarded and fetched again from scratch. Other 4xx answers raise at once.

    A `.part` left by a killed run is resumed (its bytes are hashed first). `on_progress(n)` gets each chunk's
    byte count (bytes transferred: a restart counts again). One writer per `dest` at a time.

    On failure raises `FetchError`; `dest` is then untouched. The `.part` survives only as a resumable prefix
    (after transient errors, or 401/403): it is removed when corrupt, too long, or the file is gone (404/410).
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if chunk_bytes <= 0:
        raise ValueError(f"chunk_bytes must be > 0, got {chunk_bytes}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    dest = Path(dest)
    if dest.is_dir():
        raise ValueError(f"fetch destination {dest} is a directory; give a file path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    max_attempts = 1 + retries
    rng = random.Random(zlib.crc32(url.encode()))
    own_session = session is None
    dl = _Download(url, part, session or requests.Session(), timeout_s, chunk_bytes, on_progress)
    failures = 0
    reason = "no attempt made"
    try:
        for attempt in range(1, max_attempts + 1):
            try:
                dl.attempt()
                return dl.finish(dest, verify_gzip, attempt)
            except _Permanent as p:
                if p.reason.startswith(("HTTP 404", "HTTP 410")):
                    dl.reset()
                raise FetchError(url, p.reason, attempt) from None
            except _Retry as r:
                reason = r.reason
                if r.discard:
                    dl.reset()
                if attempt == max_attempts or r.immediate:
                    continue
                failures += 1
                if r.delay_s is not None:
                    delay = min(max_backoff_s, r.delay_s)
                else:
                    delay = min(max_backoff_s, backoff_s * 2 ** (failures - 1)) * (0.5 + 0.5 * rng.random())
                if delay > 0:
                    time.sleep(delay)
        raise FetchError(url, reason, max_attempts)
    finally:
        if own_session:
            dl.session.close()


# ------------------------------------------------------------------------------------------------- path lists


def check_crawl_id(crawl: str, *, strict: bool = False) -> str:
    """Return `crawl` if usable as a crawl id, else raise ValueError saying what is wrong.

    Common Crawl ids are `CC-MAIN-YYYY-WW`; a near miss of that form (`CC-MAIN-2024-1`, `cc-main-2024-10`) is
    rejected as a typo. Other ids (mirrors, test trees: `CC-MAIN-TEST-01`, `DEMO-2026-47`) pass unless `strict`,
    as long as they are one safe path segment.
    """
    if not isinstance(crawl, str) or not _SAFE_ID.match(crawl):
        raise ValueError(
            f"crawl id {crawl!r} is not a single path segment of letters, digits, '.', '_' and '-' "
            "(expected e.g. CC-MAIN-2024-10)"
        )
    m = CC_CRAWL_ID.match(crawl)
    if m:
        year, week = int(m.group(1)), int(m.group(2))
        if not (2008 <= year <= 2100 and 1 <= week <= 53):
            raise ValueError(f"crawl id {crawl!r} has year {year} / week {week} out of range (CC-MAIN-YYYY-WW)")
        return crawl
    if re.match(r"^CC-MAIN-\d+-\d+$", crawl, re.IGNORECASE):
        raise ValueError(f"crawl id {crawl!r} is not of the form CC-MAIN-YYYY-WW (e.g. CC-MAIN-2024-10)")
    if strict:
        raise ValueError(
            f"crawl id {crawl!r} is not a Common Crawl id CC-MAIN-YYYY-WW; pass strict_crawl_id=False "
            "for a mirror or test tree with other ids"
        )
    return crawl


def read_paths_list(
    base_url: str, crawl: str, kind: str, *, strict_crawl_id: bool = False, **fetch_kwargs: object
) -> list[str]:
    """Fetch and gunzip `{base_url}/crawl-data/{crawl}/{kind}.paths.gz`; return its relative shard paths in order.

    Goes through `fetch_file` (same retries and gzip check; `fetch_kwargs` are passed on) into a temporary
    directory. Paths that are absolute or climb with `..` are refused, since the stage mirrors them below its
    work directory.
    """
    check_crawl_id(crawl, strict=strict_crawl_id)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", base_url):
        raise ValueError(f"base_url must be an absolute URL like https://data.commoncrawl.org, got {base_url!r}")
    url = f"{base_url.rstrip('/')}/crawl-data/{crawl}/{kind}.paths.gz"
    with tempfile.TemporaryDirectory(prefix="polyglot-paths-") as tmp:
        res = fetch_file(url, Path(tmp) / f"{kind}.paths.gz", **fetch_kwargs)  # type: ignore[arg-type]
        try:
            with gzip.open(res.path, "rt", encoding="utf-8", newline="") as f:
                text = f.read()
        except (OSError, EOFError, UnicodeDecodeError) as e:
            raise ValueError(f"{url} is not a gzipped UTF-8 path list: {_short(e)}") from None
    paths = [line.strip() for line in text.splitlines() if line.strip()]
    if not paths:
        raise ValueError(f"{url} lists no paths")
    bad = [p for p in paths if p.startswith("/") or "://" in p or ".." in p.split("/")]
    if bad:
        raise ValueError(f"{url} holds {len(bad)} path(s) that are not relative, e.g. {bad[0]!r}")
    return paths


def select_paths(
    paths: Sequence[str],
    *,
    mode: str,
    n: int | None = None,
    seed: int = 0,
    explicit: list[str] | None = None,
) -> list[str]:
    """Choose shards from a path list: the `first` n, a seeded random `sample` of n, or an `explicit` `list`.

    `sample` is deterministic for a given (list, n, seed) and keeps the list's order, so reruns pick the same
    shards and neighbouring segments stay together. `list` returns the explicit paths in the order given
    (duplicates dropped) and names every one that the list lacks.
    """
    if mode not in SELECT_MODES:
        raise ValueError(f"selection mode must be one of {', '.join(SELECT_MODES)}; got {mode!r}")
    paths = list(paths)
    if mode == "list":
        if not explicit:
            raise ValueError("selection mode 'list' needs a non-empty list of explicit paths")
        wanted = list(dict.fromkeys(p.strip().lstrip("/") for p in explicit))
        known = set(paths)
        missing = [p for p in wanted if p not in known]
        if missing:
            shown = ", ".join(repr(p) for p in missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise ValueError(f"{len(missing)} of {len(wanted)} explicit path(s) are not in the crawl's path list: {shown}")
        return wanted
    if explicit:
        raise ValueError(f"explicit paths are only used with mode 'list', not {mode!r}")
    if n is None or isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"selection mode {mode!r} needs n >= 1 (how many shards); got {n!r}")
    if n > len(paths):
        raise ValueError(f"asked for {n} shards but the path list has only {len(paths)}")
    if mode == "first":
        return paths[:n]
    chosen = sorted(random.Random(seed).sample(range(len(paths)), n))
    return [paths[i] for i in chosen]
