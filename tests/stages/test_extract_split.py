"""A large WARC split across workers: its parts merged give the bytes and counts of a whole-file extract, through
the stage alone and through the runtime on Ray (records, reruns, a failing part)."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.ingest.warc_writer import WarcWriter, gzip_member
from pipeline.runtime import error_path, part_expected, part_record_path, record_path, run_part, run_shard, run_stage
from pipeline.stages.base import ShardTask
from pipeline.stages.extract import ExtractStage

from .test_extract_langid import PARAS, config, page

UTF8 = [("Content-Type", "text/html; charset=utf-8")]


def write_crawl(path: Path, pages: int = 120, seed: int = 5) -> None:
    """Pages of a few sites, each with its template lines (so the merge's site templates matter), skipped records,
    a record cut short in mid-file, and a second warcinfo record that changes the crawl id half-way."""
    rng = random.Random(seed)
    langs = list(PARAS)
    with open(path, "wb") as fh:
        w = WarcWriter(fh)
        w.warcinfo({"isPartOf": "CC-MAIN-2099-01"}, filename=path.name)
        for i in range(pages):
            if i == pages // 2:
                w.warcinfo({"isPartOf": "CC-MAIN-2099-02"}, filename=path.name)
            site = f"site{rng.randrange(6)}.ex"
            lang = rng.choice(langs)
            slogan = f"<p>{site} · news since 19{rng.randrange(6) + 90}</p>"  # one of a few per site: repeats
            text = " ".join(rng.sample(PARAS[lang].split(" "), k=len(PARAS[lang].split(" ")) // 2)) or PARAS[lang]
            url = f"https://{site}/{i}"
            w.request(url)
            kind = rng.random()
            if kind < 0.05:
                w.response(url, b"{}", http_headers=[("Content-Type", "application/json")])
            elif kind < 0.08:
                w.response(url, page(text).encode(), status=404, http_headers=UTF8)
            elif kind < 0.1:
                member = gzip_member(b"WARC/1.1\r\nWARC-Type: response\r\nContent-Length: 5000\r\n\r\n" + b"x" * 400)
                w.raw(member[: len(member) // 2], compress=False)  # cut short: counted, never fatal
            else:
                w.response(url, page(slogan + f"<p>{PARAS[lang]}</p><p>{text} {i}</p>", f"{site} {i}").encode(),
                           http_headers=UTF8)  # fmt: skip
            w.metadata(url, {"fetchTimeMs": str(rng.randrange(999))}, refers_to=None)


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def in_parts(stage: ExtractStage, task: ShardTask, n: int, out: Path) -> tuple[dict[str, Any], list[ShardTask]]:
    """The shard split in `n` parts, each processed, then merged into `out` (no Ray); the stats and the parts."""
    parts = stage.split(task, n)
    results = [stage.process_part(p, lambda k: None) for p in parts]
    merged = ShardTask(task.shard_id, task.inputs, {"main": str(out)})
    return stage.merge(merged, parts, results, lambda k: None).to_dict(), parts


@pytest.fixture
def crawl(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    write_crawl(tmp_path / "in" / "CC-BIG-00000.warc.gz")
    return tmp_path


@pytest.mark.parametrize("batch_docs", [1000, 7])
def test_parts_merged_are_the_bytes_of_a_whole_file_extract(crawl: Path, monkeypatch, batch_docs: int) -> None:
    """Batches of 7 documents: parts end in the middle of a batch, and the merge must still feed the writer the
    batches of a whole-file read (the row groups, hence the bytes, depend on them)."""
    import pipeline.stages.extract as extract

    monkeypatch.setattr(extract, "BATCH_DOCS", batch_docs)
    stage = ExtractStage(config(crawl, extract={"split_mb": 0.001}))
    stage.setup()
    (task,) = stage.plan()
    whole = stage.process(task, lambda k: None).to_dict()
    assert whole["docs_out"] > 80 and whole["counters"]["site_repeat_lines"] > 50
    assert set(whole["removed"]) >= {"not_html", "http_status", "truncated"}
    for n in (2, 3, 8):
        stats, parts = in_parts(stage, task, n, crawl / f"split{n}.parquet")
        assert len(parts) == n
        assert sha(crawl / f"split{n}.parquet") == sha(task.outputs["main"]), n
        assert stats == whole, n
    import pyarrow.parquet as pq

    ids = pq.read_table(task.outputs["main"], columns=["doc_id", "crawl_id"]).to_pylist()
    assert {r["crawl_id"] for r in ids} == {"CC-MAIN-2099-01", "CC-MAIN-2099-02"}  # the second warcinfo, mid-file


def test_real_cc_excerpt_split_and_merged(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    shutil.copy(shared_data / "cc" / "cc-main-2020-34-excerpt.warc.gz", tmp_path / "in" / "cc-excerpt.warc.gz")
    stage = ExtractStage(config(tmp_path, extract={"split_mb": 0.01}))
    stage.setup()
    (task,) = stage.plan()
    whole = stage.process(task, lambda k: None).to_dict()
    stats, parts = in_parts(stage, task, 3, tmp_path / "split.parquet")
    assert len(parts) == 3 and whole["docs_out"] == 16
    assert sha(tmp_path / "split.parquet") == sha(task.outputs["main"]) and stats == whole


def test_split_only_large_gzip_files(crawl: Path) -> None:
    stage = ExtractStage(config(crawl, extract={"split_mb": 0.001}))
    (task,) = stage.plan()
    size = Path(task.inputs[0]).stat().st_size
    assert len(stage.split(task, 4)) == 4 and stage.split(task, 1) == []
    assert len(ExtractStage(config(crawl, extract={"split_mb": size / 2**20 / 2.5})).split(task, 8)) == 3
    assert ExtractStage(config(crawl, extract={"split_mb": 0})).split(task, 4) == []  # off
    assert ExtractStage(config(crawl)).split(task, 4) == []  # the default: a few MB are one part
    plain = ShardTask("p", (str(crawl / "in" / "x.warc"),), {"main": str(crawl / "p.parquet")})
    (crawl / "in" / "x.warc").write_bytes(b"WARC/1.1\r\n" * 10_000)
    assert stage.split(plain, 4) == []  # uncompressed: no member boundaries to cut at


def test_parts_and_merge_through_the_runtime_keep_records_and_leave_nothing(crawl: Path) -> None:
    """run_part writes each part's record beside it; the merge's record says how the shard ran and the parts are
    gone once the shard is complete."""
    cfg = config(crawl, extract={"split_mb": 0.001})
    stage = ExtractStage(cfg)
    stage.setup()
    (task,) = stage.plan()
    expected = {"stage": "extract", "version": stage.version, "outputs": dict(task.outputs)}
    parts = stage.split(task, 3)
    done = []
    for p in parts:
        res = run_part(stage, p, part_expected(expected, p), part_record_path(stage, p, task.shard_id))
        assert res["ok"], res
        done.append((p, json.loads(Path(part_record_path(stage, p, task.shard_id)).read_text())))
    assert all(rec["output_sizes"]["spill"] > 0 and rec["result"]["range"] for _, rec in done)
    res = run_shard(stage, task, expected, parts=done)
    assert res["ok"], res
    rec = json.loads(Path(record_path(cfg, "extract", task.shard_id)).read_text())
    assert [r["result"] for r in rec["run"]["parts"]] == [r["result"] for _, r in done]
    assert not Path(stage.parts_dir(task.shard_id)).exists()


class FailingPartExtract(ExtractStage):
    """Extract whose second part of shard CC-BIG-00000 fails while a marker file exists beside the work dir."""

    def process_part(self, part: ShardTask, progress: Any) -> dict[str, Any]:
        marker = Path(self.cfg.run.work_dir).parent / "fail-part-2"
        if part.params["shard_id"] == "CC-BIG-00000" and part.params["index"] == 1 and marker.exists():
            raise RuntimeError("planted failure")
        return super().process_part(part, progress)


@pytest.mark.slow
def test_on_ray_split_shard_equals_unsplit_fails_alone_and_resumes(ray_session, tmp_path: Path) -> None:
    """On Ray (2 CPUs): a shard split in 2 parts gives the bytes and counts of the same shard unsplit. A failing
    part fails its shard with a clear error while the other shard completes; the rerun redoes only the missing part
    (the other part's record is reused) and the merge."""
    (tmp_path / "in").mkdir()
    write_crawl(tmp_path / "in" / "CC-BIG-00000.warc.gz")
    write_crawl(tmp_path / "in" / "CC-BIG-00001.warc.gz", pages=60, seed=9)
    ray = {"num_cpus": 2, "object_store_mb": 256, "in_driver_below_mb": 0}
    whole_cfg = config(tmp_path / "whole", extract={"inputs": [str(tmp_path / "in" / "*.warc.gz")], "split_mb": 0},
                       ray=ray)  # fmt: skip
    whole = run_stage(ExtractStage, whole_cfg)
    assert whole.ok and whole.shards == 2

    cfg = config(tmp_path, extract={"split_mb": 0.001}, ray=ray)
    (tmp_path / "fail-part-2").write_text("")
    first = run_stage(FailingPartExtract, cfg)
    assert [f["shard_id"] for f in first.failed] == ["CC-BIG-00000"] and not first.ok
    error = json.loads(Path(error_path(cfg, "extract", "CC-BIG-00000")).read_text())["error"]
    assert error.startswith("part 2 of 2 failed: RuntimeError: planted failure"), error
    assert Path(record_path(cfg, "extract", "CC-BIG-00001")).exists()  # the other shard went on
    stage = FailingPartExtract(cfg)
    (task,) = [t for t in stage.plan() if t.shard_id == "CC-BIG-00000"]
    kept = [part_record_path(stage, p, task.shard_id) for p in stage.split(task, 2)]
    assert Path(kept[0]).exists() and not Path(kept[1]).exists()
    done_before = json.loads(Path(kept[0]).read_text())

    (tmp_path / "fail-part-2").unlink()
    second = run_stage(FailingPartExtract, cfg)
    assert second.ok and second.skipped == 1 and second.shards == 2
    rec = json.loads(Path(record_path(cfg, "extract", "CC-BIG-00000")).read_text())
    assert len(rec["run"]["parts"]) == 2 and not Path(stage.parts_dir("CC-BIG-00000")).exists()
    assert rec["run"]["parts"][0] == dict(done_before["run"], result=done_before["result"])  # reused, not redone
    for sid in ("CC-BIG-00000", "CC-BIG-00001"):
        split_rec = json.loads(Path(record_path(cfg, "extract", sid)).read_text())
        whole_rec = json.loads(Path(record_path(whole_cfg, "extract", sid)).read_text())
        assert split_rec["stats"] == whole_rec["stats"], sid
        assert sha(split_rec["outputs"]["main"]) == sha(whole_rec["outputs"]["main"]), sid
        assert split_rec["output_hashes"] == whole_rec["output_hashes"], sid
    assert run_stage(FailingPartExtract, cfg).skipped == 2  # complete: nothing redone


def test_shards_split_only_while_workers_would_idle(tmp_path: Path) -> None:
    """One large shard on 2 workers: 2 parts; 5 shards on 2 workers: none split (each part costs a spill and a
    merge, and the workers are busy anyway)."""
    from pipeline.runtime import _plan_parts

    (tmp_path / "in").mkdir()
    for i in range(5):
        write_crawl(tmp_path / "in" / f"CC-BIG-0000{i}.warc.gz", pages=30, seed=i)
    stage = ExtractStage(config(tmp_path, extract={"split_mb": 0.001}))
    pending = [(t, {"stage": "extract", "outputs": dict(t.outputs)}) for t in stage.plan()]
    jobs, splits = _plan_parts(stage, pending[:1], workers=2)
    assert [j.kind for j in jobs] == ["part", "part"] and len(splits) == 1
    jobs, splits = _plan_parts(stage, pending, workers=2)
    assert [j.kind for j in jobs] == ["shard"] * 5 and not splits
    jobs, _ = _plan_parts(stage, pending[:2], workers=8)
    assert [j.kind for j in jobs] == ["part"] * 16  # 8 workers, 2 shards: up to 8 parts each


def test_stats_count_the_worker_seconds_of_every_part(tmp_path: Path) -> None:
    from pipeline.report import _sum_records

    stats = {"docs_in": 1, "docs_out": 1, "by_lang": {}, "removed": {}, "counters": {}}
    whole = {"stats": stats, "run": {"seconds": 4.0, "peak_rss_mb": 300, "node": "a"}}
    split = {"stats": stats, "run": {"seconds": 1.0, "peak_rss_mb": 200, "node": "a", "parts": [
        {"seconds": 2.0, "peak_rss_mb": 250, "node": "a"}, {"seconds": 2.5, "peak_rss_mb": 350, "node": "b"}]}}
    paths = []
    for name, rec in (("whole", whole), ("split", split)):
        (tmp_path / f"{name}.json").write_text(json.dumps(rec))
        paths.append(str(tmp_path / f"{name}.json"))
    run = _sum_records(paths)["run"]
    assert run == {"shards_timed": 2, "worker_seconds": 9.5, "peak_rss_mb": 350, "nodes": 2}
