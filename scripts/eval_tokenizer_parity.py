"""Balanced vs unbalanced tokenizer: tokens per sentence across the 13 demo language variants.

Trains two SentencePiece models with the same settings on

- ``--source tatoeba`` (default when ../shared/data exists): a *skewed* web-like corpus built from Tatoeba — every
  distinct English sentence of the 112 ``*-eng.eng`` files (~69k, 2.3 MB) beside at most 1,000 sentences per other
  language, of which only ``--minor-share`` is kept for the smaller web languages (Korean, Vietnamese, Thai, Arabic,
  Ukrainian, Traditional Chinese). Chinese comes from ``cmn``, split into Simplified / Traditional with
  `pipeline.text.scripts.han_variant`.
- ``--source demo``: the project's demo paragraphs (Korean-heavy: 54 KB of Korean, 4 KB of Traditional Chinese).

The *unbalanced* model trains on the whole corpus as it is; the *balanced* one on `training_quotas` +
`sample_training_lines` of the same corpus (``--sample-share`` of its characters, temperature ``--alpha`` over
families, then languages). Parity is measured on parallel text the models never saw: the UDHR translation of each
language as one document (tokens per declaration), in NFC by default (``--raw`` to skip): the tokenizer composes
nothing itself (see `pipeline.tokenizer.normalization`) and UDHR Vietnamese is partly decomposed. Without
../shared/data the demo texts are used, which are not parallel: the ratio is then only indicative.

    python scripts/eval_tokenizer_parity.py [--source tatoeba|demo] [--model-type unigram|bpe] [--vocab-size 8000]

``--work-dir DIR`` instead measures the tokenizers a pipeline run trained (``DIR/tokenizer/tokenizer.model`` and,
when the run compared, ``DIR/tokenizer/unbalanced/tokenizer.model``) on the stage's own parallel text (the bundled
sentences, or ``--parity-text``: the measure of the stage's target), restricted to the languages of the run, and on
UDHR when present (for reference):

    polyglot run --config configs/demo.yaml && python scripts/eval_tokenizer_parity.py --work-dir out/demo
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import json  # noqa: E402

from pipeline.lang.codes import normalize_label  # noqa: E402
from pipeline.lang.families import family_of  # noqa: E402
from pipeline.text.scripts import han_variant  # noqa: E402
from pipeline.tokenizer.parity import compare_parity, parity_report  # noqa: E402
from pipeline.tokenizer.settings import TokenizerSettings  # noqa: E402
from pipeline.tokenizer.train import sample_training_lines, train_sentencepiece, training_quotas  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
DEMO = ROOT / "scripts" / "demo_text"
VARIANTS = ["ko", "en", "ja", "zh-Hans", "zh-Hant", "ru", "uk", "de", "fr", "es", "vi", "th", "ar"]
UDHR_FILE = {
    "ko": "kor", "en": "eng", "ja": "jpn", "zh-Hans": "cmn_hans", "zh-Hant": "cmn_hant", "ru": "rus", "uk": "ukr",
    "de": "deu_1996", "fr": "fra", "es": "spa", "vi": "vie", "th": "tha", "ar": "arb",
}
TATOEBA_FILE = {"ko": "kor", "ja": "jpn", "ru": "rus", "uk": "ukr", "de": "deu", "fr": "fra", "es": "spa",
                "vi": "vie", "th": "tha", "ar": "ara"}
MINOR = {"ko", "vi", "th", "ar", "uk", "zh-Hant"}


def demo_lines() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for variant in VARIANTS:
        lines = []
        for line in (DEMO / f"{variant}.txt").read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith(("#", "[")):
                lines.append(line[2:] if line.startswith("= ") else line)
        out[normalize_label(variant)] = lines
    return out


def tatoeba_lines(minor_share: float) -> dict[str, list[str]]:
    tatoeba = SHARED / "tatoeba"
    out: dict[str, list[str]] = {}
    for variant, code in TATOEBA_FILE.items():
        out[normalize_label(variant)] = (tatoeba / f"tatoeba.{code}-eng.{code}").read_text("utf-8").splitlines()
    cmn = (tatoeba / "tatoeba.cmn-eng.cmn").read_text("utf-8").splitlines()
    out["zho_Hans"] = [s for s in cmn if han_variant(s) != "Hant"]
    out["zho_Hant"] = [s for s in cmn if han_variant(s) == "Hant"]
    english: dict[str, None] = {}
    for path in sorted(tatoeba.glob("tatoeba.*-eng.eng")):
        english.update(dict.fromkeys(path.read_text("utf-8").splitlines()))
    out["eng_Latn"] = list(english)
    for variant in MINOR:
        code = normalize_label(variant)
        out[code] = out[code][: max(1, int(len(out[code]) * minor_share))]
    return {lang: [s for s in lines if s.strip()] for lang, lines in out.items()}


def parallel_eval_text(nfc: bool) -> tuple[dict[str, list[str]], str]:
    if (SHARED / "udhr").is_dir():
        udhr = SHARED / "udhr"
        texts = {normalize_label(v): (udhr / f"udhr_{f}.txt").read_text("utf-8") for v, f in UDHR_FILE.items()}
        label = "UDHR, one document per language (parallel)"
    else:
        texts = {lang: "\n".join(lines) for lang, lines in demo_lines().items()}
        label = "demo texts (NOT parallel)"
    if nfc:  # UDHR Vietnamese is partly decomposed: 13,013 characters, 11,060 in NFC
        texts = {lang: unicodedata.normalize("NFC", text) for lang, text in texts.items()}
        label += ", NFC"
    return {lang: [text] for lang, text in texts.items()}, label


def evaluate_run(work_dir: Path, parity_text: str | None, nfc: bool) -> None:
    """Parity of a pipeline run's balanced (and unbalanced) tokenizer, with the target the stage reports."""
    from pipeline.tokenizer.parity import PARALLEL_DIR, read_parallel_text

    out = work_dir / "tokenizer"
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    langs = set(report["composition"])
    models = {"balanced": out / "tokenizer.model", "unbalanced": out / "unbalanced" / "tokenizer.model"}
    models = {name: path for name, path in models.items() if path.exists()}
    if "unbalanced" in models and "unbalanced" not in report["parity"]:
        del models["unbalanced"]  # left over from an earlier run that compared; this one did not
    sources = {f"parallel sentences ({parity_text or 'bundled'})": {
        lang: s for lang, s in read_parallel_text(parity_text or PARALLEL_DIR).items() if lang in langs}}
    if (SHARED / "udhr").is_dir():
        udhr, label = parallel_eval_text(nfc)
        sources[label] = {lang: s for lang, s in udhr.items() if lang in langs}
    s = report["settings"]
    print(f"{work_dir}: {s['model_type']} {s['vocab_size']:,}, sample {report.get('sample_budget', s['sample_chars']):,} "
          f"characters; model sha256 {report['model_sha256'][:16]}")
    for label, parallel in sources.items():
        tables = {name: parity_report(str(path), parallel) for name, path in models.items()}
        print()
        if "unbalanced" in tables:
            print(compare_parity(tables["balanced"], tables["unbalanced"]))
        else:
            print(tables["balanced"].to_text(f"balanced tokenizer on {label}:"))
        ratio = tables["balanced"].ratio
        unb = tables["unbalanced"].ratio if "unbalanced" in tables else None
        print(f"on {label}: balanced {ratio:.3f}" + (f", unbalanced {unb:.3f}" if unb is not None else ""))
        if label.startswith("parallel sentences"):  # the stage's own measure; UDHR is for reference
            ok = ratio <= 1.5 and (unb is None or ratio < unb)
            print(f"target (balanced ratio <= 1.5 and below the unbalanced one): {'met' if ok else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", choices=["tatoeba", "demo"], default="tatoeba" if SHARED.is_dir() else "demo")
    parser.add_argument("--model-type", choices=["unigram", "bpe"], default="unigram")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--alpha", type=float, default=0.3)
    parser.add_argument("--sample-share", type=float, default=0.4, help="balanced sample size / corpus size")
    parser.add_argument("--raw", action="store_true", help="evaluate on the texts as they are, not NFC")
    parser.add_argument("--minor-share", type=float, default=0.15, help="tatoeba: share kept of minor languages")
    parser.add_argument("--work-dir", type=Path, help="measure this pipeline run's tokenizers instead of training")
    parser.add_argument("--parity-text", help="with --work-dir: the run's tokenizer.parity_text, if it set one")
    args = parser.parse_args()
    if args.work_dir is not None:
        evaluate_run(args.work_dir, args.parity_text, not args.raw)
        return

    corpus = tatoeba_lines(args.minor_share) if args.source == "tatoeba" else demo_lines()
    chars = {lang: sum(map(len, lines)) for lang, lines in corpus.items()}
    total = sum(chars.values())
    quotas = training_quotas(chars, {lang: family_of(lang) or lang for lang in chars}, int(total * args.sample_share),
                             args.alpha)
    balanced_lines = sample_training_lines(corpus, quotas, seed=0)
    unbalanced_lines = [line for lang in sorted(corpus) for line in corpus[lang]]
    print(f"source {args.source}: {total:,} characters; balanced sample {sum(map(len, balanced_lines)):,} "
          f"(alpha {args.alpha})")
    print(f"{'lang':<10} {'corpus chars':>12} {'share':>7} {'sample chars':>12} {'share':>7}")
    sample_total = sum(quotas.values())
    for lang in sorted(corpus):
        print(f"{lang:<10} {chars[lang]:>12,} {chars[lang] / total:>7.1%} {quotas[lang]:>12,} "
              f"{quotas[lang] / sample_total:>7.1%}")

    settings = TokenizerSettings(model_type=args.model_type, vocab_size=args.vocab_size)
    parallel, label = parallel_eval_text(not args.raw)
    with tempfile.TemporaryDirectory() as tmp:
        tables = {}
        for name, lines in (("balanced", balanced_lines), ("unbalanced", unbalanced_lines)):
            start = time.perf_counter()
            model = train_sentencepiece(lines, settings, Path(tmp) / name)
            seconds = time.perf_counter() - start
            tables[name] = parity_report(model, parallel)
            print()
            print(tables[name].to_text(f"{name} tokenizer ({args.model_type} {args.vocab_size}, trained in "
                                       f"{seconds:.1f} s) on {label}:"))
    print()
    print(compare_parity(tables["balanced"], tables["unbalanced"]))
    ok = tables["balanced"].ratio <= 1.5 and tables["balanced"].ratio < tables["unbalanced"].ratio
    print(f"target (balanced ratio <= 1.5 and below the unbalanced one): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
