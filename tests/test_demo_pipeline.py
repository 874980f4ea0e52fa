"""The README's main job: `polyglot run --config configs/demo.yaml` on the bundled demo crawl, checked against the
ground truth of demo/planted.json (what happened to every planted page), then rerun: everything skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.filter.quality import REASONS

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
    removed = report["filter"]["removed"]
    assert {"page:too_little_prose", "c4:too_few_sentences"} <= set(removed), removed  # reasons name family:rule
    assert set(removed) <= set(REASONS), removed
    assert "near-duplicate" in report["dedup"]["removed"]
    assert report["langid"]["removed"]["low_score"]


@pytest.mark.slow
def test_demo_ends_in_a_tokenizer_and_shards_that_training_stacks_load(demo_run, tmp_path: Path, monkeypatch) -> None:
    """The issue's end state on the bundled demo: a shared tokenizer whose HF export gives SentencePiece's ids and
    meets the parity target, and shards that datasets and pipeline.training read, with the manifest's checksums."""
    import hashlib

    import datasets
    import sentencepiece as spm
    from transformers import PreTrainedTokenizerFast

    from pipeline.training import PackedSequenceIterator

    work, proc = demo_run
    assert proc.returncode == 0
    report = json.loads((work / "tokenizer" / "report.json").read_text())
    assert report["target"]["met"] and report["id_parity"]["identical"]
    assert report["parity"]["balanced"]["ratio"] <= 1.5
    assert report["parity"]["balanced"]["ratio"] < report["parity"]["unbalanced"]["ratio"]

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    manifest = json.loads((work / "shards" / "manifest.json").read_text())
    files = [work / "shards" / s["name"] for s in manifest["shards"]]
    for s, f in zip(manifest["shards"], files):
        assert hashlib.sha256(f.read_bytes()).hexdigest() == s["sha256"]
    ds = datasets.load_dataset("arrow", data_files=[str(f) for f in files], split="train", cache_dir=str(tmp_path / "c"))
    assert len(ds) == manifest["rows"] and sum(ds["num_tokens"]) == manifest["tokens"]
    first = datasets.Dataset.from_file(str(files[0]))
    sp = spm.SentencePieceProcessor(model_file=str(work / "tokenizer" / "tokenizer.model"))
    hf = PreTrainedTokenizerFast.from_pretrained(str(work / "tokenizer"))
    for row in first.select(range(min(20, len(first)))):
        assert list(row["input_ids"]) == sp.encode(row["text"]) == hf(row["text"], add_special_tokens=False)["input_ids"]
    it = PackedSequenceIterator(str(work / "shards" / "manifest.json"), seq_len=128, eos_id=sp.eos_id())
    assert len(next(iter(it))) == 129
    # the Megatron export (demo.yaml turns it on): the same rows in shard order, each ended by the eos id
    from tests.test_megatron import read_indexed_dataset

    _, docs = read_indexed_dataset(work / "shards" / manifest["megatron"]["prefix"])
    rows = [ids for f in files for ids in datasets.Dataset.from_file(str(f))["input_ids"]]
    assert [d.tolist() for d in docs] == [list(r) + [sp.eos_id()] for r in rows]
