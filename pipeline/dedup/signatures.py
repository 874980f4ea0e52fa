"""One shard's dedup signatures: exact hashes, MinHash signatures, shingle-hash sets and partitioned LSH band keys.

What `polyglot dedup`'s per-shard signatures step computes (`pipeline.stages.dedup.DedupSignatures` reads the shard
and writes the results). The scope key — the text's script (default; Han, kana and Hangul are one: `scope_key`), the
language label (`scope: language`) or nothing (`global`) — is mixed into every bucket hash, so buckets never mix
scopes, and kept beside the signature for the exact-duplicate groups. The band keys come split into
`num_partitions` parts by a hash of (band, bucket): every member of a bucket lands in the same partition, whichever
shard it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import xxhash

from pipeline.dedup.document import exact_hash_and_shingles
from pipeline.dedup.lsh import BandKeys, band_keys, partition_band_keys, salt_buckets
from pipeline.dedup.minhash import MinHasher
from pipeline.dedup.normalize import exact_hash, exact_hashes
from pipeline.dedup.settings import DedupSettings
from pipeline.dedup.shingles import text_script
from pipeline.dedup.verify import ShingleSets

#: The exact hash of a text without a single word character: such documents are never grouped as duplicates.
EMPTY_HASH = exact_hash("")

#: Scripts that one text can flip between (a Simplified/Traditional mix, Japanese with few kana, Korean with Hanja):
#: one dedup scope, so its copies are always compared.
_CJK_SCOPE = frozenset({"Hani", "Hans", "Hant", "Jpan", "Hira", "Kana", "Hang", "Kore", "Jamo"})

#: Documents hashed and shingled at a time (progress granularity).
STEP = 500


def part_name(p: int) -> str:
    """The name of LSH partition `p` (a band-key file's folder, an edge file's name)."""
    return f"part-{p:04d}"


def scope_key(scope: str, script: str, lang: str) -> str:
    """The group a document is compared within: its text's script (CJK pooled), its language label, or one group."""
    if scope == "script":
        return "CJK" if script in _CJK_SCOPE else script
    return lang if scope == "language" else ""


def scope_salt(keys: list[str]) -> np.ndarray:
    """A 64-bit value per document from its scope key, mixed into its bucket hashes."""
    table = {k: xxhash.xxh64_intdigest(k.encode()) for k in set(keys)}
    return np.fromiter((table[k] for k in keys), dtype=np.uint64, count=len(keys))


def make_hasher(d: DedupSettings) -> MinHasher:
    """The MinHash hasher of the settings (built once per worker)."""
    return MinHasher(d.num_perm, d.seed, d.hashfunc, "affine32")


def shard_signatures(
    table: pa.Table, d: DedupSettings, hasher: MinHasher, progress: Callable[[int], None] = lambda n: None
) -> tuple[pa.Table, list[BandKeys]]:
    """One shard's signature table (doc_id, lang, scope, exact_hash, chars, and with `fuzzy` its signature and, with
    `verify: exact`, its shingle-hash set) and its band keys split into `num_partitions` parts (none without
    `fuzzy`; a document is its row within the shard). `table` has doc_id, text and lang."""
    texts = table.column("text").to_pylist()
    langs = table.column("lang").to_pylist()
    n = len(texts)
    # fuzzy: each document's exact hash comes with its shingles, from one normalization of its text
    hashes = np.empty(n, dtype=np.uint64) if d.fuzzy else exact_hashes(texts)
    scripts = [text_script(t) for t in texts]
    scopes = [scope_key(d.scope, sc, lang or "") for sc, lang in zip(scripts, langs)]
    cols: dict[str, Any] = {
        "doc_id": table.column("doc_id"),
        "lang": table.column("lang"),
        "scope": pa.array(scopes, pa.string()),
        "exact_hash": hashes,
        "chars": pa.array(np.fromiter((len(t) for t in texts), dtype=np.int64, count=n), pa.int64()),
    }
    parts: list[BandKeys] = []
    if d.fuzzy:
        bands, rows = d.lsh_shape()
        sigs = np.empty((n, d.num_perm), dtype=np.uint32)
        value_parts: list[np.ndarray] = []
        lengths = np.zeros(n, dtype=np.int64)
        for s in range(0, n, STEP):
            chunk = zip(texts[s : s + STEP], scripts[s : s + STEP])
            pairs = [exact_hash_and_shingles(t, d.shingles, sc) for t, sc in chunk]
            hashes[s : s + len(pairs)] = [h for h, _ in pairs]
            sh = [x for _, x in pairs]
            counts = np.fromiter(map(len, sh), dtype=np.int64, count=len(sh))
            flat = hasher.hash_values([x for doc in sh for x in doc])
            offsets = np.concatenate(([0], np.cumsum(counts)))
            sigs[s : s + len(sh)] = hasher.signatures_from_hashes(flat, offsets)
            if d.verify == "exact":  # the same hashes, as sorted sets, for verifying candidates exactly
                sets = ShingleSets.from_hashes([flat[offsets[i] : offsets[i + 1]] for i in range(len(sh))])
                value_parts.append(sets.values)
                lengths[s : s + len(sh)] = np.diff(sets.offsets)
            progress(len(sh))
        cols["signature"] = pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1), pa.uint32()), d.num_perm)
        if d.verify == "exact":
            offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
            values = np.concatenate(value_parts) if value_parts else np.empty(0, np.uint32)
            cols["shingle_hashes"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.astype(np.uint32)))
        keys = band_keys(sigs, bands, rows)  # doc = row within this shard
        if d.scope != "global":
            salt_buckets(keys, scope_salt(scopes))
        parts = partition_band_keys(keys, d.num_partitions)
    else:
        progress(n)
    cols["exact_hash"] = pa.array(hashes, pa.uint64())
    return pa.table(cols), parts
