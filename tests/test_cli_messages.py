"""CLI messages go through rich: text from errors and paths is escaped, so `[trafilatura]` is printed, not eaten."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import typer
from rich.console import Console

from pipeline import cli

HINT = "extractor 'trafilatura' needs the trafilatura package: pip install 'polyglot-pipeline[trafilatura]'"


def test_stage_error_keeps_square_brackets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pipeline.config import parse_config

    cfg = parse_config({"run": {"work_dir": str(tmp_path / "out")}, "extract": {"inputs": ["x.warc.gz"]}})
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=300, color_system=None))

    def failing(cfg: object, address: object, force: object) -> None:
        raise RuntimeError(HINT)

    import pipeline.stages

    monkeypatch.setattr(pipeline.stages, "runner", lambda name, cfg=None: failing)
    monkeypatch.setattr("pipeline.runtime.shutdown_ray", lambda: None)
    with pytest.raises(typer.Exit):
        cli._run(cfg, ["extract"], None, False)
    assert f"extract: {HINT}" in out.getvalue()


def test_config_error_keeps_square_brackets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=300, color_system=None))
    bad = tmp_path / "[bad].yaml"
    bad.write_text('run: {work_dir: x}\nextract: {extractor: "[x]"}\n')
    with pytest.raises(typer.Exit):
        cli._load(bad)
    assert f"{bad}: invalid configuration" in out.getvalue()
    assert '(got "[x]")' in out.getvalue()
