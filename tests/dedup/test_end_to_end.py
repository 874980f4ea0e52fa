"""Small end-to-end near-duplicate detection across scripts: shingles -> MinHash -> LSH -> verify -> components."""

from __future__ import annotations

import random

import numpy as np

import pytest

from pipeline.dedup import FuzzyDedupParams, fuzzy_dedup
from pipeline.dedup.components import cluster_documents
from pipeline.dedup.lsh import band_keys, bucket_edges, partition_band_keys, verified_lsh_params
from pipeline.dedup.minhash import MinHasher
from pipeline.dedup.normalize import exact_hash
from pipeline.dedup.shingles import shingles
from pipeline.dedup.verify import verify_edges

from ._texts import SCRIPTS, make_text, near_copy


def run(texts, langs, threshold=0.8, partitions=3):
    hasher = MinHasher(128, 1, "xxh32")
    sigs = hasher.signatures([shingles(t) for t in texts])
    b, r = verified_lsh_params(threshold, 128)
    keys = band_keys(sigs, b, r)
    edges = [bucket_edges(p) for p in partition_band_keys(keys, partitions)]
    src, dst = np.concatenate([e[0] for e in edges]), np.concatenate([e[1] for e in edges])
    src, dst = verify_edges(sigs, src, dst, threshold)
    return cluster_documents(len(texts), src, dst)


def jaccard(a, b, lang):
    x, y = set(shingles(a)), set(shingles(b))
    return len(x & y) / len(x | y)


def test_near_duplicates_found_in_every_script():
    rng = random.Random(42)
    texts, langs, role = [], [], []
    for script, (lang, *_r) in SCRIPTS.items():
        for k in range(3):
            base = make_text(script, rng, 250)
            near = near_copy(base, script, rng, 0.005)  # J ~0.95
            far = near_copy(base, script, rng, 0.15)  # J ~0.4
            assert jaccard(base, near, lang) > 0.88 and jaccard(base, far, lang) < 0.65
            texts += [base, near, far]
            langs += [lang] * 3
            role += [(script, k, "base"), (script, k, "near"), (script, k, "far")]
    # an empty and a punctuation-only document must not cluster with each other or anything
    texts += ["", "..."]
    langs += ["eng_Latn", "eng_Latn"]
    role += [("none", 0, "empty"), ("none", 1, "empty")]
    c = run(texts, langs)
    for i in range(0, len(texts) - 2, 3):
        base, near, far = i, i + 1, i + 2
        assert c.cluster_id[base] == c.cluster_id[near], role[i]
        assert c.cluster_id[far] != c.cluster_id[base], role[i]
        assert c.cluster_size[base] == 2 and c.kept_id[near] == base
    # no cluster mixes groups or scripts
    groups = {}
    for i, cid in enumerate(c.cluster_id.tolist()):
        groups.setdefault(cid, set()).add(role[i][:2])
    assert all(len(g) == 1 for g in groups.values())
    assert c.cluster_size[-1] == 1 and c.cluster_size[-2] == 1


def test_exact_duplicates_and_normalization_variants():
    rng = random.Random(3)
    a = make_text("Latin", rng, 200)
    variants = [a, a.upper(), a.replace(" ", "  ").replace(".", " !"), "\n".join(a.split(" "))]
    assert len({exact_hash(v) for v in variants}) == 1
    c = run(variants + [make_text("Latin", rng, 200)], ["eng_Latn"] * 5)
    assert c.cluster_size.tolist() == [4, 4, 4, 4, 1]


def test_real_udhr_copies(shared_data):
    """Real text: UDHR chunks in several scripts and lightly edited copies (skipped without ../shared/data)."""
    rng = random.Random(0)
    texts, langs = [], []
    for name, lang in [("eng", "eng_Latn"), ("rus", "rus_Cyrl"), ("kor", "kor_Hang"), ("cmn_hans", "zho_Hans"),
                       ("jpn", "jpn_Jpan"), ("tha", "tha_Thai"), ("arb", "arb_Arab")]:
        p = shared_data / "udhr" / f"udhr_{name}.txt"
        if not p.is_file():
            continue
        text = p.read_text(encoding="utf-8")
        for k in range(2):
            chunk = text[k * 1500 : k * 1500 + 1500]
            if lang in ("zho_Hans", "jpn_Jpan", "tha_Thai"):
                chunk = chunk[:700]
            words = chunk.split(" ")
            if len(words) > 20:
                words[rng.randrange(len(words))] = "xyz"
                copy = " ".join(words)
            else:  # scripts without spaces: change one character
                i = rng.randrange(len(chunk))
                copy = chunk[:i] + "字" + chunk[i + 1 :]
            texts += [chunk, copy]
            langs += [lang, lang]
    c = run(texts, langs)
    for i in range(0, len(texts), 2):
        assert c.cluster_id[i] == c.cluster_id[i + 1] == i
        assert c.cluster_size[i] == 2


def test_fuzzy_dedup_convenience():
    from pipeline.dedup import FuzzyDedupParams, fuzzy_dedup

    rng = random.Random(9)
    base = make_text("Hangul", rng, 300)
    texts = [base, near_copy(base, "Hangul", rng, 0.005), make_text("Hangul", rng, 300)]
    c = fuzzy_dedup(texts)
    assert c.cluster_size.tolist() == [2, 2, 1] and c.keep.tolist() == [True, False, True]
    c2 = fuzzy_dedup(texts, FuzzyDedupParams(verify=False, hashfunc="sha1"),
                     quality=np.array([0.0, 1.0, 0.0]))
    assert c2.kept_id.tolist() == [1, 1, 2]
    assert FuzzyDedupParams().lsh() == (18, 7) and FuzzyDedupParams(verify=False).lsh() == (9, 13)


def test_exact_verification_decides_on_the_true_jaccard() -> None:
    """A pair the 128-perm estimate could put on either side of the threshold is decided by its true Jaccard."""
    import random

    from pipeline.dedup.shingles import shingles
    from pipeline.dedup.verify import ShingleSets, exact_jaccard

    rng = random.Random(0)
    words = [f"w{rng.randrange(10_000)}" for _ in range(400)]
    base = " ".join(words)
    texts = [base]
    for k in (10, 40):  # ~0.95 and ~0.8 true Jaccard on word 5-grams
        w = list(words)
        for i in rng.sample(range(len(w)), k // 5):
            w[i] = f"x{i}"
        texts.append(" ".join(w))
    hasher = FuzzyDedupParams().hasher()
    sets = ShingleSets.from_hashes([hasher.hash_values(shingles(t)) for t in texts])
    truth = [len(set(shingles(texts[0])) & set(shingles(t)))
             / len(set(shingles(texts[0])) | set(shingles(t))) for t in texts[1:]]
    got = exact_jaccard(sets, [0, 0], [1, 2])
    assert np.allclose(got, truth, atol=1e-6)
    for t in (0.5, truth[1] - 0.01, truth[1] + 0.01, 0.99):
        c = fuzzy_dedup(texts, FuzzyDedupParams(threshold=t))
        assert list(c.keep) == [True] + [j < t for j in truth]
    with pytest.raises(ValueError, match="verify"):
        FuzzyDedupParams(verify="maybe")
