"""`polyglot stats`: add up the completion records of every stage into per-stage, per-language tables.

The records are the single source of truth: each holds one shard's documents, characters and bytes in and out
per language and its removals by reason, so the report needs no pass over the data itself.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.config import STAGE_ORDER
from pipeline.storage import fs_and_path, join, list_files, read_json

LANG_FIELDS = ("docs_in", "docs_out", "chars_in", "chars_out", "bytes_in", "bytes_out")


def _stage_dirs(work_dir: str) -> list[str]:
    fs, path = fs_and_path(join(work_dir, "_state"))
    if not fs.exists(path):
        return []
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False) if fs.isdir(p)]
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    return sorted(names, key=lambda s: (order.get(s, len(order)), s))


def collect(work_dir: str) -> dict[str, Any]:
    """Sum every completion record below `work_dir/_state` into one report dict (what `--json` prints)."""
    stages: dict[str, Any] = {}
    for stage in _stage_dirs(work_dir):
        by_lang: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(LANG_FIELDS, 0))
        removed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        counters: dict[str, int] = defaultdict(int)
        shards = 0
        for path in list_files(join(work_dir, "_state", stage), ".json"):
            rec = read_json(path)
            st = rec.get("stats", {})
            shards += 1
            for lang, counts in st.get("by_lang", {}).items():
                for k in LANG_FIELDS:
                    by_lang[lang][k] += counts.get(k, 0)
            for reason, per_lang in st.get("removed", {}).items():
                for lang, n in per_lang.items():
                    removed[reason][lang] += n
            for k, n in st.get("counters", {}).items():
                counters[k] += n
        stages[stage] = {
            "shards": shards,
            "docs_in": sum(v["docs_in"] for v in by_lang.values()),
            "docs_out": sum(v["docs_out"] for v in by_lang.values()),
            "by_lang": dict(sorted(by_lang.items())),
            "removed": {r: dict(sorted(v.items())) for r, v in sorted(removed.items())},
            "counters": dict(sorted(counters.items())),
        }
    return {"work_dir": work_dir, "stages": stages}


def _fmt(n: int) -> str:
    return f"{n:,}"


def render(report: dict[str, Any], console: Console) -> None:
    """Rich tables: a funnel over the stages, then per stage one row per language."""
    stages = report["stages"]
    if not stages:
        console.print(f"no completed shards below {report['work_dir']} (nothing has run yet?)")
        return
    funnel = Table(title=f"Pipeline funnel — {report['work_dir']}", title_justify="left")
    for col in ("stage", "shards", "docs in", "docs out", "kept %", "removed by reason"):
        funnel.add_column(col, justify="right" if col not in ("stage", "removed by reason") else "left")
    for name, st in stages.items():
        reasons = ", ".join(f"{r} {sum(v.values()):,}" for r, v in st["removed"].items()) or "-"
        kept = f"{100 * st['docs_out'] / st['docs_in']:.1f}" if st["docs_in"] else "-"
        funnel.add_row(name, _fmt(st["shards"]), _fmt(st["docs_in"]), _fmt(st["docs_out"]), kept, reasons)
    console.print(funnel)

    for name, st in stages.items():
        flat, grouped = split_counters(st["counters"])
        if not st["by_lang"]:
            extra = ", ".join(f"{k} {v:,}" for k, v in flat.items())
            console.print(f"[bold]{name}[/bold]: {extra or 'no per-language counts'}")
            continue
        t = Table(title=f"{name}: per language", title_justify="left")
        for col in ("lang", "docs in", "docs out", "chars in", "chars out", "bytes in", "bytes out", "removed"):
            t.add_column(col, justify="left" if col in ("lang", "removed") else "right", no_wrap=col == "lang")
        rows = sorted(st["by_lang"].items(), key=lambda kv: -kv[1]["docs_in"])
        for lang, c in rows:
            rem = ", ".join(f"{r} {v[lang]:,}" for r, v in st["removed"].items() if v.get(lang))
            t.add_row(lang, *(_fmt(c[k]) for k in LANG_FIELDS), rem or "-")
        console.print(t)
        if flat:
            console.print(f"[bold]{name}[/bold]: " + ", ".join(f"{k} {v:,}" for k, v in flat.items()))
        for group, table in grouped.items():
            kinds = sorted({k for per in table.values() for k in per})
            g = Table(title=f"{name}: {group.replace('_', ' ')} per language", title_justify="left")
            g.add_column("lang", no_wrap=True)
            for k in kinds:
                g.add_column(k, justify="right")
            for lang, per in sorted(table.items()):
                g.add_row(lang, *(_fmt(per.get(k, 0)) for k in kinds))
            console.print(g)


def split_counters(counters: dict[str, int]) -> tuple[dict[str, int], dict[str, dict[str, dict[str, int]]]]:
    """Plain counters, and ``<group>/<kind>/<lang>`` counters as ``{group: {lang: {kind: n}}}`` (e.g. PII masked
    per type and language, lines removed per rule and language)."""
    flat: dict[str, int] = {}
    grouped: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for key, n in counters.items():
        parts = key.split("/")
        if len(parts) == 3:
            grouped[parts[0]][parts[2]][parts[1]] = n
        else:
            flat[key] = n
    return flat, {g: dict(v) for g, v in grouped.items()}
