"""`polyglot tokenizer`: the shared SentencePiece tokenizer, trained on a family-balanced sample, in two steps on Ray.

1. **sample** (per shard on Ray actors, `TokenizerSample`, sub-stage ``tokenizer/sample``). The per-language sizes
   come from the upstream stage's completion records (``_state/<upstream>/<shard>.json`` → ``stats.by_lang``
   ``chars_out``), read on the driver: no pass over the data. `training_quotas` turns `sample_budget` (a share of the
   corpus, ``sample_fraction``, at most ``sample_chars``) into characters per language — balanced with
   ``sampling_alpha`` over families then languages, and, with ``compare_unbalanced``, *unbalanced* (alpha 1,
   proportional) with the same total, for the comparison. A document is drawn when ``xxh64(doc_id, seed) / 2^64 <
   quota / available`` for its language: the choice depends on the seed and the document only, never on how the
   corpus is sharded (the totals are only approximately the quotas; both are reported). Drawn documents are NFC
   normalized (below) and cut into training lines (`split_training_lines`); ``tokenizer/sample/<shard>.parquet``
   holds ``lang, line, balanced, unbalanced``. Beside it ``tokenizer/verify/<shard>.parquet`` holds the shard's
   ``verify_docs`` documents per language with the smallest ``xxh3(doc_id, seed)`` (raw text, as the later stages
   encode it); the global bottom-k of those is again independent of sharding. The step's identity is its input file
   plus the quotas and sampling keys (`TokenizerSample.input_fingerprint`): a change of ``vocab_size`` retrains
   without re-reading the corpus, a change of the corpus totals redraws every shard. Its records carry, per language,
   the documents and characters read (``docs_in``/``chars_in``: the exact corpus) and drawn for the balanced sample
   (``docs_out``/``chars_out``), the unbalanced ones as counters ``unbalanced/docs/<lang>``,
   ``unbalanced/chars/<lang>``. They sit below ``_state/tokenizer/sample/``, out of the stats funnel (the tokenizer
   removes no document).
2. **train** (corpus-wide, `train_tokenizers`, ONE Ray task with ``num_cpus = num_threads``, capped by the largest
   node). Reads the sample files in shard-id order and trains with `train_sentencepiece` (fixed seed, fixed thread
   count: bit-identical model bytes on every run), exports with `export_hf` (tokenizer.model, tokenizer.json,
   tokenizer_config.json, special_tokens_map.json), runs `compare_ids` on the verification documents and the parallel
   sentences — any id difference fails the stage before anything is published — with ``compare_unbalanced`` trains
   the unbalanced tokenizer with the same settings (``tokenizer/unbalanced/tokenizer.model``), and measures the
   tokenizers on the parallel text (`parity_report`); the wall and CPU seconds of each part go to the report. A file
   whose bytes did not change is not rewritten (its mtime, hence the fingerprint that ``balance`` and ``shards`` key
   on, stays). The driver writes ``tokenizer/report.json`` and ``report.md`` (parity
   of both tokenizers, the ratios, sample composition per language and family: estimate, quota and drawn
   characters, id-parity result) and the global record ``_state/tokenizer/_global/train.json`` whose ``stats``
   hold the same per-language figures for ``polyglot stats``. The step is skipped when the sample records, the
   parallel text and the ``tokenizer`` section did not change.

**NFC.** The model normalizes per code point only (`pipeline.tokenizer.normalization`: the export must reproduce it
exactly), so decomposed text stays decomposed and costs more tokens (UDHR Vietnamese: +41%; on the UDHR parity the
8k unigram went from 2.80 to 3.38 raw). The stage composes training lines and parallel sentences to NFC (1.6 GB/s on
text that is already NFC, 43 MB/s on decomposed text). Verification runs on the raw documents (what `balance` and
`shards` encode), the stronger test of the export. extract composes documents to NFC by default
(``extract.normalize``), which makes this a no-op; it still matters for corpora extracted with ``normalize: none``
(0 of 306 demo documents and 0 of 100 real CC pages of pages100 were decomposed, but such sources exist).

**Parallel text.** ``tokenizer.parity_text`` (a directory of ``<lang>.txt`` with line-aligned sentences, any code
form in the file name) or the bundled ``pipeline/data/parallel/`` (40 everyday sentences in the 13 demo language
variants, written for this project). Only languages present in both the corpus and the parallel text are measured.

**What drives the parity ratio** (max/min tokens per sentence; measured under load on 2 shared cores):

- *Data of the smallest languages, and a sample small enough to stay balanced.* `training_quotas` never repeats
  text: once the small languages are used up, the rest of ``sample_chars`` goes to the big ones. Tatoeba skewed
  corpus (``scripts/eval_tokenizer_parity.py``, BPE 16k, UDHR NFC): sample = 40% of the corpus → 1.88, 10% → 1.51
  (alpha 0) with 1,000 sentences per language; with 150 per minor language 2.42 at 40%, 1.47 at 2%. The unbalanced
  tokenizer: 2.21 / 2.89. Alpha matters less than the sample size (0 vs 0.3 identical at 40%).
- *BPE over unigram, and vocabulary.* Tatoeba, 40%: unigram 8k 2.80, 16k 3.20 (a bigger unigram vocabulary spends
  itself on the dominant language); BPE 8k 2.64, 16k 2.42, 32k 2.31. Demo: unigram tops out at ~7k pieces (128k
  characters) at ratio ~1.9; BPE 12k reaches 1.44.
- *Character coverage* 0.9995 vs 1.0: no measurable change (<= 0.015) on the demo with BPE 10-14k.
- *Thai / Vietnamese.* Thai (no spaces: a whole clause is one "word") was the most expensive language for unigram
  on the demo (29 tokens/sentence at 4k) and on Tatoeba (UDHR: 1.1 characters per token from 150 training
  sentences); BPE 12k took the demo's Thai to 18. Vietnamese is cheap once NFC.

Demo (306 documents, 128k characters after dedup) with ``bpe``, 12,000 pieces, ``sample_chars`` 60,000, alpha 0.3:
ratio 1.44 (deu/kor) against 1.81 for the unbalanced tokenizer (ara/kor); ids identical on all 306 documents. The
demo is tiny, so the figure moves with the seed: seeds 0-5 gave 1.41-1.53 balanced (5 of 6 <= 1.5) and 1.43-4.45
unbalanced (4.45 when the proportional draw took no Arabic document); balanced below unbalanced for 4 of 6.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import xxhash

from pipeline.config import PipelineConfig
from pipeline.lang.codes import UND, normalize_label
from pipeline.lang.families import family_of
from pipeline.report import tokenizer_report_markdown
from pipeline.runtime import CompositeStage, CorpusStep, ShardStep, StageResult
from pipeline.stages import tokenizer_dir, upstream_stage, upstream_tasks
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage
from pipeline.storage import (
    atomic_write_bytes,
    exists,
    join,
    list_files,
    open_input,
    read_json,
    read_parquet,
    write_json,
    write_parquet,
)
from pipeline.tokenizer.settings import TokenizerSettings

__all__ = [
    "PARALLEL_DIR",
    "SAMPLE_STAGE",
    "Tokenizer",
    "TokenizerSample",
    "TrainJob",
    "corpus_estimate",
    "draw_fraction",
    "read_parallel_text",
    "run",
    "sample_quotas",
    "train_tokenizers",
]

log = logging.getLogger(__name__)

SAMPLE_STAGE = "tokenizer/sample"
SAMPLE_VERSION = "1"
TRAIN_VERSION = "1"
#: The bundled parallel sentences (13 demo language variants, line-aligned).
PARALLEL_DIR = Path(__file__).resolve().parents[1] / "data" / "parallel"
HF_FILES = ("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
SAMPLE_SCHEMA = pa.schema(
    [("lang", pa.string()), ("line", pa.string()), ("balanced", pa.bool_()), ("unbalanced", pa.bool_())]
)
VERIFY_SCHEMA = pa.schema([("doc_id", pa.string()), ("lang", pa.string()), ("text", pa.string()), ("rank", pa.uint64())])
_TWO64 = float(2**64)


def training_settings(cfg: PipelineConfig) -> TokenizerSettings:
    """The trainer's settings: the `tokenizer` section without the stage's own keys."""
    return TokenizerSettings(**cfg.tokenizer.model_dump(include=set(TokenizerSettings.model_fields)))


# ------------------------------------------------------------------------------------------- estimate and quotas


@dataclass(frozen=True)
class CorpusEstimate:
    """Per language, summed over the upstream stage's completion records: documents, characters, bytes kept."""

    upstream: str
    docs: dict[str, int]
    chars: dict[str, int]
    bytes: dict[str, int]


def corpus_estimate(cfg: PipelineConfig) -> CorpusEstimate:
    """Sizes per language from the upstream records (no data pass); FileNotFoundError when a shard is missing."""
    from pipeline.runtime import record_path, stage_records
    from pipeline.storage import FolderListings

    upstream = upstream_stage(cfg, "tokenizer")
    docs: dict[str, int] = defaultdict(int)
    chars: dict[str, int] = defaultdict(int)
    nbytes: dict[str, int] = defaultdict(int)
    tasks = upstream_tasks(cfg, "tokenizer")
    listings = FolderListings()  # one listing per folder, not two calls per shard
    for task in tasks:
        if listings.size(record_path(cfg, upstream, task.shard_id)) is None or listings.size(task.outputs["main"]) is None:
            raise FileNotFoundError(
                f"tokenizer needs the {upstream} output of shard {task.shard_id} ({task.outputs['main']}), which is "
                f"not complete: run `polyglot {upstream}` first"
            )
    records = stage_records(cfg, upstream, [t.shard_id for t in tasks])
    for task in tasks:
        for lang, counts in records[task.shard_id]["stats"]["by_lang"].items():
            if counts.get("docs_out", 0) > 0:
                docs[lang] += counts["docs_out"]
                chars[lang] += counts["chars_out"]
                nbytes[lang] += counts["bytes_out"]
    return CorpusEstimate(upstream, dict(sorted(docs.items())), dict(sorted(chars.items())), dict(sorted(nbytes.items())))


def lang_families(cfg: PipelineConfig, langs: list[str]) -> dict[str, str]:
    """The balancing family of each language in the table in force (a language in no family is its own)."""
    table = cfg.family_table()
    return {lang: family_of(lang, table) or lang for lang in langs}


def sample_quotas(cfg: PipelineConfig, chars: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(balanced, unbalanced) characters per language: alpha = sampling_alpha, and alpha = 1 with the same total."""
    from pipeline.tokenizer.train import sample_budget, training_quotas

    settings = cfg.tokenizer
    families = lang_families(cfg, list(chars))
    budget = sample_budget(sum(chars.values()), settings)
    balanced = training_quotas(chars, families, budget, settings.sampling_alpha)
    unbalanced = training_quotas(chars, families, max(1, sum(balanced.values())), 1.0)
    return balanced, unbalanced


def draw_fraction(doc_ids: list[str], seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per document from (seed, doc_id) only: the sample's draw."""
    return np.fromiter((xxhash.xxh64_intdigest(d.encode("utf-8"), seed) for d in doc_ids), dtype=np.float64, count=len(doc_ids)) / _TWO64


def _verify_rank(doc_ids: list[str], seed: int) -> np.ndarray:
    """An independent seeded order for choosing the verification documents (not the training draw)."""
    return np.fromiter((xxhash.xxh3_64_intdigest(d.encode("utf-8"), seed) for d in doc_ids), dtype=np.uint64, count=len(doc_ids))


def _probabilities(quotas: dict[str, int], chars: dict[str, int]) -> dict[str, float]:
    return {lang: min(1.0, q / chars[lang]) for lang, q in quotas.items() if chars.get(lang, 0) > 0 and q > 0}


# --------------------------------------------------------------------------------------------------- 1. sample


def _sample_path(cfg: PipelineConfig, shard_id: str) -> str:
    return join(tokenizer_dir(cfg), "sample", f"{shard_id}.parquet")


def _verify_path(cfg: PipelineConfig, shard_id: str) -> str:
    return join(tokenizer_dir(cfg), "verify", f"{shard_id}.parquet")


class TokenizerSample(Stage):
    """Per shard: draw the balanced and unbalanced training lines, and the shard's verification candidates."""

    name = SAMPLE_STAGE
    version = SAMPLE_VERSION

    def config_parts(self) -> tuple[str, ...]:
        return ()  # the identity is in input_fingerprint: input file, quotas and the sampling keys

    def plan(self) -> list[ShardTask]:
        estimate = corpus_estimate(self.cfg)
        balanced, unbalanced = sample_quotas(self.cfg, estimate.chars)
        t = self.cfg.tokenizer
        params = {
            "p_balanced": _probabilities(balanced, estimate.chars),
            "p_unbalanced": _probabilities(unbalanced, estimate.chars) if t.compare_unbalanced else {},
            "seed": t.seed,
            "max_sentence_length": t.max_sentence_length,
            "verify_docs": t.verify_docs,
            "normalize": "NFC",
        }
        return [
            ShardTask(
                shard_id=u.shard_id,
                inputs=(u.outputs["main"],),
                outputs={"sample": _sample_path(self.cfg, u.shard_id), "verify": _verify_path(self.cfg, u.shard_id)},
                params=params,
            )
            for u in upstream_tasks(self.cfg, "tokenizer")
        ]

    def input_fingerprint(self, task: ShardTask) -> str:
        keys = json.dumps(task.params, sort_keys=True).encode()
        return f"{self.identity_of(task, task.inputs[0])}+{xxhash.xxh3_64_hexdigest(keys)}"

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        from pipeline.tokenizer.train import split_training_lines

        p = task.params
        stats = ShardStats()
        table = read_parquet(task.inputs[0], columns=["doc_id", "text", "lang"])
        doc_ids = table.column("doc_id").to_pylist()
        texts = table.column("text").to_pylist()
        langs = table.column("lang").to_pylist()
        draws = draw_fraction(doc_ids, p["seed"])
        cols: dict[str, list[Any]] = {"lang": [], "line": [], "balanced": [], "unbalanced": []}
        for text, lang, u in zip(texts, langs, draws.tolist()):
            stats.seen(lang, text)
            in_balanced = u < p["p_balanced"].get(lang, 0.0)
            in_unbalanced = u < p["p_unbalanced"].get(lang, 0.0)
            if not (in_balanced or in_unbalanced):
                continue
            lines = list(split_training_lines(unicodedata.normalize("NFC", text), p["max_sentence_length"]))
            n_chars = sum(map(len, lines))
            cols["lang"].extend([lang] * len(lines))
            cols["line"].extend(lines)
            cols["balanced"].extend([in_balanced] * len(lines))
            cols["unbalanced"].extend([in_unbalanced] * len(lines))
            if in_balanced:
                counts = stats.by_lang[lang]
                counts.docs_out += 1
                counts.chars_out += n_chars
                counts.bytes_out += sum(len(line.encode("utf-8")) for line in lines)
                stats.count(f"balanced/lines/{lang}", len(lines))
            if in_unbalanced:
                stats.count(f"unbalanced/docs/{lang}")
                stats.count(f"unbalanced/chars/{lang}", n_chars)
                stats.count(f"unbalanced/lines/{lang}", len(lines))
        progress(len(texts))
        write_parquet(pa.table(cols, schema=SAMPLE_SCHEMA), task.outputs["sample"])
        write_parquet(self._verify_candidates(doc_ids, texts, langs, p["seed"], p["verify_docs"]), task.outputs["verify"])
        return stats

    @staticmethod
    def _verify_candidates(doc_ids: list[str], texts: list[str], langs: list[str], seed: int, k: int) -> pa.Table:
        """Per language the k documents with the smallest verification rank (the global bottom-k is among them)."""
        ranks = _verify_rank(doc_ids, seed)
        rows: list[int] = []
        if k > 0:
            by_lang: dict[str, list[int]] = defaultdict(list)
            for i, lang in enumerate(langs):
                by_lang[lang].append(i)
            for lang in sorted(by_lang):
                idx = np.array(by_lang[lang], dtype=np.int64)
                rows.extend(idx[np.argsort(ranks[idx], kind="stable")[:k]].tolist())
        return pa.table(
            {
                "doc_id": [doc_ids[i] for i in rows],
                "lang": [langs[i] for i in rows],
                "text": [texts[i] for i in rows],
                "rank": pa.array(ranks[rows] if rows else np.empty(0, np.uint64), pa.uint64()),
            },
            schema=VERIFY_SCHEMA,
        )


# --------------------------------------------------------------------------------------------- parallel text


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


def _parallel_source(cfg: PipelineConfig) -> str:
    given = cfg.tokenizer.parity_text
    if given is None:
        return str(PARALLEL_DIR)
    return given if "://" in given else str(Path(given).expanduser().absolute())


# ---------------------------------------------------------------------------------------------------- 2. train


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


def _iter_lines(files: tuple[str, ...], column: str, keep: np.ndarray | None) -> Iterator[str]:
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


def _cap_mask(files: tuple[str, ...], column: str, cap: int, seed: int) -> tuple[np.ndarray | None, int]:
    """A seeded uniform subset of `cap` lines (None when there are no more lines than that) and the line count."""
    n = sum(int(np.count_nonzero(read_parquet(p, columns=[column]).column(column).to_numpy())) for p in files)
    if cap <= 0 or n <= cap:
        return None, n
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng([seed, 0x7CA9]).choice(n, size=cap, replace=False)] = True
    return mask, n


def _verification_texts(files: tuple[str, ...], k: int) -> tuple[list[str], dict[str, int]]:
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


def _publish(local: Path, url: str) -> bool:
    """Copy a local file to `url` atomically unless the same bytes are already there; True when written."""
    data = local.read_bytes()
    if exists(url):
        with open_input(url) as f:
            if f.read() == data:
                return False
    atomic_write_bytes(url, data)
    return True


def _table_dict(table: Any) -> dict[str, Any]:
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
        keep, n_lines = _cap_mask(job.sample_files, "balanced", settings.max_training_lines, settings.seed)
        model = train_sentencepiece(_iter_lines(job.sample_files, "balanced", keep), settings, local / "balanced")
        result["lines"] = {"balanced": int(keep.sum()) if keep is not None else n_lines}
        result["lines_before_cap"] = {"balanced": n_lines}
        lap("train")
        export_hf(model, local / "hf")
        lap("export")

        texts, per_lang = _verification_texts(job.verify_files, job.verify_docs)
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
        result["parity"] = {"balanced": _table_dict(balanced_table)}
        lap("parity")
        published = []
        if job.compare_unbalanced:
            keep_u, n_u = _cap_mask(job.sample_files, "unbalanced", settings.max_training_lines, settings.seed)
            unbalanced = train_sentencepiece(_iter_lines(job.sample_files, "unbalanced", keep_u), settings, local / "unbalanced")
            result["lines"]["unbalanced"] = int(keep_u.sum()) if keep_u is not None else n_u
            result["lines_before_cap"]["unbalanced"] = n_u
            lap("train_unbalanced")
            unbalanced_table = parity_report(unbalanced, job.parallel, settings.num_threads)
            result["parity"]["unbalanced"] = _table_dict(unbalanced_table)
            result["parity_text"] = compare_parity(balanced_table, unbalanced_table)
            lap("parity")
            if _publish(unbalanced, join(job.out_dir, "unbalanced", "tokenizer.model")):
                published.append("unbalanced/tokenizer.model")
        else:
            result["parity_text"] = balanced_table.to_text()
        for name in HF_FILES:
            if _publish(local / "hf" / name, join(job.out_dir, name)):
                published.append(name)
        data = (local / "hf" / "tokenizer.model").read_bytes()
        result["model_sha256"] = hashlib.sha256(data).hexdigest()
        result["model_bytes"] = len(data)
        result["published"] = published
        lap("publish")
    return result


# -------------------------------------------------------------------------------------------------- reporting


def _composition(
    cfg: PipelineConfig, estimate: CorpusEstimate, sample_stats: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per language: family, the records' estimate, the exact corpus read, quotas and what was drawn."""
    balanced_q, unbalanced_q = sample_quotas(cfg, estimate.chars)
    exact: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for st in sample_stats:
        for lang, c in st["by_lang"].items():
            for key in ("docs_in", "chars_in", "docs_out", "chars_out"):
                exact[lang][key] += c[key]
        for name, n in st["counters"].items():
            kind, what, lang = name.split("/", 2)
            exact[lang][f"{kind}_{what}"] += n
    families = lang_families(cfg, sorted(set(estimate.chars) | set(exact)))
    out: dict[str, dict[str, Any]] = {}
    for lang in sorted(families):
        e = exact.get(lang, {})
        out[lang] = {
            "family": families[lang],
            "corpus_docs_estimate": estimate.docs.get(lang, 0),
            "corpus_chars_estimate": estimate.chars.get(lang, 0),
            "corpus_bytes_estimate": estimate.bytes.get(lang, 0),
            "corpus_docs": e.get("docs_in", 0),
            "corpus_chars": e.get("chars_in", 0),
            "quota_chars": balanced_q.get(lang, 0),
            "sample_docs": e.get("docs_out", 0),
            "sample_chars": e.get("chars_out", 0),
            "sample_lines": e.get("balanced_lines", 0),
            "unbalanced_quota_chars": unbalanced_q.get(lang, 0) if cfg.tokenizer.compare_unbalanced else 0,
            "unbalanced_docs": e.get("unbalanced_docs", 0),
            "unbalanced_chars": e.get("unbalanced_chars", 0),
            "unbalanced_lines": e.get("unbalanced_lines", 0),
        }
    return out


def _by_family(composition: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    keys = ("corpus_chars", "quota_chars", "sample_chars", "unbalanced_chars")
    out: dict[str, dict[str, int]] = {}
    for row in composition.values():
        fam = out.setdefault(row["family"], dict.fromkeys(keys, 0))
        for k in keys:
            fam[k] += row[k]
    return dict(sorted(out.items()))


def _node_cpus() -> float:
    import ray

    cpus = [n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n.get("Alive")]
    return max(cpus) if cpus else 1.0


def _summary_line(report: dict[str, Any], seconds: float, skipped: bool) -> str:
    comp = report["composition"]
    parity = report["parity"]
    bal = parity.get("balanced", {}).get("ratio")
    unb = parity.get("unbalanced", {}).get("ratio")
    ratio = f"parity {bal:.2f}" if isinstance(bal, float) and math.isfinite(bal) else "parity -"
    if unb is not None:
        ratio += f" (unbalanced {unb:.2f})"
    s = report["settings"]
    return (
        f"tokenizer{' (unchanged, skipped)' if skipped else ''}: {len(comp)} languages | sample "
        f"{sum(r['sample_chars'] for r in comp.values()):,} chars | {s['model_type']} {s['vocab_size']:,} | {ratio} | "
        f"ids identical on {report['id_parity']['documents']:,} docs | {seconds:.1f} s"
    )


def _train_outputs(cfg: PipelineConfig, tasks: list[ShardTask]) -> dict[str, str]:
    out_dir = tokenizer_dir(cfg)
    outputs = {name: join(out_dir, name) for name in (*HF_FILES, "report.json", "report.md")}
    if cfg.tokenizer.compare_unbalanced:
        outputs["unbalanced"] = join(out_dir, "unbalanced", "tokenizer.model")
    return outputs


def _train_inputs(cfg: PipelineConfig, tasks: list[ShardTask]) -> str:
    """The sample shards' records and the parallel text: what the trained tokenizers and their report are made of."""
    from pipeline.runtime import stage_records

    if not tasks:
        raise ValueError(f"tokenizer: the {upstream_stage(cfg, 'tokenizer')} output has no shards")
    by_shard = stage_records(cfg, SAMPLE_STAGE, [t.shard_id for t in tasks])
    records = [by_shard[t.shard_id] for t in tasks]
    parallel_all = read_parallel_text(_parallel_source(cfg))
    parallel_hash = xxhash.xxh3_64_hexdigest(json.dumps(parallel_all, sort_keys=True, ensure_ascii=False).encode())
    parts = [f"{t.shard_id}:{r['input_fingerprint']}:{r['config_hash']}" for t, r in zip(tasks, records)]
    return xxhash.xxh3_64_hexdigest("|".join([*parts, parallel_hash]).encode())


def _train(cfg: PipelineConfig, tasks: list[ShardTask]) -> dict[str, Any]:
    from pipeline.runtime import stage_records

    estimate = corpus_estimate(cfg)
    if not estimate.chars:
        raise ValueError(f"tokenizer: the {estimate.upstream} output has no documents to train on")
    by_shard = stage_records(cfg, SAMPLE_STAGE, [t.shard_id for t in tasks])
    records = [by_shard[t.shard_id] for t in tasks]
    source = _parallel_source(cfg)
    parallel = {lang: s for lang, s in read_parallel_text(source).items() if estimate.chars.get(lang, 0) > 0}
    return _train_and_report(cfg, tasks, records, estimate, parallel, source, _train_outputs(cfg, tasks))


class Tokenizer(CompositeStage):
    """`polyglot tokenizer`: sample (per shard) -> train (one Ray task, skipped when nothing changed) -> report."""

    name = "tokenizer"
    result_step = TokenizerSample

    @classmethod
    def steps(cls, cfg: PipelineConfig) -> list[ShardStep | CorpusStep]:
        return [
            ShardStep(TokenizerSample),
            CorpusStep("train", _train, TRAIN_VERSION, lambda cfg: cfg.section_hash("tokenizer"),
                       outputs=_train_outputs, inputs=_train_inputs),  # fmt: skip
        ]

    @classmethod
    def finish(cls, cfg: PipelineConfig, result: StageResult) -> None:
        report = read_json(join(tokenizer_dir(cfg), "report.json"))
        skipped = bool(result.steps.get("train", {}).get("skipped"))
        log.info(_summary_line(report, result.seconds, skipped=skipped))


run = Tokenizer.run


def _train_and_report(
    cfg: PipelineConfig,
    tasks: list[ShardTask],
    records: list[dict[str, Any]],
    estimate: Any,
    parallel: dict[str, list[str]],
    source: str,
    outputs: dict[str, str],
) -> dict[str, Any]:
    """The corpus-wide step: train both tokenizers in one Ray task, then write report.json / report.md; returns the
    summary kept in the step's record."""
    from pipeline.runtime import run_tasks
    from pipeline.tokenizer.train import sample_budget

    out_dir = tokenizer_dir(cfg)
    settings = training_settings(cfg)
    job = TrainJob(
        settings_json=settings.model_dump_json(),
        sample_files=tuple(t.outputs["sample"] for t in tasks),
        verify_files=tuple(t.outputs["verify"] for t in tasks),
        verify_docs=cfg.tokenizer.verify_docs,
        parallel=parallel,
        compare_unbalanced=cfg.tokenizer.compare_unbalanced,
        out_dir=out_dir,
    )
    (trained,) = run_tasks(
        train_tokenizers, [job], label="tokenizer: train", num_cpus=min(float(settings.num_threads), _node_cpus())
    )
    composition = _composition(cfg, estimate, [r["stats"] for r in records])
    bal_ratio = trained["parity"]["balanced"]["ratio"]
    unb_ratio = trained["parity"].get("unbalanced", {}).get("ratio")
    report = {
        "work_dir": cfg.run.work_dir,
        "upstream": estimate.upstream,
        "settings": settings.model_dump(mode="json"),
        "settings_stage": {
            "parity_text": cfg.tokenizer.parity_text,
            "compare_unbalanced": cfg.tokenizer.compare_unbalanced,
            "verify_docs": cfg.tokenizer.verify_docs,
        },
        "normalize_before_training": "NFC",
        "sample_budget": sample_budget(sum(estimate.chars.values()), settings),
        "composition": composition,
        "families": _by_family(composition),
        "parity_source": "bundled parallel sentences" if cfg.tokenizer.parity_text is None else source,
        "parity_languages": sorted(parallel),
        "parity_sentences": len(next(iter(parallel.values()))) if parallel else 0,
        "target": {
            "max_ratio": 1.5,
            "met": bool(
                parallel
                and bal_ratio <= 1.5
                and (unb_ratio is None or bal_ratio < unb_ratio)
            ),
        },
        **{k: trained[k] for k in ("parity", "parity_text", "id_parity", "lines", "lines_before_cap", "model_sha256", "model_bytes")},
        "seconds": trained["seconds"],
        "cpu_seconds": trained["cpu_seconds"],
    }
    write_json(outputs["report.json"], report)
    atomic_write_bytes(outputs["report.md"], tokenizer_report_markdown(report).encode("utf-8"))
    return {
        "by_lang": composition,
        "parity": {name: table["ratio"] for name, table in trained["parity"].items()},
        "id_parity_identical": trained["id_parity"]["identical"],
        "verified_docs": trained["id_parity"]["documents"],
        "model_sha256": trained["model_sha256"],
        "published": trained["published"],
    }
