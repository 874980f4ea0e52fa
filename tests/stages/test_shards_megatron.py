"""`polyglot shards` with ``shards.megatron``: the indexed dataset holds every Arrow row's ids in shard order (read
back by the test's own reader), the manifest and card list it; turning the option on leaves the Arrow shards alone,
reruns change nothing, and turning it off removes the files and gives back the manifest of a run without it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline.stages import shards as shards_stage
from tests.stages.test_balance import (  # noqa: F401 - tiny_tokenizer is a fixture
    install_tokenizer,
    make_cfg,
    tiny_tokenizer,
    tree_state,
    write_upstream,
)
from tests.test_megatron import read_indexed_dataset

pytestmark = pytest.mark.slow  # Ray actors: a few seconds per stage run

SHARD_TOKENS = 30_000


def cfg_for(tmp: Path, **shards):
    return make_cfg(tmp, shards={"shard_tokens": SHARD_TOKENS, **shards})


def arrow_rows(out: Path) -> list[list[int]]:
    """input_ids of every row of every shard, in manifest (= shard) order and stored order."""
    manifest = json.loads((out / "manifest.json").read_text())
    rows = []
    for e in manifest["shards"]:
        table = pa.ipc.open_stream(pa.memory_map(str(out / e["name"]))).read_all()
        rows += table.column("input_ids").to_pylist()
    return rows


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def toggled(ray_session, tiny_tokenizer: Path, tmp_path_factory: pytest.TempPathFactory):
    """One work dir: shards without the option (snapshot), then with it."""
    from pipeline.stages import balance as balance_stage

    tmp = tmp_path_factory.mktemp("megatron")
    write_upstream(tmp)
    install_tokenizer(tmp, tiny_tokenizer)
    off = cfg_for(tmp)
    assert balance_stage.run(off).ok
    assert shards_stage.run(off).ok
    out = tmp / "out" / "shards"
    before = snapshot(out)
    on = cfg_for(tmp, megatron=True)
    result = shards_stage.run(on)
    return tmp, off, on, before, result


def test_documents_are_the_arrow_rows_in_shard_order(toggled) -> None:
    tmp, off, on, before, result = toggled
    out = tmp / "out" / "shards"
    manifest = json.loads((out / "manifest.json").read_text())
    mg = manifest["megatron"]
    eos = manifest["tokenizer"]["eos_id"]
    dtype, docs = read_indexed_dataset(out / mg["prefix"])
    rows = arrow_rows(out)
    assert str(dtype) == mg["dtype"] == "uint16"  # 2,000 pieces
    assert [d.tolist() for d in docs] == [r + [eos] for r in rows]
    assert mg["documents"] == len(rows) == manifest["rows"] and mg["eod_id"] == eos == 2
    assert mg["tokens"] == manifest["tokens"] + manifest["rows"] == sum(d.size for d in docs)
    # per shard: where its documents start and how many tokens they are
    start = 0
    for e, m in zip(manifest["shards"], mg["shards"]):
        assert (m["name"], m["first_document"], m["documents"]) == (e["name"], start, e["rows"])
        assert m["tokens"] == e["tokens"] + e["rows"] == sum(d.size for d in docs[start : start + e["rows"]])
        start += e["rows"]
    for key in ("bin", "idx"):
        data = (out / mg[key]["name"]).read_bytes()
        assert len(data) == mg[key]["bytes"] and hashlib.sha256(data).hexdigest() == mg[key]["sha256"]
    assert f"--data-path <this folder>/{mg['prefix']}" in (out / "README.md").read_text()
    assert sorted(p.name for p in (out / "megatron").iterdir()) == ["corpus_text_document.bin",
                                                                     "corpus_text_document.idx"]  # fmt: skip


def test_turning_it_on_leaves_the_arrow_shards_and_adds_only_the_export(toggled) -> None:
    tmp, off, on, before, result = toggled
    out = tmp / "out" / "shards"
    assert result.ok and result.skipped == result.shards  # no shard re-encoded for the option
    after = snapshot(out)
    arrow = [k for k in before if k.endswith(".arrow")]
    assert arrow and all(after[k] == before[k] for k in arrow)
    assert set(after) - set(before) == {"megatron/corpus_text_document.bin", "megatron/corpus_text_document.idx"}
    m_off, m_on = json.loads(before["manifest.json"]), json.loads(after["manifest.json"])
    assert {k: v for k, v in m_on.items() if k != "megatron"} == m_off and "megatron" not in m_off


def test_rerun_changes_nothing(toggled) -> None:
    tmp, off, on, before, result = toggled
    state = tree_state(tmp / "out")
    again = shards_stage.run(on)
    assert again.ok and again.skipped == again.shards
    assert tree_state(tmp / "out") == state


def test_without_eod_and_then_off_again(toggled) -> None:
    tmp, off, on, before, result = toggled
    out = tmp / "out" / "shards"
    assert shards_stage.run(cfg_for(tmp, megatron=True, megatron_eod=False)).ok
    mg = json.loads((out / "manifest.json").read_text())["megatron"]
    _, docs = read_indexed_dataset(out / mg["prefix"])
    assert mg["eod_id"] is None and [d.tolist() for d in docs] == arrow_rows(out)

    assert shards_stage.run(off).ok
    assert snapshot(out) == before  # the export and its manifest entry are gone; every other byte as before
    assert not (tmp / "out" / "_state" / "shards" / "_global" / "megatron.json").exists()
