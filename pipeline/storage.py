"""Paths that may be local or any fsspec URL: listing, fingerprints and atomic writes.

Every output file is written under a temporary name and renamed into place, so a reader never sees a partial
file and a killed run leaves nothing that looks finished.

Object stores: fsspec keeps one filesystem instance per process with a cache of directory listings, and s3fs
answers `exists`, `info` and even the size used by `open` from a cached listing of the parent. Here the files are
written by other processes (Ray workers, the next stage's driver), so a listing taken earlier in this process is
stale: a file written since is "missing" and a rewritten one is read with its old size. `fs_and_path` therefore
drops what the instance cached about the path and its parents before every call (a dict lookup; the next call asks
the store). Libraries that need real local files (fastText) get one through `local_copy`.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import json
import os
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
from fsspec.implementations.local import LocalFileSystem

#: Parquet settings for intermediates: zstd, and nothing time-dependent, so equal tables give equal bytes.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 3, "write_statistics": True}


def fs_and_path(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and the path inside it for a local path or fsspec URL, with nothing cached about the path.

    Listings cached by this process's (shared) filesystem instance for the path and its parents are dropped:
    other processes write the pipeline's files, so they may be stale (see the module docstring).
    """
    fs, path = fsspec.core.url_to_fs(url)
    if not isinstance(fs, LocalFileSystem):
        fs.invalidate_cache(path)
    return fs, path


def is_local(url: str) -> bool:
    return isinstance(fs_and_path(url)[0], LocalFileSystem)


def join(base: str, *parts: str) -> str:
    """Join path parts below a local path or URL (URLs always use '/')."""
    if "://" in base:
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def exists(url: str) -> bool:
    fs, path = fs_and_path(url)
    return fs.exists(path)


def expand_inputs(patterns: Iterable[str]) -> list[str]:
    """Expand globs and directories into a sorted list of files, keeping each URL's protocol."""
    out: list[str] = []
    for pat in patterns:
        fs, path = fs_and_path(pat)
        if not isinstance(fs, LocalFileSystem):
            fs.invalidate_cache()  # a glob or walk also reads the cached listings *below* the path
        if any(ch in path for ch in "*?["):
            found = fs.glob(path)
        elif fs.isdir(path):
            found = [p for p in fs.find(path) if not posixpath.basename(p).startswith((".", "_"))]
        else:
            found = [path] if fs.exists(path) else []
        if not found:
            raise FileNotFoundError(f"no input files match {pat!r}")
        out.extend(_with_protocol(fs, p, pat) for p in sorted(found) if not fs.isdir(p))
    return sorted(dict.fromkeys(out))


def _with_protocol(fs: fsspec.AbstractFileSystem, path: str, original: str) -> str:
    if isinstance(fs, LocalFileSystem):
        return path
    proto = original.split("://", 1)[0]
    return f"{proto}://{path}" if not path.startswith(f"{proto}://") else path


def fingerprint(url: str) -> str:
    """A cheap identity of a file's current content: size plus mtime / ETag / checksum, whatever the store has.

    Cheap on purpose (a 1 GB WARC is not re-read to decide that nothing changed); a rewritten file gets a new
    mtime or ETag and so a new fingerprint (`atomic_open` does not rewrite equal bytes). Inside
    `listing_scope` the details come from one listing of the file's folder instead of one request per file.
    """
    info = _scope.info(url) if _scope is not None else None
    if info is None:
        fs, path = fs_and_path(url)
        info = fs.info(path)
    parts = [str(info.get("size"))]
    for key in ("ETag", "etag", "md5", "checksum", "mtime", "LastModified", "last_modified", "created"):
        if key in info and info[key] is not None:
            parts.append(f"{key}={info[key]}")
            break
    return xxhash.xxh3_64_hexdigest("|".join([url, *parts]).encode())


class FolderListings:
    """Folder listings taken once and asked about many files. Deciding that 10⁴ shards are done then costs one
    listing per folder (a request per 1,000 files on S3), not an `exists` or `info` per file. Only for a moment
    in which nothing else writes those folders (the runtime's completion check, under the work-dir lock)."""

    def __init__(self) -> None:
        self._dirs: dict[str, dict[str, dict[str, Any]]] = {}

    def entries(self, folder: str) -> dict[str, dict[str, Any]]:
        """File name → details (size, mtime or ETag) of the files directly below `folder`, listed on first use."""
        if folder not in self._dirs:
            fs, path = fs_and_path(folder)
            try:
                listed = fs.ls(path, detail=True)
            except (FileNotFoundError, NotADirectoryError):
                listed = []
            self._dirs[folder] = {
                posixpath.basename(e["name"].rstrip("/")): e for e in listed if e.get("type") != "directory"
            }
        return self._dirs[folder]

    def info(self, url: str) -> dict[str, Any] | None:
        folder, name = _split(url)
        return self.entries(folder).get(name)

    def size(self, url: str) -> int | None:
        """The size of `url`, or None when its folder's listing does not have it."""
        info = self.info(url)
        return None if info is None else int(info.get("size") or 0)

    def forget(self, url: str) -> None:
        """Drop what the listing says about `url` (removed since)."""
        folder, name = _split(url)
        self._dirs.get(folder, {}).pop(name, None)


def _split(url: str) -> tuple[str, str]:
    folder, _, name = url.rstrip("/").rpartition("/")
    return folder, name


_scope: FolderListings | None = None


@contextmanager
def listing_scope(listings: FolderListings) -> Iterator[FolderListings]:
    """Within the block, `fingerprint` (and so every stage's `input_fingerprint`) reads file details from
    `listings`, one listing per folder."""
    global _scope
    outer, _scope = _scope, listings
    try:
        yield listings
    finally:
        _scope = outer


def open_input(url: str) -> BinaryIO:
    """Open a file for binary reading (local or remote)."""
    fs, path = fs_and_path(url)
    return fs.open(path, "rb")


@contextmanager
def local_copy(url: str) -> Iterator[Path]:
    """A local file with the content of `url`, for libraries that only open local paths (fastText models).

    A local path is yielded as it is; a remote file is downloaded to a temporary directory that is removed when
    the block ends (load the model inside the block: fastText and SentencePiece read the whole file at load).
    """
    fs, path = fs_and_path(url)
    if isinstance(fs, LocalFileSystem):
        yield Path(path)
        return
    tmp = tempfile.mkdtemp(prefix="polyglot-local-copy-")
    try:
        local = Path(tmp) / (posixpath.basename(path.rstrip("/")) or "file")
        fs.get_file(path, str(local))
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: Marks a temporary sibling of a file being written (`<name>.tmp-<random>`); a killed writer may leave one.
TMP_MARK = ".tmp-"

#: Size and xxh3 hash of every file this process wrote through `atomic_open`, by URL as given: the
#: runtime keeps them in a shard's completion record without reading the outputs back.
written: dict[str, tuple[int, str]] = {}


class StorageFullError(OSError):
    """The file system or store has no space left for a file (ENOSPC / EDQUOT); the message names the file."""


class _DigestWriter(io.RawIOBase):
    """A write-only file that forwards to `f` while counting the bytes and hashing them (xxh3 for the completion
    record and the equal-bytes check; MD5 too on object stores, whose single-part ETag is one)."""

    def __init__(self, f: BinaryIO, md5: bool, sha256: bool = False) -> None:
        self.f = f
        self.size = 0
        self.xxh3 = xxhash.xxh3_64()
        self.md5 = hashlib.md5() if md5 else None  # noqa: S324 - S3's own content checksum, not security
        #: For outputs whose users check them with sha256 (training shards, Megatron files in the manifest).
        self.sha256 = hashlib.sha256() if sha256 else None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.f.write(view)
        self.xxh3.update(view)
        if self.md5 is not None:
            self.md5.update(view)
        if self.sha256 is not None:
            self.sha256.update(view)
        self.size += len(view)
        return len(view)

    def tell(self) -> int:
        return self.size


@contextmanager
def atomic_open(url: str, *, sha256: bool = False) -> Iterator[Any]:
    """A binary file to write `url` through: the bytes go to a temporary sibling (`<name>.tmp-<random>`) that is
    renamed into place when the block ends without an error, and removed otherwise, so nothing partial is ever
    at `url`.

    A file that already holds exactly the new bytes (same size, then same hash) is left untouched and the
    temporary dropped: its mtime (part of the fingerprint of every stage that reads it) stays, so redoing a shard
    with an equal result does not make later stages redo theirs. ENOSPC / EDQUOT raise `StorageFullError` naming
    `url`. The yielded file has `size`, and `sha256` (a hashlib object) when asked for.
    """
    fs, path = fs_and_path(url)
    local = isinstance(fs, LocalFileSystem)
    parent = os.path.dirname(path) if local else posixpath.dirname(path)
    tmp = f"{path}{TMP_MARK}{uuid.uuid4().hex[:12]}"
    try:
        if parent:
            fs.makedirs(parent, exist_ok=True)
        with fs.open(tmp, "wb") as f:
            sink = _DigestWriter(f, md5=not local, sha256=sha256)
            yield sink  # type: ignore[misc]
        digest = sink.xxh3.hexdigest()
        md5 = sink.md5.hexdigest() if sink.md5 is not None else None
        if not _same_content(fs, path, sink.size, digest, md5):
            fs.mv(tmp, path)
        written[url] = (sink.size, digest)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFullError(e.errno, f"no space left writing {url}") from e
        raise
    finally:
        try:
            if fs.exists(tmp):
                fs.rm(tmp)
        except OSError:
            pass  # a temporary file that cannot be removed now is removed when the stage next starts


def atomic_write_bytes(url: str, data: bytes) -> None:
    """Write `data` to `url` through `atomic_open` (atomic; equal bytes already in place are left untouched)."""
    with atomic_open(url) as f:
        f.write(data)


def _same_content(fs: fsspec.AbstractFileSystem, path: str, size: int, xxh3: str, md5: str | None) -> bool:
    """Whether `path` exists with exactly the content just written (`size` bytes hashing to `xxh3`): compared only
    when the size matches, through the store's MD5 ETag when it has one (a single-part upload), else by hashing
    the file."""
    try:
        info = fs.info(path)
        if info.get("size") != size:
            return False
        etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
        if md5 is not None and len(etag) == 32 and "-" not in etag:
            return md5 == etag
        h = xxhash.xxh3_64()
        with fs.open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        return h.hexdigest() == xxh3
    except (FileNotFoundError, OSError):
        return False


_CHUNK = 8 * 2**20

#: Row groups of streamed Parquet outputs close at this many rows or this many bytes (Arrow's in-memory size),
#: whichever comes first: a reader then holds one row group, not a shard (Parquet pages are read per row group).
ROW_GROUP_ROWS = 10_000
ROW_GROUP_BYTES = 4 * 2**20


class ParquetSink:
    """Rows appended a batch at a time and written as zstd Parquet row groups of bounded size (see
    `parquet_writer`)."""

    def __init__(self, f: BinaryIO, schema: pa.Schema, row_group_rows: int, row_group_bytes: int) -> None:
        self.schema = schema
        self.rows = 0
        self._writer = pq.ParquetWriter(f, schema, **PARQUET_OPTIONS)
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._max_rows = row_group_rows
        self._max_bytes = row_group_bytes

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        """Append rows (their schema must be the sink's)."""
        batches = data.to_batches() if isinstance(data, pa.Table) else [data]
        for b in batches:
            if not b.num_rows:
                continue
            self._pending.append(b)
            self._pending_rows += b.num_rows
            self._pending_bytes += b.nbytes
            self.rows += b.num_rows
            if self._pending_rows >= self._max_rows or self._pending_bytes >= self._max_bytes:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            table = pa.Table.from_batches(self._pending, self.schema)
            self._writer.write_table(table, row_group_size=table.num_rows)
            self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def abort(self) -> None:
        """Drop what is pending and release the writer (its file is being discarded)."""
        self._pending = []
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - the file is discarded whatever the writer says
            pass


@contextmanager
def parquet_writer(
    url: str, schema: pa.Schema, row_group_rows: int = ROW_GROUP_ROWS, row_group_bytes: int = ROW_GROUP_BYTES
) -> Iterator[ParquetSink]:
    """A streaming Parquet writer to `url` through `atomic_open`: the file appears, complete, when the block ends
    without an error (with no rows written: a valid file with the schema and 0 rows)."""
    with atomic_open(url) as f:
        sink = ParquetSink(f, schema, row_group_rows, row_group_bytes)
        try:
            yield sink
        except BaseException:
            sink.abort()
            raise
        sink.close()


def write_parquet(table: pa.Table, url: str) -> int:
    """Write a table as zstd Parquet, atomically; returns the number of bytes written. An empty table gives a file
    with the schema and no row group (readers such as `datasets` refuse a row group of 0 rows)."""
    with atomic_open(url) as f:
        if table.num_rows:
            pq.write_table(table, f, **PARQUET_OPTIONS)
        else:
            pq.ParquetWriter(f, table.schema, **PARQUET_OPTIONS).close()
        return f.tell()


def parquet_schema(schema: pa.Schema) -> pa.Schema:
    """The schema a reader of a Parquet file written with `schema` gets back (a list's item field comes back as
    `element`, for one): what a fused next stage must see to write the bytes it writes after reading the file."""
    sink = pa.BufferOutputStream()
    pq.ParquetWriter(sink, schema, **PARQUET_OPTIONS).close()
    return pq.ParquetFile(pa.BufferReader(sink.getvalue())).schema_arrow


@contextmanager
def open_parquet(url: str) -> Iterator[pq.ParquetFile]:
    """A Parquet file opened for reading in batches (`iter_batches`); a file whose footer is damaged or missing (a
    truncated file) raises ValueError naming the file. Call `release_memory` between batches."""
    fs, path = fs_and_path(url)
    with fs.open(path, "rb") as f:
        try:
            pf = pq.ParquetFile(f, pre_buffer=False)  # pre-buffering: 40,000 pages read 60 MB more peak RSS than 5,000
        except pa.ArrowInvalid as e:
            raise ValueError(f"cannot read Parquet file {url}: {e}") from e
        yield pf


def release_memory() -> None:
    """Return the memory the allocators keep after freeing it to the system: without it a worker streaming a shard
    batch by batch grows with the number of batches. Arrow's pool (mimalloc) keeps what each batch freed; glibc's
    heap keeps the freed blocks of a batch's Python strings (over 512 bytes: not pymalloc's) until trimmed."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's `malloc_trim`, or None on another C library (musl, macOS), where the call is skipped."""
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def read_parquet(url: str, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file; a damaged file raises ValueError naming the file, not only the shard."""
    fs, path = fs_and_path(url)
    with fs.open(path, "rb") as f:
        try:
            return pq.read_table(f, columns=columns)
        except pa.ArrowInvalid as e:
            raise ValueError(f"cannot read Parquet file {url}: {e}") from e


def write_arrow(table: pa.Table, url: str) -> int:
    """Write a table as an (uncompressed) Arrow IPC file, atomically; returns the number of bytes written.

    For intermediates that are read back column by column or memory-mapped (signatures, band keys), where
    Parquet's encoding would only cost time.
    """
    with atomic_open(url) as f:
        with pa.ipc.new_file(f, table.schema) as writer:
            writer.write_table(table)
        return f.tell()


def read_arrow(url: str, columns: list[str] | None = None) -> pa.Table:
    """Read an Arrow IPC file (memory-mapped when local), optionally only some columns."""
    fs, path = fs_and_path(url)
    if isinstance(fs, LocalFileSystem):
        table = pa.ipc.open_file(pa.memory_map(path, "r")).read_all()
    else:
        with fs.open(path, "rb") as f:
            table = pa.ipc.open_file(pa.BufferReader(f.read())).read_all()
    return table.select(columns) if columns is not None else table


def json_bytes(obj: Any) -> bytes:
    """The bytes `write_json` writes for `obj`: sorted keys, so equal content gives equal bytes (and size)."""
    return (json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def write_json(url: str, obj: Any) -> None:
    """Atomically write JSON with sorted keys (deterministic bytes for deterministic content)."""
    atomic_write_bytes(url, json_bytes(obj))


def read_json(url: str) -> Any:
    fs, path = fs_and_path(url)
    with fs.open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def list_files(url: str, suffix: str = "") -> list[str]:
    """Files directly below a directory (sorted), or [] when it does not exist."""
    fs, path = fs_and_path(url)
    if not fs.exists(path):
        return []
    names = [p for p in fs.ls(path, detail=False) if p.endswith(suffix) and not fs.isdir(p)]
    return sorted(_with_protocol(fs, p, url) for p in names)


def list_dir(url: str) -> dict[str, int]:
    """Size of every file directly below a directory, by name, from one listing ({} when it does not exist)."""
    return {name: int(e.get("size") or 0) for name, e in FolderListings().entries(url).items()}


def remove(url: str) -> None:
    """Delete a file; a file already gone is fine."""
    fs, path = fs_and_path(url)
    try:
        fs.rm(path)
    except FileNotFoundError:
        pass


def remove_tree(url: str) -> None:
    """Delete a folder (or file) and everything below it; one already gone is fine."""
    fs, path = fs_and_path(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def file_size(url: str) -> int | None:
    """A file's size (None when it is not there); inside `listing_scope` from one listing of its folder."""
    if _scope is not None:
        return _scope.size(url)
    fs, path = fs_and_path(url)
    try:
        return int(fs.info(path).get("size") or 0)
    except FileNotFoundError:
        return None
