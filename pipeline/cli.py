"""The `polyglot` command: one verb per stage, each over a YAML config, plus `run` and `stats`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.config import STAGE_ORDER, ConfigError, PipelineConfig, load_config, with_absolute_paths

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,  # click's plain help: typer's rich panels print flags as `--force <bool>`
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
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print the traceback of every failure, not only the first.")]


def _report_console() -> Console:
    """Report tables at a readable width also when stdout is a file or a pipe (rich would use 80 columns)."""
    return Console() if sys.stdout.isatty() else Console(width=140)


def _load(path: Path) -> PipelineConfig:
    try:
        return with_absolute_paths(load_config(path))
    except ConfigError as e:
        console.print(f"[red]config error[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(2) from None


def _run(cfg: PipelineConfig, stages: list[str], address: str | None, force: bool, verbose: bool = False) -> None:
    from pipeline.runtime import WorkDirLocked, clear_stage_error, record_stage_error, shutdown_ray, work_dir_lock
    from pipeline.stages import runner

    try:
        with work_dir_lock(cfg.run.work_dir, " ".join(["polyglot", *sys.argv[1:]])):
            for name in stages:
                try:
                    result = runner(name)(cfg, address, force)
                except (FileNotFoundError, ValueError, RuntimeError) as e:
                    _print_stage_error(name, e, verbose)
                    try:
                        record_stage_error(cfg, name, e)
                    except OSError:
                        pass  # the message above is what counts; the work dir itself may be what failed
                    raise typer.Exit(1) from None
                clear_stage_error(cfg, name)
                if not result.ok:
                    for f in result.failed if verbose else result.failed[:1]:
                        console.print(f"{name}: shard {f['shard_id']} failed:", style="red", highlight=False, markup=False)
                        console.print(f.get("traceback") or f["error"], highlight=False, markup=False)
                    more = "" if verbose or len(result.failed) == 1 else " (-v prints every traceback)"
                    console.print(f"[red]{name}: {len(result.failed)} shard(s) failed; later stages not run; "
                                  f"errors in _state/{name}/*.error.json{more}[/red]", highlight=False, soft_wrap=True)  # fmt: skip
                    raise typer.Exit(1)
    except WorkDirLocked as e:
        console.print(f"[red]refused:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        shutdown_ray()


def _print_stage_error(name: str, e: BaseException, verbose: bool) -> None:
    """A whole-stage error: the message, then the exception type and where it was raised (a bug and a config
    mistake look different); the full traceback with -v."""
    import traceback

    if verbose:
        console.print("".join(traceback.format_exception(e)), highlight=False, markup=False)
    msg = str(e) if str(e).startswith(f"{name}:") else f"{name}: {e}"  # steps name their stage already
    frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    where = f" in {Path(frame.filename).name}:{frame.lineno}, {frame.name}" if frame else ""
    hint = "" if verbose else "; -v for the traceback"
    console.print(f"[red]{escape(msg)}[/red] ({type(e).__name__} raised{escape(where)}{hint})", highlight=False,
                  soft_wrap=True)  # fmt: skip


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


@app.command(name="input")
def input_(config: ConfigOpt, ray_address: AddressOpt = None, force: ForceOpt = False) -> None:
    """Your own corpus → documents (instead of download and extract).

    Reads the `input` section's files (Parquet, JSONL(.gz), Arrow, CSV) or Hugging Face dataset; writes
    <work_dir>/input/<shard>.parquet, one shard per file (or dataset part), with doc_id, text, url and, when the input
    gives each document's language, langid's columns, so the run may go on with filter; the metadata columns are
    passed through. Records without text, malformed lines and unwanted languages are counted by reason.
    """
    _run(_load(config), ["input"], ray_address, force)


@app.command()
def langid(config: ConfigOpt, ray_address: AddressOpt = None, force: ForceOpt = False) -> None:
    """Language identification with fastText.

    Reads <work_dir>/extract/ (or input/); writes <work_dir>/langid/<shard>.parquet (kept documents with lang, score,
    top-k, script, family) and <work_dir>/langid/rejected/<shard>.parquet (the rest, with reject_reason).
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
def tokenizer(config: ConfigOpt, ray_address: AddressOpt = None, force: ForceOpt = False) -> None:
    """Train the shared SentencePiece tokenizer on a family-balanced sample, export it for Hugging Face.

    Reads the deduplicated documents; writes <work_dir>/tokenizer/ (tokenizer.model, tokenizer.json and its
    configs, the id-parity check against SentencePiece, and the parity report beside an unbalanced baseline).
    """
    _run(_load(config), ["tokenizer"], ray_address, force)


@app.command()
def balance(config: ConfigOpt, ray_address: AddressOpt = None, force: ForceOpt = False) -> None:
    """Balance tokens per language family (temperature or UniMax, repeat caps), on exact token counts.

    Reads the deduplicated documents and <work_dir>/tokenizer/tokenizer.model; writes <work_dir>/balance/<shard>.parquet
    (the chosen documents with their repeat count) and the plan table.
    """
    _run(_load(config), ["balance"], ray_address, force)


@app.command()
def shards(config: ConfigOpt, ray_address: AddressOpt = None, force: ForceOpt = False) -> None:
    """Write training shards: Arrow IPC files of token ids, globally shuffled, with a manifest and a dataset card.

    Reads <work_dir>/balance/ and the tokenizer; writes <work_dir>/shards/ (shard-NNNNN.arrow, manifest.json,
    README.md), loadable with datasets.Dataset.from_file and pipeline.training.
    """
    _run(_load(config), ["shards"], ray_address, force)


@app.command()
def run(
    config: ConfigOpt,
    ray_address: AddressOpt = None,
    force: ForceOpt = False,
    stages: Annotated[str | None, typer.Option(help="Comma-separated subset of run.stages to execute.")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run every stage listed in run.stages, in pipeline order, then print the stats report."""
    cfg = _load(config)
    chosen = cfg.run.stages
    if stages:
        wanted = [s.strip() for s in stages.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in STAGE_ORDER]
        if unknown:
            console.print(f"[red]unknown stage(s): {escape(', '.join(unknown))}; known: {', '.join(STAGE_ORDER)}[/red]")
            raise typer.Exit(2)
        chosen = [s for s in STAGE_ORDER if s in wanted]
    _run(cfg, chosen, ray_address, force, verbose)
    from pipeline.report import collect, render

    render(collect(cfg.run.work_dir), _report_console())


@app.command()
def stats(
    outdir: Annotated[str | None, typer.Argument(help="A pipeline work_dir (local path or URL).")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Take work_dir from this config.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of tables.")] = False,
    html: Annotated[
        str | None,
        typer.Option("--html", help="Also write one self-contained HTML report (plots, samples) to FILE (path or URL)."),
    ] = None,
) -> None:
    """Per stage, language and family: docs, characters, tokens, shares before and after balancing, and what every
    stage removed and why.

    Reads the completion records in <work_dir>/_state/ and the stages' reports (balance plan, tokenizer report);
    --html also reads a few sample documents per language.
    """
    from pipeline.report import collect, render

    if outdir is None:
        if config is None:
            console.print("[red]give a work_dir or --config[/red]")
            raise typer.Exit(2)
        outdir = _load(config).run.work_dir
    from pipeline.storage import exists

    if not exists(outdir):
        console.print(f"[red]stats: no such work dir: {escape(outdir)}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    report = collect(outdir)
    out = _report_console()
    if as_json:
        sys.stdout.write(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    else:
        render(report, out)
    if html is not None:
        from pipeline.report_html import write_html

        write_html(outdir, report, html)
        (console if as_json else out).print(f"stats: wrote {escape(str(html))}", highlight=False)


@app.command()
def calibrate(
    config: ConfigOpt,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="YAML file to write (default: calibrate.output).")
    ] = None,
) -> None:
    """Per-language quality thresholds from a reference corpus (FineWeb-2's quantiles).

    Reads the calibrate section's reference documents, measures every quality rule under filter.quality, and writes
    the thresholds at which at most each rule's tail of the reference fails it: a filter.quality.by_lang mapping
    (<work_dir>/calibration/thresholds.yaml; use it with filter.quality_thresholds) and a .report.json beside it.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipeline.filter.calibrate import CalibrationError, render, run_calibration, summary

    cfg = _load(config)
    if cfg.calibrate is None:
        console.print(f"[red]config error[/red] {escape(str(config))}: no `calibrate` section (inputs, text_field, lang_field ...)",
                      highlight=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(2)
    target = output or cfg.calibrate.output_path(cfg.run.work_dir)
    progress = Progress(TextColumn("calibrate {task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)  # fmt: skip
    bars: dict[str, int] = {}
    logged = [0]  # tenths of the documents measured, when stderr is a log rather than a terminal

    def update(step: str, done: int, total: int | None) -> None:
        if step not in bars:
            bars[step] = progress.add_task("reading documents" if step == "read" else "measuring", total=total)
        progress.update(bars[step], completed=done, total=total)
        if not console.is_terminal and step == "measure" and total and done * 10 // total > logged[0]:
            logged[0] = done * 10 // total
            console.print(f"calibrate: measured {done:,}/{total:,} documents", highlight=False)

    try:
        with progress:
            command = f"polyglot calibrate --config {config}" + (f" --output {output}" if output else "")
            cal = run_calibration(cfg.calibrate, cfg.filter.quality, target, progress=update, command=command)
    except (CalibrationError, FileNotFoundError) as e:
        console.print(f"[red]calibrate: bad input[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out = _report_console()
    render(cal, out)
    out.print(summary(cal), highlight=False, soft_wrap=True)


if __name__ == "__main__":
    app()
