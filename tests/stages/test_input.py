"""`polyglot input`: the stage's tables (extract's columns, langid's when the input gives languages), ids, counts and
byte-identical reruns; the config's checks and what each stage then reads; and end to end on Ray: a Parquet corpus
through input → filter → dedup → tokenizer → balance → shards, and a corpus without languages through langid."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import ConfigError, PipelineConfig, parse_config, with_absolute_paths
from pipeline.runtime import run_shard
from pipeline.stages import runner, upstream_stage
from pipeline.stages.extract import SCHEMA as EXTRACT_SCHEMA
from pipeline.stages.input import LABELLED_SCHEMA, InputStage
from tests.conftest import PROJECT_ROOT, SHARED_DATA

KO = "서울시는 다음 달부터 시내버스 노선을 조정한다고 밝혔다. 바뀌는 노선은 안내문에서 확인할 수 있다."
ZH = "市政府宣布，下个月起将调整十二条公交线路。调整后的线路编号可以在公告中查询。"
EN = "The city announced that twelve bus routes will change next month, with more buses on busy lines."


def config(tmp: Path, inp: dict[str, Any], **over: Any) -> PipelineConfig:
    return parse_config({"run": {"work_dir": str(tmp / "out")}, "input": inp, **over})


def run_local(cfg: PipelineConfig) -> list[dict[str, Any]]:
    stage = InputStage(cfg)
    stage.setup()
    return [run_shard(stage, t, {"stage": stage.name}) for t in stage.plan()]


# ------------------------------------------------------------------------------------------------ the stage alone


def write_labelled(tmp: Path) -> Path:
    rows = [
        {"content": KO, "language": "ko", "score": 0.98, "u": "https://a.kr/1", "dump": "CC-1"},
        {"content": None, "language": "ko", "score": 0.5, "u": None, "dump": "CC-1"},
        {"content": ZH, "language": "zh", "score": 0.91, "u": None, "dump": "CC-2"},
        {"content": EN, "language": "eng", "score": 0.99, "u": "https://b.example/", "dump": "CC-2"},
        {"content": "Bonjour à tous, voici un texte.", "language": "fr", "score": 0.9, "u": None, "dump": "CC-3"},
        {"content": KO, "language": "klingon", "score": 0.1, "u": None, "dump": "CC-3"},
        {"content": unicodedata.normalize("NFD", KO), "language": "kor_Hang", "score": None, "u": None, "dump": "CC-4"},
    ]  # fmt: skip
    (tmp / "in").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), tmp / "in" / "corpus-00.parquet")
    return tmp / "in" / "corpus-00.parquet"


LABELLED = {
    "paths": [],
    "columns": {"text": "content", "lang": "language", "lang_score": "score", "url": "u", "metadata": ["dump"]},
}


def test_labelled_input_has_langid_columns_and_counts_every_removal(tmp_path: Path) -> None:
    path = write_labelled(tmp_path)
    cfg = config(tmp_path, {**LABELLED, "paths": [str(path)]}, languages=["ko", "zh", "en"])
    (res,) = run_local(cfg)
    assert res["ok"], res
    out = pq.read_table(tmp_path / "out" / "input" / "corpus-00.parquet")
    assert out.schema.names == [*LABELLED_SCHEMA.names, "dump"]
    assert out.schema.field("lang_score").type == pa.float32()
    rows = out.to_pylist()
    assert [r["doc_id"] for r in rows] == ["corpus-00/0", "corpus-00/2", "corpus-00/3", "corpus-00/6"]
    assert [r["lang"] for r in rows] == ["kor_Hang", "zho_Hans", "eng_Latn", "kor_Hang"]
    assert [r["lang_script"] for r in rows] == ["Hang", "Hans", "Latn", "Hang"]
    assert "family" not in out.schema.names  # balance and the tokenizer look it up when they run
    assert [r["lang_score"] for r in rows] == pytest.approx([0.98, 0.91, 0.99, None])  # type: ignore[list-item]
    assert [r["url"] for r in rows] == ["https://a.kr/1", None, "https://b.example/", None]
    assert [r["dump"] for r in rows] == ["CC-1", "CC-2", "CC-2", "CC-4"]
    assert rows[3]["text"] == KO  # NFC, like extract's output
    assert {r["source_shard"] for r in rows} == {"corpus-00.parquet"} and rows[1]["record_offset"] == 2
    assert all(r["lang_topk"] is None and r["lang_models"] is None for r in rows)
    stats = json.loads((tmp_path / "out" / "_state" / "input" / "corpus-00.json").read_text())["stats"]
    assert stats["removed"] == {"no_text": {"und": 1}, "unknown_language_code": {"und": 1},
                                "unwanted_language": {"fra_Latn": 1}}  # fmt: skip
    assert stats["docs_in"] == 7 and stats["docs_out"] == 4


def test_ids_are_stable_or_the_sources_own(tmp_path: Path) -> None:
    path = write_labelled(tmp_path)
    first = config(tmp_path / "a", {**LABELLED, "paths": [str(path)]})
    second = config(tmp_path / "b", {**LABELLED, "paths": [str(path)]})
    run_local(first)
    run_local(second)
    a, b = (p / "out" / "input" / "corpus-00.parquet" for p in (tmp_path / "a", tmp_path / "b"))
    assert a.read_bytes() == b.read_bytes()  # the same input gives the same bytes
    table = pq.read_table(path).append_column("uid", pa.array([10, 11, 12, 13, 14, 15, 16], pa.int64()))
    pq.write_table(table, path)
    own = config(tmp_path / "c", {**LABELLED, "paths": [str(path)],
                                  "columns": {**LABELLED["columns"], "id": "uid"}})  # fmt: skip
    run_local(own)
    ids = pq.read_table(tmp_path / "c" / "out" / "input" / "corpus-00.parquet").column("doc_id").to_pylist()
    assert ids == ["10", "12", "13", "14", "16"]  # kept, as strings


def test_without_a_language_the_output_is_extracts(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    lines = [json.dumps({"text": t, "src": i}, ensure_ascii=False) for i, t in enumerate((KO, ZH, EN))]
    (tmp_path / "in" / "web.jsonl").write_text("\n".join([lines[0], "{broken", *lines[1:]]) + "\n", "utf-8")
    cfg = config(tmp_path, {"paths": [str(tmp_path / "in" / "*.jsonl")], "columns": {"metadata": "all"}})
    assert cfg.run.stages == ["input", "langid", "filter", "dedup", "tokenizer", "balance", "shards"]
    (res,) = run_local(cfg)
    out = pq.read_table(tmp_path / "out" / "input" / "web.parquet")
    assert out.schema.names == [*EXTRACT_SCHEMA.names, "src"]
    assert out.column("doc_id").to_pylist() == ["web/0", "web/2", "web/3"]  # line index: the broken line counts
    assert out.column("source_format").to_pylist() == ["jsonl"] * 3
    assert res["stats"]["removed"] == {"malformed_json": {"und": 1}}


def test_one_language_for_every_document(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ko.jsonl").write_text(json.dumps({"text": KO}, ensure_ascii=False) + "\n", "utf-8")
    cfg = config(tmp_path, {"paths": [str(tmp_path / "in" / "ko.jsonl")], "lang": "kor"})
    assert cfg.run.stages[:2] == ["input", "filter"]
    run_local(cfg)
    assert pq.read_table(tmp_path / "out" / "input" / "ko.parquet").column("lang").to_pylist() == ["kor_Hang"]


def test_datasets_are_shards_of_rows_or_data_files(tmp_path: Path) -> None:
    import datasets

    rows = [{"text": f"{EN} Number {i}.", "lang": "en"} for i in range(5)]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "saved"))
    cfg = config(tmp_path, {"dataset": str(tmp_path / "saved"), "rows_per_shard": 2, "columns": {"lang": "lang"}})
    results = run_local(cfg)
    assert [r["shard_id"] for r in results] == ["saved-train-00000", "saved-train-00001", "saved-train-00002"]
    out = tmp_path / "out" / "input"
    ids = [i for r in results for i in pq.read_table(out / f"{r['shard_id']}.parquet").column("doc_id").to_pylist()]
    assert ids == ["saved-train-00000/0", "saved-train-00000/1", "saved-train-00001/2", "saved-train-00001/3",
                   "saved-train-00002/4"]  # the row index in the split: stable whatever rows_per_shard  # fmt: skip
    (tmp_path / "corpus").mkdir()
    for k in range(2):
        (tmp_path / "corpus" / f"part-{k}.jsonl").write_text(json.dumps({"text": f"{EN} Part {k}."}) + "\n")
    streamed = config(tmp_path / "s", {"dataset": str(tmp_path / "corpus"), "lang": "en"})
    assert [r["shard_id"] for r in run_local(streamed)] == ["corpus-train-00000", "corpus-train-00001"]
    (tmp_path / "other").mkdir()
    datasets.Dataset.from_list(rows[:1]).save_to_disk(str(tmp_path / "other" / "saved"))
    two = config(tmp_path / "t", {"paths": [str(tmp_path / "saved"), str(tmp_path / "other" / "saved")], "lang": "en"})
    sids = [t.shard_id for t in InputStage(two).plan()]
    assert len(set(sids)) == len(sids) == 2 and all(s.startswith("saved-") for s in sids)  # same folder names


# ------------------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("stages", "inp", "message"),
    [
        (["extract", "input", "filter"], {"paths": ["x.parquet"], "lang": "ko"},
         "run.stages lists 'input' with 'extract': .* remove one"),
        (["download", "extract", "input"], {"paths": ["x.parquet"], "lang": "ko"},
         "run.stages lists 'input' with 'download' and 'extract'"),
        (["input", "filter"], None, "run.stages includes 'input' but there is no `input` section"),
        (["input", "filter", "dedup"], {"paths": ["x.parquet"]},
         "runs input then filter without 'langid', but the input has no language: set input.columns.lang"),
    ],
)  # fmt: skip
def test_config_refuses_inconsistent_stages(tmp_path: Path, stages: list[str], inp: dict | None, message: str) -> None:
    data: dict[str, Any] = {"run": {"work_dir": str(tmp_path / "out"), "stages": stages},
                            "extract": {"inputs": ["x.warc.gz"]}, "download": {"crawl": "CC-MAIN-2024-10"}}  # fmt: skip
    if inp is not None:
        data["input"] = inp
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_config_messages_name_the_input_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"input.columns.txt: unknown key \(allowed here: id, lang, lang_score, "
                                          r"metadata, text, url\)"):  # fmt: skip
        config(tmp_path, {"paths": ["x.parquet"], "columns": {"txt": "body"}})
    with pytest.raises(ConfigError, match="it needs extract.inputs or a `download` section"):  # a crawl run beside an unused input section
        parse_config({"run": {"work_dir": str(tmp_path), "stages": ["extract", "langid"]}, "input": {"paths": ["x"]}})


def test_what_each_stage_reads(tmp_path: Path) -> None:
    labelled = config(tmp_path, {"paths": ["x.parquet"], "lang": "ko"})
    assert [upstream_stage(labelled, s) for s in ("filter", "dedup", "tokenizer")] == ["input", "filter", "dedup"]
    alone = labelled.model_copy(update={"run": labelled.run.model_copy(update={"stages": ["dedup"]})})
    assert upstream_stage(alone, "dedup") == "input"  # run on its own: the input gave the languages
    bare = config(tmp_path, {"paths": ["x.parquet"]})
    assert [upstream_stage(bare, s) for s in ("langid", "filter")] == ["input", "langid"]
    bare_alone = bare.model_copy(update={"run": bare.run.model_copy(update={"stages": ["langid"]})})
    assert upstream_stage(bare_alone, "langid") == "input"
    crawl = parse_config({"run": {"work_dir": str(tmp_path)}, "extract": {"inputs": ["x.warc.gz"]}})
    assert upstream_stage(crawl, "langid") == "extract" and upstream_stage(crawl, "filter") == "langid"


def test_relative_paths_become_absolute_but_hub_names_stay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "saved").mkdir()
    cfg = with_absolute_paths(config(tmp_path, {"paths": ["in/*.parquet"]}))
    assert cfg.input is not None and cfg.input.paths == [str(tmp_path / "in" / "*.parquet")]
    for given, expected in (("saved", str(tmp_path / "saved")), ("HuggingFaceFW/fineweb-2", "HuggingFaceFW/fineweb-2")):
        inp = with_absolute_paths(config(tmp_path, {"dataset": given})).input
        assert inp is not None and inp.dataset == expected


def test_the_readme_example_is_a_valid_config(tmp_path: Path) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("## Bring your own corpus") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    import yaml

    data = yaml.safe_load(block.group(1))
    data["run"]["work_dir"] = str(tmp_path / "out")
    cfg = parse_config(data)
    assert cfg.input is not None and cfg.input.labels_language and cfg.run.stages[:2] == ["input", "filter"]


# ----------------------------------------------------------------------------------------------- end to end, Ray

#: (shared Tatoeba file code, the label form the corpus uses): every code form must come out canonical.
TATOEBA = {"kor": "ko", "jpn": "jpn_Jpan", "cmn": "zh", "rus": "rus", "deu": "de", "fra": "fr-FR", "spa": "spa_Latn"}
DEMO = {"ko": "ko", "ja": "jpn_Jpan", "zh-Hans": "zh", "ru": "rus", "de": "de", "fr": "fr-FR", "es": "spa_Latn"}


def paragraphs(sentences: list[str], per_doc: int) -> list[str]:
    """Documents of `per_doc` sentences, in paragraphs of 4 sentences (prose, not a list of short lines)."""
    docs = []
    for i in range(0, len(sentences) - per_doc + 1, per_doc):
        chunk = sentences[i : i + per_doc]
        docs.append("\n".join(" ".join(chunk[j : j + 4]) for j in range(0, len(chunk), 4)))
    return docs


def real_corpus() -> tuple[dict[str, list[str]], str]:
    """Documents per label: Tatoeba sentences from ../shared/data when present, else the bundled demo text."""
    tatoeba = SHARED_DATA / "tatoeba"
    if tatoeba.is_dir():
        out = {}
        for code, label in TATOEBA.items():
            lines = (tatoeba / f"tatoeba.{code}-eng.{code}").read_text("utf-8").splitlines()
            out[label] = paragraphs([ln.strip() for ln in lines if ln.strip()][:480], 16)
        return out, "shared Tatoeba"
    demo = PROJECT_ROOT / "scripts" / "demo_text"
    out = {}
    for variant, label in DEMO.items():
        lines = [ln for ln in (demo / f"{variant}.txt").read_text("utf-8").splitlines()
                 if ln.strip() and not ln.startswith(("#", "[", "= "))]  # fmt: skip
        out[label] = paragraphs(lines, 2)
    return out, "bundled demo text (../shared/data absent)"


def write_corpus(tmp: Path) -> dict[str, Any]:
    """Three Parquet files: the documents dealt round-robin, 4 exact duplicates planted across files, a null text,
    an unwanted language; and, with the shared data, 15 real Chinese web pages (junk included) for the filter."""
    docs, source = real_corpus()
    rows = [{"body": t, "language": label, "source": source} for label, texts in docs.items() for t in texts]
    web = SHARED_DATA / "web-zh" / "zh-web-500.jsonl.gz"
    if web.is_file():
        import gzip

        with gzip.open(web, "rt", encoding="utf-8") as fh:
            pages = [json.loads(line) for _, line in zip(range(15), fh)]
        rows += [{"body": p["text"], "language": "zho", "source": p["url"]} for p in pages]
    planted = [rows[i] for i in (0, 25, 50, 75)]
    rows += [dict(r) for r in planted]
    rows += [{"body": None, "language": "ko", "source": "none"},
             {"body": "مرحبا بالعالم. " * 30, "language": "ar", "source": "x"}]  # fmt: skip
    (tmp / "in").mkdir(parents=True)
    for k in range(3):
        pq.write_table(pa.Table.from_pylist(rows[k::3]), tmp / "in" / f"part-{k}.parquet")
    return {"rows": rows, "planted": planted}


E2E_SETTINGS: dict[str, Any] = {
    "ray": {"num_cpus": 2, "object_store_mb": 256},
    "languages": ["ko", "ja", "zh-Hans", "zh-Hant", "ru", "de", "fr", "es"],
    "tokenizer": {"vocab_size": 2000, "character_coverage": 0.98, "sample_chars": 60_000, "compare_unbalanced": False,
                  "verify_docs": 5, "num_threads": 1},
    "dedup": {"num_partitions": 2},  # a few hundred documents: 16 partition tasks would only cost time
    "shards": {"shard_tokens": 20_000},
}  # fmt: skip


@pytest.mark.slow
def test_a_parquet_corpus_runs_to_training_shards(ray_session, tmp_path: Path) -> None:
    planted = write_corpus(tmp_path)["planted"]
    cfg = parse_config({
        "run": {"work_dir": str(tmp_path / "out")},
        "input": {"paths": [str(tmp_path / "in" / "*.parquet")],
                  "columns": {"text": "body", "lang": "language", "metadata": ["source"]}},
        **E2E_SETTINGS,
    })  # fmt: skip
    assert cfg.run.stages == ["input", "filter", "dedup", "tokenizer", "balance", "shards"]
    for name in cfg.run.stages:
        assert runner(name)(cfg, None, False).ok, name
    out = tmp_path / "out"
    removed: dict[str, int] = {}
    for k in range(3):
        stats = json.loads((out / "_state" / "input" / f"part-{k}.json").read_text())["stats"]
        for reason, by_lang in stats["removed"].items():
            removed[reason] = removed.get(reason, 0) + sum(by_lang.values())
    assert removed == {"no_text": 1, "unwanted_language": 1}
    kept = [r for k in range(3) for r in pq.read_table(out / "dedup" / f"part-{k}.parquet").to_pylist()]
    assert kept and all(r["source"] is not None for r in kept)  # metadata passes through filter and dedup
    dups = [r for k in range(3) for r in pq.read_table(out / "_removed" / "dedup" / f"part-{k}.parquet").to_pylist()]
    planted_texts = {p["body"] for p in planted}
    caught = {r["text"] for r in dups if r["dedup_reason"] == "exact-duplicate"} & planted_texts
    survived_filter = planted_texts & {r["text"] for r in kept} | caught
    assert caught == survived_filter  # every planted copy that got past the filter was removed as a duplicate
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    rows = [r for e in manifest["shards"]
            for r in pa.ipc.open_stream(pa.memory_map(str(out / "shards" / e["name"]))).read_all()
            .select(["doc_id", "lang"]).to_pylist()]  # fmt: skip
    wanted = {"kor_Hang", "jpn_Jpan", "zho_Hans", "rus_Cyrl", "deu_Latn", "fra_Latn", "spa_Latn"}
    assert {r["lang"] for r in rows} >= wanted  # zho_Hant too when the shared data is there
    assert all(re.fullmatch(r"part-[012]/\d+", r["doc_id"]) for r in rows)


@pytest.mark.slow
def test_a_corpus_without_languages_goes_through_langid(ray_session, tmp_path: Path) -> None:
    docs, _ = real_corpus()
    (tmp_path / "in").mkdir()
    truth = {}
    with open(tmp_path / "in" / "web.jsonl", "w", encoding="utf-8") as fh:
        n = 0
        for label, texts in docs.items():
            for t in texts[:12]:
                fh.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
                truth[f"web/{n}"] = label
                n += 1
    cfg = parse_config({
        "run": {"work_dir": str(tmp_path / "out"), "stages": ["input", "langid", "filter"]},
        "input": {"paths": [str(tmp_path / "in" / "web.jsonl")]},
        "ray": {"num_cpus": 2, "object_store_mb": 256},
    })  # fmt: skip
    for name in cfg.run.stages:
        assert runner(name)(cfg, None, False).ok, name
    labelled = pq.read_table(tmp_path / "out" / "langid" / "web.parquet").select(["doc_id", "lang"]).to_pylist()
    from pipeline.lang.codes import normalize_label

    right = sum(normalize_label(truth[r["doc_id"]]).split("_")[0] == r["lang"].split("_")[0] for r in labelled)
    assert len(labelled) >= 0.9 * len(truth) and right >= 0.95 * len(labelled)
    assert pq.read_table(tmp_path / "out" / "filter" / "web.parquet").num_rows > 0
