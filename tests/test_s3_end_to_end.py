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
