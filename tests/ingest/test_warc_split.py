"""A WARC read as byte-range parts at gzip member boundaries gives exactly the items of the whole file."""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

import pytest

from pipeline.ingest.warc import (
    Document,
    ExtractSettings,
    Skipped,
    extract_stream,
    part_range,
    record_start_after,
)
from pipeline.ingest.warc_writer import WarcWriter, gzip_member

from .test_warc import KO, UTF8, damaged, good, html, page


def items_of(data: bytes, byte_range: tuple[int, int] | None = None) -> tuple[list[tuple], list[tuple[int, str]]]:
    """(what each item says, the crawl ids the warcinfo records set) for the whole stream or one part of it."""
    infos: list[tuple[int, str]] = []
    out = []
    for x in extract_stream(io.BytesIO(data), ExtractSettings(), byte_range=byte_range,
                            on_crawl_id=lambda at, cid: infos.append((at, cid))):  # fmt: skip
        if isinstance(x, Document):
            out.append(("doc", x.offset, x.url, x.text, x.crawl_id, x.record_id, x.charset, x.repairs))
        else:
            assert isinstance(x, Skipped)
            out.append((x.reason, x.offset, x.url))
    return out, infos


def read_in_parts(data: bytes, count: int) -> tuple[list[tuple], list[tuple[int, int] | None]]:
    """The items of every part in order, each part's documents before its own first warcinfo given the crawl id
    the parts before it left in force (what the extract stage's merge does)."""
    ranges = [part_range(io.BytesIO(data), k, count) for k in range(count)]
    out: list[tuple] = []
    in_force = None
    for k, r in enumerate(ranges):
        if r is None:
            continue
        got, infos = items_of(data, r)
        first = infos[0][0] if infos else None
        for x in got:
            if k and x[0] == "doc" and (first is None or x[1] < first):
                assert x[4] is None
                x = (*x[:4], in_force, *x[5:])
            out.append(x)
        in_force = infos[-1][1] if infos else in_force
    return out, ranges


def crawl(tmp_path: Path, n: int = 40, *, infos: int = 1) -> bytes:
    """CC-shaped records (request, response, metadata) with skips and damage among them, `infos` warcinfo records."""
    path = tmp_path / "t.warc.gz"
    rng = random.Random(3)
    with open(path, "wb") as fh:
        w = WarcWriter(fh)
        for i in range(n):
            if i % max(1, n // infos) == 0:
                w.warcinfo({"isPartOf": f"CC-MAIN-2026-{i:02d}"}, filename="t.warc.gz")
            url = f"https://s{i % 5}.ex.kr/{i}"
            w.request(url)
            kind = rng.random()
            if kind < 0.1:
                w.response(url, b"{}", http_headers=[("Content-Type", "application/json")])
            elif kind < 0.15:
                w.response(url, page(i), status=404, http_headers=UTF8)
            elif kind < 0.2:
                w.raw(b"GARBAGE\r\n" * 5)  # a gzip member that holds no record
            elif kind < 0.23:
                w.raw(gzip_member(b""), compress=False)  # an empty member: FastWARC stops there
            else:
                good(w, i, html(f"{i} " + KO * rng.randint(1, 40)).encode())
            w.metadata(url, {"a": "b"}, refers_to=None)
    return path.read_bytes()


@pytest.mark.parametrize("infos", [1, 3])
def test_parts_give_the_whole_files_items(tmp_path: Path, infos: int) -> None:
    data = crawl(tmp_path, infos=infos)
    whole, _ = items_of(data)
    assert {x[0] for x in whole} >= {"doc", "not_html", "http_status", "malformed_record"}
    for count in (2, 3, 5, 8, 40):
        parts, ranges = read_in_parts(data, count)
        assert parts == whole, count
        real = [r for r in ranges if r is not None]
        assert len(real) >= min(count, 5), ranges  # it did split
        assert real[0][0] == 0 and real[-1][1] == len(data)
        assert all(a[1] == b[0] for a, b in zip(real, real[1:], strict=False)), ranges  # no gap, no overlap


def test_split_points_are_member_starts_not_magic_bytes_inside_data() -> None:
    buf = io.BytesIO()
    w = WarcWriter(buf)
    good(w, 0)
    junk = w.raw(b"GARBAGE\r\n" * 5)  # a gzip member that holds no record
    inside = w.raw(b"\x1f\x8b\x08 gzip magic inside a member's data", compress=False)  # magic, but no member
    good(w, 1)
    data = buf.getvalue()
    assert record_start_after(io.BytesIO(data), 1) == w.offsets[-1]
    assert record_start_after(io.BytesIO(data), junk) == w.offsets[-1] > inside
    assert record_start_after(io.BytesIO(data), 0) == 0
    assert record_start_after(io.BytesIO(data), w.offsets[-1] + 1) is None
    assert record_start_after(io.BytesIO(data), 1, search_bytes=w.offsets[-1] - 1) is None  # only within the window


@pytest.mark.parametrize("kind", ["plain", "one member"])
def test_files_without_record_members_are_read_whole_by_the_first_part(tmp_path: Path, kind: str) -> None:
    buf = io.BytesIO()
    w = WarcWriter(buf, compress=False)
    for i in range(20):
        good(w, i)
    data = buf.getvalue() if kind == "plain" else gzip.compress(buf.getvalue())
    assert [part_range(io.BytesIO(data), k, 4) for k in range(4)] == [(0, len(data)), None, None, None]
    assert read_in_parts(data, 4)[0] == items_of(data)[0]


def test_a_window_without_a_record_start_joins_its_part_to_the_one_before(tmp_path: Path) -> None:
    buf = io.BytesIO()
    w = WarcWriter(buf)
    good(w, 0, html(KO + random.Random(1).randbytes(300_000).hex()).encode())  # one big member, then small ones
    for i in range(1, 30):
        good(w, i)
    data = buf.getvalue()
    ranges = [part_range(io.BytesIO(data), k, 4, search_bytes=20_000) for k in range(4)]
    assert ranges[1] is None and ranges[0] is not None and ranges[0][1] > len(data) // 2  # no start near 1/4
    assert read_in_parts(data, 4)[0] == items_of(data)[0]


def test_real_cc_excerpt_in_parts(shared_data: Path) -> None:
    data = (shared_data / "cc" / "cc-main-2020-34-excerpt.warc.gz").read_bytes()
    whole, _ = items_of(data)
    for count in (2, 3, 7):
        parts, ranges = read_in_parts(data, count)
        assert parts == whole and sum(r is not None for r in ranges) >= 2, count
    assert {x[4] for x in whole if x[0] == "doc"} == {"CC-MAIN-2020-34"}


def test_random_damage_reads_the_same_in_parts(tmp_path: Path) -> None:
    """One random flip, insertion or deletion: the parts still give the whole file's items (damage inside one part
    is that part's; the split points are record starts, which the whole-file reader passes through)."""
    data = crawl(tmp_path, 24)
    rng = random.Random(11)
    for _ in range(40):
        d = damaged(data, rng)
        whole = items_of(d)[0]
        for count in (2, 3):
            assert read_in_parts(d, count)[0] == whole, count
