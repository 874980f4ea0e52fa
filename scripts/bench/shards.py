"""Benchmark: tokenize + write throughput of `polyglot shards` (MB of text per second, one process, one thread of
SentencePiece) through the real stage code, beside SentencePiece's own ``encode(list, num_threads=1)`` on the same
texts in the same run; and the balance counting step beside it.

Texts: every UDHR translation in ../shared/data/udhr (~460 languages, cut into documents of ~--doc-kb KB at line
boundaries) and the 100 real Common Crawl pages' text (cc-main-2018-43-pages100.jsonl.gz) when present, else the
project's demo paragraphs (scripts/demo_text, 13 language variants); repeated until --mb MB. A unigram model of
--vocab pieces is trained on ~2 MB of the same texts first (not timed; or --model PATH).

Rows (best of --repeat runs over the same documents, MB = UTF-8 text megabytes):
  sentencepiece encode      processor.encode(texts, num_threads=1): the floor, no Python around it
  encode_batch              pipeline.tokenizer.encode.encode_batch: encode + numpy offsets/ids
  balance counts            BalanceCounts.process: read Parquet, count_tokens, write counts + sketch
  shards scatter            ShardsScatter.process: read Parquet, encode, check counts, keys, write the scatter file
  shards gather             ShardsStage.process for every output shard: merge by key, write the IPC stream
  shards tokenize+write     scatter + gather: the stage's whole per-document cost. Target: within 30% of the raw
                            encode's throughput (ratio >= 0.70); the stricter reading, time within 1.3x, is >= 0.77

The box may be shared: compare rows of one run. Not a test: run it by hand,
  python scripts/bench/shards.py [--mb 8] [--repeat 3] [--num-shards 4] [--vocab 16000] [--model PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import sentencepiece as spm  # noqa: E402

from pipeline.config import parse_config  # noqa: E402
from pipeline.stages.balance import BalanceCounts  # noqa: E402
from pipeline.stages.base import ShardTask  # noqa: E402
from pipeline.stages.shards import ShardsScatter, ShardsStage  # noqa: E402
from pipeline.tokenizer.encode import encode_batch  # noqa: E402
from pipeline.tokenizer.settings import TokenizerSettings  # noqa: E402
from pipeline.tokenizer.train import train_sentencepiece  # noqa: E402


def chunk(text: str, size: int) -> list[str]:
    """Documents of about `size` characters, cut at line boundaries."""
    out, cur, n = [], [], 0
    for line in text.splitlines():
        cur.append(line)
        n += len(line) + 1
        if n >= size:
            out.append("\n".join(cur))
            cur, n = [], 0
    if cur:
        out.append("\n".join(cur))
    return [d for d in out if d.strip()]


def source_texts(doc_chars: int) -> tuple[list[str], str]:
    udhr = SHARED / "udhr"
    pages = SHARED / "cc" / "cc-main-2018-43-pages100.jsonl.gz"
    if udhr.is_dir():
        docs = [d for p in sorted(udhr.glob("udhr_*.txt")) for d in chunk(p.read_text(encoding="utf-8"), doc_chars)]
        if pages.exists():
            with gzip.open(pages, "rb") as f:
                for raw in f:
                    page = json.loads(raw.decode("utf-8", errors="replace"))
                    docs.extend(chunk(page.get("t") or "", doc_chars))
        return docs, "UDHR (all languages) + 100 real CC pages"
    lines = [
        line for p in sorted((ROOT / "scripts" / "demo_text").glob("*.txt"))
        for line in p.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith(("#", "["))
    ]  # fmt: skip
    return chunk("\n".join(lines), doc_chars), "demo paragraphs (../shared/data absent)"


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=8.0, help="MB of text to push through (source texts repeated)")
    ap.add_argument("--doc-kb", type=float, default=3.0, help="document size in KB of characters")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--num-shards", type=int, default=4, help="output shards of the scatter/gather")
    ap.add_argument("--vocab", type=int, default=16000)
    ap.add_argument("--model", type=Path, default=None, help="an existing SentencePiece model instead of training")
    args = ap.parse_args()

    base, what = source_texts(int(args.doc_kb * 1000))
    base_mb = sum(len(d.encode("utf-8")) for d in base) / 1e6
    reps = max(1, round(args.mb / base_mb))
    texts = [d for _ in range(reps) for d in base]
    mb = base_mb * reps
    print(f"texts: {what}: {len(base):,} documents, {base_mb:.1f} MB, x{reps} = {len(texts):,} documents, {mb:.1f} MB")

    work = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    try:
        model = work / "out" / "tokenizer" / "tokenizer.model"
        model.parent.mkdir(parents=True)
        if args.model:
            shutil.copyfile(args.model, model)
        else:
            t0 = time.perf_counter()
            sample = base[:: max(1, round(base_mb / 2))]  # ~2 MB of the same mix: training is not what is measured
            trained = train_sentencepiece(sample, TokenizerSettings(vocab_size=args.vocab, num_threads=2), work / "tok")
            shutil.copyfile(trained, model)
            print(f"trained a {args.vocab:,}-piece unigram model in {time.perf_counter() - t0:.1f} s (not timed below)")
        sp = spm.SentencePieceProcessor(model_file=str(model))

        # upstream as dedup writes it, and the same documents as balance writes them (every document once)
        ids = [f"B0/{i * 1000}" for i in range(len(texts))]
        common = {"doc_id": ids, "text": texts, "lang": ["und"] * len(texts), "url": [""] * len(texts)}
        dedup = work / "dedup.parquet"
        pq.write_table(pa.table({**common, "dup_cluster_size": [1] * len(texts)}), dedup)
        counts = [len(x) for x in sp.encode(texts, num_threads=1)]
        chosen = work / "out" / "balance" / "B0.parquet"
        chosen.parent.mkdir(parents=True)
        pq.write_table(
            pa.table({**common, "family": ["x"] * len(texts), "num_tokens": pa.array(counts, pa.int32()),
                      "repeats": pa.array([1] * len(texts), pa.int32())}),
            chosen,
        )  # fmt: skip
        cfg = parse_config(
            {
                "run": {"work_dir": str(work / "out")},
                "extract": {"inputs": [str(dedup)]},
                "shards": {"shard_tokens": 1000},
            }
        )
        nothing = lambda n: None  # noqa: E731

        counter = BalanceCounts(cfg)
        counter.setup()
        count_task = ShardTask("B0", (str(dedup),), {"counts": str(work / "c.arrow"), "sketch": str(work / "c.json")})
        scatter = ShardsScatter(cfg)
        scatter.setup()
        scatter_file = str(work / "out" / "shards" / "_scatter" / "B0.arrow")
        scatter_task = ShardTask("B0", (str(chosen),), {"main": scatter_file}, {"num_shards": args.num_shards})
        gather = ShardsStage(cfg)
        gather_tasks = [
            ShardTask(f"shard-{j:05d}", (str(work),), {"main": str(work / "out" / "shards" / f"shard-{j:05d}.arrow")},
                      {"index": j, "num_shards": args.num_shards, "scatter": (scatter_file,)})
            for j in range(args.num_shards)
        ]  # fmt: skip

        rows: list[tuple[str, float]] = [
            ("sentencepiece encode", best(lambda: sp.encode(texts, num_threads=1), args.repeat)),
            ("encode_batch", best(lambda: encode_batch(sp, texts), args.repeat)),
            ("balance counts", best(lambda: counter.process(count_task, nothing), args.repeat)),
            ("shards scatter", best(lambda: scatter.process(scatter_task, nothing), args.repeat)),
            ("shards gather", best(lambda: [gather.process(t, nothing) for t in gather_tasks], args.repeat)),
        ]
        rows.append(("shards tokenize+write", rows[-2][1] + rows[-1][1]))
        raw = rows[0][1]
        tokens = sum(counts)
        written = sum((work / "out" / "shards" / f"shard-{j:05d}.arrow").stat().st_size for j in range(args.num_shards))
        print(f"{tokens:,} tokens ({tokens / len(texts):.0f} per document); shards on disk {written / 1e6:.1f} MB "
              f"in {args.num_shards} files")  # fmt: skip
        print(f"{'step':<24}{'seconds':>9}{'MB/s':>9}{'docs/s':>10}{'vs encode':>11}")
        for name, sec in rows:
            print(f"{name:<24}{sec:>9.2f}{mb / sec:>9.2f}{len(texts) / sec:>10,.0f}{raw / sec:>11.2f}")
        ratio = raw / rows[-1][1]
        verdict = "within" if ratio >= 0.7 else "NOT within"
        print(
            f"tokenize+write runs at {ratio:.2f} x raw SentencePiece encode speed: {verdict} the 30% target "
            f"(throughput >= 0.70 x; time <= 1.3 x would need >= 0.77)"
        )
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
