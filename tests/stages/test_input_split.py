"""A large Parquet input read as parts (whole batches, cut at row-group starts) and merged: the bytes and counts of a
whole-file read."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import unicodedata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.ingest.documents import Unit, parquet_parts, read_unit
from pipeline.stages.base import ShardTask
from pipeline.stages.input import InputStage
from tests.conftest import SHARED_DATA

from .test_input import EN, KO, ZH, config


def texts() -> list[tuple[str, str]]:
    """(language, text): real Chinese web documents when ../shared/data is there, and the test's own sentences."""
    out = [("ko", KO), ("zh", ZH), ("en", EN)]
    zh = SHARED_DATA / "web-zh" / "zh-web-500.jsonl.gz"
    if zh.exists():
        with gzip.open(zh, "rt", encoding="utf-8") as fh:
            out += [("zh", json.loads(line)["text"]) for line in fh][:300]
    return out


def write_corpus(path: Path, rows: int = 5000, row_group: int = 700) -> None:
    """Documents with every removal the stage counts, and a run of 1,100 unwanted ones (a batch that keeps nothing)."""
    rng = random.Random(2)
    pool = texts()
    recs = []
    for i in range(rows):
        lang, text = rng.choice(pool)
        if 2000 <= i < 3100:
            lang = "fr"  # not in `languages`: the batch around it keeps no document
        r = rng.random()
        if r < 0.03:
            text = None
        elif r < 0.05:
            lang = "klingon"
        elif r < 0.07:
            text = unicodedata.normalize("NFD", KO)
        recs.append({"content": text, "language": lang, "score": rng.random(), "dump": f"CC-{i % 7}",
                     "id": None if i % 11 else f"src-{i // 3}"})  # fmt: skip
    pq.write_table(pa.Table.from_pylist(recs), path, row_group_size=row_group)


INPUT = {"columns": {"text": "content", "lang": "language", "lang_score": "score", "id": "id", "metadata": ["dump"]}}


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    write_corpus(tmp_path / "in" / "corpus.parquet")
    return tmp_path


def test_parts_read_the_whole_files_batches(corpus: Path) -> None:
    url = str(corpus / "in" / "corpus.parquet")
    whole = [b for b in read_unit(Unit("parquet", url))]
    for n in (2, 3, 5):
        ranges = parquet_parts(url, n)
        assert len(ranges) >= 2 and ranges[0][0] == 0 and ranges[-1][1] == 5000
        parts = [b for a, z in ranges for b in read_unit(Unit("parquet", url, start=a, stop=z))]
        assert [b.num_rows for b in parts] == [b.num_rows for b in whole]
        assert all(a.equals(b) for a, b in zip(parts, whole, strict=True)), n


@pytest.mark.parametrize("languages", [["ko", "zh-Hans", "en"], None])
def test_parts_merged_are_the_bytes_of_a_whole_file_input(corpus: Path, languages: list[str] | None) -> None:
    over: dict[str, Any] = {"languages": languages} if languages else {}
    inp = {**INPUT, "paths": [str(corpus / "in" / "corpus.parquet")], "split_mb": 0.01}
    stage = InputStage(config(corpus, inp, **over))
    stage.setup()
    (task,) = stage.plan()
    whole = stage.process(task, lambda n: None).to_dict()
    assert whole["docs_out"] > 1000 and {"no_text", "unknown_language_code"} <= set(whole["removed"])
    for n in (2, 3, 5):
        parts = stage.split(task, n)
        assert len(parts) >= 2
        results = [stage.process_part(p, lambda k: None) for p in parts]
        out = ShardTask(task.shard_id, task.inputs, {"main": str(corpus / f"split{n}.parquet")})
        assert stage.merge(out, parts, results, lambda k: None).to_dict() == whole, n
        assert sha(out.outputs["main"]) == sha(task.outputs["main"]), n


def test_only_large_parquet_files_split(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "in" / "corpus.parquet"
    (task,) = InputStage(config(corpus, {**INPUT, "paths": [str(path)], "split_mb": 0.01})).plan()
    assert InputStage(config(corpus, {**INPUT, "paths": [str(path)]})).split(task, 4) == []  # default: 256 MB
    assert InputStage(config(corpus, {**INPUT, "paths": [str(path)], "split_mb": 0})).split(task, 4) == []
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("\n".join(json.dumps({"content": EN, "language": "en"}) for _ in range(3000)))
    (jtask,) = InputStage(config(tmp_path, {**INPUT, "paths": [str(jsonl)], "split_mb": 0.01})).plan()
    assert InputStage(config(tmp_path, {**INPUT, "paths": [str(jsonl)], "split_mb": 0.01})).split(jtask, 4) == []
    one = tmp_path / "one.parquet"
    pq.write_table(pq.read_table(path), one)  # one row group: nothing to cut at
    (otask,) = InputStage(config(tmp_path, {**INPUT, "paths": [str(one)], "split_mb": 0.01})).plan()
    assert InputStage(config(tmp_path, {**INPUT, "paths": [str(one)], "split_mb": 0.01})).split(otask, 4) == []


def test_split_mb_is_not_part_of_the_shards_identity(corpus: Path) -> None:
    path = str(corpus / "in" / "corpus.parquet")
    a = config(corpus, {**INPUT, "paths": [path]})
    b = config(corpus, {**INPUT, "paths": [path], "split_mb": 1})
    stage = InputStage(a)
    assert a.section_hash(*stage.config_parts()) == b.section_hash(*InputStage(b).config_parts())
