"""Fused runs (`run.fuse`): extract → langid → (a plug-in) → filter as one pass per shard must leave exactly what the
stages leave when run one after the other — the same Parquet bytes, records (but for how the shard ran) and indexes —
and skip, rerun and fail shard by shard as they do."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel

from pipeline import storage
from pipeline.api import Pipeline, StageFailed, _merged
from pipeline.fusion import chains
from pipeline.stages import extract as extract_module
from pipeline.stages.base import BatchResult, DocumentStage, ShardStats, ShardTask, rebatch

DEMO = sorted((Path(__file__).resolve().parents[1] / "demo" / "crawl-data").rglob("*.warc.gz"))
SHARDS = ("DEMO-2026-47-20261117010000-00000", "DEMO-2026-47-20261118010000-00001")


class Poison(DocumentStage):
    """A plug-in between langid and filter that raises in shard `shard` once it has seen `after_docs` documents
    (so after it passed earlier batches on: the failure comes mid-shard)."""

    name = "poison"
    after = "langid"
    reason_column = "poison_reason"

    class Settings(BaseModel):
        shard: str = ""
        after_docs: int = 0

    def begin(self, task: ShardTask, num_rows: int | None) -> None:
        self._shard, self._seen = task.shard_id, 0

    def decide(self, batch: pa.RecordBatch, stats: ShardStats) -> BatchResult:
        self._seen += batch.num_rows
        if self._shard == self.settings.shard and self._seen > self.settings.after_docs:
            raise ValueError("poisoned page")
        short = pc.less(pc.utf8_length(batch.column("text")), 300)
        return BatchResult(pc.if_else(short, pa.scalar("short"), pa.scalar(None, pa.string())))


def _warcs(folder: Path) -> None:
    """Two shards of the bundled demo crawl (~108 pages each: 13 languages, legacy charsets, junk and duplicates)."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in DEMO[:2]:
        shutil.copy(f, folder / f.name)


def _pipeline(root: Path, work: str, fuse: bool, stages: list[str] | None = None, **over: Any) -> Pipeline:
    data: dict[str, Any] = {
        "run": {"work_dir": str(root / work), "stages": stages or ["extract", "langid", "filter"], "fuse": fuse},
        "ray": {"num_cpus": 2, "object_store_mb": 256},
        "extract": {"inputs": [str(root / "in" / "*.warc.gz")]},
    }
    if "poison" in data["run"]["stages"]:
        data["plugins"] = {"poison": {"class": "tests.test_fusion:Poison", "after": "langid",
                                      "settings": {"shard": SHARDS[1], "after_docs": 40}}}  # fmt: skip
    return Pipeline.from_dict(_merged(data, over))


def _hashes(work: Path) -> dict[str, str]:
    """sha256 of every Parquet file below the work dir, by relative path."""
    return {str(p.relative_to(work)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(work.rglob("*.parquet"))}


def _records(work: Path, stage: str) -> dict[str, Any]:
    """A stage's records and index with how each shard ran left out and the work dir made relative."""

    def clean(rec: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps({k: v for k, v in rec.items() if k != "run"}).replace(str(work), "WORK"))

    state = work / "_state"
    recs = {p.name: clean(json.loads(p.read_text())) for p in sorted((state / stage).glob("*.json"))
            if not p.name.endswith(".error.json")}  # fmt: skip
    index = json.loads((state / f"{stage}.index").read_text())
    index["records"] = {k: clean(v) for k, v in index["records"].items()}
    return {"records": recs, "index": index}


@pytest.fixture
def small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Row groups of 4 rows and extract batches of 3 documents (in this process: the driver path), so that any
    dependence of an output's bytes on how its rows came in shows. Ray is stopped first: with Ray up, small stages
    run there, not in this process."""
    from pipeline.runtime import shutdown_ray

    shutdown_ray()
    init = storage.ParquetSink.__init__

    def small(self: storage.ParquetSink, f: Any, schema: pa.Schema, rows: int, nbytes: int) -> None:
        init(self, f, schema, 4, nbytes)

    monkeypatch.setattr(storage.ParquetSink, "__init__", small)
    monkeypatch.setattr(extract_module, "BATCH_DOCS", 3)
    monkeypatch.setattr(DocumentStage, "batch_rows", 5)


def test_rebatch_depends_on_the_rows_only() -> None:
    texts = [f"doc {i} " + "y" * (i * 37 % 200) for i in range(103)]
    table = pa.table({"text": texts, "i": list(range(103))})
    cuts = []
    for chunk in (1, 7, 50, 103):
        out = list(rebatch(table.to_batches(max_chunksize=chunk), max_rows=10, max_bytes=900))
        assert sum(b.num_rows for b in out) == 103
        assert all(b.num_rows <= 10 and (b.num_rows == 1 or pc.sum(pc.binary_length(b.column("text"))).as_py() <= 900)
                   for b in out)  # fmt: skip
        cuts.append([b.column("i")[0].as_py() for b in out])
    assert cuts[0] == cuts[1] == cuts[2] == cuts[3]
    assert [b.num_rows for b in rebatch([pa.record_batch({"text": ["z" * 5000, "a"]})], 10, 900)] == [1, 1]


def test_fused_run_in_the_driver_is_byte_identical_to_stage_by_stage(tmp_path: Path, small_row_groups: None) -> None:
    _warcs(tmp_path / "in")
    for work, fuse in (("apart", False), ("fused", True)):
        with _pipeline(tmp_path, work, fuse) as pipe:
            results = pipe.run()
        assert [r.fused_with for r in results.values()] == ([[]] * 3 if not fuse else
                                                            [["langid", "filter"], ["extract", "filter"], ["extract", "langid"]])  # fmt: skip
    apart, fused = _hashes(tmp_path / "apart"), _hashes(tmp_path / "fused")
    assert len(apart) == 2 * 6 and apart == fused  # extract, langid kept + rejected, filter kept + removed + attributes
    assert pq.ParquetFile(tmp_path / "fused" / "filter" / f"{SHARDS[0]}.parquet").metadata.num_row_groups > 2
    for stage in ("extract", "langid", "filter"):
        assert _records(tmp_path / "apart", stage) == _records(tmp_path / "fused", stage)
    rec = json.loads((tmp_path / "fused" / "_state" / "langid" / f"{SHARDS[0]}.json").read_text())
    assert rec["run"]["fused"] == "extract+langid+filter" and rec["run"]["node"] == "driver"
    with _pipeline(tmp_path, "fused", True) as pipe:
        assert pipe.stats()["stages"]["filter"]["docs_out"] == json.loads(
            (tmp_path / "apart" / "_state" / "filter.index").read_text())["records"][SHARDS[0]]["stats"]["docs_out"] + \
            json.loads((tmp_path / "apart" / "_state" / "filter.index").read_text())["records"][SHARDS[1]]["stats"]["docs_out"]  # fmt: skip


def test_fused_run_on_ray_is_byte_identical_to_stage_by_stage(ray_session, tmp_path: Path) -> None:
    _warcs(tmp_path / "in")
    for work, fuse in (("apart", False), ("fused", True)):
        pipe = _pipeline(tmp_path, work, fuse, ray={"in_driver_below_mb": 0})
        pipe.run()
    assert _hashes(tmp_path / "apart") == _hashes(tmp_path / "fused")
    for stage in ("extract", "langid", "filter"):
        assert _records(tmp_path / "apart", stage) == _records(tmp_path / "fused", stage)
    rec = json.loads((tmp_path / "fused" / "_state" / "filter" / f"{SHARDS[1]}.json").read_text())
    assert rec["run"]["fused"] == "extract+langid+filter" and rec["run"]["node"] not in ("driver", "local")


@pytest.mark.slow
def test_a_head_that_splits_a_large_shard_runs_alone_then_the_rest_fused(ray_session, tmp_path: Path) -> None:
    """One shard on 2 workers with a tiny `extract.split_mb`: extract cuts it in parts on both workers (run alone,
    since a fused shard runs on one worker), then langid + filter run fused; every output equals a run with neither
    splitting nor fusing."""
    (tmp_path / "in").mkdir()
    shutil.copy(DEMO[0], tmp_path / "in" / DEMO[0].name)
    for work, fuse, split_mb in (("plain", False, 0), ("both", True, 0.001)):
        _pipeline(tmp_path, work, fuse, ray={"in_driver_below_mb": 0},
                  extract={"inputs": [str(tmp_path / "in" / "*.warc.gz")], "split_mb": split_mb}).run()  # fmt: skip
    assert _hashes(tmp_path / "plain") == _hashes(tmp_path / "both")
    for stage in ("extract", "langid", "filter"):
        assert _records(tmp_path / "plain", stage) == _records(tmp_path / "both", stage)
    state = tmp_path / "both" / "_state"
    extract = json.loads((state / "extract" / f"{SHARDS[0]}.json").read_text())
    assert len(extract["run"]["parts"]) == 2 and "fused" not in extract["run"]
    assert json.loads((state / "filter" / f"{SHARDS[0]}.json").read_text())["run"]["fused"] == "langid+filter"


def test_rerun_skips_and_a_filter_change_reruns_only_filter(tmp_path: Path) -> None:
    _warcs(tmp_path / "in")
    with _pipeline(tmp_path, "w", True) as pipe:
        pipe.run()
    state = tmp_path / "w" / "_state"
    mtimes = {p: p.stat().st_mtime_ns for p in state.rglob("*.json")}
    with _pipeline(tmp_path, "w", True) as pipe:
        again = pipe.run()
    assert [(r.skipped, len(r.results)) for r in again.values()] == [(2, 0)] * 3
    with _pipeline(tmp_path, "w", True, filter={"mask_pii": False}) as pipe:
        changed = pipe.run()
    assert [(n, r.skipped, len(r.results)) for n, r in changed.items()] == [
        ("extract", 2, 0), ("langid", 2, 0), ("filter", 0, 2)]  # fmt: skip
    for p, t in mtimes.items():
        assert (p.stat().st_mtime_ns == t) == ("filter" not in p.parts), p  # only filter's records were rewritten
    # One shard's langid record gone: that shard starts at langid (extract skipped), its filter runs again.
    (state / "langid" / f"{SHARDS[1]}.json").unlink()
    with _pipeline(tmp_path, "w", True, filter={"mask_pii": False}) as pipe:
        partial = pipe.run()
    assert [(r.skipped, [x["shard_id"] for x in r.results]) for r in partial.values()] == [
        (2, []), (1, [SHARDS[1]]), (1, [SHARDS[1]])]  # fmt: skip


@pytest.mark.parametrize("where", ["driver", "ray"])
def test_a_failing_stage_fails_the_shard_from_there_on_as_stage_by_stage(
    tmp_path: Path, small_row_groups: None, where: str, request: pytest.FixtureRequest
) -> None:
    """A plug-in raising mid-shard (in the driver: after it passed batches on): extract and langid still finish that
    shard (same bytes as run alone), the plug-in's error is the one it has run alone, filter's error names it, every
    other shard goes through, and no stage after it can plan from the incomplete filter."""
    ray = {"in_driver_below_mb": 100 if where == "driver" else 0}
    if where == "ray":
        request.getfixturevalue("ray_session")  # kept up: these pipelines are not closed
    _warcs(tmp_path / "in")
    stages = ["extract", "langid", "poison", "filter"]
    errors = {}
    for work, fuse in (("apart", False), ("fused", True)):
        pipe = _pipeline(tmp_path, work, fuse, stages, ray=ray)
        assert [len(g) for g in chains(pipe.config, stages)] == ([1] * 4 if not fuse else [4])
        with pytest.raises(StageFailed) as failed:
            pipe.run()
        assert failed.value.result.stage == "poison"
        err = json.loads((tmp_path / work / "_state" / "poison" / f"{SHARDS[1]}.error.json").read_text())
        errors[work] = err["error"]
    assert errors["fused"] == errors["apart"] == "ValueError: poisoned page"
    apart, fused = _hashes(tmp_path / "apart"), _hashes(tmp_path / "fused")
    for name in ("extract", "langid", "_removed/langid"):  # the failing shard's upstream outputs are complete
        assert fused[f"{name}/{SHARDS[1]}.parquet"] == apart[f"{name}/{SHARDS[1]}.parquet"]
    assert f"poison/{SHARDS[1]}.parquet" not in fused and f"filter/{SHARDS[1]}.parquet" not in fused
    assert f"filter/{SHARDS[0]}.parquet" in fused  # the other shard went through every stage
    state = tmp_path / "fused" / "_state"
    for stage in ("poison", "filter"):
        assert json.loads((state / f"{stage}.index").read_text())["failed"] == [SHARDS[1]]
    filter_err = json.loads((state / "filter" / f"{SHARDS[1]}.error.json").read_text())["error"]
    assert filter_err == "not run: poison failed on this shard (ValueError: poisoned page)"
    assert not list(state.rglob("*.tmp-*")) and not list((tmp_path / "fused").rglob("*.tmp-*"))
    # Fixed (the plug-in's settings changed), the rerun starts both shards at poison, reading langid's output.
    fixed = {"poison": {"settings": {"after_docs": 10_000}}}
    rerun = _pipeline(tmp_path, "fused", True, stages, ray=ray, plugins=fixed).run()
    assert [len(r.results) for r in rerun.values()] == [0, 0, 2, 2]
    assert not (state / "filter" / f"{SHARDS[1]}.error.json").exists()


def test_a_head_that_cannot_read_its_input_fails_like_stage_by_stage(tmp_path: Path) -> None:
    """langid → filter fused after extract ran alone: a damaged extract output fails langid with the error it gives
    run alone, and filter after it; the other shard completes both."""
    _warcs(tmp_path / "in")
    errors = {}
    for work, fuse in (("apart", False), ("fused", True)):
        with _pipeline(tmp_path, work, fuse, ["extract"]) as pipe:
            pipe.run()
        (tmp_path / work / "extract" / f"{SHARDS[0]}.parquet").write_bytes(b"not parquet")
        with _pipeline(tmp_path, work, fuse, ["langid", "filter"]) as pipe:
            with pytest.raises(StageFailed) as failed:
                pipe.run()
        assert failed.value.result.stage == "langid"
        errors[work] = json.loads((tmp_path / work / "_state" / "langid" / f"{SHARDS[0]}.error.json").read_text())
    assert errors["apart"]["error"] == errors["fused"]["error"].replace(str(tmp_path / "fused"), str(tmp_path / "apart"))
    assert errors["fused"]["error"].startswith("ValueError: cannot read Parquet file")
    assert (tmp_path / "fused" / "filter" / f"{SHARDS[1]}.parquet").exists()
    assert json.loads((tmp_path / "fused" / "_state" / "filter.index").read_text())["failed"] == [SHARDS[0]]


def test_fuse_off_and_what_does_not_fuse(tmp_path: Path) -> None:
    _warcs(tmp_path / "in")
    pipe = _pipeline(tmp_path, "w", True, ["extract", "langid", "filter", "dedup", "tokenizer"])
    assert chains(pipe.config, ["extract", "langid", "filter", "dedup", "tokenizer"]) == [
        ["extract", "langid", "filter"], ["dedup"], ["tokenizer"]]  # fmt: skip
    # filter does not read extract when langid is listed in run.stages: extract and filter alone do not chain
    assert chains(pipe.config, ["extract", "filter"]) == [["extract"], ["filter"]]
    off = _pipeline(tmp_path, "w", False)
    assert chains(off.config, ["extract", "langid", "filter"]) == [["extract"], ["langid"], ["filter"]]


def test_input_heads_a_fused_chain_with_its_metadata_byte_identical(tmp_path: Path, shared_data: Path) -> None:
    """Your own corpus (JSON lines of real UDHR text, with a language and metadata of several types) through
    input → filter: the same bytes fused as stage by stage (the metadata's types survive the hand-over in memory)."""
    (tmp_path / "in").mkdir()
    files = {"eng": "en", "fra": "fr", "rus": "ru", "kor": "ko", "jpn": "ja", "cmn_hans": "zh-Hans", "deu_1996": "de"}
    paras = {code: [p for p in (shared_data / "udhr" / f"udhr_{f}.txt").read_text(encoding="utf-8").split("\n")
                    if len(p) > 40] for f, code in files.items()}  # fmt: skip
    for part in range(2):
        with open(tmp_path / "in" / f"web-{part}.jsonl", "w", encoding="utf-8") as fh:
            for i in range(60):
                code = list(paras)[(i + part) % len(paras)]
                lines = paras[code][i % 5 : i % 5 + 2 + i % 9]
                row = {"text": "\n".join(lines), "lang": code, "dump": f"CC-{i % 3}", "n": i, "tags": ["a"] * (i % 3),
                       "meta": {"score": i / 7, "ok": bool(i % 2)}, "empty": None}  # fmt: skip
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    hashes = {}
    for work, fuse in (("apart", False), ("fused", True)):
        with Pipeline.from_dict({
            "run": {"work_dir": str(tmp_path / work), "stages": ["input", "filter"], "fuse": fuse},
            "input": {"paths": [str(tmp_path / "in" / "*.jsonl")],
                      "columns": {"text": "text", "lang": "lang", "metadata": "all"}},
        }) as pipe:  # fmt: skip
            assert [len(g) for g in chains(pipe.config, ["input", "filter"])] == ([2] if fuse else [1, 1])
            results = pipe.run()
        assert results["filter"].docs_out > 0
        hashes[work] = _hashes(tmp_path / work)
    assert len(hashes["fused"]) == 2 * 4 and hashes["fused"] == hashes["apart"]
    rec = json.loads((tmp_path / "fused" / "_state" / "input" / "web-0.json").read_text())
    assert rec["run"]["fused"] == "input+filter" and rec["run"]["seconds"] > 0  # its time is counted, not filter's
    for stage in ("input", "filter"):
        assert _records(tmp_path / "apart", stage) == _records(tmp_path / "fused", stage)
