"""Benchmark: MinHash signatures per second on one core, pipeline.dedup.minhash vs datasketch, same documents.

Documents: ~3 KB (UTF-8) chunks of the real UDHR translations in ../shared/data (space-delimited scripts, so the
shingles are 5-gram words), or generated text when the data is absent. 128 permutations, seed 1.

Rows (docs/s, median of --repeat runs, shingles computed once beforehand unless said):
  shingling                     pipeline.dedup.shingles.shingles alone (the same for every row below)
  datasketch sha1 (default)     MinHash(num_perm=128) + update_batch(shingles), per document   <- the reference
  ours sha1                     MinHasher(128).signatures(all shingle lists)
  datasketch xxh32              MinHash(128, hashfunc=xxhash.xxh32_intdigest) + update_batch
  ours xxh32                    MinHasher(128, hashfunc="xxh32")
  datasketch / ours legacy      scheme="legacy" (datasketch < 2.0's permutation), sha1
  end-to-end                    text -> shingles -> signature, for datasketch default, ours sha1, ours xxh32
and checks that every signature is bit-identical to datasketch's.

Then the dedup stage's per-document keys before MinHash, old and new side by side (same documents, interleaved
runs): the exact hash and the shingles normalized in two passes (`exact_hash` + `shingles`) against one
(`document.exact_hash_and_shingles`), on the UDHR chunks and on real web pages (../shared/data web-zh and cc2018)
when present; checks that both give the same hashes and shingles.

Not a test: run it by hand,  python scripts/bench/minhash.py [--docs 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import xxhash

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

import gzip  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

from pipeline.dedup.document import exact_hash_and_shingles  # noqa: E402
from pipeline.dedup.minhash import MinHasher  # noqa: E402
from pipeline.dedup.normalize import exact_hash  # noqa: E402
from pipeline.dedup.shingles import CHAR_SCRIPTS, KOREAN_SCRIPTS, shingles  # noqa: E402


def load_docs(n: int, size: int = 3000) -> tuple[list[str], str]:
    udhr = SHARED / "udhr"
    docs: list[str] = []
    if (udhr / "index.tsv").is_file():
        rows = list(csv.DictReader(open(udhr / "index.tsv", encoding="utf-8"), delimiter="\t"))
        rows = [r for r in rows if r["iso15924"] not in CHAR_SCRIPTS | KOREAN_SCRIPTS]
        random.Random(0).shuffle(rows)
        while len(docs) < n:
            progressed = False
            for r in rows:
                path = udhr / f"udhr_{r['file']}.txt"
                if not path.is_file():
                    continue
                data = path.read_text(encoding="utf-8").encode("utf-8")
                k = len(docs) // max(1, len(rows))  # take the k-th chunk of every text in turn
                chunk = data[k * size : (k + 1) * size]
                if len(chunk) < size // 2:
                    continue
                docs.append(chunk.decode("utf-8", "ignore"))
                progressed = True
                if len(docs) >= n:
                    break
            if not progressed:
                break
        if docs:
            return docs, f"UDHR ({len(rows)} texts in space-delimited scripts), {size}-byte chunks"
    rng = random.Random(0)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    for _ in range(n):
        words, length = [], 0
        while length < size:
            w = rng.choice(vocab)
            words.append(w)
            length += len(w) + 1
        docs.append(" ".join(words))
    return docs, "generated text (shared data absent)"


def rate(fn, n_docs: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n_docs / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--num-perm", type=int, default=128)
    args = ap.parse_args()

    from datasketch import MinHash

    texts, source = load_docs(args.docs)
    sh = [shingles(t) for t in texts]
    n = len(texts)
    mean_bytes = sum(len(t.encode()) for t in texts) / n
    mean_sh = sum(map(len, sh)) / n
    print(f"{n} docs from {source}; mean {mean_bytes:.0f} bytes, {mean_sh:.0f} shingles (5-gram words); "
          f"{args.num_perm} perms; one core; median of {args.repeat}")

    P = args.num_perm
    ours = {
        "sha1": MinHasher(P, 1, "sha1"),
        "xxh32": MinHasher(P, 1, "xxh32"),
        "legacy": MinHasher(P, 1, "sha1", scheme="legacy"),
    }
    ds_kwargs = {"sha1": {}, "xxh32": {"hashfunc": xxhash.xxh32_intdigest}, "legacy": {"scheme": "legacy"}}

    def ds_all(kind: str) -> list[np.ndarray]:
        out = []
        for s in sh:
            m = MinHash(num_perm=P, seed=1, **ds_kwargs[kind])
            m.update_batch(s)
            out.append(m.hashvalues)
        return out

    results: dict[str, float] = {}
    results["shingling"] = rate(lambda: [shingles(t) for t in texts], n, args.repeat)
    identical = {}
    for kind in ("sha1", "xxh32", "legacy"):
        rep = args.repeat if kind != "legacy" else max(1, args.repeat // 2)
        results[f"datasketch {kind}"] = rate(lambda: ds_all(kind), n, rep)
        results[f"ours {kind}"] = rate(lambda: ours[kind].signatures(sh), n, args.repeat)
        ref = np.stack(ds_all(kind))
        got = ours[kind].signatures(sh)
        identical[kind] = bool(ref.dtype == got.dtype and np.array_equal(ref, got))

    def ds_e2e() -> None:
        for t in texts:
            m = MinHash(num_perm=P, seed=1)
            m.update_batch(shingles(t))

    results["e2e datasketch sha1"] = rate(ds_e2e, n, args.repeat)
    results["e2e ours sha1"] = rate(lambda: ours["sha1"].signatures_from_texts(texts), n, args.repeat)
    results["e2e ours xxh32"] = rate(lambda: ours["xxh32"].signatures_from_texts(texts), n, args.repeat)

    ref = results["datasketch sha1"]
    print(f"\n{'path':28s} {'docs/s':>9s}  {'vs datasketch default':>22s}")
    for name, r in results.items():
        base = results["e2e datasketch sha1"] if name.startswith("e2e") else ref
        ratio = "" if name == "shingling" else f"{r / base:.2f}x"
        print(f"{name:28s} {r:9,.0f}  {ratio:>22s}")
    print("\n(e2e rows are compared with e2e datasketch sha1, the others with datasketch sha1 on precomputed shingles)")
    print(f"ours xxh32 vs datasketch xxh32: {results['ours xxh32'] / results['datasketch xxh32']:.2f}x; "
          f"ours legacy vs datasketch legacy: {results['ours legacy'] / results['datasketch legacy']:.2f}x")
    for kind, ok in identical.items():
        print(f"signatures identical to datasketch ({kind}, {n} docs): {ok}")
    same_keys = document_keys(texts, args.repeat)
    if not all(identical.values()) or not same_keys:
        sys.exit(1)


def real_pages() -> list[str]:
    """Real web pages: the web-zh sample and the cc2018 pages' text, when ../shared/data has them."""
    out: list[str] = []
    web, cc = SHARED / "web-zh" / "zh-web-500.jsonl.gz", SHARED / "cc" / "cc-main-2018-43-pages100.jsonl.gz"
    if web.is_file():
        with gzip.open(web, "rt", encoding="utf-8") as fh:
            out += [json.loads(line)["text"] for line in fh]
    if cc.is_file():
        with gzip.open(cc, "rb") as fh:
            out += [t for raw in fh if (t := json.loads(raw.decode("utf-8", "replace")).get("t"))]
    return out


def document_keys(udhr: list[str], repeat: int) -> bool:
    """Per-document exact hash + shingles, two passes (old) vs one (new), interleaved; True when identical."""
    from pipeline.dedup._unicode import one_pass_safe, unsafe_bmp_re
    from pipeline.dedup.document import normalize_both
    from pipeline.dedup.normalize import normalize_for_exact
    from pipeline.dedup.shingles import normalize_for_shingles

    unsafe_bmp_re()  # built once per process (~1 s), not per document
    print(f"\nper-document keys before MinHash, us/doc (best of {repeat}, interleaved; load {os.getloadavg()[0]:.1f})")
    print(f"{'documents: part':56s} {'two passes':>10s} {'one pass':>9s} {'old/new':>8s}  one-pass share")
    ok = True
    sets = [("UDHR chunks", udhr)]
    web = real_pages()
    if web:
        sets.append((f"real pages (web-zh + cc2018: {len(web)})", web))
    for name, texts in sets:
        rows = {
            "normalization": (lambda: [(normalize_for_exact(t), normalize_for_shingles(t)) for t in texts],
                              lambda: [normalize_both(t) for t in texts]),
            "exact hash + shingles": (lambda: [(exact_hash(t), shingles(t)) for t in texts],
                                      lambda: [exact_hash_and_shingles(t) for t in texts]),
        }  # fmt: skip
        share = sum(map(one_pass_safe, texts)) / len(texts)
        for part, (old_fn, new_fn) in rows.items():
            old_t, new_t = [], []
            for _ in range(repeat):
                t0 = time.perf_counter()
                old = old_fn()
                t1 = time.perf_counter()
                new = new_fn()
                old_t.append(t1 - t0)
                new_t.append(time.perf_counter() - t1)
            ok = ok and old == new
            a, b = min(old_t) / len(texts) * 1e6, min(new_t) / len(texts) * 1e6
            print(f"{name + ': ' + part:56s} {a:10.0f} {b:9.0f} {a / b:7.2f}x  {share:.1%}")
    print(f"exact hashes and shingles identical: {ok}")
    return ok


if __name__ == "__main__":
    main()
