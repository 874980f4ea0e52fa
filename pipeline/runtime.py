"""Where stages meet Ray: start or join Ray, skip completed shards, run the rest on a pool of workers.

This is the one module that knows about Ray. A stage's shard tasks go to a pool of long-lived actors that serve
every stage of a run (imports paid once per worker; each stage set up once per worker — models load once per
worker, not per shard); every actor reads its own shard and
writes its own output, so no Ray Data read task can be starved of CPUs by the actors (on 2 cores, a Ray Data read
followed by an actor pool of 2 deadlocked: ray issue #44687). After a shard's outputs are in place the worker writes a completion
record: input fingerprint, config hash, outputs with their sizes and hashes, counts, and how the shard ran. A rerun
skips shards whose record still matches and whose outputs are intact. A worker that dies is replaced, never reused;
a failure is kept in an error file beside the records. One run at a time holds a work dir (`work_dir_lock`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import resource
import socket
import sys
import time
import traceback
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, ClassVar

import xxhash
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from pipeline.config import PipelineConfig, RaySection
from pipeline.stages.base import ShardTask, Splittable, Stage
from pipeline.storage import (
    TMP_MARK,
    FolderListings,
    is_local,
    join,
    json_bytes,
    list_dir,
    listing_scope,
    read_json,
    remove,
    remove_tree,
    write_json,
    written,
)

console = Console(stderr=True, soft_wrap=True)  # summary lines stay one line in logs
log = logging.getLogger(__name__)

STATE_DIR = "_state"
#: A failed shard's error file beside its (absent) record: `_state/<stage>/<shard>.error.json`.
ERROR_SUFFIX = ".error.json"
#: The work-dir lock, directly in `_state/` (not a stage folder).
LOCK_FILE = "lock.json"
#: A stage's index beside its record folder, `_state/<stage>.index`: every completion record in one file.
INDEX_SUFFIX = ".index"


def record_path(cfg: PipelineConfig, stage: str, shard_id: str) -> str:
    """Where a shard's completion record lives."""
    return join(cfg.run.work_dir, STATE_DIR, stage, f"{shard_id}.json")


# ----------------------------------------------------------------------------------------------------- Ray session


def ensure_ray(ray_cfg: RaySection, address: str | None = None) -> None:
    """Join the given cluster (flag > RAY_ADDRESS > config), or start an embedded local Ray.

    The embedded Ray always uses `address="local"`: a bare `ray.init()` may try to join a dead cluster left
    behind by a killed run and hang. It listens on 127.0.0.1 only: asked for 127.0.0.1, Ray on Linux swaps in the
    host's address and its servers listen on every interface, unless its cluster mode is off while it starts.
    """
    import ray
    import ray._private.ray_constants as ray_constants

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    target = address or os.environ.get("RAY_ADDRESS") or ray_cfg.address
    if target and target != "local":
        ray.init(address=target, logging_level="WARNING")
        return
    cluster_mode = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False  # keeps 127.0.0.1 as the node address (services.get_node_ip_address)
    try:
        ray.init(
            address="local",
            _node_ip_address="127.0.0.1",
            num_cpus=ray_cfg.num_cpus or os.cpu_count() or 1,
            object_store_memory=ray_cfg.object_store_mb * 2**20,
            include_dashboard=False,
            logging_level="WARNING",
        )
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = cluster_mode


def ray_is_up() -> bool:
    """Whether this process is connected to Ray (without importing it when nothing did)."""
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def shutdown_ray() -> None:
    _idle_workers.clear()  # they end with the session
    if ray_is_up():
        import ray

        ray.shutdown()


# --------------------------------------------------------------------------------------------------- work-dir lock


class WorkDirLocked(RuntimeError):
    """Another run holds the work dir."""


def lock_path(work_dir: str) -> str:
    return join(work_dir, STATE_DIR, LOCK_FILE)


@contextmanager
def work_dir_lock(work_dir: str, command: str = "") -> Iterator[dict[str, Any]]:
    """Hold `<work_dir>/_state/lock.json` (owner pid, host, start time, command) while a run writes the work dir.

    A second run refuses with `WorkDirLocked` naming the owner. A lock whose owner is gone (same host, no such
    process, or the pid now belongs to another process) is stale and taken over. On a local disk the lock is
    created atomically (a hard link that fails if the file exists); on an object store it is written and read
    back, which leaves a small window for two runs started within the same second.
    """
    path = lock_path(work_dir)
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": _now(),
        "process_start": (_proc_stat(os.getpid()) or ("", None))[1],
        "command": command,
        "token": uuid.uuid4().hex,
    }
    for _ in range(3):
        if _create_lock(path, me):
            break
        holder = _read_lock(path)
        if holder is None:
            continue  # released in between
        if not _lock_is_stale(holder):
            raise WorkDirLocked(
                f"{work_dir} is in use by another run (pid {holder.get('pid')} on {holder.get('host')}, started "
                f"{holder.get('started')}: {holder.get('command') or '?'}). Wait for it to finish; if that run is "
                f"gone (e.g. on another machine), delete {path}"
            )
        log.warning("removing a stale lock of pid %s on %s (%s)", holder.get("pid"), holder.get("host"), path)
        remove(path)
    else:
        raise WorkDirLocked(f"could not take the lock {path}: other runs keep taking it")
    try:
        yield me
    finally:
        holder = _read_lock(path)
        if holder is not None and holder.get("token") == me["token"]:
            remove(path)


def _create_lock(path: str, me: dict[str, Any]) -> bool:
    """Create the lock file holding `me` unless it exists; whether this process now holds it."""
    data = json.dumps(me, sort_keys=True, indent=1) + "\n"
    if is_local(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}{TMP_MARK}{me['token'][:12]}"
        with open(tmp, "w") as f:
            f.write(data)
        try:
            os.link(tmp, path)  # atomic, and fails when another run holds the lock
            return True
        except (FileExistsError, FileNotFoundError):  # taken, or our temporary swept by the holder's stage start
            return False
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    if list_dir(_folder(path)).get(LOCK_FILE) is not None:
        return False
    write_json(path, me)
    holder = _read_lock(path)
    return holder is not None and holder.get("token") == me["token"]


def _read_lock(path: str) -> dict[str, Any] | None:
    """The lock's content; {} when it cannot be read (treated as stale); None when there is no lock."""
    try:
        data = read_json(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and start time (clock ticks since boot) on Linux, or None: the start time tells a
    live owner from a reused pid, the state a killed owner not yet reaped (Z)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _lock_is_stale(holder: dict[str, Any]) -> bool:
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return True  # unreadable lock: its writer was killed mid-write
    if holder.get("host") != socket.gethostname():
        return False  # cannot tell from here whether a process on another machine still runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return False
    state, start = stat
    return state == "Z" or holder.get("process_start") not in (None, start)


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


def remove_temporaries(listings: FolderListings, folders: list[str]) -> int:
    """Delete the `*.tmp-*` files a killed writer left in `folders`; how many. Safe because the work-dir lock keeps
    any other run of this work dir from writing at the same time."""
    n = 0
    for folder in dict.fromkeys(folders):
        for name in [k for k in listings.entries(folder) if TMP_MARK in k]:
            url = join(folder, name)
            remove(url)
            listings.forget(url)
            n += 1
    return n


def matching_record(
    path: str, expected: dict[str, Any], listings: FolderListings | None = None, known: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The record at `path` when it agrees with `expected` on version, inputs, config and outputs and every output
    is still there with the size the record kept (a truncated or rewritten output is not done); else None.

    `known` is the record as the stage index has it: used without reading the file when the listed file has
    exactly its size."""
    listings = listings or FolderListings()
    size = listings.size(path)
    if size is None:
        return None
    if known is not None and size == len(json_bytes(known)):
        rec = known
    else:
        try:
            rec = read_json(path)
        except (OSError, ValueError):
            return None
    keys = ("version", "input_fingerprint", "config_hash", "outputs")
    if not isinstance(rec, dict) or any(rec.get(k) != expected[k] for k in keys):
        return None
    sizes = rec.get("output_sizes") or {}
    for name, out in expected["outputs"].items():
        size = listings.size(out)
        if size is None or (name in sizes and sizes[name] != size):
            return None
    return rec


def index_path(cfg: PipelineConfig, stage: str) -> str:
    """Where a stage's index of its completion records lives (outside its record folder)."""
    return join(cfg.run.work_dir, STATE_DIR, f"{stage}{INDEX_SUFFIX}")


def _read_index(path: str, listings: FolderListings) -> dict[str, dict[str, Any]]:
    """The records a stage's index holds, by shard id ({} when there is none or it cannot be read)."""
    if listings.size(path) is None:
        return {}
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    recs = data.get("records") if isinstance(data, dict) else None
    return recs if isinstance(recs, dict) else {}


def read_stage_index(cfg: PipelineConfig, stage: str) -> dict[str, Any] | None:
    """A stage's index as its last run left it: `records` (by shard id) and `failed` (shard ids); None when there
    is none (the stage never ran, or its last run was interrupted before the end)."""
    path = index_path(cfg, stage)
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("records"), dict):
        return None
    return {"records": data["records"], "failed": list(data.get("failed") or [])}


def record_matches(path: str, expected: dict[str, Any], listings: FolderListings | None = None) -> bool:
    """Whether the record at `path` still describes the current inputs, config and outputs (`matching_record`)."""
    return matching_record(path, expected, listings) is not None


def is_complete(stage: Stage, task: ShardTask, expected: dict[str, Any] | None = None) -> bool:
    """A shard is done when its record matches the current inputs and config and its outputs are intact."""
    if expected is None:
        expected = expected_record(stage, task, stage.cfg.section_hash(*stage.config_parts()))
    return record_matches(record_path(stage.cfg, stage.name, task.shard_id), expected)


def error_path(cfg: PipelineConfig, stage: str, shard_id: str) -> str:
    """Where the last failure of a shard is kept (removed when the shard later succeeds)."""
    return join(cfg.run.work_dir, STATE_DIR, stage, f"{shard_id}{ERROR_SUFFIX}")


def global_record_path(cfg: PipelineConfig, stage: str, step: str) -> str:
    """Where the record of a corpus-wide step of a stage lives (beside, not among, its shard records)."""
    return join(cfg.run.work_dir, STATE_DIR, stage, "_global", f"{step}.json")


def stage_records(cfg: PipelineConfig, stage: str, shard_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The completion records of a stage's shards, by shard id: from the stage's index (one read) for every record
    whose listed file has the indexed size, else from its own file, so a step that reads a whole stage's records
    costs a listing and an index read, not a request per shard."""
    listings = FolderListings()
    index = _read_index(index_path(cfg, stage), listings)
    out: dict[str, dict[str, Any]] = {}
    for sid in shard_ids:
        path = record_path(cfg, stage, sid)
        known = index.get(sid)
        if known is not None and listings.size(path) == len(json_bytes(known)):
            out[sid] = known
        else:
            out[sid] = read_json(path)
    return out


def shard_records_fingerprint(
    cfg: PipelineConfig, stage_cls: type[Stage], tasks: list[ShardTask], extra: Callable[[dict[str, Any]], str] | None = None
) -> str:
    """One fingerprint of the completion records of `tasks` (their inputs and config, plus `extra(record)` if
    given): a corpus-wide step that reads those shards' outputs is redone exactly when one of them was redone."""
    parts = []
    ordered = sorted(tasks, key=lambda t: t.shard_id)
    records = stage_records(cfg, stage_cls.name, [t.shard_id for t in ordered])
    for t in ordered:
        rec = records[t.shard_id]
        parts.append(f"{t.shard_id}:{rec['input_fingerprint']}:{rec['config_hash']}:{extra(rec) if extra else ''}")
    return xxhash.xxh3_64_hexdigest("|".join(parts).encode())


def _folder(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[0]


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
    listings = FolderListings()
    remove_temporaries(listings, [_folder(path), *(_folder(o) for o in outputs.values())])
    rec = None if force else matching_record(path, expected, listings)
    if rec is not None:
        log.info(f"{stage} {step}: unchanged, skipped")
        return dict(rec.get("stats", {}), skipped=True)
    ensure_ray(cfg.ray, address)
    written.clear()
    summary = fn()
    write_json(path, dict(expected, output_sizes=_output_sizes(outputs), stats=summary))
    return summary


def _output_sizes(outputs: dict[str, str]) -> dict[str, int]:
    """The size of each output just written: from what this process wrote, else one listing per folder."""
    listings = FolderListings()
    sizes = {}
    for name, url in outputs.items():
        size = written[url][0] if url in written else listings.size(url)
        if size is not None:
            sizes[name] = size
    return sizes


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def worker_info(node: str = "local") -> dict[str, Any]:
    """Who ran a shard: Ray node id, host and process."""
    return {"node": node, "host": socket.gethostname(), "pid": os.getpid()}


def run_shard(
    stage: Stage,
    task: ShardTask,
    expected: dict[str, Any],
    progress: Any = None,
    worker: dict[str, Any] | None = None,
    parts: list[tuple[ShardTask, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Process one shard and write its completion record; errors come back as a result, never raised.

    The record keeps, beside `expected`, each output's size and content hash (a damaged output is redone) and
    how the shard ran: seconds, peak RSS, node. Shared by the Ray actor and by in-process callers (tests, debugging).
    With `parts` (each part of a split shard and its record, `run_part`) the shard's outputs are the stage's merge
    of them; the parts are removed before the shard's record is written, so a completed shard leaves none behind.
    """
    worker = worker or worker_info()
    t0, cpu0 = time.perf_counter(), time.thread_time()
    written.clear()  # what this shard writes, and nothing older
    try:
        if parts is None:
            stats = stage.process(task, progress or (lambda n: None))
        else:
            assert isinstance(stage, Splittable)
            results = [rec["result"] for _, rec in parts]
            stats = stage.merge(task, [p for p, _ in parts], results, progress or (lambda n: None))
        sizes = _output_sizes(task.outputs)
        hashes = {name: written[url][1] for name, url in task.outputs.items() if url in written}
        if parts is not None:
            assert isinstance(stage, Splittable)
            remove_tree(stage.parts_dir(task.shard_id))
        seconds = time.perf_counter() - t0
        run = dict(worker, seconds=round(seconds, 3), cpu_seconds=round(time.thread_time() - cpu0, 3),
                   peak_rss_mb=_peak_rss_mb())  # fmt: skip
        if parts is not None:  # how the shard ran: each part's worker, seconds and result, then the merge's
            run["parts"] = [dict(rec["run"], result=rec["result"]) for _, rec in parts]
        record = dict(expected, output_sizes=sizes, output_hashes=hashes, run=run, stats=stats.to_dict())
        write_json(record_path(stage.cfg, stage.name, task.shard_id), record)
    except Exception as e:  # noqa: BLE001 - one bad shard must not stop the others
        return {
            "shard_id": task.shard_id,
            "ok": False,
            "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(),
            "seconds": time.perf_counter() - t0,
            "worker": worker,
            "time": _now(),
        }
    return {"shard_id": task.shard_id, "ok": True, "stats": record["stats"], "seconds": seconds, "run": run,
            "record": record}  # fmt: skip


def part_record_path(stage: Splittable, part: ShardTask, shard_id: str) -> str:
    """Where the record of one part of a split shard lives: beside the part's outputs."""
    return join(stage.parts_dir(shard_id), f"{part.shard_id}.json")


def part_expected(expected: dict[str, Any], part: ShardTask) -> dict[str, Any]:
    """What a part's record must say to count as done: the shard's inputs and config, the part's outputs (whose
    names say which part of how many)."""
    return dict(expected, shard_id=part.shard_id, outputs=dict(part.outputs))


def run_part(
    stage: Stage, part: ShardTask, expected: dict[str, Any], record: str, progress: Any = None,
    worker: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Process one part of a split shard and write its record (`record`); errors come back as a result."""
    assert isinstance(stage, Splittable)
    worker = worker or worker_info()
    t0, cpu0 = time.perf_counter(), time.thread_time()
    written.clear()
    try:
        result = stage.process_part(part, progress or (lambda n: None))
        seconds = time.perf_counter() - t0
        run = dict(worker, seconds=round(seconds, 3), cpu_seconds=round(time.thread_time() - cpu0, 3),
                   peak_rss_mb=_peak_rss_mb())  # fmt: skip
        rec = dict(expected, output_sizes=_output_sizes(part.outputs), run=run, result=result)
        write_json(record, rec)
    except Exception as e:  # noqa: BLE001 - the shard fails, other shards go on
        return {"shard_id": part.shard_id, "ok": False, "error": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc(), "seconds": time.perf_counter() - t0, "worker": worker,
                "time": _now()}  # fmt: skip
    return {"shard_id": part.shard_id, "ok": True, "seconds": seconds, "record": rec}


@lru_cache(maxsize=1)
def _make_actor_class() -> Any:
    import ray

    @ray.remote(max_concurrency=2)  # one thread runs shards, the other answers progress polls
    class StageWorker:
        """A long-lived worker: it serves every stage of a run, so its imports are paid once; a stage is set up
        (models loaded) once per worker, and the previous stage's state is dropped when the next one starts."""

        def __init__(self) -> None:
            self.key: str | None = None
            self.stage: Any = None
            self.done = 0
            self.worker = worker_info(ray.get_runtime_context().get_node_id())

        def prepare(self, key: str, stage_cls: Callable[[PipelineConfig], Any], cfg_json: str) -> None:
            if key != self.key:
                self.stage, self.key = None, None
                stage = stage_cls(PipelineConfig.model_validate_json(cfg_json))
                stage.setup()
                self.stage, self.key = stage, key

        def call(self, fn: Callable[[Any], Any], item: Any) -> Any:
            """One task of a corpus-wide step (`run_tasks`); the stage set up here is dropped first."""
            self.stage, self.key = None, None
            return fn(item)

        def node(self) -> str:
            return self.worker["node"]

        def progress(self) -> int:
            return self.done

        def _bump(self, n: int) -> None:
            self.done += n

        def run(self, key: str, task: Any, expected: dict[str, Any],
                parts: list[tuple[ShardTask, dict[str, Any]]] | None = None, fused: bool = False) -> dict[str, Any]:  # fmt: skip
            if key != self.key or self.stage is None:
                raise RuntimeError(f"worker prepared for {self.key}, asked to run {key}")
            self.done = 0
            if fused:  # a ChainJob through every stage of a fused chain (`pipeline.fusion`)
                from pipeline.fusion import run_chain_shard

                result = run_chain_shard(self.stage, task, expected, self._bump, self.worker)
            else:
                result = run_shard(self.stage, task, expected, self._bump, self.worker, parts)
            result["node_id"] = self.worker["node"]
            result["peak_rss_mb"] = _peak_rss_mb()
            return result

        def run_part(self, key: str, part: ShardTask, expected: dict[str, Any], record: str) -> dict[str, Any]:
            if key != self.key or self.stage is None:
                raise RuntimeError(f"worker prepared for {self.key}, asked to run {key}")
            self.done = 0
            return run_part(self.stage, part, expected, record, self._bump, self.worker)

    return StageWorker


#: Idle workers kept between stages and steps: (Ray job, CPUs per worker) → actors. They run the per-shard stages and
#: the tasks of corpus-wide steps (`run_tasks`). An idle worker still holds its CPUs, so they are dropped before
#: anything else needs them: plain Ray tasks, or workers of another size.
_idle_workers: dict[tuple[str, float], list[Any]] = {}


def _job() -> str:
    import ray

    return ray.get_runtime_context().get_job_id()


def _take_workers(cpus: float, n: int) -> list[Any]:
    """Up to `n` idle workers of this size from an earlier stage of this Ray session (their imports paid)."""
    key = (_job(), cpus)
    for other in [k for k in _idle_workers if k != key]:
        for a in _idle_workers.pop(other):
            _drop(a)
    pool = _idle_workers.setdefault(key, [])
    taken, pool[:] = pool[:n], pool[n:]
    return taken


def _take_gangs(cpus: float, n: int) -> list[tuple[Any, list[Any]]]:
    """Up to `n` gangs of idle 1-CPU workers for tasks that want `cpus` CPUs: each a worker that runs the task and
    the workers of its node that stay idle beside it, holding the CPUs its threads use. A multi-CPU task then
    starts no worker of its own, and the pool is still up for the next stage. Empty if the pool cannot make one."""
    import ray

    need = math.ceil(cpus)
    pool = _idle_workers.get((_job(), 1.0), [])
    if need <= 1 or len(pool) < need:
        return []
    try:
        nodes = ray.get([a.node.remote() for a in pool], timeout=30)
    except Exception:  # noqa: BLE001 - a worker that does not answer: start a worker of the task's size instead
        return []
    by_node: dict[str, list[Any]] = {}
    for actor, node in zip(pool, nodes):
        by_node.setdefault(node, []).append(actor)
    gangs: list[tuple[Any, list[Any]]] = []
    for members in by_node.values():
        while len(members) >= need and len(gangs) < n:
            gang, members[:] = members[:need], members[need:]
            gangs.append((gang[0], gang[1:]))
    taken = {id(a) for runner, holders in gangs for a in (runner, *holders)}
    pool[:] = [a for a in pool if id(a) not in taken]
    return gangs


def _return_workers(cpus: float, workers: list[Any]) -> None:
    if workers:
        _idle_workers.setdefault((_job(), cpus), []).extend(workers)


def release_idle_workers(wait_s: float = 5.0) -> None:
    """Drop the idle workers, freeing their CPUs for plain Ray tasks (dedup's partition tasks). Killing an actor
    is asynchronous: wait (up to `wait_s`) until the cluster shows their CPUs free, else tasks submitted at once
    would be placed only where a CPU already is (all on one node)."""
    if not any(_idle_workers.values()):
        _idle_workers.clear()
        return
    import ray

    freed = sum(cpus * len(pool) for (_, cpus), pool in _idle_workers.items())
    before = ray.available_resources().get("CPU", 0.0)
    for pool in _idle_workers.values():
        for a in pool:
            _drop(a)
    _idle_workers.clear()
    deadline = time.monotonic() + wait_s
    while ray.available_resources().get("CPU", 0.0) < before + freed - 1e-6 and time.monotonic() < deadline:
        time.sleep(0.05)


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
    #: For a composite stage: each corpus-wide step's summary, by step name (kept in its record when skipped).
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What the user should know although the stage succeeded (shortfalls, caps).
    warnings: list[str] = field(default_factory=list)
    #: Stage-specific results (balance: achieved tokens and the plan table; shards: the manifest's totals).
    details: dict[str, Any] = field(default_factory=dict)
    #: The other stages whose shards ran in the same pass (`run.fuse`); `seconds` is then the fused pass's.
    fused_with: list[str] = field(default_factory=list)

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
        fused = f" fused with {', '.join(self.fused_with)}" if self.fused_with else ""
        return (
            f"{self.stage}: {self.shards} shards ({ran} run, {self.skipped} skipped, {len(self.failed)} failed){fused}"
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

    At start, temporary files left by a killed writer in the stage's record and output folders are removed. A
    failed shard's error, traceback, worker and time go to `_state/<stage>/<shard>.error.json`, removed when the
    shard later succeeds. `started` (a `time.perf_counter()` value) makes the summary's seconds count from an
    earlier point, for a stage whose per-shard step comes after corpus-wide work.
    """
    t0 = time.perf_counter() if started is None else started
    stage = stage_cls(cfg)
    tasks = stage.plan()
    log.debug("%s: %d shard(s) planned", stage.name, len(tasks))
    book = StageBook(stage, tasks, force)
    pending: list[tuple[ShardTask, dict[str, Any]]] = []
    with listing_scope(book.listings):
        for task in tasks:
            expected = book.expected(task)
            if book.skip_if_complete(task, expected) is None:
                pending.append((task, expected))
    if pending:
        book.changing()
        if _in_driver(cfg, address, pending, book.listings):
            _run_in_driver(stage, pending, book.result, book.settle)
        else:
            ensure_ray(cfg.ray, address)
            _run_on_ray(stage, cfg, pending, book.result, book.settle)
    book.close(time.perf_counter() - t0, ran=bool(pending))
    return book.result


class StageBook:
    """One stage's bookkeeping over one run, whether its shards run alone (`run_stage`) or fused with other stages
    (`pipeline.fusion`): temporaries swept at start, completed shards found and counted, each shard's result kept
    (its error file written, or an earlier one dropped) and, at the end, the stage's index and summary line."""

    def __init__(self, stage: Stage, tasks: list[ShardTask], force: bool,
                 listings: FolderListings | None = None) -> None:  # fmt: skip
        cfg = stage.cfg
        self.stage, self.cfg, self.force = stage, cfg, force
        self.config_hash = cfg.section_hash(*stage.config_parts())
        self.result = StageResult(stage=stage.name, shards=len(tasks), unit=stage.progress_unit)
        self.listings = listings or FolderListings()
        self.state_dir = join(cfg.run.work_dir, STATE_DIR, stage.name)
        self.ipath = index_path(cfg, stage.name)
        folders = [self.state_dir, _folder(self.ipath), *(_folder(p) for t in tasks for p in t.outputs.values())]
        swept = remove_temporaries(self.listings, folders)
        if swept:
            log.info("%s: removed %d temporary file(s) left by an interrupted run", stage.name, swept)
        entries = self.listings.entries(self.state_dir)
        self.old_errors = {n[: -len(ERROR_SUFFIX)] for n in entries if n.endswith(ERROR_SUFFIX)}
        # The completion check: one listing per folder (records, outputs, inputs) and the index, not calls per shard.
        self.index = {} if force else _read_index(self.ipath, self.listings)
        self.done: dict[str, dict[str, Any]] = {}

    def expected(self, task: ShardTask) -> dict[str, Any]:
        return expected_record(self.stage, task, self.config_hash)

    def skip_if_complete(self, task: ShardTask, expected: dict[str, Any]) -> dict[str, Any] | None:
        """The shard's record when the shard is complete (then counted as skipped), else None."""
        path = record_path(self.cfg, self.stage.name, task.shard_id)
        rec = None if self.force else matching_record(path, expected, self.listings, self.index.get(task.shard_id))
        if rec is not None:
            self.done[task.shard_id] = rec
            self.result.skipped += 1
            self.result.add(rec["stats"])
        return rec

    def changing(self) -> None:
        """Records are about to change: a run killed from here on must not trust the old index."""
        if self.listings.size(self.ipath) is not None:
            remove(self.ipath)

    def settle(self, res: dict[str, Any]) -> None:
        """Keep a failure on disk, or drop the one an earlier run left."""
        cfg, name = self.cfg, self.stage.name
        if res["ok"]:
            self.done[res["shard_id"]] = res["record"]
            if res["shard_id"] in self.old_errors:
                remove(error_path(cfg, name, res["shard_id"]))
        else:
            write_json(error_path(cfg, name, res["shard_id"]), _error_document(name, res))

    def count(self, res: dict[str, Any]) -> None:
        """Add one shard's result to the stage's result (what `_run_on_ray` does for a stage run alone)."""
        self.result.results.append(res)
        if res["ok"]:
            self.result.add(res["stats"])
        else:
            self.result.failed.append(res)

    def close(self, seconds: float, *, ran: bool) -> None:
        """Write the index when a shard ran (or the set of shards changed), then log failures and the summary."""
        result = self.result
        if ran or self.index.keys() != self.done.keys():
            failed = sorted(str(f["shard_id"]) for f in result.failed)
            write_json(self.ipath, {"stage": self.stage.name, "records": dict(sorted(self.done.items())), "failed": failed})
        result.seconds = seconds
        for f in result.failed:
            log.error("%s: shard %s failed: %s", self.stage.name, f["shard_id"], f["error"])
        log.info(result.summary())


# ----------------------------------------------------------------------------------------- composite stages


@dataclass(frozen=True)
class ShardStep:
    """A per-shard step of a composite stage (its own `Stage` class, records and outputs)."""

    stage: type[Stage]
    #: Skip the step, without planning its shards, when this says its results are not needed (unless forced).
    not_needed: Callable[[PipelineConfig], bool] | None = None


@dataclass(frozen=True)
class CorpusStep:
    """A corpus-wide step: one function over the previous per-shard step's tasks, run on the driver (with Ray up
    for tasks it starts) unless its record says nothing it reads changed."""

    name: str
    run: Callable[[PipelineConfig, list[ShardTask]], dict[str, Any]]
    version: str
    #: The hash of what it reads of the config.
    config_hash: Callable[[PipelineConfig], str]
    outputs: Callable[[PipelineConfig, list[ShardTask]], dict[str, str]]
    #: The identity of its inputs; default: the previous step's completion records (inputs and config).
    inputs: Callable[[PipelineConfig, list[ShardTask]], str] | None = None
    #: Its summary line, printed when it ran.
    describe: Callable[[dict[str, Any]], str] | None = None


class CompositeStage(ABC):
    """A stage made of per-shard and corpus-wide steps (e.g. signatures → clusters → apply), which the runtime
    executes in order (`run_composite`). Its result is its last per-shard step's, under the stage's name, with the
    corpus-wide steps' summaries in `steps`."""

    name: ClassVar[str]
    kind: ClassVar[str] = "corpus"
    #: The per-shard step whose records are the stage's documents (what a later stage plans from).
    result_step: ClassVar[type[Stage]]

    @classmethod
    @abstractmethod
    def steps(cls, cfg: PipelineConfig) -> list[ShardStep | CorpusStep]:
        """The stage's steps, in order (at least one per-shard step)."""

    @classmethod
    def prepare(cls, cfg: PipelineConfig) -> None:
        """Checks before any step runs (e.g. that the tokenizer exists)."""

    @classmethod
    def finish(cls, cfg: PipelineConfig, result: StageResult) -> None:
        """After every step succeeded: checks across steps, details, clean-up."""

    @classmethod
    def run(cls, cfg: PipelineConfig, address: str | None = None, force: bool = False) -> StageResult:
        return run_composite(cls, cfg, address=address, force=force)


def run_composite(comp: type[CompositeStage], cfg: PipelineConfig, *, address: str | None = None,
                  force: bool = False) -> StageResult:  # fmt: skip
    """Run a composite stage's steps in order; stop at the first per-shard step with failed shards."""
    t0 = time.perf_counter()
    comp.prepare(cfg)
    steps = comp.steps(cfg)
    last = max(i for i, s in enumerate(steps) if isinstance(s, ShardStep))
    result = StageResult(stage=comp.name)
    summaries: dict[str, dict[str, Any]] = {}
    prev: tuple[type[Stage], list[ShardTask]] | None = None
    for i, step in enumerate(steps):
        if isinstance(step, ShardStep):
            if force or step.not_needed is None or not step.not_needed(cfg):
                done = run_stage(step.stage, cfg, address=address, force=force, started=t0 if i == last else None)
                if i == last or not done.ok:
                    result = done
                if not done.ok:
                    result.stage, result.seconds = comp.name, time.perf_counter() - t0
                    result.steps = summaries
                    return result
            prev = (step.stage, sorted(step.stage(cfg).plan(), key=lambda t: t.shard_id))
            continue
        if prev is None:
            raise TypeError(f"{comp.name}: corpus-wide step {step.name} has no per-shard step before it")
        stage_cls, tasks = prev
        inputs = step.inputs(cfg, tasks) if step.inputs else shard_records_fingerprint(cfg, stage_cls, tasks)
        summary = run_global_step(
            cfg, comp.name, step.name, lambda step=step, tasks=tasks: step.run(cfg, tasks), version=step.version,
            input_fingerprint=inputs, config_hash=step.config_hash(cfg), outputs=step.outputs(cfg, tasks),
            force=force, address=address,
        )  # fmt: skip
        summaries[step.name] = summary
        if not summary.get("skipped") and step.describe is not None:
            log.info(step.describe(summary))
    result.stage, result.steps = comp.name, summaries
    result.seconds = time.perf_counter() - t0
    comp.finish(cfg, result)
    result.seconds = time.perf_counter() - t0
    return result


#: The error file of a whole-stage failure, among its shards' (`polyglot stats` lists it as shard `_stage`).
STAGE_ERROR = "_stage"


def record_stage_error(cfg: PipelineConfig, stage: str, error: BaseException) -> str:
    """Keep an error that stopped a whole stage (not one shard) in `_state/<stage>/_stage.error.json`; its path."""
    path = error_path(cfg, stage, STAGE_ERROR)
    tb = "".join(traceback.format_exception(error))
    write_json(path, _error_document(stage, {"shard_id": STAGE_ERROR, "error": f"{type(error).__name__}: {error}",
                                             "traceback": tb, "worker": worker_info("driver")}))  # fmt: skip
    return path


def clear_stage_error(cfg: PipelineConfig, stage: str) -> None:
    """Drop a whole-stage error kept by an earlier run, once the stage got through."""
    remove(error_path(cfg, stage, STAGE_ERROR))


def _error_document(stage: str, res: dict[str, Any]) -> dict[str, Any]:
    return {
        "stage": stage,
        "shard_id": res["shard_id"],
        "error": res["error"],
        "traceback": res.get("traceback", ""),
        "worker": res.get("worker", {}),
        "time": res.get("time") or _now(),
        "attempts": res.get("attempts", 1),
        "seconds": round(res.get("seconds", 0.0), 3),
    }


def run_tasks(fn: Any, items: list[Any], *, label: str, num_cpus: float = 1.0, retries: int = 2) -> list[Any]:
    """Run `fn(item)` for every item on the run's pool of workers, at most as many at once as the cluster has CPUs
    for; the results come back in item order. For the corpus-wide steps of a stage (e.g. one task per LSH
    partition).

    The workers are those the per-shard stages keep between stages (`StageWorker`), so a step pays no process
    start-up and no imports, and the next stage finds them still up. A task that wants more CPUs than a pool worker
    has (`num_cpus`, e.g. a trainer's threads) runs on one pool worker while others of its node stay idle beside it,
    holding the CPUs; only when the pool cannot make such a gang is a worker of that size started (and the pool
    dropped). A worker that dies is replaced and its item retried up to `retries` times; a task that fails fails
    the step: its error is raised with the item it was working on.
    """
    import ray
    from ray.exceptions import RayActorError

    if not items:
        return []
    window = max(1, min(len(items), math.floor(ray.cluster_resources().get("CPU", 1.0) / num_cpus)))
    worker_cls = _make_actor_class().options(num_cpus=num_cpus, max_restarts=0, max_task_retries=0)
    gangs = _take_gangs(num_cpus, window)
    # holders[runner]: the idle 1-CPU workers whose CPUs a multi-CPU task of `runner` uses
    holders: dict[Any, list[Any]] = {runner: rest for runner, rest in gangs}
    if gangs:  # the pool's other workers keep their CPUs: a worker of this size might never be placed
        actors = [runner for runner, _ in gangs]
    else:
        actors = _take_workers(num_cpus, window)
        actors += [worker_cls.remote() for _ in range(window - len(actors))]
    idle = list(actors)
    results: list[Any] = [None] * len(items)
    todo = deque(range(len(items)))
    deaths: dict[int, int] = {}
    inflight: dict[Any, tuple[Any, int]] = {}
    t0 = time.perf_counter()
    done = 0
    finished = False
    try:
        while todo or inflight:
            while todo and idle:
                i = todo.popleft()
                actor = idle.pop()
                inflight[actor.call.remote(fn, items[i])] = (actor, i)
            ready, _ = ray.wait(list(inflight), num_returns=1)
            for ref in ready:
                actor, i = inflight.pop(ref)
                try:
                    results[i] = ray.get(ref)
                except RayActorError as e:  # the worker process is gone: a fresh one takes the item again
                    _drop(actor)
                    actors.remove(actor)
                    for held in holders.pop(actor, []):  # their CPUs go to the fresh worker
                        _drop(held)
                    deaths[i] = deaths.get(i, 0) + 1
                    if deaths[i] > retries:
                        raise RuntimeError(f"{label}: task {i} lost its worker {deaths[i]} times: "
                                           f"{_death_reason(e)}") from e  # fmt: skip
                    fresh = worker_cls.remote()
                    actors.append(fresh)
                    idle.append(fresh)
                    todo.appendleft(i)
                    continue
                except Exception as e:  # noqa: BLE001 - re-raised with context
                    cause = getattr(e, "cause", None) or e  # the task's own exception, without Ray's traceback text
                    if isinstance(cause, ValueError):  # bad input or settings: the message is for the user as it is
                        raise ValueError(f"{label}: {cause}") from cause
                    raise RuntimeError(f"{label}: task {i} failed: {type(cause).__name__}: {cause}") from e
                idle.append(actor)
                done += 1
        finished = True
    finally:
        keep = [a for a in actors if finished or not any(a is b for b, _ in inflight.values())]
        for a in keep:  # a gang goes back to the pool as the 1-CPU workers it was taken from
            _return_workers(1.0 if a in holders else num_cpus, [a, *holders.get(a, [])])
        for a in actors:
            if not any(a is k for k in keep):
                _drop(a)
                for held in holders.get(a, []):
                    _drop(held)
    log.info(f"{label}: {done} tasks | {time.perf_counter() - t0:.1f} s")
    return results


def _in_driver(cfg: PipelineConfig, address: str | None, pending: list[tuple[ShardTask, dict[str, Any]]],
               listings: FolderListings) -> bool:  # fmt: skip
    """Whether a stage's pending shards run in this process: their input files total less than
    `ray.in_driver_below_mb`, no Ray is running and none is to be joined (a small run pays no Ray start-up). A task
    without input files (a download) or with an input of unknown size goes to Ray."""
    joining = address or os.environ.get("RAY_ADDRESS") or cfg.ray.address
    if joining or ray_is_up() or cfg.ray.in_driver_below_mb <= 0:
        return False
    total = 0
    for task, _ in pending:
        sizes = [listings.size(p) for p in task.inputs]
        if not sizes or any(n is None for n in sizes):
            return False
        total += sum(n for n in sizes if n is not None)
    return total < cfg.ray.in_driver_below_mb * 2**20


def _run_in_driver(
    stage: Any,
    pending: list[tuple[Any, dict[str, Any]]],
    result: StageResult,
    settle: Callable[[dict[str, Any]], None],
    run: Callable[..., dict[str, Any]] = run_shard,
) -> None:
    """Run the pending shards one after the other in this process, with the same records and results as on Ray.
    `stage` is a `Stage`, or a fused chain of stages (`pipeline.fusion.Chain`, with its `run` per shard)."""
    stage.setup()
    worker = worker_info("driver")
    for i, (task, expected) in enumerate(pending, 1):
        res = run(stage, task, expected, None, worker)
        settle(res)
        result.results.append(res)
        if res["ok"]:
            result.add(res["stats"])
        else:
            result.failed.append(res)
        _log_shard(stage.name, res, i, len(pending), stage.progress_unit)


def _pool_size(stage: Any, cfg: PipelineConfig, n_tasks: int | None) -> int:
    """Workers for `n_tasks` tasks (None: as many as the cluster and the caps allow)."""
    import ray

    cpus = ray.cluster_resources().get("CPU", 1.0)
    size = max(1, math.floor(cpus / stage.cpus_per_worker))
    for cap in (cfg.ray.max_workers, stage.max_workers(), n_tasks):
        if cap is not None:
            size = min(size, cap)
    return size


def _death_reason(e: BaseException) -> str:
    """The useful part of Ray's message about a lost worker (exit type and detail, pid, address), without its
    generic advice; the full message goes to the error file's traceback."""
    text = " ".join(ln.strip() for ln in str(e).splitlines() if ln.strip())
    found = {k: re.search(rf"{k}: (\S+)", text) for k in ("pid", "ip", "Worker exit type")}
    detail = re.search(r"Worker exit detail: (.*?)(?= Some common causes|$)", text)
    where = ", ".join(f"{k.split()[-1]} {m.group(1)}" for k, m in found.items() if m)
    if detail:
        return f"{detail.group(1).strip()} ({where})" if where else detail.group(1).strip()
    return f"{type(e).__name__}: {text}"[:400]


@dataclass
class _Job:
    """One piece of work for a worker: a whole shard, one part of a split shard, or the merge of its parts."""

    kind: str  # "shard", "part" or "merge"
    task: ShardTask
    expected: dict[str, Any]
    part: int = -1  # the part's index, for a part


@dataclass
class _Split:
    """A shard cut into parts: each part's task and record path, and its record once done."""

    parts: list[ShardTask]
    paths: list[str]
    records: list[dict[str, Any] | None]
    failed: bool = False


def _max_parts(workers: int, shards: int) -> int:
    """Parts a shard may be cut into: one per worker at most, and only as many as keep `workers` busy with some
    slack (about two tasks a worker) when `shards` shards are pending."""
    return min(workers, math.ceil(2 * workers / max(1, shards)))


def splits_any(stage: Any, cfg: PipelineConfig, pending: list[tuple[ShardTask, dict[str, Any]]],
               address: str | None = None) -> bool:  # fmt: skip
    """Whether running `stage` on its own would cut one of the `pending` shards into parts (`_plan_parts`): a fused
    run then runs that stage alone first, a large shard on every worker rather than on one."""
    if not isinstance(stage, Splittable) or not pending or _in_driver(cfg, address, pending, FolderListings()):
        return False
    ensure_ray(cfg.ray, address)
    max_parts = _max_parts(_pool_size(stage, cfg, None), len(pending))
    for task, _ in pending if max_parts > 1 else []:
        try:
            if len(stage.split(task, max_parts)) > 1:
                return True
        except Exception:  # noqa: BLE001 - `_plan_parts` runs such a shard whole, with its error kept
            continue
    return False


def _plan_parts(
    stage: Stage, pending: list[tuple[ShardTask, dict[str, Any]]], workers: int
) -> tuple[list[_Job], dict[str, _Split]]:
    """The jobs of the pending shards: a split shard's parts without a matching record (after sweeping the
    temporaries a killed part left), or its merge when every part is done; a whole shard otherwise.

    A shard gets at most one part per worker, and only as many as keep the workers busy with some slack (about two
    tasks per worker): with many more shards than workers nothing is split (each part costs a spill and a merge),
    with one large shard it runs on every worker. A stage whose `split` fails runs that shard whole (its `process`
    then reports what is wrong with the input)."""
    jobs: list[_Job] = []
    splits: dict[str, _Split] = {}
    listings = FolderListings()
    max_parts = _max_parts(workers, len(pending))
    for task, expected in pending:
        parts: list[ShardTask] = []
        if isinstance(stage, Splittable) and max_parts > 1:
            try:
                with listing_scope(listings):  # input sizes from one listing per folder
                    parts = stage.split(task, max_parts)
            except Exception as e:  # noqa: BLE001 - the shard runs whole, where its error is kept
                log.warning("%s: shard %s not split: %s: %s", stage.name, task.shard_id, type(e).__name__, e)
        if len(parts) < 2:
            jobs.append(_Job("shard", task, expected))
            continue
        assert isinstance(stage, Splittable)
        remove_temporaries(listings, [stage.parts_dir(task.shard_id)])
        paths = [part_record_path(stage, p, task.shard_id) for p in parts]
        records = [matching_record(path, part_expected(expected, p), listings) for p, path in zip(parts, paths)]
        splits[task.shard_id] = _Split(parts, paths, records)
        todo = [_Job("part", task, expected, k) for k, rec in enumerate(records) if rec is None]
        jobs += todo or [_Job("merge", task, expected)]
        reused = len(parts) - len(todo)
        log.info("%s: shard %s in %d parts%s", stage.name, task.shard_id, len(parts),
                 f" ({reused} done by an earlier run)" if reused else "")  # fmt: skip
    return jobs, splits


def _run_on_ray(
    stage: Any,
    cfg: PipelineConfig,
    pending: list[tuple[Any, dict[str, Any]]],
    result: StageResult,
    settle: Callable[[dict[str, Any]], None] = lambda res: None,
    factory: Callable[[PipelineConfig], Any] | None = None,
    fused: bool = False,
) -> None:
    """Run the pending shards on a pool of actors. A worker that dies (segfault in a native library, OOM kill,
    lost node) is dropped and replaced by a fresh one, never handed another shard; its shard is retried up to
    `ray.shard_retries` times, then reported failed with the reason. `settle` sees every final result.

    `stage` is a `Stage`, or with `fused` a chain of stages (`pipeline.fusion.Chain`) that the workers build with
    `factory(cfg)` and run a `ChainJob` at a time.

    A stage that is `Splittable` may cut a large shard into parts: they run on any workers like shards, and when
    the last is done the shard's merge goes first in the queue. A part that fails fails its shard (its other parts
    are dropped from the queue); the other shards go on."""
    import ray
    from ray.exceptions import RayActorError, RayError

    cpus = stage.cpus_per_worker
    worker_cls = _make_actor_class().options(num_cpus=cpus, max_restarts=0, max_task_retries=0)
    cfg_json = cfg.model_dump_json()
    stage_cls = factory or type(stage)
    what = stage.name if fused else f"{stage_cls.__module__}.{stage_cls.__qualname__}"
    key = f"{what}:{xxhash.xxh3_64_hexdigest(cfg_json.encode())}"
    jobs, splits = _plan_parts(stage, pending, _pool_size(stage, cfg, None))
    size = _pool_size(stage, cfg, len(jobs))
    actors = _take_workers(cpus, size)
    actors += [worker_cls.remote() for _ in range(size - len(actors))]
    queue = deque(jobs)
    # A worker gets shards only once it is up and set up for this stage: a replacement started while a lost node
    # still counts in the cluster can never be placed, and a shard handed to it would wait forever while a live
    # worker sits idle.
    starting: dict[Any, Any] = {a.prepare.remote(key, stage_cls, cfg_json): a for a in actors}
    idle: list[Any] = []
    inflight: dict[Any, tuple[Any, _Job]] = {}
    deaths: dict[str, int] = {}
    docs_done_finished = 0
    out = Console(stderr=True)
    # A live bar only for someone watching: a terminal, outside CI, with this module's output switched on.
    live = out.is_terminal and not os.environ.get("CI") and log.isEnabledFor(logging.INFO)
    progress = Progress(
        TextColumn(f"[bold]{stage.name}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("shards · {task.fields[docs]:,} " + stage.progress_unit),
        TimeElapsedColumn(),
        console=out,
        disable=not live,
        transient=True,
    )

    def submit(actor: Any, job: _Job) -> Any:
        if job.kind == "part":
            split = splits[job.task.shard_id]
            part = split.parts[job.part]
            return actor.run_part.remote(key, part, part_expected(job.expected, part), split.paths[job.part])
        if job.kind == "merge":
            split = splits[job.task.shard_id]
            return actor.run.remote(key, job.task, job.expected, list(zip(split.parts, split.records)))
        return actor.run.remote(key, job.task, job.expected, None, fused)

    def part_done(job: _Job, res: dict[str, Any]) -> dict[str, Any] | None:
        """Take a part's result; the shard's final (failed) result when the part failed, else None."""
        split = splits[job.task.shard_id]
        if split.failed:
            return None  # the shard already failed: its other parts' results do not matter
        if res["ok"]:
            split.records[job.part] = res["record"]
            if all(r is not None for r in split.records):
                queue.appendleft(_Job("merge", job.task, job.expected))
            return None
        split.failed = True
        for other in [j for j in queue if j.task.shard_id == job.task.shard_id]:
            queue.remove(other)
        return dict(res, shard_id=job.task.shard_id,
                    error=f"part {job.part + 1} of {len(split.parts)} failed: {res['error']}")  # fmt: skip

    finished = False
    try:
        with progress:
            bar = progress.add_task(stage.name, total=len(pending), docs=0)
            while queue or inflight:
                while queue and idle:
                    job = queue.popleft()
                    actor = idle.pop()
                    inflight[submit(actor, job)] = (actor, job)
                if queue and not (inflight or starting or idle):  # every worker is gone: start one more
                    fresh = worker_cls.remote()
                    actors.append(fresh)
                    starting[fresh.prepare.remote(key, stage_cls, cfg_json)] = fresh
                ready, _ = ray.wait([*inflight, *starting], num_returns=1, timeout=0.5)
                for ref in ready:
                    if ref in starting:
                        actor = starting.pop(ref)
                        try:
                            ray.get(ref)
                        except RayActorError:
                            _drop(actor)  # died before it was up (its node lost): the rest of the pool goes on
                            actors.remove(actor)
                        except RayError as e:
                            cause = getattr(e, "cause", None) or e
                            raise RuntimeError(f"{stage.name}: a worker could not set the stage up: "
                                               f"{type(cause).__name__}: {cause}") from e  # fmt: skip
                        else:
                            idle.append(actor)
                        continue
                    actor, job = inflight.pop(ref)
                    task = job.task
                    try:
                        res = ray.get(ref)
                    except RayError as e:  # the worker process is gone: never reuse it
                        _drop(actor)
                        actors.remove(actor)
                        # A replacement, unless the cluster shrank (a node lost for good): one that can never be
                        # placed would hold its shard forever.
                        if not actors or len(actors) < _pool_size(stage, cfg, len(queue) + len(inflight) + 1):
                            fresh = worker_cls.remote()
                            actors.append(fresh)
                            starting[fresh.prepare.remote(key, stage_cls, cfg_json)] = fresh
                        if job.kind == "part" and splits[task.shard_id].failed:
                            continue
                        n = deaths[task.shard_id] = deaths.get(task.shard_id, 0) + 1
                        reason = _death_reason(e)
                        what = f"part {job.part + 1} of shard" if job.kind == "part" else "shard"
                        if n <= cfg.ray.shard_retries:
                            log.warning("%s: %s %s lost its worker (%s); retry %d of %d on a fresh worker",
                                        stage.name, what, task.shard_id, reason, n, cfg.ray.shard_retries)
                            queue.appendleft(job)
                            continue
                        res = {
                            "shard_id": task.shard_id,
                            "ok": False,
                            "error": f"worker died ({n} attempt{'s' if n > 1 else ''}): {reason}",
                            "traceback": str(e),
                            "attempts": n,
                            "time": _now(),
                        }
                        if job.kind == "part":
                            res = part_done(job, res)
                            if res is None:
                                continue
                    else:
                        idle.append(actor)
                        if job.kind == "part":
                            log.debug("%s: shard %s part %d done (%.1f s)", stage.name, task.shard_id, job.part + 1,
                                      res["seconds"])  # fmt: skip
                            res = part_done(job, res)
                            if res is None:
                                continue
                    settle(res)
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
        finished = True
    finally:
        keep = idle if finished else []  # the next stage of the run reuses them; any other worker ends here
        _return_workers(cpus, keep)
        for a in actors:
            if not any(a is k for k in keep):
                _drop(a)


def _drop(actor: Any) -> None:
    import ray

    try:
        ray.kill(actor, no_restart=True)
    except Exception:  # noqa: BLE001 - already gone
        pass


def _log_shard(stage: str, res: dict[str, Any], i: int, n: int, unit: str = "docs") -> None:
    if res["ok"]:
        s = res["stats"]
        done = f"{s['docs_in']} -> {s['docs_out']} docs" if unit == "docs" else f"{s['counters'].get(unit, 0):,} {unit}"
        line = f"{stage} [{i}/{n}] {res['shard_id']}: {done} ({res['seconds']:.1f} s)"
    else:
        line = f"{stage} [{i}/{n}] {res['shard_id']}: FAILED {res['error']}"
    log.info(line)
