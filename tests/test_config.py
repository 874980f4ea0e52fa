"""Config validation: shipped configs load, and every kind of mistake is refused with file, key path and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import ConfigError, load_config, parse_config

from .conftest import PROJECT_ROOT


@pytest.mark.parametrize("name", ["demo.yaml", "cc-example.yaml"])
def test_shipped_configs_validate(name: str) -> None:
    cfg = load_config(PROJECT_ROOT / "configs" / name)
    assert cfg.languages and "kor_Hang" in cfg.languages
    assert cfg.section_hash("langid") == load_config(PROJECT_ROOT / "configs" / name).section_hash("langid")


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


BASE = {"run": {"work_dir": "out"}, "extract": {"inputs": ["x.warc.gz"]}}


def _error(tmp_path: Path, data: dict) -> str:
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, data))
    return str(e.value)


def test_unknown_key_names_file_path_and_allowed_keys(tmp_path: Path) -> None:
    msg = _error(tmp_path, {**BASE, "langid": {"min_scroe": 0.5}})
    assert str(tmp_path / "cfg.yaml") in msg
    assert "langid.min_scroe: unknown key" in msg
    assert "min_score" in msg  # the allowed keys are suggested


def test_wrong_type_and_value(tmp_path: Path) -> None:
    msg = _error(tmp_path, {**BASE, "langid": {"top_k": "three", "min_score": 1.5}})
    assert "langid.top_k" in msg and "integer" in msg
    assert "langid.min_score" in msg and "1.5" in msg
    msg = _error(tmp_path, {**BASE, "extract": {"inputs": ["x"], "extractor": "lynx"}})
    assert "extract.extractor" in msg and "resiliparse" in msg


def test_missing_required_and_inconsistent_sections(tmp_path: Path) -> None:
    assert "run: required key is missing" in _error(tmp_path, {"extract": {"inputs": ["x"]}})
    msg = _error(tmp_path, {"run": {"work_dir": "o", "stages": ["download", "extract"]}})
    assert "download" in msg
    msg = _error(tmp_path, {**BASE, "download": {"crawl": "CC-MAIN-2024-10", "select": {"mode": "list"}}})
    assert "download.select" in msg and "paths" in msg


def test_language_codes_are_normalized_and_checked(tmp_path: Path) -> None:
    cfg = parse_config({**BASE, "languages": ["ko", "jpn", "zh-Hant", "rus_Cyrl"]})
    assert cfg.languages == ["kor_Hang", "jpn_Jpan", "zho_Hant", "rus_Cyrl"]
    assert "languages" in _error(tmp_path, {**BASE, "languages": ["ko", "kor"]})
    msg = _error(tmp_path, {**BASE, "languages": ["klingon-xx"]})
    assert "languages: unknown" in msg and "klingon-xx" in msg
    msg = _error(tmp_path, {**BASE, "families": {"a": ["ru"], "b": ["rus"]}})
    assert "two families" in msg


def test_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("run: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_cli_refuses_bad_config_before_any_work(tmp_path: Path) -> None:
    cfg = _write(tmp_path, {**BASE, "run": {"work_dir": str(tmp_path / "out")}, "langid": {"top_k": 0}})
    res = CliRunner().invoke(app, ["langid", "--config", str(cfg)])
    assert res.exit_code == 2
    assert "langid.top_k" in res.output
    assert not (tmp_path / "out").exists()


def test_a_language_balance_would_leave_out_is_refused_up_front(tmp_path: Path) -> None:
    slavic = {"slavic": ["ru", "pl"], "cjk": ["ko", "ja"]}
    msg = _error(tmp_path, {**BASE, "languages": ["ko", "uk"], "families": slavic})
    assert "languages" in msg and "ukr_Cyrl (no family)" in msg and "`families`" in msg
    msg = _error(tmp_path, {**BASE, "languages": ["ko", "ru"], "balance": {"families": {"korean": {"share": 1.0}}}})
    assert "rus_Cyrl (family 'slavic' is not in balance.families)" in msg
    two = {"korean": {"share": 0.5}, "slavic": {"share": 0.5, "languages": ["ru"]}}
    msg = _error(tmp_path, {**BASE, "languages": ["ko", "ru", "uk"], "balance": {"families": two}})
    assert "ukr_Cyrl (not in the explicit `languages` of 'slavic')" in msg and "rus_Cyrl" not in msg
    # without the balance stage nothing is balanced, so nothing is left out
    no_balance = {"work_dir": "out", "stages": ["extract", "langid", "filter"]}
    parse_config({**BASE, "run": no_balance, "languages": ["ko", "uk"], "families": slavic})
    parse_config({**BASE, "languages": ["ko", "ru", "uk"]})  # the default table covers them


def test_an_empty_family_is_refused(tmp_path: Path) -> None:
    msg = _error(tmp_path, {**BASE, "families": {"cjk": ["ko"], "slavic": []}})
    assert "families" in msg and "'slavic' is empty" in msg
    msg = _error(tmp_path, {**BASE, "balance": {"families": {"cjk": {"share": 1.0, "languages": []}}}})
    assert "balance.families.cjk.languages" in msg


def test_a_work_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    msg = _error(tmp_path, {**BASE, "run": {"work_dir": str(tmp_path / "f")}})
    assert "run.work_dir: is a file" in msg
    msg = _error(tmp_path, {**BASE, "run": {"work_dir": str(tmp_path / "f" / "out")}})
    assert "run.work_dir: is inside" in msg
    parse_config({**BASE, "run": {"work_dir": str(tmp_path / "new" / "out")}})


def test_help_shows_flags_as_flags() -> None:
    res = CliRunner().invoke(app, ["run", "--help"])
    assert res.exit_code == 0 and "--force" in res.output and "--config" in res.output
    assert "<bool>" not in res.output and "BOOLEAN" not in res.output


def test_stats_on_a_missing_work_dir_fails(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["stats", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no such work dir" in res.output
    res = CliRunner().invoke(app, ["stats", str(tmp_path)])
    assert res.exit_code == 0 and "nothing has run yet" in res.output
