"""Balancing: a per-family, per-language token plan (`plan`), its settings (`settings`) and the seeded,
shard-independent document choice that realizes it (`select`). Ray-free; the `balance` stage drives it."""

from pipeline.balance.plan import FamilyPlan, LanguagePlan, Plan, make_plan
from pipeline.balance.select import (
    LanguageSelection,
    SelectionSketch,
    achieved_tokens,
    merge_sketches,
    select_documents,
    selection_params,
    shard_repeats,
    sketch_shard,
)
from pipeline.balance.settings import BalanceSettings, FamilyBudget

__all__ = [
    "BalanceSettings",
    "FamilyBudget",
    "FamilyPlan",
    "LanguagePlan",
    "LanguageSelection",
    "Plan",
    "SelectionSketch",
    "achieved_tokens",
    "make_plan",
    "merge_sketches",
    "select_documents",
    "selection_params",
    "shard_repeats",
    "sketch_shard",
]
