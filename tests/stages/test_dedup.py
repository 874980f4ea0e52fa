"""`polyglot dedup` on a real local Ray: exact and near duplicates across shards, scopes, keep rules, resumability,
and agreement with the one-process reference (`pipeline.dedup.fuzzy_dedup`)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import parse_config
from pipeline.dedup import FuzzyDedupParams, fuzzy_dedup
from pipeline.dedup.normalize import normalize_for_exact
from pipeline.runtime import global_record_path
from pipeline.stages import dedup as dedup_stage
from tests.dedup._texts import SCRIPTS, make_text, near_copy

pytestmark = pytest.mark.slow  # Ray tasks and actors: a few seconds per test


def _doc(shard: str, i: int, text: str, lang: str) -> dict:
    return {"doc_id": f"{shard}/{i * 1000}", "text": text, "lang": lang, "url": f"https://ex.test/{shard}/{i}"}


def corpus(seed: int = 0) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """Three shards of distinct documents in 7 scripts with planted duplicates; returns shards and
    `expected[doc_id] = reason` for every document that must go."""
    rng = random.Random(seed)
    shards: dict[str, list[dict]] = {"S0": [], "S1": [], "S2": []}
    expected: dict[str, str] = {}
    originals = []
    for script, (lang, *_rest) in SCRIPTS.items():
        for k in range(4):
            shard = f"S{k % 3}"
            text = make_text(script, rng)
            d = _doc(shard, len(shards[shard]), text, lang)
            shards[shard].append(d)
            originals.append((script, d))
    for j, (script, orig) in enumerate(originals):
        if j % 3 == 0:  # exact copy in a later shard, with spacing and case changed
            copy = orig["text"].upper().replace(" ", "  ") if SCRIPTS[script][2] else orig["text"] + "\n"
            d = _doc("S2", len(shards["S2"]), copy, orig["lang"])
            shards["S2"].append(d)
            expected[d["doc_id"]] = "exact-duplicate"
        elif j % 3 == 1:  # near copy: 0.5% of the tokens replaced (true Jaccard ~0.95)
            d = _doc("S2", len(shards["S2"]), near_copy(orig["text"], script, rng, 0.005), orig["lang"])
            shards["S2"].append(d)
            expected[d["doc_id"]] = "near-duplicate"
    return shards, expected


def write_inputs(tmp: Path, shards: dict[str, list[dict]]) -> None:
    """Upstream as dedup reads it: langid outputs (the extract inputs only need to exist for planning)."""
    (tmp / "in").mkdir(exist_ok=True)
    (tmp / "out" / "langid").mkdir(parents=True, exist_ok=True)
    for name, docs in shards.items():
        (tmp / "in" / f"{name}.warc.gz").write_bytes(b"")
        pq.write_table(pa.Table.from_pylist(docs), tmp / "out" / "langid" / f"{name}.parquet")


def cfg(tmp: Path, **dedup):
    return parse_config(
        {
            "run": {"work_dir": str(tmp / "out"), "stages": ["extract", "langid", "dedup"]},
            "extract": {"inputs": [str(tmp / "in" / "*.warc.gz")]},
            "dedup": {"num_partitions": 4, **dedup},
        }
    )


def outputs(tmp: Path) -> tuple[list[dict], list[dict]]:
    kept = pa.concat_tables([pq.read_table(p) for p in sorted((tmp / "out" / "dedup").glob("*.parquet"))]).to_pylist()
    removed = pa.concat_tables(
        [pq.read_table(p) for p in sorted((tmp / "out" / "_removed" / "dedup").glob("*.parquet"))]
    ).to_pylist()
    return kept, removed


def test_exact_and_near_duplicates_across_shards(ray_session, tmp_path: Path) -> None:
    shards, expected = corpus()
    write_inputs(tmp_path, shards)
    res = dedup_stage.run(cfg(tmp_path))
    assert res.ok
    kept, removed = outputs(tmp_path)
    n = sum(len(v) for v in shards.values())
    assert len(kept) + len(removed) == n == res.docs_in and res.docs_out == len(kept)
    assert {r["doc_id"]: r["dedup_reason"] for r in removed} == expected
    order = [d["doc_id"] for name in sorted(shards) for d in shards[name]]
    by_id = {d["doc_id"]: d for s in shards.values() for d in s}
    kept_ids = {r["doc_id"] for r in kept}
    for r in removed:  # the kept one is the original: first in corpus order
        assert r["duplicate_of"] in kept_ids and order.index(r["duplicate_of"]) < order.index(r["doc_id"])
        assert by_id[r["duplicate_of"]]["lang"] == r["lang"]
    sizes = {r["doc_id"]: r["dup_cluster_size"] for r in kept}
    assert sorted(sizes.values()).count(2) == len(expected)
    assert all(r["dup_cluster_id"] == r["doc_id"] for r in kept)
    rec = json.loads(Path(global_record_path(cfg(tmp_path), "dedup", "clusters")).read_text())
    assert rec["stats"]["removed_exact"] + rec["stats"]["removed_near"] == len(expected)


@pytest.mark.parametrize("batch", [4096, 3])  # candidates verified a few at a time: the same result
def test_same_clusters_as_the_one_process_reference(ray_session, tmp_path: Path, batch: int) -> None:
    shards, _ = corpus(seed=3)
    write_inputs(tmp_path, shards)
    dedup_stage.run(cfg(tmp_path, exact=False, verify_batch_edges=batch))
    kept, removed = outputs(tmp_path)
    docs = [d for name in sorted(shards) for d in shards[name]]
    ref = fuzzy_dedup([d["text"] for d in docs], FuzzyDedupParams())
    ids = np.array([d["doc_id"] for d in docs])
    # the reference's clusters span everything; the stage's default scope is per script and the fixture's
    # duplicates never cross scripts, so both must remove the same documents
    assert sorted(r["doc_id"] for r in removed) == sorted(ids[~ref.keep].tolist())
    # found by MinHash alone, still labelled by what they are: identical normalized text or not
    text = {d["doc_id"]: d["text"] for d in docs}
    for r in removed:
        same = normalize_for_exact(r["text"]) == normalize_for_exact(text[r["duplicate_of"]])
        assert r["dedup_reason"] == ("exact-duplicate" if same else "near-duplicate")


def test_scope_and_keep_longest(ray_session, tmp_path: Path) -> None:
    rng = random.Random(7)
    base = make_text("Latin", rng)
    longer = base + " " + make_text("Latin", rng, n_words=8)
    shards = {
        "S0": [_doc("S0", 0, base, "eng_Latn"), _doc("S0", 1, base, "deu_Latn")],
        "S1": [_doc("S1", 0, longer, "eng_Latn"), _doc("S1", 1, "", "eng_Latn"), _doc("S1", 2, "!!! ???", "eng_Latn")],
    }
    write_inputs(tmp_path, shards)
    dedup_stage.run(cfg(tmp_path, scope="language", keep="longest"))
    kept, removed = outputs(tmp_path)
    assert [(r["doc_id"], r["dedup_reason"], r["duplicate_of"]) for r in removed] == [("S0/0", "near-duplicate", "S1/0")]
    assert {r["doc_id"] for r in kept} == {"S0/1000", "S1/0", "S1/1000", "S1/2000"}  # wordless docs never grouped

    for scope in ("script", "global"):  # the default scope: one script, so one cluster across the two labels
        dedup_stage.run(cfg(tmp_path, scope=scope, keep="longest"), force=True)
        kept, removed = outputs(tmp_path)
        # the two short copies differ from the kept (longer) text: near duplicates
        assert sorted((r["doc_id"], r["dedup_reason"], r["duplicate_of"]) for r in removed) == [
            ("S0/0", "near-duplicate", "S1/0"),
            ("S0/1000", "near-duplicate", "S1/0"),
        ]
        assert [r["dup_cluster_size"] for r in kept if r["doc_id"] == "S1/0"] == [3]


def test_copies_that_language_id_labels_differently_are_merged(ray_session, tmp_path: Path) -> None:
    """Default scope (the text's script): a Han text labelled Hans once and Hant the next, and a text in a script
    the language model lacks (Cherokee) labelled at random, are still compared; `scope: language` keeps them apart."""
    rng = random.Random(11)
    han = make_text("Han", rng)
    syllabary = [chr(c) for c in range(0x13A0, 0x13F5)]
    cherokee = " ".join("".join(rng.choice(syllabary) for _ in range(rng.randint(2, 6))) for _ in range(300))
    shards = {
        "S0": [_doc("S0", 0, han, "zho_Hans"), _doc("S0", 1, cherokee, "eng_Latn")],
        "S1": [_doc("S1", 0, near_copy(han, "Han", rng, 0.005), "zho_Hant"),
               _doc("S1", 1, near_copy(cherokee, "Latin", rng, 0.005), "hin_Deva"),
               _doc("S1", 2, cherokee.replace(" ", "  ") + "\n", "nld_Latn")],
    }  # fmt: skip
    write_inputs(tmp_path, shards)
    dedup_stage.run(cfg(tmp_path))
    _, removed = outputs(tmp_path)
    assert sorted((r["doc_id"], r["dedup_reason"], r["duplicate_of"]) for r in removed) == [
        ("S1/0", "near-duplicate", "S0/0"),
        ("S1/1000", "near-duplicate", "S0/1000"),
        ("S1/2000", "exact-duplicate", "S0/1000"),  # equal after normalization (whitespace)
    ]
    dedup_stage.run(cfg(tmp_path, scope="language"), force=True)
    _, removed = outputs(tmp_path)
    assert removed == []


def test_rerun_skips_and_a_changed_shard_redoes_only_what_depends_on_it(ray_session, tmp_path: Path) -> None:
    shards, _ = corpus(seed=5)
    write_inputs(tmp_path, shards)
    c = cfg(tmp_path)
    dedup_stage.run(c)
    files = sorted((tmp_path / "out" / "dedup").rglob("*.parquet"))
    first = {p: p.read_bytes() for p in files}
    again = dedup_stage.run(c)
    assert again.skipped == 3
    dedup_stage.run(c, force=True)
    assert {p: p.read_bytes() for p in files} == first  # deterministic

    # S0 gains an exact copy of an S1 document: only S0's signatures are redone, the clusters are recomputed
    shards["S0"].append(_doc("S0", 99, shards["S1"][0]["text"], shards["S1"][0]["lang"]))
    write_inputs(tmp_path, {"S0": shards["S0"]})
    sig_mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "_work" / "dedup" / "signatures").glob("*.arrow")}
    res = dedup_stage.run(c)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "_work" / "dedup" / "signatures").glob("*.arrow")}
    assert [k for k in sorted(after) if after[k] != sig_mtimes[k]] == ["S0.arrow"]
    _, removed = outputs(tmp_path)
    # corpus order: S0's new copy comes before S1's original, so the S1 document is the one that goes
    assert any(r["doc_id"] == shards["S1"][0]["doc_id"] and r["duplicate_of"] == "S0/99000" for r in removed)
    assert res.ok


def _decisions(tmp: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((tmp / "out" / "_work" / "dedup" / "clusters").glob("*.arrow"))}


@pytest.mark.parametrize("keep", ["first", "longest"])
def test_distributed_components_give_byte_identical_decisions(ray_session, tmp_path: Path, keep: str) -> None:
    """Large-star/small-star rounds as Ray tasks find the same clusters as scipy on the driver: same decision files,
    byte for byte; switching `components` reruns the clusters step only, and its intermediate files are gone."""
    shards, expected = corpus(seed=9)
    # a longer chain of near copies across shards, so the rounds have something to propagate
    rng = random.Random(2)
    text = shards["S0"][0]["text"]
    for k in range(6):
        text = near_copy(text, "Latin", rng, 0.002)
        shards[f"S{k % 3}"].append(_doc(f"S{k % 3}", 50 + k, text, shards["S0"][0]["lang"]))
    write_inputs(tmp_path, shards)
    dedup_stage.run(cfg(tmp_path, keep=keep, components="driver"))
    want = _decisions(tmp_path)
    rec_path = Path(global_record_path(cfg(tmp_path), "dedup", "clusters"))
    assert json.loads(rec_path.read_text())["stats"]["components"] == "driver"
    outs = sorted((tmp_path / "out" / "dedup").rglob("*.parquet")) + sorted((tmp_path / "out" / "dedup").rglob("*.arrow"))
    before = {p: p.stat().st_mtime_ns for p in outs}  # signatures, band keys, decisions, kept and removed docs

    res = dedup_stage.run(cfg(tmp_path, keep=keep, components="distributed"))
    stats = json.loads(rec_path.read_text())["stats"]
    assert stats["components"] == "distributed" and stats["rounds"] >= 1 and stats["max_task_peak_mb"] > 0
    assert _decisions(tmp_path) == want
    assert res.skipped == 3 and {p: p.stat().st_mtime_ns for p in outs} == before  # only the clusters step reran
    assert not (tmp_path / "out" / "dedup" / "cc").exists()
    kept, removed = outputs(tmp_path)
    assert len(removed) == len(expected) + 6

    # auto: above the edge limit distributed, below on the driver; the same files either way
    dedup_stage.run(cfg(tmp_path, keep=keep, distributed_above_edges=0))
    assert json.loads(rec_path.read_text())["stats"]["components"] == "distributed"
    dedup_stage.run(cfg(tmp_path, keep=keep))
    assert json.loads(rec_path.read_text())["stats"]["components"] == "driver"
    assert _decisions(tmp_path) == want


def test_distributed_components_exact_only_and_leftovers(ray_session, tmp_path: Path) -> None:
    """Exact duplicates alone (no MinHash) also go through the partitioned rounds; files a killed run left in the
    components' work dir do not change the result."""
    shards, expected = corpus(seed=4)
    write_inputs(tmp_path, shards)
    dedup_stage.run(cfg(tmp_path, fuzzy=False, components="driver"))
    want = _decisions(tmp_path)
    junk = tmp_path / "out" / "dedup" / "cc" / "round-001" / "to-0000" / "from-0000.arrow"
    junk.parent.mkdir(parents=True)
    pa.ipc.new_file(str(junk), pa.schema([("u", pa.int64()), ("v", pa.int64())])).close()
    dedup_stage.run(cfg(tmp_path, fuzzy=False, components="distributed"))
    assert _decisions(tmp_path) == want
    _, removed = outputs(tmp_path)
    assert sorted(r["doc_id"] for r in removed) == sorted(k for k, v in expected.items() if v == "exact-duplicate")


def test_demo_crawl_same_decisions_either_components_path(ray_session, tmp_path: Path) -> None:
    """The bundled demo crawl (configs/demo.yaml) through extract, langid, filter and dedup: the distributed
    components reproduce scipy's decision files byte for byte, and the demo's planted duplicates are merged."""
    import yaml

    from pipeline.config import with_absolute_paths
    from pipeline.stages import runner
    from tests.conftest import PROJECT_ROOT

    raw = yaml.safe_load((PROJECT_ROOT / "configs" / "demo.yaml").read_text())
    raw["run"] = {"work_dir": str(tmp_path / "out"), "stages": ["extract", "langid", "filter", "dedup"]}
    raw["extract"]["inputs"] = [str(PROJECT_ROOT / p) for p in raw["extract"]["inputs"]]

    def run(components: str) -> dict:
        raw["dedup"]["components"] = components
        c = with_absolute_paths(parse_config(raw, base_dir=PROJECT_ROOT))
        for name in c.run.stages:
            assert runner(name)(c, None, False).ok
        return json.loads(Path(global_record_path(c, "dedup", "clusters")).read_text())["stats"]

    drv = run("driver")
    want = _decisions(tmp_path)
    dist = run("distributed")
    assert dist["components"] == "distributed" and dist["rounds"] >= 0  # the demo's clusters are small: often stars already
    assert _decisions(tmp_path) == want and len(want) == 4
    assert dist["removed_exact"] == drv["removed_exact"] and dist["removed_near"] == drv["removed_near"] > 0
