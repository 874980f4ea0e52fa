"""A local Common-Crawl-like HTTP server with fault injection, and a builder for the tree it serves.

Download code must survive what a CDN does to a ~1 GB transfer; these faults reproduce each failure on a real
socket (no mocked `requests`), so the client's actual resume, timeout and verification paths run. The server binds
only to 127.0.0.1 on an ephemeral port.

    tree = build_cc_tree(tmp_path)                       # crawl-data/CC-MAIN-TEST-01/{warc,wet,wat}.paths.gz + shards
    with CCServer(tree.root, tree=tree) as srv:
        srv.drop_after(tree.paths["warc"][0], 50_000)    # reset the connection after 50 kB, once
        fetch_file(srv.url_for(tree.paths["warc"][0]), dest)
        assert srv.ranges_for(tree.paths["warc"][0]) == [None, "bytes=50000-"]

Faults are programmed per path and consumed by GET requests in the order they were added (one per request);
`times=None` means every request. `ignore_range` is a modifier and combines with the others.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import random
import socket
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

HOST = "127.0.0.1"
TEST_CRAWL = "CC-MAIN-TEST-01"
_SEND_BLOCK = 64 * 1024

# ------------------------------------------------------------------------------------------------------ the tree

_SUFFIX = {"warc": ".warc.gz", "wet": ".warc.wet.gz", "wat": ".warc.wat.gz"}
_WORDS = (
    "the of and to in is was for on that with as by at from his her which this be are or it an were not but "
    "data crawl language model corpus token text page web shard segment record archive common night river "
    "mountain village market library window garden yellow quiet rapid ancient modern simple people world"
).split()


@dataclass(frozen=True)
class CCTree:
    """A built tree: its root directory, crawl id and, per kind, the relative paths its `{kind}.paths.gz` lists."""

    root: Path
    crawl: str
    paths: dict[str, list[str]]

    def file(self, rel: str) -> Path:
        return self.root / rel

    def data(self, rel: str) -> bytes:
        return self.file(rel).read_bytes()

    def sha256(self, rel: str) -> str:
        return hashlib.sha256(self.data(rel)).hexdigest()

    def paths_list(self, kind: str) -> str:
        """Relative path of the kind's path list (what `read_paths_list` fetches)."""
        return f"crawl-data/{self.crawl}/{kind}.paths.gz"


def _record(rng: random.Random, kind: str, i: int) -> bytes:
    """One WARC-like record: headers, a few KB of seeded text and a few KB of seeded binary (so it stays big)."""
    words = " ".join(rng.choices(_WORDS, k=rng.randint(300, 700)))
    blob = rng.randbytes(rng.randint(2_000, 6_000))
    head = (
        f"WARC/1.0\r\nWARC-Type: {'conversion' if kind == 'wet' else 'response'}\r\n"
        f"WARC-Target-URI: http://example.test/{kind}/{i}\r\nContent-Length: {len(words) + len(blob)}\r\n\r\n"
    ).encode()
    return head + words.encode() + blob + b"\r\n\r\n"


def _multi_member_gzip(rng: random.Random, kind: str, target_bytes: int) -> bytes:
    """Gzip members, one per record (as Common Crawl writes them), until the file reaches `target_bytes`."""
    parts: list[bytes] = []
    size = 0
    i = 0
    while size < target_bytes or len(parts) < 3:
        member = gzip.compress(_record(rng, kind, i), compresslevel=6, mtime=0)
        parts.append(member)
        size += len(member)
        i += 1
    return b"".join(parts)


def build_cc_tree(
    root: str | Path,
    *,
    crawl: str = TEST_CRAWL,
    kinds: Iterable[str] = ("warc", "wet", "wat"),
    segments: int = 2,
    files_per_segment: int = 2,
    target_bytes: int = 200_000,
    seed: int = 0,
) -> CCTree:
    """Write a small Common-Crawl-shaped tree of real multi-member gzip shards under `root` (deterministic)."""
    root = Path(root)
    rng = random.Random(seed)
    paths: dict[str, list[str]] = {}
    for kind in kinds:
        rels: list[str] = []
        for s in range(segments):
            seg = f"17000000{s:02d}000.{s}"
            for j in range(files_per_segment):
                name = f"{crawl}-2026010{s}0000{j:02d}-{s * files_per_segment + j:05d}{_SUFFIX[kind]}"
                rel = f"crawl-data/{crawl}/segments/{seg}/{kind}/{name}"
                f = root / rel
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(_multi_member_gzip(rng, kind, target_bytes))
                rels.append(rel)
        listing = root / "crawl-data" / crawl / f"{kind}.paths.gz"
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_bytes(gzip.compress(("\n".join(rels) + "\n").encode(), mtime=0))
        paths[kind] = rels
    return CCTree(root, crawl, paths)


def corrupt_bytes(data: bytes) -> bytes:
    """The same bytes with 16 of them inverted in the middle (a gzip CRC or deflate error, never a size change)."""
    out = bytearray(data)
    mid = len(out) // 2
    for i in range(mid, min(mid + 16, len(out))):
        out[i] ^= 0xFF
    return bytes(out)


# ---------------------------------------------------------------------------------------------------- the server


@dataclass
class Fault:
    """One programmed misbehaviour for a path; `times=None` means on every request."""

    kind: str  # status | drop | short | stall | corrupt | ignore_range
    times: int | None = 1
    status: int = 503
    retry_after: str | None = None
    after_bytes: int = 0
    stall_s: float = 0.0

    def live(self) -> bool:
        return self.times is None or self.times > 0

    def use(self) -> None:
        if self.times is not None:
            self.times -= 1


@dataclass(frozen=True)
class RequestRecord:
    """What the server received and answered: path (no leading slash), Range/If-Range headers, status, body bytes
    actually sent, the fault applied (None for a clean answer) and the request's arrival number."""

    method: str
    path: str
    range: str | None
    if_range: str | None
    status: int
    sent: int
    fault: str | None
    seq: int = 0  # arrival order (the log is kept in this order, not in order of completion)


def _norm(path: str) -> str:
    """A path as the server keys it: URL path only, unquoted, without the leading slash."""
    return unquote(urlsplit(path).path).lstrip("/")


def _parse_range(value: str, size: int) -> tuple[int, int] | None | bool:
    """(first, last) for a single `bytes=` range; None if the header is not one we honour (serve 200);
    False if it is unsatisfiable (416)."""
    value = value.strip()
    if not value.startswith("bytes=") or "," in value:
        return None
    spec = value[len("bytes="):].strip()
    a, sep, b = spec.partition("-")
    if not sep:
        return None
    try:
        if a == "":  # suffix: the last b bytes
            n = int(b)
            if n <= 0:
                return False
            return max(0, size - n), size - 1
        first = int(a)
        last = int(b) if b else size - 1
    except ValueError:
        return None
    if first >= size or last < first:
        return False
    return first, min(last, size - 1)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a CDN: a dropped connection must not poison the pool
    server_version = "ccserver/1"
    timeout = 30  # an idle keep-alive connection never holds the server open for longer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.cc._serve(self, head=False)  # type: ignore[attr-defined]

    def do_HEAD(self) -> None:  # noqa: N802
        self.server.cc._serve(self, head=True)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet; the request log is in CCServer
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins handler threads: a clean shutdown
    allow_reuse_address = True

    def __init__(self, cc: CCServer) -> None:
        self.cc = cc
        self.open_conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__((HOST, 0), _Handler)

    def process_request(self, request, client_address):  # noqa: ANN001, ANN201 - socketserver's signature
        with self.conns_lock:
            self.open_conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # noqa: ANN001, ANN201
        with self.conns_lock:
            self.open_conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):  # noqa: ANN001, ANN201
        """Clients that hang up (timeouts, resets) are part of the tests; anything else is printed."""
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class CCServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (ephemeral port) serving the files under `root`, with `Range`
    (206 / 416), ETag / Last-Modified / `If-Range`, programmable per-path faults and a log of every request."""

    def __init__(self, root: str | Path, *, tree: CCTree | None = None) -> None:
        self.root = Path(root).resolve()
        self.tree = tree
        self._faults: dict[str, list[Fault]] = {}
        self._log: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when no request is being answered
        self._busy = 0
        self._arrivals = 0
        self._seq = threading.local()  # the arrival number of the request a handler thread is answering
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------------------------------------- life cycle

    def start(self) -> CCServer:
        if self._httpd is not None:
            raise RuntimeError("CCServer already started")
        self._httpd = _Server(self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"ccserver:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut open connections (stalled or keep-alive), and join every handler thread."""
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with httpd.conns_lock:
            conns = list(httpd.open_conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> CCServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("CCServer not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:41234 (what `download.base_url` would be)."""
        return f"http://{HOST}:{self.port}"

    def url_for(self, rel: str) -> str:
        return f"{self.url}/{_norm(rel)}"

    # ------------------------------------------------------------------------------------------------ faults

    def _add(self, path: str, fault: Fault) -> None:
        if fault.times is not None and fault.times < 1:
            raise ValueError(f"times must be >= 1 or None (always), got {fault.times}")
        with self._lock:
            self._faults.setdefault(_norm(path), []).append(fault)

    def fail(self, path: str, status: int = 503, *, times: int | None = 1, retry_after: float | str | None = None) -> None:
        """Answer `status` (with an optional `Retry-After`) instead of the file, `times` times."""
        ra = None if retry_after is None else (retry_after if isinstance(retry_after, str) else f"{retry_after:g}")
        self._add(path, Fault("status", times, status=status, retry_after=ra))

    def rate_limit(self, path: str, *, retry_after: float | str = 1, times: int | None = 1) -> None:
        """429 Too Many Requests with `Retry-After`."""
        self.fail(path, 429, times=times, retry_after=retry_after)

    def not_found(self, path: str) -> None:
        """404 on every request, even if the file exists."""
        self.fail(path, 404, times=None)

    def drop_after(self, path: str, n_bytes: int, *, times: int | None = 1) -> None:
        """Send headers and `n_bytes` of the body, then reset the connection (TCP RST)."""
        self._add(path, Fault("drop", times, after_bytes=n_bytes))

    def cut_short(self, path: str, n_bytes: int, *, times: int | None = 1) -> None:
        """Advertise the full Content-Length but send only `n_bytes` of the body, then close cleanly (FIN)."""
        self._add(path, Fault("short", times, after_bytes=n_bytes))

    def stall_after(self, path: str, n_bytes: int, seconds: float, *, times: int | None = 1) -> None:
        """Send `n_bytes` of the body, then go silent for `seconds` (a read timeout for the client), then close."""
        self._add(path, Fault("stall", times, after_bytes=n_bytes, stall_s=seconds))

    def corrupt(self, path: str, *, times: int | None = 1) -> None:
        """Serve the file with bytes inverted in its middle (same size, same ETag): a broken gzip."""
        self._add(path, Fault("corrupt", times))

    def ignore_range(self, path: str, *, times: int | None = None) -> None:
        """Answer Range requests with 200 and the full body (combines with the other faults)."""
        self._add(path, Fault("ignore_range", times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # --------------------------------------------------------------------------------------------------- log

    @property
    def requests(self) -> list[RequestRecord]:
        """The log, after waiting (up to `settle_s`) for requests still being answered: a client can have read
        a whole response before the handler thread logged it."""
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout=self.settle_s)
            return sorted(self._log, key=lambda r: r.seq)

    def requests_for(self, path: str) -> list[RequestRecord]:
        key = _norm(path)
        return [r for r in self.requests if r.path == key]

    def ranges_for(self, path: str) -> list[str | None]:
        """The Range header of each GET of `path`, in order (None: no Range)."""
        return [r.range for r in self.requests_for(path) if r.method == "GET"]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # ---------------------------------------------------------------------------------------------- serving

    def _take_faults(self, rel: str, method: str) -> tuple[Fault | None, bool]:
        """The fault this request gets (first live one) and whether Range is ignored; both are consumed."""
        if method != "GET":
            return None, False
        with self._lock:
            faults = self._faults.get(rel, [])
            main = next((f for f in faults if f.kind != "ignore_range" and f.live()), None)
            ign = next((f for f in faults if f.kind == "ignore_range" and f.live()), None)
            if main is not None:
                main.use()
            if ign is not None:
                ign.use()
        return main, ign is not None

    def _record(self, h: BaseHTTPRequestHandler, rel: str, status: int, sent: int, fault: str | None) -> None:
        rec = RequestRecord(h.command, rel, h.headers.get("Range"), h.headers.get("If-Range"), status, sent, fault,
                            self._seq.value)
        with self._lock:
            self._log.append(rec)

    def _resolve(self, rel: str) -> Path | None:
        p = (self.root / rel).resolve()
        if not p.is_relative_to(self.root) or not p.is_file():
            return None
        return p

    settle_s: float = 5.0

    def _serve(self, h: BaseHTTPRequestHandler, *, head: bool) -> None:
        with self._lock:
            self._busy += 1
            self._arrivals += 1
            self._seq.value = self._arrivals
        try:
            self._answer(h, head=head)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _answer(self, h: BaseHTTPRequestHandler, *, head: bool) -> None:
        rel = _norm(h.path)
        fault, ignore_range = self._take_faults(rel, h.command)
        if fault is not None and fault.kind == "status":
            body = f"{fault.status} injected\n".encode()
            h.send_response(fault.status)
            if fault.retry_after is not None:
                h.send_header("Retry-After", fault.retry_after)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if not head:
                h.wfile.write(body)
            self._record(h, rel, fault.status, 0 if head else len(body), f"status:{fault.status}")
            return
        file = self._resolve(rel)
        if file is None:
            body = b"404 not found\n"
            h.send_response(404)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if not head:
                h.wfile.write(body)
            self._record(h, rel, 404, 0 if head else len(body), None)
            return

        data = file.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
        last_modified = email.utils.formatdate(file.stat().st_mtime, usegmt=True)
        if fault is not None and fault.kind == "corrupt":
            data = corrupt_bytes(data)
        size = len(data)
        status, first, last = 200, 0, size - 1
        rng_header = h.headers.get("Range")
        if_range = h.headers.get("If-Range")
        if rng_header and not ignore_range and (if_range is None or if_range in (etag, last_modified)):
            r = _parse_range(rng_header, size)
            if r is False:
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{size}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                self._record(h, rel, 416, 0, None)
                return
            if r is not None:
                status, (first, last) = 206, r
        body = memoryview(data)[first:last + 1]

        h.send_response(status)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Accept-Ranges", "none" if ignore_range else "bytes")
        h.send_header("ETag", etag)
        h.send_header("Last-Modified", last_modified)
        if status == 206:
            h.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        h.end_headers()
        label = fault.kind if fault is not None else None
        if ignore_range and rng_header:
            label = f"{label}+ignore_range" if label else "ignore_range"
        if head:
            self._record(h, rel, status, 0, label)
            return
        limit = len(body) if fault is None or fault.kind == "corrupt" else min(fault.after_bytes, len(body))
        sent = self._send(h, body[:limit])
        if fault is not None and fault.kind in ("drop", "short", "stall"):
            h.wfile.flush()
            h.close_connection = True
            if fault.kind == "drop":
                self._stopping.wait(0.05)  # let the bytes arrive, then RST: a reset, not a clean end
                try:
                    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    h.rfile.close()
                    h.connection.close()
                except OSError:
                    pass
            elif fault.kind == "stall":
                self._stopping.wait(fault.stall_s)
        self._record(h, rel, status, sent, label)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, body: memoryview) -> int:
        """Write the body in blocks; stop quietly when the client has gone (it may have timed out)."""
        sent = 0
        try:
            for i in range(0, len(body), _SEND_BLOCK):
                block = body[i:i + _SEND_BLOCK]
                h.wfile.write(block)
                sent += len(block)
        except OSError:
            h.close_connection = True
        return sent


__all__ = [
    "CCServer",
    "CCTree",
    "Fault",
    "HOST",
    "RequestRecord",
    "TEST_CRAWL",
    "build_cc_tree",
    "corrupt_bytes",
]
