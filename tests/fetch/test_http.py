"""`pipeline.fetch.http` against a real HTTP/1.1 server on 127.0.0.1 (tests/fetch/ccserver.py), without Ray.

Every fault is produced on a real socket (503/429 answers, a reset mid-body, a body shorter than its
Content-Length, a stall, a server ignoring Range, flipped bytes), so the client's actual resume and verification
code runs. Backoff waits are recorded by replacing the module's clock (no sleeping, no timing assertions).
"""

from __future__ import annotations

import gzip
import hashlib
import time
import types
from pathlib import Path

import pytest
import requests

import pipeline.fetch.http as http_mod
from pipeline.fetch.http import (
    FetchError,
    GzipCheckError,
    check_crawl_id,
    fetch_file,
    read_paths_list,
    select_paths,
    verify_gzip_file,
)
from tests.fetch.ccserver import TEST_CRAWL, CCServer, CCTree, build_cc_tree, corrupt_bytes

FAST = {"backoff_s": 0.01, "max_backoff_s": 0.05, "timeout_s": 5.0}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _statuses(srv: CCServer, rel: str) -> list[int]:
    return [r.status for r in srv.requests_for(rel) if r.method == "GET"]


def _leftovers(dest: Path) -> list[str]:
    """Names beside `dest` that start with its name (the file itself, its .part)."""
    return sorted(p.name for p in dest.parent.glob(dest.name + "*"))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the backoff waits `fetch_file` asks for instead of sleeping them."""
    waits: list[float] = []
    monkeypatch.setattr(http_mod, "time", types.SimpleNamespace(sleep=waits.append, time=time.time))
    return waits


# ------------------------------------------------------------------------------------------ clean and retried


def test_clean_download_equals_original(cc_tree: CCTree, cc_server: CCServer, http_session: requests.Session,
                                        tmp_path: Path) -> None:
    rel = cc_tree.paths["warc"][0]
    seen: list[int] = []
    dest = tmp_path / "a" / "b" / "shard.warc.gz"  # parents are created
    res = fetch_file(cc_server.url_for(rel), dest, session=http_session, on_progress=seen.append, **FAST)
    assert res.path == dest and res.attempts == 1 and not res.resumed
    assert res.bytes == len(cc_tree.data(rel)) == dest.stat().st_size
    assert res.sha256 == cc_tree.sha256(rel) == _sha(dest)
    assert sum(seen) == res.bytes
    assert _leftovers(dest) == ["shard.warc.gz"]  # no .part left behind
    (req,) = cc_server.requests_for(rel)
    assert req.range is None and req.status == 200


def test_503_then_200_is_retried_with_growing_backoff(cc_tree: CCTree, cc_server: CCServer, sleeps: list[float],
                                                      tmp_path: Path) -> None:
    rel = cc_tree.paths["warc"][1]
    cc_server.fail(rel, 503, times=3)
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", backoff_s=0.1, max_backoff_s=10)
    assert res.attempts == 4 and res.sha256 == cc_tree.sha256(rel)
    assert _statuses(cc_server, rel) == [503, 503, 503, 200]
    # exponential: 0.1 * 2**k, jittered to 50-100 %
    assert len(sleeps) == 3
    for k, wait in enumerate(sleeps):
        assert 0.1 * 2**k * 0.5 <= wait <= 0.1 * 2**k
    assert sleeps[2] > sleeps[0]


def test_backoff_is_capped(cc_tree: CCTree, cc_server: CCServer, sleeps: list[float], tmp_path: Path) -> None:
    rel = cc_tree.paths["warc"][1]
    cc_server.fail(rel, 500, times=5)
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", retries=5, backoff_s=1.0, max_backoff_s=2.0)
    assert res.attempts == 6 and res.sha256 == cc_tree.sha256(rel)
    assert len(sleeps) == 5 and max(sleeps) <= 2.0 and sleeps[-1] >= 1.0


def test_429_waits_retry_after(cc_tree: CCTree, cc_server: CCServer, sleeps: list[float], tmp_path: Path) -> None:
    rel = cc_tree.paths["wet"][0]
    cc_server.rate_limit(rel, retry_after=3)
    cc_server.fail(rel, 503, retry_after=3600)  # a hostile Retry-After is capped at max_backoff_s
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", backoff_s=0.01, max_backoff_s=5.0)
    assert res.attempts == 3 and res.sha256 == cc_tree.sha256(rel)
    assert _statuses(cc_server, rel) == [429, 503, 200]
    assert sleeps == [3.0, 5.0]


def test_retry_after_parsing() -> None:
    parse = http_mod._parse_retry_after
    assert parse("7") == 7.0
    assert parse(None) is None and parse("") is None and parse("soon") is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 120))
    assert 100 <= parse(future) <= 121
    assert parse("Mon, 01 Jan 2001 00:00:00 GMT") == 0.0  # a date in the past: no wait


def test_persistent_5xx_fails_after_all_attempts(cc_tree: CCTree, cc_server: CCServer, sleeps: list[float],
                                                 tmp_path: Path) -> None:
    rel = cc_tree.paths["warc"][2]
    cc_server.fail(rel, 502, times=None)
    dest = tmp_path / "s.gz"
    with pytest.raises(FetchError) as ei:
        fetch_file(cc_server.url_for(rel), dest, retries=3, **FAST)
    assert ei.value.attempts == 4 and "HTTP 502" in ei.value.reason and ei.value.url == cc_server.url_for(rel)
    assert "after 4 attempts" in str(ei.value)
    assert len(_statuses(cc_server, rel)) == 4 and len(sleeps) == 3  # no wait after the last attempt
    assert not dest.exists()


def test_404_fails_at_once(cc_tree: CCTree, cc_server: CCServer, sleeps: list[float], tmp_path: Path) -> None:
    rel = cc_tree.paths["warc"][0]
    cc_server.not_found(rel)
    dest = tmp_path / "s.gz"
    with pytest.raises(FetchError) as ei:
        fetch_file(cc_server.url_for(rel), dest, retries=5, **FAST)
    assert ei.value.attempts == 1 and ei.value.reason.startswith("HTTP 404")
    assert _statuses(cc_server, rel) == [404] and sleeps == []
    assert _leftovers(dest) == []
    missing = "crawl-data/nope.warc.gz"
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_file(cc_server.url_for(missing), dest, retries=5, **FAST)
    assert _statuses(cc_server, missing) == [404]


def test_403_keeps_a_resumable_part(cc_tree: CCTree, cc_server: CCServer, tmp_path: Path) -> None:
    """A permission error is not a verdict on the bytes already fetched: the .part stays for a later run."""
    rel = cc_tree.paths["warc"][3]
    data = cc_tree.data(rel)
    dest = tmp_path / "s.gz"
    part = tmp_path / "s.gz.part"
    part.write_bytes(data[:40_000])
    cc_server.fail(rel, 403)
    with pytest.raises(FetchError, match="HTTP 403") as ei:
        fetch_file(cc_server.url_for(rel), dest, **FAST)
    assert ei.value.attempts == 1 and not dest.exists() and part.read_bytes() == data[:40_000]
    res = fetch_file(cc_server.url_for(rel), dest, **FAST)
    assert res.sha256 == cc_tree.sha256(rel) and res.resumed
    assert cc_server.ranges_for(rel) == ["bytes=40000-", "bytes=40000-"]


# --------------------------------------------------------------------------------------------- broken bodies


def test_connection_dropped_mid_body_is_resumed_with_range(cc_tree: CCTree, cc_server: CCServer,
                                                          http_session: requests.Session, tmp_path: Path) -> None:
    rel = cc_tree.paths["warc"][0]
    data = cc_tree.data(rel)
    cc_server.drop_after(rel, 50_000)
    seen: list[int] = []
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", session=http_session, on_progress=seen.append, **FAST)
    assert res.sha256 == hashlib.sha256(data).hexdigest() and res.resumed and res.attempts == 2
    reqs = [r for r in cc_server.requests_for(rel) if r.method == "GET"]
    assert [r.status for r in reqs] == [200, 206] and reqs[0].fault == "drop"
    # the resume starts where the received bytes end (a reset may lose what was still in flight)
    assert reqs[1].range is not None and reqs[1].range.startswith("bytes=")
    offset = int(reqs[1].range[len("bytes="):].rstrip("-"))
    assert 0 < offset <= 50_000 and reqs[1].sent == len(data) - offset
    assert reqs[1].if_range is not None  # the ETag: a changed file would be served whole, never spliced
    assert sum(seen) == len(data)  # nothing was transferred twice


def test_body_cut_short_is_resumed(cc_tree: CCTree, cc_server: CCServer, tmp_path: Path) -> None:
    rel = cc_tree.paths["wet"][1]
    cc_server.cut_short(rel, 70_000)
    cc_server.cut_short(rel, 30_000)  # the resumed request is cut too
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", **FAST)
    assert res.sha256 == cc_tree.sha256(rel) and res.resumed and res.attempts == 3
    assert cc_server.ranges_for(rel) == [None, "bytes=70000-", "bytes=100000-"]
    assert _statuses(cc_server, rel) == [200, 206, 206]


def test_stalled_transfer_times_out_and_resumes(cc_tree: CCTree, cc_server: CCServer, tmp_path: Path) -> None:
    rel = cc_tree.paths["wat"][0]
    cc_server.stall_after(rel, 30_000, seconds=1.0)
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", backoff_s=0.01, timeout_s=0.3)
    assert res.sha256 == cc_tree.sha256(rel) and res.resumed
    assert cc_server.ranges_for(rel) == [None, "bytes=30000-"]


def test_server_ignoring_range_restarts_cleanly(cc_tree: CCTree, cc_server: CCServer, tmp_path: Path) -> None:
    rel = cc_tree.paths["warc"][1]
    data = cc_tree.data(rel)
    cc_server.ignore_range(rel)
    cc_server.drop_after(rel, 60_000)
    seen: list[int] = []
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", on_progress=seen.append, **FAST)
    assert res.sha256 == hashlib.sha256(data).hexdigest() and not res.resumed and res.attempts == 2
    reqs = [r for r in cc_server.requests_for(rel) if r.method == "GET"]
    assert reqs[1].range is not None and reqs[1].status == 200 and reqs[1].sent == len(data)
    kept = int(reqs[1].range[len("bytes="):].rstrip("-"))  # what the first attempt had stored
    assert sum(seen) == kept + len(data)  # progress counts transferred bytes: the restart counts again


def test_corrupt_gzip_once_is_downloaded_again(cc_tree: CCTree, cc_server: CCServer, tmp_path: Path) -> None:
    rel = cc_tree.paths["warc"][2]
    cc_server.corrupt(rel)
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", **FAST)
    assert res.sha256 == cc_tree.sha256(rel) and res.attempts == 2 and not res.resumed
    assert cc_server.ranges_for(rel) == [None, None]  # the corrupt part was thrown away, not resumed


def test_corrupt_gzip_every_time_fails_without_leaving_a_file(cc_tree: CCTree, cc_server: CCServer,
                                                              tmp_path: Path) -> None:
    rel = cc_tree.paths["warc"][3]
    cc_server.corrupt(rel, times=None)
    dest = tmp_path / "s.gz"
    with pytest.raises(FetchError) as ei:
        fetch_file(cc_server.url_for(rel), dest, retries=2, **FAST)
    assert ei.value.attempts == 3
    assert "corrupt gzip" in ei.value.reason or "CRC" in ei.value.reason
    assert _leftovers(dest) == []  # neither the final name nor a .part that a rerun would resume


def test_corrupt_file_is_kept_when_verification_is_off(cc_tree: CCTree, cc_server: CCServer,
                                                       tmp_path: Path) -> None:
    """verify_gzip=False really skips the check (so the default is what catches corruption)."""
    rel = cc_tree.paths["warc"][3]
    cc_server.corrupt(rel)
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", verify_gzip=False, **FAST)
    assert res.attempts == 1 and (tmp_path / "s.gz").read_bytes() == corrupt_bytes(cc_tree.data(rel))


# ------------------------------------------------------------------------------------- parts of killed runs


def test_part_left_by_a_killed_run_is_resumed(cc_tree: CCTree, cc_server: CCServer, tmp_path: Path) -> None:
    rel = cc_tree.paths["wet"][2]
    data = cc_tree.data(rel)
    dest = tmp_path / "s.gz"
    (tmp_path / "s.gz.part").write_bytes(data[:60_000])
    seen: list[int] = []
    res = fetch_file(cc_server.url_for(rel), dest, on_progress=seen.append, **FAST)
    assert res.sha256 == hashlib.sha256(data).hexdigest() and res.resumed and res.attempts == 1
    assert cc_server.ranges_for(rel) == ["bytes=60000-"]
    assert sum(seen) == len(data) - 60_000
    assert _leftovers(dest) == ["s.gz"]


def test_complete_part_is_only_verified(cc_tree: CCTree, cc_server: CCServer, tmp_path: Path) -> None:
    """A run killed between the last byte and the rename: the server answers 416 and nothing is fetched again."""
    rel = cc_tree.paths["wet"][3]
    data = cc_tree.data(rel)
    (tmp_path / "s.gz.part").write_bytes(data)
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", **FAST)
    assert res.sha256 == hashlib.sha256(data).hexdigest() and res.bytes == len(data)
    assert res.resumed and res.attempts == 1  # every byte came from the earlier run's part
    assert _statuses(cc_server, rel) == [416]


def test_complete_but_corrupt_part_is_discarded(cc_tree: CCTree, cc_server: CCServer, tmp_path: Path) -> None:
    rel = cc_tree.paths["wet"][3]
    (tmp_path / "s.gz.part").write_bytes(corrupt_bytes(cc_tree.data(rel)))
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", **FAST)
    assert res.sha256 == cc_tree.sha256(rel) and not res.resumed and res.attempts == 2
    assert _statuses(cc_server, rel) == [416, 200]


def test_part_longer_than_the_file_is_discarded(cc_tree: CCTree, cc_server: CCServer, sleeps: list[float],
                                                tmp_path: Path) -> None:
    rel = cc_tree.paths["wat"][1]
    data = cc_tree.data(rel)
    (tmp_path / "s.gz.part").write_bytes(data + b"junk" * 100)
    res = fetch_file(cc_server.url_for(rel), tmp_path / "s.gz", **FAST)
    assert res.sha256 == hashlib.sha256(data).hexdigest() and res.attempts == 2
    assert _statuses(cc_server, rel) == [416, 200] and sleeps == []  # redone at once: the server is fine


def test_existing_destination_is_replaced_only_when_verified(cc_tree: CCTree, cc_server: CCServer,
                                                             tmp_path: Path) -> None:
    rel = cc_tree.paths["wat"][2]
    dest = tmp_path / "s.gz"
    dest.write_bytes(b"an older file")
    cc_server.corrupt(rel, times=None)
    with pytest.raises(FetchError):
        fetch_file(cc_server.url_for(rel), dest, retries=1, **FAST)
    assert dest.read_bytes() == b"an older file"  # untouched on failure
    cc_server.clear_faults()
    fetch_file(cc_server.url_for(rel), dest, **FAST)
    assert _sha(dest) == cc_tree.sha256(rel)


def test_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retries"):
        fetch_file("http://127.0.0.1:9/x.gz", tmp_path / "x", retries=-1)
    with pytest.raises(ValueError, match="directory"):
        fetch_file("http://127.0.0.1:9/x.gz", tmp_path)
    with pytest.raises(FetchError, match="bad request"):
        fetch_file("notascheme://127.0.0.1/x.gz", tmp_path / "x", **FAST)


def test_refused_connection_is_retried_then_reported(tmp_path: Path, sleeps: list[float]) -> None:
    srv = CCServer(tmp_path)
    srv.start()
    url = srv.url_for("gone.gz")
    srv.stop()  # nothing listens on that port any more
    with pytest.raises(FetchError, match="request failed") as ei:
        fetch_file(url, tmp_path / "x.gz", retries=2, **FAST)
    assert ei.value.attempts == 3 and len(sleeps) == 2


# ------------------------------------------------------------------------------------------------ gzip check


def test_verify_gzip_file(cc_tree: CCTree, tmp_path: Path) -> None:
    data = cc_tree.data(cc_tree.paths["warc"][0])
    good = tmp_path / "good.gz"
    good.write_bytes(data)
    members = verify_gzip_file(good, chunk_bytes=4096)  # small chunks: members straddle reads
    assert members >= 3 and members == verify_gzip_file(good)

    padded = tmp_path / "padded.gz"
    padded.write_bytes(data + b"\x00" * 1000)
    assert verify_gzip_file(padded) == members

    cases = {
        "cut.gz": (data[: len(data) - 10], "truncated"),
        "flipped.gz": (corrupt_bytes(data), "corrupt gzip"),
        "junk-tail.gz": (data + b"not gzip", "corrupt gzip"),
        "empty.gz": (b"", "empty file"),
        "text.gz": (b"plain text, not compressed", "corrupt gzip"),
    }
    for name, (body, message) in cases.items():
        p = tmp_path / name
        p.write_bytes(body)
        with pytest.raises(GzipCheckError, match=message):
            verify_gzip_file(p)


def test_verify_gzip_file_handles_highly_compressible_members(tmp_path: Path) -> None:
    """A member that inflates far beyond one output buffer (zeros) must still be read to its end."""
    p = tmp_path / "zeros.gz"
    p.write_bytes(gzip.compress(b"\x00" * (8 << 20)) + gzip.compress(b"tail"))
    assert verify_gzip_file(p, chunk_bytes=1024) == 2


# ------------------------------------------------------------------------------------- path lists, selection


def test_read_paths_list(cc_tree: CCTree, cc_server: CCServer) -> None:
    for kind in ("warc", "wet", "wat"):
        assert read_paths_list(cc_server.url + "/", TEST_CRAWL, kind, **FAST) == cc_tree.paths[kind]
    assert cc_server.ranges_for(cc_tree.paths_list("warc")) == [None]


def test_read_paths_list_retries_and_reports(cc_tree: CCTree, cc_server: CCServer) -> None:
    cc_server.fail(cc_tree.paths_list("wet"), 503)
    assert read_paths_list(cc_server.url, TEST_CRAWL, "wet", **FAST) == cc_tree.paths["wet"]
    with pytest.raises(FetchError, match="HTTP 404"):
        read_paths_list(cc_server.url, "CC-MAIN-2024-10", "warc", **FAST)


@pytest.mark.parametrize(
    ("crawl", "kind", "base", "message"),
    [
        ("CC-MAIN-2024-1", "warc", None, "CC-MAIN-YYYY-WW"),
        ("CC-MAIN-2024-99", "warc", None, "out of range"),
        ("../etc", "warc", None, "single path segment"),
        (TEST_CRAWL, "wax", None, "kind must be one of"),
        (TEST_CRAWL, "warc", "data.commoncrawl.org", "absolute URL"),
    ],
)
def test_read_paths_list_refuses_bad_arguments(crawl: str, kind: str, base: str | None, message: str) -> None:
    # all fail before any request: the base URL points at a port nothing listens on
    with pytest.raises(ValueError, match=message):
        read_paths_list(base or "http://127.0.0.1:9", crawl, kind)


def test_check_crawl_id() -> None:
    assert check_crawl_id("CC-MAIN-2024-10", strict=True) == "CC-MAIN-2024-10"
    assert check_crawl_id(TEST_CRAWL) == TEST_CRAWL
    with pytest.raises(ValueError, match="strict_crawl_id"):
        check_crawl_id(TEST_CRAWL, strict=True)
    with pytest.raises(ValueError, match="CC-MAIN-YYYY-WW"):
        check_crawl_id("cc-main-2024-10")


def test_read_paths_list_refuses_paths_that_climb(tmp_path: Path) -> None:
    listing = tmp_path / "crawl-data" / TEST_CRAWL / "warc.paths.gz"
    listing.parent.mkdir(parents=True)
    listing.write_bytes(gzip.compress(b"crawl-data/ok.warc.gz\ncrawl-data/../../etc/passwd\n"))
    (tmp_path / "crawl-data" / TEST_CRAWL / "wet.paths.gz").write_bytes(gzip.compress(b"\n\n"))
    with CCServer(tmp_path) as srv:
        with pytest.raises(ValueError, match="not relative"):
            read_paths_list(srv.url, TEST_CRAWL, "warc", **FAST)
        with pytest.raises(ValueError, match="lists no paths"):
            read_paths_list(srv.url, TEST_CRAWL, "wet", **FAST)


def test_select_first_sample_and_list(cc_tree: CCTree) -> None:
    paths = cc_tree.paths["warc"]
    assert select_paths(paths, mode="first", n=2) == paths[:2]
    assert select_paths(paths, mode="first", n=4) == paths

    picked = select_paths(paths, mode="sample", n=2, seed=7)
    assert picked == select_paths(list(paths), mode="sample", n=2, seed=7)  # deterministic
    assert len(set(picked)) == 2 and set(picked) <= set(paths)
    assert picked == [p for p in paths if p in picked]  # keeps the list's order
    assert len({tuple(select_paths(paths, mode="sample", n=2, seed=s)) for s in range(30)}) > 1  # the seed matters

    wanted = [paths[3], "/" + paths[1], paths[3]]
    assert select_paths(paths, mode="list", explicit=wanted) == [paths[3], paths[1]]


def test_select_errors(cc_tree: CCTree) -> None:
    paths = cc_tree.paths["warc"]
    unknown = "crawl-data/CC-MAIN-TEST-01/segments/x/warc/missing.warc.gz"
    with pytest.raises(ValueError, match=r"1 of 2 explicit path\(s\) are not in the crawl's path list.*missing"):
        select_paths(paths, mode="list", explicit=[paths[0], unknown])
    with pytest.raises(ValueError, match="only 4"):
        select_paths(paths, mode="first", n=5)
    with pytest.raises(ValueError, match="needs n >= 1"):
        select_paths(paths, mode="sample", n=0)
    with pytest.raises(ValueError, match="needs a non-empty list"):
        select_paths(paths, mode="list")
    with pytest.raises(ValueError, match="only used with mode 'list'"):
        select_paths(paths, mode="first", n=1, explicit=[paths[0]])
    with pytest.raises(ValueError, match="selection mode must be one of"):
        select_paths(paths, mode="random", n=1)


def test_tree_is_deterministic(tmp_path: Path, cc_tree: CCTree) -> None:
    """The fixture builder itself: same seed, same bytes (so test expectations are stable)."""
    again = build_cc_tree(tmp_path, kinds=("warc",))
    assert again.paths["warc"] == cc_tree.paths["warc"]
    assert [again.sha256(p) for p in again.paths["warc"]] == [cc_tree.sha256(p) for p in cc_tree.paths["warc"]]
