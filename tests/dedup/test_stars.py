"""Large-star / small-star components (`pipeline.dedup.stars`) against scipy on graphs of every shape."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.dedup.components import connected_components
from pipeline.dedup.stars import both_ways, large_star, small_star, sorted_unique, split_by_node, star_components, unsettled


def _graphs():
    rng = np.random.default_rng(0)
    n = 3000
    perm = rng.permutation(n)
    yield "chain in index order", n, np.arange(n - 1), np.arange(1, n)
    yield "chain in random order", n, perm[:-1], perm[1:]
    yield "star on the smallest", n, np.zeros(n - 1, int), np.arange(1, n)
    yield "star on the largest", n, np.full(n - 1, n - 1), np.arange(n - 1)
    blocks = rng.integers(0, n // 4, 2 * n)  # many small components: edges inside blocks of 4
    yield "many small", n, blocks * 4 + rng.integers(0, 4, 2 * n), blocks * 4 + rng.integers(0, 4, 2 * n)
    yield "one giant", n, rng.integers(0, n, 3 * n), rng.integers(0, n, 3 * n)
    yield "sparse random", n, rng.integers(0, n, n // 2), rng.integers(0, n, n // 2)
    yield "no edges", 5, np.empty(0, int), np.empty(0, int)
    yield "repeats and self-loops", 4, np.array([1, 1, 2, 3, 3]), np.array([2, 2, 1, 3, 0])


@pytest.mark.parametrize("name, n, src, dst", list(_graphs()), ids=[g[0] for g in _graphs()])
@pytest.mark.parametrize("partitions", [1, 5])
def test_same_components_as_scipy(name, n, src, dst, partitions) -> None:
    labels, rounds = star_components(n, src, dst, partitions)
    assert np.array_equal(labels, connected_components(n, src, dst)), name
    if name.startswith("chain"):
        assert rounds <= 2 * int(np.log2(n)) + 2  # logarithmic, not linear, in the chain's length


def test_each_operation_keeps_the_components() -> None:
    rng = np.random.default_rng(1)
    n = 400
    src, dst = rng.integers(0, n, 300), rng.integers(0, n, 300)
    want = connected_components(n, src, dst)
    u, v = sorted_unique(*both_ways(src, dst))
    assert unsettled(u, v) > 0
    for op in (large_star, small_star, large_star):
        a, b = op(u, v)
        assert np.array_equal(connected_components(n, a, b), want), op.__name__
        u, v = sorted_unique(*both_ways(a, b))


def test_partitions_hold_whole_neighbourhoods() -> None:
    u, v = both_ways(np.arange(0, 1000), np.arange(1, 1001))
    parts = split_by_node(u, v, 7)
    assert sum(len(p[0]) for p in parts) == len(u)
    owners = [set(p[0].tolist()) for p in parts]
    assert all(not (owners[i] & owners[j]) for i in range(7) for j in range(i))
    assert min(len(p[0]) for p in parts) > 150  # consecutive indices spread over every partition
