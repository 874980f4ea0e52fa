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


def _keys(host: str, lines: Iterable[str], n: int) -> np.ndarray:
    return np.fromiter((line_key(host, ln) for ln in lines), dtype=np.uint64, count=n)


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
        self._out = open(self._keys_path, "wb")  # noqa: SIM115 - closed by `find`
        self._buffer = array("Q")
        self._total = 0
        self.pages = 0
        self._template = np.empty(0, dtype=np.uint64)

    def add(self, host: str, text: str) -> None:
        """Pass 1: count each distinct line of the page once for its site."""
        self.pages += 1
        self._buffer.extend(line_key(host, ln) for ln in page_lines(text))
        if len(self._buffer) >= CHUNK_KEYS:
            self._flush()

    def save_keys(self, out: BinaryIO) -> None:
        """For a part of a shard read on another worker: pass 1's keys written to `out`, to be added to the
        `SiteRepeats` that decides the shard's templates (`add_keys`). Ends this object's use."""
        self._flush()
        self._out.close()
        with open(self._keys_path, "rb") as f:
            shutil.copyfileobj(f, out, CHUNK_KEYS * 8)
        os.remove(self._keys_path)

    def add_keys(self, source: BinaryIO, pages: int) -> None:
        """Pass 1 for `pages` pages read elsewhere: the keys `save_keys` wrote for them. With the parts of a shard
        added in order, `find` and `strip` then give what one `SiteRepeats` over the whole shard gives."""
        self._flush()
        carry = b""
        while chunk := source.read(CHUNK_KEYS * 8):
            data = carry + chunk
            whole = len(data) - len(data) % 8
            self._out.write(data[:whole])
            self._total += whole // 8
            carry = data[whole:]
        if carry:
            raise ValueError("site line keys: the file does not hold a whole number of 8-byte keys")
        self.pages += pages

    def _flush(self) -> None:
        self._out.write(self._buffer.tobytes())
        self._total += len(self._buffer)
        self._buffer = array("Q")

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
        repeated = self._repeated() if self.min_pages and self.pages >= self.min_pages else np.empty(0, np.uint64)
        os.remove(self._keys_path)
        if not len(repeated):
            return 0
        groups = max(1, math.ceil(len(repeated) / GROUP_LINES))
        taken = np.zeros(len(repeated), dtype=bool)
        paths = [os.path.join(self.folder, f"site-lines-{g}.arrow") for g in range(groups)]
        schema = pa.schema([("host", pa.string()), ("line", pa.string())])
        sinks = [pa.ipc.new_stream(p, schema) for p in paths]
        pending: list[tuple[list[str], list[str]]] = [([], []) for _ in range(groups)]
        for host, text in pages:
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
        template_keys, sites = [], 0
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
        self._template = np.unique(np.concatenate(template_keys)) if template_keys else self._template
        return sites

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
        if not len(self._template):
            return text, 0
        lines = text.split("\n")
        drop = _member(self._template, _keys(host, (ln.strip() for ln in lines), len(lines))) >= 0
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
