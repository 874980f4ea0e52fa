"""Tokenizer parity across languages: how many tokens the *same content* costs in each language.

Input is parallel text: ``{lang: [sentences]}`` holding the same content in every language (UDHR, Tatoeba pairs
re-aligned, or whole documents as one item each). Per language: sentences, characters, tokens, tokens per sentence
and characters per token. The parity ratio is max/min of tokens per sentence over the languages: 1.0 means every
language pays the same number of tokens (hence the same context length and training compute) for the same
meaning. Characters per token is reported beside it but is not comparable across scripts (one Han character
carries what several Latin letters do). `compare_parity` sets a balanced tokenizer beside an unbalanced one trained
with the same settings.

**Parallel text** (`read_parallel_text`). ``tokenizer.parity_text`` (a directory of ``<lang>.txt`` with line-aligned
sentences, any code form in the file name) or the bundled ``pipeline/data/parallel/`` (40 everyday sentences in the
13 demo language variants, written for this project). Only languages present in both the corpus and the parallel text
are measured.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm

from pipeline.lang.codes import UND, normalize_label
from pipeline.storage import list_files, open_input
from pipeline.tokenizer.encode import count_tokens, load_processor

__all__ = ["PARALLEL_DIR", "LanguageParity", "ParityTable", "compare_parity", "parity_report", "read_parallel_text"]

#: The bundled parallel sentences (13 demo language variants, line-aligned, written for this project).
PARALLEL_DIR = Path(__file__).resolve().parents[1] / "data" / "parallel"


@dataclass(frozen=True)
class LanguageParity:
    lang: str
    sentences: int
    characters: int
    tokens: int

    @property
    def tokens_per_sentence(self) -> float:
        return self.tokens / self.sentences if self.sentences else 0.0

    @property
    def chars_per_token(self) -> float:
        return self.characters / self.tokens if self.tokens else 0.0


@dataclass(frozen=True)
class ParityTable:
    rows: tuple[LanguageParity, ...]

    @property
    def ratio(self) -> float:
        """max/min tokens per sentence across languages (inf if a language has no tokens)."""
        values = [row.tokens_per_sentence for row in self.rows if row.sentences]
        if not values:
            return float("nan")
        return max(values) / min(values) if min(values) > 0 else float("inf")

    @property
    def most_expensive(self) -> str:
        return max(self.rows, key=lambda r: r.tokens_per_sentence).lang

    @property
    def cheapest(self) -> str:
        return min(self.rows, key=lambda r: r.tokens_per_sentence).lang

    def row(self, lang: str) -> LanguageParity:
        return next(r for r in self.rows if r.lang == lang)

    def to_text(self, title: str = "") -> str:
        lines = [title] if title else []
        lines.append(f"{'lang':<10} {'sent':>6} {'chars':>9} {'tokens':>9} {'tok/sent':>9} {'chars/tok':>9}")
        for r in self.rows:
            lines.append(
                f"{r.lang:<10} {r.sentences:>6} {r.characters:>9} {r.tokens:>9} "
                f"{r.tokens_per_sentence:>9.2f} {r.chars_per_token:>9.2f}"
            )
        lines.append(f"max/min tokens per sentence: {self.ratio:.3f} ({self.most_expensive} / {self.cheapest})")
        return "\n".join(lines)


def parity_report(
    model: str | Path | spm.SentencePieceProcessor, parallel: Mapping[str, Sequence[str]], num_threads: int = 1
) -> ParityTable:
    """Tokens per sentence and characters per token per language (sorted by code) for one tokenizer."""
    processor = load_processor(model)
    rows = []
    for lang in sorted(parallel):
        sentences = list(parallel[lang])
        tokens = int(count_tokens(processor, sentences, num_threads).sum()) if sentences else 0
        rows.append(LanguageParity(lang, len(sentences), sum(map(len, sentences)), tokens))
    return ParityTable(tuple(rows))


def compare_parity(balanced: ParityTable, unbalanced: ParityTable) -> str:
    """The two tables side by side per language (tokens per sentence, chars per token) and both ratios."""
    langs = [r.lang for r in balanced.rows if any(u.lang == r.lang for u in unbalanced.rows)]
    lines = [
        f"{'lang':<10} {'bal tok/sent':>12} {'unbal tok/sent':>14} {'bal chars/tok':>13} {'unbal chars/tok':>15}"
    ]
    for lang in langs:
        b, u = balanced.row(lang), unbalanced.row(lang)
        lines.append(
            f"{lang:<10} {b.tokens_per_sentence:>12.2f} {u.tokens_per_sentence:>14.2f} "
            f"{b.chars_per_token:>13.2f} {u.chars_per_token:>15.2f}"
        )
    lines.append(
        f"parity ratio (max/min tokens per sentence): balanced {balanced.ratio:.3f}, unbalanced {unbalanced.ratio:.3f}"
    )
    return "\n".join(lines)


def read_parallel_text(directory: str | Path) -> dict[str, list[str]]:
    """``{canonical code: sentences}`` from ``<lang>.txt`` files with line-aligned sentences, NFC-composed.

    ValueError when a file name is no language code, two files name one language, the files have different line
    counts, or a line is blank (an aligned corpus has one sentence per line in every file).
    """
    files = list_files(str(directory), ".txt")
    if not files:
        raise FileNotFoundError(f"no <lang>.txt parallel text in {directory}")
    out: dict[str, list[str]] = {}
    for path in files:
        stem = path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".txt")
        try:
            code = normalize_label(stem)
        except ValueError as e:
            raise ValueError(f"parallel text {path}: {stem!r} is not a language code ({e})") from None
        if code == UND:
            raise ValueError(f"parallel text {path}: {stem!r} is not a language code")
        if code in out:
            raise ValueError(f"parallel text {path}: a second file for {code}")
        with open_input(path) as f:
            lines = f.read().decode("utf-8").splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        if any(not line.strip() for line in lines):
            raise ValueError(f"parallel text {path}: blank line {lines.index(next(x for x in lines if not x.strip())) + 1}")
        out[code] = [unicodedata.normalize("NFC", line.strip()) for line in lines]
    sizes = {code: len(lines) for code, lines in out.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"parallel text in {directory} is not line-aligned: lines per language {sizes}")
    return dict(sorted(out.items()))
