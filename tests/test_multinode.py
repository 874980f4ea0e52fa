"""A stage on a real 2-node Ray cluster (two raylets on this machine): shards spread over both nodes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import PROJECT_ROOT

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import ray
    from ray import cloudpickle
    from ray.cluster_utils import Cluster

    import tests
    from pipeline.config import parse_config
    from pipeline.runtime import run_stage
    from tests.toystage import ToyStage

    tmp = Path(sys.argv[1])
    (tmp / "in").mkdir()
    for s in range(6):
        (tmp / "in" / f"s{s}.jsonl").write_text("\\n".join(json.dumps({"text": "SLOW" if i == 0 else f"doc {s} {i}"}) for i in range(20)))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        cloudpickle.register_pickle_by_value(tests)
        cfg = parse_config({"run": {"work_dir": str(tmp / "out")}, "extract": {"inputs": [str(tmp / "in" / "*.jsonl")], "min_text_chars": 1}})
        res = run_stage(ToyStage, cfg, address=cluster.address)
        print(json.dumps({"ok": res.ok, "docs_out": res.docs_out, "nodes": sorted({r["node_id"] for r in res.results})}))
    finally:
        ray.shutdown()
        cluster.shutdown()
    """
)


@pytest.mark.slow
def test_stage_spreads_shards_over_two_nodes(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ok"] and out["docs_out"] == 120
    assert len(out["nodes"]) == 2, out


NODE_LOSS = textwrap.dedent(
    """
    import json, sys, threading, time
    from pathlib import Path
    import ray
    from ray import cloudpickle
    from ray.cluster_utils import Cluster

    import tests
    from pipeline.config import parse_config
    from pipeline.runtime import run_stage
    from tests.toystage import ToyStage

    tmp = Path(sys.argv[1])
    (tmp / "in").mkdir()
    for s in range(6):
        (tmp / "in" / f"s{s}.jsonl").write_text("\\n".join(json.dumps({"text": "SLOW" if i < 4 else f"doc {s} {i}"}) for i in range(20)))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        worker_node = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        cloudpickle.register_pickle_by_value(tests)
        cfg = parse_config({"run": {"work_dir": str(tmp / "out")}, "extract": {"inputs": [str(tmp / "in" / "*.jsonl")], "min_text_chars": 1}})
        threading.Timer(6.0, lambda: cluster.remove_node(worker_node, allow_graceful=False)).start()
        res = run_stage(ToyStage, cfg, address=cluster.address)
        print(json.dumps({"ok": res.ok, "docs_out": res.docs_out, "failed": [f["error"] for f in res.failed]}))
    finally:
        ray.shutdown()
        cluster.shutdown()
    """
)


@pytest.mark.slow
def test_a_lost_node_costs_no_shard(tmp_path: Path) -> None:
    """A node removed mid-stage takes its worker with it: the worker is dropped (no replacement the shrunk cluster
    could not place), its shard is retried on the node left, and every shard completes."""
    proc = subprocess.run(
        [sys.executable, "-c", NODE_LOSS, str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ok"] and out["docs_out"] == 120, out
    assert "lost its worker" in proc.stderr, proc.stderr[-3000:]


DEDUP_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import ray
    from ray import cloudpickle
    from ray.cluster_utils import Cluster

    import tests
    from pipeline.runtime import global_record_path
    from pipeline.stages import dedup as dedup_stage
    from tests.stages.test_dedup import cfg, corpus, write_inputs

    tmp = Path(sys.argv[1])
    shards, expected = corpus(seed=1)
    write_inputs(tmp, shards)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        cloudpickle.register_pickle_by_value(tests)
        decisions = tmp / "out" / "_work" / "dedup" / "clusters"
        out = {}
        for how in ("driver", "distributed"):
            res = dedup_stage.run(cfg(tmp, components=how), address=cluster.address)
            rec = json.loads(Path(global_record_path(cfg(tmp), "dedup", "clusters")).read_text())["stats"]
            out[how] = {"ok": res.ok, "stats": rec, "files": {p.name: p.read_bytes().hex() for p in sorted(decisions.iterdir())}}
        print(json.dumps({"expected": len(expected), **out}))
    finally:
        ray.shutdown()
        cluster.shutdown()
    """
)


@pytest.mark.slow
def test_distributed_dedup_components_on_two_nodes(tmp_path: Path) -> None:
    """The large-star/small-star rounds run as tasks on both nodes and give the driver's decisions byte for byte."""
    proc = subprocess.run(
        [sys.executable, "-c", DEDUP_SCRIPT, str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    drv, dist = out["driver"], out["distributed"]
    assert drv["ok"] and dist["ok"]
    assert dist["stats"]["components"] == "distributed" and dist["stats"]["task_nodes"] == 2, dist["stats"]
    assert dist["files"] == drv["files"] and len(drv["files"]) == 3
    assert dist["stats"]["removed_exact"] + dist["stats"]["removed_near"] == out["expected"]
