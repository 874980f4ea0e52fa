"""Exact and fuzzy (MinHash LSH) deduplication: the Ray-free core.

Modules, in pipeline order:

* `normalize`  -- `exact_hash(text)`: xxh3 of the normalized text (NFKC, casefold, digits -> 0, only word
  characters), for exact dedup.
* `shingles`   -- `shingles(text)`: word 5-grams, or character 5-grams for scripts without spaces and for
  Korean, chosen from the text's own dominant script (never its language label).
* `document`   -- `exact_hash_and_shingles(text, config, script)`: both of the above from one normalization (what the
  stage computes per document).
* `minhash`    -- `MinHasher(num_perm, seed, hashfunc, scheme).signatures(list_of_shingle_lists)`: numpy MinHash,
  bit-identical to `datasketch.MinHash`.
* `lsh`        -- `lsh_params` (datasketch's optimal b, r) / `verified_lsh_params`, `band_keys`,
  `partition_band_keys`, `bucket_edges` (sorted buckets linked as chains).
* `verify`     -- `verify_edges_exact` (default: the true Jaccard of the shingle-hash sets) or `verify_edges` (the
  signature estimate): drop candidate edges below the threshold.
* `components` -- `cluster_documents`: connected components; cluster id, size and kept document per document.
* `stars`      -- large-star/small-star kernels for one partition: the same components, computed over
  node-partitioned edge files by Ray tasks when the edges outgrow the driver (`star_components` runs them in one
  process).

What `polyglot dedup` runs, on files (`pipeline.stages.dedup` wires the steps and gives the Ray task mappers):

* `signatures`  -- `shard_signatures`: one shard's exact hashes, scope keys, signatures, shingle-hash sets and
  partitioned band keys.
* `edges`       -- candidate edges per partition, exact-duplicate chains, verification reading only the rows needed.
* `distributed` -- the components as large-star/small-star rounds over node-partitioned edge files, one task per
  partition (`distributed_labels`).
* `clusters`    -- `find_clusters`: the corpus-wide step, from the signature files to one decision file per shard
  (`decide`: the kept document of every cluster under both keep policies, and each removal's reason).

How a distributed stage uses it (the recommended setup, measured in scripts/bench/dedup_quality.py):

    per shard:      sigs = MinHasher(128, 1, "xxh32").signatures([shingles(t) for t in texts])
                    keys = band_keys(sigs, *verified_lsh_params(0.8, 128), doc_ids=global_ids)
                    parts = partition_band_keys(keys, P)          # write part p of every shard to partition p
    per partition:  src, dst = bucket_edges(BandKeys.concat(all shards' part p))
    driver:         src, dst = verify_edges(all_signatures, src, dst, 0.8)   # or per partition, see verify
                    clusters = cluster_documents(n_docs, src, dst, quality=...)

`fuzzy_dedup` below is the same thing in one process (tests, small data, a reference for the stage).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .components import Clusters, cluster_documents
from .lsh import band_keys, bucket_edges, lsh_params, verified_lsh_params
from .minhash import MinHasher
from .shingles import DEFAULT_CONFIG, ShingleConfig, shingle_many
from .verify import ShingleSets, verify_edges, verify_edges_exact

__all__ = ["FuzzyDedupParams", "fuzzy_dedup"]


@dataclass(frozen=True)
class FuzzyDedupParams:
    """Parameters of near-duplicate detection. Defaults: the recommended, measured setup.

    `hashfunc="xxh32"` (3x faster than sha1 here; the signatures equal datasketch's with
    `hashfunc=xxhash.xxh32_intdigest`). `verify`: "exact" (default: candidates are kept on the true Jaccard of
    their shingle-hash sets), "signature" (on the signature estimate) or "off" (True / False mean "signature" /
    "off"). With verification the LSH bands come from `verified_lsh_params` (18 x 7 for 0.8 / 128), else from
    datasketch's optimum for the threshold (9 x 13); explicit `bands`/`rows` win.
    """

    threshold: float = 0.8
    num_perm: int = 128
    seed: int = 1
    hashfunc: str = "xxh32"
    scheme: str = "affine32"
    shingles: ShingleConfig = field(default=DEFAULT_CONFIG)
    bands: int | None = None
    rows: int | None = None
    edge_mode: str = "chain"
    verify: str | bool = "exact"

    def __post_init__(self) -> None:
        mode = {True: "signature", False: "off"}[self.verify] if isinstance(self.verify, bool) else self.verify
        if mode not in ("exact", "signature", "off"):
            raise ValueError(f"verify must be 'exact', 'signature' or 'off', got {self.verify!r}")
        object.__setattr__(self, "verify", mode)

    def lsh(self) -> tuple[int, int]:
        if self.bands is not None or self.rows is not None:
            return lsh_params(self.threshold, self.num_perm, bands=self.bands, rows=self.rows)
        if self.verify != "off":
            return verified_lsh_params(self.threshold, self.num_perm)
        return lsh_params(self.threshold, self.num_perm)

    def hasher(self) -> MinHasher:
        return MinHasher(self.num_perm, self.seed, self.hashfunc, self.scheme)


def fuzzy_dedup(
    texts: list[str], params: FuzzyDedupParams = FuzzyDedupParams(), quality: np.ndarray | None = None
) -> Clusters:
    """Near-duplicate clusters of `texts` across all of them (the stage's `scope: global`), in one process."""
    hasher = params.hasher()
    sh = shingle_many(texts, params.shingles)
    sigs = hasher.signatures(sh)
    bands, rows = params.lsh()
    src, dst = bucket_edges(band_keys(sigs, bands, rows), params.edge_mode)
    if params.verify == "exact":
        src, dst = verify_edges_exact(ShingleSets.from_hashes([hasher.hash_values(x) for x in sh]), src, dst, params.threshold)
    elif params.verify == "signature":
        src, dst = verify_edges(sigs, src, dst, params.threshold)
    return cluster_documents(len(texts), src, dst, quality=quality)
