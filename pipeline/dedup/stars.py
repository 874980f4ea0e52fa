"""Connected components by iterated large-star / small-star (Kiveris et al. 2014, "Connected Components in
MapReduce and Beyond"), one partition at a time: the kernels a distributed step runs per partition, in numpy.

An undirected graph is stored as directed edges `(u, v)` in both directions, split into partitions by a hash of
`u` (`node_partition`): the partition of a node holds its whole neighbourhood, so every operation below is local
to one partition and its memory is bounded by the partition's edges. One round is two shuffles:

* `large_star(u, v)`: every node u links each LARGER neighbour v to m(u), the smallest of u and its neighbours.
* `small_star(u, v)`: every node u links each SMALLER neighbour v, and itself, to m(u), the smallest of u and its
  smaller neighbours.

Each returns undirected edges `(a, b)`; the caller splits them both ways by `node_partition` again for the next
operation. Neither changes the connected components, and alternating them ends in one star per component whose
centre is the component's smallest node (O(log^2 n) rounds proven, ~log n in practice). `unsettled(u, v)` counts
the nodes of a partition that are neither a centre (every neighbour larger) nor a leaf (exactly one neighbour,
smaller): zero over every partition means the graph is stars, and `star_labels` reads each leaf's centre.

`star_components(num_docs, src, dst, num_partitions)` runs the whole thing in one process: for tests against
scipy and as the reference for the Ray orchestration in `pipeline.stages.dedup` (`pipeline.dedup.distributed`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "node_partition",
    "split_by_node",
    "both_ways",
    "sorted_unique",
    "large_star",
    "small_star",
    "unsettled",
    "star_labels",
    "star_components",
]

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_EMPTY = np.empty(0, dtype=np.int64)


def node_partition(nodes: np.ndarray, num_partitions: int) -> np.ndarray:
    """Partition of each node (int64 in 0..num_partitions-1): MurmurHash3's finalizer of the node, so the
    consecutive document indices of a shard spread over all partitions."""
    h = np.asarray(nodes, dtype=np.int64).astype(np.uint64)
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return (h % np.uint64(num_partitions)).astype(np.int64)


def both_ways(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges as directed ones in both directions; self-loops dropped."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ok = a != b
    if not ok.all():
        a, b = a[ok], b[ok]
    return np.concatenate([a, b]), np.concatenate([b, a])


def split_by_node(u: np.ndarray, v: np.ndarray, num_partitions: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Directed edges grouped by the partition of their first node: `[(u, v) of partition 0, ...]`."""
    part = node_partition(u, num_partitions)
    if num_partitions < 1 << 16:  # numpy's stable sort of 16-bit keys is a radix sort: linear
        part = part.astype(np.uint16)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(num_partitions + 1))
    u, v = u[order], v[order]
    return [(u[bounds[p] : bounds[p + 1]], v[bounds[p] : bounds[p + 1]]) for p in range(num_partitions)]


def sorted_unique(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges sorted by (u, v) with repeats removed: the form every kernel below takes."""
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    if u.size == 0:
        return _EMPTY, _EMPTY
    if min(u.min(), v.min()) >= 0 and max(u.max(), v.max()) < (1 << 32):
        key = (u.astype(np.uint64) << np.uint64(32)) | v.astype(np.uint64)
        key.sort()  # sort + neighbour compare: np.unique is ~15x slower on 5e6 uint64 keys here
        key = key[np.concatenate(([True], key[1:] != key[:-1]))]
        return (key >> np.uint64(32)).astype(np.int64), (key & np.uint64(0xFFFFFFFF)).astype(np.int64)
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    keep = np.concatenate(([True], (u[1:] != u[:-1]) | (v[1:] != v[:-1])))
    return u[keep], v[keep]


def _groups(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For edges sorted by u: (index of each edge's group, start position of every group)."""
    starts = np.flatnonzero(np.concatenate(([True], u[1:] != u[:-1])))
    gid = np.cumsum(np.concatenate(([False], u[1:] != u[:-1])))
    return gid, starts


def large_star(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For edges from `sorted_unique` (whole neighbourhoods): undirected edges (v, m(u)) for every neighbour
    v > u, where m(u) = min(u, neighbours of u)."""
    if u.size == 0:
        return _EMPTY, _EMPTY
    gid, starts = _groups(u)
    m = np.minimum(u[starts], v[starts])[gid]  # v sorted within a group: its first is the smallest neighbour
    up = v > u
    return v[up], m[up]


def small_star(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For edges from `sorted_unique`: undirected edges (v, m(u)) for every neighbour v < u and for u itself,
    where m(u) = the smallest neighbour below u (nodes without one emit nothing); self-loops left out."""
    down = v < u
    u, v = u[down], v[down]
    if u.size == 0:
        return _EMPTY, _EMPTY
    gid, starts = _groups(u)
    m = v[starts]
    others = v != m[gid]
    return np.concatenate([v[others], u[starts]]), np.concatenate([m[gid][others], m])


def unsettled(u: np.ndarray, v: np.ndarray) -> int:
    """Nodes (of edges from `sorted_unique`) that are neither a star centre (all neighbours larger) nor a leaf
    (one neighbour, smaller)."""
    if u.size == 0:
        return 0
    gid, starts = _groups(u)
    first = v[starts]
    degree = np.diff(np.append(starts, len(u)))
    centre = first > u[starts]
    leaf = (degree == 1) & (first < u[starts])
    return int((~(centre | leaf)).sum())


def star_labels(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(leaves, their centres) of a settled partition: every node whose smallest neighbour is below it."""
    if u.size == 0:
        return _EMPTY, _EMPTY
    _, starts = _groups(u)
    leaf = v[starts] < u[starts]
    return u[starts][leaf], v[starts][leaf]


def star_components(
    num_docs: int, src, dst, num_partitions: int = 4, max_rounds: int = 200
) -> tuple[np.ndarray, int]:
    """(for each document the smallest index of its component, rounds): the partitioned algorithm in one process."""
    parts = split_by_node(*both_ways(src, dst), num_partitions)
    rounds = 0
    while True:
        parts = [sorted_unique(u, v) for u, v in parts]
        if sum(unsettled(u, v) for u, v in parts) == 0:
            break
        if rounds >= max_rounds:
            raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
        rounds += 1
        for op in (large_star, small_star):
            outs = [split_by_node(*both_ways(*op(u, v)), num_partitions) for u, v in parts]
            parts = [
                sorted_unique(np.concatenate([o[q][0] for o in outs]), np.concatenate([o[q][1] for o in outs]))
                for q in range(num_partitions)
            ]
    labels = np.arange(num_docs, dtype=np.int64)
    for u, v in parts:
        leaf, centre = star_labels(u, v)
        labels[leaf] = centre
    return labels, rounds
