"""`polyglot stats`: completion records summed per stage and language; tables and JSON from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import parse_config
from pipeline.report import collect
from pipeline.runtime import run_shard
from pipeline.stages.base import ShardStats
from tests.toystage import ToyStage


def _run_toy(tmp: Path) -> str:
    (tmp / "in").mkdir()
    for s in range(2):
        rows = [{"text": "a text that is long enough to keep"}] * 6 + [{"text": "x"}] * 4
        (tmp / "in" / f"s{s}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    cfg = parse_config({"run": {"work_dir": str(tmp / "out")}, "extract": {"inputs": [str(tmp / "in" / "*.jsonl")]}})
    stage = ToyStage(cfg)
    stage.setup()
    for task in stage.plan():
        assert run_shard(stage, task, {"stage": "toy"})["ok"]
    return cfg.run.work_dir


def test_collect_sums_records(tmp_path: Path) -> None:
    rep = collect(_run_toy(tmp_path))
    toy = rep["stages"]["toy"]
    assert toy["shards"] == 2 and toy["docs_in"] == 20 and toy["docs_out"] == 12
    assert toy["removed"] == {"too_short": {"und": 8}}
    assert toy["by_lang"]["und"]["chars_out"] == 12 * len("a text that is long enough to keep")


def test_cli_stats_json_and_tables(tmp_path: Path) -> None:
    work = _run_toy(tmp_path)
    res = CliRunner().invoke(app, ["stats", work, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["stages"]["toy"]["docs_out"] == 12
    res = CliRunner().invoke(app, ["stats", work])
    assert res.exit_code == 0 and "too_short" in res.stdout and "toy" in res.stdout


def test_stats_on_empty_dir_says_so(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["stats", str(tmp_path)])
    assert res.exit_code == 0 and "no completed shards" in res.stdout


def test_shard_stats_counts_bytes_of_payload() -> None:
    st = ShardStats()
    st.seen("kor_Hang", "한국어", nbytes=100)
    st.kept("kor_Hang", "한국어")
    d = st.to_dict()["by_lang"]["kor_Hang"]
    assert (d["bytes_in"], d["bytes_out"], d["chars_out"]) == (100, 9, 3)


def test_grouped_counters_are_split_per_language() -> None:
    from pipeline.report import split_counters

    flat, grouped = split_counters({"files": 3, "pii/email/kor_Hang": 2, "pii/phone/kor_Hang": 1, "pii/email/eng_Latn": 4})
    assert flat == {"files": 3}
    assert grouped == {"pii": {"kor_Hang": {"email": 2, "phone": 1}, "eng_Latn": {"email": 4}}}
