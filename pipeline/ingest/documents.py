"""Documents from a corpus you already hold: Parquet, JSON lines (.gz), Arrow IPC, CSV or a Hugging Face dataset.

Why: many users start from per-language dumps (FineWeb-2, HPLT, CulturaX-style Parquet or JSONL) and want the
pipeline's filter, dedup, tokenizer, balance and shards on them without a crawl. The `input` stage and `polyglot
calibrate` both read through this module, so there is one reader.

A corpus is cut into *units*, each read independently and in a stable order (one unit is one shard of the `input`
stage): one file, or a row range of one split of a saved dataset (`datasets.save_to_disk`), or one data file of a
split of a dataset `datasets.load_dataset` streams (a hub name, or a local data folder). `read_unit` yields
`pyarrow.RecordBatch`es of the wanted columns plus `ROW`, each record's position in its unit (a JSONL file's line
index, from 0; blank and malformed lines count): the source's own order, so ids built from it are stable.

JSON lines are parsed one line at a time (`json.loads`), not by `pyarrow.json` in blocks: a malformed line then
costs only itself (counted as ``malformed_json``, or raised in `strict` mode), where `pyarrow.json` rejects the whole
block. Invalid UTF-8 inside a line is replaced (U+FFFD) and counted, not a reason to lose the document.

`read_documents` maps the configured columns (`ColumnMap`) onto the pipeline's names (``text``, ``id``, ``lang``,
``lang_score``, ``url``) beside the metadata passed through, and skips records without usable text, counting them by
reason (``no_text``: null or only whitespace; ``text_not_string``). Ray-free.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import posixpath
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.ingest.settings import ColumnMap, InputSettings

__all__ = [
    "ColumnMap",
    "InputError",
    "InputSettings",
    "ROW",
    "Unit",
    "language_of",
    "list_units",
    "read_documents",
    "read_unit",
    "units_for_paths",
]

log = logging.getLogger(__name__)

#: The column `read_unit` adds: each record's position in its unit (row index; a JSONL file's line index).
ROW = "__row"
#: Records per batch: small enough to hold a few MB of web text, large enough for vectorized checks.
BATCH_ROWS = 1024

_SUFFIX_FORMATS = {
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
    ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow",
    ".csv": "csv",
}  # fmt: skip
#: `datasets.load_dataset` builder per file format (format `hf` on files).
_HF_BUILDERS = {"parquet": "parquet", "jsonl": "json", "arrow": "arrow", "csv": "csv"}


class InputError(ValueError):
    """Input that cannot be read as asked (unknown format, missing column, a file that is not what it claims)."""


# ------------------------------------------------------------------------------------------------------------ units


@dataclass(frozen=True)
class Unit:
    """One independently readable piece of the input (one shard of the `input` stage).

    `kind`: ``parquet``, ``jsonl``, ``arrow`` (a file), ``hf_files`` (a file through a `datasets` builder),
    ``hf_disk`` (rows `start`..`stop` of a split of a saved dataset) or ``hf_stream`` (data file `part` of
    `parts` of a split `datasets.load_dataset` streams). A ``parquet`` unit with `start`/`stop` is rows
    `start`..`stop` of its file (`parquet_parts`), read as the whole file's batches of those rows."""

    kind: str
    location: str
    split: str | None = None
    name: str | None = None
    builder: str | None = None
    part: int = 0
    parts: int = 1
    start: int = 0
    stop: int | None = None

    @property
    def is_file(self) -> bool:
        return self.kind in ("parquet", "jsonl", "arrow", "hf_files")

    @property
    def label(self) -> str:
        """How messages name the unit."""
        if self.is_file:
            return self.location
        where = self.location + (f"[{self.name}]" if self.name else "") + (f":{self.split}" if self.split else "")
        if self.kind == "hf_disk":
            return f"{where} rows {self.start}-{self.stop}"
        return f"{where} part {self.part + 1}/{self.parts}"


def _suffix_format(path: str) -> str | None:
    name = path.lower().rstrip("/")
    for comp in (".gz", ".gzip"):
        name = name.removesuffix(comp)
    for suffix, fmt in _SUFFIX_FORMATS.items():
        if name.endswith(suffix):
            return fmt
    return None


def _is_saved_dataset(url: str) -> bool:
    from pipeline.storage import fs_and_path

    fs, path = fs_and_path(url)
    if any(ch in path for ch in "*?[") or not fs.isdir(path):
        return False
    names = {p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)}
    return "dataset_dict.json" in names or {"dataset_info.json", "state.json"} <= names


def _is_dir(url: str) -> bool:
    from pipeline.storage import fs_and_path

    fs, path = fs_and_path(url)
    return bool(fs.isdir(path))


def units_for_paths(patterns: Sequence[str], fmt: str = "auto", *, split: str | None = None,
                    section: str = "input", rows_per_shard: int = 100_000) -> list[Unit]:  # fmt: skip
    """The units of files, globs, directories and saved dataset dirs, in the order given (files sorted per pattern).

    `section` names the config section in messages (``set input.format``)."""
    from pipeline.storage import expand_inputs

    units: list[Unit] = []
    for pattern in patterns:
        if fmt in ("auto", "hf") and _is_saved_dataset(pattern):
            units += _disk_units(pattern, split, rows_per_shard)
            continue
        if fmt == "hf" and _is_dir(pattern):
            units += _stream_units(pattern, None, split)
            continue
        folder = _is_dir(pattern)
        found = 0
        for f in expand_inputs([pattern]):
            kind = fmt if fmt not in ("auto", "hf") else _suffix_format(f)
            if kind is None and folder:
                log.info("%s: not read (not a known format) in folder %s", f, pattern)  # README.md beside the data
                continue
            if kind is None:
                raise InputError(
                    f"{f}: cannot tell the format from the name (.parquet, .jsonl, .jsonl.gz, .arrow, .csv, or a "
                    f"saved HF dataset directory): set {section}.format"
                )
            found += 1
            if fmt == "hf" or kind == "csv":
                units.append(Unit("hf_files", f, builder=_HF_BUILDERS[kind]))
            else:
                units.append(Unit(kind, f))
        if folder and not found:
            raise InputError(f"{pattern}: no file of a known format (.parquet, .jsonl, .jsonl.gz, .arrow, .csv) in "
                             f"this folder: set {section}.format")  # fmt: skip
    return list(dict.fromkeys(units))  # a file matched by two patterns is read once


def list_units(settings: InputSettings, section: str = "input") -> list[Unit]:
    """The units of an ``input:`` section (driver side: lists files, opens a saved dataset's index, asks the hub)."""
    if settings.paths is not None:
        return units_for_paths(settings.paths, settings.format, split=settings.split, section=section,
                               rows_per_shard=settings.rows_per_shard)  # fmt: skip
    assert settings.dataset is not None
    if _is_saved_dataset(settings.dataset):
        return _disk_units(settings.dataset, settings.split, settings.rows_per_shard)
    return _stream_units(settings.dataset, settings.name, settings.split)


def _splits(loaded: Any, split: str | None, where: str) -> list[tuple[str | None, Any]]:
    if not isinstance(loaded, dict):
        return [(None, loaded)]
    if split is not None:
        if split not in loaded:
            raise InputError(f"{where}: no split {split!r} (splits: {', '.join(sorted(loaded))})")
        return [(split, loaded[split])]
    return [(name, loaded[name]) for name in sorted(loaded)]


def _disk_units(path: str, split: str | None, rows_per_shard: int) -> list[Unit]:
    import datasets

    loaded = datasets.load_from_disk(path)  # memory-mapped: cheap, nothing is read
    units = []
    for name, ds in _splits(loaded, split, path):
        n = len(ds)
        parts = max(1, math.ceil(n / rows_per_shard))
        for p in range(parts):
            units.append(Unit("hf_disk", path, split=name, part=p, parts=parts, start=p * rows_per_shard,
                              stop=min(n, (p + 1) * rows_per_shard)))  # fmt: skip
    return units


def _load_stream(location: str, name: str | None, split: str | None, builder: str | None = None) -> Any:
    import datasets

    datasets.disable_progress_bars()
    try:
        if builder is not None:
            return datasets.load_dataset(builder, data_files=[location], split="train", streaming=True)
        return datasets.load_dataset(location, name=name, split=split, streaming=True)
    except (FileNotFoundError, ValueError, datasets.exceptions.DatasetGenerationError) as e:
        raise InputError(f"{location}: cannot load as a Hugging Face dataset: {e}") from None


def _stream_units(location: str, name: str | None, split: str | None) -> list[Unit]:
    loaded = _load_stream(location, name, None)
    units = []
    for split_name, ds in _splits(loaded, split, location):
        n = max(1, int(getattr(ds, "n_shards", 1) or 1))
        units += [Unit("hf_stream", location, split=split_name, name=name, part=p, parts=n) for p in range(n)]
    return units


# ---------------------------------------------------------------------------------------------------------- reading


def _check_fields(where: str, names: Sequence[str], wanted: Sequence[str]) -> None:
    missing = [f for f in wanted if f not in names]
    if missing:
        raise InputError(f"{where}: no field {missing[0]!r} (fields: {', '.join(names) or 'none'})")


def _with_rows(batch: pa.RecordBatch, first: int) -> pa.RecordBatch:
    rows = pa.array(range(first, first + batch.num_rows), pa.int64())
    return batch.append_column(ROW, rows)


def read_unit(
    unit: Unit,
    fields: Sequence[str] | None = None,
    *,
    strict: bool = False,
    skipped: Counter[str] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """The unit's records, in source order, as batches of `fields` (None: every column) plus `ROW`.

    A field missing from a table's schema raises `InputError`. In JSON lines, a line without a field gives null for
    it, and a malformed line is counted in `skipped` (``malformed_json``, ``not_an_object``) and left out; with
    `strict` both raise `InputError` naming the line instead."""
    skipped = Counter() if skipped is None else skipped
    if unit.kind == "parquet":
        yield from _read_parquet(unit.location, fields, batch_rows, unit.start, unit.stop)
    elif unit.kind == "arrow":
        yield from _read_arrow(unit.location, fields)
    elif unit.kind == "jsonl":
        yield from _read_jsonl(unit.location, fields, strict, skipped, batch_rows)
    elif unit.kind == "hf_disk":
        yield from _read_disk(unit, fields, batch_rows)
    elif unit.kind in ("hf_stream", "hf_files"):
        yield from _read_stream(unit, fields, batch_rows)
    else:
        raise InputError(f"{unit.label}: unknown kind of input {unit.kind!r}")


def _read_parquet(url: str, fields: Sequence[str] | None, batch_rows: int, start: int = 0,
                  stop: int | None = None) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """The file's batches of `batch_rows` rows (they run across row groups); with `start`/`stop` (multiples of
    `batch_rows`, or the end) only those rows, read from the row groups that hold them, cut where a whole-file read
    cuts them, so a part's batches are the whole file's."""
    import pyarrow.parquet as pq

    from pipeline.storage import open_input

    with open_input(url) as fh:
        try:
            pf = pq.ParquetFile(fh)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several kinds for a file that is not Parquet
            raise InputError(f"{url}: not a Parquet file: {e}") from None
        if fields is not None:
            _check_fields(url, pf.schema_arrow.names, fields)
        columns = None if fields is None else list(fields)
        meta = pf.metadata
        stop = meta.num_rows if stop is None else min(stop, meta.num_rows)
        # One decoding thread (use_threads=False): a worker has one CPU, and each Arrow thread grows its own arena.
        if start == 0 and stop == meta.num_rows:
            n = 0
            for batch in pf.iter_batches(batch_size=batch_rows, columns=columns, use_threads=False):
                yield _with_rows(batch, n)
                n += batch.num_rows
            return
        if start % batch_rows or (stop % batch_rows and stop != meta.num_rows):
            raise ValueError(f"{url}: rows {start}-{stop} do not start and end where batches of {batch_rows} do")
        first, groups = 0, []
        for g in range(meta.num_row_groups):
            rows = meta.row_group(g).num_rows
            if first < stop and first + rows > start:
                groups.append(g)
            first += rows
        if groups:
            yield from _row_range(pf, groups, columns, batch_rows, start, stop)


def _row_range(pf: Any, groups: list[int], columns: list[str] | None, batch_rows: int, start: int,
               stop: int) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """Rows `start`..`stop` from the row groups `groups` (which hold them), as batches of `batch_rows` rows."""
    meta = pf.metadata
    n = sum(meta.row_group(g).num_rows for g in range(groups[0]))  # the first row the groups hold
    held: list[pa.RecordBatch] = []
    at = start  # the first row not yet given
    for batch in pf.iter_batches(batch_size=batch_rows, row_groups=groups, columns=columns, use_threads=False):
        lo, hi = max(n, at), min(n + batch.num_rows, stop)
        if hi > lo:
            held.append(batch.slice(lo - n, hi - lo))
        n += batch.num_rows
        while sum(b.num_rows for b in held) >= batch_rows or (held and at + sum(b.num_rows for b in held) == stop):
            size = min(batch_rows, stop - at)
            table = pa.Table.from_batches(held)
            out = table.slice(0, size).combine_chunks().to_batches()[0]
            held = table.slice(size).to_batches()
            held = [b for b in held if b.num_rows]
            yield _with_rows(out, at)
            at += size
        if at >= stop:
            return


def _read_arrow(url: str, fields: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
    from pipeline.storage import fs_and_path, is_local, open_input

    if is_local(url):
        data: Any = pa.memory_map(fs_and_path(url)[1], "r")
    else:
        with open_input(url) as fh:
            data = pa.BufferReader(fh.read())
    try:
        reader: Any = pa.ipc.open_file(data)
        batches: Iterator[pa.RecordBatch] = (reader.get_batch(i) for i in range(reader.num_record_batches))
    except pa.ArrowInvalid:
        data.seek(0)
        try:
            reader = pa.ipc.open_stream(data)
        except pa.ArrowInvalid as e:
            raise InputError(f"{url}: not an Arrow IPC file or stream: {e}") from None
        batches = iter(reader)
    if fields is not None:
        _check_fields(url, reader.schema.names, fields)
    n = 0
    for batch in batches:
        if fields is not None:
            batch = batch.select(list(fields))
        yield _with_rows(batch, n)
        n += batch.num_rows


def _column(values: list[Any]) -> pa.Array:
    """An Arrow column of JSON values; values of mixed types (a number here, a string there) become strings, the
    non-strings as their JSON text, so no record is lost over a type."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)
                         for v in values], pa.string())  # fmt: skip


def _records_batch(records: list[dict[str, Any]], rows: list[int], fields: Sequence[str] | None) -> pa.RecordBatch:
    names = list(fields) if fields is not None else list(dict.fromkeys(k for r in records for k in r))
    cols = [_column([r.get(k) for r in records]) for k in names]
    return pa.RecordBatch.from_arrays([*cols, pa.array(rows, pa.int64())], names=[*names, ROW])


def _read_jsonl(url: str, fields: Sequence[str] | None, strict: bool, skipped: Counter[str],
                batch_rows: int) -> Iterator[pa.RecordBatch]:  # fmt: skip
    from pipeline.storage import open_input

    records: list[dict[str, Any]] = []
    rows: list[int] = []
    i = -1
    first = True
    with open_input(url) as raw:
        fh: Any = gzip.GzipFile(fileobj=raw) if url.lower().endswith((".gz", ".gzip")) else raw
        lines = iter(fh)
        while True:
            try:
                line = next(lines)
            except StopIteration:
                break
            except (OSError, EOFError) as e:  # a damaged or cut gzip stream: what was read stands
                if strict:
                    raise InputError(f"{url}: line {i + 2}: cannot read: {e}") from None
                skipped["truncated_file"] += 1
                log.warning("%s: cannot read past line %d: %s", url, i + 1, e)
                break
            i += 1
            if not line.strip():
                continue
            if first and line.lstrip().startswith(b"[") and not strict:
                log.warning("%s: line %d starts a JSON array, not an object a line: set the format to hf", url, i + 1)
            first = False
            obj = _parse_line(url, i, line, strict, skipped)
            if obj is None:
                continue
            if strict and fields is not None:
                missing = [f for f in fields if f not in obj]
                if missing:
                    raise InputError(f"{url}: line {i + 1}: no field {missing[0]!r} (fields: {', '.join(obj)})")
            records.append(obj)
            rows.append(i)
            if len(records) >= batch_rows:
                yield _records_batch(records, rows, fields)
                records, rows = [], []
    if records:
        yield _records_batch(records, rows, fields)


def _parse_line(url: str, i: int, line: bytes, strict: bool, skipped: Counter[str]) -> dict[str, Any] | None:
    """One JSON object, or None (counted in `skipped`) for a line that is not one."""
    try:
        try:
            obj = json.loads(line)
        except UnicodeDecodeError:
            obj = json.loads(line.decode("utf-8", "replace"))
            skipped["invalid_utf8_replaced"] += 1
    except json.JSONDecodeError as e:
        if strict:
            hint = " (a JSON array: set the format to hf)" if line.lstrip().startswith(b"[") else ""
            raise InputError(f"{url}: line {i + 1}: not JSON ({e.msg}); expected one object a line{hint}") from None
        skipped["malformed_json"] += 1
        return None
    if not isinstance(obj, dict):
        if strict:
            hint = " (a file holding one JSON array: set the format to hf)" if isinstance(obj, list) else ""
            raise InputError(f"{url}: line {i + 1}: expected a JSON object, got {type(obj).__name__}{hint}")
        skipped["not_an_object"] += 1
        return None
    return obj


def _table_batches(tables: Iterator[pa.Table], first: int) -> Iterator[pa.RecordBatch]:
    n = first
    for table in tables:
        for batch in table.to_batches():
            if batch.num_rows:
                yield _with_rows(batch, n)
                n += batch.num_rows


def _read_disk(unit: Unit, fields: Sequence[str] | None, batch_rows: int) -> Iterator[pa.RecordBatch]:
    import datasets

    loaded = datasets.load_from_disk(unit.location)
    ds = loaded[unit.split] if unit.split is not None else loaded
    if fields is not None:
        _check_fields(unit.label, ds.column_names, fields)
        ds = ds.select_columns(list(fields))
    stop = len(ds) if unit.stop is None else unit.stop
    part = ds.select(range(unit.start, stop))  # a contiguous range: no indices mapping, still memory-mapped
    yield from _table_batches(part.with_format("arrow").iter(batch_size=batch_rows), unit.start)


def _read_stream(unit: Unit, fields: Sequence[str] | None, batch_rows: int) -> Iterator[pa.RecordBatch]:
    ds = _load_stream(unit.location, unit.name, unit.split, unit.builder)
    if unit.parts > 1:
        ds = ds.shard(num_shards=unit.parts, index=unit.part)
    n = 0
    for table in ds.with_format("arrow").iter(batch_size=batch_rows):
        if fields is not None:
            if n == 0:
                _check_fields(unit.label, table.column_names, fields)
            table = table.select(list(fields))
        for batch in _table_batches(iter([table]), n):
            yield batch
        n += table.num_rows


# -------------------------------------------------------------------------------------------------------- documents


def read_documents(unit: Unit, settings: InputSettings, skipped: Counter[str]) -> Iterator[pa.Table]:
    """The unit's documents with the pipeline's column names: ``text`` (non-empty strings), `ROW`, and ``id``,
    ``lang``, ``lang_score``, ``url`` where mapped, then the metadata columns under their own names.

    Records without usable text are left out and counted in `skipped` (``no_text``: null, empty or only
    whitespace; ``text_not_string``), as are malformed JSON lines."""
    mapped = settings.columns.mapped()
    meta = settings.columns.metadata
    sources = list(dict.fromkeys(mapped.values()))
    fields = None if meta == "all" else list(dict.fromkeys([*sources, *meta]))
    for batch in read_unit(unit, fields, skipped=skipped):
        if meta == "all":
            _check_fields(unit.label, batch.schema.names, sources)
        meta_names = [n for n in batch.schema.names if n not in sources and n != ROW] if meta == "all" else list(meta)
        cols: dict[str, pa.Array] = {ROW: batch.column(ROW)}
        for name, src in mapped.items():
            cols[name] = batch.column(src)
        for name in meta_names:
            if name in cols:
                raise InputError(f"{unit.label}: metadata column {name!r} has the name of a pipeline column; map it "
                                 "in input.columns, or leave it out of input.columns.metadata")  # fmt: skip
            cols[name] = batch.column(name)
        table = pa.table(cols)
        text = table.column("text")
        if pa.types.is_binary(text.type) or pa.types.is_large_binary(text.type):  # text stored as UTF-8 bytes
            try:
                text = text.cast(pa.string())
                table = table.set_column(table.column_names.index("text"), "text", text)
            except pa.ArrowInvalid:
                pass  # not UTF-8: counted as text_not_string below
        if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
            bad = len(text) - text.null_count
            if bad:
                skipped["text_not_string"] += bad
            skipped["no_text"] += text.null_count
            continue
        usable = pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0), False)
        empty = len(text) - pc.sum(usable).as_py() if len(text) else 0
        if empty:
            skipped["no_text"] += empty
            table = table.filter(usable)
        if table.num_rows:
            yield table


def language_of(label: Any, script: str | None) -> tuple[str | None, str | None]:
    """(canonical code, None) of a language label, or (None, reason): ``no_language`` for a null, empty or
    undetermined label, ``unknown_language_code`` for one `pipeline.lang.codes` does not know. `script` is the text's
    dominant script: it settles labels that do not name one (``zh`` → ``zho_Hans`` or ``zho_Hant``)."""
    from pipeline.lang.codes import UND, normalize_label

    if label is None or (isinstance(label, str) and not label.strip()):
        return None, "no_language"
    try:
        code = normalize_label(str(label), script)
    except ValueError:
        return None, "unknown_language_code"
    return (None, "no_language") if code == UND else (code, None)


def source_name(unit: Unit) -> str:
    """What the output's ``source_shard`` column says: the file's name, or the dataset unit's label."""
    return posixpath.basename(unit.location.rstrip("/")) if unit.is_file else unit.label


def parquet_parts(url: str, count: int, batch_rows: int = BATCH_ROWS) -> list[tuple[int, int]]:
    """Row ranges that cut a Parquet file into about `count` parts at row-group starts (moved back to a multiple of
    `batch_rows`, where a whole-file read starts a batch): read with `Unit.start`/`stop`, the parts give the whole
    file's batches. Fewer than two ranges: the file does not split (one row group, or too few rows). Reads the
    footer only."""
    import pyarrow.parquet as pq

    from pipeline.storage import open_input

    with open_input(url) as fh:
        meta = pq.ParquetFile(fh).metadata
    starts, first = [], 0
    for g in range(meta.num_row_groups):
        starts.append(first)
        first += meta.row_group(g).num_rows
    total = meta.num_rows
    points = set()
    for k in range(1, count):
        target = k * total / count
        nearest = min(starts, key=lambda r: abs(r - target)) if starts else 0
        point = nearest - nearest % batch_rows
        if 0 < point < total:
            points.add(point)
    edges = [0, *sorted(points), total]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]
