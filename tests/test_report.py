"""`polyglot stats`: completion records summed per stage and language; tables and JSON from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import parse_config
from pipeline.report import collect
from pipeline.runtime import run_shard
from pipeline.stages.base import ShardStats
from tests.toystage import ToyStage


def _run_toy(tmp: Path) -> str:
    (tmp / "in").mkdir()
    for s in range(2):
        rows = [{"text": "a text that is long enough to keep"}] * 6 + [{"text": "x"}] * 4
        (tmp / "in" / f"s{s}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    cfg = parse_config({"run": {"work_dir": str(tmp / "out")}, "extract": {"inputs": [str(tmp / "in" / "*.jsonl")]}})
    stage = ToyStage(cfg)
    stage.setup()
    for task in stage.plan():
        assert run_shard(stage, task, {"stage": "toy"})["ok"]
    return cfg.run.work_dir


def test_collect_sums_records(tmp_path: Path) -> None:
    rep = collect(_run_toy(tmp_path))
    toy = rep["stages"]["toy"]
    assert toy["shards"] == 2 and toy["docs_in"] == 20 and toy["docs_out"] == 12
    assert toy["removed"] == {"too_short": {"und": 8}}
    assert toy["by_lang"]["und"]["chars_out"] == 12 * len("a text that is long enough to keep")


def test_cli_stats_json_and_tables(tmp_path: Path) -> None:
    work = _run_toy(tmp_path)
    res = CliRunner().invoke(app, ["stats", work, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["stages"]["toy"]["docs_out"] == 12
    res = CliRunner().invoke(app, ["stats", work])
    assert res.exit_code == 0 and "too_short" in res.stdout and "toy" in res.stdout


def test_stats_on_empty_dir_says_so(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["stats", str(tmp_path)])
    assert res.exit_code == 0 and "no completed shards" in res.stdout


def test_shard_stats_counts_bytes_of_payload() -> None:
    st = ShardStats()
    st.seen("kor_Hang", "한국어", nbytes=100)
    st.kept("kor_Hang", "한국어")
    d = st.to_dict()["by_lang"]["kor_Hang"]
    assert (d["bytes_in"], d["bytes_out"], d["chars_out"]) == (100, 9, 3)


def test_grouped_counters_are_split_per_language() -> None:
    from pipeline.report import split_counters

    flat, grouped = split_counters({"files": 3, "pii/email/kor_Hang": 2, "pii/phone/kor_Hang": 1, "pii/email/eng_Latn": 4})
    assert flat == {"files": 3}
    assert grouped == {"pii": {"kor_Hang": {"email": 2, "phone": 1}, "eng_Latn": {"email": 4}}}


# ------------------------------------------------------------------------------------------------------------------
# The full report: languages, families, shares, tokenizer, balance, shards (synthetic records, no Ray), and HTML.

import io
import math

import pyarrow as pa
from rich.console import Console

from pipeline.report import abbreviate, render
from pipeline.report_html import axis_ticks, bar_chart, render_html, sample_documents, write_html
from pipeline.storage import write_json, write_parquet

HOSTILE = 'Click <script>alert(1)</script> "quoted" & \'single\' <img src=x onerror=alert(2)>'


def _lang(docs_in: int, docs_out: int, chars_in: int, chars_out: int) -> dict[str, int]:
    return {"docs_in": docs_in, "docs_out": docs_out, "chars_in": chars_in, "chars_out": chars_out,
            "bytes_in": 2 * chars_in, "bytes_out": 2 * chars_out}  # fmt: skip


def _record(work: Path, stage: str, shard: str, by_lang: dict, removed: dict | None = None,
            counters: dict | None = None) -> None:  # fmt: skip
    write_json(str(work / "_state" / stage / f"{shard}.json"),
               {"stage": stage, "shard_id": shard, "stats": {"by_lang": by_lang, "removed": removed or {},
                                                             "counters": counters or {}, "meta": {}}})  # fmt: skip


def _synthetic(work: Path, *, balance: bool = True) -> Path:
    """Two shards through langid and dedup; balance over kor_Hang (korean), eng_Latn (put in a family 'western' by
    the plan, not the default 'germanic'); rus_Cyrl is known to dedup only (family from the default table)."""
    for shard, k in (("s0", 1), ("s1", 2)):
        _record(work, "langid", shard,
                {"kor_Hang": _lang(10 * k, 9 * k, 1000 * k, 900 * k), "eng_Latn": _lang(5 * k, 5 * k, 800 * k, 800 * k),
                 "rus_Cyrl": _lang(2, 2, 100, 100)},
                removed={"low_score": {"kor_Hang": k}})  # fmt: skip
        _record(work, "dedup", shard,
                {"kor_Hang": _lang(9 * k, 6 * k, 900 * k, 600 * k), "eng_Latn": _lang(5 * k, 4 * k, 800 * k, 640 * k),
                 "rus_Cyrl": _lang(2, 1, 100, 50)},
                removed={"near-duplicate": {"kor_Hang": 3 * k, "eng_Latn": k, "rus_Cyrl": 1}},
                counters={"band_keys": 10})  # fmt: skip
        if balance:
            _record(work, "balance", shard,
                    {"kor_Hang": _lang(6 * k, 4 * k, 600 * k, 400 * k),
                     "eng_Latn": _lang(4 * k, 4 * k, 640 * k, 640 * k)},
                    removed={"downsampled": {"kor_Hang": 2 * k}},
                    counters={"tokens/available/kor_Hang": 500 * k, "tokens/chosen/kor_Hang": 300 * k,
                              "copies/chosen/kor_Hang": 4 * k, "tokens/available/eng_Latn": 200 * k,
                              "tokens/chosen/eng_Latn": 300 * k, "copies/chosen/eng_Latn": 6 * k})  # fmt: skip
    if balance:
        write_json(str(work / "balance" / "plan.json"), {
            "plan": {
                "requested_total": None, "target_total": 1800,
                "languages": {"kor_Hang": {"family": "korean", "available": 1500, "target": 900},
                              "eng_Latn": {"family": "western", "available": 600, "target": 900}},
                "families": {"korean": {"family": "korean", "share": 0.5, "requested": 900.0, "available": 1500,
                                        "capacity": 6000.0, "target": 900, "strategy": "temperature", "alpha": 0.3,
                                        "max_repeats": 4.0, "languages": ["kor_Hang"]},
                             "western": {"family": "western", "share": 0.5, "requested": 900.0, "available": 600,
                                         "capacity": 2400.0, "target": 900, "strategy": "temperature", "alpha": 0.3,
                                         "max_repeats": 4.0, "languages": ["eng_Latn"]}},
                "excluded": {"rus_Cyrl": 75},
                "warnings": ["family 'western': budget <unreachable> & \"quoted\""],
                "notes": ["left out (no family): rus_Cyrl — 75 tokens"],
            },
            "achieved": {"kor_Hang": 900, "eng_Latn": 900}, "achieved_total": 1800, "seed": 0,
        })  # fmt: skip
    return work


def test_collect_languages_families_and_shares(tmp_path: Path) -> None:
    rep = collect(str(_synthetic(tmp_path)))
    json.dumps(rep, allow_nan=False)
    assert rep["stages"]["dedup"]["removed"]["near-duplicate"] == {"eng_Latn": 3, "kor_Hang": 9, "rus_Cyrl": 2}
    kor, eng, rus = (rep["languages"][k] for k in ("kor_Hang", "eng_Latn", "rus_Cyrl"))
    # documents and characters after each stage: the two shards summed
    assert kor["docs"] == {"langid": 27, "dedup": 18, "balance": 12} and kor["chars"]["dedup"] == 1800
    assert (kor["docs_before"], kor["chars_before"], kor["bytes_before"]) == (18, 1800, 3600)
    # exact tokens from the balance records; chars per token on the text balance counted
    assert (kor["tokens_available"], kor["tokens_chosen"], kor["copies_chosen"]) == (1500, 900, 12)
    assert kor["chars_per_token"] == round(1800 / 1500, 4) and kor["repeats"] == 0.6
    assert (eng["tokens_available"], eng["tokens_chosen"], eng["repeats"]) == (600, 900, 1.5)
    # shares: before of the tokens available (1500 + 600), after of the tokens chosen (900 + 900)
    assert rep["share_basis"] == {"before": "tokens", "after": "tokens"}
    assert math.isclose(kor["share_before"], 100 * 1500 / 2100, abs_tol=1e-3)
    assert math.isclose(eng["share_after"], 50.0) and math.isclose(kor["share_after"], 50.0)
    assert rus["tokens_available"] is None and rus["share_before"] == 0.0 and rus["excluded"]
    # families: the plan's assignment wins over the default table; a language the plan left out gets the default
    assert (kor["family"], eng["family"], rus["family"]) == ("korean", "western", "slavic")
    fams = rep["families"]
    assert set(fams) == {"korean", "western", "slavic"}
    assert fams["western"]["tokens_available"] == 600 and fams["western"]["docs"]["dedup"] == 12
    assert fams["slavic"]["removed"] == {"dedup": {"near-duplicate": 2}}
    assert math.isclose(sum(f["share_before"] for f in fams.values()), 100.0)
    assert fams["korean"]["plan"]["strategy"] == "temperature"
    # removals per language and stage, the funnel, the plan's warnings
    assert kor["removed"] == {"langid": {"low_score": 3}, "dedup": {"near-duplicate": 9}, "balance": {"downsampled": 6}}
    assert [f["stage"] for f in rep["funnel"]] == ["langid", "dedup", "balance"]
    assert rep["funnel"][2]["tokens_out"] == 1800 and rep["funnel"][1]["removed"] == {"near-duplicate": 14}
    assert rep["balance"]["achieved_total"] == 1800 and len(rep["balance"]["warnings"]) == 1
    assert rep["tokenizer"] is None and rep["shards"] is None


def test_collect_before_balance_shares_characters(tmp_path: Path) -> None:
    rep = collect(str(_synthetic(tmp_path, balance=False)))
    assert rep["share_basis"] == {"before": "chars", "after": None}
    kor = rep["languages"]["kor_Hang"]
    assert kor["family"] == "korean" and rep["family_source"] == "default table"
    assert math.isclose(kor["share_before"], 100 * 1800 / (1800 + 1920 + 100), abs_tol=1e-3)
    assert kor["tokens_available"] is None and kor["share_after"] is None
    assert rep["balance"] is None


def test_balance_records_disagreeing_with_plan_warn(tmp_path: Path) -> None:
    work = _synthetic(tmp_path)
    _record(work, "balance", "s2", {"kor_Hang": _lang(1, 1, 10, 10)}, counters={"tokens/chosen/kor_Hang": 5})
    assert any("differ" in w for w in collect(str(work))["balance"]["warnings"])


def _print(rep: dict, width: int = 100) -> str:
    buf = io.StringIO()
    render(rep, Console(file=buf, width=width, color_system=None))
    return buf.getvalue()


def test_render_full_partial_and_empty(tmp_path: Path) -> None:
    out = _print(collect(str(_synthetic(tmp_path / "full"))))
    for needle in ("Pipeline funnel", "kor_Hang", "western", "near-duplicate", "share", "balance warning",
                   "<unreachable>", "Size per family"):  # fmt: skip
        assert needle in out, needle
    assert max(len(line) for line in out.splitlines()) <= 100
    partial = tmp_path / "partial"
    _record(partial, "langid", "s0", {"kor_Hang": _lang(3, 2, 30, 20)}, removed={"low_score": {"kor_Hang": 1}})
    out = _print(collect(str(partial)))
    assert "low_score" in out and "kor_Hang" in out and "balance warning" not in out
    (tmp_path / "empty").mkdir()
    for empty in (tmp_path / "empty", tmp_path / "missing"):
        assert "no completed shards" in _print(collect(str(empty)))


def _tokenizer_report(work: Path, nan_ratio: bool = False) -> None:
    by = {"kor_Hang": {"chars_per_token": 1.1, "tokens_per_sentence": 20.0},
          "eng_Latn": {"chars_per_token": 2.0, "tokens_per_sentence": 22.0}}  # fmt: skip
    write_json(str(work / "tokenizer" / "report.json"), {
        "settings": {"model_type": "unigram", "vocab_size": 4000, "sample_chars": 10_000, "sampling_alpha": 0.3},
        "composition": {"kor_Hang": {"family": "korean", "sample_chars": 700, "unbalanced_chars": 900},
                        "eng_Latn": {"family": "western", "sample_chars": 300, "unbalanced_chars": 100}},
        "parity": {"balanced": {"ratio": float("nan") if nan_ratio else 1.1, "by_lang": by},
                   "unbalanced": {"ratio": 1.3, "by_lang": {"kor_Hang": {"chars_per_token": 0.9,
                                                                         "tokens_per_sentence": 26.0}}}},
        "target": {"max_ratio": 1.5, "met": True},
        "id_parity": {"identical": True, "documents": 12},
    })  # fmt: skip


def test_tokenizer_section_from_report_json(tmp_path: Path) -> None:
    work = _synthetic(tmp_path)
    _tokenizer_report(work, nan_ratio=True)
    rep = collect(str(work))
    json.dumps(rep, allow_nan=False)  # the NaN ratio became None
    tok = rep["tokenizer"]
    assert tok["ratio"] == {"balanced": None, "unbalanced": 1.3}
    assert tok["by_lang"]["kor_Hang"]["chars_per_token"] == {"balanced": 1.1, "unbalanced": 0.9}
    assert tok["by_lang"]["eng_Latn"]["chars_per_token"] == {"balanced": 2.0, "unbalanced": None}
    assert "chars/token" in _print(rep, width=120)


def _write_docs(path: Path, rows: list[tuple[str, str, str]]) -> None:
    write_parquet(pa.table({"doc_id": [r[0] for r in rows], "lang": [r[1] for r in rows],
                            "text": [r[2] for r in rows], "url": [f"https://example.com/{r[0]}" for r in rows]}),
                  str(path))  # fmt: skip


def test_write_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    work = _synthetic(tmp_path / "work")
    _tokenizer_report(work)
    _write_docs(work / "dedup" / "s0.parquet",
                [("s0/1", "kor_Hang", HOSTILE), ("s0/2", "kor_Hang", "가" * 2000), ("s0/3", "eng_Latn", "plain")])
    write_json(str(work / "shards" / "manifest.json"), {
        "num_shards": 1, "rows": 3, "tokens": 1800, "tokens_by_lang": {"kor_Hang": 900, "eng_Latn": 900},
        "shards": [{"name": "shard-00000.arrow", "rows": 3, "tokens": 1800, "bytes": 100}],
        "tokenizer": {"vocab_size": 4000, "ids_dtype": "uint16"},
    })  # fmt: skip
    rep = collect(str(work))
    rep["work_dir"] = '/tmp/<b>"work"</b>'
    out = tmp_path / "site" / "report.html"
    write_html(str(work), rep, out)
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]
    page = out.read_text("utf-8")
    assert page.count("<svg") == 4  # funnel, tokens per language, family shares, chars per token
    assert "<script" not in page and "<img" not in page and '<b>"work"' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;quoted&quot;" in page and "&#x27;single&#x27;" in page
    assert "&lt;unreachable&gt;" in page  # plan warnings too
    tags = _tags(page)
    assert {t for t, _ in tags} <= {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p",
                                    "div", "span", "b", "table", "caption", "thead", "tbody", "tr", "th", "td", "svg",
                                    "text", "rect", "line", "pre"}  # fmt: skip
    attrs = [(name, value or "") for _, a in tags for name, value in a]
    assert not [a for a in attrs if a[0] in ("src", "href", "xlink:href", "action") or "http" in a[1]]
    assert "가" * 600 in page and "가" * 601 not in page  # samples cut to 600 characters
    assert "shard-00000.arrow" in page and "western" in page


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of a page with its attributes, as a browser's tokenizer sees them."""
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collect().feed(page)
    return found


def test_samples_are_deterministic_per_language_and_skip_repeats(tmp_path: Path) -> None:
    rows = [(f"s/{i}", "kor_Hang" if i % 3 else "eng_Latn", f"text {i}") for i in range(30)]
    _write_docs(tmp_path / "dedup" / "a.parquet", rows[:15])
    _write_docs(tmp_path / "dedup" / "b.parquet", rows[15:])
    stage, samples = sample_documents(str(tmp_path), per_lang=3)
    assert stage == "dedup" and set(samples) == {"kor_Hang", "eng_Latn"}
    import xxhash

    for lang, docs in samples.items():
        ids = sorted((r[0] for r in rows if r[1] == lang), key=lambda d: xxhash.xxh3_64_intdigest(d.encode()))
        assert [d["doc_id"] for d in docs] == ids[:3]
    # training shards (Arrow IPC stream, repeats as rows) win over Parquet; copies count once
    (tmp_path / "shards").mkdir()
    table = pa.table({"doc_id": ["x", "x", "y"], "text": ["X", "X", "Y"], "lang": ["kor_Hang"] * 3,
                      "repeat": pa.array([0, 1, 0], pa.int32())})  # fmt: skip
    with pa.OSFile(str(tmp_path / "shards" / "shard-00000.arrow"), "wb") as f, pa.ipc.new_stream(f, table.schema) as w:
        w.write_table(table)
    stage, samples = sample_documents(str(tmp_path), per_lang=3)
    assert stage == "shards" and sorted(d["doc_id"] for d in samples["kor_Hang"]) == ["x", "y"]
    # shards written without text: the next stage with text is used
    notext = table.drop_columns(["text"])
    with pa.OSFile(str(tmp_path / "shards" / "shard-00000.arrow"), "wb") as f, pa.ipc.new_stream(f, notext.schema) as w:
        w.write_table(notext)
    assert sample_documents(str(tmp_path))[0] == "dedup"


def test_html_of_an_empty_work_dir(tmp_path: Path) -> None:
    page = render_html(collect(str(tmp_path)))
    assert "No completed shards" in page and "<svg" not in page


def test_chart_axis_and_number_formats() -> None:
    assert axis_ticks(2.03) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert axis_ticks(21186) == [0, 5000, 10000, 15000, 20000, 25000]
    assert axis_ticks(0) == [0.0, 1.0]
    svg = bar_chart("t <x>", ["a&b"], [("s", "#000", [None])])
    assert "&lt;x&gt;" in svg and "a&amp;b" in svg and "<rect x=\"118\"" not in svg.split("</text>", 3)[-1]
    assert [abbreviate(n) for n in (None, 999, 99_999, 123_456, 1_234_567, 2.5e9)] == [
        "-", "999", "99,999", "123k", "1.23M", "2.5B"]


def test_cli_stats_html(tmp_path: Path) -> None:
    work = _run_toy(tmp_path)
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["stats", work, "--html", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text("utf-8")
    assert "too_short" in page and "<svg" in page


def test_stage_summary_lines() -> None:
    """The one-line summaries the corpus-wide steps print, rendered from what their records keep."""
    from pipeline.report import (
        balance_plan_line,
        dedup_clusters_line,
        megatron_line,
        shards_manifest_line,
        tokenizer_summary_line,
    )

    clusters = {"documents": 1200, "clusters": 1000, "removed_exact": 150, "removed_near": 50, "seconds": 1.25,
                "candidate_edges": 300, "verified_edges": 210, "components": "driver"}  # fmt: skip
    assert dedup_clusters_line(clusters) == (
        "dedup clusters: 1,200 docs -> 1,000 kept (150 exact, 50 near duplicates; 300 candidate / 210 verified "
        "edges; components on the driver) | 1.2 s"
    )
    distributed = dict(clusters, components="distributed", rounds=3, max_task_peak_mb=812.4)
    assert "components distributed: 3 rounds, peak 812 MB per task" in dedup_clusters_line(distributed)
    plan = {"languages": 3, "families": 2, "available_tokens": 5000, "achieved_tokens": 4000, "target_tokens": 4100,
            "warnings": 1, "seconds": 0.04}  # fmt: skip
    assert balance_plan_line(plan) == (
        "balance plan: 3 languages in 2 families | 5,000 tokens available -> 4,000 chosen (target 4,100) | "
        "1 warnings | 0.0 s"
    )
    assert megatron_line({"documents": 10, "tokens": 1234, "dtype": "uint16", "prefix": "megatron/c"}) == (
        "shards megatron: 10 documents, 1,234 uint16 tokens -> megatron/c.bin/.idx"
    )
    manifest = {"num_shards": 2, "rows": 30, "tokens": 900, "lang_weights": {"a": 0.25, "b": 0.75}}
    assert shards_manifest_line(manifest, "out/m.json") == (
        "shards manifest: 2 shards, 30 rows, 900 tokens (b 75.0%, a 25.0%) -> out/m.json"
    )
    report = {"composition": {"a": {"sample_chars": 1000}, "b": {"sample_chars": 500}},
              "parity": {"balanced": {"ratio": 1.4}, "unbalanced": {"ratio": 1.8}},
              "settings": {"model_type": "bpe", "vocab_size": 12000}, "id_parity": {"documents": 7}}  # fmt: skip
    assert tokenizer_summary_line(report, 3.0, skipped=True) == (
        "tokenizer (unchanged, skipped): 2 languages | sample 1,500 chars | bpe 12,000 | parity 1.40 (unbalanced 1.80) "
        "| ids identical on 7 docs | 3.0 s"
    )


def test_remove_tree_removes_a_folder_and_is_fine_when_gone(tmp_path) -> None:
    from pipeline.storage import remove_tree

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.txt").write_text("x")
    remove_tree(str(tmp_path / "a"))
    assert not (tmp_path / "a").exists()
    remove_tree(str(tmp_path / "a"))  # already gone
