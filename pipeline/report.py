"""`polyglot stats`: what the pipeline did, per stage, language and family, from what the stages already wrote.

Sources, all small but the last (no pass over the documents: 7 ms for the demo's 39 records and three reports on a
shared machine under load; on a crawl, one small JSON read per completion record):

- the completion records ``_state/<stage>/<shard>.json`` (documents, characters and bytes in and out per language,
  removals by reason and language, ``<group>/<kind>/<lang>`` counters: PII masked, C4 lines removed, exact token
  counts), sub-stage records in ``_state/<stage>/<sub>/`` and the corpus-wide steps in ``_state/<stage>/_global/``;
- ``balance/plan.json`` (family assignment, targets, warnings), ``shards/manifest.json`` (files, rows, tokens) and
  ``tokenizer/report.json`` (characters per token and tokens per sentence on parallel text, balanced and unbalanced
  tokenizer);
- the filter's measurements, ``attributes/filter/<shard>.parquet``: only ``lang``, ``filter_reason`` and about ten
  float columns per language (no text; ~0.1 s for the demo's four files), at most `MEASUREMENT_MAX_FILES` files,
  into fixed-bin histograms per language with the thresholds from the files' metadata and the documents failing
  each rule.

Any of them may be absent (stage not run yet); the report shows what exists.

Two kinds of size sit side by side on purpose: characters and bytes are *estimates* of how much text a language has
(they mean different things across scripts: a Hangul syllable is one character and three bytes), tokens are *exact*
counts under the shared tokenizer (balance counts every input document; shards count what they wrote). Shares
"before balancing" are of the tokens available (of the characters at the last document stage when balance has not
run: ``share_basis`` says which), "after" of the tokens chosen. A language's family comes from the balance plan when
there is one (the run's own family table; the work dir keeps no config), else the shards manifest or the tokenizer
report, else the default table (`pipeline.lang.families.family_of`).
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.config import STAGE_ORDER
from pipeline.lang.families import family_of
from pipeline.storage import (
    exists,
    fs_and_path,
    join,
    list_files,
    open_input,
    read_json,
)

LANG_FIELDS = ("docs_in", "docs_out", "chars_in", "chars_out", "bytes_in", "bytes_out")
STATE_DIR = "_state"
#: A failed shard's error file (written by `pipeline.runtime`).
ERROR_SUFFIX = ".error.json"
GLOBAL_DIR = "_global"
#: Stages whose records carry no per-language documents (extract counts every document as `und`: no language yet).
NO_LANGUAGE_STAGES = ("download", "extract")
#: Stages after which documents are no longer the deduplicated corpus (their counts are not "before balancing").
BALANCED_STAGES = ("balance", "shards")
#: Family key for languages without one (JSON keys must be strings).
UNASSIGNED = "unassigned"
#: Counter groups shown in the language tables rather than as their own tables.
TOKEN_GROUPS = {("balance", "tokens"), ("balance", "copies"), ("shards", "tokens")}


# ------------------------------------------------------------------------------------------------------- records


def _subdirs(url: str) -> list[str]:
    fs, path = fs_and_path(url)
    if not fs.exists(path):
        return []
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False) if fs.isdir(p))


def _stage_dirs(work_dir: str) -> list[str]:
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    return sorted(_subdirs(join(work_dir, STATE_DIR)), key=lambda s: (order.get(s, len(order)), s))


def _sum_records(paths: list[str]) -> dict[str, Any]:
    """Shard records summed: documents, characters and bytes per language, removals per reason and language,
    counters."""
    by_lang: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(LANG_FIELDS, 0))
    removed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counters: dict[str, int] = defaultdict(int)
    run = {"shards_timed": 0, "worker_seconds": 0.0, "peak_rss_mb": 0.0, "nodes": set()}
    for path in paths:
        rec = read_json(path)
        st = rec.get("stats", {})
        how = rec.get("run")
        if isinstance(how, dict) and how.get("seconds") is not None:
            run["shards_timed"] += 1
            for part in [how, *(how.get("parts") or [])]:  # a shard split in parts: each part's worker, then the merge
                run["worker_seconds"] += float(part.get("seconds") or 0.0)
                run["peak_rss_mb"] = max(run["peak_rss_mb"], float(part.get("peak_rss_mb") or 0.0))
                run["nodes"].add(part.get("node"))
        for lang, counts in st.get("by_lang", {}).items():
            for k in LANG_FIELDS:
                by_lang[lang][k] += int(counts.get(k, 0))
        for reason, per_lang in st.get("removed", {}).items():
            for lang, n in per_lang.items():
                removed[reason][lang] += n
        for k, n in st.get("counters", {}).items():
            counters[k] += n
    return {
        "shards": len(paths),
        "docs_in": sum(v["docs_in"] for v in by_lang.values()),
        "docs_out": sum(v["docs_out"] for v in by_lang.values()),
        "by_lang": dict(sorted(by_lang.items())),
        "removed": {r: dict(sorted(v.items())) for r, v in sorted(removed.items())},
        "counters": dict(sorted(counters.items())),
        "run": dict(run, nodes=len(run["nodes"]), worker_seconds=round(run["worker_seconds"], 3)),
    }


def _throughput(stages: dict[str, Any]) -> dict[str, Any]:
    """Per stage, from the shard records that say how they ran: worker-seconds, documents and MB read per
    worker-second, the largest worker peak RSS and how many nodes ran shards."""
    out = {}
    for name, st in stages.items():
        run = st.get("run") or {}
        secs = run.get("worker_seconds") or 0.0
        if not run.get("shards_timed"):
            continue
        bytes_in = sum(c.get("bytes_in", 0) for c in st["by_lang"].values()) or st["counters"].get("bytes", 0)
        out[name] = {
            "shards_timed": run["shards_timed"],
            "worker_seconds": secs,
            "docs_per_s": round(st["docs_in"] / secs, 1) if secs else None,
            "mb_per_s": round(bytes_in / 2**20 / secs, 2) if secs else None,
            "peak_rss_mb": run["peak_rss_mb"],
            "nodes": run["nodes"],
        }
    return out


def _failures(work_dir: str, stage: str, paths: list[str]) -> list[dict[str, Any]]:
    """The failed shards of a stage, from their error files (`_state/<stage>/<shard>.error.json`)."""
    out = []
    for path in paths:
        err = _read_optional(path) or {}
        shard = path.rsplit("/", 1)[-1][: -len(ERROR_SUFFIX)]
        worker = err.get("worker") or {}
        out.append({"stage": stage, "shard_id": err.get("shard_id", shard), "error": err.get("error", "?"),
                    "time": err.get("time"), "attempts": err.get("attempts"), "host": worker.get("host"),
                    "file": path})  # fmt: skip
    return out


def _read_optional(url: str) -> dict[str, Any] | None:
    """A small JSON report, or None when it does not exist or cannot be read (a stage killed mid-write)."""
    if not exists(url):
        return None
    try:
        data = read_json(url)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _finite(x: Any) -> Any:
    """NaN and infinities (e.g. a parity ratio over no language) as None, so the report is strict JSON."""
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 4) if whole else None


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


def _per_lang(counters: dict[str, int], group: str, kind: str) -> dict[str, int]:
    """``<group>/<kind>/<lang>`` counters as {lang: n}."""
    _, grouped = split_counters(counters)
    return {lang: kinds[kind] for lang, kinds in grouped.get(group, {}).items() if kind in kinds}


# ------------------------------------------------------------------------------------------------------ sections


def _tokenizer_section(report: dict[str, Any] | None, step: dict[str, Any] | None) -> dict[str, Any] | None:
    """Parity per language (characters per token, tokens per sentence; balanced and unbalanced tokenizer) and the
    training sample, from tokenizer/report.json, else the ratios from the train step's record."""
    if report is None:
        if not step:
            return None
        return {
            "source": "_state/tokenizer/_global/train.json",
            "ratio": {name: _finite(r) for name, r in step.get("parity", {}).items()},
            "id_parity": {"identical": step.get("id_parity_identical"), "documents": step.get("verified_docs")},
            "by_lang": {
                lang: {"family": c.get("family"), "sample_chars": {"balanced": c.get("sample_chars"),
                                                                   "unbalanced": c.get("unbalanced_chars")}}
                for lang, c in sorted(step.get("by_lang", {}).items())
            },  # fmt: skip
        }
    parity = report.get("parity", {})
    comp = report.get("composition", {})
    names = [n for n in ("balanced", "unbalanced") if n in parity]
    by_lang: dict[str, Any] = {}
    for lang in sorted(set(comp) | {lang for n in names for lang in parity[n].get("by_lang", {})}):
        rows = {n: parity[n].get("by_lang", {}).get(lang) for n in names}
        c = comp.get(lang, {})
        by_lang[lang] = {
            "family": c.get("family"),
            "chars_per_token": {n: (r["chars_per_token"] if r else None) for n, r in rows.items()},
            "tokens_per_sentence": {n: (r["tokens_per_sentence"] if r else None) for n, r in rows.items()},
            "sample_chars": {"balanced": c.get("sample_chars"), "unbalanced": c.get("unbalanced_chars")},
        }
    settings = report.get("settings", {})
    idp = report.get("id_parity", {})
    return {
        "source": "tokenizer/report.json",
        "model_type": settings.get("model_type"),
        "vocab_size": settings.get("vocab_size"),
        "sample_chars": settings.get("sample_chars"),
        "sampling_alpha": settings.get("sampling_alpha"),
        "upstream": report.get("upstream"),
        "parity_source": report.get("parity_source"),
        "parity_sentences": report.get("parity_sentences"),
        "ratio": {n: _finite(parity[n].get("ratio")) for n in names},
        "most_expensive": {n: parity[n].get("most_expensive") for n in names},
        "cheapest": {n: parity[n].get("cheapest") for n in names},
        "target": report.get("target"),
        "id_parity": {k: idp.get(k) for k in ("identical", "documents", "parallel_sentences", "tokens")},
        "lines": report.get("lines"),
        "by_lang": by_lang,
    }


def _balance_section(plan: dict[str, Any] | None, step: dict[str, Any] | None,
                     chosen_records: dict[str, int] | None) -> dict[str, Any] | None:  # fmt: skip
    """The plan's totals, families, exclusions, warnings and notes (plus a warning when the shard records disagree
    with the plan's achieved tokens)."""
    if plan is None:
        if chosen_records is None and not step:
            return None
        return {
            "source": "_state/balance" if chosen_records is not None else "_state/balance/_global/plan.json",
            "achieved_total": sum(chosen_records.values()) if chosen_records else (step or {}).get("achieved_tokens"),
            "available_total": (step or {}).get("available_tokens"),
            "target_total": (step or {}).get("target_tokens"),
            "requested_total": (step or {}).get("requested_total"),
            "families": {},
            "excluded": {},
            "warnings": [],
            "notes": ["balance/plan.json is missing: no family plan to show"],
        }
    p = plan.get("plan", {})
    achieved = {lang: int(n) for lang, n in plan.get("achieved", {}).items()}
    families = {}
    for fam, fp in p.get("families", {}).items():
        families[fam] = {
            **{k: fp.get(k) for k in ("share", "available", "target", "strategy", "alpha", "max_repeats")},
            "requested": None if fp.get("requested") is None else round(fp["requested"]),
            "languages": list(fp.get("languages", [])),
            "achieved": sum(achieved.get(lang, 0) for lang in fp.get("languages", [])),
        }
    warnings = list(p.get("warnings", []))
    if chosen_records is not None and {k: v for k, v in chosen_records.items() if v} != {
        k: v for k, v in achieved.items() if v
    }:
        warnings.append(
            "the balance shard records' chosen tokens differ from plan.json's achieved tokens (inputs changed after "
            "planning?); rerun `polyglot balance --force`"
        )
    return {
        "source": "balance/plan.json",
        "requested_total": p.get("requested_total"),
        "target_total": p.get("target_total"),
        "achieved_total": plan.get("achieved_total"),
        "available_total": sum(int(lp.get("available", 0)) for lp in p.get("languages", {}).values()),
        "seed": plan.get("seed"),
        "families": families,
        "excluded": dict(p.get("excluded", {})),
        "warnings": warnings,
        "notes": list(p.get("notes", [])),
    }


def _shards_section(manifest: dict[str, Any] | None, stage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Files, rows, tokens (and bytes, tokenizer) of the training shards, from the manifest, else the records."""
    if manifest is not None:
        files = [{k: e.get(k) for k in ("name", "rows", "tokens", "bytes")} for e in manifest.get("shards", [])]
        tok = manifest.get("tokenizer", {})
        return {
            "source": "shards/manifest.json",
            "num_shards": manifest.get("num_shards", len(files)),
            "rows": manifest.get("rows"),
            "tokens": manifest.get("tokens"),
            "bytes": sum(int(f["bytes"] or 0) for f in files),
            "shard_tokens": manifest.get("shard_tokens"),
            "seed": manifest.get("seed"),
            "format": manifest.get("format"),
            "vocab_size": tok.get("vocab_size"),
            "ids_dtype": tok.get("ids_dtype"),
            "tokens_by_lang": manifest.get("tokens_by_lang", {}),
            "rows_by_lang": manifest.get("rows_by_lang", {}),
            "tokens_by_family": manifest.get("tokens_by_family", {}),
            "files": files,
        }
    if stage is None:
        return None
    written = _per_lang(stage["counters"], "tokens", "written")
    return {
        "source": "_state/shards (no manifest.json yet)",
        "num_shards": stage["shards"],
        "rows": stage["docs_out"],
        "tokens": sum(written.values()),
        "bytes": None,
        "tokens_by_lang": dict(sorted(written.items())),
        "rows_by_lang": {lang: c["docs_out"] for lang, c in stage["by_lang"].items()},
        "tokens_by_family": {},
        "files": [],
    }


def _family_table(langs: set[str], plan: dict[str, Any] | None, manifest: dict[str, Any] | None,
                  tok: dict[str, Any] | None,
                  train: dict[str, Any] | None) -> tuple[dict[str, str | None], str]:  # fmt: skip
    """language → family, and where the assignment came from (first source that knows a language wins)."""
    sources: list[tuple[str, dict[str, str]]] = []
    if plan is not None:
        sources.append(("balance plan", {k: v["family"] for k, v in plan.get("plan", {}).get("languages", {}).items()}))
    if manifest is not None:
        sources.append(("shards manifest", dict(manifest.get("families", {}))))
    if tok is not None:
        sources.append(("tokenizer report", {k: v["family"] for k, v in tok.get("composition", {}).items()}))
    if train is not None:
        sources.append(("tokenizer record", {k: v.get("family") for k, v in train.get("by_lang", {}).items()}))
    out: dict[str, str | None] = {}
    used = set()
    for lang in langs:
        for name, table in sources:
            if table.get(lang):
                out[lang] = table[lang]
                used.add(name)
                break
        else:
            out[lang] = family_of(lang)
            used.add("default table")
    order = [s for s, _ in sources] + ["default table"]
    return out, ", ".join(s for s in order if s in used)


def _languages(stages: dict[str, Any], substages: dict[str, Any], plan: dict[str, Any] | None,
               manifest: dict[str, Any] | None, tok_report: dict[str, Any] | None,
               train: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    """Per language: family, documents/characters/bytes after every stage, exact tokens, shares, removals."""
    doc_stages = [s for s in stages if s not in NO_LANGUAGE_STAGES and stages[s]["by_lang"]]
    pre_balance = [s for s in doc_stages if s not in BALANCED_STAGES]
    last_doc = pre_balance[-1] if pre_balance else None

    bal = stages.get("balance")
    counts = substages.get("balance/counts")
    p = (plan or {}).get("plan", {})
    if bal is not None:
        available = _per_lang(bal["counters"], "tokens", "available")
        chosen: dict[str, int] | None = _per_lang(bal["counters"], "tokens", "chosen")
        copies: dict[str, int] | None = _per_lang(bal["counters"], "copies", "chosen")
    else:
        available = _per_lang(counts["counters"], "tokens", "counted") if counts else {}
        if not available and plan is not None:
            available = {lang: int(lp.get("available", 0)) for lang, lp in p.get("languages", {}).items()}
        chosen = {k: int(v) for k, v in plan["achieved"].items()} if plan and "achieved" in plan else None
        copies = None
    shards = stages.get("shards")
    written = _per_lang(shards["counters"], "tokens", "written") if shards else (
        dict(manifest.get("tokens_by_lang", {})) if manifest else None)  # fmt: skip
    targets = {lang: int(lp.get("target", 0)) for lang, lp in p.get("languages", {}).items()}
    excluded = set(p.get("excluded", {}))

    langs: set[str] = set(available) | set(chosen or {}) | set(targets)
    for s in doc_stages:
        langs |= {lang for lang, c in stages[s]["by_lang"].items() if c["docs_out"]}
    families, family_source = _family_table(langs, plan, manifest, tok_report, train)

    total_available = sum(available.get(lang, 0) for lang in langs)
    basis_before = "tokens" if total_available else ("chars" if last_doc else None)
    removal_stages = [s for s in stages if s not in NO_LANGUAGE_STAGES]

    out: dict[str, Any] = {}
    for lang in sorted(langs):
        row: dict[str, Any] = {"family": families[lang], "excluded": lang in excluded}
        for key in ("docs", "chars", "bytes"):
            row[key] = {s: stages[s]["by_lang"].get(lang, {}).get(f"{key}_out", 0) for s in doc_stages}
        last = stages[last_doc]["by_lang"].get(lang, {}) if last_doc else {}
        row["docs_before"] = last.get("docs_out", 0)
        row["chars_before"] = last.get("chars_out", 0)
        row["bytes_before"] = last.get("bytes_out", 0)
        row["tokens_available"] = available.get(lang) if available else None
        row["tokens_target"] = targets.get(lang) if plan is not None else None
        row["tokens_chosen"] = chosen.get(lang, 0) if chosen is not None else None
        row["copies_chosen"] = copies.get(lang, 0) if copies is not None else None
        row["tokens_written"] = written.get(lang, 0) if written is not None else None
        balance_in = bal["by_lang"].get(lang, {}) if bal else {}
        tokens = row["tokens_available"]
        row["chars_tokenized"] = balance_in.get("chars_in") if balance_in else None
        row["chars_per_token"] = round(balance_in["chars_in"] / tokens, 4) if tokens and balance_in else None
        got = row["tokens_chosen"]
        row["repeats"] = round(got / tokens, 4) if tokens and got is not None else None
        row["removed"] = {
            s: {r: per[lang] for r, per in stages[s]["removed"].items() if per.get(lang)}
            for s in removal_stages
            if any(per.get(lang) for per in stages[s]["removed"].values())
        }
        out[lang] = row
    basis = {"before": basis_before, "after": "tokens" if chosen is not None else None}
    _shares(out, basis)
    return {"languages": out, "family_source": family_source, "doc_stages": doc_stages, "last_doc_stage": last_doc,
            "share_basis": basis}  # fmt: skip


def _families(languages: dict[str, Any], balance: dict[str, Any] | None) -> dict[str, Any]:
    """The language rows summed per family (shares recomputed from the sums)."""
    fams: dict[str, dict[str, Any]] = {}
    sum_keys = ("docs_before", "chars_before", "bytes_before", "chars_tokenized", "tokens_available", "tokens_target",
                "tokens_chosen", "copies_chosen", "tokens_written")  # fmt: skip
    for lang, row in languages.items():
        name = row["family"] or UNASSIGNED
        f = fams.setdefault(name, {"languages": [], "docs": {}, "chars": {}, "bytes": {}, "removed": {},
                                   **dict.fromkeys(sum_keys)})  # fmt: skip
        f["languages"].append(lang)
        for key in ("docs", "chars", "bytes"):
            for s, n in row[key].items():
                f[key][s] = f[key].get(s, 0) + n
        for key in sum_keys:
            if row[key] is not None:
                f[key] = (f[key] or 0) + row[key]
        for s, reasons in row["removed"].items():
            per = f["removed"].setdefault(s, {})
            for r, n in reasons.items():
                per[r] = per.get(r, 0) + n
    plan_fams = (balance or {}).get("families", {})
    for name, f in fams.items():
        f["chars_per_token"] = round(f["chars_tokenized"] / f["tokens_available"], 4) if f["tokens_available"] and \
            f["chars_tokenized"] else None  # fmt: skip
        f["repeats"] = round(f["tokens_chosen"] / f["tokens_available"], 4) if f["tokens_available"] and \
            f["tokens_chosen"] is not None else None  # fmt: skip
        if name in plan_fams:
            f["plan"] = {k: plan_fams[name][k] for k in ("share", "strategy", "alpha", "max_repeats", "requested")}
    return dict(sorted(fams.items()))


def _shares(rows: dict[str, Any], basis: dict[str, str | None]) -> None:
    """share_before / share_after in % of the column totals, in place (families after summing)."""
    before_key = {"tokens": "tokens_available", "chars": "chars_before"}.get(basis["before"] or "")
    total_before = sum(r[before_key] or 0 for r in rows.values()) if before_key else 0
    total_after = sum(r["tokens_chosen"] or 0 for r in rows.values())
    for r in rows.values():
        r["share_before"] = _pct(r[before_key] or 0, total_before) if before_key else None
        r["share_after"] = _pct(r["tokens_chosen"] or 0, total_after) if basis["after"] else None


def _funnel(stages: dict[str, Any]) -> list[dict[str, Any]]:
    """Documents into and out of every stage that counts documents, with removals by reason (summed over
    languages) and exact tokens where a stage has them."""
    out = []
    for name, st in stages.items():
        if not st["by_lang"]:
            continue
        by = st["by_lang"].values()
        tokens = None
        if name == "balance":
            tokens = sum(_per_lang(st["counters"], "tokens", "chosen").values())
        elif name == "shards":
            tokens = sum(_per_lang(st["counters"], "tokens", "written").values())
        out.append({
            "stage": name,
            "shards": st["shards"],
            "docs_in": st["docs_in"],
            "docs_out": st["docs_out"],
            "chars_in": sum(c["chars_in"] for c in by),
            "chars_out": sum(c["chars_out"] for c in by),
            "bytes_out": sum(c["bytes_out"] for c in by),
            "tokens_out": tokens,
            "removed": {r: sum(v.values()) for r, v in st["removed"].items()},
            "unit": "rows (one per repeat)" if name == "shards" else "documents",
        })  # fmt: skip
    return out


def collect(work_dir: str) -> dict[str, Any]:
    """Everything `polyglot stats` shows, as one JSON-serializable dict (what ``--json`` prints).

    Keys: ``stages`` (per stage with shard records: shards, docs in/out, ``by_lang``, ``removed`` {reason: {lang: n}},
    ``counters``), ``substages`` (the same for ``<stage>/<sub>`` records), ``steps`` ({stage: {step: summary}} of the
    corpus-wide steps), ``languages`` and ``families`` (sizes per stage, exact tokens, shares, removals),
    ``share_basis``, ``family_source``, ``funnel``, ``tokenizer``, ``balance``, ``shards``,
    ``filter_measurements`` (`filter_measurements`; each None when absent), ``failed`` (one entry per shard with an
    error file: stage, shard, error, time, attempts, host) and ``throughput`` (per stage: worker-seconds, documents
    and MB read per worker-second, peak RSS, nodes).
    """
    stages: dict[str, Any] = {}
    substages: dict[str, Any] = {}
    steps: dict[str, dict[str, Any]] = {}
    failed: list[dict[str, Any]] = []
    for stage in _stage_dirs(work_dir):
        base = join(work_dir, STATE_DIR, stage)
        files = list_files(base, ".json")
        records = [p for p in files if not p.endswith(ERROR_SUFFIX)]
        failed.extend(_failures(work_dir, stage, [p for p in files if p.endswith(ERROR_SUFFIX)]))
        if records:
            stages[stage] = _sum_records(records)
        for sub in _subdirs(base):
            paths = list_files(join(base, sub), ".json")
            if sub == GLOBAL_DIR:
                for path in paths:
                    rec = read_json(path)
                    summary = {k: _finite(v) for k, v in rec.get("stats", {}).items() if k != "by_lang"}
                    steps.setdefault(stage, {})[rec.get("step") or path.rsplit("/", 1)[-1][:-5]] = summary
            elif paths:
                substages[f"{stage}/{sub}"] = _sum_records(paths)

    plan = _read_optional(join(work_dir, "balance", "plan.json"))
    manifest = _read_optional(join(work_dir, "shards", "manifest.json"))
    tok_report = _read_optional(join(work_dir, "tokenizer", "report.json"))

    train = _train_step_stats(work_dir)
    lang_part = _languages(stages, substages, plan, manifest, tok_report, train)
    chosen_records = _per_lang(stages["balance"]["counters"], "tokens", "chosen") if "balance" in stages else None
    balance = _balance_section(plan, steps.get("balance", {}).get("plan"), chosen_records)
    families = _families(lang_part["languages"], balance)
    _shares(families, lang_part["share_basis"])
    return {
        "work_dir": work_dir,
        "stages": stages,
        "substages": substages,
        "steps": steps,
        "funnel": _funnel(stages),
        "failed": failed,
        "throughput": _throughput(stages),
        "languages": lang_part["languages"],
        "families": families,
        "family_source": lang_part["family_source"],
        "share_basis": lang_part["share_basis"],
        "doc_stages": lang_part["doc_stages"],
        "last_doc_stage": lang_part["last_doc_stage"],
        "tokenizer": _tokenizer_section(tok_report, train),
        "balance": balance,
        "shards": _shards_section(manifest, stages.get("shards")),
        "filter_measurements": filter_measurements(work_dir, stages.get("filter", {}).get("removed")),
    }


def _train_step_stats(work_dir: str) -> dict[str, Any] | None:
    """The tokenizer train step's full stats (with its per-language composition, left out of ``steps``)."""
    rec = _read_optional(join(work_dir, STATE_DIR, "tokenizer", GLOBAL_DIR, "train.json"))
    return rec.get("stats") if rec else None


# ---------------------------------------------------------------------------------------------- filter measurements
#
# The filter stage's attributes files (`attributes/filter/<shard>.parquet`: doc_id, lang, filter_reason and one float
# column per measurement ``<family>.<metric>``, the thresholds per language in the schema metadata) summed per
# language into fixed-bin histograms. Fixed bins per measurement make a shard's counts add to the next one's: one
# streaming pass over a few numeric columns (no text), memory bounded by languages x measurements x bins.

ATTRIBUTES_DIR = ("attributes", "filter")
THRESHOLDS_KEY = b"polyglot.thresholds"
#: Files read at most, evenly spaced in name order (a crawl has thousands; the report says how many were read).
MEASUREMENT_MAX_FILES = 256
#: Measurements shown per language at most, and bins per histogram at most (adjacent bins merged to fit).
MAX_MEASUREMENTS = 12
MAX_BINS = 30
#: Shown for every language that has them, in this order ("{n}": the smallest n-gram size the language uses,
#: "*": every match). The rules that removed a language's documents come first, up to `MAX_MEASUREMENTS`.
MAIN_MEASUREMENTS = (
    "page.prose", "page.prose_frac", "gopher_quality.words", "gopher_quality.stop_words",
    "gopher_quality.alpha_words_frac", "gopher_repetition.top_{n}_gram_char_frac",
    "gopher_repetition.dup_{n}_gram_char_frac", "fineweb.line_punct_frac", "fineweb.dup_line_char_frac",
    "badwords.*_per_1000",
)  # fmt: skip
#: Rule families in the order the filter runs them (`pipeline.filter.rules.FAMILIES`): the display order.
FAMILY_ORDER = ("badwords", "page", "gopher_repetition", "gopher_quality", "c4", "fineweb", "custom")
_META_COLUMNS = ("doc_id", "lang", "filter_reason")
_NGRAM = re.compile(r"^gopher_repetition\.(top|dup)_(\d+)_gram_char_frac$")

_R10 = (1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8)


def _r10(lo: int, hi: int) -> list[float]:
    """Renard R10 numbers (10 per decade, ~26 % apart) from 10^lo to 10^hi."""
    return [float(f"{m}e{e}") for e in range(lo, hi) for m in _R10] + [float(f"1e{hi}")]


#: Bin edges per scale. ``frac``: 0-1 in steps of 0.025; ``count``: 0-10 in steps of 1, then R10 up to 10^7 (no
#: empty bins between integers); ``log``: R10 from 10^-4 to 10^4 (small rates and fractions whose threshold is near
#: 0). Values <= 0 of ``count`` and ``log`` measurements are counted apart (``zero``); values outside a scale's
#: range count in its first or last bin (``min`` and ``max`` are exact).
SCALE_EDGES: dict[str, np.ndarray] = {
    "frac": np.round(np.linspace(0.0, 1.0, 41), 6),
    "count": np.array([float(i) for i in range(10)] + _r10(1, 7)),
    "log": np.array(_r10(-4, 4)),
}
#: Scales of the measurements whose name does not say (`measurement_scale`).
SCALES = {
    "fineweb.dup_line_char_frac": "log",
    "gopher_quality.mean_word_length": "log",
    "gopher_quality.hash_ratio": "log",
    "gopher_quality.ellipsis_ratio": "log",
    "fineweb.newlines_per_word": "log",
    "page.url_tokens_per_unit": "log",
}


def measurement_scale(column: str) -> str:
    """The histogram scale of a measurement: ``frac`` for fractions of a page (0-1), ``log`` for rates and
    fractions whose threshold sits near 0, ``count`` for counts of units, lines, sentences or hits."""
    if column in SCALES:
        return SCALES[column]
    if column.endswith(("_per_1000", "_per_unit", "_per_word", "_ratio")):
        return "log"
    return "frac" if column.endswith("_frac") else "count"


def _sig(x: float, digits: int = 4) -> float:
    """A float cut to a few significant digits (JSON size; edges like 3.15 stay exact)."""
    return float(f"{x:.{digits}g}")


class _Measurement:
    """One language's measurement summed over the files read: full-resolution bins, counts, thresholds."""

    def __init__(self, column: str) -> None:
        self.scale = measurement_scale(column)
        self.edges = SCALE_EDGES[self.scale]
        self.counts = np.zeros(len(self.edges) - 1, np.int64)
        self.zero = 0
        self.docs = 0
        self.failing = 0
        self.removed = 0
        self.lo = math.inf
        self.hi = -math.inf
        #: (rule, op, threshold) -> shards (attributes files) that compared the language's measurement with it.
        self.thresholds: dict[tuple[str | None, str | None, float | None], int] = {}

    def add(self, values: np.ndarray, reasons: list[str | None], rule: dict[str, Any] | None) -> None:
        """Float32 values (NaN: not measured) of one batch's documents of the language, their filter reasons and
        the rule in force for them (None: the file names no threshold)."""
        ok = ~np.isnan(values)
        v = values[ok]
        self.docs += int(v.size)
        if v.size:
            self.lo = min(self.lo, float(v.min()))
            self.hi = max(self.hi, float(v.max()))
            if self.scale != "frac":
                nonpos = v <= 0
                self.zero += int(nonpos.sum())
                v = v[~nonpos]
            idx = np.clip(np.searchsorted(self.edges, v, side="right") - 1, 0, len(self.counts) - 1)
            self.counts += np.bincount(idx, minlength=len(self.counts))
        if rule is None:
            return
        threshold = rule.get("threshold")
        if threshold is not None and rule.get("op") and values.size:
            # In float32, as stored: a fraction equal to its threshold (0.2 = 1/5) passed and must not fail here.
            t = np.float32(threshold)
            fails = values[ok] > t if rule.get("op") == "max" else values[ok] < t
            self.failing += int(fails.sum())
        name = rule.get("rule")
        if name:
            self.removed += sum(1 for r in reasons if r == name)

    def merge(self, other: _Measurement) -> None:
        """Add another file's counts (a file is added only once it has been read to the end)."""
        self.counts += other.counts
        self.zero += other.zero
        self.docs += other.docs
        self.failing += other.failing
        self.removed += other.removed
        self.lo, self.hi = min(self.lo, other.lo), max(self.hi, other.hi)
        for key, n in other.thresholds.items():
            self.thresholds[key] = self.thresholds.get(key, 0) + n

    def to_dict(self) -> dict[str, Any]:
        ranked = sorted(self.thresholds.items(), key=lambda kv: (-kv[1], str(kv[0])))
        thresholds = [{"rule": r, "op": op, "threshold": t, "shards": n} for (r, op, t), n in ranked if r]
        known = bool(thresholds) and all(t["op"] for t in thresholds)
        return {
            "rule": thresholds[0]["rule"] if thresholds else None,
            "op": thresholds[0]["op"] if thresholds else None,
            "thresholds": thresholds,
            "shards_without_threshold": sum(n for (r, _, _), n in ranked if not r),
            "docs": self.docs,
            "failing": self.failing if known else None,
            "failing_pct": _pct(self.failing, self.docs) if known else None,
            "removed": self.removed if known else None,
            "median": self._median(),
            "min": _sig(self.lo, 6) if self.docs else None,
            "max": _sig(self.hi, 6) if self.docs else None,
            "histogram": self._histogram([t["threshold"] for t in thresholds if t["threshold"] is not None]),
        }

    def _median(self) -> float | None:
        """The median estimated from the full-resolution bins (interpolated inside its bin: linearly, or
        geometrically on the log scale), within the exact min and max."""
        half = self.docs / 2
        if not self.docs:
            return None
        if self.zero >= half:
            return _sig(min(max(0.0, self.lo), self.hi))
        cum = float(self.zero)
        for i, n in enumerate(self.counts):
            if n and cum + n >= half:
                a, b = float(self.edges[i]), float(self.edges[i + 1])
                f = (half - cum) / n
                x = a * (b / a) ** f if self.scale == "log" else a + f * (b - a)
                return _sig(min(max(x, self.lo), self.hi))
            cum += n
        return _sig(self.hi)

    def _histogram(self, thresholds: list[float]) -> dict[str, Any]:
        """The occupied bins (widened to take in the thresholds), adjacent bins merged k at a time (k aligned on
        multiples of k, so edges stay round) until at most `MAX_BINS` remain."""
        nbins = len(self.counts)
        occupied = np.flatnonzero(self.counts)
        idx = [int(occupied[0]), int(occupied[-1])] if occupied.size else []
        for t in thresholds:
            if self.scale == "frac" or t > 0:
                idx.append(int(np.clip(np.searchsorted(self.edges, t, side="right") - 1, 0, nbins - 1)))
        out: dict[str, Any] = {"scale": self.scale, "edges": [], "counts": []}
        if self.scale != "frac":
            out["zero"] = self.zero
        if not idx:
            return out
        lo, hi = min(idx), max(idx)
        k = next(k for k in (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 40) if (hi // k - lo // k + 1) <= MAX_BINS)
        starts = range(lo // k * k, hi + 1, k)
        bounds = [*starts, min(starts[-1] + k, nbins)]
        out["edges"] = [_sig(float(self.edges[s]), 6) for s in bounds]
        out["counts"] = [int(self.counts[s : s + k].sum()) for s in starts]
        return out


def _spread(items: list[str], limit: int) -> list[str]:
    """At most `limit` items evenly spaced over the list (all when it is short enough), in order."""
    if len(items) <= limit:
        return items
    return [items[(i * len(items)) // limit] for i in range(limit)]


def _base_columns(available: set[str]) -> list[str]:
    """`MAIN_MEASUREMENTS` resolved against the columns a language has, in order."""
    out: list[str] = []
    ngrams: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for col in available:
        m = _NGRAM.match(col)
        if m:
            ngrams[m.group(1)].append((int(m.group(2)), col))
    for pattern in MAIN_MEASUREMENTS:
        if "{n}" in pattern:
            kind = "top" if ".top_" in pattern else "dup"
            if ngrams.get(kind):
                out.append(min(ngrams[kind])[1])
        elif "*" in pattern:
            out += sorted(c for c in available if fnmatch.fnmatchcase(c, pattern))
        elif pattern in available:
            out.append(pattern)
    return out


def _select(available: set[str], rules: dict[str, str], removed: dict[str, int]) -> list[str]:
    """A language's measurements: the columns of the rules that removed its documents (most removals first), then
    `MAIN_MEASUREMENTS`; at most `MAX_MEASUREMENTS`, in the filter's family order."""
    by_removals = [rules[r] for r, _ in sorted(removed.items(), key=lambda kv: (-kv[1], kv[0])) if r in rules]
    base = _base_columns(available)
    chosen = list(dict.fromkeys(c for c in by_removals + base if c in available))[:MAX_MEASUREMENTS]
    family = {f: i for i, f in enumerate(FAMILY_ORDER)}
    rank = {c: i for i, c in enumerate(base)}
    return sorted(chosen, key=lambda c: (family.get(c.split(".", 1)[0], len(family)), rank.get(c, len(rank)), c))


def _file_thresholds(schema: pa.Schema) -> dict[str, dict[str, dict[str, Any]]] | None:
    """The ``polyglot.thresholds`` metadata of an attributes file ({lang: {column: rule}}), None when absent."""
    raw = (schema.metadata or {}).get(THRESHOLDS_KEY)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        return None
    return data if isinstance(data, dict) else None


def filter_measurements(work_dir: str, removed: dict[str, dict[str, int]] | None = None,
                        max_files: int = MEASUREMENT_MAX_FILES) -> dict[str, Any] | None:  # fmt: skip
    """Per language, histograms of the filter's main measurements with the thresholds in force, the documents
    measured and how many fail each rule, from ``attributes/filter/*.parquet`` (None when there are none).

    `removed` is the filter stage's ``{reason: {lang: n}}`` from its records: the rules that removed a language's
    documents are shown for it. Reads only ``lang``, ``filter_reason`` and the chosen measurement columns, batch by
    batch. ``failing`` counts every measured document beyond the threshold (the filter stops at the first failing
    rule, so a document can fail several); ``removed`` those this rule removed.
    """
    files = list_files(join(work_dir, *ATTRIBUTES_DIR), ".parquet")
    if not files:
        return None
    per_lang_removed: dict[str, dict[str, int]] = defaultdict(dict)
    for reason, per in (removed or {}).items():
        for lang, n in per.items():
            per_lang_removed[lang][reason] = n
    read = _spread(files, max_files)
    total: dict[str, _Language] = {}
    unreadable: list[str] = []
    for url in read:
        try:
            with open_input(url) as f:
                found = _read_attributes(f, per_lang_removed)
        except (OSError, ValueError, pa.ArrowException) as e:
            unreadable.append(f"{url.rsplit('/', 1)[-1]}: {e}")
            continue
        for lang, part in found.items():
            total.setdefault(lang, _Language()).merge(part)
    languages: dict[str, Any] = {}
    for lang in sorted(total, key=lambda x: (-total[x].docs, x)):
        acc = total[lang]
        measured = {c for c, m in acc.measurements.items() if m.docs}
        chosen = _select(measured & acc.available, acc.rules, per_lang_removed.get(lang, {}))
        languages[lang] = {
            "docs": acc.docs,
            "removed": acc.removed,
            "measurements": {c: acc.measurements[c].to_dict() for c in chosen},
        }
    return {
        "source": "/".join(ATTRIBUTES_DIR),
        "files": len(files),
        "files_read": len(read) - len(unreadable),
        "unreadable": unreadable[:10],
        "languages": languages,
    }


def _rule_in_force(entry: dict[str, Any]) -> dict[str, Any]:
    """A metadata entry as {rule, op, threshold}: op "max" or "min" (else None), a finite number or None."""
    t = entry.get("threshold")
    ok = isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t)
    op = entry.get("op")
    return {"rule": str(entry.get("rule") or "") or None, "op": op if op in ("max", "min") else None,
            "threshold": t if ok else None}  # fmt: skip


class _Language:
    """One language's documents in the files read, and its candidate measurements."""

    def __init__(self) -> None:
        self.docs = 0
        self.removed = 0
        self.available: set[str] = set()
        self.rules: dict[str, str] = {}  # rule -> column
        self.measurements: dict[str, _Measurement] = {}

    def merge(self, other: _Language) -> None:
        self.docs += other.docs
        self.removed += other.removed
        self.available |= other.available
        self.rules.update(other.rules)
        for col, m in other.measurements.items():
            if col in self.measurements:
                self.measurements[col].merge(m)
            else:
                self.measurements[col] = m


def _read_attributes(f: Any, removed: dict[str, dict[str, int]]) -> dict[str, _Language]:
    """One attributes file per language: its documents, and its candidate columns (`_select` without the cap, so
    the final choice takes the union over files) read batch by batch."""
    pf = pq.ParquetFile(f)
    schema = pf.schema_arrow
    if "lang" not in schema.names:
        return {}
    names = set(schema.names) - set(_META_COLUMNS)
    meta = _file_thresholds(schema) or {}
    has_reason = "filter_reason" in schema.names
    head = pf.read(columns=["lang", "filter_reason"] if has_reason else ["lang"])
    langs = [x or "und" for x in head.column("lang").to_pylist()]
    reasons = head.column("filter_reason").to_pylist() if has_reason else [None] * len(langs)
    rows: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(langs):
        rows[lang].append(i)
    out: dict[str, _Language] = {}
    in_force: dict[str, dict[str, dict[str, Any] | None]] = {}
    for lang, idx in rows.items():
        acc = out[lang] = _Language()
        acc.docs = len(idx)
        acc.removed = sum(1 for i in idx if reasons[i] is not None)
        per = meta.get(lang) if isinstance(meta.get(lang), dict) else None
        acc.available = set(per) & names if per is not None else set(names)
        named = {c: _rule_in_force(r) for c, r in (per or {}).items() if c in acc.available and isinstance(r, dict)}
        acc.rules = {r["rule"]: c for c, r in named.items() if r.get("rule")}
        cand = set(_base_columns(acc.available)) | {acc.rules[r] for r in removed.get(lang, {}) if r in acc.rules}
        in_force[lang] = {c: named.get(c) for c in cand}
        for col in cand:
            m = acc.measurements[col] = _Measurement(col)
            rule = named.get(col)
            m.thresholds[(rule.get("rule"), rule.get("op"), rule.get("threshold")) if rule else (None, None, None)] = 1
    wanted = sorted({c for cols in in_force.values() for c in cols})
    if not wanted:
        return out
    index = {lang: np.array(idx, np.int64) for lang, idx in rows.items()}
    offset = 0
    for batch in pf.iter_batches(batch_size=65_536, columns=wanted):
        end = offset + batch.num_rows
        parts = {lang: idx[(idx >= offset) & (idx < end)] - offset for lang, idx in index.items()}
        part_reasons = {lang: [reasons[offset + i] for i in part.tolist()] for lang, part in parts.items()}
        for col in wanted:
            column = batch.column(col)
            if pa.types.is_null(column.type):
                values = np.full(batch.num_rows, np.nan, np.float32)
            else:
                values = column.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
            for lang, part in parts.items():
                if part.size and col in in_force[lang]:
                    out[lang].measurements[col].add(values[part], part_reasons[lang], in_force[lang][col])
        offset = end
    return out

# -------------------------------------------------------------------------------------------------------- render


def abbreviate(n: float | None) -> str:
    """12,345 as is; larger as 3 significant digits with k/M/B/T (123k, 1.23M); None as '-'."""
    if n is None:
        return "-"
    a = abs(n)
    if a < 100_000:
        return f"{n:,.0f}" if isinstance(n, int) or float(n).is_integer() else f"{n:,.2f}"
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            v = n / div
            return f"{v:.3g}{suffix}" if abs(v) < 1000 else f"{v:,.0f}{suffix}"
    return f"{n:,}"


def _fmt(n: int) -> str:
    return f"{n:,}"


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def _ratio(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _table(title: str, columns: list[tuple[str, str]]) -> Table:
    """A table whose text columns ("l") never wrap codes and whose number columns ("r") are right-aligned."""
    t = Table(title=title, title_justify="left", title_style="bold", header_style="bold", box=box.SIMPLE_HEAVY,
              show_edge=False, collapse_padding=True)  # fmt: skip
    for name, kind in columns:
        if kind == "r":
            t.add_column(name, justify="right", no_wrap=True)
        elif kind == "code":
            t.add_column(name, no_wrap=True)
        else:
            t.add_column(name, overflow="fold")
    return t


def _top_reasons(removed: dict[str, int], limit: int = 3) -> str:
    """The largest removal reasons, one per line, and how many more there are."""
    items = sorted(removed.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"{r} {n:,}" for r, n in items[:limit]]
    if len(items) > limit:
        lines.append(f"+{len(items) - limit} more reasons")
    return "\n".join(lines)


def _render_funnel(report: dict[str, Any], console: Console) -> None:
    t = _table(f"Pipeline funnel — {report['work_dir']}",
               [("stage", "code"), ("shards", "r"), ("docs in", "r"), ("docs out", "r"), ("kept", "r"),
                ("chars out", "r"), ("tokens", "r"), ("removed", "r"), ("top reasons", "l")])  # fmt: skip
    for f in report["funnel"]:
        kept = f"{100 * f['docs_out'] / f['docs_in']:.1f}%" if f["docs_in"] else "-"
        removed = sum(f["removed"].values())
        reasons = _top_reasons(f["removed"]) if removed else "-"
        name = f["stage"] + (" (rows)" if f["stage"] == "shards" else "")
        t.add_row(name, _fmt(f["shards"]), abbreviate(f["docs_in"]), abbreviate(f["docs_out"]), kept,
                  abbreviate(f["chars_out"]), abbreviate(f["tokens_out"]), abbreviate(removed), reasons)  # fmt: skip
    console.print(t)


def _render_docs_per_stage(report: dict[str, Any], console: Console) -> None:
    stages = report["doc_stages"]
    if not stages or not report["languages"]:
        return
    t = _table("Documents per language after each stage (shards: rows, one per repeat)",
               [("lang", "code"), ("family", "code"), *((s, "r") for s in stages)])  # fmt: skip
    for lang, row in report["languages"].items():
        t.add_row(lang, row["family"] or "-", *(abbreviate(row["docs"].get(s, 0)) for s in stages))
    console.print(t)


def _size_columns() -> list[tuple[str, str]]:
    return [("docs", "r"), ("chars", "r"), ("bytes", "r"), ("tokens", "r"), ("chars/\ntoken", "r"),
            ("share\nbefore", "r"), ("tokens\nchosen", "r"), ("repeats", "r"), ("share\nafter", "r")]  # fmt: skip


def _size_cells(row: dict[str, Any]) -> list[str]:
    return [abbreviate(row["docs_before"]), abbreviate(row["chars_before"]), abbreviate(row["bytes_before"]),
            abbreviate(row["tokens_available"]), _ratio(row.get("chars_per_token")), _share(row["share_before"]),
            abbreviate(row["tokens_chosen"]), _ratio(row["repeats"]), _share(row["share_after"])]  # fmt: skip


def size_caption(report: dict[str, Any]) -> str:
    """What the size columns mean, for this report (tokens or not yet)."""
    basis = report["share_basis"]
    text = f"docs, chars, bytes: after {report['last_doc_stage'] or '-'} (estimates of size); "
    if basis["before"] == "tokens":
        text += "tokens: exact, counted by balance with the shared tokenizer; share before: of the tokens available; "
    else:
        text += "no token counts yet (balance has not run): share before is of the characters; "
    if basis["after"]:
        text += "tokens chosen, repeats and share after: after balancing, repeats included; "
    return text + f"family from {report['family_source'] or '-'}."


def _render_languages(report: dict[str, Any], console: Console) -> None:
    if not report["languages"]:
        return
    t = _table("Size per language, before and after balancing",
               [("lang", "code"), ("family", "code"), *_size_columns()])
    t.caption = size_caption(report)
    t.caption_justify = "left"
    for lang, row in sorted(report["languages"].items(), key=lambda kv: (kv[1]["family"] or "~", kv[0])):
        fam = (row["family"] or "-") + (" (excl.)" if row["excluded"] else "")
        t.add_row(lang, fam, *_size_cells(row))
    console.print(t)
    f = _table("Size per family, before and after balancing", [("family", "code"), ("langs", "r"), *_size_columns()])
    for name, row in report["families"].items():
        f.add_row(name, str(len(row["languages"])), *_size_cells(row))
    console.print(f)


def _render_removals(report: dict[str, Any], console: Console) -> None:
    rows = [(s, st) for s, st in report["stages"].items() if st["removed"]]
    if not rows:
        return
    t = _table("Removed documents by stage, reason and language",
               [("stage", "code"), ("reason", "code"), ("total", "r"), ("by language", "l")])
    for stage, st in rows:
        for i, (reason, per) in enumerate(sorted(st["removed"].items(), key=lambda kv: -sum(kv[1].values()))):
            langs = ", ".join(f"{lang} {n:,}" for lang, n in sorted(per.items(), key=lambda kv: (-kv[1], kv[0])))
            t.add_row(stage if i == 0 else "", reason, _fmt(sum(per.values())), langs)
        t.add_section()
    console.print(t)


def _num(x: float | None) -> str:
    """A measurement or threshold in 3 significant digits ('-' for none)."""
    return "-" if x is None else f"{x:.3g}"


def _thresholds_cell(m: dict[str, Any]) -> str:
    """'< 20.4' (fails below) or '> 0.2' (fails above); every value when shards differ; 'off' when none."""
    values = [t["threshold"] for t in m["thresholds"]]
    if not values:
        return "-"
    sign = {"max": "> ", "min": "< "}.get(m.get("op") or "", "")
    return sign + " | ".join("off" if v is None else _num(v) for v in values)


def _render_filter_measurements(report: dict[str, Any], console: Console, limit: int = 3) -> None:
    """Per language, the measurements most documents fail: failing share, threshold and median (histograms and
    every measurement are in --json and --html)."""
    fm = report.get("filter_measurements")
    if not fm or not fm["languages"]:
        return
    t = _table("Filter measurements per language: most failed rules",
               [("lang", "code"), ("docs", "r"), ("removed", "r"), ("failing: share, threshold, median", "l")])
    t.caption = (f"from {fm['source']} ({fm['files_read']} of {fm['files']} files). A document fails a rule when "
                 "its measurement is beyond the threshold (the filter removes it for the first one); every "
                 "measurement with histograms: --json, --html")  # fmt: skip
    t.caption_justify = "left"
    for lang, row in fm["languages"].items():
        failing = sorted(((c, m) for c, m in row["measurements"].items() if m["failing"]),
                         key=lambda cm: (-cm[1]["failing"], cm[0]))  # fmt: skip
        lines = [f"{c} {_share(m['failing_pct'])} ({_thresholds_cell(m)}, median {_num(m['median'])})"
                 for c, m in failing[:limit]]  # fmt: skip
        if len(failing) > limit:
            lines.append(f"+{len(failing) - limit} more failing")
        t.add_row(lang, abbreviate(row["docs"]), abbreviate(row["removed"]), "\n".join(lines) or "-")
    console.print(t)


def _render_counters(report: dict[str, Any], console: Console) -> None:
    for name, st in report["stages"].items():
        flat, grouped = split_counters(st["counters"])
        if flat:
            console.print(Text.assemble((f"{name}: ", "bold"), ", ".join(f"{k} {v:,}" for k, v in flat.items())))
        for group, table in grouped.items():
            if (name, group) in TOKEN_GROUPS:
                continue
            kinds = sorted({k for per in table.values() for k in per})
            title = f"{name}: {group.replace('_', ' ')} per language"
            g = _table(title, [("lang", "code"), *((k, "r") for k in kinds)])
            for lang, per in sorted(table.items()):
                g.add_row(lang, *(_fmt(per.get(k, 0)) for k in kinds))
            console.print(g)
    for stage, steps in report["steps"].items():
        for step, summary in steps.items():
            flat = ", ".join(f"{k} {step_value_text(v)}" for k, v in summary.items() if step_value_text(v))
            console.print(Text.assemble((f"{stage} {step}: ", "bold"), flat or "-"))


def step_value_text(v: Any) -> str:
    """A step summary value worth a place on one line: numbers, booleans, short strings ('' otherwise)."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float)):
        return abbreviate(v)
    return v if isinstance(v, str) and len(v) <= 24 else ""


def _render_tokenizer(report: dict[str, Any], console: Console) -> None:
    tok = report["tokenizer"]
    if not tok:
        return
    names = list(tok["ratio"])
    rows = {lang: r for lang, r in tok["by_lang"].items() if r.get("chars_per_token")}
    if rows:
        cols: list[tuple[str, str]] = [("lang", "code"), ("family", "code")]
        cols += [(f"chars/token\n{n}", "r") for n in names] + [(f"tokens/sent.\n{n}", "r") for n in names]
        cols += [("sample\nchars", "r")]
        t = _table("Shared tokenizer on parallel text (balanced vs unbalanced training sample)", cols)
        for lang, r in rows.items():
            t.add_row(lang, r.get("family") or "-", *(_ratio(r["chars_per_token"].get(n)) for n in names),
                      *(_ratio(r["tokens_per_sentence"].get(n), 1) for n in names),
                      abbreviate(r["sample_chars"].get("balanced")))  # fmt: skip
        console.print(t)
    ratios = ", ".join(f"{n} {_ratio(v, 3)}" for n, v in tok["ratio"].items())
    line = f"tokenizer: parity ratio (max/min tokens per sentence) {ratios or '-'}"
    target = tok.get("target")
    if target:
        met = "met" if target.get("met") else "NOT met"
        line += f"; target <= {target.get('max_ratio')} and below unbalanced: {met}"
    idp = tok.get("id_parity") or {}
    if idp.get("identical") is not None:
        line += f"; HF ids {'identical' if idp['identical'] else 'DIFFERENT'} on {idp.get('documents') or 0:,} docs"
    console.print(line, highlight=False, markup=False)


def _render_balance_and_shards(report: dict[str, Any], console: Console) -> None:
    b = report["balance"]
    if b:
        console.print(
            f"balance: {abbreviate(b.get('available_total'))} tokens available -> target "
            f"{abbreviate(b.get('target_total'))}, achieved {abbreviate(b.get('achieved_total'))} (requested total "
            f"{abbreviate(b.get('requested_total')) if b.get('requested_total') else 'none: data-limited'})",
            highlight=False, markup=False,
        )  # fmt: skip
        for w in b["warnings"]:
            console.print(f"balance warning: {w}", style="yellow", highlight=False, markup=False)
        for n in b["notes"]:
            console.print(f"balance note: {n}", style="dim", highlight=False, markup=False)
    s = report["shards"]
    if s:
        size = f", {abbreviate(s['bytes'])} bytes" if s.get("bytes") else ""
        vocab = f"; vocabulary {s['vocab_size']:,} ({s['ids_dtype']})" if s.get("vocab_size") else ""
        console.print(
            f"shards: {s['num_shards']} files, {abbreviate(s['rows'])} rows, {abbreviate(s['tokens'])} tokens"
            f"{size}{vocab}",
            highlight=False, markup=False,
        )


def _render_failed(report: dict[str, Any], console: Console) -> None:
    failed = report.get("failed") or []
    if not failed:
        return
    t = _table(f"Failed shards ({len(failed)}; details and tracebacks in the error files)",
               [("stage", "code"), ("shard", "code"), ("error", "l"), ("attempts", "r"), ("host", "code"),
                ("time", "code"), ("file", "l")])  # fmt: skip
    for f in failed:
        error = f["error"] if len(f["error"]) <= 160 else f["error"][:157] + "..."
        t.add_row(f["stage"], f["shard_id"], Text(error), str(f["attempts"] or "-"), f["host"] or "-",
                  f["time"] or "-", Text(f["file"]))  # fmt: skip
    console.print(t)


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.1f}"


def _render_throughput(report: dict[str, Any], console: Console) -> None:
    rows = report.get("throughput") or {}
    if not rows:
        return
    t = _table("Throughput per stage (per worker, from the shard records; skipped shards keep the figures of "
               "the run that made them)",
               [("stage", "code"), ("shards", "r"), ("worker-s", "r"), ("docs/s", "r"), ("MB/s", "r"),
                ("peak RSS MB", "r"), ("nodes", "r")])  # fmt: skip
    for name, r in rows.items():
        t.add_row(name, _fmt(r["shards_timed"]), f"{r['worker_seconds']:,.1f}", _rate(r["docs_per_s"]),
                  _rate(r["mb_per_s"]), f"{r['peak_rss_mb']:,.0f}", str(r["nodes"]))  # fmt: skip
    console.print(t)


def render(report: dict[str, Any], console: Console) -> None:
    """Rich tables: funnel with removals, documents per language and stage, sizes (estimates) and tokens (exact)
    with shares before and after balancing per language and family, removals by reason and language, the filter
    measurements that fail, PII / C4 / other counter tables, tokenizer parity, balance warnings and the shards."""
    if not any(report.get(k) for k in ("stages", "tokenizer", "balance", "shards", "filter_measurements", "failed")):
        console.print(f"no completed shards below {report['work_dir']} (nothing has run yet?)", markup=False)
        return
    _render_failed(report, console)
    if not any(report.get(k) for k in ("stages", "tokenizer", "balance", "shards", "filter_measurements")):
        return  # failures only: nothing completed yet
    _render_funnel(report, console)
    _render_docs_per_stage(report, console)
    _render_languages(report, console)
    _render_removals(report, console)
    _render_filter_measurements(report, console)
    _render_counters(report, console)
    _render_tokenizer(report, console)
    _render_balance_and_shards(report, console)
    _render_throughput(report, console)


# ------------------------------------------------------------------------------------------------ dataset card


def dataset_card(manifest: dict[str, Any], plan: dict[str, Any]) -> str:
    """README.md beside the shards: what they are, per-language and per-family tables, how to load them."""
    total = manifest["tokens"] or 1
    avail = manifest["balance"]["available_tokens"]
    families = manifest["families"]
    fam_plan = plan["plan"]["families"]
    tok = manifest["tokenizer"]
    lines = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        '    path: "shard-*.arrow"',
        "---",
        "",
        "# Training shards",
        "",
        f"{manifest['num_shards']} Arrow IPC stream files, {manifest['rows']:,} rows, {manifest['tokens']:,} tokens: "
        f"ceil(tokens / {manifest['shard_tokens']:,}) shards, assigned by a seeded hash (seed {manifest['seed']}), so "
        "each holds about tokens / shards. "
        "Each row is one copy of a document: documents the balance plan repeats appear as several rows "
        "(`repeat` = 0, 1, ...), placed independently by the shuffle.",
        "",
        f"Tokenizer: SentencePiece, {tok['vocab_size']:,} pieces, sha256 `{tok['sha256']}`; `input_ids` are "
        f"{tok['ids_dtype']} (no BOS/EOS added; eos_id {tok['eos_id']}, bos_id {tok['bos_id']}, "
        f"pad_id {tok['pad_id']}).",
        "",
        f"Columns: {', '.join(f'`{c}`' for c in manifest['columns'])}.",
        "",
        "## Languages",
        "",
        "| family | language | rows | tokens | share | available tokens | repeats |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for lang in sorted(manifest["tokens_by_lang"], key=lambda x: (families.get(x, ""), x)):
        n = manifest["tokens_by_lang"][lang]
        a = avail.get(lang, 0)
        rows = manifest["rows_by_lang"].get(lang, 0)
        lines.append(
            f"| {families.get(lang, '')} | {lang} | {rows:,} | {n:,} | {n / total:.2%} | {a:,} "
            f"| {(n / a if a else 0):.2f} |"
        )
    lines += [
        "",
        "## Families",
        "",
        "| family | languages | tokens | share | requested share | repeats |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for fam, n in manifest["tokens_by_family"].items():
        fp = fam_plan.get(fam, {})
        members = [lang for lang in manifest["tokens_by_lang"] if families.get(lang) == fam]
        a = sum(avail.get(lang, 0) for lang in members)
        lines.append(
            f"| {fam} | {', '.join(members)} | {n:,} | {n / total:.2%} | {fp.get('share', 0):.2%} "
            f"| {(n / a if a else 0):.2f} |"
        )
    warnings = manifest["balance"]["warnings"]
    if warnings:
        lines += ["", "## Balance warnings", ""] + [f"- {w}" for w in warnings]
    lines += [
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
        'ds = datasets.load_dataset("arrow", data_files="shard-*.arrow", split="train")',
        'one = datasets.Dataset.from_file("shard-00000.arrow")',
        "",
        "from pipeline.training import PackedSequenceIterator",
        f'it = PackedSequenceIterator("manifest.json", seq_len=2048, eos_id={tok["eos_id"]})',
        "```",
        "",
        "`manifest.json` lists every shard with its rows, tokens per language and sha256.",
        "",
    ]
    mg = manifest.get("megatron")
    if mg:
        eod = f", each ended by the eos id {mg['eod_id']}" if mg["eod_id"] is not None else ", no end-of-document id"
        lines += [
            "## Megatron-LM / GPT-NeoX",
            "",
            f"`{mg['bin']['name']}` + `{mg['idx']['name']}` (indexed dataset, `MMIDIDX` index): the rows above in "
            f"shard order, one document per row, {mg['documents']:,} documents, {mg['tokens']:,} {mg['dtype']} "
            f"tokens{eod}. Data path (no suffix): `{mg['prefix']}`",
            "",
            f'- GPT-NeoX: `"data_path": "<this folder>/{mg["prefix"]}"`',
            f"- Megatron-LM: `--data-path <this folder>/{mg['prefix']}`",
            "",
        ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ orchestration


# ------------------------------------------------------------------------------------------ tokenizer report


def _pct_text(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def tokenizer_report_markdown(report: dict[str, Any]) -> str:
    """The human-readable report.md: parity of both tokenizers, sample composition, id parity."""
    s = report["settings"]
    lines = [
        f"# Shared tokenizer — {report['work_dir']}",
        "",
        f"{s['model_type']}, vocabulary {s['vocab_size']:,}, byte_fallback {s['byte_fallback']}, split_digits "
        f"{s['split_digits']}, character_coverage {s['character_coverage']}, normalization "
        f"{s['normalization_rule_name']} (per code point) after NFC, sample {report['sample_budget']:,} characters "
        f"({s['sample_fraction']:g} of the corpus, at most {s['sample_chars']:,}) at alpha {s['sampling_alpha']}, "
        f"seed {s['seed']}, {s['num_threads']} trainer threads. "
        f"Trained on {report['lines']['balanced']:,} lines from the `{report['upstream']}` output; "
        f"model sha256 `{report['model_sha256'][:16]}…`.",
        "",
        f"## Parity on parallel text ({report['parity_source']}, {report['parity_sentences']} sentences per language)",
        "",
    ]
    parity = report["parity"]
    bal = parity.get("balanced", {"by_lang": {}})
    unb = parity.get("unbalanced")
    comp = report["composition"]
    if bal["by_lang"]:
        head = "| lang | family | tokens/sentence | chars/token |"
        rule = "|---|---|---:|---:|"
        if unb:
            head += " unbalanced tokens/sentence | unbalanced chars/token |"
            rule += "---:|---:|"
        lines += [head, rule]
        for lang, row in bal["by_lang"].items():
            line = f"| {lang} | {comp.get(lang, {}).get('family', '-')} | {row['tokens_per_sentence']:.2f} | {row['chars_per_token']:.2f} |"
            if unb:
                u = unb["by_lang"][lang]
                line += f" {u['tokens_per_sentence']:.2f} | {u['chars_per_token']:.2f} |"
            lines.append(line)
        lines += ["", f"Parity ratio (max/min tokens per sentence): **{bal['ratio']:.3f}** "
                      f"({bal['most_expensive']} / {bal['cheapest']})"]
        if unb:
            lines[-1] += f"; unbalanced tokenizer {unb['ratio']:.3f} ({unb['most_expensive']} / {unb['cheapest']})"
        target = report["target"]
        lines += ["", f"Target (ratio <= {target['max_ratio']}, below the unbalanced one): "
                      f"**{'met' if target['met'] else 'NOT met'}**"]
    else:
        lines.append("No language of the corpus has parallel text: no parity measured.")
    lines += [
        "",
        "## Training sample",
        "",
        "Estimate = the upstream completion records; corpus = characters read; quota = what `training_quotas` "
        "asked for; drawn = the characters of the lines actually drawn (a document is drawn whole, so totals are "
        "near the quota, not on it).",
        "",
        "| lang | family | corpus chars (estimate) | corpus chars | quota | drawn | share | unbalanced quota | unbalanced drawn | share |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    total_b = sum(r["sample_chars"] for r in comp.values())
    total_u = sum(r["unbalanced_chars"] for r in comp.values())
    for lang, r in comp.items():
        lines.append(
            f"| {lang} | {r['family']} | {r['corpus_chars_estimate']:,} | {r['corpus_chars']:,} | {r['quota_chars']:,} | "
            f"{r['sample_chars']:,} | {_pct_text(r['sample_chars'], total_b)} | {r['unbalanced_quota_chars']:,} | "
            f"{r['unbalanced_chars']:,} | {_pct_text(r['unbalanced_chars'], total_u)} |"
        )
    lines += ["", "| family | corpus chars | share | drawn | share | unbalanced drawn | share |", "|---|---:|---:|---:|---:|---:|---:|"]
    total_c = sum(f["corpus_chars"] for f in report["families"].values())
    for fam, f in report["families"].items():
        lines.append(
            f"| {fam} | {f['corpus_chars']:,} | {_pct_text(f['corpus_chars'], total_c)} | {f['sample_chars']:,} | "
            f"{_pct_text(f['sample_chars'], total_b)} | {f['unbalanced_chars']:,} | {_pct_text(f['unbalanced_chars'], total_u)} |"
        )
    idp = report["id_parity"]
    lines += [
        "",
        "## Id parity (SentencePiece vs tokenizer.json)",
        "",
        f"{'Identical' if idp['identical'] else 'DIFFERENT'} ids on {idp['documents']:,} corpus documents (raw text, up "
        f"to {report['settings_stage']['verify_docs']:,} per language) and {idp['parallel_sentences']:,} parallel "
        f"sentences: {idp['characters']:,} characters, {idp['tokens']:,} tokens.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- orchestration


# ------------------------------------------------------------------------------------- the stages' summary lines


def components_note(summary: dict[str, Any]) -> str:
    """How dedup's clusters step found its components, for the summary line."""
    if summary.get("components") != "distributed":
        return "on the driver"
    return f"distributed: {summary['rounds']} rounds, peak {summary['max_task_peak_mb']:,.0f} MB per task"


def dedup_clusters_line(summary: dict[str, Any]) -> str:
    """The line dedup's clusters step prints when it ran (from its summary)."""
    return (
        f"dedup clusters: {summary['documents']:,} docs -> {summary['clusters']:,} kept "
        f"({summary['removed_exact']:,} exact, {summary['removed_near']:,} near duplicates; "
        f"{summary.get('candidate_edges', 0):,} candidate / {summary.get('verified_edges', 0):,} verified edges; "
        f"components {components_note(summary)}) | {summary['seconds']:.1f} s"
    )


def tokenizer_summary_line(report: dict[str, Any], seconds: float, skipped: bool) -> str:
    """The line `polyglot tokenizer` prints at the end (from report.json)."""
    comp = report["composition"]
    parity = report["parity"]
    bal = parity.get("balanced", {}).get("ratio")
    unb = parity.get("unbalanced", {}).get("ratio")
    ratio = f"parity {bal:.2f}" if isinstance(bal, float) and math.isfinite(bal) else "parity -"
    if unb is not None:
        ratio += f" (unbalanced {unb:.2f})"
    s = report["settings"]
    return (
        f"tokenizer{' (unchanged, skipped)' if skipped else ''}: {len(comp)} languages | sample "
        f"{sum(r['sample_chars'] for r in comp.values()):,} chars | {s['model_type']} {s['vocab_size']:,} | {ratio} | "
        f"ids identical on {report['id_parity']['documents']:,} docs | {seconds:.1f} s"
    )


def balance_plan_line(summary: dict[str, Any]) -> str:
    """The line balance's plan step prints when it ran (from its summary)."""
    return (
        f"balance plan: {summary['languages']} languages in {summary['families']} families | "
        f"{summary['available_tokens']:,} tokens available -> {summary['achieved_tokens']:,} chosen "
        f"(target {summary['target_tokens']:,}) | {summary['warnings']} warnings | {summary['seconds']:.1f} s"
    )


def megatron_line(summary: dict[str, Any]) -> str:
    """The line the shards stage's Megatron export prints when it ran (from its summary)."""
    return (f"shards megatron: {summary['documents']:,} documents, {summary['tokens']:,} {summary['dtype']} tokens "
            f"-> {summary['prefix']}.bin/.idx")  # fmt: skip


def shards_manifest_line(manifest: dict[str, Any], path: str) -> str:
    """The line `polyglot shards` prints at the end (from manifest.json)."""
    mix = ", ".join(f"{lang} {w:.1%}" for lang, w in sorted(manifest["lang_weights"].items(), key=lambda kv: -kv[1]))
    return (f"shards manifest: {manifest['num_shards']} shards, {manifest['rows']:,} rows, {manifest['tokens']:,} "
            f"tokens ({mix}) -> {path}")  # fmt: skip
