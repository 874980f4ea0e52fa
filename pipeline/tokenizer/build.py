"""Training the shared tokenizer from the sample files: one task that trains, exports, verifies ids, trains the
unbalanced baseline, measures parity and publishes.

`train_tokenizers(job)` reads the sample files in the given (shard-id) order and trains with `train_sentencepiece`
(fixed seed, fixed thread count: bit-identical model bytes on every run), exports with `export_hf`
(tokenizer.model, tokenizer.json, tokenizer_config.json, special_tokens_map.json), runs `compare_ids` on the
verification documents and the parallel sentences — any id difference raises before anything is published — with
``compare_unbalanced`` trains the unbalanced tokenizer with the same settings, and measures the tokenizers on the
parallel text (`parity_report`); the wall and CPU seconds of each part go to its result. A file whose bytes did not
change is not rewritten (its mtime, which later stages key on, stays). `tokenizer_report` assembles report.json.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.storage import atomic_write_bytes, exists, join, open_input, read_parquet
from pipeline.tokenizer.settings import TokenizerSettings

HF_FILES = ("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
#: The balanced tokenizer's parity-ratio target (max/min tokens per sentence), reported as met or not.
TARGET_RATIO = 1.5


@dataclass(frozen=True)
class TrainJob:
    """Everything the one training task needs (small; the data stays in the sample and verify files)."""

    settings_json: str
    sample_files: tuple[str, ...]
    verify_files: tuple[str, ...]
    verify_docs: int
    parallel: dict[str, list[str]]
    compare_unbalanced: bool
    out_dir: str


def iter_lines(files: tuple[str, ...], column: str, keep: np.ndarray | None) -> Iterator[str]:
    """The sample lines flagged in `column`, file by file in the given order; `keep` subsamples by position."""
    position = 0
    for path in files:
        table = read_parquet(path, columns=["line", column])
        lines = table.filter(table.column(column)).column("line").to_pylist()
        if keep is None:
            yield from lines
        else:
            for line, chosen in zip(lines, keep[position : position + len(lines)].tolist()):
                if chosen:
                    yield line
        position += len(lines)


def cap_mask(files: tuple[str, ...], column: str, cap: int, seed: int) -> tuple[np.ndarray | None, int]:
    """A seeded uniform subset of `cap` lines (None when there are no more lines than that) and the line count."""
    n = sum(int(np.count_nonzero(read_parquet(p, columns=[column]).column(column).to_numpy())) for p in files)
    if cap <= 0 or n <= cap:
        return None, n
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng([seed, 0x7CA9]).choice(n, size=cap, replace=False)] = True
    return mask, n


def verification_texts(files: tuple[str, ...], k: int) -> tuple[list[str], dict[str, int]]:
    """The global bottom-k documents per language by verification rank, in (lang, rank, doc_id) order."""
    if k <= 0 or not files:
        return [], {}
    table = pa.concat_tables([read_parquet(p) for p in files])
    rows = sorted(
        zip(table.column("lang").to_pylist(), table.column("rank").to_pylist(), table.column("doc_id").to_pylist(), range(table.num_rows))
    )
    texts_col = table.column("text")
    chosen: list[str] = []
    per_lang: dict[str, int] = defaultdict(int)
    for lang, _rank, _doc, i in rows:
        if per_lang[lang] < k:
            per_lang[lang] += 1
            chosen.append(texts_col[i].as_py())
    return chosen, dict(per_lang)


def publish(local: Path, url: str) -> bool:
    """Copy a local file to `url` atomically unless the same bytes are already there; True when written."""
    data = local.read_bytes()
    if exists(url):
        with open_input(url) as f:
            if f.read() == data:
                return False
    atomic_write_bytes(url, data)
    return True


def parity_dict(table: Any) -> dict[str, Any]:
    return {
        "ratio": table.ratio if math.isfinite(table.ratio) else None,  # NaN without parallel text
        "most_expensive": table.most_expensive if table.rows else None,
        "cheapest": table.cheapest if table.rows else None,
        "by_lang": {
            r.lang: {
                "sentences": r.sentences,
                "characters": r.characters,
                "tokens": r.tokens,
                "tokens_per_sentence": round(r.tokens_per_sentence, 4),
                "chars_per_token": round(r.chars_per_token, 4),
            }
            for r in table.rows
        },
    }


def train_tokenizers(job: TrainJob) -> dict[str, Any]:
    """The corpus-wide step (one Ray task): train, export, verify ids, train the unbalanced baseline, parity.

    Raises `IdMismatchError` (nothing published) when tokenizer.json gives other ids than SentencePiece.
    """
    from pipeline.tokenizer.export import compare_ids, export_hf
    from pipeline.tokenizer.parity import compare_parity, parity_report
    from pipeline.tokenizer.train import train_sentencepiece

    settings = TokenizerSettings.model_validate_json(job.settings_json)
    seconds: dict[str, float] = {}
    cpu_seconds: dict[str, float] = {}
    result: dict[str, Any] = {"seconds": seconds, "cpu_seconds": cpu_seconds}
    clock, cpu_clock = time.perf_counter(), time.process_time()

    def lap(part: str) -> None:
        """Wall and CPU seconds (all threads) of one part: CPU time is what a busy shared machine does not blur."""
        nonlocal clock, cpu_clock
        now, cpu_now = time.perf_counter(), time.process_time()
        seconds[part] = round(seconds.get(part, 0.0) + now - clock, 3)
        cpu_seconds[part] = round(cpu_seconds.get(part, 0.0) + cpu_now - cpu_clock, 3)
        clock, cpu_clock = now, cpu_now

    with tempfile.TemporaryDirectory(prefix="polyglot-tokenizer-") as tmp:
        local = Path(tmp)
        keep, n_lines = cap_mask(job.sample_files, "balanced", settings.max_training_lines, settings.seed)
        model = train_sentencepiece(iter_lines(job.sample_files, "balanced", keep), settings, local / "balanced")
        result["lines"] = {"balanced": int(keep.sum()) if keep is not None else n_lines}
        result["lines_before_cap"] = {"balanced": n_lines}
        lap("train")
        export_hf(model, local / "hf")
        lap("export")

        texts, per_lang = verification_texts(job.verify_files, job.verify_docs)
        parallel_texts = [s for lang in sorted(job.parallel) for s in job.parallel[lang]]
        id_report = compare_ids(model, local / "hf", texts + parallel_texts)  # raises on any difference
        lap("id_check")
        result["id_parity"] = {
            "identical": id_report.identical,
            "documents": len(texts),
            "documents_by_lang": per_lang,
            "parallel_sentences": len(parallel_texts),
            "characters": id_report.characters,
            "tokens": id_report.tokens,
            "seconds": seconds["id_check"],
        }

        balanced_table = parity_report(model, job.parallel, settings.num_threads)
        result["parity"] = {"balanced": parity_dict(balanced_table)}
        lap("parity")
        published = []
        if job.compare_unbalanced:
            keep_u, n_u = cap_mask(job.sample_files, "unbalanced", settings.max_training_lines, settings.seed)
            unbalanced = train_sentencepiece(iter_lines(job.sample_files, "unbalanced", keep_u), settings, local / "unbalanced")
            result["lines"]["unbalanced"] = int(keep_u.sum()) if keep_u is not None else n_u
            result["lines_before_cap"]["unbalanced"] = n_u
            lap("train_unbalanced")
            unbalanced_table = parity_report(unbalanced, job.parallel, settings.num_threads)
            result["parity"]["unbalanced"] = parity_dict(unbalanced_table)
            result["parity_text"] = compare_parity(balanced_table, unbalanced_table)
            lap("parity")
            if publish(unbalanced, join(job.out_dir, "unbalanced", "tokenizer.model")):
                published.append("unbalanced/tokenizer.model")
        else:
            result["parity_text"] = balanced_table.to_text()
        for name in HF_FILES:
            if publish(local / "hf" / name, join(job.out_dir, name)):
                published.append(name)
        data = (local / "hf" / "tokenizer.model").read_bytes()
        result["model_sha256"] = hashlib.sha256(data).hexdigest()
        result["model_bytes"] = len(data)
        result["published"] = published
        lap("publish")
    return result


def tokenizer_report(
    trained: dict[str, Any],
    settings: TokenizerSettings,
    *,
    work_dir: str,
    upstream: str,
    stage_settings: dict[str, Any],
    corpus_chars: int,
    composition: dict[str, dict[str, Any]],
    parallel: dict[str, list[str]],
    parity_source: str,
) -> dict[str, Any]:
    """report.json: the settings, the sample's composition per language and family, parity of both tokenizers
    (`trained`: what `train_tokenizers` returned), the target, the id check and the seconds of each part."""
    from pipeline.tokenizer.sample import composition_by_family
    from pipeline.tokenizer.train import sample_budget

    bal_ratio = trained["parity"]["balanced"]["ratio"]
    unb_ratio = trained["parity"].get("unbalanced", {}).get("ratio")
    return {
        "work_dir": work_dir,
        "upstream": upstream,
        "settings": settings.model_dump(mode="json"),
        "settings_stage": stage_settings,
        "normalize_before_training": "NFC",
        "sample_budget": sample_budget(corpus_chars, settings),
        "composition": composition,
        "families": composition_by_family(composition),
        "parity_source": parity_source,
        "parity_languages": sorted(parallel),
        "parity_sentences": len(next(iter(parallel.values()))) if parallel else 0,
        "target": {
            "max_ratio": TARGET_RATIO,
            "met": bool(
                parallel
                and bal_ratio <= TARGET_RATIO
                and (unb_ratio is None or bal_ratio < unb_ratio)
            ),
        },
        **{k: trained[k] for k in ("parity", "parity_text", "id_parity", "lines", "lines_before_cap", "model_sha256", "model_bytes")},
        "seconds": trained["seconds"],
        "cpu_seconds": trained["cpu_seconds"],
    }
