"""Where stages meet Ray: start or join Ray, skip completed shards, run the rest on a pool of workers.

This is the one module that knows about Ray. A stage's shard tasks go to a pool of long-lived actors (one stage
instance each, set up once — models load once per worker, not per shard); every actor reads its own shard and
writes its own output, so no Ray Data read task can be starved of CPUs by the actors (on 2 cores, a Ray Data read
followed by an actor pool of 2 deadlocked: ray issue #44687). After a shard's outputs are in place the worker writes a completion
record: input fingerprint, config hash, outputs and counts. A rerun skips shards whose record still matches.
"""

from __future__ import annotations

import math
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import xxhash

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.config import PipelineConfig, RaySection
from pipeline.stages.base import Stage, ShardTask
from pipeline.storage import exists, join, read_json, write_json

console = Console(stderr=True, soft_wrap=True)  # summary lines stay one line in logs

STATE_DIR = "_state"


def record_path(cfg: PipelineConfig, stage: str, shard_id: str) -> str:
    """Where a shard's completion record lives."""
    return join(cfg.run.work_dir, STATE_DIR, stage, f"{shard_id}.json")


# ----------------------------------------------------------------------------------------------------- Ray session


def ensure_ray(ray_cfg: RaySection, address: str | None = None) -> None:
    """Join the given cluster (flag > RAY_ADDRESS > config), or start an embedded local Ray.

    The embedded Ray always uses `address="local"`: a bare `ray.init()` may try to join a dead cluster left
    behind by a killed run and hang.
    """
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    target = address or os.environ.get("RAY_ADDRESS") or ray_cfg.address
    if target and target != "local":
        ray.init(address=target, logging_level="WARNING")
        return
    ray.init(
        address="local",
        num_cpus=ray_cfg.num_cpus or os.cpu_count() or 1,
        object_store_memory=ray_cfg.object_store_mb * 2**20,
        include_dashboard=False,
        logging_level="WARNING",
    )


def shutdown_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


# ---------------------------------------------------------------------------------------------- completion records


def expected_record(stage: Stage, task: ShardTask, config_hash: str) -> dict[str, Any]:
    """What a shard's completion record must say for the shard to count as done with today's inputs and config."""
    return {
        "stage": stage.name,
        "version": stage.version,
        "shard_id": task.shard_id,
        "inputs": list(task.inputs),
        "input_fingerprint": stage.input_fingerprint(task),
        "config_hash": config_hash,
        "outputs": dict(task.outputs),
    }


def is_complete(stage: Stage, task: ShardTask, expected: dict[str, Any] | None = None) -> bool:
    """A shard is done when its record matches the current inputs and config and its outputs exist."""
    if expected is None:
        expected = expected_record(stage, task, stage.cfg.section_hash(*stage.config_parts()))
    return record_matches(record_path(stage.cfg, stage.name, task.shard_id), expected)


def record_matches(path: str, expected: dict[str, Any]) -> bool:
    """The record at `path` exists, agrees with `expected` on version, inputs, config and outputs, and every
    output it names exists."""
    if not exists(path):
        return False
    try:
        rec = read_json(path)
    except (OSError, ValueError):
        return False
    keys = ("version", "input_fingerprint", "config_hash", "outputs")
    if any(rec.get(k) != expected[k] for k in keys):
        return False
    return all(exists(p) for p in expected["outputs"].values())


def global_record_path(cfg: PipelineConfig, stage: str, step: str) -> str:
    """Where the record of a corpus-wide step of a stage lives (beside, not among, its shard records)."""
    return join(cfg.run.work_dir, STATE_DIR, stage, "_global", f"{step}.json")


def shard_records_fingerprint(
    cfg: PipelineConfig, stage_cls: type[Stage], tasks: list[ShardTask], extra: Callable[[dict[str, Any]], str] | None = None
) -> str:
    """One fingerprint of the completion records of `tasks` (their inputs and config, plus `extra(record)` if
    given): a corpus-wide step that reads those shards' outputs is redone exactly when one of them was redone."""
    parts = []
    for t in sorted(tasks, key=lambda t: t.shard_id):
        rec = read_json(record_path(cfg, stage_cls.name, t.shard_id))
        parts.append(f"{t.shard_id}:{rec['input_fingerprint']}:{rec['config_hash']}:{extra(rec) if extra else ''}")
    return xxhash.xxh3_64_hexdigest("|".join(parts).encode())


def run_global_step(
    cfg: PipelineConfig,
    stage: str,
    step: str,
    fn: Callable[[], dict[str, Any]],
    *,
    version: str,
    input_fingerprint: str,
    config_hash: str,
    outputs: dict[str, str],
    force: bool = False,
    address: str | None = None,
) -> dict[str, Any]:
    """Run a corpus-wide step `fn` (on the driver, with Ray up for any tasks it starts) unless its record still
    matches: same version, inputs, config, and every output present. Returns the step's summary (`fn`'s result,
    kept in the record, so a skipped step still reports what it did), with `"skipped": True` when skipped."""
    expected = {
        "stage": stage,
        "step": step,
        "version": version,
        "input_fingerprint": input_fingerprint,
        "config_hash": config_hash,
        "outputs": outputs,
    }
    path = global_record_path(cfg, stage, step)
    if not force and record_matches(path, expected):
        console.print(f"{stage} {step}: unchanged, skipped", highlight=False)
        return dict(read_json(path).get("stats", {}), skipped=True)
    ensure_ray(cfg.ray, address)
    summary = fn()
    write_json(path, dict(expected, stats=summary))
    return summary


def run_shard(stage: Stage, task: ShardTask, expected: dict[str, Any], progress: Any = None) -> dict[str, Any]:
    """Process one shard and write its completion record; errors come back as a result, never raised.

    Shared by the Ray actor and by in-process callers (tests, debugging).
    """
    t0 = time.perf_counter()
    try:
        stats = stage.process(task, progress or (lambda n: None))
    except Exception as e:  # noqa: BLE001 - one bad shard must not stop the others
        return {
            "shard_id": task.shard_id,
            "ok": False,
            "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(),
            "seconds": time.perf_counter() - t0,
        }
    record = dict(expected, stats=stats.to_dict())
    write_json(record_path(stage.cfg, stage.name, task.shard_id), record)
    return {
        "shard_id": task.shard_id,
        "ok": True,
        "stats": record["stats"],
        "seconds": time.perf_counter() - t0,
    }


def _make_actor_class() -> Any:
    import ray

    @ray.remote(max_concurrency=2)  # one thread runs shards, the other answers progress polls
    class StageWorker:
        def __init__(self, stage_cls: type[Stage], cfg_json: str) -> None:
            self.stage = stage_cls(PipelineConfig.model_validate_json(cfg_json))
            self.stage.setup()
            self.done = 0
            self.node_id = ray.get_runtime_context().get_node_id()

        def progress(self) -> int:
            return self.done

        def _bump(self, n: int) -> None:
            self.done += n

        def run(self, task: ShardTask, expected: dict[str, Any]) -> dict[str, Any]:
            self.done = 0
            result = run_shard(self.stage, task, expected, self._bump)
            result["node_id"] = self.node_id
            result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            return result

    return StageWorker


# ------------------------------------------------------------------------------------------------------ the runner


@dataclass
class StageResult:
    """What one run of a stage did; `summary()` is the one line printed at the end."""

    stage: str
    shards: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    docs_in: int = 0
    docs_out: int = 0
    seconds: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list)
    #: Counters summed over the shards' records (e.g. files and bytes for downloads).
    counters: dict[str, int] = field(default_factory=dict)
    unit: str = "docs"

    def add(self, stats: dict[str, Any]) -> None:
        """Count one completed shard's record stats."""
        self.docs_in += stats["docs_in"]
        self.docs_out += stats["docs_out"]
        for k, v in stats.get("counters", {}).items():
            self.counters[k] = self.counters.get(k, 0) + v

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        ran = self.shards - self.skipped
        if self.unit == "docs":
            work = f"docs {self.docs_in:,} in -> {self.docs_out:,} out"
        else:  # e.g. downloads: files and bytes, not documents
            work = f"{self.counters.get('files', 0):,} files, {self.counters.get(self.unit, 0):,} {self.unit}"
        return (
            f"{self.stage}: {self.shards} shards ({ran} run, {self.skipped} skipped, {len(self.failed)} failed)"
            f" | {work} | {self.seconds:.1f} s"
        )


def run_stage(
    stage_cls: type[Stage],
    cfg: PipelineConfig,
    *,
    address: str | None = None,
    force: bool = False,
    started: float | None = None,
) -> StageResult:
    """Run one stage over all its shards: skip the completed ones, process the rest in parallel on Ray.

    `started` (a `time.perf_counter()` value) makes the summary's seconds count from an earlier point, for a stage
    whose per-shard step comes after corpus-wide work.
    """
    t0 = time.perf_counter() if started is None else started
    stage = stage_cls(cfg)
    tasks = stage.plan()
    config_hash = cfg.section_hash(*stage.config_parts())
    result = StageResult(stage=stage.name, shards=len(tasks), unit=stage.progress_unit)

    pending: list[tuple[ShardTask, dict[str, Any]]] = []
    for task in tasks:
        expected = expected_record(stage, task, config_hash)
        if not force and is_complete(stage, task, expected):
            result.skipped += 1
            result.add(read_json(record_path(cfg, stage.name, task.shard_id))["stats"])
        else:
            pending.append((task, expected))

    if pending:
        ensure_ray(cfg.ray, address)
        _run_on_ray(stage, cfg, pending, result)
    result.seconds = time.perf_counter() - t0
    for f in result.failed:
        console.print(f"[red]{stage.name}: shard {escape(str(f['shard_id']))} failed: {escape(str(f['error']))}[/red]")
    console.print(result.summary(), highlight=False)
    return result


def run_tasks(fn: Any, items: list[Any], *, label: str, num_cpus: float = 1.0) -> list[Any]:
    """Run `fn(item)` for every item as plain Ray tasks, at most as many at once as the cluster has CPUs for;
    the results come back in item order. For the corpus-wide steps of a stage (e.g. one task per LSH partition).

    A task that fails fails the step: its error is raised with the item it was working on.
    """
    import ray

    remote = ray.remote(num_cpus=num_cpus, max_retries=2)(fn)
    window = max(1, math.floor(ray.cluster_resources().get("CPU", 1.0) / num_cpus))
    results: list[Any] = [None] * len(items)
    todo = list(enumerate(items))
    inflight: dict[Any, int] = {}
    t0 = time.perf_counter()
    done = 0
    while todo or inflight:
        while todo and len(inflight) < window:
            i, item = todo.pop(0)
            inflight[remote.remote(item)] = i
        ready, _ = ray.wait(list(inflight), num_returns=1)
        for ref in ready:
            i = inflight.pop(ref)
            try:
                results[i] = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - re-raised with context
                for r in inflight:
                    ray.cancel(r)
                cause = getattr(e, "cause", None) or e  # the task's own exception, without Ray's traceback text
                if isinstance(cause, ValueError):  # bad input or settings: the message is for the user as it is
                    raise ValueError(f"{label}: {cause}") from cause
                raise RuntimeError(f"{label}: task {i} failed: {type(cause).__name__}: {cause}") from e
            done += 1
    console.print(f"{label}: {done} tasks | {time.perf_counter() - t0:.1f} s", highlight=False)
    return results


def _pool_size(stage: Stage, cfg: PipelineConfig, n_tasks: int) -> int:
    import ray

    cpus = ray.cluster_resources().get("CPU", 1.0)
    size = max(1, math.floor(cpus / stage.cpus_per_worker))
    for cap in (cfg.ray.max_workers, stage.max_workers(), n_tasks):
        if cap is not None:
            size = min(size, cap)
    return size


def _run_on_ray(stage: Stage, cfg: PipelineConfig, pending: list[tuple[ShardTask, dict[str, Any]]], result: StageResult) -> None:
    import ray

    worker_cls = _make_actor_class().options(num_cpus=stage.cpus_per_worker, max_restarts=2, max_task_retries=2)
    cfg_json = cfg.model_dump_json()
    actors = [worker_cls.remote(type(stage), cfg_json) for _ in range(_pool_size(stage, cfg, len(pending)))]
    queue = list(pending)
    idle = list(actors)
    inflight: dict[Any, tuple[Any, ShardTask]] = {}
    docs_done_finished = 0
    live = console.is_terminal and not os.environ.get("CI")
    progress = Progress(
        TextColumn(f"[bold]{stage.name}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("shards · {task.fields[docs]:,} " + stage.progress_unit),
        TimeElapsedColumn(),
        console=console,
        disable=not live,
        transient=True,
    )
    with progress:
        bar = progress.add_task(stage.name, total=len(pending), docs=0)
        while queue or inflight:
            while queue and idle:
                task, expected = queue.pop(0)
                actor = idle.pop()
                inflight[actor.run.remote(task, expected)] = (actor, task)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.5)
            for ref in ready:
                actor, task = inflight.pop(ref)
                idle.append(actor)
                try:
                    res = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - a worker lost for good (node gone, retries used up)
                    res = {"shard_id": task.shard_id, "ok": False, "error": f"{type(e).__name__}: {e}"}
                result.results.append(res)
                if res["ok"]:
                    result.add(res["stats"])
                    unit = stage.progress_unit
                    docs_done_finished += res["stats"]["docs_in"] if unit == "docs" else res["stats"]["counters"].get(unit, 0)
                else:
                    result.failed.append(res)
                progress.advance(bar)
                if not live:
                    _log_shard(stage.name, res, len(result.results), len(pending), stage.progress_unit)
            if live and inflight:
                busy = [a for a, _ in inflight.values()]
                try:
                    running = sum(ray.get([a.progress.remote() for a in busy], timeout=2))
                except Exception:  # noqa: BLE001 - progress is cosmetic
                    running = 0
                progress.update(bar, docs=docs_done_finished + running)
    for a in actors:
        ray.kill(a)


def _log_shard(stage: str, res: dict[str, Any], i: int, n: int, unit: str = "docs") -> None:
    if res["ok"]:
        s = res["stats"]
        done = f"{s['docs_in']} -> {s['docs_out']} docs" if unit == "docs" else f"{s['counters'].get(unit, 0):,} {unit}"
        line = f"{stage} [{i}/{n}] {res['shard_id']}: {done} ({res['seconds']:.1f} s)"
    else:
        line = f"{stage} [{i}/{n}] {res['shard_id']}: FAILED {res['error']}"
    print(line, file=sys.stderr, flush=True)
