"""What the pipeline did to each planted page of the demo crawl (demo/planted.json), as a table.

Runs nothing: reads a finished work dir of `configs/demo.yaml` (default out/demo) and follows every planted
response record through the stages by URL: kept to the end, or removed by which stage and reason. Prints, per plant
kind (article, exact_dup, near_dup, junk by kind), the outcomes; `--json` for one JSON object.

    polyglot run --config configs/demo.yaml && python scripts/eval_demo.py [WORK_DIR] [--show KIND]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]

#: (stage, folder of removed documents, column with the reason)
REMOVALS = (
    ("langid", "_removed/langid", "reject_reason"),
    ("filter", "_removed/filter", "filter_reason"),
    ("dedup", "_removed/dedup", "dedup_reason"),
)


def outcomes(work: Path) -> tuple[dict[str, str], set[str]]:
    """url -> 'stage:reason' for every removed document, and the urls extracted at all."""
    fate: dict[str, str] = {}
    for stage, folder, column in REMOVALS:
        for f in sorted((work / folder).glob("*.parquet")):
            t = pq.read_table(f, columns=["url", column]).to_pylist()
            for row in t:
                fate.setdefault(row["url"], f"{stage}:{row[column]}")
    extracted = set()
    for f in sorted((work / "extract").glob("*.parquet")):
        extracted.update(pq.read_table(f, columns=["url"]).column("url").to_pylist())
    return fate, extracted


def evaluate(work: Path) -> dict[str, Counter[str]]:
    planted = json.loads((ROOT / "demo" / "planted.json").read_text(encoding="utf-8"))
    fate, extracted = outcomes(work)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for rec in planted["records"]:
        kind = rec["plant"] + (f":{rec['junk_kind']}" if rec["plant"] == "junk" else "")
        url = rec["url"]
        if url not in extracted:
            table[kind]["not extracted"] += 1
        else:
            table[kind][fate.get(url, "kept")] += 1
    return table


def duplicate_groups(work: Path) -> dict[str, int]:
    """How dedup did on the planted groups (an article and its copies): pairs present after filtering, pairs merged,
    and false merges (a document removed as a duplicate of one from another group)."""
    planted = json.loads((ROOT / "demo" / "planted.json").read_text(encoding="utf-8"))
    group = {r["url"]: r.get("of", r["url"]) for r in planted["records"] if r["plant"] in ("article", "exact_dup", "near_dup")}
    url_of: dict[str, str] = {}
    removed: list[dict] = []
    for f in sorted((work / "dedup").glob("*.parquet")) + sorted((work / "_removed" / "dedup").glob("*.parquet")):
        url_of.update((r["doc_id"], r["url"]) for r in pq.read_table(f, columns=["doc_id", "url"]).to_pylist())
    for f in sorted((work / "_removed" / "dedup").glob("*.parquet")):
        removed += pq.read_table(f, columns=["url", "duplicate_of"]).to_pylist()
    present = set(url_of.values())
    pairs = sum(1 for u, g in group.items() if u != g and u in present and g in present)
    false = sum(group.get(r["url"]) != group.get(url_of[r["duplicate_of"]]) for r in removed)
    return {"pairs_present": pairs, "removed": len(removed), "false_merges": false}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work_dir", nargs="?", default=str(ROOT / "out" / "demo"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--show", help="print the URLs and fates of one plant kind (e.g. article, near_dup)")
    args = ap.parse_args()
    work = Path(args.work_dir)
    if not (work / "extract").is_dir():
        sys.exit(f"{work} has no extract output: run  polyglot run --config configs/demo.yaml  first")
    table = evaluate(work)
    groups = duplicate_groups(work) if (work / "dedup").is_dir() else None
    if args.json:
        print(json.dumps({"plants": {k: dict(v) for k, v in sorted(table.items())}, "dedup": groups}, ensure_ascii=False))
        return
    for kind, outs in sorted(table.items()):
        total = sum(outs.values())
        kept = outs.get("kept", 0)
        detail = ", ".join(f"{o} {n}" for o, n in outs.most_common() if o != "kept")
        print(f"{kind:28} {total:4}  kept {kept:4}  {detail}")
    if groups:
        print(f"dedup: {groups['removed']} removed for {groups['pairs_present']} planted copy pairs left after filtering, "
              f"{groups['false_merges']} false merges")
    if args.show:
        planted = json.loads((ROOT / "demo" / "planted.json").read_text(encoding="utf-8"))
        fate, extracted = outcomes(work)
        for rec in planted["records"]:
            if rec["plant"] == args.show or rec.get("junk_kind") == args.show:
                print(rec["language"], fate.get(rec["url"], "kept" if rec["url"] in extracted else "not extracted"), rec["url"])


if __name__ == "__main__":
    main()
