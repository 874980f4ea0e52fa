"""Signatures must be bit-identical to datasketch.MinHash for the same seed, hash function and scheme."""

from __future__ import annotations

import random

import numpy as np
import pytest
import xxhash

from pipeline.dedup.minhash import MinHasher, jaccard_from_signatures, permutations, sha1_hash32, signatures
from pipeline.dedup.shingles import shingles

from ._texts import SCRIPTS, make_text

datasketch = pytest.importorskip("datasketch")
from datasketch import MinHash  # noqa: E402
from datasketch.hashfunc import sha1_hash32 as ds_sha1_hash32  # noqa: E402


@pytest.fixture(scope="module")
def docs() -> list[list[bytes]]:
    rng = random.Random(7)
    out = []
    for script, (lang, *_rest) in SCRIPTS.items():
        for n_words in (3, 60, 400):
            out.append(shingles(make_text(script, rng, n_words)))
    out.append([])  # no shingle: the empty signature
    out.append([b"x"])
    out.append(out[2] * 12)  # > one permutation block (4096 rows at 128 perms), with repeats
    return out


def reference(doc, num_perm, seed, hashfunc=None, scheme=None) -> np.ndarray:
    kwargs = {"num_perm": num_perm, "seed": seed}
    if hashfunc is not None:
        kwargs["hashfunc"] = hashfunc
    if scheme is not None:
        kwargs["scheme"] = scheme
    m = MinHash(**kwargs)
    m.update_batch(doc)
    return m.hashvalues


@pytest.mark.parametrize("num_perm, seed", [(128, 1), (64, 7), (256, 42), (9, 2024)])
@pytest.mark.parametrize("hashfunc, ds_hashfunc", [("sha1", None), ("xxh32", xxhash.xxh32_intdigest)])
def test_equal_to_datasketch_default_scheme(docs, num_perm, seed, hashfunc, ds_hashfunc):
    got = MinHasher(num_perm, seed, hashfunc).signatures(docs)
    assert got.shape == (len(docs), num_perm) and got.dtype == np.uint32
    for doc, row in zip(docs, got):
        ref = reference(doc, num_perm, seed, ds_hashfunc)
        assert ref.dtype == row.dtype
        assert np.array_equal(ref, row)


@pytest.mark.parametrize("scheme", ["legacy", "affine64"])
@pytest.mark.parametrize("hashfunc, ds_hashfunc", [("sha1", None), ("xxh32", xxhash.xxh32_intdigest),
                                                   ("xxh64", xxhash.xxh64_intdigest)])
def test_equal_to_datasketch_other_schemes(docs, scheme, hashfunc, ds_hashfunc):
    got = MinHasher(128, 3, hashfunc, scheme=scheme).signatures(docs)
    assert got.dtype == np.uint64
    for doc, row in zip(docs, got):
        assert np.array_equal(reference(doc, 128, 3, ds_hashfunc, scheme), row)


def test_custom_callable_and_datasketch_functions(docs):
    def weak(b: bytes) -> int:
        return (len(b) * 2654435761 + b[0]) & 0xFFFFFFFF

    got = MinHasher(32, 5, weak).signatures(docs)
    for doc, row in zip(docs, got):
        assert np.array_equal(reference(doc, 32, 5, weak), row)
    # datasketch's own sha1_hash32, and ours, select the fast path and agree
    a = MinHasher(32, 5, ds_sha1_hash32).signatures(docs)
    b = MinHasher(32, 5, sha1_hash32).signatures(docs)
    c = MinHasher(32, 5, "sha1").signatures(docs)
    assert np.array_equal(a, c) and np.array_equal(b, c)
    assert sha1_hash32(b"abc") == ds_sha1_hash32(b"abc")


def test_permutations_match(docs):
    for scheme in ("affine32", "affine64", "legacy"):
        a, b = permutations(16, 11, scheme)
        m = MinHash(num_perm=16, seed=11, scheme=scheme)
        assert np.array_equal(a, np.asarray(m.permutations[0], dtype=a.dtype))
        assert np.array_equal(b, np.asarray(m.permutations[1], dtype=b.dtype))


def test_str_shingles_empty_and_helpers(docs):
    h = MinHasher(64, 1, "xxh32")
    as_str = [[s.decode() for s in d] for d in docs[:5]]
    assert np.array_equal(h.signatures(as_str), h.signatures(docs[:5]))
    assert np.array_equal(h.signature(docs[3]), h.signatures([docs[3]])[0])
    assert np.array_equal(h.signatures([[]])[0], h.empty_signature)
    assert np.array_equal(MinHash(num_perm=64).hashvalues, MinHasher(64).empty_signature)
    assert h.signatures([]).shape == (0, 64)
    # precomputed input hashes give the same signatures
    flat = [s for d in docs for s in d]
    offsets = np.cumsum([0] + [len(d) for d in docs])
    hv = h.hash_values(flat)
    assert np.array_equal(h.signatures_from_hashes(hv, offsets), h.signatures(docs))
    # module-level helper and estimated Jaccard
    assert np.array_equal(signatures(docs[:3], 64, 1, "xxh32"), h.signatures(docs[:3]))
    s = h.signatures([docs[5], docs[5]])
    assert jaccard_from_signatures(s[0], s[1]) == 1.0


def test_signatures_from_texts():
    rng = random.Random(5)
    texts = [make_text(s, rng, 80) for s in SCRIPTS]
    h = MinHasher(32, 1, "xxh32")
    want = h.signatures([shingles(t) for t in texts])
    assert np.array_equal(h.signatures_from_texts(texts), want)


def test_bad_arguments():
    with pytest.raises(ValueError):
        MinHasher(scheme="bogus")
    with pytest.raises(ValueError):
        MinHasher(hashfunc="xxh64")  # 64-bit values do not fit affine32
    with pytest.raises(ValueError):
        MinHasher(hashfunc="md5")
    with pytest.raises(ValueError):
        MinHasher(8, 1, lambda b: 1 << 40).signatures([[b"a"]])


def test_real_text_equality(shared_data):
    """A few real UDHR documents in several scripts (skipped when ../shared/data is absent)."""
    udhr = shared_data / "udhr"
    cases = [("eng", "eng_Latn"), ("rus", "rus_Cyrl"), ("kor", "kor_Hang"), ("cmn_hans", "zho_Hans"),
             ("jpn", "jpn_Jpan"), ("tha", "tha_Thai"), ("arb", "arb_Arab"), ("hin", "hin_Deva")]
    docs = []
    for name, lang in cases:
        p = udhr / f"udhr_{name}.txt"
        if p.is_file():
            docs.append(shingles(p.read_text(encoding="utf-8")[:3000]))
    assert docs
    for hashfunc, ds in (("sha1", None), ("xxh32", xxhash.xxh32_intdigest)):
        got = MinHasher(128, 1, hashfunc).signatures(docs)
        for doc, row in zip(docs, got):
            assert np.array_equal(reference(doc, 128, 1, ds), row)
