"""Benchmark: the `input` stage's reading, documents per second on one core, with ratios.

Documents: the 500 real Chinese web pages of ../shared/data/web-zh (about 2,000 characters each), repeated --copies
times, written once as JSON lines and as Parquet. Rows (docs/s, best of --repeat passes; ratio to the first row):

  pyarrow.json.read_json   pyarrow's block parser, the whole file: the floor for JSON lines (it rejects a whole
                           block for one malformed line, which is why the reader does not use it)
  read_documents jsonl     `pipeline.ingest.documents` on the JSONL file: json.loads per line, batches, no-text check
  read_documents parquet   the same on the Parquet file (row groups)
  input stage jsonl        InputStage.process on the JSONL file, no language (read, ids, write the shard)
  input stage parquet +lang  InputStage.process on the Parquet file with `lang: zh` (+ script, family per document)

The box may be shared and noisy: compare rows of one run. Not a test: run it by hand,

    python scripts/bench/input_read.py [--copies 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

import pyarrow as pa  # noqa: E402
import pyarrow.json as pajson  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from pipeline.config import parse_config  # noqa: E402
from pipeline.ingest.documents import InputSettings, list_units, read_documents  # noqa: E402
from pipeline.stages.input import InputStage  # noqa: E402


def best(fn: Callable[[], int], repeat: int) -> float:
    """Docs/s of the fastest of `repeat` runs of `fn` (which returns the documents it handled)."""
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - t0))
    return max(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    src = SHARED / "web-zh" / "zh-web-500.jsonl.gz"
    if not src.is_file():
        sys.exit(f"needs {src} (../shared/data)")
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        pages = [json.loads(line) for line in fh]
    rows = [{"text": p["text"], "url": p["url"], "n": i} for i in range(args.copies) for p in pages]
    tmp = Path(tempfile.mkdtemp(prefix="bench-input-"))
    jsonl, parquet = tmp / "web.jsonl", tmp / "web.parquet"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    pq.write_table(pa.Table.from_pylist(rows), parquet, row_group_size=4096)
    n = len(rows)

    def read(path: Path) -> Callable[[], int]:
        settings = InputSettings(paths=[str(path)], columns={"url": "url", "metadata": ["n"]})

        def run() -> int:
            return sum(t.num_rows for u in list_units(settings) for t in read_documents(u, settings, Counter()))

        return run

    def stage(path: Path, lang: str | None) -> Callable[[], int]:
        inp: dict = {"paths": [str(path)], "columns": {"url": "url"}}
        if lang:
            inp["lang"] = lang
        cfg = parse_config({"run": {"work_dir": str(tmp / "out")}, "input": inp})
        st = InputStage(cfg)
        st.setup()
        (task,) = st.plan()
        return lambda: st.process(task, lambda k: None).docs_out

    one_thread = pajson.ReadOptions(use_threads=False)  # one core, like the rows below
    figures = [
        ("pyarrow.json.read_json", best(lambda: pajson.read_json(str(jsonl), read_options=one_thread).num_rows,
                                        args.repeat)),
        ("read_documents jsonl", best(read(jsonl), args.repeat)),
        ("read_documents parquet", best(read(parquet), args.repeat)),
        ("input stage jsonl", best(stage(jsonl, None), args.repeat)),
        ("input stage parquet +lang", best(stage(parquet, "zh"), args.repeat)),
    ]
    print(f"{n:,} documents, {jsonl.stat().st_size / 2**20:.0f} MB of JSON lines; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    base = figures[0][1]
    print("| reader | docs/s | × pyarrow.json |\n|---|---:|---:|")
    for name, rate in figures:
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f} |")


if __name__ == "__main__":
    main()
