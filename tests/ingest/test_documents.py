"""`pipeline.ingest.documents`: every format gives the same documents in the same order, column mapping and metadata,
bad records counted (not dropped silently, not fatal), language codes canonicalized, units of files and datasets."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from pipeline.ingest.documents import (
    ROW,
    InputError,
    InputSettings,
    Unit,
    language_of,
    list_units,
    read_documents,
    read_unit,
    units_for_paths,
)

ROWS: list[dict[str, Any]] = [
    {"body": "서울시는 다음 달부터 시내버스 노선을 조정한다.", "language": "ko", "uid": "k1", "site": "https://a.kr/1", "dump": "CC-1"},
    {"body": "這是一個繁體中文的句子。", "language": "zh", "uid": "z1", "site": None, "dump": "CC-1"},
    {"body": None, "language": "ko", "uid": "k2", "site": None, "dump": "CC-2"},
    {"body": "   \n ", "language": "en", "uid": "e0", "site": None, "dump": "CC-2"},
    {"body": "The city changes twelve bus routes next month.", "language": "eng_Latn", "uid": "e1",
     "site": "https://b.example/x", "dump": "CC-2"},
]  # fmt: skip
#: What read_documents gives for ROWS with every column mapped: (row, text, id, lang label, url, dump).
EXPECTED = [
    (0, ROWS[0]["body"], "k1", "ko", "https://a.kr/1", "CC-1"),
    (1, ROWS[1]["body"], "z1", "zh", None, "CC-1"),
    (4, ROWS[4]["body"], "e1", "eng_Latn", "https://b.example/x", "CC-2"),
]
COLUMNS = {"text": "body", "id": "uid", "lang": "language", "url": "site", "metadata": ["dump"]}


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def write_format(tmp: Path, fmt: str, rows: list[dict[str, Any]] = ROWS) -> str:
    """The rows in one format; returns what to put in input.paths (or input.dataset for the hf kinds)."""
    table = pa.Table.from_pylist(rows)
    if fmt == "parquet":
        pq.write_table(table, tmp / "c.parquet", row_group_size=2)  # several row groups, read in order
        return str(tmp / "c.parquet")
    if fmt == "jsonl":
        (tmp / "c.jsonl").write_bytes(_jsonl(rows))
        return str(tmp / "c.jsonl")
    if fmt == "jsonl.gz":
        (tmp / "c.jsonl.gz").write_bytes(gzip.compress(_jsonl(rows)))
        return str(tmp / "c.jsonl.gz")
    if fmt == "arrow-file":
        with pa.ipc.new_file(str(tmp / "c.arrow"), table.schema) as w:
            w.write_table(table, max_chunksize=2)
        return str(tmp / "c.arrow")
    if fmt == "arrow-stream":
        with pa.ipc.new_stream(str(tmp / "c.arrow"), table.schema) as w:
            w.write_table(table, max_chunksize=2)
        return str(tmp / "c.arrow")
    if fmt == "feather":
        feather.write_feather(table, str(tmp / "c.feather"), chunksize=2)
        return str(tmp / "c.feather")
    if fmt == "csv":
        pacsv.write_csv(table, str(tmp / "c.csv"))
        return str(tmp / "c.csv")
    if fmt == "hf-saved":
        import datasets

        datasets.Dataset(table).save_to_disk(str(tmp / "saved"))
        return str(tmp / "saved")
    raise AssertionError(fmt)


def documents(settings: InputSettings) -> tuple[list[tuple[Any, ...]], Counter[str], list[Unit]]:
    skipped: Counter[str] = Counter()
    units = list_units(settings)
    out = []
    for unit in units:
        for t in read_documents(unit, settings, skipped):
            cols = [t.column(c).to_pylist() for c in (ROW, "text", "id", "lang", "url", "dump")]
            out += list(zip(*cols, strict=True))
    return out, skipped, units


@pytest.mark.parametrize(
    "fmt", ["parquet", "jsonl", "jsonl.gz", "arrow-file", "arrow-stream", "feather", "csv", "hf-saved"]
)
def test_every_format_gives_the_same_documents(tmp_path: Path, fmt: str) -> None:
    path = write_format(tmp_path, fmt)
    docs, skipped, units = documents(InputSettings(paths=[path], columns=COLUMNS))
    if fmt == "csv":  # CSV has no null: the missing URLs are empty strings there
        docs = [(*d[:4], d[4] or None, d[5]) for d in docs]
        assert skipped == {"no_text": 2}
    else:
        assert skipped == {"no_text": 2}  # the null text and the whitespace-only one
    assert docs == EXPECTED
    assert len(units) == 1 and units[0].kind == {"csv": "hf_files", "hf-saved": "hf_disk"}.get(fmt, units[0].kind)


def test_a_saved_dataset_is_cut_into_row_ranges_in_order(tmp_path: Path) -> None:
    import datasets

    rows = [{"text": f"document number {i}", "n": i} for i in range(25)]
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(rows[:20]), "test": datasets.Dataset.from_list(rows[20:])}
    ).save_to_disk(str(tmp_path / "dd"))
    settings = InputSettings(dataset=str(tmp_path / "dd"), rows_per_shard=8, columns={"metadata": ["n"]})
    units = list_units(settings)
    assert [(u.split, u.start, u.stop) for u in units] == [("test", 0, 5), ("train", 0, 8), ("train", 8, 16),
                                                             ("train", 16, 20)]  # fmt: skip
    got = []
    for u in units:
        for t in read_documents(u, settings, Counter()):
            got += list(zip(t.column(ROW).to_pylist(), t.column("n").to_pylist(), strict=True))
    assert got == [(i, 20 + i) for i in range(5)] + [(i, i) for i in range(20)]  # row = position in its split
    only = InputSettings(dataset=str(tmp_path / "dd"), split="test")
    assert [u.split for u in list_units(only)] == ["test"]
    with pytest.raises(InputError, match=r"no split 'dev' \(splits: test, train\)"):
        list_units(InputSettings(dataset=str(tmp_path / "dd"), split="dev"))


def test_a_streamed_dataset_is_one_unit_per_data_file(tmp_path: Path) -> None:
    """`input.dataset` that is not a saved dataset goes through datasets.load_dataset(streaming=True), as a hub name
    does; a local data folder stands in for the hub here (no network in tests)."""
    data = tmp_path / "corpus" / "data"
    data.mkdir(parents=True)
    (data / "part-0.jsonl").write_bytes(_jsonl([{"text": "alpha one", "k": 1}, {"text": "alpha two", "k": 2}]))
    (data / "part-1.jsonl").write_bytes(_jsonl([{"text": "beta one", "k": 3}]))
    settings = InputSettings(dataset=str(tmp_path / "corpus"), columns={"metadata": "all"})
    units = list_units(settings)
    assert [(u.kind, u.split, u.part, u.parts) for u in units] == [("hf_stream", "train", p, 2) for p in (0, 1)]
    got = [
        (t.column(ROW).to_pylist(), t.column("text").to_pylist(), t.column("k").to_pylist())
        for u in units
        for t in read_documents(u, settings, Counter())
    ]
    assert got == [([0, 1], ["alpha one", "alpha two"], [1, 2]), ([0], ["beta one"], [3])]  # data files in order


def test_metadata_all_passes_every_unmapped_column(tmp_path: Path) -> None:
    path = write_format(tmp_path, "parquet")
    settings = InputSettings(paths=[path], columns={"text": "body", "lang": "language", "metadata": "all"})
    (table,) = [t for u in list_units(settings) for t in read_documents(u, settings, Counter())] or [None]
    assert table is not None
    assert table.column_names == [ROW, "text", "lang", "uid", "site", "dump"]


def test_a_metadata_column_may_not_take_a_pipeline_name(tmp_path: Path) -> None:
    pq.write_table(pa.table({"body": ["some text here"], "text": ["other"]}), tmp_path / "c.parquet")
    settings = InputSettings(paths=[str(tmp_path / "c.parquet")], columns={"text": "body", "metadata": ["text"]})
    with pytest.raises(InputError, match="metadata column 'text' has the name of a pipeline column"):
        [t for u in list_units(settings) for t in read_documents(u, settings, Counter())]


def test_bad_json_lines_are_counted_and_the_rest_goes_through(tmp_path: Path) -> None:
    lines = [
        b'{"text": "first good line"}',
        b"{not json",
        b"",
        b'["an", "array"]',
        b'{"text": 5}',
        b'{"other": "no text field"}',
        '{"text": "caf\u00e9 \\u00e9"}'.encode() + b"",
        b'{"text": "bad byte \xff here"}',
        b'{"text": "last good line", "extra": {"nested": [1, 2]}}',
    ]
    (tmp_path / "c.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    settings = InputSettings(paths=[str(tmp_path / "c.jsonl")], columns={"metadata": "all"})
    skipped: Counter[str] = Counter()
    tables = [t for u in list_units(settings) for t in read_documents(u, settings, skipped)]
    texts = [x for t in tables for x in t.column("text").to_pylist()]
    rows = [x for t in tables for x in t.column(ROW).to_pylist()]
    # the int text sits in a column of strings: it became the string "5" (mixed JSON types become text)
    assert texts == ["first good line", "5", "café é", "bad byte \ufffd here", "last good line"]
    assert rows == [0, 4, 6, 7, 8]  # line index: blank and malformed lines keep their place
    assert skipped == {"malformed_json": 1, "not_an_object": 1, "no_text": 1, "invalid_utf8_replaced": 1}


def test_a_text_column_that_is_not_text_is_counted(tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": [1, 2, None]}), tmp_path / "n.parquet")
    settings = InputSettings(paths=[str(tmp_path / "n.parquet")])
    skipped: Counter[str] = Counter()
    assert [t for u in list_units(settings) for t in read_documents(u, settings, skipped)] == []
    assert skipped == {"text_not_string": 2, "no_text": 1}
    pq.write_table(pa.table({"text": pa.array(["UTF-8 한국어".encode(), b"x"], pa.binary())}), tmp_path / "b.parquet")
    utf8 = InputSettings(paths=[str(tmp_path / "b.parquet")])
    (table,) = [t for u in list_units(utf8) for t in read_documents(u, utf8, Counter())]
    assert table.column("text").to_pylist() == ["UTF-8 한국어", "x"]  # text stored as bytes is read as text


def test_strict_reading_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_bytes(b'{"text": "ok"}\n{"body": "x"}\n')
    (unit,) = units_for_paths([str(tmp_path / "c.jsonl")])
    with pytest.raises(InputError, match=r"line 2: no field 'text' \(fields: body\)"):
        list(read_unit(unit, ["text"], strict=True))
    assert [b.num_rows for b in read_unit(unit, ["text"])] == [2]  # not strict: a missing field is null


def test_units_messages_and_order(tmp_path: Path) -> None:
    for name in ("b.parquet", "a.jsonl.gz", "c.txt"):
        (tmp_path / name).write_bytes(b"")
    units = units_for_paths([str(tmp_path / "*.parquet"), str(tmp_path / "a.*"), str(tmp_path / "*.parquet")])
    assert [(u.kind, Path(u.location).name) for u in units] == [("parquet", "b.parquet"), ("jsonl", "a.jsonl.gz")]
    with pytest.raises(InputError, match=r"c.txt: cannot tell the format .* set input.format"):
        units_for_paths([str(tmp_path / "c.txt")])
    assert units_for_paths([str(tmp_path / "c.txt")], "jsonl")[0].kind == "jsonl"
    with pytest.raises(FileNotFoundError, match="no input files match"):
        units_for_paths([str(tmp_path / "none-*.parquet")])
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "README.md").write_text("about the data")
    with pytest.raises(InputError, match="dir: no file of a known format .* in this folder"):
        units_for_paths([str(tmp_path / "dir")])
    (tmp_path / "dir" / "x.parquet").write_bytes(b"")
    assert [Path(u.location).name for u in units_for_paths([str(tmp_path / "dir")])] == ["x.parquet"]
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "b.parquet")
    with pytest.raises(InputError, match=r"no field 'text' \(fields: body\)"):
        list(read_unit(units[0], ["text"]))


@pytest.mark.parametrize(
    ("label", "text", "expected"),
    [
        ("kor_Hang", "안녕하세요", ("kor_Hang", None)),
        ("ko", "안녕하세요", ("kor_Hang", None)),
        ("kor", "안녕하세요", ("kor_Hang", None)),
        ("__label__ko", "안녕하세요", ("kor_Hang", None)),
        ("zh", "這是繁體中文的句子", ("zho_Hant", None)),  # the text's script settles a label without one
        ("zh", "这是简体中文的句子", ("zho_Hans", None)),
        ("zh-Hant", "这是简体中文的句子", ("zho_Hant", None)),  # the label's own script wins
        ("sr", "Ово је српски", ("srp_Cyrl", None)),
        ("sr", "Ovo je srpski", ("srp_Latn", None)),
        ("und", "x", (None, "no_language")),
        ("  ", "x", (None, "no_language")),
        (None, "x", (None, "no_language")),
        ("klingon", "x", (None, "unknown_language_code")),
    ],
)
def test_language_codes_are_canonical(label: str | None, text: str, expected: tuple[str | None, str | None]) -> None:
    from pipeline.text.scripts import dominant_script

    assert language_of(label, dominant_script(text)) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "give input.paths .* or input.dataset .* exactly one"),
        ({"paths": ["a"], "dataset": "b"}, "exactly one"),
        ({"paths": []}, "input.paths is empty"),
        ({"paths": ["a"], "name": "x"}, "input.name .* needs input.dataset"),
        ({"paths": ["a"], "lang": "ko", "columns": {"lang": "language"}}, "not both"),
        ({"paths": ["a"], "lang": "und"}, "'und' is not a language"),
        ({"paths": ["a"], "columns": {"txt": "body"}}, "Extra inputs are not permitted"),
    ],
)
def test_settings_are_checked(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        InputSettings.model_validate(data)
