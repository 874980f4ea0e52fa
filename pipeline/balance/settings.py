"""The `balance:` config section: family budgets, the strategy inside each family, repeat caps, the seed.

Decisions (each one is what a user gets told when a value is refused):

- **Budgets are all shares or all absolute tokens.** Mixing ``share`` and ``tokens`` across families has no single
  obvious meaning (is a share a share of the total or of what the absolute budgets leave?), so it is refused. With
  shares, ``total_tokens`` is the corpus size (or ``null``: the largest corpus in which every family with data gets
  exactly its share under the repeat caps). With absolute budgets, the total is their sum and ``total_tokens`` must be
  ``null`` or equal to it.
- **Shares must sum to 1** within 0.001 (so ``0.333 × 3`` passes) and are then normalized exactly. A larger gap is
  refused rather than normalized with a warning: a sum of 0.9 is almost always a forgotten family, and silently
  scaling every target by 1/0.9 would hide it.
- **Repeat caps are epochs** (``4.0`` = each language's tokens at most four times) and are ≥ 1: a cap below 1 would
  be a downsampling rule, which is what the budget is for. A family's own cap may only tighten the global one.
- **Languages** are canonical codes (`pipeline.lang.codes.normalize_label`, so ``ko``, ``kor``, ``kor_Hang`` are one
  language). A family lists its languages explicitly or takes them from the family table (`pipeline.lang.families`);
  a language listed explicitly belongs to that family only, and may be listed once.
- **Omitted ``families``**: every family of the table that has data, with equal shares, using the section's default
  ``strategy``/``alpha``.
- **Shortfalls** (a family below its share × total because its data × cap is too small, or a family with no data at
  all): ``redistribute`` (default) gives the missing tokens to the other families in proportion to their shares, up
  to their own caps, so the total is met when the data allows; ``leave`` keeps every other family at its requested
  budget and the total shrinks. Either way the plan carries a warning that says which and by how much.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.lang.codes import UND, normalize_label

__all__ = ["BalanceSettings", "FamilyBudget", "Strategy", "SHARE_SUM_TOLERANCE"]

Strategy = Literal["temperature", "unimax"]
#: How far the shares may sum from 1 before they are refused (they are normalized exactly within it).
SHARE_SUM_TOLERANCE = 1e-3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class FamilyBudget(_Strict):
    """One family's budget (a share of the total or absolute tokens) and how it is split among its languages."""

    share: float | None = Field(default=None, gt=0, le=1, description="Fraction of the total (0 < share <= 1).")
    tokens: int | None = Field(default=None, gt=0, description="Absolute budget in tokens.")
    strategy: Strategy | None = Field(
        default=None, description="temperature (p ~ n^alpha) or unimax; default: the section's strategy."
    )
    alpha: float | None = Field(
        default=None, ge=0, le=1, description="Temperature exponent (0 = uniform, 1 = proportional to size)."
    )
    max_repeats: float | None = Field(
        default=None, ge=1, description="Epochs cap for this family's languages (<= the global max_repeats)."
    )
    languages: list[str] | None = Field(
        default=None, description="Explicit member languages (any code form); default: the family table."
    )

    @field_validator("max_repeats", "alpha")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("languages")
    @classmethod
    def _canonical_languages(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        if not v:
            raise ValueError("an explicit `languages` list must not be empty (omit it to use the family table)")
        out = []
        for code in v:
            canonical = normalize_label(code)
            if canonical == UND:
                raise ValueError(f"'{code}' is the undetermined language, not a language")
            if canonical in out:
                raise ValueError(f"'{code}' ({canonical}) is listed twice")
            out.append(canonical)
        return out

    @model_validator(mode="after")
    def _one_budget(self) -> FamilyBudget:
        if (self.share is None) == (self.tokens is None):
            raise ValueError("give exactly one of `share` (fraction of the total) or `tokens` (absolute budget)")
        return self


class BalanceSettings(_Strict):
    """The `balance:` section. Frozen; unknown keys are refused."""

    total_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Corpus size in tokens; null = the largest corpus the data allows with every share met.",
    )
    families: dict[str, FamilyBudget] | None = Field(
        default=None, description="{family: budget}; null = every family with data, equal shares."
    )
    strategy: Strategy = Field(default="temperature", description="Default strategy inside a family.")
    alpha: float = Field(default=0.3, ge=0, le=1, description="Default temperature exponent (XLM-R / mT5: 0.3).")
    max_repeats: float = Field(default=4.0, ge=1, description="Global cap on epochs of any language.")
    seed: int = Field(default=0, ge=0, description="Seed of the document choice (a hash of doc_id and seed).")
    prefer_cluster_size: bool = Field(
        default=False,
        description="Give the fractional keep/extra repeat preferentially to documents of larger dedup clusters.",
    )
    shortfall: Literal["redistribute", "leave"] = Field(
        default="redistribute",
        description="A family that cannot reach its budget: give the rest to other families, or leave it unmet.",
    )

    @field_validator("max_repeats", "alpha")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> BalanceSettings:
        if self.families is None:
            return self
        if not self.families:
            raise ValueError("`families` is empty: list at least one family, or omit it for equal shares")
        seen: dict[str, str] = {}
        for name, fam in self.families.items():
            if not name:
                raise ValueError("family names must be non-empty")
            if fam.max_repeats is not None and fam.max_repeats > self.max_repeats:
                raise ValueError(
                    f"family '{name}': max_repeats {fam.max_repeats} is above the global max_repeats "
                    f"{self.max_repeats}; a family cap may only tighten the global one"
                )
            for code in fam.languages or ():
                if code in seen:
                    raise ValueError(f"{code} is listed in families '{seen[code]}' and '{name}': one family only")
                seen[code] = name
        with_share = [n for n, f in self.families.items() if f.share is not None]
        with_tokens = [n for n, f in self.families.items() if f.tokens is not None]
        if with_share and with_tokens:
            raise ValueError(
                f"families {with_share} give a `share` and {with_tokens} give `tokens`: use one kind for all families"
            )
        if with_share:
            total = sum(f.share or 0.0 for f in self.families.values())
            if abs(total - 1.0) > SHARE_SUM_TOLERANCE:
                listed = ", ".join(f"{n}={f.share}" for n, f in self.families.items())
                raise ValueError(
                    f"family shares sum to {total:.4f}, not 1 ({listed}); fix the shares (a forgotten family?) — "
                    "they are not rescaled silently"
                )
        else:
            budget = sum(f.tokens or 0 for f in self.families.values())
            if self.total_tokens is not None and self.total_tokens != budget:
                raise ValueError(
                    f"total_tokens {self.total_tokens} differs from the sum of the families' `tokens` ({budget}); "
                    "leave total_tokens null with absolute budgets"
                )
        return self

    # -- derived values ------------------------------------------------------------------------------------------

    def family_shares(self) -> dict[str, float] | None:
        """Normalized shares per configured family (absolute budgets become their fraction of the sum); None when
        `families` is omitted (equal shares over the families found in the data)."""
        if self.families is None:
            return None
        if all(f.share is not None for f in self.families.values()):
            raw = {n: float(f.share or 0.0) for n, f in self.families.items()}
        else:
            raw = {n: float(f.tokens or 0) for n, f in self.families.items()}
        total = sum(raw.values())
        return {n: v / total for n, v in raw.items()}

    def requested_total(self) -> int | None:
        """The requested corpus size: total_tokens, or the sum of absolute budgets, or None (data-limited)."""
        if self.families is not None and all(f.tokens is not None for f in self.families.values()):
            return sum(f.tokens or 0 for f in self.families.values())
        return self.total_tokens

    def family_strategy(self, family: str) -> tuple[Strategy, float, float]:
        """(strategy, alpha, max_repeats) in force for `family` (its own values, else the section's)."""
        fam = (self.families or {}).get(family)
        if fam is None:
            return self.strategy, self.alpha, self.max_repeats
        return (
            fam.strategy or self.strategy,
            self.alpha if fam.alpha is None else fam.alpha,
            self.max_repeats if fam.max_repeats is None else fam.max_repeats,
        )

    def explicit_members(self) -> dict[str, str]:
        """language → family for every language listed explicitly in a family's `languages`."""
        return {code: name for name, fam in (self.families or {}).items() for code in fam.languages or ()}

    def family_for(self, lang: str, table_family: str | None) -> tuple[str | None, str | None]:
        """(family, None) for a language balanced in a family, or (None, why it is left out); `table_family` is its
        family in the family table. The one membership rule, for the plan and for the config check."""
        explicit = self.explicit_members().get(lang)
        if explicit is not None:
            return explicit, None
        if table_family is None:
            return None, "no family"
        if self.families is not None:
            if table_family not in self.families:
                return None, f"family '{table_family}' is not in balance.families"
            if self.families[table_family].languages is not None:
                return None, f"not in the explicit `languages` of '{table_family}'"
        return table_family, None

    def check_family_names(self, table: Mapping[str, Sequence[str]]) -> None:
        """ValueError for a configured family that is neither in the family table nor lists its `languages`.

        The settings cannot know the table (the config may bring its own), so the stage calls this with the table in
        force; a typo such as ``slavik`` is then an error with a suggestion instead of a family with no data.
        """
        for name, fam in (self.families or {}).items():
            if fam.languages is None and name not in table:
                close = difflib.get_close_matches(name, list(table), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ValueError(
                    f"balance.families.{name}: unknown family{hint}; known: {', '.join(sorted(table))}, "
                    "or give the family an explicit `languages` list"
                )
