"""`polyglot tokenizer`: the shared SentencePiece tokenizer, trained on a family-balanced sample, in two steps on Ray.

1. **sample** (per shard on Ray actors, `TokenizerSample`, sub-stage ``tokenizer/sample``;
   `pipeline.tokenizer.sample`). The per-language sizes come from the upstream stage's completion records
   (``_state/<upstream>/<shard>.json`` → ``stats.by_lang`` ``chars_out``), read on the driver: no pass over the data.
   `training_quotas` turns `sample_budget` (a share of the corpus, ``sample_fraction``, at most ``sample_chars``)
   into characters per language — balanced with ``sampling_alpha`` over families then languages, and, with
   ``compare_unbalanced``, *unbalanced* (alpha 1, proportional) with the same total, for the comparison. A document
   is drawn when ``xxh64(doc_id, seed) / 2^64 < quota / available`` for its language: the choice depends on the seed
   and the document only, never on how the corpus is sharded (the totals are only approximately the quotas; both are
   reported). Drawn documents are NFC normalized (below) and cut into training lines (`split_training_lines`);
   ``tokenizer/sample/<shard>.parquet`` holds ``lang, line, balanced, unbalanced``. Beside it
   ``tokenizer/verify/<shard>.parquet`` holds the shard's ``verify_docs`` documents per language with the smallest
   ``xxh3(doc_id, seed)`` (raw text, as the later stages encode it); the global bottom-k of those is again
   independent of sharding. The step's identity is its input file plus the quotas and sampling keys
   (`TokenizerSample.input_fingerprint`): a change of ``vocab_size`` retrains without re-reading the corpus, a change
   of the corpus totals redraws every shard. Its records carry, per language, the documents and characters read
   (``docs_in``/``chars_in``: the exact corpus) and drawn for the balanced sample (``docs_out``/``chars_out``), the
   unbalanced ones as counters ``unbalanced/docs/<lang>``, ``unbalanced/chars/<lang>``. They sit below
   ``_state/tokenizer/sample/``, out of the stats funnel (the tokenizer removes no document).
2. **train** (corpus-wide, `pipeline.tokenizer.build.train_tokenizers`, ONE Ray task with ``num_cpus = num_threads``,
   capped by the largest node). Reads the sample files in shard-id order and trains with `train_sentencepiece` (fixed
   seed, fixed thread count: bit-identical model bytes on every run), exports with `export_hf` (tokenizer.model,
   tokenizer.json, tokenizer_config.json, special_tokens_map.json), runs `compare_ids` on the verification documents
   and the parallel sentences — any id difference fails the stage before anything is published — with
   ``compare_unbalanced`` trains the unbalanced tokenizer with the same settings
   (``tokenizer/unbalanced/tokenizer.model``), and measures the tokenizers on the parallel text (`parity_report`);
   the wall and CPU seconds of each part go to the report. A file whose bytes did not change is not rewritten (its
   mtime, hence the fingerprint that ``balance`` and ``shards`` key on, stays). The driver writes
   ``tokenizer/report.json`` and ``report.md`` (parity of both tokenizers, the ratios, sample composition per
   language and family: estimate, quota and drawn characters, id-parity result) and the global record
   ``_state/tokenizer/_global/train.json`` whose ``stats`` hold the same per-language figures for ``polyglot stats``.
   The step is skipped when the sample records, the parallel text and the ``tokenizer`` section did not change.

The sample's NFC composition, what drives the parity ratio and the demo's figures: `pipeline.tokenizer.sample`;
the parallel text: `pipeline.tokenizer.parity`.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from pipeline.config import PipelineConfig
from pipeline.lang.families import family_of
from pipeline.report import tokenizer_report_markdown, tokenizer_summary_line
from pipeline.runtime import CompositeStage, CorpusStep, ShardStep, StageResult
from pipeline.stages import tokenizer_dir, upstream_stage, upstream_tasks
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage
from pipeline.storage import atomic_write_bytes, join, read_json, read_parquet, write_json, write_parquet
from pipeline.tokenizer.build import HF_FILES, TrainJob, tokenizer_report, train_tokenizers
from pipeline.tokenizer.parity import PARALLEL_DIR, read_parallel_text
from pipeline.tokenizer.sample import (
    balanced_quotas,
    draw_probabilities,
    draw_sample,
    sample_composition,
    verify_candidates,
)
from pipeline.tokenizer.settings import TokenizerSettings

log = logging.getLogger(__name__)

SAMPLE_STAGE = "tokenizer/sample"
SAMPLE_VERSION = "1"
TRAIN_VERSION = "1"


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


def lang_family(cfg: PipelineConfig) -> Callable[[str], str]:
    """The balancing family of a language in the table in force (a language in no family is its own)."""
    table = cfg.family_table()
    return lambda lang: family_of(lang, table) or lang


def sample_quotas(cfg: PipelineConfig, chars: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(balanced, unbalanced) characters per language (`pipeline.tokenizer.sample.balanced_quotas`)."""
    family = lang_family(cfg)
    return balanced_quotas(chars, {lang: family(lang) for lang in chars}, cfg.tokenizer)


# --------------------------------------------------------------------------------------------------- 1. sample


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
            "p_balanced": draw_probabilities(balanced, estimate.chars),
            "p_unbalanced": draw_probabilities(unbalanced, estimate.chars) if t.compare_unbalanced else {},
            "seed": t.seed,
            "max_sentence_length": t.max_sentence_length,
            "verify_docs": t.verify_docs,
            "normalize": "NFC",
        }
        out = tokenizer_dir(self.cfg)
        return [
            ShardTask(
                shard_id=u.shard_id,
                inputs=(u.outputs["main"],),
                outputs={"sample": join(out, "sample", f"{u.shard_id}.parquet"),
                         "verify": join(out, "verify", f"{u.shard_id}.parquet")},
                params=params,
            )  # fmt: skip
            for u in upstream_tasks(self.cfg, "tokenizer")
        ]

    def input_fingerprint(self, task: ShardTask) -> str:
        keys = json.dumps(task.params, sort_keys=True).encode()
        return f"{self.identity_of(task, task.inputs[0])}+{xxhash.xxh3_64_hexdigest(keys)}"

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        p = task.params
        stats = ShardStats()
        table = read_parquet(task.inputs[0], columns=["doc_id", "text", "lang"])
        doc_ids = table.column("doc_id").to_pylist()
        texts = table.column("text").to_pylist()
        langs = table.column("lang").to_pylist()
        for text, lang in zip(texts, langs):
            stats.seen(lang, text)
        sample, balanced, unbalanced = draw_sample(
            doc_ids, texts, langs, p["p_balanced"], p["p_unbalanced"], p["seed"], p["max_sentence_length"]
        )
        for lang, c in balanced.items():
            counts = stats.by_lang[lang]
            counts.docs_out += c.docs
            counts.chars_out += c.chars
            counts.bytes_out += c.bytes
            stats.count(f"balanced/lines/{lang}", c.lines)
        for lang, c in unbalanced.items():
            stats.count(f"unbalanced/docs/{lang}", c.docs)
            stats.count(f"unbalanced/chars/{lang}", c.chars)
            stats.count(f"unbalanced/lines/{lang}", c.lines)
        progress(len(texts))
        write_parquet(sample, task.outputs["sample"])
        write_parquet(verify_candidates(doc_ids, texts, langs, p["seed"], p["verify_docs"]), task.outputs["verify"])
        return stats


# ---------------------------------------------------------------------------------------------------- 2. train


def _parallel_source(cfg: PipelineConfig) -> str:
    given = cfg.tokenizer.parity_text
    if given is None:
        return str(PARALLEL_DIR)
    return given if "://" in given else str(Path(given).expanduser().absolute())


def _node_cpus() -> float:
    import ray

    cpus = [n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n.get("Alive")]
    return max(cpus) if cpus else 1.0


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
    """The corpus-wide step: train both tokenizers in one Ray task, then write report.json / report.md; returns the
    summary kept in the step's record."""
    from pipeline.runtime import run_tasks, stage_records

    estimate = corpus_estimate(cfg)
    if not estimate.chars:
        raise ValueError(f"tokenizer: the {estimate.upstream} output has no documents to train on")
    by_shard = stage_records(cfg, SAMPLE_STAGE, [t.shard_id for t in tasks])
    source = _parallel_source(cfg)
    parallel = {lang: s for lang, s in read_parallel_text(source).items() if estimate.chars.get(lang, 0) > 0}
    t = cfg.tokenizer
    settings = training_settings(cfg)
    job = TrainJob(
        settings_json=settings.model_dump_json(),
        sample_files=tuple(task.outputs["sample"] for task in tasks),
        verify_files=tuple(task.outputs["verify"] for task in tasks),
        verify_docs=t.verify_docs,
        parallel=parallel,
        compare_unbalanced=t.compare_unbalanced,
        out_dir=tokenizer_dir(cfg),
    )
    (trained,) = run_tasks(
        train_tokenizers, [job], label="tokenizer: train", num_cpus=min(float(settings.num_threads), _node_cpus())
    )
    balanced_q, unbalanced_q = sample_quotas(cfg, estimate.chars)
    composition = sample_composition(
        {"docs": estimate.docs, "chars": estimate.chars, "bytes": estimate.bytes},
        (balanced_q, unbalanced_q if t.compare_unbalanced else {}),
        [by_shard[task.shard_id]["stats"] for task in tasks],
        lang_family(cfg),
    )
    report = tokenizer_report(
        trained, settings, work_dir=cfg.run.work_dir, upstream=estimate.upstream,
        stage_settings={"parity_text": t.parity_text, "compare_unbalanced": t.compare_unbalanced,
                        "verify_docs": t.verify_docs},
        corpus_chars=sum(estimate.chars.values()), composition=composition, parallel=parallel,
        parity_source="bundled parallel sentences" if t.parity_text is None else source,
    )  # fmt: skip
    outputs = _train_outputs(cfg, tasks)
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
        log.info(tokenizer_summary_line(report, result.seconds, skipped=skipped))


run = Tokenizer.run
