"""Balancing: a per-family, per-language token plan (`plan`), its settings (`settings`), the seeded,
shard-independent document choice that realizes it (`select`) and the stage's three steps on plain data (`steps`:
counts, plan, selection). Ray-free; the `balance` stage drives it. Names are imported on first use: reading a config
imports only the settings."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BalanceSettings": "settings", "FamilyBudget": "settings",
    "FamilyPlan": "plan", "LanguagePlan": "plan", "Plan": "plan", "make_plan": "plan",
    "LanguageSelection": "select", "SelectionSketch": "select", "achieved_tokens": "select",
    "merge_sketches": "select", "select_documents": "select", "selection_params": "select",
    "shard_repeats": "select", "sketch_shard": "select",
    "count_shard": "steps", "plan_selection": "steps", "select_shard": "steps",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"pipeline.balance.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'pipeline.balance' has no attribute '{name}'")
