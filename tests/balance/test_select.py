"""Document selection: targets within 2% on skewed lengths over independently selected shards, exact caps,
order/sharding independence, cluster-size preference, and the plan → selection → achieved table path."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.balance import (
    BalanceSettings,
    SelectionSketch,
    achieved_tokens,
    make_plan,
    merge_sketches,
    select_documents,
    selection_params,
    shard_repeats,
    sketch_shard,
)
from pipeline.balance.select import N_BINS, Q_ONE, bin_lower_edge, priorities, priority_bins
from pipeline.lang.families import family_of


def _corpus(seed: int, sizes: dict[str, int], sigma: float = 1.5) -> dict[str, np.ndarray]:
    """Documents with log-normal lengths (median ~150 tokens, heavy tail), ids like the pipeline's."""
    rng = np.random.default_rng(seed)
    ids, langs, toks = [], [], []
    for lang, n in sizes.items():
        ids += [f"CC-MAIN-{seed}-{lang}-{i:06d}.warc.gz/{i * 7919}" for i in range(n)]
        langs += [lang] * n
        toks.append(np.maximum(1, rng.lognormal(5.0, sigma, n)).astype(np.int64))
    order = rng.permutation(len(ids))
    return {"doc_id": np.asarray(ids, dtype=object)[order], "lang": np.asarray(langs, dtype=object)[order],
            "num_tokens": np.concatenate(toks)[order]}  # fmt: skip


def _split(corpus: dict[str, np.ndarray], n_shards: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Uneven shards in a random order."""
    rng = np.random.default_rng(seed)
    n = corpus["doc_id"].size
    cuts = np.sort(rng.choice(np.arange(1, n), n_shards - 1, replace=False))
    parts = np.split(rng.permutation(n), cuts)
    return [{k: v[idx] for k, v in corpus.items()} for idx in parts]


def _run_sharded(shards: list[dict[str, np.ndarray]], targets: dict[str, int], caps: dict[str, float], seed: int,
                 prefer: bool = False) -> tuple[dict[str, int], dict[str, int], SelectionSketch]:  # fmt: skip
    """Driver + per-shard path; returns doc_id -> repeats, achieved tokens per language, merged sketch."""
    sketches = [
        sketch_shard(s["doc_id"], s["lang"], s["num_tokens"], seed=seed, prefer_cluster_size=prefer,
                     cluster_size=s.get("cluster_size"))
        for s in shards
    ]  # fmt: skip
    sketch = merge_sketches(sketches)
    params = selection_params(sketch, targets, caps)
    choice: dict[str, int] = {}
    achieved: dict[str, int] = {}
    for s in shards:
        rep = shard_repeats(s["doc_id"], s["lang"], params, seed=seed, prefer_cluster_size=prefer,
                            cluster_size=s.get("cluster_size"))  # fmt: skip
        choice.update(zip(s["doc_id"].tolist(), rep.tolist()))
        for lang, t in achieved_tokens(s["lang"], s["num_tokens"], rep).items():
            achieved[lang] = achieved.get(lang, 0) + t
    return choice, achieved, sketch


def test_bins_are_exact_monotone_and_fine() -> None:
    rng = np.random.default_rng(0)
    q = np.concatenate([rng.integers(0, Q_ONE, 50_000, dtype=np.uint64), np.arange(5000, dtype=np.uint64),
                        np.array([Q_ONE - 1, 2047, 2048, 4095, 4096], dtype=np.uint64)])  # fmt: skip
    bins = priority_bins(q)
    lo = np.array([bin_lower_edge(int(b)) for b in bins], dtype=np.uint64)
    hi = np.array([bin_lower_edge(int(b) + 1) for b in bins], dtype=np.uint64)
    assert ((lo <= q) & (q < hi)).all()
    edges = [bin_lower_edge(i) for i in range(N_BINS + 1)]
    assert edges[0] == 0 and edges[-1] == Q_ONE and all(a < b for a, b in zip(edges, edges[1:]))
    assert max((b - a) / a for a, b in zip(edges, edges[1:]) if a >= 1024) <= 2**-10  # below 1024: p < 2^-43


FRACTIONS = {"kor_Hang": 0.05, "jpn_Jpan": 0.3, "zho_Hans": 0.77, "rus_Cyrl": 1.0, "ukr_Cyrl": 1.4,
             "fra_Latn": 2.6, "vie_Latn": 3.5, "tha_Thai": 3.99}  # fmt: skip


@pytest.mark.parametrize("seed", range(8))
def test_targets_within_two_percent_over_independent_shards(seed: int) -> None:
    """Log-normal lengths (σ 1.5), 500-20,000 documents per language, 4 uneven shards chosen independently.

    A threshold rule moves in whole documents, so "data suffices" means no document above 4% of the target;
    otherwise the miss is below one document (measured over 100 seeds: ≤ 1.2% / ≤ 0.41 of the largest document).
    """
    sizes = {lang: n for lang, n in zip(FRACTIONS, [20_000, 8_000, 3_000, 1_500, 2_000, 1_000, 600, 500])}
    corpus = _corpus(seed, sizes)
    available = {lang: int(corpus["num_tokens"][corpus["lang"] == lang].sum()) for lang in sizes}
    targets = {lang: int(FRACTIONS[lang] * available[lang]) for lang in sizes}
    caps = {lang: 4.0 for lang in sizes}
    shards = _split(corpus, 4, seed)
    _, achieved, sketch = _run_sharded(shards, targets, caps, seed=seed + 10)
    assert sketch.available_tokens() == available
    params = selection_params(sketch, targets, caps)
    checked = 0
    for lang, target in targets.items():
        assert achieved[lang] == params[lang].expected_tokens  # the driver knows the outcome exactly
        largest = int(corpus["num_tokens"][corpus["lang"] == lang].max())
        if largest <= 0.04 * target:
            assert abs(achieved[lang] - target) <= 0.02 * target, (lang, achieved[lang], target)
            checked += 1
        else:
            assert abs(achieved[lang] - target) < largest, (lang, achieved[lang], target, largest)
    assert checked >= 3  # most languages have enough documents for the 2% claim


def test_targets_within_half_a_percent_on_a_larger_language() -> None:
    corpus = _corpus(42, {"kor_Hang": 60_000}, sigma=1.2)
    avail = int(corpus["num_tokens"].sum())
    for fraction in (0.01, 0.1, 0.5, 0.93, 1.07, 2.2, 3.7):
        target = int(fraction * avail)
        _, achieved, _ = _run_sharded(_split(corpus, 6, 1), {"kor_Hang": target}, {"kor_Hang": 4.0}, seed=0)
        assert abs(achieved["kor_Hang"] - target) <= 0.005 * target, (fraction, achieved, target)


def test_repeat_caps_are_never_exceeded() -> None:
    corpus = _corpus(5, {"kor_Hang": 3000, "jpn_Jpan": 800})
    avail = {lang: int(corpus["num_tokens"][corpus["lang"] == lang].sum()) for lang in ("kor_Hang", "jpn_Jpan")}
    caps = {"kor_Hang": 2.5, "jpn_Jpan": 1.3}
    targets = {lang: math.floor(avail[lang] * caps[lang]) for lang in avail}  # exactly at capacity
    choice, achieved, _ = _run_sharded(_split(corpus, 3, 5), targets, caps, seed=3)
    ids = corpus["doc_id"].tolist()
    for lang in avail:
        reps = np.array([choice[i] for i, lang_i in zip(ids, corpus["lang"]) if lang_i == lang])
        assert reps.max() <= math.ceil(caps[lang]) and reps.min() >= math.floor(caps[lang])
        assert achieved[lang] <= caps[lang] * avail[lang]
        assert achieved[lang] >= 0.98 * targets[lang]


def test_choice_depends_on_seed_and_doc_only() -> None:
    corpus = _corpus(7, {"kor_Hang": 4000, "rus_Cyrl": 2000})
    avail = {lang: int(corpus["num_tokens"][corpus["lang"] == lang].sum()) for lang in ("kor_Hang", "rus_Cyrl")}
    targets = {"kor_Hang": avail["kor_Hang"] // 3, "rus_Cyrl": int(avail["rus_Cyrl"] * 1.7)}
    caps = {"kor_Hang": 4.0, "rus_Cyrl": 4.0}
    a, ach_a, _ = _run_sharded(_split(corpus, 2, 0), targets, caps, seed=11)
    b, ach_b, _ = _run_sharded(_split(corpus, 7, 1)[::-1], targets, caps, seed=11)
    assert a == b and ach_a == ach_b
    c, _, _ = _run_sharded(_split(corpus, 2, 0), targets, caps, seed=12)
    assert c != a
    kept = sum(1 for i, lang in zip(corpus["doc_id"], corpus["lang"]) if lang == "kor_Hang" and a[i] > 0)
    assert 0.2 * 4000 < kept < 0.5 * 4000  # a third of the tokens: a real downsample, not all or nothing

    # the one-process helper chooses exactly what the sharded path chose
    mask = corpus["lang"] == "kor_Hang"
    one = select_documents(corpus["doc_id"][mask].tolist(), corpus["num_tokens"][mask], targets["kor_Hang"], seed=11)
    assert one.tolist() == [a[i] for i in corpus["doc_id"][mask]]


def test_prefer_cluster_size_keeps_big_clusters_and_still_hits_target() -> None:
    corpus = _corpus(3, {"kor_Hang": 10_000})
    rng = np.random.default_rng(3)
    corpus["cluster_size"] = np.where(rng.random(10_000) < 0.2, rng.integers(8, 200, 10_000), 1)
    avail = int(corpus["num_tokens"].sum())
    target = int(0.3 * avail)
    choice, achieved, _ = _run_sharded(_split(corpus, 3, 3), {"kor_Hang": target}, {"kor_Hang": 4.0}, seed=1,
                                       prefer=True)  # fmt: skip
    assert abs(achieved["kor_Hang"] - target) <= 0.02 * target
    kept = np.array([choice[i] > 0 for i in corpus["doc_id"]])
    big = corpus["cluster_size"] > 1
    assert kept[big].mean() > 2 * kept[~big].mean()
    with_nulls = corpus["cluster_size"].astype(object)
    with_nulls[:10] = None  # a null cluster size counts as a singleton
    assert (priorities(corpus["doc_id"], 1, with_nulls)[:10] == priorities(corpus["doc_id"][:10], 1, [1] * 10)).all()
    with pytest.raises(ValueError, match="cluster_size"):
        sketch_shard(corpus["doc_id"], corpus["lang"], corpus["num_tokens"], seed=1, prefer_cluster_size=True)
    one = select_documents(corpus["doc_id"].tolist(), corpus["num_tokens"], target, seed=1,
                           cluster_size=corpus["cluster_size"])  # fmt: skip
    assert one.tolist() == [choice[i] for i in corpus["doc_id"]]


def test_target_beyond_cap_is_refused() -> None:
    with pytest.raises(ValueError, match=r"exceeds 30 available × 2 repeats = 60"):
        select_documents(["a", "b", "c"], [10, 10, 10], 61, seed=0, max_repeats=2)


def test_sketch_json_roundtrip_and_merge_checks() -> None:
    corpus = _corpus(1, {"kor_Hang": 500, "jpn_Jpan": 300})
    s = sketch_shard(corpus["doc_id"], corpus["lang"], corpus["num_tokens"], seed=4)
    back = SelectionSketch.from_json(s.to_json())
    assert back.available_tokens() == s.available_tokens() and back.documents() == {"jpn_Jpan": 300, "kor_Hang": 500}
    assert (back.dense("kor_Hang") == s.dense("kor_Hang")).all()
    other = sketch_shard(corpus["doc_id"], corpus["lang"], corpus["num_tokens"], seed=5)
    with pytest.raises(ValueError, match="different seed"):
        merge_sketches([s, other])
    assert (priorities(["x", "y"], 4) == priorities(np.array(["x", "y"], dtype=object), 4)).all()


def test_plan_to_selection_to_table() -> None:
    corpus = _corpus(9, {"kor_Hang": 2000, "jpn_Jpan": 6000, "zho_Hans": 9000, "rus_Cyrl": 4000})
    shards = _split(corpus, 5, 9)
    settings = BalanceSettings(total_tokens=2_500_000, seed=2, families={"korean": {"share": 0.4},
                               "cjk": {"share": 0.4, "strategy": "unimax"}, "slavic": {"share": 0.2}})  # fmt: skip
    sketch = merge_sketches(sketch_shard(s["doc_id"], s["lang"], s["num_tokens"], seed=settings.seed) for s in shards)
    available = sketch.available_tokens()
    plan = make_plan(available, {lang: family_of(lang) for lang in available}, settings)
    choice, achieved, _ = _run_sharded(shards, plan.targets(), plan.caps(), seed=settings.seed)
    for lang, lp in plan.languages.items():
        assert abs(achieved[lang] - lp.target) <= 0.02 * lp.target
    rows = {(r["kind"], r["lang"]): r for r in plan.rows(achieved)}
    assert rows[("total", None)]["achieved"] == sum(achieved.values())
    for r in plan.rows(achieved):
        if r["kind"] == "family":
            assert abs(r["achieved"] - r["target"]) <= 0.02 * r["target"], r
