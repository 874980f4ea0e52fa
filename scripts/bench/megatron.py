"""Benchmark: the Megatron export of `polyglot shards` (Arrow shards -> one .bin + .idx) beside plain copies of the
same bytes, in one run.

Shards: --shards Arrow IPC stream files in the gather's layout (record batches of 4,096 rows, ``list<uint16>``
input_ids) holding --mtokens million tokens, documents of log-normal length (median ~245 tokens, like web text),
written to a temporary folder first (not timed).

Rows (best of --repeat; MB = token bytes read from the shards, Mtok = million tokens):
  copy shards               every Arrow shard copied into one new file: the floor for moving the bytes
  export, eod               the stage's export (`write_megatron`'s path: memory-mapped batches ->
                            pipeline.megatron.write_indexed_dataset with sha256), eos id after every document
  export, no eod            the same without end-of-document ids (ids written straight from the memory map)
  per-document loop         one write and one length per document, the way preprocess_data.py's builder adds
                            items: a reference for what batching buys

The box may be shared: compare rows of one run. Not a test: run it by hand,
  python scripts/bench/megatron.py [--mtokens 50] [--shards 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from pipeline import megatron  # noqa: E402
from pipeline.shards import ROWS_PER_BATCH, shard_token_batches  # noqa: E402


def make_shards(folder: Path, n_shards: int, mtokens: float, seed: int = 0) -> tuple[list[str], int, int]:
    """Arrow stream shards of random uint16 ids; returns (paths, documents, tokens)."""
    rng = np.random.default_rng(seed)
    per_shard = int(mtokens * 1e6 / n_shards)
    schema = pa.schema([("input_ids", pa.list_(pa.uint16()))])
    paths, docs, tokens = [], 0, 0
    for s in range(n_shards):
        lengths = []
        total = 0
        while total < per_shard:
            n = np.maximum(1, rng.lognormal(np.log(245), 1.0, 10_000).astype(np.int64))
            lengths.append(n)
            total += int(n.sum())
        lens = np.concatenate(lengths)
        lens = lens[: int(np.searchsorted(np.cumsum(lens), per_shard)) + 1]
        ids = rng.integers(4, 16_000, int(lens.sum()), dtype=np.uint16)
        offsets = np.zeros(lens.size + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        path = folder / f"shard-{s:05d}.arrow"
        with pa.OSFile(str(path), "wb") as f, pa.ipc.new_stream(f, schema) as w:
            for lo in range(0, lens.size, ROWS_PER_BATCH):
                hi = min(lo + ROWS_PER_BATCH, lens.size)
                o = offsets[lo : hi + 1]
                arr = pa.ListArray.from_arrays(pa.array((o - o[0]).astype(np.int32)), pa.array(ids[o[0] : o[-1]]))
                w.write_batch(pa.RecordBatch.from_arrays([arr], schema=schema))
        paths.append(str(path))
        docs += int(lens.size)
        tokens += int(lens.sum())
    return paths, docs, tokens


def best(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mtokens", type=float, default=50.0)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-megatron-") as tmp:
        folder = Path(tmp)
        paths, docs, tokens = make_shards(folder, args.shards, args.mtokens)
        out = folder / "out"
        out.mkdir()

        def copy() -> None:
            (out / "copy.bin").unlink(missing_ok=True)  # a new file each time, as the export writes
            with open(out / "copy.bin", "wb") as dst:
                for p in paths:
                    with open(p, "rb") as src:
                        shutil.copyfileobj(src, dst, 1 << 22)

        def export(eod: int | None) -> Callable[[], None]:
            def run() -> None:
                batches = itertools.chain.from_iterable(shard_token_batches(p) for p in paths)
                megatron.write_indexed_dataset(
                    str(out / "corpus"), batches, num_documents=docs, dtype=np.uint16, eod=eod
                )

            return run

        def per_document() -> None:
            sizes = []
            with open(out / "loop.bin", "wb") as f:
                for offsets, ids in itertools.chain.from_iterable(shard_token_batches(p) for p in paths):
                    for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
                        doc = np.append(ids[a:b], np.uint16(2))
                        f.write(doc.tobytes())
                        sizes.append(doc.size)

        rows = [
            ("copy shards", copy),
            ("export, eod", export(2)),
            ("export, no eod", export(None)),
            ("per-document loop", per_document),
        ]
        mb = tokens * 2 / 1e6
        print(f"{len(paths)} shards, {docs:,} documents, {tokens:,} tokens ({mb:.0f} MB of ids)")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        base = None
        for name, fn in rows:
            seconds = best(fn, args.repeat)
            base = base or seconds
            print(f"  {name:20s} {seconds:7.3f} s  {mb / seconds:8.0f} MB/s  {tokens / seconds / 1e6:7.1f} Mtok/s"
                  f"  time x{seconds / base:.2f} of copy")  # fmt: skip


if __name__ == "__main__":
    main()
