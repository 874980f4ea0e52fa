"""The README's claim "every path may be local or any fsspec URL (s3://…)", end to end against a real S3 API.

moto's S3 server runs in this process on 127.0.0.1 (a free port); the pipeline runs as `python -m pipeline.cli`
subprocesses with the credentials and ``FSSPEC_S3_ENDPOINT_URL`` in their environment, so the embedded Ray's
workers inherit them (the session Ray of tests/conftest.py started before any endpoint existed cannot be used).

The demo runs with *every* path remote — ``run.work_dir``, ``extract.inputs``, ``langid.model_path`` and
``tokenizer.parity_text`` — and must give byte-identical data files to a local run (only the completion records,
which name paths and fingerprints, and the tokenizer report, which names the work dir, may differ). The fast tests
pin the two things that broke or could break on an object store: stale fsspec listings across processes and
fastText's local-only model loading.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed (test extra: S3 API server)")
s3fs = pytest.importorskip("s3fs", reason="s3fs is not installed (the `s3` extra)")

KEY = SECRET = "testing"
REGION = "us-east-1"
DEMO_WARCS = sorted((PROJECT_ROOT / "demo" / "crawl-data").rglob("*.warc.gz"))
#: Files that legitimately differ between a local and a remote run: they record paths, URLs or timings.
PATH_DEPENDENT = ("_state/", "tokenizer/report.json", "tokenizer/report.md")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """moto's S3 API on 127.0.0.1, a free port, for this module."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def s3_env(endpoint: str) -> dict[str, str]:
    """The environment of a pipeline subprocess: test credentials, the endpoint for s3fs, nothing else of AWS, no
    proxy (all traffic stays on 127.0.0.1)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and "proxy" not in k.lower()}
    env.update(
        AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true", FSSPEC_S3_ENDPOINT_URL=endpoint, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1",
        RAY_USAGE_STATS_ENABLED="0",
    )  # fmt: skip
    return env


def _fs(endpoint: str) -> Any:
    """A private s3fs instance (not the process-wide one the pipeline code uses) for setting up and checking."""
    return s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=endpoint, skip_instance_cache=True)


@pytest.fixture
def pipeline_fs(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the pipeline's own (fsspec-configured) s3 filesystem at moto, in this process."""
    import fsspec.config

    monkeypatch.setitem(
        fsspec.config.conf, "s3", {"endpoint_url": endpoint, "key": KEY, "secret": SECRET}
    )


def _bucket(fs: Any) -> str:
    name = f"polyglot-{uuid.uuid4().hex[:10]}"
    fs.mkdir(name)
    return name


# ------------------------------------------------------------------------------------------------ fast checks


def test_a_file_written_by_another_process_after_a_listing_is_seen(endpoint: str, pipeline_fs: None) -> None:
    """s3fs answers exists/info/open's size from a cached listing of the parent; the pipeline's files are written
    by other processes (Ray workers), so storage must not trust this process's listings."""
    from pipeline.storage import exists, fingerprint, list_files, read_json, write_json

    other = _fs(endpoint)  # stands in for a Ray worker: its own instance, its own cache
    bucket = _bucket(other)
    base = f"s3://{bucket}/_state/stage"
    write_json(f"{base}/a.json", {"n": 1})
    assert list_files(base, ".json") == [f"{base}/a.json"]  # this process now holds a listing of `base`
    before = fingerprint(f"{base}/a.json")
    other.pipe(f"{bucket}/_state/stage/b.json", b'{"n": 2}\n')
    other.pipe(f"{bucket}/_state/stage/a.json", json.dumps({"n": 1, "longer": "x" * 100}).encode())
    assert exists(f"{base}/b.json")
    assert read_json(f"{base}/a.json") == {"n": 1, "longer": "x" * 100}  # not cut to the old size
    assert fingerprint(f"{base}/a.json") != before
    assert list_files(base, ".json") == [f"{base}/a.json", f"{base}/b.json"]
    other.rm(f"{bucket}/_state/stage/b.json")
    assert not exists(f"{base}/b.json")


def test_equal_bytes_are_not_rewritten_on_s3(endpoint: str, pipeline_fs: None) -> None:
    """A rewrite with equal bytes keeps the object (its ETag and LastModified, which later stages fingerprint):
    compared through the MD5 ETag, without downloading it. Other bytes replace it."""
    from pipeline.storage import atomic_write_bytes

    fs = _fs(endpoint)
    url = f"s3://{_bucket(fs)}/a.bin"
    atomic_write_bytes(url, b"x" * 1000)
    before = fs.info(url[5:])["LastModified"]
    time.sleep(1.1)  # LastModified has a resolution of one second
    atomic_write_bytes(url, b"x" * 1000)
    fs.invalidate_cache()
    assert fs.info(url[5:])["LastModified"] == before
    atomic_write_bytes(url, b"y" * 1000)
    assert fs.cat(url[5:]) == b"y" * 1000


def test_expand_inputs_sees_files_added_below_a_listed_prefix(endpoint: str, pipeline_fs: None) -> None:
    from pipeline.storage import expand_inputs

    other = _fs(endpoint)
    bucket = _bucket(other)
    other.pipe(f"{bucket}/crawl/seg-1/warc/a.warc.gz", b"a")
    pattern = f"s3://{bucket}/crawl/*/warc/*.warc.gz"
    assert expand_inputs([pattern]) == [f"s3://{bucket}/crawl/seg-1/warc/a.warc.gz"]
    other.pipe(f"{bucket}/crawl/seg-1/warc/b.warc.gz", b"b")
    other.pipe(f"{bucket}/crawl/seg-2/warc/c.warc.gz", b"c")
    assert expand_inputs([pattern]) == [f"s3://{bucket}/crawl/seg-{s}/warc/{n}.warc.gz" for s, n in ((1, "a"), (1, "b"), (2, "c"))]


def test_a_large_warc_on_s3_split_in_parts_gives_the_local_whole_file_bytes(endpoint: str, pipeline_fs: None,
                                                                             tmp_path: Path) -> None:  # fmt: skip
    """Parts find their record starts by ranged reads of the s3 object, spill to an s3 work dir, keep their records
    there; the merge writes the bytes of a local whole-file extract and removes the parts from the bucket."""
    from pipeline.runtime import part_expected, part_record_path, run_part, run_shard
    from pipeline.stages.extract import ExtractStage
    from tests.stages.test_extract_langid import config
    from tests.stages.test_extract_split import sha, write_crawl

    (tmp_path / "in").mkdir()
    local = tmp_path / "in" / "CC-BIG-00000.warc.gz"
    write_crawl(local)
    whole = ExtractStage(config(tmp_path))
    whole.setup()
    (task,) = whole.plan()
    whole_stats = whole.process(task, lambda n: None).to_dict()

    fs = _fs(endpoint)
    bucket = _bucket(fs)
    fs.put_file(str(local), f"{bucket}/in/{local.name}")
    cfg = config(tmp_path, run={"work_dir": f"s3://{bucket}/out"},
                 extract={"inputs": [f"s3://{bucket}/in/*.warc.gz"], "split_mb": 0.001})  # fmt: skip
    stage = ExtractStage(cfg)
    stage.setup()
    (remote,) = stage.plan()
    expected = {"stage": "extract", "outputs": dict(remote.outputs)}
    parts = []
    for p in stage.split(remote, 3):
        record = part_record_path(stage, p, remote.shard_id)
        assert run_part(stage, p, part_expected(expected, p), record)["ok"]
        parts.append((p, json.loads(fs.cat(record[5:]))))
    assert len(parts) == 3 and all(rec["result"]["docs"] for _, rec in parts)
    res = run_shard(stage, remote, expected, parts=parts)
    assert res["ok"], res
    assert res["stats"] == whole_stats
    fs.invalidate_cache()
    assert hashlib.sha256(fs.cat(remote.outputs["main"][5:])).hexdigest() == sha(task.outputs["main"])
    assert not fs.exists(stage.parts_dir(remote.shard_id)[5:])


def test_local_copy_of_a_remote_model_loads_in_fasttext_and_is_removed(endpoint: str, pipeline_fs: None,
                                                                         tmp_path: Path) -> None:
    from pipeline.lang.identify import LanguageIdentifier, default_model_path
    from pipeline.storage import local_copy

    other = _fs(endpoint)
    bucket = _bucket(other)
    model = default_model_path()
    other.put_file(str(model), f"{bucket}/models/lid.176.ftz")
    with local_copy(f"s3://{bucket}/models/lid.176.ftz") as local:
        assert local.is_file() and local.read_bytes() == model.read_bytes()
        lid = LanguageIdentifier(model_path=local)
    assert not local.exists() and not local.parent.exists()
    assert lid.predict("한국어 문장은 이렇게 씁니다. 오늘 날씨가 참 좋네요.").lang == "kor_Hang"
    here = tmp_path / "m.bin"
    here.write_bytes(b"local")
    with local_copy(str(here)) as same:
        assert same == here  # a local path is used in place, never copied
    assert here.exists()
    with pytest.raises(FileNotFoundError), local_copy(f"s3://{bucket}/models/missing.bin"):
        pass


# ----------------------------------------------------------------------------------------- the demo on S3


def _run(args: list[str], env: dict[str, str] | None, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def demo_on_s3(endpoint: str, s3_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo crawl, the LID model and the parallel text uploaded; the demo run on S3 (twice) and locally."""
    fs = _fs(endpoint)
    bucket = _bucket(fs)
    for warc in DEMO_WARCS:
        fs.put_file(str(warc), f"{bucket}/{warc.relative_to(PROJECT_ROOT / 'demo').as_posix()}")
    from pipeline.lang.identify import default_model_path
    from pipeline.tokenizer.parity import PARALLEL_DIR

    fs.put_file(str(default_model_path()), f"{bucket}/models/lid.176.ftz")
    for txt in sorted(PARALLEL_DIR.glob("*.txt")):
        fs.put_file(str(txt), f"{bucket}/parallel/{txt.name}")

    tmp = tmp_path_factory.mktemp("s3demo")
    demo = yaml.safe_load((PROJECT_ROOT / "configs" / "demo.yaml").read_text())
    remote = json.loads(json.dumps(demo))
    remote["run"]["work_dir"] = f"s3://{bucket}/work"
    remote["extract"]["inputs"] = [f"s3://{bucket}/crawl-data/DEMO-2026-47/segments/*/warc/*.warc.gz"]
    remote["langid"]["model_path"] = f"s3://{bucket}/models/lid.176.ftz"
    remote.setdefault("tokenizer", {})["parity_text"] = f"s3://{bucket}/parallel"
    (tmp / "s3.yaml").write_text(yaml.safe_dump(remote))
    demo["run"]["work_dir"] = str(tmp / "local")
    (tmp / "local.yaml").write_text(yaml.safe_dump(demo))
    cwd = tmp / "cwd"  # the remote runs start in an empty directory, which must stay empty
    cwd.mkdir()

    first = _run(["run", "--config", str(tmp / "s3.yaml")], s3_env, cwd)
    second = _run(["run", "--config", str(tmp / "s3.yaml")], s3_env, cwd) if first.returncode == 0 else None
    local = _run(["run", "--config", str(tmp / "local.yaml")], None, PROJECT_ROOT)
    return {"fs": fs, "bucket": bucket, "work": f"{bucket}/work", "local": tmp / "local", "cwd": cwd,
            "first": first, "second": second, "local_run": local}  # fmt: skip


@pytest.mark.slow
def test_demo_on_s3_completes_every_stage_and_writes_everything_to_the_bucket(demo_on_s3: dict[str, Any]) -> None:
    first = demo_on_s3["first"]
    assert first.returncode == 0, first.stderr[-4000:]
    lines = first.stderr.splitlines()
    for stage in ("extract", "langid", "filter", "dedup/signatures", "dedup", "tokenizer/sample", "balance/counts",
                  "balance", "shards/scatter"):  # fmt: skip
        assert f"{stage}: 4 shards (4 run, 0 skipped, 0 failed)" in first.stderr, stage
    shards_line = next(line for line in lines if line.startswith("shards: "))
    assert "0 skipped, 0 failed" in shards_line
    fs, work = demo_on_s3["fs"], demo_on_s3["work"]
    fs.invalidate_cache()
    files = {p.removeprefix(f"{work}/") for p in fs.find(work)}
    manifest = json.loads(fs.cat_file(f"{work}/shards/manifest.json"))
    assert manifest["num_shards"] >= 2 and manifest["tokens"] > 0
    for entry in manifest["shards"]:
        data = fs.cat_file(f"{work}/shards/{entry['name']}")
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
    for name in ("shards/README.md", "tokenizer/tokenizer.model", "tokenizer/tokenizer.json", "tokenizer/report.json",
                 "tokenizer/tokenizer_config.json", "tokenizer/special_tokens_map.json",
                 "tokenizer/unbalanced/tokenizer.model", "balance/plan.json", "balance/plan.txt"):  # fmt: skip
        assert name in files, name
    assert not [f for f in files if ".tmp-" in f or f.startswith("_work/shards/scatter")]  # temporaries cleaned up
    assert list(demo_on_s3["cwd"].iterdir()) == []  # no URL was mistaken for a local path
    report = json.loads(fs.cat_file(f"{work}/tokenizer/report.json"))
    assert report["parity_source"] == f"s3://{demo_on_s3['bucket']}/parallel" and report["id_parity"]["identical"]


@pytest.mark.slow
def test_demo_on_s3_equals_the_local_run(demo_on_s3: dict[str, Any]) -> None:
    assert demo_on_s3["first"].returncode == 0 and demo_on_s3["local_run"].returncode == 0, demo_on_s3["local_run"].stderr[-3000:]
    fs, work, local = demo_on_s3["fs"], demo_on_s3["work"], demo_on_s3["local"]
    fs.invalidate_cache()
    remote_files = {p.removeprefix(f"{work}/") for p in fs.find(work)}
    local_files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert remote_files == local_files
    data_files = sorted(f for f in local_files if not f.startswith(PATH_DEPENDENT))
    assert len(data_files) > 60
    differ = [f for f in data_files if fs.cat_file(f"{work}/{f}") != (local / f).read_bytes()]
    assert differ == []  # every Parquet / Arrow / model / plan / manifest byte-identical
    remote_manifest = json.loads(fs.cat_file(f"{work}/shards/manifest.json"))
    local_manifest = json.loads((local / "shards" / "manifest.json").read_text())
    assert remote_manifest["tokens_by_lang"] == local_manifest["tokens_by_lang"]
    assert [s["sha256"] for s in remote_manifest["shards"]] == [s["sha256"] for s in local_manifest["shards"]]


@pytest.mark.slow
def test_demo_on_s3_rerun_skips_everything_and_stats_read_the_bucket(
    demo_on_s3: dict[str, Any], s3_env: dict[str, str]
) -> None:
    second = demo_on_s3["second"]
    assert second is not None and second.returncode == 0, (second.stderr if second else "")[-3000:]
    for stage in ("extract", "langid", "filter", "dedup/signatures", "dedup", "tokenizer/sample", "balance/counts",
                  "balance"):  # fmt: skip
        assert f"{stage}: 4 shards (0 run, 4 skipped, 0 failed)" in second.stderr, stage
    for step in ("dedup clusters", "tokenizer train", "balance plan", "shards manifest"):
        assert f"{step}: unchanged, skipped" in second.stderr, step
    assert "(0 run, " in next(line for line in second.stderr.splitlines() if line.startswith("shards: "))

    fs, bucket, work = demo_on_s3["fs"], demo_on_s3["bucket"], demo_on_s3["work"]
    html = f"s3://{bucket}/reports/stats.html"
    stats = _run(["stats", f"s3://{work}", "--json", "--html", html], s3_env, demo_on_s3["cwd"])
    assert stats.returncode == 0, stats.stderr[-3000:]
    report = json.loads(stats.stdout)
    manifest = json.loads(fs.cat_file(f"{work}/shards/manifest.json"))
    assert set(report["stages"]) >= {"extract", "langid", "filter", "dedup", "balance", "shards"}
    assert report["shards"]["tokens"] == manifest["tokens"]
    assert report["tokenizer"]["source"] == "tokenizer/report.json" and report["tokenizer"]["vocab_size"] == 12000
    assert "near-duplicate" in report["stages"]["dedup"]["removed"]
    fs.invalidate_cache()
    page = fs.cat_file(html.removeprefix("s3://")).decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and "kor_Hang" in page
    assert list(demo_on_s3["cwd"].iterdir()) == []


# ------------------------------------------------------------------------------------- download to the bucket


@pytest.mark.slow
def test_download_to_an_s3_work_dir(endpoint: str, s3_env: dict[str, str], tmp_path: Path) -> None:
    """`polyglot download` fetches from a local Common-Crawl-like server into local scratch on the Ray workers and
    uploads atomically into the bucket; a rerun fetches nothing."""
    from tests.fetch.ccserver import TEST_CRAWL, CCServer, build_cc_tree

    tree = build_cc_tree(tmp_path / "cc", kinds=("warc",), target_bytes=60_000, seed=5)
    fs = _fs(endpoint)
    bucket = _bucket(fs)
    cfg = {
        "run": {"work_dir": f"s3://{bucket}/work", "stages": ["download"]},
        "ray": {"num_cpus": 2, "object_store_mb": 256},
        "download": {"crawl": TEST_CRAWL, "kind": "warc", "select": {"mode": "first", "n": 3}, "backoff_s": 0.01,
                     "timeout_s": 5.0, "parallel": 2},
    }  # fmt: skip
    with CCServer(tree.root, tree=tree) as server:
        server.drop_after(tree.paths["warc"][0], 20_000)  # one dropped connection, resumed from local scratch
        cfg["download"]["base_url"] = server.url
        (tmp_path / "dl.yaml").write_text(yaml.safe_dump(cfg))
        first = _run(["run", "--config", str(tmp_path / "dl.yaml")], s3_env, tmp_path)
        second = _run(["run", "--config", str(tmp_path / "dl.yaml")], s3_env, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "download: 3 shards (3 run, 0 skipped, 0 failed)" in first.stderr
    fs.invalidate_cache()
    for rel in tree.paths["warc"][:3]:
        assert hashlib.sha256(fs.cat_file(f"{bucket}/work/download/{rel}")).hexdigest() == tree.sha256(rel)
    assert not [p for p in fs.find(f"{bucket}/work") if ".tmp-" in p or p.endswith(".part")]
    assert second.returncode == 0 and "download: 3 shards (0 run, 3 skipped, 0 failed)" in second.stderr


@pytest.mark.slow
def test_training_iterator_is_local_only_and_says_so(demo_on_s3: dict[str, Any], tmp_path: Path) -> None:
    """PackedSequenceIterator memory-maps shards: an s3:// manifest fails with the advice to copy, a copy of the
    bucket's shards reads exactly like the local run's shards (``file://`` accepted)."""
    from pipeline.training import PackedSequenceIterator

    assert demo_on_s3["first"].returncode == 0 and demo_on_s3["local_run"].returncode == 0
    fs, work = demo_on_s3["fs"], demo_on_s3["work"]
    with pytest.raises(ValueError, match="local files only"):
        PackedSequenceIterator(f"s3://{work}/shards/manifest.json", seq_len=64, eos_id=2)
    fs.get(f"{work}/shards/", str(tmp_path / "shards"), recursive=True)
    copied = PackedSequenceIterator(str(tmp_path / "shards" / "manifest.json"), seq_len=64, eos_id=2)
    local = PackedSequenceIterator(f"file://{demo_on_s3['local'] / 'shards' / 'manifest.json'}", seq_len=64, eos_id=2)
    a, b = list(copied), list(local)
    assert len(a) > 100 and all((x == y).all() for x, y in zip(a, b, strict=True))
