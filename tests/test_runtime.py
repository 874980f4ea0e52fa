"""The stage contract on a real local Ray: parallel shards, completion records, skip/redo, failures, determinism."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.config import parse_config
from pipeline.runtime import ERROR_SUFFIX, error_path, record_path, run_shard, run_stage
from tests.toystage import ToyStage


def _cfg(tmp: Path, min_chars: int = 3):
    return parse_config(
        {
            "run": {"work_dir": str(tmp / "out"), "stages": ["extract"]},
            "extract": {"inputs": [str(tmp / "in" / "*.jsonl")], "min_text_chars": min_chars},
        }
    )


def _inputs(tmp: Path, n_shards: int = 4, bad: int | None = None, poison: str = "BOOM") -> None:
    (tmp / "in").mkdir(exist_ok=True)
    for s in range(n_shards):
        lines = [{"text": f"doc {s}-{i}" if i % 5 else "x"} for i in range(50)]
        if s == bad:
            lines[10] = {"text": poison}
        (tmp / "in" / f"shard-{s}.jsonl").write_text("\n".join(json.dumps(x) for x in lines))


def _fix(tmp: Path, s: int) -> None:
    """Take the planted poison out of shard `s` (the other inputs keep their mtimes)."""
    path = tmp / "in" / f"shard-{s}.jsonl"
    path.write_text(path.read_text().replace('"BOOM"', '"fixed"').replace('"DIE"', '"fixed"'))


def _outputs(tmp: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((tmp / "out" / "toy").glob("*.parquet"))}


def test_runs_every_shard_and_records_counts(ray_session, tmp_path: Path) -> None:
    _inputs(tmp_path)
    cfg = _cfg(tmp_path)
    res = run_stage(ToyStage, cfg)
    assert res.ok and res.shards == 4 and res.skipped == 0
    assert (res.docs_in, res.docs_out) == (200, 160)
    rec = json.loads(Path(record_path(cfg, "toy", "shard-0")).read_text())
    assert rec["stats"]["removed"] == {"too_short": {"und": 10}}
    assert rec["config_hash"] and rec["input_fingerprint"]
    assert len(_outputs(tmp_path)) == 4
    assert "shard-0" in res.summary() or "4 shards" in res.summary()


def test_rerun_skips_and_redoes_only_what_changed(ray_session, tmp_path: Path) -> None:
    _inputs(tmp_path)
    cfg = _cfg(tmp_path)
    run_stage(ToyStage, cfg)
    first = _outputs(tmp_path)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "toy").glob("*.parquet")}

    again = run_stage(ToyStage, cfg)
    assert again.skipped == 4 and again.docs_in == 200  # counts come from the records
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "toy").glob("*.parquet")} == mtimes

    changed = tmp_path / "in" / "shard-2.jsonl"
    changed.write_text(changed.read_text() + '\n{"text": "one more document"}')
    res = run_stage(ToyStage, cfg)
    assert res.skipped == 3 and [r["shard_id"] for r in res.results] == ["shard-2"]

    res = run_stage(ToyStage, _cfg(tmp_path, min_chars=1))  # config change redoes every shard
    assert res.skipped == 0 and res.docs_out == 201
    assert _outputs(tmp_path)["shard-0.parquet"] != first["shard-0.parquet"]


def test_output_is_byte_identical_across_runs(ray_session, tmp_path: Path) -> None:
    _inputs(tmp_path)
    cfg = _cfg(tmp_path)
    run_stage(ToyStage, cfg)
    first = _outputs(tmp_path)
    run_stage(ToyStage, cfg, force=True)
    assert _outputs(tmp_path) == first


def test_failed_shard_is_reported_not_recorded(ray_session, tmp_path: Path) -> None:
    _inputs(tmp_path, bad=1)
    cfg = _cfg(tmp_path)
    res = run_stage(ToyStage, cfg)
    assert not res.ok
    assert [f["shard_id"] for f in res.failed] == ["shard-1"]
    assert "planted failure" in res.failed[0]["error"]
    assert not os.path.exists(record_path(cfg, "toy", "shard-1"))
    assert not (tmp_path / "out" / "toy" / "shard-1.parquet").exists()
    assert len(_outputs(tmp_path)) == 3
    assert res.docs_in == 150  # the other shards went through
    err = json.loads(Path(error_path(cfg, "toy", "shard-1")).read_text())
    assert err["error"] == "ValueError: planted failure"
    assert 'raise ValueError("planted failure")' in err["traceback"] and "toystage.py" in err["traceback"]
    assert err["worker"]["pid"] and err["worker"]["host"] and err["worker"]["node"] and err["time"]

    _fix(tmp_path, 1)  # the shard is fixed: the rerun redoes only it and drops its error file
    res = run_stage(ToyStage, cfg)
    assert res.ok and res.skipped == 3 and [r["shard_id"] for r in res.results] == ["shard-1"]
    assert not os.path.exists(error_path(cfg, "toy", "shard-1"))


def test_dying_worker_fails_only_its_shard(ray_session, tmp_path: Path) -> None:
    """A shard that kills its worker (os._exit, as a segfault or the OOM killer would) is retried on fresh workers,
    then reported failed with the reason; the dead worker never gets another shard, so every other shard completes."""
    _inputs(tmp_path, n_shards=12, bad=3, poison="DIE")
    cfg = _cfg(tmp_path).model_copy(update={"ray": _cfg(tmp_path).ray.model_copy(update={"shard_retries": 1})})
    res = run_stage(ToyStage, cfg)
    assert [f["shard_id"] for f in res.failed] == ["shard-3"]
    assert res.failed[0]["error"].startswith("worker died (2 attempts)")
    assert res.shards == 12 and len(_outputs(tmp_path)) == 11 and res.docs_in == 550
    err = json.loads(Path(error_path(cfg, "toy", "shard-3")).read_text())
    assert err["attempts"] == 2 and "worker died" in err["error"]
    records = sorted(p.name for p in (tmp_path / "out" / "_state" / "toy").iterdir())
    assert len([r for r in records if not r.endswith(ERROR_SUFFIX)]) == 11

    _fix(tmp_path, 3)  # fixed: a rerun redoes exactly that shard
    res = run_stage(ToyStage, cfg)
    assert res.ok and res.skipped == 11 and [r["shard_id"] for r in res.results] == ["shard-3"]
    assert not os.path.exists(error_path(cfg, "toy", "shard-3"))


def test_records_keep_sizes_hashes_and_how_the_shard_ran(ray_session, tmp_path: Path) -> None:
    _inputs(tmp_path, n_shards=2)
    cfg = _cfg(tmp_path)
    run_stage(ToyStage, cfg)
    rec = json.loads(Path(record_path(cfg, "toy", "shard-0")).read_text())
    out = tmp_path / "out" / "toy" / "shard-0.parquet"
    assert rec["output_sizes"] == {"main": out.stat().st_size}
    assert len(rec["output_hashes"]["main"]) == 16
    assert rec["run"]["seconds"] > 0 and rec["run"]["peak_rss_mb"] > 10 and rec["run"]["node"] != "local"


def test_damaged_output_is_redone_without_cascading(ray_session, tmp_path: Path) -> None:
    """A truncated output no longer counts as done; redoing a shard with equal bytes leaves the file (and its
    mtime, which later stages fingerprint) untouched."""
    _inputs(tmp_path, n_shards=3)
    cfg = _cfg(tmp_path)
    run_stage(ToyStage, cfg)
    first = _outputs(tmp_path)
    damaged = tmp_path / "out" / "toy" / "shard-1.parquet"
    damaged.write_bytes(first["shard-1.parquet"][:-20])
    res = run_stage(ToyStage, cfg)
    assert res.skipped == 2 and [r["shard_id"] for r in res.results] == ["shard-1"]
    assert _outputs(tmp_path) == first

    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "toy").glob("*.parquet")}
    run_stage(ToyStage, cfg, force=True)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "toy").glob("*.parquet")} == mtimes


def test_stage_start_removes_temporary_files(ray_session, tmp_path: Path) -> None:
    """A writer killed between its temporary file and the rename leaves `*.tmp-*` behind; the next run removes them."""
    _inputs(tmp_path, n_shards=2)
    cfg = _cfg(tmp_path)
    run_stage(ToyStage, cfg)
    left = [tmp_path / "out" / "_state" / "toy" / "shard-0.json.tmp-0123456789ab",
            tmp_path / "out" / "_state" / "toy.index.tmp-00112233aabb",
            tmp_path / "out" / "toy" / "shard-1.parquet.tmp-ba9876543210"]  # fmt: skip
    for p in left:
        p.write_bytes(b"")
    res = run_stage(ToyStage, cfg)
    assert res.skipped == 2
    assert not any(p.exists() for p in left)


def test_run_shard_without_ray(tmp_path: Path) -> None:
    """Stages are testable without Ray: plan, setup and process directly."""
    _inputs(tmp_path, n_shards=1)
    stage = ToyStage(_cfg(tmp_path))
    stage.setup()
    (task,) = stage.plan()
    res = run_shard(stage, task, {"stage": "toy"})
    assert res["ok"] and res["stats"]["docs_out"] == 40


def _storage_calls_to_skip(tmp: Path, n_shards: int, monkeypatch: pytest.MonkeyPatch) -> int:
    import pipeline.storage as storage

    tmp.mkdir()
    _inputs(tmp, n_shards=n_shards)
    cfg = _cfg(tmp)
    assert run_stage(ToyStage, cfg).ok
    calls = []
    real = storage.fs_and_path
    monkeypatch.setattr(storage, "fs_and_path", lambda url: calls.append(url) or real(url))
    res = run_stage(ToyStage, cfg)
    monkeypatch.setattr(storage, "fs_and_path", real)
    assert res.skipped == n_shards and res.docs_in == 50 * n_shards  # the counts come from the index
    return len(calls)


def test_skipping_costs_listings_not_calls_per_shard(ray_session, tmp_path: Path, monkeypatch) -> None:
    """Every storage call goes through `fs_and_path`: skipping 3 or 12 completed shards costs the same few calls
    (one listing per folder and one read of the stage index; the bench on S3: scripts/bench/skip_s3.py)."""
    few = _storage_calls_to_skip(tmp_path / "a", 3, monkeypatch)
    many = _storage_calls_to_skip(tmp_path / "b", 12, monkeypatch)
    assert few == many <= 8, (few, many)


def test_index_is_dropped_before_records_change(ray_session, tmp_path: Path) -> None:
    """A run that redoes shards removes the stage index first, so a run killed midway leaves no index that still
    vouches for the old records; the next run reads the records and writes a new index."""
    from pipeline.runtime import index_path

    _inputs(tmp_path, n_shards=3)
    cfg = _cfg(tmp_path)
    run_stage(ToyStage, cfg)
    index = Path(index_path(cfg, "toy"))
    assert sorted(json.loads(index.read_text())["records"]) == ["shard-0", "shard-1", "shard-2"]
    _inputs(tmp_path, n_shards=3, bad=1)  # shard-1 now fails (and every input changed)
    res = run_stage(ToyStage, cfg)
    assert [f["shard_id"] for f in res.failed] == ["shard-1"]
    assert sorted(json.loads(index.read_text())["records"]) == ["shard-0", "shard-2"]


def test_workers_serve_every_stage_of_a_run(ray_session, tmp_path: Path) -> None:
    """The second stage runs on the processes the first one started: their imports are paid once per run."""
    from tests.toystage import ToyStage

    class OtherToy(ToyStage):
        name = "toy2"

    _inputs(tmp_path)
    cfg = _cfg(tmp_path)
    first = run_stage(ToyStage, cfg)
    second = run_stage(OtherToy, cfg)
    assert first.ok and second.ok
    pids = lambda res: {r["run"]["pid"] for r in res.results}  # noqa: E731
    assert pids(second) <= pids(first), (pids(first), pids(second))


def _pid(item: int) -> tuple[int, int]:
    return item, os.getpid()


def _die_once(marker: str) -> int:
    """Ends its process the first time (a crash or the OOM killer), returns its pid the second."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return os.getpid()


def test_corpus_wide_tasks_run_on_the_stage_workers(ray_session, tmp_path: Path) -> None:
    """`run_tasks` runs a step's tasks on the workers the stage before started, and leaves them to the stage after:
    no process start-up or imports between a per-shard stage and a corpus-wide step."""
    import ray

    from pipeline import runtime
    from pipeline.runtime import run_tasks

    _inputs(tmp_path)
    cfg = _cfg(tmp_path)
    first = run_stage(ToyStage, cfg)
    assert first.ok
    pool = [a for workers in runtime._idle_workers.values() for a in workers]  # the stage's workers that were up
    pool_pids = {pid for _, pid in ray.get([a.call.remote(_pid, 0) for a in pool])}
    assert pool_pids and {r["run"]["pid"] for r in first.results} <= pool_pids
    out = run_tasks(_pid, list(range(6)), label="toy step")
    assert [i for i, _ in out] == list(range(6))  # in item order
    step_pids = {pid for _, pid in out}
    assert pool_pids <= step_pids and len(step_pids) <= 2, (pool_pids, out)  # every idle worker took a task
    again = run_stage(ToyStage, cfg, force=True)
    assert {r["run"]["pid"] for r in again.results} <= step_pids


def test_a_multi_cpu_task_runs_on_a_gang_of_pool_workers(ray_session, tmp_path: Path) -> None:
    """A 2-CPU task (the tokenizer's two trainer threads) runs on a pool worker while another worker of its node
    holds the second CPU: no worker is started for it, and the whole pool is left for the next stage."""
    import ray

    from pipeline import runtime
    from pipeline.runtime import run_tasks

    if ray.cluster_resources().get("CPU", 0) < 2:
        pytest.skip("needs a Ray session with 2 CPUs")
    _inputs(tmp_path)
    first = run_stage(ToyStage, _cfg(tmp_path))
    assert first.ok
    pool = list(runtime._idle_workers.get((runtime._job(), 1.0), []))
    if len(pool) < 2:  # a worker still starting when the tiny stage ended is not kept
        pool += [runtime._make_actor_class().options(num_cpus=1).remote() for _ in range(2 - len(pool))]
        runtime._idle_workers[(runtime._job(), 1.0)] = pool
    pool_pids = {pid for _, pid in ray.get([a.call.remote(_pid, 0) for a in pool])}
    ((_, pid),) = run_tasks(_pid, [7], label="toy step", num_cpus=2.0)
    assert pid in pool_pids
    after = runtime._idle_workers.get((runtime._job(), 1.0), [])
    assert {a for a in after} == set(pool) and not runtime._idle_workers.get((runtime._job(), 2.0))


def test_a_corpus_wide_task_whose_worker_dies_is_retried_on_a_fresh_one(ray_session, tmp_path: Path) -> None:
    from pipeline.runtime import run_tasks

    (pid,) = run_tasks(_die_once, [str(tmp_path / "died")], label="toy step")
    assert pid != os.getpid() and (tmp_path / "died").exists()


def test_a_failing_corpus_wide_task_fails_the_step_with_its_error(ray_session) -> None:
    from pipeline.runtime import run_tasks

    with pytest.raises(ValueError, match="toy step: invalid literal"):
        run_tasks(int, ["1", "x"], label="toy step")


def test_a_small_run_stays_in_the_driver_without_ray(tmp_path: Path) -> None:
    """`ray.in_driver_below_mb`: a stage with little input needs no Ray; the records say it ran in the driver."""
    import subprocess
    import sys

    import yaml

    from tests.conftest import PROJECT_ROOT
    from tests.stages.test_extract_langid import write_warc

    (tmp_path / "in").mkdir()
    write_warc(tmp_path / "in" / "one.warc.gz")
    cfg = {"run": {"work_dir": str(tmp_path / "out"), "stages": ["extract", "langid", "filter"]},
           "extract": {"inputs": [str(tmp_path / "in" / "*.warc.gz")]}}  # fmt: skip
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    code = ("import sys, runpy; sys.argv = ['polyglot', 'run', '--config', sys.argv[1]]\n"
            "try:\n    runpy.run_module('pipeline.cli', run_name='__main__')\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "assert 'ray' not in sys.modules or not sys.modules['ray'].is_initialized()\nprint('ray used:', 'ray' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c.yaml")], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ray used: False" in done.stdout, done.stdout
    for stage in ("extract", "langid", "filter"):
        rec = json.loads((tmp_path / "out" / "_state" / stage / "one.json").read_text())
        assert rec["run"]["node"] == "driver", stage


def test_a_whole_stage_of_records_is_one_index_read(ray_session, tmp_path: Path, monkeypatch) -> None:
    """`stage_records` (what corpus-wide steps read) takes the records from the stage's index, and a record file
    that no longer has the indexed size from the file itself."""
    import pipeline.runtime as runtime

    _inputs(tmp_path)
    cfg = _cfg(tmp_path)
    assert run_stage(ToyStage, cfg).ok
    ids = [f"shard-{s}" for s in range(4)]
    reads: list[str] = []
    real = runtime.read_json
    monkeypatch.setattr(runtime, "read_json", lambda url: reads.append(url) or real(url))
    records = runtime.stage_records(cfg, "toy", ids)
    assert sorted(records) == ids and all(r["shard_id"] == s for s, r in records.items())
    assert reads == [runtime.index_path(cfg, "toy")]
    path = Path(record_path(cfg, "toy", "shard-2"))
    changed = dict(json.loads(path.read_text()), note="rewritten")
    path.write_text(json.dumps(changed))
    reads.clear()
    assert runtime.stage_records(cfg, "toy", ids)["shard-2"]["note"] == "rewritten"
    assert reads == [runtime.index_path(cfg, "toy"), str(path)]
