"""The dedup stage's logic on files, without Ray: per-shard signatures (`pipeline.dedup.signatures`), the corpus-wide
clusters step (`pipeline.dedup.clusters.find_clusters`) on both component paths, and its keep decisions."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from pipeline.dedup.clusters import REASON_EXACT, REASON_NEAR, decide, find_clusters
from pipeline.dedup.distributed import distributed_labels, map_in_process
from pipeline.dedup.edges import exact_edges
from pipeline.dedup.settings import DedupSettings
from pipeline.dedup.signatures import EMPTY_HASH, make_hasher, part_name, scope_key, shard_signatures
from pipeline.storage import read_arrow, write_arrow
from tests.dedup._texts import make_text, near_copy


def test_scope_key_pools_cjk_and_follows_the_setting() -> None:
    assert scope_key("script", "Hang", "kor_Hang") == scope_key("script", "Hani", "zho_Hans") == "CJK"
    assert scope_key("script", "Latn", "eng_Latn") == "Latn"
    assert scope_key("language", "Latn", "eng_Latn") == "eng_Latn"
    assert scope_key("global", "Latn", "eng_Latn") == ""


def test_exact_edges_chain_equal_hashes_within_a_scope_only() -> None:
    exact = np.array([5, 5, 7, 5, 7, 9], dtype=np.uint64)
    scope = np.array([0, 0, 0, 1, 0, 0])
    usable = np.array([True, True, True, True, True, False])
    src, dst = exact_edges(exact, scope, usable)
    assert sorted(zip(src.tolist(), dst.tolist())) == [(0, 1), (2, 4)]


def test_decide_keeps_first_or_longest_and_names_the_reason() -> None:
    cid = np.array([0, 0, 0, 3])  # documents 0-2 one cluster
    exact = np.array([11, 11, 12, 13], dtype=np.uint64)
    scope = np.zeros(4, dtype=np.int64)
    chars = np.array([10, 10, 50, 5])
    d = decide(cid, exact, scope, chars, "first")
    assert (d.clusters.num_clusters, d.removed_exact, d.removed_near) == (2, 1, 1)
    t = d.table(pa.array(["a", "b", "c", "d"]), 0, 4).to_pydict()
    assert t["cluster_size"] == [3, 3, 3, 1]
    assert t["keep_first"] == [True, False, False, True] and t["kept_doc_id_first"] == ["a", "a", "a", "d"]
    assert t["reason_first"] == [None, REASON_EXACT, REASON_NEAR, None]
    assert t["keep_longest"] == [False, False, True, True] and t["kept_doc_id_longest"] == ["c", "c", "c", "d"]
    assert t["reason_longest"] == [REASON_NEAR, REASON_NEAR, None, None]
    assert d.table(pa.array(["a", "b", "c", "d"]), 3, 4).to_pydict()["kept_doc_id_first"] == ["d"]


def _corpus(tmp_path, d: DedupSettings) -> tuple[list[dict[str, str]], list[str], list[str]]:
    """Three shards: originals, an exact copy, near copies and a text without words; the signature step's files."""
    rng = random.Random(4)
    a, b = make_text("Latin", rng), make_text("Hangul", rng)
    shards_texts = [
        [("s0/0", a, "eng_Latn"), ("s0/1", b, "kor_Hang"), ("s0/2", "!!! ???", "eng_Latn")],
        [("s1/0", a, "eng_Latn"), ("s1/1", near_copy(b, "Hangul", rng, 0.02), "kor_Hang")],
        [("s2/0", near_copy(a, "Latin", rng, 0.02), "eng_Latn"), ("s2/1", "!!! ???", "eng_Latn")],
    ]
    hasher = make_hasher(d)
    outputs, doc_ids = [], []
    for i, docs in enumerate(shards_texts):
        table = pa.table({"doc_id": [x[0] for x in docs], "text": [x[1] for x in docs], "lang": [x[2] for x in docs]})
        sig, parts = shard_signatures(table, d, hasher)
        out = {"signatures": str(tmp_path / "sig" / f"{i}.arrow")}
        write_arrow(sig, out["signatures"])
        assert len(parts) == (d.num_partitions if d.fuzzy else 0)
        for p, part in enumerate(parts):
            out[part_name(p)] = str(tmp_path / "bands" / part_name(p) / f"{i}.arrow")
            write_arrow(part.to_arrow(), out[part_name(p)])
        outputs.append(out)
        doc_ids += [x[0] for x in docs]
    decisions = [str(tmp_path / "dec" / f"{i}.arrow") for i in range(len(outputs))]
    return outputs, decisions, doc_ids


def test_shard_signatures_columns() -> None:
    d = DedupSettings(num_partitions=3)
    texts = ["a few words here and more words", "!!!"]
    table = pa.table({"doc_id": ["x", "y"], "text": texts, "lang": ["eng_Latn"] * 2})
    calls = []
    sig, parts = shard_signatures(table, d, make_hasher(d), calls.append)
    assert sig.column_names == ["doc_id", "lang", "scope", "exact_hash", "chars", "signature", "shingle_hashes"]
    assert sig.column("exact_hash").to_pylist()[1] == EMPTY_HASH and sig.column("chars").to_pylist() == [31, 3]
    assert len(parts) == 3 and sum(calls) == 2
    exact_only, none = shard_signatures(table, DedupSettings(fuzzy=False), make_hasher(d))
    assert none == [] and "signature" not in exact_only.column_names
    assert exact_only.column("exact_hash").equals(sig.column("exact_hash"))


@pytest.mark.parametrize("components", ["driver", "auto", "distributed"])
def test_find_clusters_in_process(tmp_path, components) -> None:
    """Exact copies, near copies across shards and scripts' scopes; every component path writes the same files."""
    d = DedupSettings(threshold=0.7, num_partitions=4, components=components)
    outputs, decisions, doc_ids = _corpus(tmp_path, d)
    summary = find_clusters(d, outputs, decisions, str(tmp_path / "cc"))
    assert summary["documents"] == 7 and summary["clusters"] == 4
    assert (summary["removed_exact"], summary["removed_near"]) == (1, 2)
    assert summary["components"] == ("distributed" if components == "distributed" else "driver")
    assert not (tmp_path / "cc").exists()
    t = pa.concat_tables([read_arrow(p) for p in decisions]).to_pydict()
    assert t["kept_doc_id_first"] == ["s0/0", "s0/1", "s0/2", "s0/0", "s0/1", "s0/0", "s2/1"]
    assert t["reason_first"] == [None, None, None, REASON_EXACT, REASON_NEAR, REASON_NEAR, None]
    reference = [str(tmp_path / "ref" / f"{i}.arrow") for i in range(len(decisions))]
    find_clusters(d.model_copy(update={"components": "driver"}), outputs, reference, str(tmp_path / "cc"))
    assert [open(a, "rb").read() for a in decisions] == [open(b, "rb").read() for b in reference]


def test_distributed_labels_match_scipy(tmp_path) -> None:
    """The star rounds in this process give each document its cluster's smallest index, like scipy."""
    d = DedupSettings(threshold=0.7, num_partitions=3)
    outputs, _, _ = _corpus(tmp_path, d)
    sig_files = [o["signatures"] for o in outputs]
    counts = np.array([read_arrow(f).num_rows for f in sig_files])
    bases = np.concatenate(([0], np.cumsum(counts)[:-1]))
    scopes = sorted(set(pa.concat_tables([read_arrow(f) for f in sig_files]).column("scope").to_pylist()))
    seen = []

    def mapper(fn, jobs, label):
        seen.append(label)
        return [dict(fn(j), node_id="n1") for j in jobs]

    labels, summary = distributed_labels(d, str(tmp_path / "cc"), sig_files, bases, int(counts.sum()), scopes, None,
                                         mapper)  # fmt: skip
    assert labels.tolist() == [0, 1, 2, 0, 4, 5, 6]  # exact copies only (no candidate files given)
    assert summary["exact_edges"] == 1 and summary["task_nodes"] == 1 and seen[0] == "dedup components: seed"
    labels2, _ = distributed_labels(d, str(tmp_path / "cc"), sig_files, bases, int(counts.sum()), scopes, None,
                                    map_in_process)  # fmt: skip
    assert labels2.tolist() == labels.tolist()
