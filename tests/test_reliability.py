"""Reliability of the runtime around the stages: the work-dir lock, the embedded Ray's network exposure, what
`polyglot stats` says about failures and throughput, and a full disk."""

from __future__ import annotations

import errno
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from pipeline.report import collect, render
from pipeline.runtime import WorkDirLocked, lock_path, record_path, run_stage, work_dir_lock
from tests.test_runtime import _cfg, _inputs
from tests.toystage import ToyStage

from .conftest import PROJECT_ROOT

# ------------------------------------------------------------------------------------------------------- the lock


def test_second_holder_is_refused_with_the_owner(tmp_path: Path) -> None:
    work = str(tmp_path / "work")
    with work_dir_lock(work, "polyglot run -c a.yaml") as me:
        with pytest.raises(WorkDirLocked, match=rf"in use by another run \(pid {os.getpid()} on {socket.gethostname()}"):
            with work_dir_lock(work):
                pass
        assert json.loads(Path(lock_path(work)).read_text())["token"] == me["token"]
    assert not Path(lock_path(work)).exists()  # released
    with work_dir_lock(work):  # and free again
        pass


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    work = str(tmp_path / "work")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = Path(lock_path(work))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "x", "token": "old"}))
    with work_dir_lock(work) as me:
        assert json.loads(path.read_text())["token"] == me["token"]
    path.write_text("")  # a lock file cut short by a kill is stale too
    with work_dir_lock(work):
        pass


def test_lock_held_on_another_host_is_respected(tmp_path: Path) -> None:
    work = str(tmp_path / "work")
    path = Path(lock_path(work))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": "x", "token": "t"}))
    with pytest.raises(WorkDirLocked, match="elsewhere.example.*delete"):
        with work_dir_lock(work):
            pass


def test_cli_refuses_a_second_run_on_a_locked_work_dir(tmp_path: Path) -> None:
    _inputs(tmp_path, n_shards=1)
    work = tmp_path / "out"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"run:\n  work_dir: {work}\n  stages: [extract]\nextract:\n  inputs: ['{tmp_path}/in/*.jsonl']\n")
    with work_dir_lock(str(work), "the first run"):
        proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "-c", str(cfg)], cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1
    assert "refused" in proc.stderr and "in use by another run" in proc.stderr and "the first run" in proc.stderr
    assert sorted(p.name for p in work.rglob("*")) == ["_state"]  # nothing else written (lock released)


# ---------------------------------------------------------------------------------------------------- Ray exposure


def _listening(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every TCP socket listening in one of `pids` (from /proc, Linux)."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes[target[8:-1]] = pid
    out = []
    for table, v6 in (("tcp", False), ("tcp6", True)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            f = line.split()
            if f[3] != "0A" or f[9] not in inodes:  # 0A = LISTEN
                continue
            ip_hex, port = f[1].split(":")
            raw = bytes.fromhex(ip_hex)
            if v6:
                raw = b"".join(struct.pack("<I", struct.unpack(">I", raw[i : i + 4])[0]) for i in range(0, 16, 4))
                ip = socket.inet_ntop(socket.AF_INET6, raw)
            else:
                ip = socket.inet_ntoa(struct.pack("<I", int(ip_hex, 16)))
            out.append((inodes[f[9]], ip, int(port, 16)))
    return out


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = set(), [root]
    while todo:
        p = todo.pop()
        out.add(p)
        todo.extend(children.get(p, []))
    return out


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads listening sockets from /proc (Linux)")
def test_embedded_ray_listens_on_loopback_only(ray_session, tmp_path: Path) -> None:
    _inputs(tmp_path, n_shards=2)
    assert run_stage(ToyStage, _cfg(tmp_path)).ok  # workers started too
    sockets = _listening(_descendants(os.getpid()))
    assert len(sockets) >= 3, sockets  # GCS, raylet, workers
    exposed = [s for s in sockets if s[1] not in ("127.0.0.1", "::1", "::ffff:127.0.0.1")]
    assert not exposed, exposed


# ------------------------------------------------------------------------------------------- stats: failures, speed


def test_stats_lists_failed_shards_and_throughput(ray_session, tmp_path: Path) -> None:
    _inputs(tmp_path, n_shards=3, bad=2)
    cfg = _cfg(tmp_path)
    assert not run_stage(ToyStage, cfg).ok
    rep = collect(cfg.run.work_dir)
    assert [(f["stage"], f["shard_id"], f["error"]) for f in rep["failed"]] == [("toy", "shard-2", "ValueError: planted failure")]
    assert rep["stages"]["toy"]["shards"] == 2  # the error file is not counted as a record
    speed = rep["throughput"]["toy"]
    assert speed["shards_timed"] == 2 and speed["worker_seconds"] > 0 and speed["docs_per_s"] > 0
    assert speed["peak_rss_mb"] > 10 and speed["nodes"] == 1
    console = Console(record=True, width=200)
    render(rep, console)
    text = console.export_text()
    assert "Failed shards (1" in text and "planted failure" in text and "Throughput per stage" in text


# ------------------------------------------------------------------------------------------------------ disk full


def test_full_disk_names_the_path_and_records_nothing(ray_session, tmp_path: Path) -> None:
    """A storage shim raises ENOSPC after a few bytes of one shard's output (mounting a small tmpfs needs
    privileges the tests do not assume): the error names the file, the shard gets no record and leaves no partial
    or temporary file, the other shards complete, and a rerun after space is freed completes."""
    _inputs(tmp_path, n_shards=3)
    cfg = _cfg(tmp_path)
    marker = tmp_path / "in" / "shard-1.jsonl.full"
    marker.write_text("")
    res = run_stage(ToyStage, cfg)
    assert [f["shard_id"] for f in res.failed] == ["shard-1"] and res.docs_in == 100
    out = str(tmp_path / "out" / "toy" / "shard-1.parquet")
    assert res.failed[0]["error"].startswith(f"StorageFullError: [Errno {errno.ENOSPC}] no space left writing {out}")
    assert not Path(record_path(cfg, "toy", "shard-1")).exists()
    assert not list((tmp_path / "out" / "toy").glob("shard-1*"))
    marker.unlink()  # space freed
    res = run_stage(ToyStage, cfg)
    assert res.ok and [r["shard_id"] for r in res.results] == ["shard-1"]


# ------------------------------------------------------------------------------------------------ what the CLI says


def _failing_run(tmp_path: Path, monkeypatch, capsys, result_or_error, verbose: bool) -> str:
    import typer

    import pipeline.stages as stages
    from pipeline import cli

    def runner(name, cfg=None):  # noqa: ANN001, ANN202
        def run(cfg, address, force):  # noqa: ANN001, ANN202
            if isinstance(result_or_error, Exception):
                raise result_or_error
            return result_or_error

        return run

    monkeypatch.setattr(stages, "runner", runner)
    monkeypatch.setattr(cli, "console", Console(stderr=True, width=300, soft_wrap=True))
    with pytest.raises(typer.Exit):
        cli._run(_cfg(tmp_path), ["extract"], None, False, verbose)
    return capsys.readouterr().err


def test_cli_prints_the_first_failed_shards_traceback_and_all_with_v(tmp_path: Path, monkeypatch, capsys) -> None:
    from pipeline.runtime import StageResult

    failed = [{"shard_id": f"s{i}", "ok": False, "error": f"ValueError: bad {i}",
               "traceback": f"Traceback (most recent call last):\n  File \"x.py\", line {i}\nValueError: bad {i}"}
              for i in range(3)]  # fmt: skip
    result = StageResult(stage="extract", shards=3, failed=failed)
    out = _failing_run(tmp_path, monkeypatch, capsys, result, verbose=False)
    assert 'File "x.py", line 0' in out and "line 1" not in out and "-v prints every traceback" in out
    assert "3 shard(s) failed" in out and "_state/extract/*.error.json" in out
    out = _failing_run(tmp_path, monkeypatch, capsys, result, verbose=True)
    assert all(f'File "x.py", line {i}' in out for i in range(3))


def test_cli_says_where_a_whole_stage_error_was_raised(tmp_path: Path, monkeypatch, capsys) -> None:
    def buggy() -> None:
        raise ValueError("[not markup] something broke")

    try:
        buggy()
    except ValueError as e:
        error = e
    out = _failing_run(tmp_path, monkeypatch, capsys, error, verbose=False)
    assert "extract: [not markup] something broke (ValueError raised in test_reliability.py:" in out
    assert "buggy; -v for the traceback)" in out
    out = _failing_run(tmp_path, monkeypatch, capsys, error, verbose=True)
    assert "Traceback (most recent call last)" in out
    kept = json.loads((tmp_path / "out" / "_state" / "extract" / "_stage.error.json").read_text())
    assert kept["error"] == "ValueError: [not markup] something broke" and "def buggy" not in kept["traceback"]
    assert "in buggy" in kept["traceback"] and kept["worker"]["node"] == "driver"


def test_stats_with_failures_only(tmp_path: Path) -> None:
    err = tmp_path / "_state" / "extract" / "s1.error.json"
    err.parent.mkdir(parents=True)
    err.write_text(json.dumps({"shard_id": "s1", "error": "OSError: disk", "attempts": 1, "worker": {"host": "h"}}))
    rep = collect(str(tmp_path))
    assert [f["shard_id"] for f in rep["failed"]] == ["s1"] and "extract" not in rep["stages"]
    console = Console(record=True, width=200)
    render(rep, console)
    text = console.export_text()
    assert "Failed shards (1" in text and "OSError: disk" in text
