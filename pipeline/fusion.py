"""Fused runs: consecutive per-document stages as one pass per shard (`run.fuse`, on by default).

Run one after the other, extract → langid → filter read and decode every shard three times from Parquet and pay
three scheduling rounds. Fused, one task per shard runs the chain as generators (as datatrove chains its steps): the
head's kept batches (`BatchSource.stream`) go in memory to the next stage's `DocumentStage.split`, whose kept
batches go to the next, and so on. Nothing else changes: every stage still writes its kept and removed Parquet
outputs through its own streaming writers, and its own completion record and index, as if it had run alone (the
record differs only in its `run` part: seconds, worker, and `fused`), so `polyglot stats`, skipping on rerun and the
planning of later stages from the index work as before, and the outputs are byte-identical (`rebatch` makes each
stage see the same batches either way; `storage.parquet_schema` the same schema).

Per shard, the chain starts at the first stage that is not complete (reading that stage's input from disk), so
changing a filter setting reruns only filter. A stage that raises fails the shard for itself and for the stages
after it (their error files say which stage failed); the stages before it still finish the shard, and the other
shards go through. A stage is not complete when the stage before it is redone, even if that stage's output comes out
with the same bytes (run alone, the later stage would then be skipped): a fused chain recomputes it, and writes the
same bytes.

What fuses (`chains`): a `BatchSource` head (extract, or a document stage) and after it the document stages that
read it, plan through `DocumentStage.task_for` and keep `Stage.run`; not dedup, whose per-shard steps wait for a
corpus-wide one.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from pipeline.config import PipelineConfig
from pipeline.runtime import (
    StageBook,
    StageResult,
    _in_driver,
    _now,
    _output_sizes,
    _peak_rss_mb,
    _run_in_driver,
    _run_on_ray,
    ensure_ray,
    expected_record,
    record_path,
    splits_any,
    worker_info,
)
from pipeline.stages.base import BatchSource, DocumentStage, ShardStats, ShardTask, Stage
from pipeline.storage import FolderListings, listing_scope, parquet_schema, write_json, written

log = logging.getLogger(__name__)


def _fuses_after(cls: type[Any]) -> bool:
    """Whether a stage class can take the previous stage's batches in memory."""
    return (
        isinstance(cls, type)
        and issubclass(cls, DocumentStage)
        and cls.plan is DocumentStage.plan  # its tasks come from `task_for`, which a fused run calls per shard
        and cls.run.__func__ is Stage.run.__func__  # type: ignore[attr-defined]
    )


def _can_head(cls: type[Any]) -> bool:
    return (
        isinstance(cls, type)
        and issubclass(cls, Stage)
        and issubclass(cls, BatchSource)
        and cls.run.__func__ is Stage.run.__func__  # type: ignore[attr-defined]
    )


def chains(cfg: PipelineConfig, names: list[str]) -> list[list[str]]:
    """`names` (in pipeline order) cut into the groups a run executes: a fused chain of two or more stages, each
    reading the one before it, or a stage alone. With `run.fuse` off, every stage alone."""
    if not cfg.run.fuse:
        return [[n] for n in names]
    from pipeline.stages import upstream_stage

    groups: list[list[str]] = []
    for name in names:
        cls = cfg.stage_spec(name).load()
        prev = groups[-1] if groups else None
        if (
            prev is not None
            and _fuses_after(cls)
            and _can_head(cfg.stage_spec(prev[-1]).load())
            and prev[-1] in (cfg.run.stages or [])  # then upstream_stage answers from run.stages, reading nothing
            and upstream_stage(cfg, name) == prev[-1]
        ):
            prev.append(name)
        else:
            groups.append([name])
    return groups


@dataclass(frozen=True)
class ChainJob:
    """One shard of a fused run: every stage's task (a later stage's input hashes are known only once the stage
    before it wrote the shard: the worker fills them in) and config hash, and the first stage to run."""

    shard_id: str
    start: int
    tasks: tuple[ShardTask, ...]
    config_hashes: tuple[str, ...]

    @property
    def inputs(self) -> tuple[str, ...]:
        """What the first stage to run reads (for `ray.in_driver_below_mb`)."""
        return self.tasks[self.start].inputs


class Chain:
    """The stages of a fused run, set up once per worker (each stage's models, as when run alone)."""

    progress_unit = "docs"

    def __init__(self, classes: tuple[type[Stage], ...], cfg: PipelineConfig) -> None:
        self.cfg = cfg
        self.stages: list[Any] = [c(cfg) for c in classes]
        self.name = "+".join(s.name for s in self.stages)
        self.cpus_per_worker = max(s.cpus_per_worker for s in self.stages)

    def max_workers(self) -> int | None:
        caps = [c for c in (s.max_workers() for s in self.stages) if c is not None]
        return min(caps) if caps else None

    def setup(self) -> None:
        for s in self.stages:
            s.setup()


class _StageError(Exception):
    """An exception raised by stage `index` of a chain, carried through the stages after it."""

    def __init__(self, index: int, error: BaseException, tb: str) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.index, self.error, self.tb = index, error, tb


def _guarded(index: int, batches: Iterator[pa.RecordBatch], spent: list[float]) -> Iterator[pa.RecordBatch]:
    """`batches`, with an exception of this stage's own code tagged with its index, and the time spent getting
    each batch added to `spent[index]` (the stage's time and its upstream's)."""
    while True:
        t0 = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            spent[index] += time.perf_counter() - t0
            return
        except _StageError:
            raise
        except Exception as e:  # noqa: BLE001 - kept as this stage's failure
            raise _StageError(index, e, traceback.format_exc()) from e
        spent[index] += time.perf_counter() - t0
        yield batch


def run_chain_shard(
    chain: Chain, job: ChainJob, expected: dict[str, Any], progress: Any = None, worker: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run one shard through the stages of a chain from `job.start` on, each writing its outputs; then write the
    record of every stage that got through, in order. Errors come back as results, never raised.

    The result has `chain`: one result per stage run (`runtime.run_shard`'s form), and `ok`, `stats` (documents
    into the first, out of the last stage) and `seconds` for the shard as a whole."""
    worker = worker or worker_info()
    t0 = time.perf_counter()
    written.clear()
    stages, start = chain.stages, job.start
    n = len(stages)
    stats = [ShardStats() for _ in stages]
    spent = [0.0] * n
    errors: dict[int, tuple[str, str]] = {}
    gens: list[Iterator[pa.RecordBatch]] = []
    t_open, opened = time.perf_counter(), 0.0
    try:
        head = stages[start].stream(job.tasks[start], stats[start], progress or (lambda k: None))
        opened = time.perf_counter() - t_open  # the head's own time before its first batch is asked for (input's)
        gens.append(_guarded(start, head.batches, spent))
        schema = head.schema
        for i in range(start + 1, n):
            stage: DocumentStage = stages[i]
            gens.append(_guarded(i, stage.split(job.tasks[i], schema, gens[-1], stats[i]), spent))
            schema = parquet_schema(stage.output_schema(schema))
    except Exception as e:  # noqa: BLE001 - a head that cannot start fails the shard for every stage
        errors[start] = (f"{type(e).__name__}: {e}", traceback.format_exc())
    ok_until = start if errors else n  # stages [start, ok_until) write their outputs
    target = None if errors else gens[-1]
    while target is not None:
        try:
            for _ in target:
                pass
            break
        except _StageError as e:
            errors.setdefault(e.index, (str(e), e.tb))
            ok_until = min(ok_until, e.index)
            # The stages before the failed one finish the shard, as they would alone.
            target = gens[e.index - start - 1] if e.index > start else None
    results: list[dict[str, Any]] = []
    upstream: ShardTask | None = None
    for i in range(start, n):
        stage, seconds = stages[i], max(0.0, spent[i] - spent[i - 1] if i > start else spent[i] + opened)
        if i < ok_until:
            try:
                task = job.tasks[i] if upstream is None else stage.task_for(upstream)
                exp = expected if i == start else expected_record(stage, task, job.config_hashes[i])
                sizes = _output_sizes(task.outputs)
                hashes = {name: written[url][1] for name, url in task.outputs.items() if url in written}
                run = dict(worker, seconds=round(seconds, 3), peak_rss_mb=_peak_rss_mb(), fused=chain.name)
                record = dict(exp, output_sizes=sizes, output_hashes=hashes, run=run, stats=stats[i].to_dict())
                write_json(record_path(stage.cfg, stage.name, job.shard_id), record)
                upstream = dataclasses.replace(task, output_hashes=hashes)
                results.append({"shard_id": job.shard_id, "ok": True, "stats": record["stats"], "seconds": seconds,
                                "run": run, "record": record})  # fmt: skip
                continue
            except Exception as e:  # noqa: BLE001 - this stage fails the shard, and the stages after it
                errors[i] = (f"{type(e).__name__}: {e}", traceback.format_exc())
                ok_until = i
        if i in errors:
            error, tb = errors[i]
        else:  # a stage after the failed one: it never got the shard's documents
            first = min(j for j in errors if j < i)
            error, tb = f"not run: {stages[first].name} failed on this shard ({errors[first][0]})", ""
        results.append({"shard_id": job.shard_id, "ok": False, "error": error, "traceback": tb, "seconds": seconds,
                        "worker": worker, "time": _now()})  # fmt: skip
    seconds = time.perf_counter() - t0
    first_failed = next((r for r in results if not r["ok"]), None)
    docs_out = results[-1]["stats"]["docs_out"] if first_failed is None else 0
    docs_in = results[0]["stats"]["docs_in"] if results[0]["ok"] else 0
    out = {"shard_id": job.shard_id, "ok": first_failed is None, "seconds": seconds, "chain": results,
           "stats": {"docs_in": docs_in, "docs_out": docs_out, "counters": {}}}  # fmt: skip
    if first_failed is not None:
        out |= {"error": first_failed["error"], "traceback": first_failed["traceback"], "worker": worker,
                "time": first_failed["time"]}  # fmt: skip
    return out


def run_chain(
    names: list[str], cfg: PipelineConfig, *, address: str | None = None, force: bool = False
) -> list[StageResult]:
    """Run the stages `names` (a group of `chains`) fused: one task per shard, each stage from the first one the
    shard has not completed. One `StageResult` per stage, as `run_stage` gives (its seconds: the fused pass's).

    An exception while planning carries the stage's name in `stage_name`."""
    t0 = time.perf_counter()
    classes = tuple(cfg.stage_spec(n).load() for n in names)
    stages: list[Any] = [c(cfg) for c in classes]
    try:
        heads = sorted(stages[0].plan(), key=lambda t: t.shard_id)
    except Exception as e:
        e.stage_name = names[0]  # type: ignore[attr-defined]
        raise
    templates = [heads]  # every stage's tasks, without the input hashes a later stage gets per shard
    for stage in stages[1:]:
        templates.append([stage.task_for(t) for t in templates[-1]])
    listings = FolderListings()
    books = [StageBook(stage, tasks, force, listings) for stage, tasks in zip(stages, templates, strict=True)]
    hashes = tuple(b.config_hash for b in books)
    pending: list[tuple[ChainJob, dict[str, Any]]] = []
    with listing_scope(listings):
        for k, head in enumerate(heads):
            tasks: list[ShardTask] = []
            start: int | None = None
            first: dict[str, Any] = {}
            for i, (stage, book) in enumerate(zip(stages, books, strict=True)):
                if start is not None:
                    tasks.append(templates[i][k])
                    continue
                task = head if i == 0 else stage.task_for(tasks[-1])
                expected = book.expected(task)
                rec = book.skip_if_complete(task, expected)
                if rec is None:
                    start, first = i, expected
                    tasks.append(task)
                else:  # complete: the next stage reads its output, identified by the recorded hash
                    tasks.append(dataclasses.replace(task, output_hashes=dict(rec.get("output_hashes") or {})))
            if start is not None:
                pending.append((ChainJob(head.shard_id, start, tuple(tasks), hashes), first))
    heads_due = [(job.tasks[0], first) for job, first in pending if job.start == 0]
    if splits_any(stages[0], cfg, heads_due, address):
        # A large shard is cut into parts on every worker only when its stage runs alone: the head first, then the
        # rest fused (or alone), reading the head's records as any later stage does.
        log.info("%s: large shard(s) split across workers: %s runs alone before %s", names[0], names[0],
                 " + ".join(names[1:]))  # fmt: skip
        head = classes[0].run(cfg, address, force)
        rest = run_chain(names[1:], cfg, address=address, force=force) if len(names) > 2 else [
            classes[1].run(cfg, address, force)]  # fmt: skip
        return [head, *rest]
    runs = [any(job.start <= i for job, _ in pending) for i in range(len(stages))]
    for book, ran in zip(books, runs, strict=True):
        if ran:
            book.changing()

    jobs = {job.shard_id: job for job, _ in pending}

    def settle(res: dict[str, Any]) -> None:
        """Split a shard's result into its stages' results (a lost worker: a failure of every stage it ran)."""
        job = jobs[res["shard_id"]]
        per_stage = res.get("chain") or [dict(res) for _ in range(job.start, len(stages))]
        for book, r in zip(books[job.start :], per_stage, strict=True):
            book.settle(r)
            book.count(r)

    if pending:
        chain = Chain(classes, cfg)
        overall = StageResult(stage=chain.name, shards=len(pending))
        if _in_driver(cfg, address, pending, listings):
            _run_in_driver(chain, pending, overall, settle, run=run_chain_shard)
        else:
            ensure_ray(cfg.ray, address)
            factory = functools.partial(Chain, classes)
            _run_on_ray(chain, cfg, pending, overall, settle, factory=factory, fused=True)
    seconds = time.perf_counter() - t0
    for book, ran in zip(books, runs, strict=True):
        book.result.fused_with = [n for n in names if n != book.stage.name]
        book.close(seconds, ran=ran)
    return [b.result for b in books]
