"""`polyglot calibrate`: thresholds at the reference's quantiles, the tail respected, every input format, the YAML
loading back as filter.quality.by_lang (directly and through filter.quality_thresholds), the CLI, precise errors.

Reference corpora are the project's own prose (scripts/demo_text, as in test_quality.py); exact quantiles are tested
with a user rule that reads a value planted in each document (§12.5§), so the distribution is known exactly."""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import ConfigError, PipelineConfig, load_config, parse_config
from pipeline.filter.calibrate import (
    CalibrateSettings,
    CalibrationError,
    _round_out,
    calibrate_thresholds,
    measure_reference,
    quantile_threshold,
    read_reference,
    report_path,
    run_calibration,
)
from pipeline.filter.quality import QualityFilter
from pipeline.filter.settings import QualitySettings
from pipeline.filter.view import DocView

from .test_quality import prose_docs

_PLANTED = re.compile(r"§(-?[0-9.]+)§")


def planted(view: DocView) -> float | None:
    """The value planted in the document (a user rule: the tests choose its distribution exactly)."""
    m = _PLANTED.search(view.text)
    return float(m.group(1)) if m else None


#: Only the user rules: the planted-value tests measure nothing else (and stay fast).
ONLY_CUSTOM = {fam: {"enabled": False} for fam in ("badwords", "page", "gopher_repetition", "gopher_quality", "c4",
                                                    "fineweb")}  # fmt: skip
PLANTED_RULES = [
    {"rule": "tests.filter.test_calibrate:planted", "name": "high", "max": 1000},
    {"rule": "tests.filter.test_calibrate:planted", "name": "low", "min": -1000},
    {"rule": "tests.filter.test_calibrate:planted", "name": "other", "max": 1000},
]


def planted_docs(values: list[float], lang: str = "en") -> list[str]:
    """One prose document per value, the value planted at the start of every paragraph."""
    docs = prose_docs(lang, n=len(values), size=300)
    return ["\n\n".join(f"§{v}§ {p}" for p in d.split("\n\n")) for d, v in zip(docs, values, strict=True)]


def settings(tmp: Path, **kw: Any) -> CalibrateSettings:
    return CalibrateSettings.model_validate({"inputs": [str(tmp / "ref.parquet")], "min_docs": 10, **kw})


def write_parquet(tmp: Path, rows: list[dict], name: str = "ref.parquet") -> Path:
    p = tmp / name
    pq.write_table(pa.Table.from_pylist(rows), p)
    return p


def calibrate_rows(tmp: Path, rows: list[dict], quality: dict | None = None, **kw: Any):
    write_parquet(tmp, rows)
    s = settings(tmp, **kw)
    q = QualitySettings.model_validate(quality or {})
    ref = read_reference(s)
    return calibrate_thresholds(measure_reference(ref, q), q, s, reference=ref), q, ref


def rule_row(cal, lang: str, reason: str) -> dict:
    return next(r for r in cal.report["languages"][lang]["rules"] if r["rule"] == reason)


# --- the quantile -------------------------------------------------------------------------------------------------


def test_thresholds_are_the_tail_quantiles_in_both_directions(tmp_path: Path) -> None:
    values = list(range(1, 101))
    random.Random(1).shuffle(values)
    rows = [{"text": d, "lang": "en"} for d in planted_docs(values)]
    quality = {**ONLY_CUSTOM, "custom_rules": PLANTED_RULES}
    cal, _, _ = calibrate_rows(tmp_path, rows, quality, tails={"custom:high": 0.1, "custom:low": 0.2})
    th = cal.by_lang["eng_Latn"]["custom"]["thresholds"]
    # max rule: the (1 - 0.1) quantile, 10 documents above it; min rule: the 0.2 quantile, 20 documents below it;
    # a rule without its own tail: the default (0.05).
    assert th == {"high": 90, "low": 21, "other": 95}
    high, low = rule_row(cal, "eng_Latn", "custom:high"), rule_row(cal, "eng_Latn", "custom:low")
    other = rule_row(cal, "eng_Latn", "custom:other")
    assert (high["fail_new"], low["fail_new"], other["fail_new"]) == (0.1, 0.2, 0.05)
    assert high["old"] == 1000 and high["fail_old"] == 0 and low["old"] == -1000 and low["fail_old"] == 0
    assert high["tail"] == 0.1 and low["tail"] == 0.2 and high["measured"] == 100


def test_quantile_is_the_tightest_observed_value_within_the_tail() -> None:
    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(1, 60))
        values = rng.choice(rng.random(int(rng.integers(1, 20))), size=n)  # many ties
        documents = n + int(rng.integers(0, 5))  # some documents the rule does not apply to
        tail = float(rng.choice([0.01, 0.05, 0.1, 0.15, 0.33, 0.5]))
        for op in ("max", "min"):
            t, degenerate = quantile_threshold(values, documents, op, tail)
            fails = (values > t) if op == "max" else (values < t)
            assert fails.sum() <= documents * tail + 1e-9, (trial, op)
            stricter = values[values < t] if op == "max" else values[values > t]
            for s in stricter:  # any observed value that is stricter fails more than the tail
                more = (values > s) if op == "max" else (values < s)
                assert more.sum() > documents * tail + 1e-9, (trial, op, s)
            assert degenerate == (t == (values.min() if op == "max" else values.max()))


def test_rounding_goes_away_from_failing() -> None:
    assert _round_out(0.123456, "max", False) == 0.124
    assert _round_out(0.123456, "min", False) == 0.123
    assert _round_out(0.15, "max", False) == 0.15  # exact values stay
    assert _round_out(1234.5, "max", False) == 1240 and _round_out(1234.5, "min", False) == 1230
    assert _round_out(7.2, "max", True) == 8 and _round_out(7.8, "min", True) == 7
    assert _round_out(0.0, "max", False) == 0.0


def test_the_tail_is_respected_after_rounding(tmp_path: Path) -> None:
    values = [round(0.1 + i * 0.000123456, 9) for i in range(200)]
    rows = [{"text": d, "lang": "en"} for d in planted_docs(values)]
    cal, _, _ = calibrate_rows(tmp_path, rows, {**ONLY_CUSTOM, "custom_rules": PLANTED_RULES}, default_tail=0.03)
    for reason in ("custom:high", "custom:low"):
        row = rule_row(cal, "eng_Latn", reason)
        v = np.array(values)
        new = row["new"]
        assert new != row["quantile"]  # rounded to 3 significant digits ...
        assert ((v > new) if row["op"] == "max" else (v < new)).sum() <= 0.03 * 200  # ... and still within the tail
        assert (new >= row["quantile"]) if row["op"] == "max" else (new <= row["quantile"])


# --- real rules on real prose -------------------------------------------------------------------------------------

LANGS = ("en", "ko", "zh-Hans")


@pytest.fixture(scope="module")
def prose_calibration(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("prose")
    rows = [{"text": d, "lang": lang} for lang in LANGS for d in prose_docs(lang, n=40, size=1200)]
    rows += [{"text": d, "lang": "ja"} for d in prose_docs("ja", n=5)]  # too few: skipped
    return calibrate_rows(tmp, rows, min_docs=20, default_tail=0.1)


def test_prose_calibration_loads_as_by_lang_and_makes_the_predicted_decisions(prose_calibration) -> None:
    cal, quality, ref = prose_calibration
    assert set(cal.by_lang) == {"eng_Latn", "kor_Hang", "zho_Hans"}
    loaded = yaml.safe_load(cal.yaml_text())
    assert loaded == cal.by_lang
    calibrated = QualityFilter(QualitySettings(by_lang=loaded))
    default = QualityFilter(quality)
    for lang, texts in ref.docs.items():
        if lang not in cal.by_lang:
            continue
        v = cal.report["languages"][lang]
        removed = [calibrated.check(t, lang) for t in texts]
        assert sum(r is not None for r in removed) == round(v["removed_after"] * len(texts)), lang
        assert sum(default.check(t, lang) is not None for t in texts) == round(v["removed_before"] * len(texts))
        assert v["removed_after"] > v["removed_before"]  # clean prose: the calibrated rules are stricter
        for row in v["rules"]:
            if row["status"] == "calibrated":  # every emitted threshold keeps the rule within its tail
                assert row["fail_new"] <= row["tail"], (lang, row)


def test_min_and_max_rules_move_the_right_way_on_clean_prose(prose_calibration) -> None:
    cal, _, _ = prose_calibration
    en = cal.by_lang["eng_Latn"]
    # Prose has many distinct stop words and lines that end sentences: min thresholds go up ...
    assert en["gopher_quality"]["min_stop_words"] > 2 and isinstance(en["gopher_quality"]["min_stop_words"], int)
    assert en["fineweb"]["min_line_punct_frac"] > 0.12
    # ... and little repetition and few line breaks: max thresholds go down.
    assert en["gopher_repetition"]["max_top_ngram_char_frac"][2] < 0.2
    assert en["fineweb"]["max_newlines_per_word"] < 0.3
    lo, hi = en["gopher_quality"]["min_mean_word_length"], en["gopher_quality"]["max_mean_word_length"]
    assert 3 <= lo < hi <= 10


def test_ngram_tables_are_written_whole_in_the_scripts_sizes(prose_calibration) -> None:
    cal, quality, _ = prose_calibration
    zh = cal.by_lang["zho_Hans"]["gopher_repetition"]
    assert set(zh["max_top_ngram_char_frac"]) == {3, 5, 6}  # Han sizes, in characters
    assert set(zh["max_dup_ngram_char_frac"]) == {8, 9, 11, 12, 14, 15}
    in_force = quality.rules_for("zho_Hans", "Hans").gopher_repetition.max_dup_ngram_char_frac
    rows = {r["setting"]: r for r in cal.report["languages"]["zho_Hans"]["rules"]}
    for n, value in zh["max_dup_ngram_char_frac"].items():
        row = rows[f"gopher_repetition.max_dup_ngram_char_frac.{n}"]
        assert value == (row["new"] if row["status"] == "calibrated" else in_force[n])  # the rest: as in force
    ko = cal.by_lang["kor_Hang"]["gopher_repetition"]["max_top_ngram_char_frac"]
    assert set(ko) == {2, 3, 4}  # Korean n-grams stay in words


def test_skipped_languages_and_rules(prose_calibration, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    cal, _, _ = prose_calibration
    assert cal.report["skipped_languages"] == {"jpn_Jpan": 5}
    assert "jpn_Jpan" not in cal.by_lang and "jpn_Jpan 5" in cal.yaml_text()
    zh = {r["rule"]: r for r in cal.report["languages"]["zho_Hans"]["rules"]}
    assert zh["gopher_quality:mean_word_length_low"]["status"] == "off"  # not checked in Han: never switched on
    assert zh["page:error_page"]["measured"] == 0 and zh["page:error_page"]["status"] == "few_measurements"
    assert "min_mean_word_length" not in cal.by_lang["zho_Hans"].get("gopher_quality", {})
    assert "max_status_phrases" not in json.dumps(cal.by_lang)
    # no tail: clean prose repeats no paragraph, so the quantile is 0 and the config's threshold stays
    assert zh["gopher_repetition:dup_para_frac"]["status"] == "no_tail"
    assert "max_dup_para_frac" not in cal.by_lang["zho_Hans"].get("gopher_repetition", {})
    # length and bad-word rules are left out by default
    assert "gopher_quality:too_few_words" not in zh and not any(r.startswith("badwords:") for r in zh)
    with caplog.at_level(logging.WARNING, logger="pipeline.filter.calibrate"):
        rows = [{"text": d, "lang": "ja"} for d in prose_docs("ja", n=3)]
        calibrate_rows(tmp_path, rows, min_docs=5)
    assert "jpn_Jpan: 3 documents, fewer than min_docs=5" in caplog.text


def test_degenerate_use_and_length_rules_on_request(tmp_path: Path) -> None:
    rows = [{"text": d, "lang": "en"} for d in prose_docs("en", n=30, size=1200)]
    rules = ["gopher_repetition:dup_para*", "gopher_quality:too_few_words"]
    cal, _, _ = calibrate_rows(tmp_path, rows, degenerate="use", rules=rules,
                               tails={"gopher_quality:too_few_words": 0.1})  # fmt: skip
    assert cal.by_lang["eng_Latn"]["gopher_repetition"] == {"max_dup_para_frac": 0, "max_dup_para_char_frac": 0}
    words = rule_row(cal, "eng_Latn", "gopher_quality:too_few_words")
    assert words["status"] == "calibrated" and words["new"] > 50 and isinstance(words["new"], int)
    assert cal.by_lang["eng_Latn"]["gopher_quality"] == {"min_words": words["new"]}
    # a length rule named in tails is calibrated without a `rules` list too
    cal2, _, _ = calibrate_rows(tmp_path, rows, tails={"gopher_quality:too_few_words": 0.1})
    assert rule_row(cal2, "eng_Latn", "gopher_quality:too_few_words")["new"] == words["new"]
    assert not any(r["rule"] == "gopher_quality:too_many_words" for r in cal2.report["languages"]["eng_Latn"]["rules"])


# --- reading ------------------------------------------------------------------------------------------------------

KO, ZH_HANT = prose_docs("ko", n=3, size=400), prose_docs("zh-Hant", n=2, size=400)
ROWS = [{"text": t, "lang": lab} for t, lab in zip(KO, ["ko", "kor", "__label__kor_Hang"], strict=True)]
ROWS += [{"text": t, "lang": "zh"} for t in ZH_HANT]  # "zh" with traditional text: zho_Hant
EXPECTED = {"kor_Hang": KO, "zho_Hant": ZH_HANT}


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def _write_format(tmp: Path, fmt: str) -> str:
    table = pa.Table.from_pylist(ROWS)
    if fmt == "parquet":
        return str(write_parquet(tmp, ROWS, "ref.parquet"))
    if fmt == "jsonl":
        (tmp / "ref.jsonl").write_bytes(_jsonl(ROWS))
        return str(tmp / "ref.jsonl")
    if fmt == "jsonl.gz":
        (tmp / "ref.jsonl.gz").write_bytes(gzip.compress(_jsonl(ROWS)))
        return str(tmp / "ref.jsonl.gz")
    if fmt in ("arrow-file", "arrow-stream"):
        new = pa.ipc.new_file if fmt == "arrow-file" else pa.ipc.new_stream
        with new(str(tmp / "ref.arrow"), table.schema) as w:
            w.write_table(table, max_chunksize=2)
        return str(tmp / "ref.arrow")
    if fmt == "hf-saved":
        import datasets

        datasets.Dataset(table).save_to_disk(str(tmp / "saved"))
        return str(tmp / "saved")
    if fmt == "parts-glob":
        write_parquet(tmp, ROWS[:2], "part-0.parquet")
        (tmp / "part-1.jsonl").write_bytes(_jsonl(ROWS[2:]))
        return str(tmp / "part-*")
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "jsonl.gz", "arrow-file", "arrow-stream", "hf-saved",
                                 "parts-glob"])  # fmt: skip
def test_every_format_reads_the_same_documents(tmp_path: Path, fmt: str) -> None:
    path = _write_format(tmp_path, fmt)
    ref = read_reference(CalibrateSettings(inputs=[path]))
    assert ref.docs == EXPECTED and ref.seen == {"kor_Hang": 3, "zho_Hant": 2}


def test_hf_format_with_load_dataset_and_dataset_dicts(tmp_path: Path) -> None:
    import datasets

    (tmp_path / "a.jsonl").write_bytes(_jsonl(ROWS))
    ref = read_reference(CalibrateSettings(inputs=[str(tmp_path / "a.jsonl")], format="hf"))
    assert ref.docs == EXPECTED
    table = pa.Table.from_pylist(ROWS)
    datasets.DatasetDict({"train": datasets.Dataset(table.slice(0, 3)), "test": datasets.Dataset(table.slice(3))}) \
        .save_to_disk(str(tmp_path / "dd"))  # fmt: skip
    assert read_reference(CalibrateSettings(inputs=[str(tmp_path / "dd")])).docs == EXPECTED


def test_one_language_for_all_and_other_field_names(tmp_path: Path) -> None:
    (tmp_path / "ko.jsonl").write_bytes(_jsonl([{"body": t} for t in KO]))
    ref = read_reference(CalibrateSettings(inputs=[str(tmp_path / "ko.jsonl")], text_field="body", lang="ko"))
    assert ref.docs == {"kor_Hang": KO}
    rows = [{"body": t, "language": "ko"} for t in KO]
    rows += [{"body": "", "language": "ko"}, {"body": KO[0], "language": None}]
    (tmp_path / "x.jsonl").write_bytes(_jsonl(rows))
    s = CalibrateSettings(inputs=[str(tmp_path / "x.jsonl")], text_field="body", lang_field="language")
    ref = read_reference(s)
    assert ref.docs == {"kor_Hang": KO} and ref.skipped == {"empty_text": 1, "no_language": 1}


def test_the_cap_is_a_seeded_reservoir_or_the_first_n(tmp_path: Path) -> None:
    texts = [f"document {i}" for i in range(200)]
    (tmp_path / "r.jsonl").write_bytes(_jsonl([{"text": t, "lang": "en"} for t in texts]))
    base = {"inputs": [str(tmp_path / "r.jsonl")], "max_docs_per_lang": 20}
    a = read_reference(CalibrateSettings(**base, seed=1)).docs["eng_Latn"]
    assert a == read_reference(CalibrateSettings(**base, seed=1)).docs["eng_Latn"]  # deterministic
    assert a != read_reference(CalibrateSettings(**base, seed=2)).docs["eng_Latn"]
    assert len(a) == 20 and a == sorted(a, key=texts.index)  # kept in input order
    assert max(texts.index(t) for t in a) > 100  # drawn from the whole input, not its start
    first = read_reference(CalibrateSettings(**base, sample="first"))
    assert first.docs["eng_Latn"] == texts[:20] and first.seen == {"eng_Latn": 200}


@pytest.mark.parametrize(
    ("content", "kw", "message"),
    [
        ([{"body": "x", "lang": "ko"}], {}, r"no field 'text' \(fields: body, lang\)"),
        ([{"text": "x", "lang": "ko"}, {"text": "y", "lang": "klingon-xx"}], {}, r"line 2: unknown language code"),
        ([{"text": 5, "lang": "ko"}], {}, r"line 1: field 'text' is int, not text"),
        ("not json\n", {}, r"line 1: not JSON"),
        ([{"text": "x"}], {"lang_field": "language"}, r"line 1: no field 'language'"),
    ],
)
def test_bad_input_is_refused_precisely(tmp_path: Path, content: Any, kw: dict, message: str) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content.encode() if isinstance(content, str) else _jsonl(content))
    with pytest.raises(CalibrationError, match=message) as e:
        read_reference(CalibrateSettings(inputs=[str(p)], **kw))
    assert str(p) in str(e.value)


def test_unreadable_inputs(tmp_path: Path) -> None:
    (tmp_path / "ref.txt").write_text("x")
    with pytest.raises(CalibrationError, match="cannot tell the format.*set calibrate.format"):
        read_reference(CalibrateSettings(inputs=[str(tmp_path / "ref.txt")]))
    with pytest.raises(FileNotFoundError, match="no input files match"):
        read_reference(CalibrateSettings(inputs=[str(tmp_path / "none-*.parquet")]))
    write_parquet(tmp_path, [{"body": "x"}], "nofield.parquet")
    with pytest.raises(CalibrationError, match=r"no field 'text' \(fields: body\)"):
        read_reference(CalibrateSettings(inputs=[str(tmp_path / "nofield.parquet")]))


def test_workers_give_the_same_measurements(tmp_path: Path) -> None:
    rows = [{"text": d, "lang": lang} for lang in ("en", "th") for d in prose_docs(lang, n=70, size=600)]
    write_parquet(tmp_path, rows)
    ref = read_reference(settings(tmp_path))
    q = QualitySettings()
    one, two = measure_reference(ref, q), measure_reference(ref, q, workers=2)
    for lang in one:
        assert one[lang].reasons == two[lang].reasons
        assert one[lang].columns.keys() == two[lang].columns.keys()
        for k in one[lang].columns:
            np.testing.assert_array_equal(one[lang].columns[k], two[lang].columns[k])


# --- settings -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tails": {"gopher_quality:stop_word": 0.1}}, "unknown rule .*did you mean gopher_quality:stop_words"),
        ({"tails": {"c4:lorem_ipsum": 0.1}}, "no numeric threshold"),
        ({"tails": {"fineweb:list_ratio": 1.5}}, r"within \(0, 1\)"),
        ({"tails": {"nofamily:*": 0.1}}, "unknown rule family 'nofamily'"),
        ({"default_tail": 0}, "default_tail"),
        ({"lang": "ko", "lang_field": "lang"}, "not both"),
        ({"lang": "klingon-xx"}, "unknown language code"),
        ({"rules": []}, "calibrates nothing"),
        ({"rules": ["fineweb:*"], "tails": {"gopher_quality:stop_words": 0.1}}, "not among `rules`"),
        ({"min_scroe": 1}, "min_scroe"),
    ],
)
def test_calibrate_section_errors_are_precise(tmp_path: Path, data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        parse_config({"run": {"work_dir": "o"}, "extract": {"inputs": ["x"]}, "calibrate": {"inputs": ["r"], **data}})
    assert "calibrate" in str(e.value)


def test_settings_helpers() -> None:
    s = CalibrateSettings(inputs=["r"], default_tail=0.05, tails={"gopher_repetition:*": 0.1,
                          "gopher_repetition:dup_*_gram": 0.2, "gopher_repetition:dup_5_gram": 0.3})  # fmt: skip
    assert s.tail_for("gopher_repetition:dup_5_gram") == 0.3  # its own entry
    assert s.tail_for("gopher_repetition:dup_8_gram") == 0.2  # the most specific pattern
    assert s.tail_for("gopher_repetition:top_2_gram") == 0.1
    assert s.tail_for("fineweb:list_ratio") == 0.05
    assert s.lang_field == "lang" and CalibrateSettings(inputs=["r"], lang="ko").lang_field is None
    assert s.output_path("/w") == "/w/calibration/thresholds.yaml"
    assert report_path("/w/calibration/thresholds.yaml") == "/w/calibration/thresholds.report.json"
    with pytest.raises(ValidationError, match="frozen"):
        s.seed = 3  # type: ignore[misc]


def test_a_tail_smaller_than_one_document_keeps_the_configs_threshold(tmp_path: Path) -> None:
    rows = [{"text": d, "lang": "en"} for d in planted_docs(list(range(1, 16)))]
    quality = {**ONLY_CUSTOM, "custom_rules": PLANTED_RULES}
    cal, _, _ = calibrate_rows(tmp_path, rows, quality, tails={"custom:high": 0.1})  # 15 x 0.05 < 1 <= 15 x 0.1
    assert rule_row(cal, "eng_Latn", "custom:other")["status"] == "tail_too_small"
    assert cal.by_lang["eng_Latn"]["custom"]["thresholds"] == {"high": 14}


def test_a_custom_rule_that_does_not_exist_is_refused_at_calibration(tmp_path: Path) -> None:
    rows = [{"text": d, "lang": "en"} for d in planted_docs(list(range(12)))]
    with pytest.raises(CalibrationError, match="'custom:nope' names no rule of filter.quality.custom_rules"):
        calibrate_rows(tmp_path, rows, {**ONLY_CUSTOM, "custom_rules": PLANTED_RULES}, tails={"custom:nope": 0.1})


# --- the thresholds file in the config ----------------------------------------------------------------------------

THRESHOLDS = {"kor_Hang": {"gopher_quality": {"min_stop_words": 5, "min_alpha_words_frac": 0.9},
                           "gopher_repetition": {"max_top_ngram_char_frac": {2: 0.05, 3: 0.04, 4: 0.03}}},
              "eng_Latn": {"fineweb": {"max_newlines_per_word": 0.05}}}  # fmt: skip


def _config(tmp: Path, filter_: dict, name: str = "cfg.yaml") -> Path:
    p = tmp / name
    data = {"run": {"work_dir": str(tmp / "out")}, "extract": {"inputs": ["x"]}, "filter": filter_}
    p.write_text(yaml.safe_dump(data))
    return p


def test_quality_thresholds_file_is_merged_under_the_configs_own_by_lang(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "t.yaml").write_text("# calibrated\n" + yaml.safe_dump(THRESHOLDS))
    own = {"ko": {"gopher_quality": {"min_stop_words": 3}}, "de": {"c4": {"enabled": False}}}
    cfg = load_config(_config(tmp_path / "conf", {"quality_thresholds": "t.yaml", "quality": {"by_lang": own}}))
    ko = cfg.filter.quality.rules_for("kor_Hang", "Hang")
    assert ko.gopher_quality.min_stop_words == 3  # the config's key wins
    assert ko.gopher_quality.min_alpha_words_frac == 0.9  # the file's other keys apply
    assert ko.gopher_repetition.max_top_ngram_char_frac == {2: 0.05, 3: 0.04, 4: 0.03}
    assert cfg.filter.quality.rules_for("eng_Latn", "Latn").fineweb.max_newlines_per_word == 0.05
    assert not cfg.filter.quality.rules_for("deu_Latn", "Latn").c4.enabled
    assert cfg.filter.quality_thresholds == str(tmp_path / "conf" / "t.yaml")  # relative to the config file
    # What section_hash sees is the merged by_lang: the same as writing it inline ...
    inline = {"quality": {"by_lang": {**THRESHOLDS, "kor_Hang": {**THRESHOLDS["kor_Hang"], "gopher_quality":
              {"min_stop_words": 3, "min_alpha_words_frac": 0.9}}, "de": own["de"]}}}  # fmt: skip
    assert cfg.section_hash("filter") == load_config(_config(tmp_path, inline, "inline.yaml")).section_hash("filter")
    # ... and what Ray workers get (the config as JSON, validated again) is the same filter
    again = PipelineConfig.model_validate_json(cfg.model_dump_json())
    assert again.section_hash("filter") == cfg.section_hash("filter") and again.filter.quality == cfg.filter.quality
    # a change of the file's contents changes the hash: the filter reruns
    changed = {**THRESHOLDS, "eng_Latn": {"fineweb": {"max_newlines_per_word": 0.06}}}
    (tmp_path / "conf" / "t.yaml").write_text(yaml.safe_dump(changed))
    cfg2 = load_config(tmp_path / "conf" / "cfg.yaml")
    assert cfg2.section_hash("filter") != cfg.section_hash("filter")
    assert cfg2.section_hash("dedup") == cfg.section_hash("dedup")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "quality_thresholds: .*t.yaml: no such file"),
        ("kor_Hang: [unclosed\n", "not valid YAML"),
        ("- a\n- b\n", "expected a filter.quality.by_lang mapping"),
        ("kor_Hang: {gopher_quality: {min_stop_wrds: 3}}\n", "kor_Hang.gopher_quality.min_stop_wrds: Extra inputs"),
        ("klingon-xx: {c4: {enabled: false}}\n", "unknown language code"),
        ("kor_Hang: {gopher_quality: {min_words: 500000}}\n", "min_words .* is larger than max_words"),
    ],
)
def test_quality_thresholds_file_errors(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "t.yaml").write_text(content)
    with pytest.raises(ConfigError, match=message) as e:
        load_config(_config(tmp_path, {"quality_thresholds": "t.yaml"}))
    assert str(tmp_path / "cfg.yaml") in str(e.value)


def test_calibrated_file_round_trips_through_the_config(tmp_path: Path) -> None:
    rows = [{"text": d, "lang": "en"} for d in planted_docs(list(range(1, 41)))]
    quality = {**ONLY_CUSTOM, "custom_rules": PLANTED_RULES}
    write_parquet(tmp_path, rows)
    s = settings(tmp_path, tails={"custom:high": 0.25})
    cal = run_calibration(s, QualitySettings.model_validate(quality), str(tmp_path / "t.yaml"), command="test")
    cfg = load_config(_config(tmp_path, {"quality_thresholds": "t.yaml", "quality": quality}))
    qf = QualityFilter(cfg.filter.quality)
    assert cfg.filter.quality.rules_for("eng_Latn", "Latn").custom.thresholds["high"] == 30
    removed = [qf.check(d, "en") for d in planted_docs(list(range(1, 41)))]
    assert removed.count("custom:high") == 10 and removed.count("custom:low") == 2  # 25% and 5% of the reference
    assert cal.report["languages"]["eng_Latn"]["removed_after"] == 12 / 40


# --- the command --------------------------------------------------------------------------------------------------


def _cli_config(tmp: Path, calibrate: dict | None) -> Path:
    data: dict[str, Any] = {"run": {"work_dir": str(tmp / "work")}, "extract": {"inputs": ["x"]},
                            "filter": {"quality": {**ONLY_CUSTOM, "custom_rules": PLANTED_RULES}}}  # fmt: skip
    if calibrate is not None:
        data["calibrate"] = calibrate
    p = tmp / "cfg.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_cli_end_to_end(tmp_path: Path) -> None:
    rows = [{"text": d, "lang": "ko"} for d in planted_docs(list(range(1, 41)), "ko")]
    rows += [{"text": d, "lang": "th"} for d in planted_docs([1, 2, 3], "th")]
    write_parquet(tmp_path, rows)
    cfg = _cli_config(tmp_path, {"inputs": [str(tmp_path / "ref.parquet")], "min_docs": 10,
                                 "tails": {"custom:high": 0.1}})  # fmt: skip
    res = CliRunner().invoke(app, ["calibrate", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "work" / "calibration" / "thresholds.yaml"
    text = out.read_text()
    assert text.startswith("# Per-language quality thresholds")
    assert f"command: polyglot calibrate --config {cfg}" in text
    assert "documents per language: kor_Hang 40" in text and "tha_Thai 3" in text
    assert yaml.safe_load(text) == {"kor_Hang": {"custom": {"thresholds": {"high": 36.0, "low": 3.0, "other": 38.0}}}}
    report = json.loads((tmp_path / "work" / "calibration" / "thresholds.report.json").read_text())
    assert report["languages"]["kor_Hang"]["documents"] == 40 and report["skipped_languages"] == {"tha_Thai": 3}
    assert "kor_Hang: 40 reference documents" in res.output and "custom:high" in res.output
    assert "calibrate: 1 language, 1 skipped (< 10 documents) | 40 documents | 3 thresholds calibrated" in res.output
    other = tmp_path / "elsewhere.yaml"
    res = CliRunner().invoke(app, ["calibrate", "--config", str(cfg), "--output", str(other)])
    assert res.exit_code == 0 and yaml.safe_load(other.read_text()) == yaml.safe_load(text)
    assert (tmp_path / "elsewhere.report.json").exists()


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    def run(calibrate: dict | None) -> Any:
        return CliRunner().invoke(app, ["calibrate", "--config", str(_cli_config(tmp_path, calibrate))])

    (tmp_path / "ref.jsonl").write_bytes(_jsonl([{"text": "x", "lang": "klingon-xx"}]))
    res = run({"inputs": [str(tmp_path / "ref.jsonl")]})
    assert res.exit_code == 2 and "unknown language code 'klingon'" in res.output and "line 1" in res.output
    res = run({"inputs": [str(tmp_path / "no*.parquet")]})
    assert res.exit_code == 2 and "no input files match" in res.output
    res = run(None)
    assert res.exit_code == 2 and "no `calibrate` section" in res.output
    res = run({"inputs": ["x"], "tails": {"x": 2}})
    assert res.exit_code == 2 and "calibrate.tails" in res.output
    assert not (tmp_path / "work").exists()
