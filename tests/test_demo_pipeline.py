"""The README's main job: `polyglot run --config configs/demo.yaml` on the bundled demo crawl, checked against the
ground truth of demo/planted.json (what happened to every planted page), then rerun: everything skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("demo")
    cfg = yaml.safe_load((PROJECT_ROOT / "configs" / "demo.yaml").read_text())
    cfg["run"]["work_dir"] = str(work / "out")
    path = work / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--config", str(path)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    return work / "out", proc


@pytest.mark.slow
def test_demo_removes_planted_junk_and_duplicates(demo_run) -> None:
    work, proc = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    for stage in ("extract", "langid", "filter", "dedup", "tokenizer/sample", "balance"):
        assert any(line.startswith(f"{stage}: 4 shards (4 run, 0 skipped, 0 failed)") for line in proc.stderr.splitlines())
    manifest = json.loads((work / "shards" / "manifest.json").read_text())
    assert manifest["shards"] and all((work / "shards" / s["name"]).is_file() for s in manifest["shards"])
    assert (work / "shards" / "README.md").is_file() and (work / "tokenizer" / "tokenizer.json").is_file()
    out = subprocess.run(
        [sys.executable, "scripts/eval_demo.py", str(work), "--json"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    plants = result["plants"]
    junk = {k: v for k, v in plants.items() if k.startswith("junk:")}
    junk_total = sum(sum(v.values()) for v in junk.values())
    junk_kept = sum(v.get("kept", 0) for v in junk.values())
    assert junk_kept <= 0.05 * junk_total, junk  # every junk kind is removed, and by a named rule or stage
    assert all(k.split(":")[0] in ("langid", "filter", "not extracted") for v in junk.values() for k in v if k != "kept")
    articles = plants["article"]
    lost = sum(n for k, n in articles.items() if k not in ("kept", "dedup:near-duplicate", "dedup:exact-duplicate"))
    assert lost <= 0.05 * sum(articles.values()), articles  # real articles survive the filters
    dedup = result["dedup"]
    assert dedup["false_merges"] == 0
    assert dedup["removed"] >= 0.7 * dedup["pairs_present"], dedup
    assert plants["non_document"] == {"not extracted": 8} and plants["broken"] == {"not extracted": 1}


@pytest.mark.slow
def test_demo_rerun_skips_everything_and_stats_name_the_rules(demo_run) -> None:
    work, first = demo_run
    assert first.returncode == 0
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--config", str(work.parent / "demo.yaml")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dedup clusters: unchanged, skipped" in proc.stderr and "balance plan: unchanged, skipped" in proc.stderr
    assert "tokenizer train: unchanged, skipped" in proc.stderr
    for stage in ("extract", "langid", "filter", "dedup", "tokenizer/sample", "balance/counts", "balance"):
        assert f"{stage}: 4 shards (0 run, 4 skipped, 0 failed)" in proc.stderr
    assert "(0 run, " in next(line for line in proc.stderr.splitlines() if line.startswith("shards: "))
    stats = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "stats", str(work), "--json"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    report = json.loads(stats.stdout)["stages"]
    assert "gopher_repetition:dup_para_frac" in report["filter"]["removed"]
    assert "near-duplicate" in report["dedup"]["removed"]
    assert report["langid"]["removed"]["low_score"]
