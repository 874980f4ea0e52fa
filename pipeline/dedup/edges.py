"""Candidate and exact-duplicate edges between documents, and their verification, over the signature files.

The clusters step of `polyglot dedup` (`pipeline.dedup.clusters`) and its distributed components
(`pipeline.dedup.distributed`) build on these. A document is its global index: its row in the corpus order of the
signature files (shard id, then record offset); `bases[i]` is the global index of shard i's first document.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.dedup.lsh import BandKeys, bucket_edges, dedupe_edges
from pipeline.dedup.settings import DedupSettings
from pipeline.dedup.verify import ShingleSets, verify_edges, verify_edges_exact
from pipeline.storage import read_arrow, write_arrow


def partition_edges(job: tuple[list[tuple[str, int]], str]) -> tuple[np.ndarray, np.ndarray]:
    """One partition's candidate edges (global document indices), from every shard's part file.

    `job` = ([(band-key file, index of the shard's first document), ...], edge mode). Runs as a task.
    """
    files, mode = job
    parts = []
    for path, base in files:
        keys = BandKeys.from_arrow(read_arrow(path))
        keys.doc = keys.doc + base  # memory-mapped arrays are read-only
        parts.append(keys)
    src, dst = bucket_edges(BandKeys.concat(parts), mode)
    return dedupe_edges(src, dst)


def candidate_edges_to_file(job: tuple[list[tuple[str, int]], str, str]) -> int:
    """One LSH partition's candidate edges written to a file instead of returned; their number. A task."""
    files, mode, out = job
    src, dst = partition_edges((files, mode))
    write_arrow(pa.table({"src": src, "dst": dst}), out)
    return int(len(src))


def exact_edges(exact: np.ndarray, scope: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chains linking documents with the same (scope, exact hash); documents without words are left out."""
    idx = np.flatnonzero(usable)
    order = idx[np.lexsort((idx, exact[idx], scope[idx]))]
    same = (exact[order][1:] == exact[order][:-1]) & (scope[order][1:] == scope[order][:-1])
    return order[:-1][same], order[1:][same]


def gather_rows(sig_files: list[str], bases: np.ndarray, rows: np.ndarray, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, per-row lengths) of one list column at the given global document indices (sorted, unique), read
    shard by shard. Rows are sliced out of the memory-mapped chunks with numpy: only their pages are read, and
    nothing is copied but them (Arrow's `take` reads and copies a list column's whole chunk)."""
    shard_of = np.searchsorted(bases, rows, side="right") - 1
    values: list[np.ndarray] = []
    lengths: list[int] = []
    for s in np.unique(shard_of):
        want = rows[shard_of == s] - bases[s]
        start = 0
        for chunk in read_arrow(sig_files[s], [column]).column(column).chunks:
            lo, hi = np.searchsorted(want, [start, start + len(chunk)])
            if hi > lo:
                if isinstance(chunk, pa.FixedSizeListArray):
                    width = chunk.type.list_size
                    offsets = np.arange(len(chunk) + 1, dtype=np.int64) * width + chunk.offset * width
                else:
                    offsets = chunk.offsets.to_numpy()
                flat = chunk.values.to_numpy(zero_copy_only=False)
                picked = [flat[offsets[r] : offsets[r + 1]] for r in (want[lo:hi] - start).tolist()]
                values.append(np.concatenate(picked))  # a copy: the shard's mapping is released before the next
                lengths += map(len, picked)
            start += len(chunk)
    out = np.concatenate(values) if values else np.empty(0, np.uint32)
    return out, np.asarray(lengths, dtype=np.int64)


def gather_signatures(sig_files: list[str], bases: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Signatures of the given global document indices (sorted, unique)."""
    values, lengths = gather_rows(sig_files, bases, rows, "signature")
    return values.reshape(len(lengths), -1) if len(lengths) else np.empty((0, 0), np.uint32)


def gather_shingle_sets(sig_files: list[str], bases: np.ndarray, rows: np.ndarray) -> ShingleSets:
    """Shingle-hash sets of the given global document indices (sorted, unique)."""
    values, lengths = gather_rows(sig_files, bases, rows, "shingle_hashes")
    return ShingleSets(values, np.concatenate(([0], np.cumsum(lengths))))


def verified_mask(
    d: DedupSettings, files: list[str], bases: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> np.ndarray:
    """Mask of the candidate edges that pass verification, `verify_batch_edges` at a time: the caller holds the
    shingle sets (or signatures) of at most twice as many documents, whatever the corpus size."""
    keep = np.zeros(len(src), dtype=bool)
    step = d.verify_batch_edges
    for lo in range(0, len(src), step):
        s, t = src[lo : lo + step], dst[lo : lo + step]
        nodes = np.unique(np.concatenate([s, t]))
        a, b = np.searchsorted(nodes, s), np.searchsorted(nodes, t)
        if d.verify == "exact":
            sets = gather_shingle_sets(files, bases, nodes)
            keep[lo : lo + len(s)] = verify_edges_exact(sets, a, b, d.threshold, return_mask=True)
        else:
            sigs = gather_signatures(files, bases, nodes)
            keep[lo : lo + len(s)] = verify_edges(sigs, a, b, d.threshold, return_mask=True)
        pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed batches otherwise
    return keep


def verified_edges(
    d: DedupSettings, files: list[str], bases: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate edges that pass verification (all of them with ``verify: off``)."""
    if d.verify == "off" or not len(src):
        return src, dst
    keep = verified_mask(d, files, bases, src, dst)
    return src[keep], dst[keep]
