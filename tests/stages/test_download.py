"""`polyglot download` end to end: the real stage on the session Ray against a local Common-Crawl-like server.

The server (tests/fetch/ccserver.py) binds to 127.0.0.1 only and injects faults per path; the Ray workers fetch
from it like they would from data.commoncrawl.org. The remote-target branch is tested in-process with fsspec's
`memory://` (that filesystem lives in one process, so it cannot be shared with Ray workers) and through Ray with a
`file://` URL.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
import yaml
from typer.testing import CliRunner

import pipeline.runtime
import pipeline.stages.download as download_mod
from pipeline.cli import app
from pipeline.config import parse_config
from pipeline.fetch.http import FetchError, select_paths
from pipeline.runtime import expected_record, record_path, run_shard, run_stage
from pipeline.stages.download import DownloadStage, fetch_to_remote, upload_atomic
from tests.fetch.ccserver import TEST_CRAWL, CCServer, CCTree, build_cc_tree

FAST = {"backoff_s": 0.01, "timeout_s": 5.0}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Talk to 127.0.0.1 directly, never through a proxy from the environment."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> CCTree:
    """crawl-data/CC-MAIN-TEST-01 with 4 warc and 4 wet shards (~120 kB each, multi-member gzip)."""
    return build_cc_tree(tmp_path_factory.mktemp("cc"), kinds=("warc", "wet"), target_bytes=120_000, seed=3)


@pytest.fixture
def server(tree: CCTree) -> Iterator[CCServer]:
    with CCServer(tree.root, tree=tree) as srv:
        yield srv


def _cfg(work_dir: str | Path, base_url: str, select: dict[str, Any], **download: Any):  # noqa: ANN202
    return parse_config(
        {
            "run": {"work_dir": str(work_dir), "stages": ["download"]},
            "download": {"base_url": base_url, "crawl": TEST_CRAWL, "kind": "warc", "select": select,
                         "parallel": 4, **FAST, **download},
        }
    )


def _ids(cfg) -> dict[str, str]:  # noqa: ANN001
    """rel path -> shard id, as the stage plans them."""
    stage = DownloadStage(cfg)
    return {t.params["url"].split("/", 3)[3]: t.shard_id for t in stage.plan()}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files_below(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------- through Ray


def test_downloads_every_shard_through_faults_and_rerun_skips(ray_session, tree: CCTree, server: CCServer,
                                                              tmp_path: Path) -> None:
    rels = tree.paths["warc"]
    server.fail(rels[0], 503, times=2)
    server.drop_after(rels[1], 40_000)
    server.corrupt(rels[2])
    server.cut_short(rels[3], 50_000)
    server.fail(tree.paths_list("warc"), 503)  # the path list is retried like a shard
    cfg = _cfg(tmp_path / "work", server.url, {"mode": "first", "n": 4})

    res = run_stage(DownloadStage, cfg)
    assert res.ok and res.shards == 4 and res.skipped == 0 and res.failed == []
    assert "download: 4 shards (4 run, 0 skipped, 0 failed)" in res.summary()
    dl = tmp_path / "work" / "download"
    for rel in rels:
        assert _sha(dl / rel) == tree.sha256(rel)  # byte-identical to the originals
    assert [p for p in _files_below(dl) if p.endswith(".part") or ".tmp" in p] == []

    ids = _ids(cfg)
    stats = {rel: json.loads(Path(record_path(cfg, "download", ids[rel])).read_text())["stats"] for rel in rels}
    for rel in rels:
        assert stats[rel]["meta"]["sha256"] == tree.sha256(rel)
        assert stats[rel]["counters"]["bytes"] == len(tree.data(rel))
    assert stats[rels[0]]["counters"]["attempts"] == 3
    assert stats[rels[1]]["counters"]["resumed"] == 1 and stats[rels[3]]["counters"]["resumed"] == 1
    assert stats[rels[2]]["counters"] == {"attempts": 2, "bytes": len(tree.data(rels[2])), "files": 1, "resumed": 0}
    assert server.ranges_for(rels[3]) == [None, "bytes=50000-"]

    cache = json.loads((dl / f"{TEST_CRAWL}.warc.selected.json").read_text())
    assert cache["paths"] == rels and cache["total_in_list"] == 4 and cache["base_url"] == server.url

    server.clear_log()
    again = run_stage(DownloadStage, cfg)
    assert again.ok and again.skipped == 4 and again.results == []
    assert server.requests == []  # no request at all: neither the path list (cached) nor a shard

    # how a file is fetched (parallelism, retries, timeouts) is not what it holds: still nothing to redo
    tuned = _cfg(tmp_path / "work", server.url, {"mode": "first", "n": 4}, parallel=1, retries=2, timeout_s=9)
    assert run_stage(DownloadStage, tuned).skipped == 4 and server.requests == []


def test_permanently_broken_shard_is_reported_not_recorded(ray_session, tree: CCTree, server: CCServer,
                                                           tmp_path: Path) -> None:
    rels = tree.paths["warc"][:3]
    broken = rels[1]
    server.corrupt(broken, times=None)
    server.drop_after(rels[2], 30_000)
    cfg = _cfg(tmp_path / "work", server.url, {"mode": "list", "paths": rels}, retries=2)
    ids = _ids(cfg)

    res = run_stage(DownloadStage, cfg)
    assert not res.ok and res.shards == 3
    assert [f["shard_id"] for f in res.failed] == [ids[broken]]
    error = res.failed[0]["error"]
    assert error.startswith("FetchError:") and "after 3 attempts" in error and "corrupt gzip" in error
    dl = tmp_path / "work" / "download"
    assert not Path(record_path(cfg, "download", ids[broken])).exists()
    assert not (dl / broken).exists() and not (dl / (broken + ".part")).exists()
    for rel in (rels[0], rels[2]):
        assert _sha(dl / rel) == tree.sha256(rel)
        assert Path(record_path(cfg, "download", ids[rel])).exists()

    server.clear_faults()  # the server is repaired: a rerun fetches only the missing shard
    server.clear_log()
    again = run_stage(DownloadStage, cfg)
    assert again.ok and again.skipped == 2 and [r["shard_id"] for r in again.results] == [ids[broken]]
    assert _sha(dl / broken) == tree.sha256(broken)
    assert {r.path for r in server.requests} == {broken}


def test_sample_selection_and_a_new_selection(ray_session, tree: CCTree, server: CCServer, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path / "work", server.url, {"mode": "sample", "n": 2, "seed": 11}, kind="wet")
    res = run_stage(DownloadStage, cfg)
    chosen = select_paths(tree.paths["wet"], mode="sample", n=2, seed=11)
    assert res.ok and res.shards == 2
    assert sorted(_files_below(tmp_path / "work" / "download")) == sorted([*chosen, f"{TEST_CRAWL}.wet.selected.json"])

    server.clear_log()
    bigger = _cfg(tmp_path / "work", server.url, {"mode": "first", "n": 3}, kind="wet")
    res = run_stage(DownloadStage, bigger)
    assert res.ok and res.shards == 3
    already = set(chosen) & set(tree.paths["wet"][:3])
    assert res.skipped == len(already)  # shards fetched under the old selection are not fetched again
    fetched = [r.path for r in server.requests]
    assert fetched[0] == tree.paths_list("wet")  # a new selection reads the path list again
    assert sorted(fetched[1:]) == sorted(set(tree.paths["wet"][:3]) - already)


def test_file_url_work_dir(ray_session, tree: CCTree, server: CCServer, tmp_path: Path) -> None:
    rels = tree.paths["warc"][2:]
    server.drop_after(rels[0], 20_000)
    cfg = _cfg(f"file://{tmp_path}/work", server.url, {"mode": "list", "paths": rels})
    res = run_stage(DownloadStage, cfg)
    assert res.ok and res.shards == 2
    for rel in rels:
        assert _sha(tmp_path / "work" / "download" / rel) == tree.sha256(rel)
    assert run_stage(DownloadStage, cfg).skipped == 2


# ------------------------------------------------------------------------------------------------- the CLI


def test_cli_prints_summary_and_fails_on_a_broken_shard(ray_session, tree: CCTree, server: CCServer,
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline.runtime, "shutdown_ray", lambda: None)  # keep the session's Ray for later tests
    config = tmp_path / "dl.yaml"
    config.write_text(yaml.safe_dump({
        "run": {"work_dir": str(tmp_path / "work"), "stages": ["download"]},
        "download": {"base_url": server.url, "crawl": TEST_CRAWL, "kind": "wet", "select": {"mode": "first", "n": 3},
                     "retries": 1, **FAST},
    }))
    broken = tree.paths["wet"][2]
    server.fail(broken, 500, times=None)
    runner = CliRunner()
    res = runner.invoke(app, ["download", "--config", str(config)])
    assert res.exit_code == 1, res.output
    assert "download: 3 shards (3 run, 0 skipped, 1 failed)" in res.output
    assert "HTTP 500" in res.output and "failed" in res.output

    server.clear_faults()
    res = runner.invoke(app, ["download", "--config", str(config)])
    assert res.exit_code == 0, res.output
    assert "download: 3 shards (1 run, 2 skipped, 0 failed)" in res.output
    assert _sha(tmp_path / "work" / "download" / broken) == tree.sha256(broken)


@pytest.mark.parametrize(
    ("download", "message"),
    [
        ({"crawl": "CC-MAIN-2024-10"}, "HTTP 404"),  # no such crawl on the server: its path list is missing
        ({"select": {"mode": "list", "paths": ["crawl-data/x.warc.gz"]}}, "not in the crawl's path list"),
    ],
)
def test_cli_reports_a_bad_plan(ray_session, server: CCServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                download: dict[str, Any], message: str) -> None:
    monkeypatch.setattr(pipeline.runtime, "shutdown_ray", lambda: None)
    config = tmp_path / "dl.yaml"
    section = {"base_url": server.url, "crawl": TEST_CRAWL, "retries": 1, **FAST, **download}
    config.write_text(yaml.safe_dump({"run": {"work_dir": str(tmp_path / "work")}, "download": section}))
    res = CliRunner().invoke(app, ["download", "--config", str(config)])
    assert res.exit_code == 1 and message in res.output, res.output
    assert not (tmp_path / "work" / "download" / "crawl-data").exists()


# ------------------------------------------------------------------------------------ in-process (no Ray)


def test_progress_is_reported_in_bytes(tree: CCTree, server: CCServer, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path / "work", server.url, {"mode": "first", "n": 1})
    stage = DownloadStage(cfg)
    (task,) = stage.plan()
    seen: list[int] = []
    stats = stage.process(task, seen.append)
    size = len(tree.data(tree.paths["warc"][0]))
    assert sum(seen) == size == stats.counters["bytes"] and len(seen) >= 1


def test_warc_and_wet_of_a_segment_get_distinct_shard_ids(tree: CCTree, server: CCServer, tmp_path: Path) -> None:
    plans = {kind: DownloadStage(_cfg(tmp_path / "work", server.url, {"mode": "first", "n": 4}, kind=kind)).plan()
             for kind in ("warc", "wet")}
    warc_ids = [t.shard_id for t in plans["warc"]]
    wet_ids = [t.shard_id for t in plans["wet"]]
    assert [i.removesuffix(".warc") for i in warc_ids] == [i.removesuffix(".wet") for i in wet_ids]  # same stems
    assert not set(warc_ids) & set(wet_ids) and len(set(warc_ids)) == 4


def test_remote_target_through_the_stage(tree: CCTree, server: CCServer, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The remote branch of `process` plus the completion record, on `memory://`, via the runtime's run_shard."""
    monkeypatch.setattr(download_mod, "SCRATCH_DIR", tmp_path / "scratch")
    root = f"memory://dl-{uuid.uuid4().hex[:8]}"
    rels = tree.paths["warc"][:2]
    server.drop_after(rels[0], 25_000)
    cfg = _cfg(root, server.url, {"mode": "first", "n": 2})
    stage = DownloadStage(cfg)
    tasks = stage.plan()
    for task in tasks:
        out = run_shard(stage, task, expected_record(stage, task, cfg.section_hash(*stage.config_parts())))
        assert out["ok"], out.get("error")
    mem = fsspec.filesystem("memory")
    base = root.removeprefix("memory://")
    for rel in rels:
        assert hashlib.sha256(mem.cat_file(f"/{base}/download/{rel}")).hexdigest() == tree.sha256(rel)
    names = mem.find(f"/{base}")
    assert not [p for p in names if ".tmp-" in p or p.endswith(".part")]
    assert len([p for p in names if p.startswith(f"/{base}/_state/download/")]) == 2
    assert server.ranges_for(rels[0])[1].startswith("bytes=")  # resumed in scratch
    assert _files_below(tmp_path / "scratch") == []  # scratch emptied after upload
    mem.rm(f"/{base}", recursive=True)


def test_fetch_to_remote_failure_leaves_nothing(tree: CCTree, server: CCServer, tmp_path: Path) -> None:
    rel = tree.paths["warc"][3]
    server.corrupt(rel, times=None)
    dest = f"memory://dl-{uuid.uuid4().hex[:8]}/shard.warc.gz"
    with pytest.raises(FetchError, match="corrupt gzip"):
        fetch_to_remote(server.url_for(rel), dest, scratch_dir=tmp_path / "scratch", retries=1, **FAST)
    mem, path = fsspec.core.url_to_fs(dest)
    assert not mem.exists(path) and not mem.exists(posixpath.dirname(path))
    assert _files_below(tmp_path / "scratch") == []  # the corrupt part is not kept for a resume


@pytest.mark.parametrize("failure", ["raises", "short"])
def test_upload_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    local = tmp_path / "x.gz"
    local.write_bytes(b"0123456789" * 1000)
    dest = f"memory://up-{uuid.uuid4().hex[:8]}/a/x.gz"
    mem, path = fsspec.core.url_to_fs(dest)

    assert upload_atomic(local, dest) == 10_000 and mem.cat_file(path) == local.read_bytes()
    assert mem.ls(posixpath.dirname(path), detail=False) == [path]
    mem.rm(path)

    def broken_put(lpath: str, rpath: str, **kw: Any) -> None:
        mem.pipe_file(rpath, Path(lpath).read_bytes()[:4_000])  # half the bytes arrived
        if failure == "raises":
            raise ConnectionResetError("connection lost during upload")

    monkeypatch.setattr(mem, "put_file", broken_put)
    with pytest.raises(OSError, match="connection lost" if failure == "raises" else "stored 4000 of 10000 bytes"):
        upload_atomic(local, dest)
    assert not mem.exists(path)
    assert [p for p in mem.find(posixpath.dirname(path)) if ".tmp-" in p] == []
