"""Where the fixed cost of a `polyglot run` goes: imports, ray.init, worker start-up per stage, ray.shutdown.

    python scripts/bench/startup.py [--repeats 5] [--cpus 2] [--markdown]

Measures, on this machine, with the load average printed beside the figures:

  imports    each module imported in a fresh `python -c` (wall and CPU, median of --repeats, the bare interpreter's
             start subtracted): what the CLI process and every stage's worker pay before any work
  ray.init   `pipeline.runtime.ensure_ray` (the embedded local Ray the CLI starts), and `shutdown_ray`
  workers    per stage, a pool of --cpus actors started the way the runtime starts them (fresh processes, one stage
             instance each), until all are up; and, inside each worker, the CPU seconds it spent before our code ran
             (Ray's own worker start), importing the stage module, and the stage's `setup()`

`python -X importtime -c 'import pipeline.stages.langid' 2>&1 | sort -t'|' -k2 -n | tail` shows which modules
cost the most. Not a test: timings of a shared machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

IMPORTS = ["ray", "pipeline.cli", "pipeline.runtime", "pipeline.stages.extract", "pipeline.stages.langid",
           "pipeline.stages.filter"]  # fmt: skip
#: Heavy dependencies of the stage modules: which of them a Ray worker has imported before our code runs.
PRELOADED = ("numpy", "pyarrow", "pydantic", "fsspec", "yaml", "xxhash", "rich")
STAGES = {
    "extract": ("pipeline.stages.extract", "ExtractStage"),
    "langid": ("pipeline.stages.langid", "LangidStage"),
    "filter": ("pipeline.stages.filter", "FilterStage"),
}


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def child_time(code: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of `python -c code` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imports(repeats: int) -> list[tuple[str, float, float]]:
    env = dict(os.environ)
    base = [child_time("pass", env) for _ in range(repeats)]
    bw, bc = statistics.median(w for w, _ in base), statistics.median(c for _, c in base)
    rows = [("python -c pass (subtracted below)", bw, bc)]
    for mod in IMPORTS:
        runs = [child_time(f"import {mod}", env) for _ in range(repeats)]
        w, c = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
        rows.append((f"import {mod}", w - bw, c - bc))
    return rows


def make_probe():  # noqa: ANN201 - a Ray actor class
    import ray

    @ray.remote
    class Probe:
        """A stage worker's start, timed from inside: what the runtime's StageWorker does in its __init__."""

        def __init__(self, module: str, cls: str, cfg_json: str) -> None:
            import importlib
            import sys

            c0, t0 = time.process_time(), time.perf_counter()
            self.preloaded = [m for m in PRELOADED if m in sys.modules]
            stage_cls = getattr(importlib.import_module(module), cls)
            c1, t1 = time.process_time(), time.perf_counter()
            from pipeline.config import PipelineConfig

            stage = stage_cls(PipelineConfig.model_validate_json(cfg_json))
            stage.setup()
            c2, t2 = time.process_time(), time.perf_counter()
            self.times = {"ray_worker_cpu": c0, "import_cpu": c1 - c0, "import_wall": t1 - t0, "setup_cpu": c2 - c1,
                          "setup_wall": t2 - t1}  # fmt: skip

        def get(self) -> dict[str, float]:
            return self.times

        def loaded(self) -> list[str]:
            return self.preloaded

    return Probe


Timings = list[tuple[str, float]]
WorkerTimings = list[tuple[str, float, dict[str, float]]]


def ray_side(cpus: int, rounds: int) -> tuple[Timings, WorkerTimings, list[str]]:
    sys.path.insert(0, str(ROOT))
    import ray

    from pipeline.config import parse_config
    from pipeline.runtime import _drop, _make_actor_class, ensure_ray, shutdown_ray

    tmp = Path(tempfile.mkdtemp(prefix="polyglot-startup-"))
    cfg = parse_config({"run": {"work_dir": str(tmp)}, "ray": {"num_cpus": cpus, "object_store_mb": 256},
                        "extract": {"inputs": [str(tmp / "none.warc.gz")]}})  # fmt: skip
    cfg_json = cfg.model_dump_json()
    session: Timings = []
    workers: WorkerTimings = []
    preloaded: list[str] = []
    for r in range(rounds):
        t0 = time.perf_counter()
        ensure_ray(cfg.ray)
        session.append(("ray.init (ensure_ray)", time.perf_counter() - t0))
        probe = make_probe()
        for name, (module, cls) in STAGES.items():
            import importlib

            stage_cls = getattr(importlib.import_module(module), cls)
            # the runtime's own worker class: time until the pool is up
            worker_cls = _make_actor_class().options(num_cpus=stage_cls.cpus_per_worker, max_restarts=0)
            t0 = time.perf_counter()
            actors = [worker_cls.remote(stage_cls, cfg_json) for _ in range(cpus)]
            ray.get([a.__ray_ready__.remote() for a in actors])
            pool = time.perf_counter() - t0
            for a in actors:
                _drop(a)
            # the same start, timed from inside the worker
            t0 = time.perf_counter()
            placed = probe.options(num_cpus=stage_cls.cpus_per_worker)
            probes = [placed.remote(module, cls, cfg_json) for _ in range(cpus)]
            inside = ray.get([p.get.remote() for p in probes])
            preloaded = ray.get(probes[0].loaded.remote())
            for p in probes:
                _drop(p)
            mean = {k: statistics.mean(d[k] for d in inside) for k in inside[0]}
            workers.append((name, pool, mean))
        t0 = time.perf_counter()
        shutdown_ray()
        session.append(("ray.shutdown (shutdown_ray)", time.perf_counter() - t0))
    return session, workers, preloaded


def table(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
        return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows[1:]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="fresh processes per import (median)")
    ap.add_argument("--rounds", type=int, default=3, help="ray.init / worker pools / ray.shutdown rounds (median)")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # this checkout's package, in this process and in Ray's workers (they inherit the environment)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

    print(f"load before: {load()}  ({os.cpu_count()} cores)\n", flush=True)
    rows = [["import in a fresh process", "wall s", "CPU s"]]
    rows += [[name, f"{w:.2f}", f"{c:.2f}"] for name, w, c in imports(args.repeats)]
    print(table(rows, args.markdown), "\n", flush=True)

    session, workers, preloaded = ray_side(args.cpus, args.rounds)
    rows = [["Ray session", "median s", "min s", "max s"]]
    for name in dict.fromkeys(n for n, _ in session):
        xs = [s for n, s in session if n == name]
        rows.append([name, f"{statistics.median(xs):.2f}", f"{min(xs):.2f}", f"{max(xs):.2f}"])
    print(table(rows, args.markdown), "\n")
    rows = [["stage workers (pool of %d)" % args.cpus, "pool up s", "Ray worker start CPU s", "stage import CPU s",
             "stage import wall s", "setup() CPU s", "setup() wall s"]]  # fmt: skip
    for name in STAGES:
        ws = [(p, d) for n, p, d in workers if n == name]
        med = {k: statistics.median(d[k] for _, d in ws) for k in ws[0][1]}
        rows.append([name, f"{statistics.median(p for p, _ in ws):.2f}", f"{med['ray_worker_cpu']:.2f}",
                     f"{med['import_cpu']:.2f}", f"{med['import_wall']:.2f}", f"{med['setup_cpu']:.2f}",
                     f"{med['setup_wall']:.2f}"])  # fmt: skip
    print(table(rows, args.markdown))
    print(f"\nalready imported in a Ray worker before the stage module: {', '.join(preloaded) or 'none of them'} "
          f"(of {', '.join(PRELOADED)})")
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
