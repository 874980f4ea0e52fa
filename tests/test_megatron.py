"""The Megatron-LM / GPT-NeoX indexed dataset writer, checked by a reader written here from the format description
(not from the writer): header bytes, lengths, byte pointers, document indices and every document's ids."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from pipeline.megatron import IndexedDatasetWriter, token_dtype, write_indexed_dataset

#: dtype codes of the index header, as Megatron-Core's `DType` enum and GPT-NeoX's `dtypes` table number them.
CODES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 8: np.uint16}


def read_indexed_dataset(prefix: str | Path) -> tuple[np.dtype, list[np.ndarray]]:
    """(dtype, documents) of ``<prefix>.bin`` + ``<prefix>.idx``, read from the format description:

    .idx = b"MMIDIDX\\x00\\x00" | version u64 = 1 | dtype code u8 | S = sequence count u64 | D = document count u64 |
    S int32 sequence lengths | S int64 byte offsets into .bin | D int64 document indices (0, ..., S), all
    little-endian; .bin = the sequences' ids back to back. Document k is sequences doc_idx[k] .. doc_idx[k + 1] - 1.
    """
    raw = Path(f"{prefix}.idx").read_bytes()
    assert raw[:9] == b"MMIDIDX\x00\x00"
    assert struct.unpack_from("<Q", raw, 9) == (1,)
    (code,) = struct.unpack_from("<B", raw, 17)
    dtype = np.dtype(CODES[code]).newbyteorder("<")
    n_seq, n_doc = struct.unpack_from("<QQ", raw, 18)
    pos = 34
    lengths = np.frombuffer(raw, "<i4", n_seq, pos)
    pos += 4 * n_seq
    pointers = np.frombuffer(raw, "<i8", n_seq, pos)
    pos += 8 * n_seq
    doc_idx = np.frombuffer(raw, "<i8", n_doc, pos)
    pos += 8 * n_doc
    assert pos == len(raw), "bytes left after the document indices"
    assert doc_idx[0] == 0 and doc_idx[-1] == n_seq and np.all(np.diff(doc_idx) >= 0)
    data = Path(f"{prefix}.bin").read_bytes()
    assert len(data) == int(lengths.sum()) * dtype.itemsize
    seqs = [np.frombuffer(data, dtype, int(n), int(p)) for n, p in zip(lengths, pointers)]
    docs = [
        np.concatenate(seqs[a:b]) if b > a else np.zeros(0, dtype) for a, b in zip(doc_idx[:-1], doc_idx[1:])
    ]
    return dtype, docs


def _batches(docs: list[list[int]], sizes: list[int], dtype: type) -> list[tuple[np.ndarray, np.ndarray]]:
    """`docs` cut into batches of the given sizes, each as flat (offsets, ids) with a few junk ids before the first
    document, so offsets start above 0 as in a slice of a larger buffer."""
    out, i = [], 0
    for n in sizes:
        part = docs[i : i + n]
        i += n
        ids = np.concatenate([np.array([9, 9, 9], dtype)] + [np.asarray(d, dtype) for d in part])
        offsets = np.cumsum([3] + [len(d) for d in part])
        out.append((offsets, ids))
    assert i == len(docs)
    return out


def test_header_and_layout_are_byte_exact(tmp_path: Path) -> None:
    info = write_indexed_dataset(
        str(tmp_path / "c"), _batches([[5, 6], [], [7]], [3], np.uint16), num_documents=3, dtype=np.uint16, eod=2
    )
    expected_idx = (
        b"MMIDIDX\x00\x00" + (1).to_bytes(8, "little") + bytes([8]) + (3).to_bytes(8, "little")
        + (4).to_bytes(8, "little")
        + b"".join(n.to_bytes(4, "little") for n in (3, 1, 2))  # lengths with the EOD
        + b"".join(p.to_bytes(8, "little") for p in (0, 6, 8))  # byte offsets: 2 bytes a token
        + b"".join(k.to_bytes(8, "little") for k in (0, 1, 2, 3))
    )  # fmt: skip
    assert (tmp_path / "c.idx").read_bytes() == expected_idx
    assert (tmp_path / "c.bin").read_bytes() == b"".join(t.to_bytes(2, "little") for t in (5, 6, 2, 2, 7, 2))
    assert (info.documents, info.tokens, info.dtype) == (3, 6, "uint16")
    assert info.bin.bytes == 12 and info.idx.bytes == len(expected_idx)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.bin", "c.idx"]


@pytest.mark.parametrize(("dtype", "eod"), [(np.uint16, 2), (np.uint16, None), (np.int32, 1), (np.int32, None)])
def test_every_document_reads_back(tmp_path: Path, dtype: type, eod: int | None) -> None:
    rng = np.random.default_rng(0)
    high = 60_000 if dtype == np.uint16 else 200_000
    docs = [rng.integers(0, high, rng.integers(0, 50)).tolist() for _ in range(300)]
    docs[7] = docs[8] = []  # empty documents keep their place
    sizes = [1, 0, 150, 99, 50]
    info = write_indexed_dataset(str(tmp_path / "d"), _batches(docs, sizes, np.int64), num_documents=300,
                                 dtype=dtype, eod=eod)  # fmt: skip
    got_dtype, got = read_indexed_dataset(tmp_path / "d")
    assert got_dtype == np.dtype(dtype)
    tail = [] if eod is None else [eod]
    assert [g.tolist() for g in got] == [d + tail for d in docs]
    assert info.tokens == sum(len(d) + len(tail) for d in docs) and info.documents == 300


def test_token_dtype_follows_megatron() -> None:
    assert token_dtype(32_000) == np.uint16 and token_dtype(65_499) == np.uint16
    assert token_dtype(65_500) == np.int32 and token_dtype(250_000) == np.int32


def test_wrong_counts_and_ids_fail_and_leave_no_files(tmp_path: Path) -> None:
    prefix = str(tmp_path / "e")
    with pytest.raises(ValueError, match="2 documents written, 3 announced"):
        write_indexed_dataset(prefix, _batches([[1], [2]], [2], np.uint16), num_documents=3, dtype=np.uint16)
    with pytest.raises(ValueError, match="more documents than the 1 announced"):
        write_indexed_dataset(prefix, _batches([[1], [2]], [2], np.uint16), num_documents=1, dtype=np.uint16)

    def broken():
        yield from _batches([[1, 2]], [1], np.uint16)
        raise OSError("shard unreadable")

    with pytest.raises(OSError, match="shard unreadable"):
        write_indexed_dataset(prefix, broken(), num_documents=2, dtype=np.uint16)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="does not fit uint16"):
        IndexedDatasetWriter(io.BytesIO(), io.BytesIO(), num_documents=1, dtype=np.uint16, eod=70_000)
