"""Killed anywhere, resumed exactly: the demo pipeline is killed with SIGKILL (driver, embedded Ray and workers at
once, as a lost machine would be) at several points, and rerun each time. The result must be byte-identical to an
uninterrupted run, leave no temporary file, and redo no shard or step completed before a kill. A worker killed
mid-shard is replaced and its shard retried within the run; a second run started on the same work dir refuses."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

TMP_MARK = ".tmp-"


def _config(work: Path, sequential: bool = True) -> Path:
    cfg = yaml.safe_load((PROJECT_ROOT / "configs" / "demo.yaml").read_text())
    cfg["run"]["work_dir"] = str(work / "out")
    if sequential:
        cfg["ray"]["max_workers"] = 1  # one shard at a time: wider windows to kill in
    path = work / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _start(cfg: Path) -> subprocess.Popen:
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--config", str(cfg)], cwd=PROJECT_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip


def _records(out: Path, stage: str) -> list[Path]:
    d = out / "_state" / stage
    return [p for p in d.glob("*.json") if not p.name.endswith(".error.json")] if d.is_dir() else []


def _digests(out: Path) -> dict[str, str]:
    """sha256 of every output file (records below _state/ hold timings and are compared separately)."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.relative_to(out).parts[0] != "_state"
    }


#: Reports that say how long training took and where the work dir was: compared without those fields.
TIMED_REPORTS = ("tokenizer/report.json", "tokenizer/report.md")


def _untimed(value: object) -> object:
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if "seconds" not in k and k != "work_dir"}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def _completed(out: Path) -> dict[str, int]:
    """Every completion record (shards and corpus-wide steps) with its mtime: a record rewritten is a redone shard."""
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in (out / "_state").rglob("*.json")
            if not p.name.endswith(".error.json") and p.name != "lock.json"}  # fmt: skip


def _redone(kept: dict[str, int], now: dict[str, int]) -> list[str]:
    """Records completed before that were rewritten or lost since (the shards stage's scatter records are removed
    by its clean-up once the shards are written)."""
    return [k for k, v in kept.items() if now.get(k) != v and not (k not in now and k.startswith("_state/shards/scatter"))]


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], list(children.get(root, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _run_until(cfg: Path, when: Callable[[], bool], label: str, timeout: float = 400) -> None:
    """Run the pipeline and SIGKILL its whole process group as soon as `when()` holds."""
    proc = _start(cfg)
    t0 = time.monotonic()
    try:
        while not when():
            assert proc.poll() is None, f"{label}: the run ended before the kill point\n{proc.stderr.read()[-3000:]}"
            assert time.monotonic() - t0 < timeout, f"{label}: kill point not reached"
            time.sleep(0.02)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()


@pytest.mark.slow
def test_killed_at_every_stage_then_resumed_gives_the_uninterrupted_result(tmp_path: Path) -> None:
    ref_dir, work = tmp_path / "ref", tmp_path / "killed"
    ref_dir.mkdir()
    work.mkdir()
    ref = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--config", str(_config(ref_dir, sequential=False))],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert ref.returncode == 0, ref.stderr[-3000:]
    expected = _digests(ref_dir / "out")

    cfg, out = _config(work), work / "out"
    kill_points = [
        ("mid-extract", lambda: 1 <= len(_records(out, "extract")) < 4),
        ("mid-dedup, between its steps", lambda: len(_records(out, "dedup/signatures")) == 4
         and not (out / "_state" / "dedup" / "_global" / "clusters.json").exists()),
        ("mid-tokenizer", lambda: len(_records(out, "tokenizer/sample")) >= 1
         and not (out / "_state" / "tokenizer" / "_global" / "train.json").exists()),
        ("mid-balance", lambda: 1 <= len(_records(out, "balance")) < 4),
        ("mid-shards", lambda: (out / "_state" / "shards").is_dir() and not (out / "shards" / "manifest.json").exists()
         and any((out / "_state" / "shards").rglob("*.json"))),
    ]  # fmt: skip
    kept: dict[str, int] = {}
    for label, when in kill_points:
        _run_until(cfg, when, label)
        before = _completed(out)
        assert not _redone(kept, before), f"{label}: completed earlier, redone: {_redone(kept, before)}"
        kept = before

    # A Ray worker killed mid-shard is replaced and its shard retried, within the run that resumes.
    proc = _start(cfg)
    killed = None
    while proc.poll() is None and killed is None:
        workers = [p for p in _descendants(proc.pid) if "ray::StageWorker.run" in _cmdline(p)]
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed = workers[0]
        time.sleep(0.02)
    # Meanwhile a second run on the same work dir refuses and changes nothing. The first is paused meanwhile, so
    # that it still holds the work dir however long the second takes to start.
    paused = proc.poll() is None
    if paused:
        os.kill(proc.pid, signal.SIGSTOP)
    try:
        second = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--config", str(cfg)], cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        if paused:
            os.kill(proc.pid, signal.SIGCONT)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    assert killed is not None, "no worker was caught running a shard"
    assert "lost its worker" in stderr, stderr[-3000:]
    assert second.returncode == 1 and "in use by another run" in second.stderr, second.stderr[-2000:]

    final = _completed(out)
    assert not _redone(kept, final), f"completed before the last kill, redone: {_redone(kept, final)}"
    assert not [p for p in out.rglob("*") if TMP_MARK in p.name], "temporary files left behind"
    assert not list(out.rglob("*.error.json")) and not (out / "_state" / "lock.json").exists()
    got = _digests(out)
    assert got.keys() == expected.keys()
    assert {k for k in got if got[k] != expected[k]} <= set(TIMED_REPORTS)
    report = "tokenizer/report.json"
    assert _untimed(json.loads((out / report).read_text())) == _untimed(json.loads((ref_dir / "out" / report).read_text()))
    rerun = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--config", str(cfg)], cwd=PROJECT_ROOT,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert rerun.returncode == 0 and _completed(out) == final  # and a plain rerun redoes nothing
