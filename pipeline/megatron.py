"""Megatron-LM / GPT-NeoX indexed dataset (``<prefix>.bin`` + ``<prefix>.idx``), written streaming.

The format (``MMapIndexedDataset`` in GPT-NeoX, ``IndexedDataset`` in Megatron-Core; all little-endian):

- ``.bin``: the token ids of every sequence, back to back, as the index's dtype; nothing else.
- ``.idx``: magic ``b"MMIDIDX\\x00\\x00"`` (9 bytes), version ``1`` (uint64), dtype code (uint8: 1 uint8, 2 int8,
  3 int16, 4 int32, 5 int64, 8 uint16), sequence count S (uint64), document count D (uint64), then S sequence
  lengths in tokens (int32), S byte offsets of the sequences in the ``.bin`` (int64), and D document indices (int64):
  ``doc_idx[0] = 0`` and ``doc_idx[k + 1]`` = the sequence after document k, so document k is sequences
  ``doc_idx[k] .. doc_idx[k + 1] - 1``. Both readers take the dtype from the index, never from the vocabulary.

Here every document is one sequence (no sentence splitting), so S = documents and D = documents + 1, with
``doc_idx = 0, 1, ..., S``: what ``tools/preprocess_data.py`` writes without ``--split-sentences``. With an
end-of-document id (``--append-eod``, which both projects' GPT recipes pass) the id is the last token of each
sequence and counts in its length; neither trainer inserts one between documents itself.

Streaming: tokens go straight to the ``.bin`` and lengths straight to the ``.idx`` (its header needs the document
count first, so the caller says it up front); the byte offsets, which come after all lengths, wait in a local
scratch file (8 bytes a document) and are copied in at the end. Memory is one batch of documents.
"""

from __future__ import annotations

import logging
import shutil
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from pipeline.storage import atomic_open

__all__ = [
    "DTYPE_CODES",
    "INDEX_MAGIC",
    "IndexedDatasetWriter",
    "bin_path",
    "idx_path",
    "token_dtype",
    "write_indexed_dataset",
]

log = logging.getLogger(__name__)

INDEX_MAGIC = b"MMIDIDX\x00\x00"
INDEX_VERSION = 1
#: dtype codes of the index header. Megatron-Core and GPT-NeoX agree on the integer codes (6 and 7, floats, differ).
DTYPE_CODES: dict[np.dtype, int] = {
    np.dtype(np.uint8): 1,
    np.dtype(np.int8): 2,
    np.dtype(np.int16): 3,
    np.dtype(np.int32): 4,
    np.dtype(np.int64): 5,
    np.dtype(np.uint16): 8,
}
#: Vocabularies below this many pieces are stored as uint16 (Megatron's `DType.optimal_dtype`, NeoX's
#: `__best_fitting_dtype`): a margin under 65,536 kept by both, so we keep it too.
UINT16_BELOW = 65_500
_DOC_IDX_CHUNK = 1 << 20


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 for vocabularies below 65,500 pieces, int32 beyond — the rule of both projects' preprocessing."""
    return np.dtype(np.uint16) if vocab_size < UINT16_BELOW else np.dtype(np.int32)


def bin_path(prefix: str) -> str:
    return f"{prefix}.bin"


def idx_path(prefix: str) -> str:
    return f"{prefix}.idx"


def index_header(dtype: np.dtype, sequences: int, documents: int) -> bytes:
    """The 34 bytes before the lengths: magic, version, dtype code, sequence count, document count."""
    return (
        INDEX_MAGIC
        + struct.pack("<Q", INDEX_VERSION)
        + struct.pack("<B", DTYPE_CODES[np.dtype(dtype)])
        + struct.pack("<QQ", sequences, documents)
    )


class IndexedDatasetWriter:
    """Documents in, ``.bin`` and ``.idx`` bytes out, one batch at a time.

    `num_documents` must be known first (the index header holds it); `finish` checks that exactly that many came.
    `eod`: an id appended after every document (None: none). Ids are cast to `dtype` (no range check beyond the
    end-of-document id: the tokenizer's ids are below its vocabulary size, which chose the dtype).
    """

    def __init__(
        self, bin_file: BinaryIO, idx_file: BinaryIO, *, num_documents: int, dtype: Any, eod: int | None = None
    ) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype not in DTYPE_CODES:
            raise ValueError(f"token dtype {self.dtype} has no index code (use uint16 or int32)")
        if eod is not None and not (0 <= eod <= np.iinfo(self.dtype).max):
            raise ValueError(f"end-of-document id {eod} does not fit {self.dtype}")
        if num_documents < 0:
            raise ValueError(f"num_documents must be >= 0, got {num_documents}")
        self.bin_file = bin_file
        self.idx_file = idx_file
        self.num_documents = num_documents
        self.eod = eod
        self.documents = 0
        self.tokens = 0  # tokens written to the .bin, end-of-document ids included
        self._pointers = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish()
        self.idx_file.write(index_header(self.dtype, num_documents, num_documents + 1))

    def add(self, offsets: np.ndarray, ids: np.ndarray) -> None:
        """A batch of documents, flat: document i is ``ids[offsets[i]:offsets[i + 1]]`` (offsets may start > 0)."""
        offsets = np.asarray(offsets, dtype=np.int64)
        n = offsets.size - 1
        if n <= 0:
            return
        if self.documents + n > self.num_documents:
            raise ValueError(f"more documents than the {self.num_documents} announced")
        values = np.asarray(ids)[offsets[0] : offsets[-1]]
        lengths = np.diff(offsets)
        if self.eod is None:
            tokens = values.astype(self.dtype, copy=False)
        else:
            tokens = np.insert(values.astype(self.dtype, copy=False), offsets[1:] - offsets[0], self.eod)
            lengths = lengths + 1
        if lengths.size and int(lengths.max()) >= 2**31:
            raise ValueError("a document longer than 2^31 - 1 tokens does not fit the index (int32 lengths)")
        starts = np.empty(n, dtype=np.int64)
        starts[0] = self.tokens
        np.cumsum(lengths[:-1], out=starts[1:])
        starts[1:] += self.tokens
        self.bin_file.write(memoryview(np.ascontiguousarray(tokens, dtype=self.dtype.newbyteorder("<"))).cast("B"))
        self.idx_file.write(lengths.astype("<i4").tobytes())
        self._pointers.write((starts * self.dtype.itemsize).astype("<i8").tobytes())
        self.documents += n
        self.tokens += int(tokens.size)

    def finish(self) -> None:
        """Append the byte offsets and the document indices; the count must be the announced one."""
        try:
            if self.documents != self.num_documents:
                raise ValueError(f"{self.documents} documents written, {self.num_documents} announced")
            self._pointers.seek(0)
            shutil.copyfileobj(self._pointers, self.idx_file, 1 << 22)
            for lo in range(0, self.num_documents + 1, _DOC_IDX_CHUNK):
                hi = min(lo + _DOC_IDX_CHUNK, self.num_documents + 1)
                self.idx_file.write(np.arange(lo, hi, dtype="<i8").tobytes())
        finally:
            self._pointers.close()


@dataclass(frozen=True)
class WrittenFile:
    """One output file: its URL, size and sha256."""

    url: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class IndexedDatasetInfo:
    """What `write_indexed_dataset` wrote."""

    bin: WrittenFile
    idx: WrittenFile
    documents: int
    tokens: int  # in the .bin, end-of-document ids included
    dtype: str


def write_indexed_dataset(
    prefix: str,
    batches: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    num_documents: int,
    dtype: Any,
    eod: int | None = None,
) -> IndexedDatasetInfo:
    """``<prefix>.bin`` and ``<prefix>.idx`` (local paths or fsspec URLs) from batches of (offsets, ids), each file
    written to a temporary name and renamed into place only when both are complete."""
    with atomic_open(bin_path(prefix), sha256=True) as bin_file, atomic_open(idx_path(prefix), sha256=True) as idx_file:
        writer = IndexedDatasetWriter(bin_file, idx_file, num_documents=num_documents, dtype=dtype, eod=eod)
        for offsets, ids in batches:
            writer.add(offsets, ids)
        writer.finish()
    log.info("%s: %d documents, %d tokens (%s)", prefix, writer.documents, writer.tokens, writer.dtype)
    return IndexedDatasetInfo(
        bin=WrittenFile(bin_path(prefix), bin_file.size, bin_file.sha256.hexdigest()),
        idx=WrittenFile(idx_path(prefix), idx_file.size, idx_file.sha256.hexdigest()),
        documents=writer.documents,
        tokens=writer.tokens,
        dtype=str(writer.dtype),
    )
