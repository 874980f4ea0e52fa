"""Benchmark: the tokenizer step in proportion to the whole chain, and what each of its parts costs.

Input: gzip WARC shards of --pages HTML pages (~11 KB of HTML, ~2.7k characters of text each, the ingest bench's
boilerplate) whose text is real: sentences and paragraphs of Tatoeba (112 languages, both sides), UDHR (~450
languages), the 500 Chinese web documents and the 100 CC pages' text in ../shared/data (the project's demo
paragraphs when absent). A page is one language, chosen in proportion to the distinct text each language has (so a
page's text is reused ~2.5 times on average, never within a page), its lines drawn at random from that language's
pool; one page in seven is a copy of an earlier one (half exact, half with one line changed), as crawls have.

Runs, on an embedded Ray with 2 CPUs:

  chain      `polyglot run` extract → langid → filter → dedup → tokenizer → balance → shards with the default
             `tokenizer` section (or --set overrides); prints each stage's seconds, the whole run's wall time and
             the tokenizer's share, then the tokenizer step's breakdown from its report.json: sample (per shard),
             train balanced, HF export, id check, train unbalanced, parity, the rest (Ray task, reading, report)
  --sweep V  then reruns only the tokenizer (force, same upstream output, in this process with Ray already up as in
             the chain) once per named variant of VARIANTS and prints its seconds, the share the chain would have
             with it, the parity ratio (balanced / unbalanced) on the bundled parallel sentences, and the training
             task's wall and CPU seconds per part; --reuse takes the chain's figures from an earlier run in --workdir

The box may be shared: the load average is printed beside the figures; compare rows of one run. Not a test: run by hand,
  python scripts/bench/tokenizer_step.py [--pages 10000] [--workdir DIR [--reuse]] [--set key=value ...]
      [--sweep "as run" "compare unbalanced" "fraction 0.5" "1 thread" "before (old defaults)" ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import BOILER_FOOT, BOILER_HEAD  # noqa: E402

STAGES = ["extract", "langid", "filter", "dedup", "tokenizer", "balance", "shards"]
#: Tokenizer-section overrides measured by --sweep (each on top of the chain's own settings).
VARIANTS: dict[str, dict[str, object]] = {
    "as run": {},
    "compare unbalanced": {"compare_unbalanced": True},
    "verify 2000/lang": {"verify_docs": 2000},
    "1 thread": {"num_threads": 1},
    "fraction 0.15": {"sample_fraction": 0.15},
    "fraction 0.5": {"sample_fraction": 0.5},
    "fraction 0.5 + unb": {"sample_fraction": 0.5, "compare_unbalanced": True},
    "fraction 1": {"sample_fraction": 1.0},
    "fraction 1 + unb": {"sample_fraction": 1.0, "compare_unbalanced": True},
    "before (old defaults)": {"sample_fraction": 1.0, "compare_unbalanced": True, "verify_docs": 2000},
}
SUMMARY = re.compile(r"^(extract|langid|filter|dedup|tokenizer/sample|tokenizer|balance|shards)(?: \(unchanged, skipped\))?: .*\| ([\d.]+) s$")


def _pools() -> dict[str, list[str]]:
    """Lines of real text per language code (ISO 639-3 where the source says so)."""
    pools: dict[str, set[str]] = {}

    def add(code: str, lines: list[str]) -> None:
        pools.setdefault(code, set()).update(ln.strip() for ln in lines if len(ln.strip()) >= 15)

    if (SHARED / "tatoeba").is_dir():
        for f in sorted((SHARED / "tatoeba").glob("tatoeba.*-eng.*")):
            add(f.suffix.lstrip("."), f.read_text(encoding="utf-8").splitlines())
    if (SHARED / "udhr").is_dir():
        rows = [r.split("\t") for r in (SHARED / "udhr" / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]]
        for row in rows:
            path = SHARED / "udhr" / f"udhr_{row[0]}.txt"
            if path.exists():
                add(row[1], path.read_text(encoding="utf-8").splitlines())
    web_zh = SHARED / "web-zh" / "zh-web-500.jsonl.gz"
    if web_zh.exists():
        with gzip.open(web_zh, "rt", encoding="utf-8") as f:
            for raw in f:
                add("cmn", json.loads(raw)["text"].splitlines())
    pages = SHARED / "cc" / "cc-main-2018-43-pages100.jsonl.gz"
    if pages.exists():
        with gzip.open(pages, "rb") as f:
            for raw in f:
                page = json.loads(raw.decode("utf-8", errors="replace"))
                add(str(page.get("lang") or "und").split("_")[0], (page.get("t") or "").splitlines())
    if not pools:
        for f in sorted((ROOT / "scripts" / "demo_text").glob("*.txt")):
            add(f.stem, [ln for ln in f.read_text(encoding="utf-8").splitlines() if not ln.startswith(("#", "[", "="))])
    return {code: sorted(lines) for code, lines in sorted(pools.items()) if len(lines) >= 20}


def build_warcs(out: Path, pages: int, shards: int, seed: int = 0) -> tuple[list[Path], int]:
    """Write `shards` WARC files of `pages` responses; returns the files and the characters of page text."""
    from pipeline.ingest.warc_writer import WarcWriter

    rng = random.Random(seed)
    pools = _pools()
    langs = list(pools)
    weights = [sum(map(len, pools[lang])) for lang in langs]
    out.mkdir(parents=True, exist_ok=True)
    bodies: list[tuple[str, list[str]]] = []
    text_chars = 0
    for _ in range(pages):
        if bodies and rng.random() < 1 / 7:
            lang, paras = rng.choice(bodies)
            if rng.random() < 0.5:
                paras = list(paras)
                paras[rng.randrange(len(paras))] = rng.choice(pools[lang])
        else:
            lang = rng.choices(langs, weights)[0]
            pool = pools[lang]
            lines = rng.sample(pool, min(len(pool), 400))
            paras, size, i = [], 0, 0
            while size < 2500 and i < len(lines):
                para = " ".join(lines[i : i + 4])
                paras.append(para)
                size += len(para)
                i += 4
        bodies.append((lang, paras))
        text_chars += sum(map(len, paras))
    files = []
    per = -(-pages // shards)
    for s in range(shards):
        path = out / f"BENCH-{s:05d}.warc.gz"
        with open(path, "wb") as fh:
            w = WarcWriter(fh)
            w.warcinfo({"isPartOf": "BENCH-2026-01"}, filename=path.name)
            for i in range(s * per, min(pages, (s + 1) * per)):
                lang, paras = bodies[i]
                html = (
                    BOILER_HEAD.format(lang=lang, title=f"Page {i}")
                    + f"<main><article><h1>Article {i}</h1>{''.join(f'<p>{p}</p>' for p in paras)}</article></main>"
                    + BOILER_FOOT
                )
                w.response(
                    f"https://bench.example/{lang}/{i}",
                    html.encode("utf-8"),
                    http_headers=[("Content-Type", "text/html; charset=utf-8")],
                )
        files.append(path)
    return files, text_chars


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _parse(value: str) -> object:
    return yaml.safe_load(value)


def write_config(path: Path, work: Path, warc: Path, tokenizer: dict[str, object]) -> None:
    cfg = {
        "run": {"work_dir": str(work), "stages": STAGES},
        "ray": {"num_cpus": 2, "object_store_mb": 512},
        "extract": {"inputs": [str(warc / "*.warc.gz")]},
        "tokenizer": tokenizer,
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def polyglot(args: list[str], log: Path) -> tuple[float, dict[str, float]]:
    """Run the CLI in a fresh process (its output kept in `log`); returns wall seconds and each stage's seconds from
    its summary line."""
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_DATA_DISABLE_PROGRESS_BARS="1", COLUMNS="200")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"polyglot {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    log.write_text(proc.stderr + proc.stdout, encoding="utf-8")
    seconds: dict[str, float] = {}
    in_pass: set[str] = set()  # fused stages (`run.fuse`) print their shared pass's seconds: the first one carries it
    for line in proc.stderr.splitlines():
        m = SUMMARY.match(line.strip())
        if m:
            if m[1] not in in_pass:  # a stage of a fused pass has no seconds of its own: left out
                seconds[m[1]] = float(m[2])
            fused = re.search(r" fused with ([\w, ]+?) \|", line)
            if fused and m[1] not in in_pass:
                in_pass.update(n.strip() for n in fused[1].split(","))
    return wall, seconds


def breakdown(work: Path, seconds: dict[str, float]) -> dict[str, float]:
    """The tokenizer step's parts: the sample sub-stage, each part of the training task (its report.json), the rest
    (starting the task, reading the sample records, writing the report)."""
    report = json.loads((work / "tokenizer" / "report.json").read_text(encoding="utf-8"))
    parts = {"sample": seconds.get("tokenizer/sample", 0.0), **report["seconds"]}
    parts["rest"] = round(seconds["tokenizer"] - sum(parts.values()), 2)
    return parts


def parity(work: Path) -> tuple[str, str]:
    """The parity ratios (balanced / unbalanced) and the balanced sample's size, from report.json."""
    report = json.loads((work / "tokenizer" / "report.json").read_text(encoding="utf-8"))
    bal = report["parity"]["balanced"]["ratio"]
    unb = report["parity"].get("unbalanced", {}).get("ratio")
    lines = report["lines"]["balanced"]
    chars = sum(r["sample_chars"] for r in report["composition"].values())
    return f"{bal:.3f} / {unb:.3f}" if unb else f"{bal:.3f} / -", f"{chars / 1e6:.1f}M chars, {lines:,} lines"


def sweep(work: Path, warc: Path, tokenizer: dict[str, object], names: list[str], rest: float) -> None:
    """Rerun only the tokenizer per variant, in this process with Ray already up (as in the chain), on the chain's
    upstream output; `rest` is the chain's wall time without its tokenizer, for the share."""
    from pipeline.config import parse_config
    from pipeline.runtime import ensure_ray, shutdown_ray
    from pipeline.stages import tokenizer as tok

    def config(over: dict[str, object]):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            path = Path(f.name)
        write_config(path, work, warc, {**tokenizer, **over})
        cfg = parse_config(yaml.safe_load(path.read_text(encoding="utf-8")))
        path.unlink()
        return cfg

    ensure_ray(config({}).ray)  # start-up is not part of a variant's time, as in the chain
    print(f"\nload: {_load()}")
    print(f"{'variant':18} {'tok s':>6} {'share':>6} {'parity bal / unb':>17}  sample; breakdown (s)")
    for name in names:
        t0 = time.perf_counter()
        result = tok.run(config(VARIANTS[name]), force=True)
        t = time.perf_counter() - t0
        if not result.ok:
            sys.exit(f"variant {name} failed: {result.failed}")
        bal_unb, sample = parity(work)
        report = json.loads((work / "tokenizer" / "report.json").read_text(encoding="utf-8"))
        parts = {**report["seconds"], "sample and rest": round(t - sum(report["seconds"].values()), 2)}
        text = ", ".join(f"{k} {v}" for k, v in parts.items())
        text += " | cpu: " + ", ".join(f"{k} {v}" for k, v in report["cpu_seconds"].items())
        print(f"{name:18} {t:6.1f} {100 * t / (rest + t):5.1f}% {bal_unb:>17}  {sample}; {text}", flush=True)
    print(f"load after: {_load()}")
    shutdown_ray()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--workdir", type=Path, default=None, help="keep input and outputs here (default: a temp dir)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a tokenizer setting for the chain")
    ap.add_argument("--sweep", nargs="*", choices=sorted(VARIANTS), help="then rerun the tokenizer alone per variant")
    ap.add_argument("--reuse", action="store_true", help="reuse the chain run saved in --workdir (chain.json)")
    args = ap.parse_args()
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="polyglot-tokstep-"))
    tmp.mkdir(parents=True, exist_ok=True)
    warc = tmp / "warc"
    if not warc.is_dir():
        files, chars = build_warcs(warc, args.pages, args.shards)
        print(f"input: {args.pages:,} pages in {len(files)} shards, {chars / 1e6:.1f}M characters of page text")
    tokenizer = {k: _parse(v) for k, v in (s.split("=", 1) for s in args.set)}
    work = tmp / "work"
    saved = tmp / "chain.json"
    if args.reuse and saved.exists():
        chain = json.loads(saved.read_text(encoding="utf-8"))
        print(f"chain figures from {saved} (measured at load {chain['load']})")
    else:
        shutil.rmtree(work, ignore_errors=True)
        cfg = tmp / "chain.yaml"
        write_config(cfg, work, warc, tokenizer)
        load = _load()
        wall, seconds = polyglot(["run", "--config", str(cfg)], tmp / "chain.log")
        chain = {"wall": wall, "seconds": seconds, "tokenizer": tokenizer, "load": load}
        saved.write_text(json.dumps(chain), encoding="utf-8")
    wall, seconds = chain["wall"], chain["seconds"]
    print(f"\nchain (tokenizer {chain['tokenizer'] or 'defaults'}): {wall:.1f} s wall for `polyglot run` (Python and "
          f"Ray start-up, every stage, the stats report); load before: {chain['load']}")
    for stage in STAGES:
        if stage not in seconds:
            print(f"  {stage:10}    (in the fused pass above)")
            continue
        print(f"  {stage:10} {seconds.get(stage, float('nan')):7.1f} s  {100 * seconds.get(stage, 0) / wall:5.1f}%")
    tok = seconds["tokenizer"]
    print(f"  tokenizer share of the chain's wall time: {100 * tok / wall:.1f}%  (target <= 30%)")
    if not args.reuse:
        bal_unb, sample = parity(work)
        print(f"  parity balanced / unbalanced: {bal_unb}; sample {sample}")
        print("  tokenizer step breakdown (s):", ", ".join(f"{k} {v}" for k, v in breakdown(work, seconds).items()))
        cpu = json.loads((work / "tokenizer" / "report.json").read_text(encoding="utf-8"))["cpu_seconds"]
        print("  training task CPU seconds (all threads):", ", ".join(f"{k} {v}" for k, v in cpu.items()))
    print(f"load after: {_load()}", flush=True)
    if args.sweep:
        sweep(work, warc, tokenizer, args.sweep, wall - tok)
    if args.workdir is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
