"""`polyglot filter` as a stage: quality decisions with reasons, removed output, PII masked, counts per language."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import parse_config
from pipeline.runtime import record_path, run_shard, run_stage
from pipeline.stages.filter import FilterStage
from tests.conftest import PROJECT_ROOT

DEMO_TEXT = PROJECT_ROOT / "scripts" / "demo_text"
LANGS = {"ko": "kor_Hang", "ja": "jpn_Jpan", "zh-Hans": "zho_Hans", "ru": "rus_Cyrl", "en": "eng_Latn", "th": "tha_Thai", "ar": "ara_Arab"}


def article(name: str, n: int = 3) -> str:
    """The first `n` paragraphs of a demo text file (the project's own prose), blank-line separated."""
    paras = []
    for line in (DEMO_TEXT / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith(("#", "[", "= ")):
            paras.append(line.strip())
    return "\n\n".join(paras[:n])


def junk(lang: str) -> str:
    menu = {"ko": "홈", "ja": "ホーム", "zh-Hans": "首页", "ru": "Главная", "en": "Home", "th": "หน้าแรก", "ar": "الرئيسية"}[lang]
    return "\n".join(f"{menu} {i}" for i in range(30))


def docs() -> list[dict]:
    rows = []
    for i, (name, code) in enumerate(LANGS.items()):
        rows.append({"doc_id": f"T/{i}", "text": article(name), "lang": code, "url": f"https://ex/{name}/good"})
        rows.append({"doc_id": f"T/{100 + i}", "text": junk(name), "lang": code, "url": f"https://ex/{name}/menu"})
    contact = article("ko") + "\n\n문의: hong.gildong@example.co.kr, 전화 010-1234-5678"
    rows.append({"doc_id": "T/200", "text": contact, "lang": "kor_Hang", "url": "https://ex/ko/contact"})
    return rows


def setup_inputs(tmp: Path, rows: list[dict]) -> object:
    (tmp / "in").mkdir()
    (tmp / "in" / "T.warc.gz").write_bytes(b"")
    (tmp / "out" / "langid").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), tmp / "out" / "langid" / "T.parquet")
    return parse_config(
        {"run": {"work_dir": str(tmp / "out"), "stages": ["extract", "langid", "filter"]},
         "extract": {"inputs": [str(tmp / "in" / "*.warc.gz")]}}
    )


def test_good_prose_kept_menus_removed_pii_masked(tmp_path: Path) -> None:
    rows = docs()
    cfg = setup_inputs(tmp_path, rows)
    stage = FilterStage(cfg)
    stage.setup()
    (task,) = stage.plan()
    res = run_shard(stage, task, {"stage": "filter"})
    assert res["ok"], res
    kept = pq.read_table(tmp_path / "out" / "filter" / "T.parquet").to_pylist()
    removed = pq.read_table(tmp_path / "out" / "_removed" / "filter" / "T.parquet").to_pylist()
    assert len(kept) + len(removed) == len(rows)
    assert {r["url"] for r in kept} == {f"https://ex/{n}/good" for n in LANGS} | {"https://ex/ko/contact"}
    assert all(r["filter_reason"] for r in removed) and {r["url"].rsplit("/", 1)[1] for r in removed} == {"menu"}
    contact = next(r for r in kept if r["url"].endswith("contact"))
    assert "<EMAIL>" in contact["text"] and "<PHONE>" in contact["text"] and "010-1234" not in contact["text"]
    assert contact["pii_masked"] == 2
    stats = res["stats"]
    assert stats["counters"]["pii/email/kor_Hang"] == 1 and stats["counters"]["pii/phone/kor_Hang"] == 1
    assert sum(sum(v.values()) for v in stats["removed"].values()) == len(LANGS)
    assert all(len(v) >= 1 for v in stats["removed"].values())


def test_per_language_override_changes_the_decision(tmp_path: Path) -> None:
    cfg = setup_inputs(tmp_path, docs())
    override = {"quality": {"by_lang": {"ko": {"gopher_quality": {"min_words": 5000, "max_words": 100000}}}}}
    strict = cfg.model_copy(
        update={"filter": parse_config({"run": {"work_dir": "x"}, "extract": {"inputs": ["x"]}, "filter": override}).filter}
    )
    stage = FilterStage(strict)
    stage.setup()
    (task,) = stage.plan()
    res = run_shard(stage, task, {"stage": "filter"})
    assert res["stats"]["by_lang"]["kor_Hang"]["docs_out"] == 0
    assert res["stats"]["removed"]["gopher_quality:too_few_words"]["kor_Hang"] >= 2  # prose and contact page
    assert res["stats"]["by_lang"]["jpn_Jpan"]["docs_out"] == 1


@pytest.mark.slow
def test_on_ray_with_record(ray_session, tmp_path: Path) -> None:
    cfg = setup_inputs(tmp_path, docs())
    result = run_stage(FilterStage, cfg)
    assert result.ok and result.docs_in == 15 and result.docs_out == 8
    rec = json.loads(Path(record_path(cfg, "filter", "T")).read_text())
    assert rec["stats"]["docs_out"] == 8
    assert run_stage(FilterStage, cfg).skipped == 1


def test_url_filter_first_and_measurements_beside_the_documents(tmp_path: Path) -> None:
    rows = docs()
    rows.append({"doc_id": "T/300", "text": article("en"), "lang": "eng_Latn", "url": "https://blocked.example/a"})
    rows.append({"doc_id": "T/301", "text": article("ko"), "lang": "kor_Hang", "url": "https://x.example/liuhecai/1"})
    cfg = setup_inputs(tmp_path, rows)
    blocklist = tmp_path / "domains.txt"
    blocklist.write_text("# test list\nblocked.example\n", encoding="utf-8")
    data = cfg.model_dump(mode="json")
    data["filter"]["url"]["blocklists"] = {"testlist": str(blocklist)}
    cfg = parse_config(data)
    stage = FilterStage(cfg)
    stage.setup()
    (task,) = stage.plan()
    assert task.outputs["attributes"].endswith("attributes/filter/T.parquet")
    res = run_shard(stage, task, {"stage": "filter"})
    assert res["ok"], res
    removed = {r["doc_id"]: r["filter_reason"] for r in pq.read_table(task.outputs["removed"]).to_pylist()}
    assert removed["T/300"] == "url:blocklist:testlist" and removed["T/301"] == "url:banned_word:gambling"
    assert res["stats"]["removed"]["url:blocklist:testlist"] == {"eng_Latn": 1}
    attrs = pq.read_table(task.outputs["attributes"])
    assert attrs.num_rows == len(rows) and attrs.column("doc_id").to_pylist() == [r["doc_id"] for r in rows]
    by_id = {r["doc_id"]: r for r in attrs.to_pylist()}
    good = by_id["T/0"]  # Korean prose: every rule measured, kept
    assert good["filter_reason"] is None and good["page.prose"] > 0 and good["gopher_quality.words"] > 0
    menu = by_id["T/100"]
    assert menu["filter_reason"] == removed["T/100"] and menu["page.prose"] == 0
    assert by_id["T/300"]["page.prose"] is None  # removed by its URL before any text rule ran
    # Re-thresholding from the side file gives the stage's decision without recomputing.
    kept_ids = set(pq.read_table(task.outputs["main"]).column("doc_id").to_pylist())
    assert kept_ids == {i for i, r in by_id.items() if r["filter_reason"] is None}
    # The list is part of the shard's identity: editing it redoes the shard.
    before = stage.input_fingerprint(task)
    blocklist.write_text("# test list\nblocked.example\nother.example\n", encoding="utf-8")
    assert stage.input_fingerprint(task) != before
    meta = json.loads(attrs.schema.metadata[b"polyglot.thresholds"])
    assert meta["kor_Hang"]["page.prose"] == {"rule": "page:too_little_prose", "op": "min", "threshold": 20.4}
    assert meta["eng_Latn"]["fineweb.dup_line_char_frac"]["threshold"] == 0.01
