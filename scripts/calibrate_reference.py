"""Calibrate per-language quality thresholds on clean reference text (UDHR + Tatoeba) and show what they would do.

Builds a reference corpus for the 13 demo languages from the real third-party data beside the project
(../shared/data: the UDHR, one paragraph a line, and Tatoeba's sentences), as documents of ~1-3 KB made of
consecutive paragraphs (UDHR) or of consecutive sentences grouped 3-6 to a paragraph (Tatoeba; Chinese sentences go
to zh-Hans or zh-Hant by their script), writes it to <out>/reference.parquet (text, lang, source), runs the
calibration (`pipeline.filter.calibrate`, the library of `polyglot calibrate`) under the config's filter.quality and
prints the table per language. With --check-web it also applies the default and the calibrated thresholds to the
hand-labeled real web pages of scripts/eval_filter.py (zh: 500 Chinese pages; cc2018: 100 pages in 19 languages)
and prints the share of good pages each keeps, per language that was calibrated.

    python scripts/calibrate_reference.py [--out DIR] [--tail 0.05] [--min-docs 10] [--check-web]

The reference documents are not web text: they are clean, short-lined, and (Tatoeba) made of unrelated sentences.
Read the output with that in mind (see the summary at the end).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

#: demo language → (UDHR files, Tatoeba side). English has no Tatoeba file of its own: the English side of two pairs.
SOURCES: dict[str, tuple[list[str], list[str]]] = {
    "ko": (["kor"], ["kor-eng.kor"]),
    "en": (["eng"], ["deu-eng.eng", "fra-eng.eng"]),
    "ja": (["jpn"], ["jpn-eng.jpn"]),
    "zh-Hans": (["cmn_hans"], ["cmn-eng.cmn"]),
    "zh-Hant": (["cmn_hant"], ["cmn-eng.cmn"]),
    "ru": (["rus"], ["rus-eng.rus"]),
    "uk": (["ukr"], ["ukr-eng.ukr"]),
    "de": (["deu_1996"], ["deu-eng.deu"]),
    "fr": (["fra"], ["fra-eng.fra"]),
    "es": (["spa"], ["spa-eng.spa"]),
    "vi": (["vie"], ["vie-eng.vie"]),
    "th": (["tha"], ["tha-eng.tha"]),
    "ar": (["arb"], ["ara-eng.ara"]),
}
NO_SPACE = {"ja", "zh-Hans", "zh-Hant"}


def _chunks(paragraphs: list[str], rng: random.Random) -> list[str]:
    """Consecutive paragraphs into documents of 1-3 KB (a random target each); a short remainder is dropped."""
    docs: list[str] = []
    cur: list[str] = []
    size, target = 0, rng.randint(1000, 3000)
    for p in paragraphs:
        cur.append(p)
        size += len(p.encode()) + 2
        if size >= target:
            docs.append("\n\n".join(cur))
            cur, size, target = [], 0, rng.randint(1000, 3000)
    if size >= 1000:
        docs.append("\n\n".join(cur))
    return docs


def _udhr(name: str) -> list[str]:
    lines = (SHARED / "udhr" / f"udhr_{name}.txt").read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip()]


def _tatoeba(lang: str, names: list[str], rng: random.Random) -> list[str]:
    """Tatoeba sentences in file order, 3-6 to a paragraph (Chinese: only those written in the language's script)."""
    from pipeline.text.scripts import dominant_script

    sentences: list[str] = []
    seen: set[str] = set()
    for name in names:
        for line in (SHARED / "tatoeba" / f"tatoeba.{name}").read_text(encoding="utf-8").splitlines():
            s = line.strip()
            if not s or s in seen:
                continue
            if lang in ("zh-Hans", "zh-Hant") and dominant_script(s) != lang[3:]:
                continue
            seen.add(s)
            sentences.append(s)
    joiner = "" if lang in NO_SPACE else " "
    paragraphs, i = [], 0
    while i < len(sentences):
        k = rng.randint(3, 6)
        paragraphs.append(joiner.join(sentences[i : i + k]))
        i += k
    return paragraphs


def build_reference(out: Path, seed: int = 0) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    rows = []
    for lang, (udhr, tatoeba) in SOURCES.items():
        for name in udhr:
            rows += [{"text": d, "lang": lang, "source": f"udhr_{name}"} for d in _chunks(_udhr(name), rng)]
        rows += [{"text": d, "lang": lang, "source": "tatoeba"} for d in _chunks(_tatoeba(lang, tatoeba, rng), rng)]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "reference.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    by = Counter((r["lang"], r["source"].split("_")[0]) for r in rows)
    print(f"reference: {len(rows)} documents -> {path}")
    print("  " + ", ".join(f"{lang} {by[(lang, 'udhr')]}+{by[(lang, 'tatoeba')]}" for lang in SOURCES)
          + "  (UDHR + Tatoeba documents)")  # fmt: skip
    return path


def check_web(quality: object, by_lang: dict) -> None:
    """Good pages kept and junk removed on the labeled web pages, default vs calibrated thresholds."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from eval_filter import SETS  # type: ignore[import-not-found]

    from pipeline.filter.quality import QualityFilter
    from pipeline.filter.settings import QualitySettings
    from pipeline.lang.codes import normalize_label
    from pipeline.lang.identify import LanguageIdentifier

    lid = LanguageIdentifier()
    default = QualityFilter(quality)  # type: ignore[arg-type]
    calibrated = QualityFilter(QualitySettings.model_validate(
        {**quality.model_dump(exclude={"by_lang"}), "by_lang": by_lang}))  # type: ignore[attr-defined]  # fmt: skip
    print("\n== labeled web pages (scripts/devsets): default -> calibrated, calibrated languages only ==")
    print(f"{'set':<7} {'language':<10} {'good':>5} {'junk':>5} {'good kept':>16} {'junk removed':>16}  "
          "good pages the calibration drops, by rule")
    for name in ("zh", "cc2018"):
        c: dict[str, Counter[str]] = defaultdict(Counter)
        rules: dict[str, Counter[str]] = defaultdict(Counter)
        for d in SETS[name]():
            if d.text is None:
                continue
            lang = normalize_label(lid.predict(d.text).lang)
            if lang not in by_lang:
                continue
            good = d.label == "keep"
            before, after = default.check(d.text, lang), calibrated.check(d.text, lang)
            c[lang]["good" if good else "junk"] += 1
            c[lang]["good_kept_before"] += good and before is None
            c[lang]["good_kept_after"] += good and after is None
            c[lang]["junk_removed_before"] += not good and before is not None
            c[lang]["junk_removed_after"] += not good and after is not None
            if good and before is None and after is not None:
                rules[lang][after] += 1
        for lang in sorted(c, key=lambda k: -c[k]["good"] - c[k]["junk"]):
            x = c[lang]
            gk = f"{x['good_kept_before']}/{x['good']} -> {x['good_kept_after']}/{x['good']}"
            jr = f"{x['junk_removed_before']}/{x['junk']} -> {x['junk_removed_after']}/{x['junk']}"
            top = ", ".join(f"{r} {n}" for r, n in rules[lang].most_common(4))
            print(f"{name:<7} {lang:<10} {x['good']:>5} {x['junk']:>5} {gk:>16} {jr:>16}  {top}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/polyglot-calibrate-reference", help="Where the corpus and results go.")
    ap.add_argument("--config", default=str(ROOT / "configs" / "demo.yaml"), help="Its filter.quality is the base.")
    ap.add_argument("--tail", type=float, default=0.05, help="default_tail")
    ap.add_argument("--min-docs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check-web", action="store_true", help="Apply both to the labeled web pages (eval_filter).")
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} not found: this script reads the UDHR and Tatoeba from ../shared/data")

    from rich.console import Console

    from pipeline.config import load_config
    from pipeline.filter.calibrate import CalibrateSettings, render, run_calibration, summary

    out = Path(args.out)
    ref = build_reference(out, args.seed)
    quality = load_config(args.config).filter.quality
    settings = CalibrateSettings(inputs=[str(ref)], default_tail=args.tail, min_docs=args.min_docs,
                                 max_docs_per_lang=None, seed=args.seed)  # fmt: skip
    command = "python scripts/calibrate_reference.py " + " ".join(sys.argv[1:])
    cal = run_calibration(settings, quality, str(out / "thresholds.yaml"), command=command.strip())
    console = Console(width=160)
    render(cal, console)
    console.print(summary(cal), highlight=False)
    if args.check_web:
        check_web(quality, cal.by_lang)


if __name__ == "__main__":
    main()
