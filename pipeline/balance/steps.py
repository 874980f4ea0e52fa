"""The balance stage's three steps on plain data: a shard's token counts and selection sketch (`count_shard`), the
corpus-wide plan and selection rule (`plan_selection`), and a shard's chosen documents (`select_shard`).

`pipeline.stages.balance` reads and writes the files; everything it decides is here, Ray-free.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import sentencepiece as spm

from pipeline.balance.plan import make_plan
from pipeline.balance.select import (
    LanguageSelection,
    SelectionSketch,
    merge_sketches,
    selection_params,
    shard_repeats,
    sketch_shard,
)
from pipeline.balance.settings import BalanceSettings
from pipeline.lang.codes import UND, normalize_label
from pipeline.tokenizer.encode import ENCODE_BATCH, count_tokens

REASON_DOWNSAMPLED = "downsampled"
REASON_EXCLUDED = "excluded-language"


def cluster_sizes(table: pa.Table) -> np.ndarray:
    """dedup's cluster size per document (int32, nulls and a missing column = 1)."""
    if "dup_cluster_size" not in table.column_names:
        return np.ones(table.num_rows, dtype=np.int32)
    col = table.column("dup_cluster_size").cast(pa.int32()).fill_null(1)
    return col.to_numpy().astype(np.int32)


def count_shard(
    processor: spm.SentencePieceProcessor,
    table: pa.Table,
    *,
    seed: int,
    prefer_cluster_size: bool,
    progress: Callable[[int], None] = lambda n: None,
) -> tuple[pa.Table, SelectionSketch]:
    """A shard's exact token counts (doc_id, lang, num_tokens, dup_cluster_size; no <s>/</s>) and its selection
    sketch. `table` has doc_id, text, lang (and dedup's dup_cluster_size when there is one)."""
    texts = table.column("text").to_pylist()
    n = len(texts)
    num_tokens = np.zeros(n, dtype=np.int64)
    for s in range(0, n, ENCODE_BATCH):
        num_tokens[s : s + ENCODE_BATCH] = count_tokens(processor, texts[s : s + ENCODE_BATCH])
        progress(min(ENCODE_BATCH, n - s))
    cluster = cluster_sizes(table)
    counts = pa.table(
        {
            "doc_id": table.column("doc_id"),
            "lang": table.column("lang"),
            "num_tokens": pa.array(num_tokens.astype(np.int32), pa.int32()),
            "dup_cluster_size": pa.array(cluster, pa.int32()),
        }
    )
    sketch = sketch_shard(
        table.column("doc_id").to_pylist(), table.column("lang").to_pylist(), num_tokens, seed=seed,
        prefer_cluster_size=prefer_cluster_size, cluster_size=cluster,
    )  # fmt: skip
    return counts, sketch


def check_language_codes(langs: Iterable[str]) -> None:
    """The selection matches documents to the plan by their `lang` string, so it must be the canonical code the
    plan uses; a document stage that wrote e.g. ``ko`` would otherwise lose every Korean document silently."""
    bad = {}
    for lang in langs:
        canonical = normalize_label(lang, strict=False)
        if canonical != lang and canonical != UND:
            bad[lang] = canonical
    if bad:
        listed = ", ".join(f"{k!r} (= {v})" for k, v in sorted(bad.items()))
        raise ValueError(
            f"documents carry non-canonical language codes {listed}; the upstream stage must write canonical codes"
        )


@dataclass(frozen=True)
class PlannedSelection:
    """What the plan step writes: the selection rule the shards apply (`selection`), the plan with its achieved
    tokens (`plan`, plan.json less the tokenizer's hash), the readable table (`table`) and the step's counts."""

    selection: dict[str, Any]
    plan: dict[str, Any]
    table: str
    summary: dict[str, Any]


def plan_selection(
    sketches: Iterable[SelectionSketch], family_of: Callable[[str], str | None], settings: BalanceSettings
) -> PlannedSelection:
    """Merge the shards' sketches, plan the budgets (`make_plan`) and choose each language's selection rule
    (`selection_params`); its achieved tokens are known exactly before any shard chooses."""
    merged = merge_sketches(sketches)
    available = merged.available_tokens()
    check_language_codes(available)
    plan = make_plan(available, {lang: family_of(lang) for lang in available}, settings)
    params = selection_params(merged, plan.targets(), plan.caps())
    achieved = {lang: (params[lang].expected_tokens if lang in params else 0) for lang in plan.languages}
    selection = {
        "seed": settings.seed,
        "prefer_cluster_size": settings.prefer_cluster_size,
        "params": {lang: p.to_json() for lang, p in sorted(params.items())},
        "families": {lang: lp.family for lang, lp in plan.languages.items()},
        "excluded": sorted(plan.excluded),
    }
    plan_json = {
        "plan": plan.to_json(),
        "achieved": achieved,
        "achieved_total": sum(achieved.values()),
        "available_docs": merged.documents(),
        "selection": {lang: p.to_json() for lang, p in sorted(params.items())},
        "rows": plan.rows(achieved),
        "seed": settings.seed,
    }
    summary = {
        "languages": len(plan.languages),
        "families": len(plan.families),
        "available_tokens": sum(available.values()),
        "target_tokens": plan.target_total,
        "achieved_tokens": sum(achieved.values()),
        "requested_total": plan.requested_total,
        "warnings": len(plan.warnings),
    }
    return PlannedSelection(selection, plan_json, plan.format_table(achieved) + "\n", summary)


@dataclass
class ShardSelection:
    """One shard's choice: the chosen documents (`table`), why each input document was not chosen (`reasons`,
    None when chosen), and per language the tokens available and chosen and the copies chosen."""

    table: pa.Table
    reasons: list[str | None]
    available: dict[str, int]
    chosen: dict[str, int]
    copies: dict[str, int]


def select_shard(table: pa.Table, counts: pa.Table, selection: dict[str, Any]) -> ShardSelection:
    """Every document's repeat count under the plan's selection rule (`selection`: what `plan_selection` gave); the
    chosen ones (repeats > 0) with every input column, ``family`` set to the family the document was balanced in,
    ``num_tokens`` (int32) and ``repeats`` (int32). `counts` is the shard's `count_shard` table."""
    params = {lang: LanguageSelection.from_json(v) for lang, v in selection["params"].items()}
    families: dict[str, str] = selection["families"]
    excluded = set(selection["excluded"])
    langs = table.column("lang").to_pylist()
    num_tokens = counts.column("num_tokens").to_numpy().astype(np.int64)
    repeats = shard_repeats(
        table.column("doc_id").to_pylist(),
        langs,
        params,
        seed=int(selection["seed"]),
        prefer_cluster_size=bool(selection["prefer_cluster_size"]),
        cluster_size=counts.column("dup_cluster_size").to_numpy(),
    )
    available: dict[str, int] = defaultdict(int)
    chosen: dict[str, int] = defaultdict(int)
    copies: dict[str, int] = defaultdict(int)
    reasons: list[str | None] = []
    for lang, k, r in zip(langs, num_tokens.tolist(), repeats.tolist()):
        available[lang] += k
        if r > 0:
            reasons.append(None)
            chosen[lang] += k * r
            copies[lang] += r
        elif lang in excluded or lang not in families:
            reasons.append(REASON_EXCLUDED)
        else:
            reasons.append(REASON_DOWNSAMPLED)
    family = pa.array([families.get(lang) for lang in langs], pa.string())
    if "family" in table.column_names:
        out = table.set_column(table.column_names.index("family"), "family", family)
    else:
        out = table.append_column("family", family)
    out = out.append_column("num_tokens", pa.array(num_tokens.astype(np.int32), pa.int32()))
    out = out.append_column("repeats", pa.array(repeats, pa.int32()))
    return ShardSelection(out.filter(pa.array(repeats > 0)), reasons, dict(available), dict(chosen), dict(copies))
