"""The open pipeline: a third-party stage registered from the config, stages that plan from completion records
(the WARCs may be gone), removed documents outside the kept folders, and identity narrowed to what each step reads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel, ConfigDict

from pipeline.config import ConfigError, PipelineConfig, parse_config
from pipeline.stages import runner, upstream_stage
from pipeline.stages.base import BatchResult, DocumentStage, ShardStats
from tests.stages.test_extract_langid import write_warc


class MinCharsStage(DocumentStage):
    """Drops documents shorter than `min_chars` characters (a third-party document stage: one class)."""

    name = "min_chars"
    after = "langid"
    reason_column = "reason"

    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        min_chars: int = 100

    def decide(self, batch: pa.RecordBatch, stats: ShardStats) -> BatchResult:
        short = pc.less(pc.utf8_length(batch.column("text")), self.settings.min_chars)
        return BatchResult(pc.if_else(short, pa.scalar("too_short"), pa.scalar(None, pa.string())))


STAGES = ["extract", "langid", "min_chars", "filter", "dedup"]
PLUGIN = {"min_chars": {"class": "tests.test_open_pipeline:MinCharsStage", "settings": {"min_chars": 150}}}


def _cfg(tmp: Path, **overrides: Any) -> PipelineConfig:
    data: dict[str, Any] = {
        "run": {"work_dir": str(tmp / "out"), "stages": ["extract", "langid", "min_chars", "filter", "dedup"]},
        "extract": {"inputs": [str(tmp / "warc" / "*.warc.gz")]},
        "plugins": PLUGIN,
        # the test pages are one short paragraph each: rules for pages this short, so the filter keeps some
        "filter": {"quality": {"page": {"enabled": False}, "c4": {"enabled": False}, "gopher_quality": {"min_words": 10}}},
    }
    for key, value in overrides.items():
        section, _, field = key.partition("__")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[section] = value
    return parse_config(data)


def _run(cfg: PipelineConfig, stages: list[str]) -> dict[str, Any]:
    out = {}
    for name in stages:
        res = runner(name, cfg)(cfg, None, False)
        assert res.ok, (name, res.failed)
        out[name] = res
    return out


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*.json"))}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory, ray_session) -> Path:  # noqa: ANN001
    tmp = tmp_path_factory.mktemp("open")
    (tmp / "warc").mkdir()
    for name in ("a", "b"):
        write_warc(tmp / "warc" / f"{name}.warc.gz")
    _run(_cfg(tmp), ["extract", "langid", "min_chars", "filter", "dedup"])
    return tmp


def test_a_plugin_stage_runs_where_the_config_puts_it(ran: Path) -> None:
    out = ran / "out"
    cfg = _cfg(ran)
    assert cfg.run.stages == ["extract", "langid", "min_chars", "filter", "dedup"]
    assert upstream_stage(cfg, "min_chars") == "langid" and upstream_stage(cfg, "filter") == "min_chars"
    kept = pq.read_table(out / "min_chars" / "a.parquet")
    removed = pq.read_table(out / "_removed" / "min_chars" / "a.parquet")
    assert kept.num_rows and removed.num_rows
    assert min(len(t) for t in kept.column("text").to_pylist()) >= 150
    assert set(removed.column("reason").to_pylist()) == {"too_short"}
    langid_kept = pq.read_table(out / "langid" / "a.parquet").num_rows
    assert kept.num_rows + removed.num_rows == langid_kept
    import json

    rec = json.loads((out / "_state" / "filter" / "a.json").read_text())
    assert rec["inputs"] == [str(out / "min_chars" / "a.parquet")]


def test_load_dataset_on_a_stage_folder_gives_only_its_kept_documents(ran: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out = ran / "out"
    for stage in ("langid", "min_chars", "filter", "dedup"):
        ds = datasets.load_dataset("parquet", data_dir=str(out / stage), split="train")
        kept = sum(pq.read_metadata(p).num_rows for p in (out / stage).glob("*.parquet"))
        assert ds.num_rows == kept, stage
    assert (out / "_removed" / "langid").is_dir() and not (out / "langid" / "rejected").exists()
    assert not (out / "dedup" / "bands").exists() and (out / "_work" / "dedup" / "bands").is_dir()


# The tests below share the module's work dir and run in this order: the last ones change it.


def test_editing_families_leaves_the_document_stages_alone(ran: Path) -> None:
    from pipeline.lang.families import DEFAULT_FAMILIES
    from pipeline.stages.balance import BalanceStage

    out = ran / "out"
    families = {name: list(codes) for name, codes in DEFAULT_FAMILIES.items()}
    families["romance"].append(families["germanic"].pop(families["germanic"].index("deu_Latn")))
    cfg, edited = _cfg(ran), _cfg(ran, families=families)
    before = _mtimes(out / "_state")
    results = _run(edited, STAGES)
    assert all(r.skipped == r.shards == 2 for r in results.values())
    assert _mtimes(out / "_state") == before  # not even a record rewritten
    assert cfg.section_hash(*BalanceStage(cfg).config_parts()) != edited.section_hash(*BalanceStage(edited).config_parts())


def test_an_output_rewritten_with_equal_bytes_redoes_nothing_downstream(ran: Path) -> None:
    target = ran / "out" / "extract" / "a.parquet"
    data = target.read_bytes()
    target.unlink()
    target.write_bytes(data)  # a restored backup: same bytes, another mtime
    os.utime(target, ns=(10**9, 10**9))
    results = _run(_cfg(ran), STAGES)
    assert all(r.skipped == r.shards == 2 for r in results.values()), {n: r.skipped for n, r in results.items()}


def test_later_stages_plan_skip_and_run_after_the_warcs_are_gone(ran: Path) -> None:
    shutil.rmtree(ran / "warc")
    later = STAGES[1:]
    cfg = _cfg(ran, run={"work_dir": str(ran / "out"), "stages": later})
    before = _mtimes(ran / "out" / "_state")
    results = _run(cfg, later)
    assert all(r.skipped == r.shards == 2 for r in results.values()), {n: r.skipped for n, r in results.items()}
    assert _mtimes(ran / "out" / "_state") == before
    kept_before = pq.read_table(ran / "out" / "min_chars" / "a.parquet").num_rows
    changed = _cfg(ran, run={"work_dir": str(ran / "out"), "stages": later},
                   plugins={"min_chars": {**PLUGIN["min_chars"], "settings": {"min_chars": 10}}})  # fmt: skip
    results = _run(changed, later)
    assert results["langid"].skipped == 2 and results["min_chars"].skipped == 0 and results["filter"].skipped == 0
    assert pq.read_table(ran / "out" / "min_chars" / "a.parquet").num_rows > kept_before


def test_changing_dedup_keep_reruns_only_the_apply_step(ran: Path) -> None:
    later = STAGES[1:]
    base = _cfg(ran, run={"work_dir": str(ran / "out"), "stages": later})
    _run(base, later)
    state = ran / "out" / "_state" / "dedup"
    sigs, clusters = _mtimes(state / "signatures"), (state / "_global" / "clusters.json").stat().st_mtime_ns
    applied = {p.name: p.stat().st_mtime_ns for p in state.glob("*.json")}
    longest = _cfg(ran, run={"work_dir": str(ran / "out"), "stages": later}, dedup={"keep": "longest"})
    res = _run(longest, ["dedup"])["dedup"]
    assert res.skipped == 0 and res.shards == 2
    assert _mtimes(state / "signatures") == sigs and (state / "_global" / "clusters.json").stat().st_mtime_ns == clusters
    assert applied and all(p.stat().st_mtime_ns != applied[p.name] for p in state.glob("*.json") if p.name in applied)


def test_plugin_config_errors_name_the_key(tmp_path: Path) -> None:
    base = {"run": {"work_dir": str(tmp_path / "out")}, "extract": {"inputs": ["x.warc.gz"]}}

    def err(plugins: dict[str, Any], **run: Any) -> str:
        with pytest.raises(ConfigError) as e:
            parse_config({**base, "run": {**base["run"], **run}, "plugins": plugins})
        return str(e.value)

    assert "cannot import 'no_such_pkg'" in err({"x": {"class": "no_such_pkg:X", "after": "filter"}})
    assert "is not a subclass of pipeline.stages.base.Stage" in err({"x": {"class": "pathlib:Path", "after": "filter"}})
    assert "is named 'min_chars'" in err({"other": {"class": "tests.test_open_pipeline:MinCharsStage"}})
    assert "plugins.min_chars.settings.min_chars" in err(
        {"min_chars": {**PLUGIN["min_chars"], "settings": {"min_chars": "many"}}})  # fmt: skip
    assert "unknown `after` stage" in err({"min_chars": {**PLUGIN["min_chars"], "after": "nowhere"}})
    assert "run.stages: unknown stage(s) shout" in err({}, stages=["extract", "shout"])
    ok = parse_config({**base, "plugins": PLUGIN})
    assert ok.run.stages == ["extract", "langid", "min_chars", "filter", "dedup", "tokenizer", "balance", "shards"]


def test_an_entry_point_stage_is_known_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline import config, registry

    monkeypatch.setattr(config, "entry_point_targets", lambda: {"min_chars": "tests.test_open_pipeline:MinCharsStage"})
    cfg = parse_config({"run": {"work_dir": str(tmp_path / "out"), "stages": ["extract", "langid", "min_chars"]},
                        "extract": {"inputs": ["x.warc.gz"]}})  # fmt: skip
    assert cfg.run.stages == ["extract", "langid", "min_chars"]
    assert cfg.stage_spec("min_chars").after == "langid" and registry.ENTRY_POINT_GROUP == "polyglot.stages"
