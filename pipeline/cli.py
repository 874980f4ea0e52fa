"""The `polyglot` command: one verb per stage, each over a YAML config, plus `run` and `stats`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.config import STAGE_ORDER, ConfigError, PipelineConfig, load_config, with_absolute_paths

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Turn raw Common Crawl into a balanced multilingual pretraining corpus, stage by stage, on Ray.\n\n"
    "Every stage reads the previous stage's output below run.work_dir and writes <work_dir>/<stage>/, one file "
    "per input shard, with a completion record in <work_dir>/_state/<stage>/; a rerun skips completed shards.",
)
console = Console(stderr=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Pipeline YAML config (see configs/).")]
AddressOpt = Annotated[
    str | None,
    typer.Option("--ray-address", envvar="RAY_ADDRESS", help="Join an existing Ray cluster instead of embedded Ray."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Redo every shard, even completed ones.")]


def _load(path: Path) -> PipelineConfig:
    try:
        return with_absolute_paths(load_config(path))
    except ConfigError as e:
        console.print(f"[red]config error[/red] {e}", highlight=False)
        raise typer.Exit(2) from None


def _run(cfg: PipelineConfig, stages: list[str], address: str | None, force: bool) -> None:
    from pipeline.runtime import shutdown_ray
    from pipeline.stages import runner

    try:
        for name in stages:
            try:
                result = runner(name)(cfg, address, force)
            except (FileNotFoundError, ValueError, RuntimeError) as e:
                console.print(f"[red]{name}: {e}[/red]", highlight=False)
                raise typer.Exit(1) from None
            if not result.ok:
                console.print(f"[red]{name}: {len(result.failed)} shard(s) failed; later stages not run[/red]")
                raise typer.Exit(1)
    finally:
        shutdown_ray()


@app.command()
def download(config: ConfigOpt, ray_address: AddressOpt = None, force: ForceOpt = False) -> None:
    """Fetch Common Crawl shards.

    Reads `crawl-data/<crawl>/<kind>.paths.gz` from download.base_url, picks shards (first N, seeded sample, or
    a list) and writes them to <work_dir>/download/crawl-data/..., verified (size, gzip integrity) and resumable.
    """
    _run(_load(config), ["download"], ray_address, force)


@app.command()
def extract(config: ConfigOpt, ray_address: AddressOpt = None, force: ForceOpt = False) -> None:
    """WARC/WET → text.

    Reads extract.inputs (or the downloaded shards); writes <work_dir>/extract/<shard>.parquet with doc_id, text,
    url, WARC record id, fetch date, crawl id, source shard and record offset. Unusable records are counted by
    reason.
    """
    _run(_load(config), ["extract"], ray_address, force)


@app.command()
def langid(config: ConfigOpt, ray_address: AddressOpt = None, force: ForceOpt = False) -> None:
    """Language identification with fastText.

    Reads <work_dir>/extract/; writes <work_dir>/langid/<shard>.parquet (kept documents with lang, score, top-k,
    script, family) and <work_dir>/langid/rejected/<shard>.parquet (the rest, with reject_reason).
    """
    _run(_load(config), ["langid"], ray_address, force)


@app.command(name="filter")
def filter_(config: ConfigOpt, ray_address: AddressOpt = None, force: ForceOpt = False) -> None:
    """Language-aware quality rules (Gopher, C4, FineWeb; words and sentences defined per script), then PII masking.

    Reads the previous stage's documents; writes <work_dir>/filter/<shard>.parquet (kept, C4 line removals applied,
    PII replaced by typed placeholders) and <work_dir>/filter/removed/<shard>.parquet (with filter_reason).
    """
    _run(_load(config), ["filter"], ray_address, force)


@app.command()
def dedup(config: ConfigOpt, ray_address: AddressOpt = None, force: ForceOpt = False) -> None:
    """Exact and near-duplicate (MinHash LSH) removal across the whole corpus.

    Reads the previous stage's documents; writes <work_dir>/dedup/<shard>.parquet (kept documents with
    dup_cluster_size and dup_cluster_id) and <work_dir>/dedup/removed/<shard>.parquet (dedup_reason, duplicate_of).
    Intermediates: dedup/signatures/, dedup/bands/, dedup/clusters/.
    """
    _run(_load(config), ["dedup"], ray_address, force)


@app.command()
def run(
    config: ConfigOpt,
    ray_address: AddressOpt = None,
    force: ForceOpt = False,
    stages: Annotated[str | None, typer.Option(help="Comma-separated subset of run.stages to execute.")] = None,
) -> None:
    """Run every stage listed in run.stages, in pipeline order, then print the stats report."""
    cfg = _load(config)
    chosen = cfg.run.stages
    if stages:
        wanted = [s.strip() for s in stages.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in STAGE_ORDER]
        if unknown:
            console.print(f"[red]unknown stage(s): {', '.join(unknown)}; known: {', '.join(STAGE_ORDER)}[/red]")
            raise typer.Exit(2)
        chosen = [s for s in STAGE_ORDER if s in wanted]
    _run(cfg, chosen, ray_address, force)
    from pipeline.report import collect, render

    render(collect(cfg.run.work_dir), Console())


@app.command()
def stats(
    outdir: Annotated[str | None, typer.Argument(help="A pipeline work_dir (local path or URL).")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Take work_dir from this config.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of tables.")] = False,
) -> None:
    """Per stage and per language: docs, characters and bytes in and out, and removals by reason.

    Reads only the completion records in <work_dir>/_state/.
    """
    from pipeline.report import collect, render

    if outdir is None:
        if config is None:
            console.print("[red]give a work_dir or --config[/red]")
            raise typer.Exit(2)
        outdir = _load(config).run.work_dir
    report = collect(outdir)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    else:
        render(report, Console())


if __name__ == "__main__":
    app()
