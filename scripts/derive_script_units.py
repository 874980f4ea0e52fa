"""Derive the per-script units the quality filter rescales its thresholds by, from the parallel UDHR text.

The shipped thresholds are datatrove's English defaults, expressed in each script's own units
(`pipeline.filter.settings`, `pipeline.text.segment`): a count (min_words, min_prose, ...) is multiplied by the
script's units per English word, a per-unit ratio divided by it, a line length in characters by its line characters
per English word / 6, a small share of characters filled by boilerplate (FineWeb's dup_line_char_frac) by 6 / its
line characters per English word, and a mean word length by its mean word length / English's. The UDHR says the same
thing in every language, so these ratios are measured on it; this script measures them again and prints them beside
the values the package ships (it reads ../shared/data/udhr).

    python scripts/derive_script_units.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
UDHR = ROOT.parent / "shared" / "data" / "udhr"

from pipeline.filter.settings import calibration_for  # noqa: E402
from pipeline.filter.view import DocView  # noqa: E402
from pipeline.text.segment import profile_for  # noqa: E402

# UDHR file → (canonical code, script) for the scripts the package has its own units for.
FILES = {
    "eng": ("eng_Latn", "Latn"), "kor": ("kor_Hang", "Hang"), "vie": ("vie_Latn", "Latn"),
    "cmn_hans": ("zho_Hans", "Hans"), "cmn_hant": ("zho_Hant", "Hant"), "jpn": ("jpn_Jpan", "Jpan"),
    "tha": ("tha_Thai", "Thai"), "lao": ("lao_Laoo", "Laoo"), "khm": ("khm_Khmr", "Khmr"), "mya": ("mya_Mymr", "Mymr"),
    "rus": ("rus_Cyrl", "Cyrl"),
}  # fmt: skip


def measure(text: str, script: str) -> tuple[float, float, float]:
    """(units, characters of the lines, mean unit length) of one UDHR text."""
    v = DocView(text, profile_for(script))
    line_chars = sum(len(line) for line in v.lines)
    mean_len = v.unit_chars / max(v.n_units, 1)
    return float(v.n_units), float(line_chars), mean_len


def main() -> None:
    if not (UDHR / "index.tsv").is_file():
        sys.exit(f"{UDHR} not found: this script reads the UDHR from ../shared/data")
    with open(UDHR / "index.tsv", encoding="utf-8") as fh:
        names = {row["file"] for row in csv.DictReader(fh, delimiter="\t")}
    texts = {f: (UDHR / f"udhr_{f}.txt").read_text(encoding="utf-8") for f in FILES if f in names}
    en_units, _, en_mean = measure(texts["eng"], "Latn")
    print(f"English: {en_units:.0f} words, mean length {en_mean:.2f}")
    print(f"{'language':10s} {'script':6s} {'units/word':>10s} {'shipped':>8s} {'line chars/word':>16s} {'shipped':>8s} "
          f"{'mean len x':>10s} {'shipped':>8s}")  # fmt: skip
    for f, (code, script) in FILES.items():
        if f not in texts or f == "eng":
            continue
        units, line_chars, mean_len = measure(texts[f], script)
        cal = calibration_for(code, script)
        shipped_k = f"{cal.units_per_word:.2f}" if cal else "1.00"
        shipped_line = f"{cal.line_chars_per_word:.2f}" if cal else "6.00"
        shipped_mean = "-" if cal is None else ("off" if cal.mean_len_factor is None else f"{cal.mean_len_factor:.2f}")
        char_units = profile_for(script).unit == "char"
        mean = "off" if char_units else f"{mean_len / en_mean:.2f}"
        print(f"{code:10s} {script:6s} {units / en_units:10.2f} {shipped_k:>8s} {line_chars / en_units:16.2f} "
              f"{shipped_line:>8s} {mean:>10s} {shipped_mean:>8s}")  # fmt: skip


if __name__ == "__main__":
    main()
