"""`polyglot tokenizer` on a real local Ray: family-balanced seeded sample independent of sharding, model + Hugging
Face files with SentencePiece's ids, skip / retrain rules, deterministic bytes, parity report with both tokenizers.

The upstream is built by hand: the project's demo paragraphs (scripts/demo_text, 10 language variants in 6
families) as `dedup/<shard>.parquet` with completion records like the dedup stage's.
"""

from __future__ import annotations

import json
import math
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm

from pipeline.config import parse_config
from pipeline.lang.codes import normalize_label
from pipeline.lang.families import family_of
from pipeline.runtime import global_record_path, run_stage
from pipeline.stages import tokenizer as tok
from pipeline.stages.base import ShardStats
from pipeline.tokenizer.build import TrainJob, train_tokenizers
from pipeline.tokenizer.export import IdMismatchError, export_hf
from pipeline.tokenizer.parity import PARALLEL_DIR, read_parallel_text
from pipeline.tokenizer.sample import verify_rank

DEMO_DIR = Path(__file__).resolve().parents[2] / "scripts" / "demo_text"
VARIANTS = ["ko", "en", "de", "fr", "es", "ru", "uk", "vi", "th", "ar"]
SETTINGS = {
    "vocab_size": 1500, "sample_chars": 30_000, "sample_fraction": 1.0, "sampling_alpha": 0.3, "verify_docs": 5,
    "compare_unbalanced": True,
}


def demo_docs() -> list[dict]:
    """One document per demo paragraph (title + text), ids independent of any shard; 3 Vietnamese docs in NFD."""
    docs = []
    for variant in VARIANTS:
        title = ""
        n = 0
        for line in (DEMO_DIR / f"{variant}.txt").read_text("utf-8").splitlines():
            if not line.strip() or line.startswith(("#", "[")):
                continue
            if line.startswith("= "):
                title = line[2:]
                continue
            text = f"{title}\n{line}" if title else line
            if variant == "vi" and n < 3:
                text = unicodedata.normalize("NFD", text)
            lang = normalize_label(variant)
            docs.append({"doc_id": f"{variant}/{n:04d}", "text": text, "lang": lang, "family": family_of(lang), "url": f"https://ex.test/{variant}/{n}"})
            title = ""
            n += 1
    return docs


DOCS = demo_docs()


def make_upstream(root: Path, n_shards: int, **tokenizer) -> object:
    """`root/out/dedup/S<k>.parquet` + records (documents dealt round-robin), and the config that reads them."""
    (root / "in").mkdir(parents=True, exist_ok=True)
    shards: dict[str, list[dict]] = defaultdict(list)
    for i, doc in enumerate(DOCS):
        shards[f"S{i % n_shards}"].append(doc)
    for name, docs in shards.items():
        (root / "in" / f"{name}.warc.gz").write_bytes(b"")
        out = root / "out" / "dedup" / f"{name}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(docs), out)
        stats = ShardStats()
        for d in docs:
            stats.seen(d["lang"], d["text"])
            stats.kept(d["lang"], d["text"])
        rec = root / "out" / "_state" / "dedup" / f"{name}.json"
        rec.parent.mkdir(parents=True, exist_ok=True)
        rec.write_text(json.dumps({"stage": "dedup", "shard_id": name, "stats": stats.to_dict()}))
    return config(root, **tokenizer)


def config(root: Path, **tokenizer):
    return parse_config(
        {
            "run": {"work_dir": str(root / "out"), "stages": ["extract", "langid", "dedup", "tokenizer"]},
            "extract": {"inputs": [str(root / "in" / "*.warc.gz")]},
            "tokenizer": {**SETTINGS, **tokenizer},
        }
    )


def sample_rows(root: Path) -> Counter:
    rows: Counter = Counter()
    for path in sorted((root / "out" / "tokenizer" / "sample").glob("*.parquet")):
        rows.update(tuple(r.values()) for r in pq.read_table(path).to_pylist())
    return rows


@pytest.fixture(scope="module")
def trained(ray_session, tmp_path_factory) -> tuple[Path, object, object]:
    """One full run of the stage (3 shards) shared by the read-only tests."""
    root = tmp_path_factory.mktemp("tok")
    cfg = make_upstream(root, 3)
    result = tok.run(cfg)
    assert result.ok and result.shards == 3 and result.docs_in == len(DOCS)
    return root, cfg, result


@pytest.mark.slow
def test_sample_is_family_balanced_seeded_and_independent_of_sharding(trained, tmp_path) -> None:
    root, cfg, _ = trained
    report = json.loads((root / "out" / "tokenizer" / "report.json").read_text())
    comp = report["composition"]
    assert set(comp) == {normalize_label(v) for v in VARIANTS}
    corpus = {lang: sum(len(d["text"]) for d in DOCS if d["lang"] == lang) for lang in comp}
    assert {lang: row["corpus_chars_estimate"] for lang, row in comp.items()} == corpus  # from the records
    assert {lang: row["corpus_chars"] for lang, row in comp.items()} == corpus  # read by the sample step
    quotas, unbalanced_quotas = tok.sample_quotas(cfg, corpus)
    for lang, row in comp.items():
        sizes = [len(d["text"]) for d in DOCS if d["lang"] == lang]
        for quota, drawn in ((quotas[lang], row["sample_chars"]), (unbalanced_quotas[lang], row["unbalanced_chars"])):
            p = min(1.0, quota / corpus[lang])
            sigma = math.sqrt(sum(n * n for n in sizes) * p * (1 - p))
            assert abs(drawn - quota) <= 4 * sigma + 0.03 * quota, (lang, quota, drawn, sigma)
    # Arabic is the whole semitic family and smaller than a family's share: drawn whole (newlines dropped)
    ara = [d for d in DOCS if d["lang"] == "ara_Arab"]
    assert quotas["ara_Arab"] == corpus["ara_Arab"]
    assert comp["ara_Arab"]["sample_docs"] == len(ara)
    assert comp["ara_Arab"]["sample_chars"] == sum(len(d["text"].replace("\n", "")) for d in ara)
    # family shares: the balanced sample is flatter than the corpus (alpha 0.3 over families)
    fam = report["families"]
    share = {k: {f: v[k] / sum(x[k] for x in fam.values()) for f, v in fam.items()} for k in ("corpus_chars", "sample_chars")}
    largest = max(fam, key=lambda f: fam[f]["corpus_chars"])
    assert share["sample_chars"][largest] < share["corpus_chars"][largest]
    assert share["sample_chars"]["semitic"] > 2 * share["corpus_chars"]["semitic"]
    spread = {k: max(v.values()) / min(v.values()) for k, v in share.items()}
    assert spread["sample_chars"] < 0.5 * spread["corpus_chars"]
    rows = sample_rows(root)
    assert all(unicodedata.is_normalized("NFC", line) and line.strip() for _, line, _, _ in rows)

    # the same documents dealt into 2 shards: the same lines drawn, flags and all
    other = tmp_path / "two"
    cfg2 = make_upstream(other, 2)
    assert run_stage(tok.TokenizerSample, cfg2).ok
    assert sample_rows(other) == rows
    # another seed draws another sample
    cfg3 = config(other, seed=7)
    assert run_stage(tok.TokenizerSample, cfg3).ok
    assert sample_rows(other) != rows


@pytest.mark.slow
def test_model_and_hugging_face_files_give_identical_ids(trained) -> None:
    from transformers import PreTrainedTokenizerFast

    root, cfg, _ = trained
    out = root / "out" / "tokenizer"
    for name in ("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert (out / name).is_file(), name
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    assert sp.get_piece_size() == SETTINGS["vocab_size"]
    hf = PreTrainedTokenizerFast.from_pretrained(str(out))
    texts = [d["text"] for d in DOCS[::3]] + ["<s> 2024년 <0x41> ｶﾞ e\u0301 \t tab", "   ", ""]
    for text in texts:
        assert hf.encode(text, add_special_tokens=False) == sp.encode(text), text
    report = json.loads((out / "report.json").read_text())
    idp = report["id_parity"]
    assert idp["identical"] and idp["documents"] == sum(min(5, n) for n in Counter(d["lang"] for d in DOCS).values())
    assert idp["documents_by_lang"] == {lang: min(5, n) for lang, n in Counter(d["lang"] for d in DOCS).items()}
    assert idp["parallel_sentences"] == 40 * len(VARIANTS)
    rec = json.loads(Path(global_record_path(cfg, "tokenizer", "train")).read_text())
    assert rec["stats"]["id_parity_identical"] and rec["stats"]["model_sha256"] == report["model_sha256"]
    assert rec["stats"]["by_lang"]["kor_Hang"]["sample_chars"] == report["composition"]["kor_Hang"]["sample_chars"]


@pytest.mark.slow
def test_parity_report_has_both_tokenizers(trained) -> None:
    root, _, _ = trained
    out = root / "out" / "tokenizer"
    report = json.loads((out / "report.json").read_text())
    langs = sorted(normalize_label(v) for v in VARIANTS)
    assert report["parity_languages"] == langs and report["parity_sentences"] == 40
    for name in ("balanced", "unbalanced"):
        table = report["parity"][name]
        assert sorted(table["by_lang"]) == langs
        tps = [row["tokens_per_sentence"] for row in table["by_lang"].values()]
        assert table["ratio"] == pytest.approx(max(tps) / min(tps), rel=1e-3)
        for lang, row in table["by_lang"].items():
            assert row["sentences"] == 40 and row["tokens"] > row["sentences"]
    # the unbalanced model is a different model, on disk beside the shared one
    unbalanced = spm.SentencePieceProcessor(model_file=str(out / "unbalanced" / "tokenizer.model"))
    text = (PARALLEL_DIR / "ko.txt").read_text("utf-8").splitlines()
    assert sum(map(len, unbalanced.encode(text))) == report["parity"]["unbalanced"]["by_lang"]["kor_Hang"]["tokens"]
    md = (out / "report.md").read_text()
    assert f"**{report['parity']['balanced']['ratio']:.3f}**" in md
    assert f"unbalanced tokenizer {report['parity']['unbalanced']['ratio']:.3f}" in md
    assert "| kor_Hang | korean |" in md and "Identical ids on" in md


@pytest.mark.slow
def test_rerun_skips_config_change_retrains_and_bytes_are_deterministic(ray_session, tmp_path) -> None:
    cfg = make_upstream(tmp_path / "a", 3, compare_unbalanced=False, parity_text=str(tmp_path / "par"))
    (tmp_path / "par").mkdir()
    (tmp_path / "par" / "kor.txt").write_text("안녕하세요.\n고맙습니다.\n", "utf-8")
    (tmp_path / "par" / "en.txt").write_text("Hello.\nThank you.\n", "utf-8")
    (tmp_path / "par" / "ja.txt").write_text("こんにちは。\nありがとう。\n", "utf-8")  # not in the corpus
    out = tmp_path / "a" / "out" / "tokenizer"
    assert tok.run(cfg).ok
    report = json.loads((out / "report.json").read_text())
    assert report["parity_languages"] == ["eng_Latn", "kor_Hang"] and "unbalanced" not in report["parity"]
    assert not (out / "unbalanced").exists()
    model = out / "tokenizer.model"
    first = model.read_bytes()
    mtime = model.stat().st_mtime_ns
    record = Path(global_record_path(cfg, "tokenizer", "train"))
    record_mtime = record.stat().st_mtime_ns

    again = tok.run(cfg)  # nothing changed: every shard and the training skipped
    assert again.skipped == again.shards == 3
    assert record.stat().st_mtime_ns == record_mtime and model.stat().st_mtime_ns == mtime

    forced = tok.run(cfg, force=True)  # retrained: same bytes, so the file is left alone
    assert forced.skipped == 0 and model.read_bytes() == first and model.stat().st_mtime_ns == mtime
    assert record.stat().st_mtime_ns != record_mtime

    # the same data in another work dir: the same model and tokenizer.json, byte for byte
    cfg_b = make_upstream(tmp_path / "b", 3, compare_unbalanced=False, parity_text=str(tmp_path / "par"))
    assert tok.run(cfg_b).ok
    out_b = tmp_path / "b" / "out" / "tokenizer"
    assert (out_b / "tokenizer.model").read_bytes() == first
    assert (out_b / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()

    # a training-only key retrains without redrawing the sample; a sampling key redraws it
    bigger = config(tmp_path / "a", vocab_size=1800, compare_unbalanced=False, parity_text=str(tmp_path / "par"))
    res = tok.run(bigger)
    assert res.skipped == 3 and model.read_bytes() != first
    assert spm.SentencePieceProcessor(model_file=str(model)).get_piece_size() == 1800
    resampled = config(tmp_path / "a", vocab_size=1800, sample_chars=20_000, compare_unbalanced=False,
                       parity_text=str(tmp_path / "par"))
    res = tok.run(resampled)
    assert res.skipped == 0 and res.ok
    assert json.loads((out / "report.json").read_text())["settings"]["sample_chars"] == 20_000


def test_id_mismatch_fails_loudly_and_publishes_nothing(tmp_path, monkeypatch) -> None:
    """In process (no Ray): an export that disagrees with the model stops the step before any file is written."""
    cfg = make_upstream(tmp_path, 2, verify_docs=3, compare_unbalanced=False)
    stage = tok.TokenizerSample(cfg)
    tasks = sorted(stage.plan(), key=lambda t: t.shard_id)
    for task in tasks:
        stage.process(task, lambda n: None)
    from pipeline.tokenizer.settings import TokenizerSettings
    from pipeline.tokenizer.train import train_sentencepiece

    other = train_sentencepiece([d["text"] for d in DOCS[::2]], TokenizerSettings(vocab_size=1500), tmp_path / "other")

    def export_other(model_path, out_dir):  # a tokenizer.json of another model: ids differ
        return export_hf(other, out_dir)

    monkeypatch.setattr("pipeline.tokenizer.export.export_hf", export_other)
    job = TrainJob(
        settings_json=tok.training_settings(cfg).model_dump_json(),
        sample_files=tuple(t.outputs["sample"] for t in tasks),
        verify_files=tuple(t.outputs["verify"] for t in tasks),
        verify_docs=3,
        parallel=read_parallel_text(PARALLEL_DIR),
        compare_unbalanced=False,
        out_dir=str(tmp_path / "out" / "tokenizer"),
    )
    with pytest.raises(IdMismatchError, match="differs from SentencePiece"):
        train_tokenizers(job)
    assert not any((tmp_path / "out" / "tokenizer").glob("tokenizer*"))


def _train_job(cfg, tasks, verify_docs: int, out: Path) -> TrainJob:
    return TrainJob(
        settings_json=tok.training_settings(cfg).model_dump_json(),
        sample_files=tuple(t.outputs["sample"] for t in tasks),
        verify_files=tuple(t.outputs["verify"] for t in tasks),
        verify_docs=verify_docs,
        parallel=read_parallel_text(PARALLEL_DIR),
        compare_unbalanced=False,
        out_dir=str(out),
    )


@pytest.mark.parametrize("planted_in", ["checked", "unchecked"])
def test_sampled_id_check_checks_the_documents_it_samples(tmp_path, monkeypatch, planted_in) -> None:
    """In process: a tokenizer.json that differs from the model on one string only. Planted in a document among the
    k checked per language, the step fails; planted in a document outside them, it passes — so the check covers
    exactly its sample (the k lowest verification ranks per language), and really compares ids."""
    from tokenizers import Tokenizer, normalizers

    planted = "\u2603\u2603"  # two snowmen: the faulty export spells them "x"
    docs = [dict(d) for d in DOCS]
    deu = [d for d in docs if d["lang"] == "deu_Latn"]
    ranks = verify_rank([d["doc_id"] for d in deu], 0).tolist()
    order = sorted(range(len(deu)), key=ranks.__getitem__)
    target = deu[order[0] if planted_in == "checked" else order[-1]]
    target["text"] += f" {planted}"
    monkeypatch.setattr(sys.modules[__name__], "DOCS", docs)
    cfg = make_upstream(tmp_path, 2, verify_docs=2, compare_unbalanced=False)
    stage = tok.TokenizerSample(cfg)
    tasks = sorted(stage.plan(), key=lambda t: t.shard_id)
    for task in tasks:
        stage.process(task, lambda n: None)

    def faulty_export(model_path, out_dir):
        out = export_hf(model_path, out_dir)
        hf = Tokenizer.from_file(str(out / "tokenizer.json"))
        hf.normalizer = normalizers.Sequence([normalizers.Replace(planted, "x"), hf.normalizer])
        hf.save(str(out / "tokenizer.json"))
        return out

    monkeypatch.setattr("pipeline.tokenizer.export.export_hf", faulty_export)
    job = _train_job(cfg, tasks, 2, tmp_path / "out" / "tokenizer")
    if planted_in == "checked":
        with pytest.raises(IdMismatchError, match="differs from SentencePiece"):
            train_tokenizers(job)
        assert not any((tmp_path / "out" / "tokenizer").glob("tokenizer*"))
    else:
        result = train_tokenizers(job)
        assert result["id_parity"]["identical"]
        assert result["id_parity"]["documents_by_lang"] == {lang: 2 for lang in {d["lang"] for d in docs}}


def test_sample_lines_are_nfc_and_verification_docs_raw(tmp_path) -> None:
    """In process: with every document drawn, the lines are the NFC documents' lines; verification keeps raw text."""
    cfg = make_upstream(tmp_path, 1, verify_docs=2)
    stage = tok.TokenizerSample(cfg)
    (task,) = stage.plan()
    every = {lang: 1.0 for lang in {d["lang"] for d in DOCS}}
    task = tok.ShardTask(task.shard_id, task.inputs, task.outputs, dict(task.params, p_balanced=every, p_unbalanced={}))
    stats = stage.process(task, lambda n: None).to_dict()
    table = pq.read_table(task.outputs["sample"]).to_pylist()
    expected = [line.strip() for d in DOCS for line in unicodedata.normalize("NFC", d["text"]).splitlines()]
    assert [r["line"] for r in table] == expected and all(r["balanced"] and not r["unbalanced"] for r in table)
    vi = stats["by_lang"]["vie_Latn"]
    assert vi["docs_out"] == vi["docs_in"] and vi["chars_out"] < vi["chars_in"]  # three NFD documents composed
    verify = pq.read_table(task.outputs["verify"]).to_pylist()
    assert Counter(r["lang"] for r in verify) == {lang: 2 for lang in every}
    raw = {d["doc_id"]: d["text"] for d in DOCS}
    assert all(r["text"] == raw[r["doc_id"]] for r in verify)




def test_missing_upstream_names_the_stage_to_run(tmp_path) -> None:
    cfg = make_upstream(tmp_path, 2)
    (tmp_path / "out" / "_state" / "dedup" / "S1.json").unlink()
    with pytest.raises(FileNotFoundError, match="run `polyglot dedup` first"):
        tok.corpus_estimate(cfg)


def test_quotas_take_the_sample_fraction_of_the_corpus(tmp_path) -> None:
    """The balanced and unbalanced quotas total sample_fraction of the corpus when sample_chars is larger, and the
    balanced one is then flatter than the corpus (a sample of the whole corpus would be the corpus itself)."""
    corpus = Counter()
    for d in DOCS:
        corpus[d["lang"]] += len(d["text"])
    total = sum(corpus.values())
    cfg = config(tmp_path, sample_chars=10**9, sample_fraction=0.25)
    balanced, unbalanced = tok.sample_quotas(cfg, dict(corpus))
    assert abs(sum(balanced.values()) - total // 4) <= len(corpus)  # each quota is floored
    assert sum(unbalanced.values()) == pytest.approx(sum(balanced.values()), abs=len(corpus))
    share = {lang: (balanced[lang] / sum(balanced.values()), corpus[lang] / total) for lang in ("kor_Hang", "ara_Arab")}
    assert share["kor_Hang"][0] < share["kor_Hang"][1] and share["ara_Arab"][0] > 2 * share["ara_Arab"][1]
    whole, _ = tok.sample_quotas(config(tmp_path, sample_chars=10**9, sample_fraction=1.0), dict(corpus))
    assert whole == dict(corpus)



@pytest.mark.slow
def test_a_vocabulary_the_sample_cannot_fill_is_one_clear_error(ray_session, tmp_path) -> None:
    """Through the CLI as a user runs it: one readable line naming the key and SentencePiece's limit, no traceback."""
    import yaml
    from typer.testing import CliRunner

    from pipeline.cli import app

    cfg = make_upstream(tmp_path, 1, vocab_size=64000, compare_unbalanced=False)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True)))
    res = CliRunner().invoke(app, ["tokenizer", "--config", str(path)])
    assert res.exit_code == 1
    # Ray's log monitor may print here the death of a worker that an earlier test killed: not this command's output.
    output = "\n".join(line for line in res.output.splitlines() if "(raylet)" not in line)
    err = [line for line in output.splitlines() if "vocab_size" in line]
    assert len(err) == 1 and err[0].startswith("tokenizer: train: tokenizer.vocab_size 64,000 is more than")
    assert "at most" in err[0] and "Traceback" not in output and "\x1b[" not in output
    assert "tokenizer: tokenizer:" not in output
    assert not (tmp_path / "out" / "tokenizer" / "tokenizer.model").exists()
