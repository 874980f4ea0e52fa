"""BalanceSettings: validation messages, normalization of shares and languages, derived values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.balance.settings import BalanceSettings
from pipeline.lang.families import DEFAULT_FAMILIES


def test_defaults_are_valid_and_frozen() -> None:
    s = BalanceSettings()
    assert (s.total_tokens, s.families, s.strategy, s.alpha, s.max_repeats, s.seed) == (None, None, "temperature",
                                                                                          0.3, 4.0, 0)  # fmt: skip
    assert s.family_shares() is None and s.requested_total() is None
    with pytest.raises(ValidationError):
        s.seed = 3  # type: ignore[misc]


def test_shares_within_tolerance_are_normalized_exactly() -> None:
    s = BalanceSettings(total_tokens=900, families={"korean": {"share": 0.333}, "cjk": {"share": 0.333},
                                                    "slavic": {"share": 0.333}})  # fmt: skip
    shares = s.family_shares()
    assert shares is not None and sum(shares.values()) == pytest.approx(1.0, abs=1e-12)
    assert shares["korean"] == pytest.approx(1 / 3)


def test_shares_far_from_one_are_refused_with_the_sum() -> None:
    with pytest.raises(ValidationError, match=r"sum to 0\.9000.*forgotten family"):
        BalanceSettings(families={"korean": {"share": 0.5}, "cjk": {"share": 0.4}})


def test_share_and_tokens_cannot_be_mixed() -> None:
    with pytest.raises(ValidationError, match="use one kind for all families"):
        BalanceSettings(families={"korean": {"share": 0.5}, "cjk": {"tokens": 100}})


@pytest.mark.parametrize("fam", [{}, {"share": 0.5, "tokens": 10}])
def test_exactly_one_budget_per_family(fam: dict) -> None:
    with pytest.raises(ValidationError, match="exactly one of `share`"):
        BalanceSettings(families={"korean": fam})


@pytest.mark.parametrize(
    "kwargs, where",
    [
        ({"total_tokens": -5}, "total_tokens"),
        ({"max_repeats": 0.5}, "max_repeats"),
        ({"max_repeats": float("inf")}, "max_repeats"),
        ({"alpha": 1.5}, "alpha"),
        ({"seed": -1}, "seed"),
        ({"families": {"korean": {"share": -0.2}}}, "share"),
        ({"families": {"korean": {"tokens": 0}}}, "tokens"),
        ({"families": {"korean": {"share": 1.0, "max_repeats": 0}}}, "max_repeats"),
        ({"families": {"korean": {"share": 1.0, "strategy": "uniform"}}}, "strategy"),
        ({"familes": {}}, "familes"),
        ({"families": {"korean": {"share": 1.0, "shares": 1}}}, "shares"),
    ],
)
def test_bad_values_are_refused_naming_the_key(kwargs: dict, where: str) -> None:
    with pytest.raises(ValidationError) as err:
        BalanceSettings(**kwargs)
    assert where in str(err.value)


def test_family_cap_may_only_tighten_the_global_one() -> None:
    with pytest.raises(ValidationError, match="above the global max_repeats"):
        BalanceSettings(max_repeats=2, families={"korean": {"share": 1.0, "max_repeats": 3}})
    s = BalanceSettings(max_repeats=4, families={"korean": {"share": 1.0, "max_repeats": 2, "strategy": "unimax"}})
    assert s.family_strategy("korean") == ("unimax", 0.3, 2.0)
    assert s.family_strategy("not-configured") == ("temperature", 0.3, 4.0)


def test_languages_are_normalized_and_listed_once() -> None:
    s = BalanceSettings(families={"east": {"share": 1.0, "languages": ["ko", "ja", "zh-Hant"]}})
    assert s.families is not None and s.families["east"].languages == ["kor_Hang", "jpn_Jpan", "zho_Hant"]
    assert s.explicit_members() == {"kor_Hang": "east", "jpn_Jpan": "east", "zho_Hant": "east"}
    with pytest.raises(ValidationError, match="listed twice"):
        BalanceSettings(families={"east": {"share": 1.0, "languages": ["ko", "kor_Hang"]}})
    with pytest.raises(ValidationError, match="families 'a' and 'b'"):
        BalanceSettings(families={"a": {"share": 0.5, "languages": ["ko"]}, "b": {"share": 0.5, "languages": ["kor"]}})
    with pytest.raises(ValidationError, match="unknown"):
        BalanceSettings(families={"east": {"share": 1.0, "languages": ["xx-notalang"]}})


def test_absolute_budgets_define_the_total() -> None:
    s = BalanceSettings(families={"korean": {"tokens": 300}, "cjk": {"tokens": 700}})
    assert s.requested_total() == 1000
    assert s.family_shares() == {"korean": 0.3, "cjk": 0.7}
    assert BalanceSettings(total_tokens=1000, families={"korean": {"tokens": 1000}}).requested_total() == 1000
    with pytest.raises(ValidationError, match="differs from the sum"):
        BalanceSettings(total_tokens=999, families={"korean": {"tokens": 300}, "cjk": {"tokens": 700}})


def test_family_names_are_checked_against_the_table_with_a_suggestion() -> None:
    s = BalanceSettings(families={"slavik": {"share": 0.5}, "mine": {"share": 0.5, "languages": ["ko"]}})
    with pytest.raises(ValueError, match="did you mean 'slavic'"):
        s.check_family_names(DEFAULT_FAMILIES)
    ok = BalanceSettings(families={"slavic": {"share": 0.5}, "mine": {"share": 0.5, "languages": ["ko"]}})
    ok.check_family_names(DEFAULT_FAMILIES)
