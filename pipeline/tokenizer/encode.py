"""Bulk encoding with SentencePiece itself, into numpy offsets + values ready for Arrow.

Why SentencePiece and not the exported ``tokenizers`` pipeline: same ids (see `pipeline.tokenizer.export`), but
``encode(list, num_threads=1)`` ran 5,700 docs/s (16.7 MB/s) against 730 docs/s for ``tokenizers``
``encode_batch`` on one core (measured on the 2-core dev machine). Why numpy: an Arrow list column built from
numpy offsets and values writes at ~1,800 MB/s, from Python lists at 51 MB/s. Token ids are uint16 when the
vocabulary has at most 65,535 pieces, int32 beyond (the shards writer's contract).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import sentencepiece as spm

__all__ = ["EncodedBatch", "count_tokens", "encode_batch", "ids_dtype", "load_processor"]


def load_processor(model: str | Path | spm.SentencePieceProcessor) -> spm.SentencePieceProcessor:
    """A SentencePieceProcessor from a path (or the processor itself); load once per worker, not per batch."""
    if isinstance(model, spm.SentencePieceProcessor):
        return model
    return spm.SentencePieceProcessor(model_file=str(model))


def ids_dtype(vocab_size: int) -> np.dtype:
    """uint16 for vocabularies up to 65,535 pieces, int32 beyond."""
    return np.dtype(np.uint16) if vocab_size <= 65_535 else np.dtype(np.int32)


@dataclass(frozen=True)
class EncodedBatch:
    """Token ids of a batch of texts, flat: text i has ``ids[offsets[i]:offsets[i + 1]]``."""

    offsets: np.ndarray  # int64, len(texts) + 1
    ids: np.ndarray  # uint16 or int32

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def to_arrow(self) -> pa.Array:
        """A ``list<uint16|int32>`` array (``large_list`` if the batch holds 2^31 ids or more), zero-copy values."""
        values = pa.array(self.ids)
        if self.offsets[-1] < 2**31:
            return pa.ListArray.from_arrays(pa.array(self.offsets.astype(np.int32)), values)
        return pa.LargeListArray.from_arrays(pa.array(self.offsets), values)


#: Documents per SentencePiece call in the stages that count or encode a shard (bounds the Python lists of ids alive
#: at once; progress granularity).
ENCODE_BATCH = 512


def encode_batch(
    model: str | Path | spm.SentencePieceProcessor, texts: Sequence[str], num_threads: int = 1
) -> EncodedBatch:
    """Encode texts with SentencePiece (``num_threads`` C++ threads) into flat numpy offsets + ids."""
    processor = load_processor(model)
    encoded = processor.encode(list(texts), num_threads=num_threads)
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.fromiter(
        itertools.chain.from_iterable(encoded), dtype=ids_dtype(processor.get_piece_size()), count=int(offsets[-1])
    )
    return EncodedBatch(offsets, ids)


def count_tokens(
    model: str | Path | spm.SentencePieceProcessor, texts: Sequence[str], num_threads: int = 1
) -> np.ndarray:
    """Tokens per text (int64), as SentencePiece's ``encode`` counts them (no <s>/</s> added)."""
    return encode_batch(model, texts, num_threads).lengths
