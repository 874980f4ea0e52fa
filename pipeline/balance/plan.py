"""The balancing plan: how many tokens each family and each language gets, from available tokens and the settings.

Pure functions, no I/O: `make_plan(available, family_of, settings)` → `Plan`. Exact semantics:

1. **Membership.** A language belongs to the family that lists it in ``languages``, else to ``family_of[lang]`` if
   that family is configured and has no explicit list. Anything else is *excluded* (listed in `Plan.excluded` and in
   a note, never silently): a family not in the section, no family, or a family whose explicit list omits it.
2. **Capacity.** Each language may be repeated at most its family's ``max_repeats`` (default: the global one), so
   ``capacity_l = available_l × cap`` and ``capacity_f = Σ capacity_l``.
3. **Family budgets.** ``requested_f = share_f × total``. With ``total_tokens: null`` the total is the largest one
   in which every family *with data* gets exactly its share: ``total = min_f capacity_f / share_f`` (shares
   renormalized over the families with data). With a total, a family whose capacity is below its request gets its
   capacity; the missing tokens go, under ``shortfall: redistribute``, to the other families in proportion to their
   shares up to their own capacities (water-filling, repeated until nobody exceeds a cap), or under ``leave`` stay
   missing and the total shrinks. Every shortfall and every family that received extra tokens is a warning.
4. **Languages inside a family** (budget ``B``):

   - ``temperature``: ``p_l ∝ available_l^α`` over the languages with data; ``target_l = B × p_l``; a language above
     its capacity is fixed at the capacity and the excess is spread over the uncapped languages in proportion to
     their ``p_l``, repeated until no language exceeds its capacity. Each capped language is a warning (its request
     was unreachable; the nearest achievable target is ``available × cap``).
   - ``unimax`` (Chung et al. 2023, Algorithm 1): languages in increasing size (ties by code); each gets
     ``min(remaining / languages_left, available × cap)``. Capping is the design here, so capped languages are notes,
     not warnings.

   ``B ≤ capacity_f`` after step 3, so both always place the whole family budget.
5. Targets are rounded to whole tokens and never exceed ``floor(available × cap)``.

Worked example (one family, budget 6,000 tokens, cap 4, languages a = 4,000, b = 400, c = 100 tokens available):

- temperature, α = 0.5: √4000 : √400 : √100 = 63.25 : 20 : 10 → 4,070 / 1,287 / 643. c exceeds 4 × 100 = 400, is
  capped at 400, and its excess is shared by a and b in the ratio 63.25 : 20 → a = 4,255 (1.06 epochs),
  b = 1,345 (3.36 epochs), c = 400 (4 epochs) — one warning for c.
- unimax: c = min(6000/3, 400) = 400; b = min(5600/2, 1600) = 1,600; a = min(4000/1, 16000) = 4,000.

Two families, total 10,000, shares 0.5/0.5, korean has 1,000 tokens (cap 4 → capacity 4,000): ``redistribute`` gives
korean 4,000 and the other family 6,000; ``leave`` gives 4,000 and 5,000 (total 9,000). Both warn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.balance.settings import BalanceSettings, Strategy
from pipeline.lang.codes import UND, normalize_label
from pipeline.lang.families import family_of as default_family_of

__all__ = ["FamilyPlan", "LanguagePlan", "Plan", "make_plan", "temperature_targets", "unimax_targets", "water_fill"]

_EPS = 1e-9


@dataclass(frozen=True)
class LanguagePlan:
    """One language's row: tokens available (deduplicated corpus), its cap, what the strategy asked, the target."""

    lang: str
    family: str
    available: int
    max_repeats: float
    requested: float
    target: int

    @property
    def capacity(self) -> float:
        return self.available * self.max_repeats

    @property
    def repeats(self) -> float:
        """Planned epochs: target / available (0 for a language without data)."""
        return self.target / self.available if self.available else 0.0

    @property
    def capped(self) -> bool:
        return self.available > 0 and self.target >= math.floor(self.capacity + _EPS)


@dataclass(frozen=True)
class FamilyPlan:
    """One family's row: its requested share and budget, available tokens, capacity under its cap, the target."""

    family: str
    share: float
    requested: float
    available: int
    capacity: float
    target: int
    strategy: Strategy
    alpha: float
    max_repeats: float
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """The whole plan. `warnings` are shortfalls and changes against the request; `notes` are informational."""

    languages: dict[str, LanguagePlan]
    families: dict[str, FamilyPlan]
    requested_total: int | None
    excluded: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def target_total(self) -> int:
        return sum(lp.target for lp in self.languages.values())

    def targets(self) -> dict[str, int]:
        """language → target tokens (every planned language, 0 included)."""
        return {lang: lp.target for lang, lp in self.languages.items()}

    def caps(self) -> dict[str, float]:
        """language → epochs cap in force."""
        return {lang: lp.max_repeats for lang, lp in self.languages.items()}

    def weights(self) -> dict[str, float]:
        """language → share of the planned total (the mixing weights for `pipeline.training`); zero targets omitted."""
        total = self.target_total
        return {lang: lp.target / total for lang, lp in self.languages.items() if lp.target > 0} if total else {}

    def rows(self, achieved: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
        """The plan table: one row per language, one per family, one total row.

        Columns: kind, family, lang, available, max_repeats, requested, target, achieved (None until the selection
        ran), repeats (achieved / available, or target / available before), share (of the achieved total, or of the
        total target before): the language rows of a family, and the family rows, sum to the family's and to 100%.
        """
        all_got = None if achieved is None else sum(int(achieved.get(lang, 0)) for lang in self.languages)
        denominator = (all_got if all_got is not None else self.target_total) or 1
        out: list[dict[str, Any]] = []

        def row(kind: str, family: str | None, lang: str | None, available: int, cap: float | None,
                requested: float | None, target: int, got: int | None) -> dict[str, Any]:
            used = got if got is not None else target
            return {
                "kind": kind, "family": family, "lang": lang, "available": available, "max_repeats": cap,
                "requested": None if requested is None else round(requested), "target": target, "achieved": got,
                "repeats": round(used / available, 4) if available else 0.0,
                "share": round(used / denominator, 6),
            }  # fmt: skip

        for fam in self.families.values():
            fam_got = None if achieved is None else sum(int(achieved.get(lang, 0)) for lang in fam.languages)
            out.append(row("family", fam.family, None, fam.available, fam.max_repeats, fam.requested, fam.target,
                           fam_got))  # fmt: skip
            for lang in fam.languages:
                lp = self.languages[lang]
                got = None if achieved is None else int(achieved.get(lang, 0))
                out.append(row("language", fam.family, lang, lp.available, lp.max_repeats, lp.requested, lp.target,
                               got))  # fmt: skip
        available = sum(lp.available for lp in self.languages.values())
        out.append(row("total", None, None, available, None, self.requested_total, self.target_total, all_got))
        return out

    def format_table(self, achieved: Mapping[str, int] | None = None) -> str:
        """The plan table as aligned text, warnings and notes below it."""
        header = ["family", "lang", "available", "cap", "target", "achieved", "repeats", "share"]
        lines = [header]
        for r in self.rows(achieved):
            lines.append([
                r["family"] or "TOTAL", r["lang"] or ("*" if r["kind"] == "family" else ""), f"{r['available']:,}",
                "" if r["max_repeats"] is None else f"{r['max_repeats']:g}", f"{r['target']:,}",
                "-" if r["achieved"] is None else f"{r['achieved']:,}", f"{r['repeats']:.2f}", f"{r['share']:.2%}",
            ])  # fmt: skip
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
        text = ["  ".join(str(c).rjust(w) if i >= 2 else str(c).ljust(w) for i, (c, w) in enumerate(zip(line, widths)))
                for line in lines]  # fmt: skip
        text += [f"warning: {w}" for w in self.warnings] + [f"note: {n}" for n in self.notes]
        return "\n".join(text)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (what the stage writes next to its output)."""
        return {
            "requested_total": self.requested_total,
            "target_total": self.target_total,
            "families": {f: {**fp.__dict__, "languages": list(fp.languages)} for f, fp in self.families.items()},
            "languages": {lang: dict(lp.__dict__) for lang, lp in self.languages.items()},
            "excluded": dict(self.excluded),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        """The plan back from its `to_json` form."""
        return cls(
            languages={lang: LanguagePlan(**v) for lang, v in data["languages"].items()},
            families={f: FamilyPlan(**{**v, "languages": tuple(v["languages"])}) for f, v in data["families"].items()},
            requested_total=data["requested_total"],
            excluded=dict(data["excluded"]),
            warnings=tuple(data["warnings"]),
            notes=tuple(data["notes"]),
        )


# -- allocation primitives ---------------------------------------------------------------------------------------


def water_fill(budget: float, weights: Mapping[str, float], caps: Mapping[str, float]) -> dict[str, float]:
    """Split `budget` in proportion to `weights`, no key above its cap, excess re-spread over the uncapped keys.

    Iterates until no key exceeds its cap (at most len(weights) rounds). When Σ caps < budget every key ends at its
    cap (the caller reports the shortfall). Keys with weight 0 get 0.
    """
    out = {k: 0.0 for k in weights}
    free = {k for k, w in weights.items() if w > 0}
    remaining = budget
    while free and remaining > _EPS:
        wsum = sum(weights[k] for k in free)
        over = {k for k in free if remaining * weights[k] / wsum > caps[k] + _EPS}
        if not over:
            for k in free:
                out[k] = remaining * weights[k] / wsum
            return out
        for k in over:
            out[k] = caps[k]
            remaining -= caps[k]
        free -= over
    return out


def temperature_targets(budget: float, available: Mapping[str, int], alpha: float, cap: float) -> dict[str, float]:
    """p_l ∝ available_l^α, target = budget × p_l, capped at available × cap with the excess re-spread."""
    weights = {lang: (float(a) ** alpha if a > 0 else 0.0) for lang, a in available.items()}
    return water_fill(budget, weights, {lang: a * cap for lang, a in available.items()})


def unimax_targets(budget: float, available: Mapping[str, int], cap: float) -> dict[str, float]:
    """UniMax (Chung et al. 2023, Alg. 1): smallest language first, each min(remaining / left, available × cap)."""
    out = {lang: 0.0 for lang in available}
    order = sorted((lang for lang, a in available.items() if a > 0), key=lambda lang: (available[lang], lang))
    remaining = budget
    for i, lang in enumerate(order):
        out[lang] = min(remaining / (len(order) - i), available[lang] * cap)
        remaining -= out[lang]
    return out


# -- the plan ----------------------------------------------------------------------------------------------------


def _fmt(tokens: float) -> str:
    return f"{tokens:,.0f}"


def _members(
    available: Mapping[str, int], family_of: Mapping[str, str | None], settings: BalanceSettings
) -> tuple[dict[str, list[str]], dict[str, int], list[str]]:
    """family → member languages (sorted), excluded language → tokens, notes about the exclusions."""
    explicit = settings.explicit_members()
    members: dict[str, list[str]] = {name: [] for name in (settings.families or {})}
    excluded: dict[str, int] = {}
    reasons: dict[str, list[str]] = {}
    for lang, tokens in available.items():
        fam, why = settings.family_for(lang, family_of.get(lang))
        if fam is None:
            reasons.setdefault(why or "no family", []).append(lang)
            excluded[lang] = tokens
            continue
        members.setdefault(fam, []).append(lang)
    for lang, fam in explicit.items():
        if lang not in available:
            members[fam].append(lang)  # listed but no data: a zero row and a warning later
    notes = []
    for why, langs in reasons.items():
        tokens = sum(available[lang] for lang in langs)
        notes.append(f"left out ({why}): {', '.join(sorted(langs))} — {_fmt(tokens)} tokens")
    return {f: sorted(langs) for f, langs in members.items()}, excluded, notes


def _clean_available(available: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for lang, tokens in available.items():
        if tokens < 0:
            raise ValueError(f"available tokens of {lang} are negative ({tokens})")
        code = normalize_label(lang, strict=False)
        if code == UND:
            continue
        out[code] = out.get(code, 0) + int(tokens)
    return out


def make_plan(
    available: Mapping[str, int], family_of: Mapping[str, str | None] | None, settings: BalanceSettings
) -> Plan:
    """The plan for `available` tokens per language (any code form) grouped by `family_of` (code → family, e.g.
    ``{lang: pipeline.lang.families.family_of(lang, table) for lang in available}``; None = the default family
    table). See the module docstring."""
    avail = _clean_available(available)
    if family_of is None:
        family_of = {lang: default_family_of(lang) for lang in avail}
    fam_of = {normalize_label(k, strict=False): v for k, v in family_of.items()}
    members, excluded, notes = _members(avail, fam_of, settings)
    warnings: list[str] = []

    if settings.families is None:
        members = {f: langs for f, langs in sorted(members.items()) if any(avail.get(lang, 0) > 0 for lang in langs)}
        shares = {f: 1.0 / len(members) for f in members} if members else {}
    else:
        shares = settings.family_shares() or {}

    caps = {f: settings.family_strategy(f)[2] for f in members}
    fam_available = {f: sum(avail.get(lang, 0) for lang in langs) for f, langs in members.items()}
    capacity = {f: fam_available[f] * caps[f] for f in members}
    with_data = [f for f in members if capacity[f] > 0]
    for f in members:
        if capacity[f] == 0:
            where = f" (languages {', '.join(members[f])})" if members[f] else ""
            if settings.requested_total() is None or settings.shortfall == "redistribute":
                fate = "its share is redistributed to the other families in proportion to their shares"
            else:
                fate = "its budget is left unmet (shortfall: leave)"
            warnings.append(f"family '{f}' has no data{where}; {fate}")

    requested_total = settings.requested_total()
    if requested_total is None:
        # data-limited: the largest total with every family with data exactly at its (renormalized) share
        norm = sum(shares[f] for f in with_data)
        if with_data:
            limit = {f: capacity[f] / (shares[f] / norm) for f in with_data}
            binding = min(limit, key=lambda f: (limit[f], f))
            total = limit[binding]
            notes.append(
                f"total_tokens is null: total {_fmt(total)} tokens, limited by family '{binding}' "
                f"({_fmt(fam_available[binding])} tokens × {caps[binding]:g} repeats)"
            )
        else:
            total = 0.0
        requested = {f: shares[f] * total for f in members}
        budgets = {f: (shares[f] / norm * total if f in with_data else 0.0) for f in members}
    else:
        requested = {f: shares[f] * requested_total for f in members}
        if settings.shortfall == "leave":
            budgets = {f: min(requested[f], capacity[f]) for f in members}
        else:
            budgets = water_fill(float(requested_total), shares, capacity)
        for f in members:
            if budgets[f] < requested[f] - 0.5 and capacity[f] > 0:
                fate = (
                    "the rest goes to the other families in proportion to their shares"
                    if settings.shortfall == "redistribute"
                    else "the rest is left unmet (shortfall: leave)"
                )
                warnings.append(
                    f"family '{f}': budget {_fmt(requested[f])} tokens is unreachable — {_fmt(fam_available[f])} "
                    f"available × {caps[f]:g} repeats = {_fmt(capacity[f])}; target set to {_fmt(budgets[f])}, {fate}"
                )
            elif budgets[f] > requested[f] + 0.5:
                warnings.append(
                    f"family '{f}': target raised from {_fmt(requested[f])} to {_fmt(budgets[f])} tokens "
                    "(redistributed shortfall of other families)"
                )
        reached = sum(budgets.values())
        if reached < requested_total - 0.5:
            warnings.append(
                f"total budget {_fmt(requested_total)} tokens is unreachable under the repeat caps: the plan reaches "
                f"{_fmt(reached)} ({reached / requested_total:.1%})"
            )

    languages: dict[str, LanguagePlan] = {}
    families: dict[str, FamilyPlan] = {}
    for f, langs in members.items():
        strategy, alpha, cap = settings.family_strategy(f)
        fam_avail = {lang: avail.get(lang, 0) for lang in langs}
        for lang in langs:
            if fam_avail[lang] == 0 and capacity[f] > 0:
                warnings.append(f"{lang} (listed in family '{f}') has no data; target 0")
        budget = budgets[f]
        with_lang_data = [lang for lang in langs if fam_avail[lang] > 0]
        if strategy == "temperature":
            targets = temperature_targets(budget, fam_avail, alpha, cap)
            wsum = sum(float(fam_avail[lang]) ** alpha for lang in with_lang_data) or 1.0
            asked = {lang: (budget * float(a) ** alpha / wsum if a > 0 else 0.0) for lang, a in fam_avail.items()}
            for lang in with_lang_data:
                if asked[lang] > fam_avail[lang] * cap + 0.5:
                    warnings.append(
                        f"{lang} ({f}, temperature α={alpha:g}): {_fmt(asked[lang])} tokens requested but only "
                        f"{_fmt(fam_avail[lang])} available × {cap:g} repeats; capped at {_fmt(targets[lang])}, the "
                        f"excess {_fmt(asked[lang] - targets[lang])} moved to the other languages of '{f}'"
                    )
        else:
            targets = unimax_targets(budget, fam_avail, cap)
            uniform = budget / len(with_lang_data) if with_lang_data else 0.0
            asked = {lang: (uniform if fam_avail[lang] > 0 else 0.0) for lang in langs}
            capped = [lang for lang in with_lang_data if targets[lang] < uniform - 0.5]
            if capped:
                notes.append(f"unimax '{f}': {', '.join(capped)} at their {cap:g}-epoch cap")
        for lang in langs:
            limit = math.floor(fam_avail[lang] * cap + _EPS)
            languages[lang] = LanguagePlan(
                lang=lang, family=f, available=fam_avail[lang], max_repeats=cap, requested=asked[lang],
                target=min(limit, math.floor(targets[lang] + 0.5)),
            )  # fmt: skip
        families[f] = FamilyPlan(
            family=f, share=shares[f], requested=requested[f], available=fam_available[f], capacity=capacity[f],
            target=sum(languages[lang].target for lang in langs), strategy=strategy, alpha=alpha, max_repeats=cap,
            languages=tuple(langs),
        )  # fmt: skip
    return Plan(
        languages=languages,
        families=families,
        requested_total=requested_total,
        excluded=excluded,
        warnings=tuple(warnings),
        notes=tuple(notes),
    )
