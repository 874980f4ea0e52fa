"""Site repeats: the lines a site prints on many of its pages (breadcrumbs, slogans, "Posted in", category labels)
are its template, not its content.

CCNet drops paragraphs repeated across a shard; this is the conservative form of it for one shard of a crawl: only
lines that are not prose (`is_prose`) and only within one site (host), so template lines that slip through main
content extraction go, while a sentence repeated on several pages (a syndicated paragraph, a quotation) is left to
the dedup stage, which keeps one copy instead of none.

`SiteRepeats` finds them over a shard that need not fit in memory, in memory that does not grow with the shard's
pages: a 64-bit key per distinct line of a page goes to a file, repeated keys are counted a slice of the key space at
a time, and only the keys of template lines stay in memory (8 bytes each). `drop_site_repeats` is the same rule on
a list of pages.

Two things keep the passes after the first cheap (they run once per shard after its pages were read, and for a
shard read in parts on several workers they are the merge, which no other core can help with): the number of keys of
each page goes to a second file, so `find` looks at the text of only the first page holding each repeated line (not
every page again), and `strip` leaves the pages of sites without a template alone (most sites have none) without
hashing their lines.
"""

from __future__ import annotations

import math
import os
import shutil
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import xxhash

from pipeline.ingest.boilerplate import is_prose, text_profile

__all__ = [
    "SITE_REPEAT_PAGES",
    "SiteRepeats",
    "drop_site_repeats",
    "page_lines",
    "site_template",
]

#: A short line on at least this many pages of one host in a shard is that site's template, not its content.
SITE_REPEAT_PAGES = 3
#: Keys held in memory at a time: the buffer of `add`, and one slice of the key space when counting.
CHUNK_KEYS = 1 << 17
#: Repeated lines whose text is held at once when deciding which are template (the rest wait on disk, by site).
GROUP_LINES = 20_000


def page_lines(text: str) -> set[str]:
    """The distinct non-empty lines of a page, stripped: what counts once per page."""
    return {ln.strip() for ln in text.split("\n")} - {""}


def site_template(repeated: Iterable[str]) -> set[str]:
    """Of the lines that repeat on enough pages of one site, those that are not prose: the site's template."""
    repeated = list(repeated)
    if not repeated:
        return set()
    profile = text_profile("\n".join(repeated))
    return {ln for ln in repeated if not is_prose(ln, profile)}


def line_key(host: str, line: str) -> int:
    """A (site, stripped line) as 64 bits. Equal keys are taken as equal lines: among the ~10⁷ distinct lines of a
    large shard, two distinct ones collide with a probability near 10⁻⁵, and the outcome is deterministic."""
    return xxhash.xxh3_64_intdigest(f"{host}\n{line}".encode("utf-8", "surrogatepass"))


def host_key(host: str) -> int:
    """A site as 64 bits (the sites with a template are kept as these)."""
    return xxhash.xxh3_64_intdigest(host.encode("utf-8", "surrogatepass"))


def _read_exactly(source: BinaryIO, n: int) -> bytes:
    data = source.read(n)
    while len(data) < n and (more := source.read(n - len(data))):
        data += more
    if len(data) != n:
        raise ValueError(f"site line keys: the file ends {n - len(data)} bytes early")
    return data


def _copy_exactly(source: BinaryIO, out: BinaryIO, n: int) -> None:
    while n:
        chunk = source.read(min(n, CHUNK_KEYS * 8))
        if not chunk:
            raise ValueError(f"site line keys: the file ends {n} bytes early")
        out.write(chunk)
        n -= len(chunk)


def _line_keys(host: str, lines: Iterable[str]) -> list[int]:
    """`line_key(host, line)` of each line (inlined: one call per page, not one per line)."""
    head, digest = host + "\n", xxhash.xxh3_64_intdigest
    return [digest((head + ln).encode("utf-8", "surrogatepass")) for ln in lines]


def _keys(host: str, lines: Iterable[str], n: int) -> np.ndarray:
    return np.fromiter(_line_keys(host, lines), dtype=np.uint64, count=n)


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For each of `keys`, whether it is in `sorted_keys` (not empty): three array calls, what a page's few lines
    can afford. A key past the last one is clipped to the last one, which differs from it."""
    return sorted_keys.take(sorted_keys.searchsorted(keys), mode="clip") == keys


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For each of `keys`, its index in `sorted_keys`, or -1."""
    if not len(sorted_keys):
        return np.full(len(keys), -1, dtype=np.int64)
    idx = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where(sorted_keys[idx] == keys, idx, -1)


class SiteRepeats:
    """Each site's template lines over a stream of pages, in three passes over the same pages in the same order:

    1. `add(host, text)` for every page;
    2. `find(pages)`: the pages again as (host, text); decides each site's template;
    3. `strip(host, text)` for every page: the page without its site's template lines.

    Temporary files go to `folder` (a local directory the caller removes). The result equals `drop_site_repeats`
    over all the pages at once.
    """

    def __init__(self, folder: str, min_pages: int = SITE_REPEAT_PAGES) -> None:
        self.min_pages = min_pages
        self.folder = folder
        self._keys_path = os.path.join(folder, "site-line-keys.u64")
        self._counts_path = os.path.join(folder, "site-line-counts.u32")
        self._out = open(self._keys_path, "wb")  # noqa: SIM115 - closed by `find`
        self._counts_out = open(self._counts_path, "wb")  # noqa: SIM115 - closed by `find`
        self._buffer = array("Q")
        self._counts = array("I")
        self._total = 0
        self.pages = 0
        self._template = np.empty(0, dtype=np.uint64)
        self._template_hosts: set[int] = set()  # `host_key` of each site with a template (8 bytes of key a site)

    def add(self, host: str, text: str) -> None:
        """Pass 1: count each distinct line of the page once for its site."""
        self.pages += 1
        before = len(self._buffer)
        self._buffer.extend(_line_keys(host, page_lines(text)))
        self._counts.append(len(self._buffer) - before)
        if len(self._buffer) >= CHUNK_KEYS or len(self._counts) >= CHUNK_KEYS:
            self._flush()

    def save_keys(self, out: BinaryIO) -> None:
        """For a part of a shard read on another worker: pass 1 written to `out` (the number of pages and of keys,
        8 bytes each, then each page's number of keys, then the keys), to be added to the `SiteRepeats` that decides
        the shard's templates (`add_keys`). Ends this object's use."""
        self._flush()
        self._out.close()
        self._counts_out.close()
        out.write(np.array([self.pages, self._total], dtype="<u8").tobytes())
        for path in (self._counts_path, self._keys_path):
            with open(path, "rb") as f:
                shutil.copyfileobj(f, out, CHUNK_KEYS * 8)
            os.remove(path)

    def add_keys(self, source: BinaryIO, pages: int) -> None:
        """Pass 1 for `pages` pages read elsewhere: what `save_keys` wrote for them. With the parts of a shard added
        in order, `find` and `strip` then give what one `SiteRepeats` over the whole shard gives."""
        self._flush()
        head = _read_exactly(source, 16)
        n_pages, n_keys = (int(x) for x in np.frombuffer(head, dtype="<u8"))
        if n_pages != pages:
            raise ValueError(f"site line keys: written for {n_pages} pages, added for {pages}")
        _copy_exactly(source, self._counts_out, 4 * n_pages)
        _copy_exactly(source, self._out, 8 * n_keys)
        if source.read(1):
            raise ValueError("site line keys: more bytes than the keys of its pages")
        self._total += n_keys
        self.pages += pages

    def _flush(self) -> None:
        self._out.write(self._buffer.tobytes())
        self._counts_out.write(self._counts.tobytes())
        self._total += len(self._buffer)
        self._buffer = array("Q")
        self._counts = array("I")

    def _repeated(self) -> np.ndarray:
        """Sorted keys on `min_pages` pages or more: the file is read once per slice of the key space (by the keys'
        top bits), each slice about `CHUNK_KEYS` keys, since hash keys spread evenly."""
        bits = max(0, math.ceil(math.log2(max(1, self._total) / CHUNK_KEYS)))
        shift = np.uint64(64 - bits)
        m = self.min_pages - 1
        found = []
        for part in range(2**bits):
            parts = []
            with open(self._keys_path, "rb") as f:
                while chunk := f.read(CHUNK_KEYS * 8):
                    keys = np.frombuffer(chunk, dtype=np.uint64)
                    parts.append(keys[(keys >> shift) == part] if bits else keys)
            keys = np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)
            del parts
            # A key on `min_pages` pages equals the one `min_pages - 1` places after it.
            found.append(np.unique(keys[m:][keys[m:] == keys[: len(keys) - m]]))
        return np.concatenate(found)

    def find(self, pages: Iterable[tuple[str, str]]) -> int:
        """Pass 2: the texts of the repeated lines, grouped by site on disk, then each site's template (its keys
        kept); returns the number of sites with a template."""
        self._flush()
        self._out.close()
        self._counts_out.close()
        repeated = self._repeated() if self.min_pages and self.pages >= self.min_pages else np.empty(0, np.uint64)
        holders = self._first_holders(repeated) if len(repeated) else set()
        os.remove(self._keys_path)
        os.remove(self._counts_path)
        if not len(repeated):
            return 0
        groups = max(1, math.ceil(len(repeated) / GROUP_LINES))
        taken = np.zeros(len(repeated), dtype=bool)
        paths = [os.path.join(self.folder, f"site-lines-{g}.arrow") for g in range(groups)]
        schema = pa.schema([("host", pa.string()), ("line", pa.string())])
        sinks = [pa.ipc.new_stream(p, schema) for p in paths]
        pending: list[tuple[list[str], list[str]]] = [([], []) for _ in range(groups)]
        for i, (host, text) in enumerate(pages):
            if i not in holders:  # holds no repeated line that an earlier page did not hold already
                continue
            lines = list(page_lines(text))
            idx = _member(repeated, _keys(host, lines, len(lines)))
            hit = np.flatnonzero((idx >= 0) & ~taken[np.maximum(idx, 0)])
            if not len(hit):
                continue
            taken[idx[hit]] = True
            hosts, texts = pending[xxhash.xxh32_intdigest(host.encode("utf-8", "surrogatepass")) % groups]
            hosts.extend([host] * len(hit))
            texts.extend(lines[i] for i in hit)
            if len(texts) >= 4096:
                self._write(sinks, pending, schema)
        self._write(sinks, pending, schema)
        for s in sinks:
            s.close()
        del taken, repeated
        template_keys, hosts, sites = [], [], 0
        for path in paths:
            by_host: dict[str, list[str]] = defaultdict(list)
            with pa.memory_map(path) as source:
                table = pa.ipc.open_stream(source).read_all()
            for host, line in zip(table.column("host").to_pylist(), table.column("line").to_pylist(), strict=True):
                by_host[host].append(line)
            del table
            os.remove(path)
            for host, lines in by_host.items():
                template = site_template(lines)
                if template:
                    sites += 1
                    template_keys.append(_keys(host, template, len(template)))
                    hosts.append(host_key(host))
        self._template = np.unique(np.concatenate(template_keys)) if template_keys else self._template
        self._template_hosts = set(hosts)
        return sites

    def _first_holders(self, repeated: np.ndarray) -> set[int]:
        """The pages (by their order in pass 1) that are the first to hold one of the `repeated` keys: the only
        pages whose text `find` needs. One pass over the key file; 12 bytes a page in memory."""
        ends = np.cumsum(np.fromfile(self._counts_path, dtype=np.uint32), dtype=np.int64)
        first = np.full(len(repeated), len(ends), dtype=np.int64)
        pos = 0
        with open(self._keys_path, "rb") as f:
            while chunk := f.read(CHUNK_KEYS * 8):
                keys = np.frombuffer(chunk, dtype=np.uint64)
                idx = _member(repeated, keys)
                hit = np.flatnonzero(idx >= 0)
                if len(hit):
                    np.minimum.at(first, idx[hit], np.searchsorted(ends, pos + hit, side="right"))
                pos += len(keys)
        return set(np.unique(first[first < len(ends)]).tolist())

    @staticmethod
    def _write(sinks: list[pa.ipc.RecordBatchStreamWriter], pending: list[tuple[list[str], list[str]]],
               schema: pa.Schema) -> None:  # fmt: skip
        for sink, (hosts, texts) in zip(sinks, pending, strict=True):
            if texts:
                sink.write_batch(pa.record_batch([pa.array(hosts, pa.string()), pa.array(texts, pa.string())], schema))
                hosts.clear()
                texts.clear()

    def strip(self, host: str, text: str) -> tuple[str, int]:
        """Pass 3: a page without its site's template lines, and how many lines were dropped."""
        if not len(self._template) or host_key(host) not in self._template_hosts:
            return text, 0
        lines = text.split("\n")
        drop = _contains(self._template, _keys(host, [ln.strip() for ln in lines], len(lines)))
        if not drop.any():
            return text, 0
        kept = [ln for ln, d in zip(lines, drop.tolist(), strict=True) if not d]
        return "\n".join(kept).strip(), len(lines) - len(kept)


def drop_site_repeats(pages: Sequence[tuple[str, str]], min_pages: int = SITE_REPEAT_PAGES) -> tuple[list[str], int]:
    """The texts of (host, text) pages without the non-prose lines that repeat on `min_pages` or more pages of the
    same host, and how many lines were dropped."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="polyglot-site-repeats-") as tmp:
        repeats = SiteRepeats(tmp, min_pages)
        for host, text in pages:
            repeats.add(host, text)
        repeats.find(pages)
        out, dropped = [], 0
        for host, text in pages:
            text, n = repeats.strip(host, text)
            out.append(text)
            dropped += n
    return out, dropped
