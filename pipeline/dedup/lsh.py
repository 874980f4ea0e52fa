"""MinHash LSH without an index: band keys, hash partitioning, and chain edges from sorted buckets.

Flow (each step is plain numpy on arrays, so it runs per shard / per partition / on the driver as the stage likes):

1. `lsh_params(threshold, num_perm)` -> (bands, rows): the same optimum as `datasketch.MinHashLSH` (minimises
   `fp_weight * P(false positive) + fn_weight * P(false negative)`, integrated over the S-curve), or explicit values;
   `verified_lsh_params(threshold, num_perm)` -> a lower candidate threshold's optimum, for LSH + verification
   (the recommended setup: 18 x 7 for 0.8 / 128 perms; see `verify`).
2. `band_keys(signatures, bands, rows, doc_ids)` -> `BandKeys(band, bucket, doc)`: one row per (document, band); the
   bucket is a 64-bit hash of the band's `rows` signature values (band-seeded, so two bands never share a bucket in
   practice). Documents without shingles (empty signature) get no key: otherwise every empty document would
   collide with every other in every band.
3. `partition_band_keys(keys, P)` -> P `BandKeys`, by a hash of (band, bucket): every member of a bucket lands in the
   same partition, whichever shard it came from, so partitions are processed independently (distributed).
4. `bucket_edges(keys)` per partition -> `(src, dst)` int64 document-id arrays: sort by (band, bucket, doc) with
   `np.lexsort` and link consecutive members of each bucket as a CHAIN (k members -> k-1 edges, not k(k-1)/2). The
   connected components of the chain edges equal those of all pairs (each bucket is a path instead of a clique),
   and the edge count stays <= bands x documents however large a bucket is.

Edges repeat across bands (a near-duplicate pair usually shares several bands); `dedupe_edges` removes repeats when
memory matters, connected components do not need it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "optimal_param",
    "lsh_params",
    "verified_lsh_params",
    "candidate_probability",
    "BandKeys",
    "band_hashes",
    "band_keys",
    "empty_rows",
    "salt_buckets",
    "partition_of",
    "partition_band_keys",
    "bucket_edges",
    "dedupe_edges",
    "all_pair_edges",
]


# ---------------------------------------------------------------------------------------------------------------
# parameters
def _false_positive_probability(threshold: float, b: int, r: int) -> float:
    from scipy.integrate import quad

    return quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0]


def _false_negative_probability(threshold: float, b: int, r: int) -> float:
    from scipy.integrate import quad

    return quad(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)[0]


@functools.lru_cache(maxsize=256)
def optimal_param(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive + false negative probability mass.

    The same computation, loop order and tie-breaking as `datasketch.lsh._optimal_param` (so `MinHashLSH(threshold,
    num_perm, weights)` picks the same b and r): for every b in 1..num_perm and r in 1..num_perm // b, integrate
    P(candidate | s) = 1 - (1 - s^r)^b below the threshold (false positives) and 1 - P above it (false negatives).
    """
    min_error = float("inf")
    opt = (0, 0)
    for b in range(1, num_perm + 1):
        max_r = int(num_perm / b)
        for r in range(1, max_r + 1):
            fp = _false_positive_probability(threshold, b, r)
            fn = _false_negative_probability(threshold, b, r)
            error = fp * false_positive_weight + fn * false_negative_weight
            if error < min_error:
                min_error = error
                opt = (b, r)
    return opt


def lsh_params(
    threshold: float = 0.8,
    num_perm: int = 128,
    weights: tuple[float, float] = (0.5, 0.5),
    bands: int | None = None,
    rows: int | None = None,
) -> tuple[int, int]:
    """(bands, rows): explicit when both are given (checked against num_perm), else `optimal_param`."""
    if bands is not None or rows is not None:
        if bands is None or rows is None:
            raise ValueError("give both bands and rows, or neither")
        if bands < 1 or rows < 1 or bands * rows > num_perm:
            raise ValueError(f"bands * rows = {bands} * {rows} must be in 1..num_perm={num_perm}")
        return int(bands), int(rows)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be in [0, 1]")
    if num_perm < 2:
        raise ValueError("too few permutations")
    if any(w < 0.0 or w > 1.0 for w in weights) or abs(sum(weights) - 1.0) > 1e-9:
        raise ValueError("weights must be in [0, 1] and sum to 1")
    return optimal_param(float(threshold), int(num_perm), float(weights[0]), float(weights[1]))


def verified_lsh_params(
    threshold: float = 0.8, num_perm: int = 128, min_candidate_prob: float = 0.98, step: float = 0.05
) -> tuple[int, int]:
    """(bands, rows) for LSH followed by `verify.verify_edges(..., threshold)` -- the recommended setup.

    The candidate stage should lose (almost) no pair AT the threshold, since verification can only remove edges:
    starting at `threshold` and going down by `step`, take datasketch's optimum for the first candidate threshold
    whose P(candidate | J = threshold) >= min_candidate_prob. For 0.8 / 128 perms: 18 bands x 7 rows (optimal for
    0.6; P(candidate | 0.8) = 0.986), where datasketch's optimum for 0.8 itself (9 x 13) has P = 0.40 at 0.8.
    Measured in scripts/bench/dedup_quality.py.
    """
    ct = float(threshold)
    while True:
        b, r = lsh_params(round(ct, 6), num_perm)
        if candidate_probability(threshold, b, r) >= min_candidate_prob or ct - step < step:
            return b, r
        ct -= step


def candidate_probability(similarity, bands: int, rows: int):
    """P(two documents of Jaccard `similarity` share at least one band) = 1 - (1 - s^rows)^bands."""
    s = np.asarray(similarity, dtype=np.float64)
    return 1.0 - (1.0 - s**rows) ** bands


# ---------------------------------------------------------------------------------------------------------------
# band keys
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _fmix64_inplace(h: np.ndarray) -> None:
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33


def band_hashes(signatures: np.ndarray, bands: int, rows: int, seed: int = 0) -> np.ndarray:
    """uint64 `[n_docs, bands]`: a 64-bit hash of each band's `rows` signature values (band-seeded).

    Values of uint32 signatures are packed two per uint64 word; each word is folded in with `h = fmix64(h ^ word)`
    (MurmurHash3's 64-bit finalizer, a bijection), starting from a per-band seed.
    """
    sig = np.asarray(signatures)
    if sig.ndim != 2:
        raise ValueError("signatures must be 2-D [n_docs, num_perm]")
    n, num_perm = sig.shape
    if bands * rows > num_perm:
        raise ValueError(f"bands * rows = {bands * rows} > num_perm = {num_perm}")
    out = np.empty((n, bands), dtype=np.uint64)
    for k in range(bands):
        block = sig[:, k * rows : (k + 1) * rows]
        h = np.full(n, ((seed + k + 1) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
        _fmix64_inplace(h)
        if block.dtype == np.uint32:
            j = 0
            while j + 1 < rows:
                word = (block[:, j].astype(np.uint64) << np.uint64(32)) | block[:, j + 1].astype(np.uint64)
                h ^= word
                _fmix64_inplace(h)
                j += 2
            if j < rows:
                h ^= block[:, j].astype(np.uint64)
                _fmix64_inplace(h)
        else:
            for j in range(rows):
                h ^= block[:, j].astype(np.uint64)
                _fmix64_inplace(h)
        out[:, k] = h
    return out


def empty_rows(signatures: np.ndarray) -> np.ndarray:
    """bool `[n]`: rows that are an empty MinHash (every value the scheme's maximum: 2^32-1, or 2^64-1)."""
    sig = np.asarray(signatures)
    first = sig[:, 0]
    cands = (first == np.uint64(0xFFFFFFFF)) | (first == np.iinfo(sig.dtype).max)
    out = np.zeros(sig.shape[0], dtype=bool)
    idx = np.flatnonzero(cands)
    if idx.size:
        sub = sig[idx]
        out[idx] = (sub == sub[:, :1]).all(axis=1)
    return out


@dataclass
class BandKeys:
    """One row per (document, band): `band` uint16, `bucket` uint64 (hash of the band's values), `doc` int64."""

    band: np.ndarray
    bucket: np.ndarray
    doc: np.ndarray

    def __post_init__(self) -> None:
        self.band = np.asarray(self.band, dtype=np.uint16)
        self.bucket = np.asarray(self.bucket, dtype=np.uint64)
        self.doc = np.asarray(self.doc, dtype=np.int64)
        if not (len(self.band) == len(self.bucket) == len(self.doc)):
            raise ValueError("band, bucket and doc must have the same length")

    def __len__(self) -> int:
        return len(self.doc)

    @property
    def nbytes(self) -> int:
        return self.band.nbytes + self.bucket.nbytes + self.doc.nbytes

    def take(self, index) -> BandKeys:
        return BandKeys(self.band[index], self.bucket[index], self.doc[index])

    @classmethod
    def empty(cls) -> BandKeys:
        return cls(np.empty(0, np.uint16), np.empty(0, np.uint64), np.empty(0, np.int64))

    @classmethod
    def concat(cls, parts: Sequence[BandKeys]) -> BandKeys:
        parts = list(parts)
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.band for p in parts]),
            np.concatenate([p.bucket for p in parts]),
            np.concatenate([p.doc for p in parts]),
        )

    def save(self, path: str | Path) -> None:
        """Uncompressed .npz (bucket hashes do not compress); `np.load` reads it back, `BandKeys.load` too."""
        with open(path, "wb") as f:
            np.savez(f, band=self.band, bucket=self.bucket, doc=self.doc)

    @classmethod
    def load(cls, path: str | Path) -> BandKeys:
        with np.load(path) as z:
            return cls(z["band"], z["bucket"], z["doc"])

    def to_arrow(self):
        """A pyarrow Table (band uint16, bucket uint64, doc int64), zero-copy from the arrays."""
        import pyarrow as pa

        return pa.table({"band": self.band, "bucket": self.bucket, "doc": self.doc})

    @classmethod
    def from_arrow(cls, table) -> BandKeys:
        return cls(
            table.column("band").to_numpy(),
            table.column("bucket").to_numpy(),
            table.column("doc").to_numpy(),
        )


def band_keys(
    signatures: np.ndarray,
    bands: int,
    rows: int,
    doc_ids: np.ndarray | None = None,
    skip_empty: bool = True,
    seed: int = 0,
) -> BandKeys:
    """The LSH keys of a batch of documents: `bands` rows per document (band-major order).

    `doc_ids` are the documents' global ids (int64; default 0..n-1); they are what the edges and components refer
    to. Empty signatures (documents without shingles) are skipped unless `skip_empty=False`.
    """
    sig = np.asarray(signatures)
    n = sig.shape[0]
    ids = np.arange(n, dtype=np.int64) if doc_ids is None else np.asarray(doc_ids, dtype=np.int64)
    if ids.shape != (n,):
        raise ValueError(f"doc_ids must have shape ({n},)")
    if skip_empty:
        keep = ~empty_rows(sig)
        if not keep.all():
            sig, ids = sig[keep], ids[keep]
            n = sig.shape[0]
    h = band_hashes(sig, bands, rows, seed)  # [n, bands]
    return BandKeys(
        band=np.repeat(np.arange(bands, dtype=np.uint16), n),
        bucket=h.T.reshape(-1),
        doc=np.tile(ids, bands),
    )


def salt_buckets(keys: BandKeys, salt: np.ndarray) -> BandKeys:
    """Mix a per-document 64-bit salt into every bucket hash (`salt` is indexed by `keys.doc`), in place.

    Documents with different salts never share a bucket (e.g. the language, for dedup within each language), while
    documents with equal salts keep sharing exactly the buckets they shared before.
    """
    if len(keys):
        keys.bucket ^= np.asarray(salt, dtype=np.uint64)[keys.doc]
        _fmix64_inplace(keys.bucket)
    return keys


# ---------------------------------------------------------------------------------------------------------------
# partitioning
def partition_of(band: np.ndarray, bucket: np.ndarray, num_partitions: int) -> np.ndarray:
    """Partition index of each (band, bucket) key, in 0..num_partitions-1 (int64)."""
    if num_partitions < 1:
        raise ValueError("num_partitions must be >= 1")
    h = np.asarray(bucket, dtype=np.uint64) ^ (np.asarray(band, dtype=np.uint64) * _GOLDEN)
    h = h.copy()
    _fmix64_inplace(h)
    return (h % np.uint64(num_partitions)).astype(np.int64)


def partition_band_keys(keys: BandKeys, num_partitions: int) -> list[BandKeys]:
    """Split keys into `num_partitions` parts by hash of (band, bucket); all members of a bucket share a part."""
    part = partition_of(keys.band, keys.bucket, num_partitions)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(num_partitions + 1))
    return [keys.take(order[bounds[p] : bounds[p + 1]]) for p in range(num_partitions)]


# ---------------------------------------------------------------------------------------------------------------
# edges
def _sorted_runs(keys: BandKeys) -> tuple[np.ndarray, np.ndarray]:
    """(docs sorted by (band, bucket, doc), bool `same[i]`: entry i+1 is in the same bucket as entry i)."""
    order = np.lexsort((keys.doc, keys.bucket, keys.band))
    band = keys.band[order]
    bucket = keys.bucket[order]
    doc = keys.doc[order]
    same = (bucket[1:] == bucket[:-1]) & (band[1:] == band[:-1])
    del band, bucket
    return doc, same


def bucket_edges(keys: BandKeys, mode: str = "chain") -> tuple[np.ndarray, np.ndarray]:
    """Candidate edges `(src, dst)` (int64 doc ids) linking the members of every bucket.

    mode "chain": consecutive members (sorted by doc id) are linked -- k-1 edges per bucket of k.
    mode "star": every member is linked to the bucket's smallest doc id -- also k-1 edges; useful with
    `verify_edges`, where each member is then checked against one common reference.
    Self-edges (a document twice in a bucket, e.g. keys ingested twice) are dropped.
    """
    if len(keys) < 2:
        e = np.empty(0, dtype=np.int64)
        return e, e.copy()
    doc, same = _sorted_runs(keys)
    if mode == "chain":
        src, dst = doc[:-1][same], doc[1:][same]
    elif mode == "star":
        idx = np.arange(1, len(doc), dtype=np.int64)
        head = np.where(same, 0, idx)  # position where the run of entry i+1 starts, if it starts there
        head = np.maximum.accumulate(np.concatenate(([0], head)))[1:]
        src, dst = doc[head[same]], doc[1:][same]
    else:
        raise ValueError(f"mode must be 'chain' or 'star', got {mode!r}")
    ok = src != dst
    if not ok.all():
        src, dst = src[ok], dst[ok]
    return src, dst


def all_pair_edges(keys: BandKeys) -> tuple[np.ndarray, np.ndarray]:
    """Every pair inside every bucket (k(k-1)/2 per bucket). For tests and small inputs only."""
    doc, same = _sorted_runs(keys)
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    ends = np.append(starts[1:], len(doc))
    src, dst = [], []
    for s, e in zip(starts.tolist(), ends.tolist()):
        if e - s > 1:
            members = doc[s:e]
            i, j = np.triu_indices(e - s, k=1)
            src.append(members[i])
            dst.append(members[j])
    if not src:
        e = np.empty(0, dtype=np.int64)
        return e, e.copy()
    src, dst = np.concatenate(src), np.concatenate(dst)
    ok = src != dst
    return src[ok], dst[ok]


def dedupe_edges(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges with repeats removed, as (min, max) pairs sorted lexicographically."""
    from .stars import sorted_unique

    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    return sorted_unique(np.minimum(src, dst), np.maximum(src, dst))
