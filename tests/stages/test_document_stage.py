"""The one per-document loop (`DocumentStage.process`) on a toy stage, and the streaming writes under it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import PipelineConfig
from pipeline.stages.base import BatchResult, DocumentStage, ShardStats, ShardTask
from pipeline.storage import (
    StorageFullError,
    atomic_write_bytes,
    parquet_writer,
    write_parquet,
    written,
)
from tests.toystage import full_disk

SCHEMA = pa.schema([("doc_id", pa.string()), ("text", pa.string()), ("lang", pa.string())])


class Shout(DocumentStage):
    """Removes documents whose text has a digit; upper-cases the kept ones' text and adds their length."""

    name = "shout"
    reason_column = "shout_reason"
    batch_rows = 3

    def __init__(self, cfg: PipelineConfig) -> None:
        super().__init__(cfg)
        self.batches: list[int] = []
        self.finished: list[str] = []

    def config_parts(self) -> tuple[str, ...]:
        return ()

    def plan(self) -> list[ShardTask]:
        return []

    def main_fields(self) -> list[pa.Field]:
        return [pa.field("text", pa.string()), pa.field("length", pa.int32())]

    def removed_fields(self) -> list[pa.Field]:
        return [pa.field("length", pa.int32()), pa.field(self.reason_column, pa.string()), pa.field("note", pa.string())]

    def decide(self, batch: pa.RecordBatch, stats: ShardStats) -> BatchResult:
        self.batches.append(batch.num_rows)
        texts = batch.column("text").to_pylist()
        stats.count("batches")
        reasons = ["digit" if any(c.isdigit() for c in t) else None for t in texts]
        return BatchResult(
            reasons,
            {"text": pa.array([t.upper() for t in texts]), "length": pa.array([len(t) for t in texts], pa.int32())},
            {"note": pa.array(["removed" if r else None for r in reasons], pa.string())},
        )

    def finish(self, task: ShardTask, stats: ShardStats) -> None:
        self.finished.append(task.shard_id)


def _shard(path: Path, rows: list[tuple[str, str, str]]) -> str:
    table = pa.table({name: [r[i] for r in rows] for i, name in enumerate(SCHEMA.names)}, schema=SCHEMA)
    write_parquet(table, str(path))
    return str(path)


def _task(tmp_path: Path, src: str, removed: bool = True) -> ShardTask:
    outputs = {"main": str(tmp_path / "out" / "s.parquet")}
    if removed:
        outputs["removed"] = str(tmp_path / "out" / "removed" / "s.parquet")
    return ShardTask("s", (src,), outputs)


def _stage(tmp_path: Path) -> Shout:
    return Shout(PipelineConfig.model_validate(
        {"run": {"work_dir": str(tmp_path / "out")}, "extract": {"inputs": [str(tmp_path / "*.warc.gz")]}}
    ))


ROWS = [
    ("d0", "hello", "eng_Latn"),
    ("d1", "room 101", "eng_Latn"),
    ("d2", "안녕", "kor_Hang"),
    ("d3", "bonjour", "fra_Latn"),
    ("d4", "2 pièces", "fra_Latn"),
    ("d5", "world", "eng_Latn"),
    ("d6", "세계", "kor_Hang"),
]


def test_kept_removed_counts_and_new_columns_over_several_batches(tmp_path: Path) -> None:
    stage = _stage(tmp_path)
    task = _task(tmp_path, _shard(tmp_path / "in.parquet", ROWS))
    progress: list[int] = []
    stats = stage.process(task, progress.append)

    assert stage.batches == [3, 3, 1] and sum(progress) == 7 and stage.finished == ["s"]
    kept = pq.read_table(task.outputs["main"])
    assert kept.schema.names == ["doc_id", "text", "lang", "length"]  # text replaced in place, length appended
    assert kept.column("doc_id").to_pylist() == ["d0", "d2", "d3", "d5", "d6"]
    assert kept.column("text").to_pylist() == ["HELLO", "안녕", "BONJOUR", "WORLD", "세계"]
    assert kept.column("length").to_pylist() == [5, 2, 7, 5, 2]
    removed = pq.read_table(task.outputs["removed"])
    assert removed.schema.names == ["doc_id", "text", "lang", "length", "shout_reason", "note"]
    assert removed.column("text").to_pylist() == ["room 101", "2 pièces"]  # the input's text, not the new one
    assert removed.column("shout_reason").to_pylist() == ["digit", "digit"]
    assert removed.column("note").to_pylist() == ["removed", "removed"]

    d = stats.to_dict()
    assert (d["docs_in"], d["docs_out"]) == (7, 5)
    assert d["removed"] == {"digit": {"eng_Latn": 1, "fra_Latn": 1}}
    assert d["counters"] == {"batches": 3}
    kor = d["by_lang"]["kor_Hang"]
    assert (kor["chars_in"], kor["bytes_in"], kor["docs_out"], kor["bytes_out"]) == (4, 12, 2, 12)
    fra = d["by_lang"]["fra_Latn"]
    assert (fra["chars_in"], fra["bytes_in"], fra["chars_out"]) == (15, 16, 7)


def test_same_counts_as_counting_each_document(tmp_path: Path) -> None:
    stats = _stage(tmp_path).process(_task(tmp_path, _shard(tmp_path / "in.parquet", ROWS)), lambda n: None)
    one_by_one = ShardStats()
    for _, text, lang in ROWS:
        one_by_one.seen(lang, text)
        if any(c.isdigit() for c in text):
            one_by_one.removed_doc(lang, "digit")
        else:
            one_by_one.kept(lang, text.upper())
    one_by_one.count("batches", 3)
    assert stats.to_dict() == one_by_one.to_dict()


def test_an_empty_shard_gives_valid_empty_outputs(tmp_path: Path) -> None:
    stage = _stage(tmp_path)
    task = _task(tmp_path, _shard(tmp_path / "in.parquet", []))
    stats = stage.process(task, lambda n: None)
    assert stage.batches == [] and stats.docs_in == 0
    kept, removed = pq.read_table(task.outputs["main"]), pq.read_table(task.outputs["removed"])
    assert (kept.num_rows, kept.schema.names) == (0, ["doc_id", "text", "lang", "length"])
    assert (removed.num_rows, removed.schema.names) == (0, ["doc_id", "text", "lang", "length", "shout_reason", "note"])


def test_no_removed_output_when_the_task_has_none(tmp_path: Path) -> None:
    task = _task(tmp_path, _shard(tmp_path / "in.parquet", ROWS), removed=False)
    _stage(tmp_path).process(task, lambda n: None)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s.parquet"]


def test_a_rerun_with_equal_output_leaves_the_files_and_their_mtime(tmp_path: Path) -> None:
    task = _task(tmp_path, _shard(tmp_path / "in.parquet", ROWS))
    _stage(tmp_path).process(task, lambda n: None)
    past = 1_000_000_000
    for url in task.outputs.values():
        os.utime(url, (past, past))
    written.clear()
    _stage(tmp_path).process(task, lambda n: None)
    for url in task.outputs.values():
        assert os.stat(url).st_mtime == past
        assert written[url][0] == os.path.getsize(url)
    assert not [p for p in (tmp_path / "out").rglob("*") if ".tmp-" in p.name]


def test_changed_bytes_are_written(tmp_path: Path) -> None:
    url = str(tmp_path / "f.bin")
    atomic_write_bytes(url, b"abc")
    os.utime(url, (1, 1))
    atomic_write_bytes(url, b"abd")  # same size, other bytes
    assert Path(url).read_bytes() == b"abd" and os.stat(url).st_mtime != 1


def test_rows_stream_out_as_bounded_row_groups(tmp_path: Path) -> None:
    url = str(tmp_path / "f.parquet")
    table = pa.table({"x": list(range(2500))})
    with parquet_writer(url, table.schema, row_group_rows=1000) as sink:
        for batch in table.to_batches(max_chunksize=250):
            sink.write(batch)
    meta = pq.ParquetFile(url).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1000, 1000, 500]
    assert pq.read_table(url).equals(table)


def test_a_failed_block_leaves_no_output_and_no_temporary(tmp_path: Path) -> None:
    url = tmp_path / "f.parquet"
    with pytest.raises(RuntimeError), parquet_writer(str(url), pa.schema([("x", pa.int64())])) as sink:
        sink.write(pa.table({"x": [1, 2]}))
        raise RuntimeError("the stage failed")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_names_the_file_and_leaves_nothing(tmp_path: Path) -> None:
    url = tmp_path / "f.parquet"
    with full_disk(), pytest.raises(StorageFullError) as e:
        with parquet_writer(str(url), pa.schema([("x", pa.int64())])) as sink:
            sink.write(pa.table({"x": list(range(100))}))
    assert e.value.errno == errno.ENOSPC and str(url) in str(e.value)
    assert list(tmp_path.iterdir()) == []
