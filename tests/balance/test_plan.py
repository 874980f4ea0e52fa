"""make_plan: the module docstring's worked examples by hand, shortfall policies, invariants on random inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.balance.plan import make_plan, temperature_targets, unimax_targets, water_fill
from pipeline.balance.settings import BalanceSettings
from pipeline.lang.families import family_of

ONE_FAMILY = {"a": "f", "b": "f", "c": "f"}
AVAIL = {"a": 4000, "b": 400, "c": 100}


def _one_family_plan(strategy: str, budget: int, alpha: float = 0.5, cap: float = 4.0):
    settings = BalanceSettings(
        total_tokens=budget, max_repeats=cap,
        families={"f": {"share": 1.0, "strategy": strategy, "alpha": alpha, "languages": ["aar", "bam", "cat"]}},
    )  # fmt: skip
    # explicit languages: real codes stand in for a, b, c
    avail = {"aar_Latn": AVAIL["a"], "bam_Latn": AVAIL["b"], "cat_Latn": AVAIL["c"]}
    return make_plan(avail, {}, settings)


def test_temperature_worked_example_caps_and_respreads() -> None:
    plan = _one_family_plan("temperature", 6000)
    t = plan.targets()
    # sqrt weights 63.25 : 20 : 10; c capped at 4 x 100; 5,600 split 63.25 : 20
    assert t == {"aar_Latn": 4255, "bam_Latn": 1345, "cat_Latn": 400}
    assert plan.languages["cat_Latn"].capped and plan.languages["cat_Latn"].repeats == 4.0
    assert plan.languages["cat_Latn"].requested == pytest.approx(6000 * 10 / 93.2456, rel=1e-4)
    assert len(plan.warnings) == 1 and "cat_Latn" in plan.warnings[0] and "capped at 400" in plan.warnings[0]


def test_temperature_without_caps_is_proportional_to_size_power() -> None:
    t = temperature_targets(1000, AVAIL, alpha=0.5, cap=4)
    w = {k: math.sqrt(v) for k, v in AVAIL.items()}
    for k in AVAIL:
        assert t[k] == pytest.approx(1000 * w[k] / sum(w.values()))
    assert temperature_targets(900, AVAIL, alpha=0.0, cap=4) == pytest.approx({"a": 300, "b": 300, "c": 300})
    assert temperature_targets(900, AVAIL, alpha=1.0, cap=4) == pytest.approx({"a": 800, "b": 80, "c": 20})


def test_unimax_worked_examples() -> None:
    plan = _one_family_plan("unimax", 6000)
    assert plan.targets() == {"aar_Latn": 4000, "bam_Latn": 1600, "cat_Latn": 400}
    assert plan.warnings == ()  # capping is UniMax's design: notes, not warnings
    assert any("unimax" in n and "cat_Latn" in n and "bam_Latn" in n for n in plan.notes)
    # budget 3000: c = min(1000, 400) = 400; b = min(1300, 1600) = 1300; a = 1300
    assert unimax_targets(3000, AVAIL, cap=4) == pytest.approx({"a": 1300, "b": 1300, "c": 400})
    # everything fits uniformly
    assert unimax_targets(300, AVAIL, cap=4) == pytest.approx({"a": 100, "b": 100, "c": 100})
    # epochs cap 1 (no repetition)
    assert unimax_targets(3000, AVAIL, cap=1) == pytest.approx({"a": 2500, "b": 400, "c": 100})


def test_water_fill_spreads_excess_iteratively() -> None:
    out = water_fill(100, {"x": 1, "y": 1, "z": 1}, {"x": 10, "y": 30, "z": 1000})
    assert out == pytest.approx({"x": 10, "y": 30, "z": 60})
    assert water_fill(100, {"x": 1, "y": 1}, {"x": 10, "y": 20}) == pytest.approx({"x": 10, "y": 20})


KO_CJK = {"kor_Hang": 1000, "jpn_Jpan": 5000, "zho_Hans": 5000}
FAM = {lang: family_of(lang) for lang in KO_CJK}


@pytest.mark.parametrize("policy, korean, cjk", [("redistribute", 4000, 6000), ("leave", 4000, 5000)])
def test_family_shortfall_policies(policy: str, korean: int, cjk: int) -> None:
    settings = BalanceSettings(
        total_tokens=10_000, shortfall=policy, families={"korean": {"share": 0.5}, "cjk": {"share": 0.5}}
    )
    plan = make_plan(KO_CJK, FAM, settings)
    assert plan.families["korean"].target == korean
    assert plan.families["cjk"].target == cjk
    assert plan.target_total == korean + cjk
    assert plan.languages["kor_Hang"].repeats == 4.0
    assert any("'korean'" in w and "unreachable" in w and "1,000 available × 4 repeats" in w for w in plan.warnings)
    if policy == "leave":
        assert any("total budget 10,000" in w and "9,000" in w for w in plan.warnings)
    else:
        assert any("'cjk'" in w and "raised from 5,000 to 6,000" in w for w in plan.warnings)


def test_family_without_data_is_reported_and_its_share_handled() -> None:
    families = {"korean": {"share": 0.25}, "cjk": {"share": 0.25}, "slavic": {"share": 0.5}}
    plan = make_plan(KO_CJK, FAM, BalanceSettings(total_tokens=8000, families=families))
    assert plan.families["slavic"].target == 0
    assert any("'slavic' has no data" in w and "redistributed" in w for w in plan.warnings)
    # redistribute by shares 0.25 : 0.25 → korean 4000 (its cap), cjk 4000
    assert plan.families["korean"].target == 4000 and plan.families["cjk"].target == 4000

    left = make_plan(KO_CJK, FAM, BalanceSettings(total_tokens=8000, shortfall="leave", families=families))
    assert left.families["korean"].target == 2000 and left.families["cjk"].target == 2000
    assert any("'slavic' has no data" in w and "left unmet" in w for w in left.warnings)
    assert any("total budget 8,000" in w and "50.0%" in w for w in left.warnings)


def test_null_total_is_the_largest_with_exact_shares() -> None:
    plan = make_plan(KO_CJK, FAM, BalanceSettings(families={"korean": {"share": 0.5}, "cjk": {"share": 0.5}}))
    # korean capacity 4000 limits: total 8000, half each
    assert plan.families["korean"].target == 4000 and plan.families["cjk"].target == 4000
    assert plan.requested_total is None
    assert any("limited by family 'korean'" in n for n in plan.notes)
    assert plan.warnings == ()


def test_total_beyond_all_data_says_how_much_is_reachable() -> None:
    plan = make_plan(KO_CJK, FAM, BalanceSettings(total_tokens=1_000_000, max_repeats=2))
    assert plan.target_total == 22_000  # everything at 2 epochs
    assert all(lp.capped for lp in plan.languages.values())
    assert any("1,000,000" in w and "22,000" in w and "2.2%" in w for w in plan.warnings)


def test_exclusions_and_missing_listed_languages_are_never_silent() -> None:
    avail = {**KO_CJK, "rus_Cyrl": 700, "und": 5, "xyz_Latn": 9}
    fam = {lang: family_of(lang) for lang in avail}
    settings = BalanceSettings(
        total_tokens=5000,
        families={"korean": {"share": 0.5}, "cjk": {"share": 0.5, "languages": ["ja", "yue_Hant"]}},
    )
    plan = make_plan(avail, fam, settings)
    assert plan.excluded == {"rus_Cyrl": 700, "xyz_Latn": 9, "zho_Hans": 5000}
    notes = " | ".join(plan.notes)
    assert "rus_Cyrl" in notes and "slavic" in notes and "xyz_Latn" in notes and "zho_Hans" in notes
    assert plan.languages["yue_Hant"].target == 0
    assert any("yue_Hant" in w and "no data" in w for w in plan.warnings)
    assert set(plan.families) == {"korean", "cjk"}


def test_default_families_get_equal_shares_and_labels_are_normalized() -> None:
    fam = {"kor_Hang": "korean", "jpn_Jpan": "cjk", "rus_Cyrl": "slavic"}
    plan = make_plan({"ko": 1000, "ja": 4000, "ru": 3000}, fam, BalanceSettings(total_tokens=3000))
    assert {f: fp.target for f, fp in plan.families.items()} == {"cjk": 1000, "korean": 1000, "slavic": 1000}
    assert plan.weights() == pytest.approx({"kor_Hang": 1 / 3, "jpn_Jpan": 1 / 3, "rus_Cyrl": 1 / 3})
    assert make_plan({"ko": 1000, "ja": 4000, "ru": 3000}, None, BalanceSettings(total_tokens=3000)).targets() == (
        plan.targets()
    )  # None = the default family table


def test_absolute_family_budgets() -> None:
    plan = make_plan(KO_CJK, FAM, BalanceSettings(families={"korean": {"tokens": 3000}, "cjk": {"tokens": 7000}}))
    assert plan.requested_total == 10_000
    assert plan.families["korean"].target == 3000 and plan.families["cjk"].target == 7000


def test_rows_and_table_show_achieved() -> None:
    plan = _one_family_plan("unimax", 6000)
    rows = plan.rows({"aar_Latn": 3990, "bam_Latn": 1600, "cat_Latn": 400})
    by = {(r["kind"], r["lang"]): r for r in rows}
    assert by[("language", "bam_Latn")]["repeats"] == 4.0
    assert by[("family", None)]["achieved"] == 5990 and by[("total", None)]["target"] == 6000
    assert by[("language", "aar_Latn")]["repeats"] == pytest.approx(0.9975)
    # shares are of what was achieved: the languages sum to 100 %, even when the selection overshoots the target
    over = plan.rows({"aar_Latn": 4100, "bam_Latn": 1700, "cat_Latn": 450})
    assert sum(r["share"] for r in over if r["kind"] == "language") == pytest.approx(1.0, abs=1e-5)
    assert [r["share"] for r in over if r["kind"] == "total"] == [1.0]
    text = plan.format_table()
    assert "TOTAL" in text and "bam_Latn" in text and "note: unimax" in text
    assert plan.to_json()["languages"]["cat_Latn"]["target"] == 400


@pytest.mark.parametrize("seed", range(40))
def test_invariants_on_random_inputs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    langs = ["kor_Hang", "jpn_Jpan", "zho_Hans", "zho_Hant", "rus_Cyrl", "ukr_Cyrl", "pol_Latn", "fra_Latn"]
    avail = {lang: int(rng.choice([0, 1, 10, 10**3, 10**6, 10**8]) * rng.uniform(0.5, 2)) for lang in langs}
    fam = {lang: family_of(lang) for lang in langs}
    shares = rng.dirichlet(np.ones(4))
    families = {
        name: {"share": float(s), "strategy": str(rng.choice(["temperature", "unimax"])),
               "alpha": float(rng.uniform(0, 1)), "max_repeats": float(rng.uniform(1, 3))}
        for name, s in zip(["korean", "cjk", "slavic", "romance"], shares)
    }  # fmt: skip
    families["korean"]["share"] += 1 - sum(f["share"] for f in families.values())
    total = None if seed % 3 == 0 else int(10 ** rng.uniform(2, 9))
    policy = str(rng.choice(["redistribute", "leave"]))
    settings = BalanceSettings(total_tokens=total, max_repeats=3.0, shortfall=policy, families=families)
    plan = make_plan(avail, fam, settings)
    for lp in plan.languages.values():
        assert 0 <= lp.target <= math.floor(lp.available * lp.max_repeats + 1e-9)
    for fp in plan.families.values():
        assert fp.target <= fp.capacity + 1e-6
        assert sum(plan.languages[lang].target for lang in fp.languages) == fp.target
    capacity = sum(fp.capacity for fp in plan.families.values())
    if total is not None:
        assert plan.target_total <= total + len(langs)
        short = plan.target_total < total - len(langs)
        if settings.shortfall == "redistribute":  # the total is met whenever the data allows it
            assert plan.target_total >= min(total, capacity) - len(langs)
        if short:  # a shortfall is always reported
            assert any("unreachable" in w or "no data" in w for w in plan.warnings)
