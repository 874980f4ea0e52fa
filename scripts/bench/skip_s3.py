"""Benchmark: storage requests to skip a stage whose shards are all complete, on an S3-compatible server (moto's,
on 127.0.0.1, in this process), counted at the server.

Setup (not counted): --shards input files, --outputs output files per shard (one folder per output name) and a
completion record per shard, as `run_stage` writes them.

Rows:
  per-file checks (before)  what the completion check did per shard before listings: exists + read of the record,
                            exists of each output, HEAD of each input for its fingerprint. Run on --old-sample shards
                            and scaled up to --shards (it is linear)
  first skip (no index)     run_stage: one listing per folder, one read per record (no stage index yet); writes it
  skip with the index       run_stage again: listings and one read of `_state/<stage>.index`

Target: the skip costs O(listings) (S3 lists 1,000 keys per request), not O(shards x outputs).
Not a test: run it by hand,
  python scripts/bench/skip_s3.py [--shards 10000] [--outputs 2] [--old-sample 500]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

KEY, SECRET = "bench", "bench"


class RequestCounter(logging.Handler):
    """Counts the requests moto's (werkzeug) server logs, by kind."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        msg = re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage())  # werkzeug colours some status codes
        for method in ("GET", "HEAD", "PUT", "POST", "DELETE"):
            if f'"{method} ' in msg:
                kind = "LIST" if method == "GET" and "list-type" in msg else method
                self.counts[kind] += 1

    def total(self) -> int:
        return sum(self.counts.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", type=int, default=10_000)
    ap.add_argument("--outputs", type=int, default=2)
    ap.add_argument("--old-sample", type=int, default=500)
    args = ap.parse_args()

    import fsspec.config
    import moto.server
    import s3fs

    server = moto.server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for k in [k for k in os.environ if k.startswith("AWS_") or "proxy" in k.lower()]:
        del os.environ[k]
    os.environ.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1",
                      AWS_EC2_METADATA_DISABLED="true", NO_PROXY="127.0.0.1")  # fmt: skip
    fsspec.config.conf["s3"] = {"endpoint_url": endpoint, "key": KEY, "secret": SECRET}
    counter = RequestCounter()
    logging.getLogger("werkzeug").addHandler(counter)
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    logging.getLogger("werkzeug").propagate = False

    from pipeline.config import parse_config
    from pipeline.runtime import expected_record, record_path, run_stage
    from pipeline.stages.base import ShardStats, ShardTask, Stage
    from pipeline.storage import FolderListings, exists, fingerprint, json_bytes, listing_scope, read_json

    n, k = args.shards, args.outputs

    class BenchStage(Stage):
        name = "bench"

        def config_parts(self) -> tuple[str, ...]:
            return ("run",)

        def plan(self) -> list[ShardTask]:
            return [ShardTask(f"s{i:06d}", (f"s3://bench/in/s{i:06d}.txt",),
                              {f"o{j}": f"s3://bench/work/bench/o{j}/s{i:06d}.bin" for j in range(k)})
                    for i in range(n)]  # fmt: skip

        def process(self, task, progress):  # noqa: ANN001, ANN201 - never called: every shard is complete
            raise AssertionError("the bench expects every shard to be skipped")

    fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=endpoint, skip_instance_cache=True)
    fs.mkdir("bench")
    cfg = parse_config({"run": {"work_dir": "s3://bench/work"}, "extract": {"inputs": ["s3://bench/in/*.txt"]}})
    stage = BenchStage(cfg)
    tasks = stage.plan()
    t0 = time.perf_counter()
    fs.pipe({t.inputs[0][5:]: b"input %d" % i for i, t in enumerate(tasks)}, batch_size=64)
    fs.pipe({p[5:]: b"out" for t in tasks for p in t.outputs.values()}, batch_size=64)
    config_hash = cfg.section_hash(*stage.config_parts())
    stats = ShardStats().to_dict()
    with listing_scope(FolderListings()):
        records = {record_path(cfg, "bench", t.shard_id)[5:]: json_bytes(dict(
            expected_record(stage, t, config_hash), output_sizes=dict.fromkeys(t.outputs, 3), stats=stats))
            for t in tasks}  # fmt: skip
    fs.pipe(records, batch_size=64)
    print(f"setup: {n:,} shards x {k} outputs, {n * (k + 2):,} objects in {time.perf_counter() - t0:.0f} s", flush=True)

    def measure(label: str, fn) -> int:  # noqa: ANN001
        counter.counts.clear()
        t = time.perf_counter()
        fn()
        c = dict(sorted(counter.counts.items()))
        print(f"{label:28s} {counter.total():>9,} requests  {time.perf_counter() - t:6.1f} s  {c}", flush=True)
        return counter.total()

    sample = tasks[: args.old_sample]

    def per_file() -> None:
        for t in sample:
            path = record_path(cfg, "bench", t.shard_id)
            assert exists(path)
            rec = read_json(path)
            assert rec["input_fingerprint"] == "+".join(fingerprint(p) for p in t.inputs)
            assert all(exists(p) for p in t.outputs.values())

    old = measure(f"per-file checks, {len(sample):,} shards", per_file)
    print(f"{'  scaled to ' + format(n, ',') + ' shards':28s} {old * n // len(sample):>9,} requests (linear)")
    for label in ("first skip (no index)", "skip with the index"):
        res = None

        def skip() -> None:
            nonlocal res
            res = run_stage(BenchStage, cfg)

        measure(label, skip)
        assert res.skipped == n, res.summary()
    server.stop()


if __name__ == "__main__":
    main()
