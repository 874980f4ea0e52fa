"""The tokenizer's training sample, drawn shard by shard: quotas per language, the seeded draw, training lines,
verification candidates, and the sample's composition for the report.

`balanced_quotas` turns `sample_budget` (a share of the corpus, ``sample_fraction``, at most ``sample_chars``) into
characters per language — balanced with ``sampling_alpha`` over families then languages, and *unbalanced* (alpha 1,
proportional) with the same total, for the comparison. A document is drawn when ``xxh64(doc_id, seed) / 2^64 <
quota / available`` for its language (`draw_fraction`): the choice depends on the seed and the document only, never
on how the corpus is sharded. Drawn documents are NFC-composed and cut into training lines (`draw_sample`). A shard's
verification candidates are its `verify_docs` documents per language with the smallest ``xxh3(doc_id, seed)``
(`verify_candidates`); the global bottom-k of those is again independent of sharding.

**NFC.** The model normalizes per code point only (`pipeline.tokenizer.normalization`: the export must reproduce it
exactly), so decomposed text stays decomposed and costs more tokens (UDHR Vietnamese: +41%; on the UDHR parity the
8k unigram went from 2.80 to 3.38 raw). `draw_sample` composes training lines and parallel sentences to NFC (1.6 GB/s on
text that is already NFC, 43 MB/s on decomposed text). Verification runs on the raw documents (what `balance` and
`shards` encode), the stronger test of the export. extract composes documents to NFC by default
(``extract.normalize``), which makes this a no-op; it still matters for corpora extracted with ``normalize: none``
(0 of 306 demo documents and 0 of 100 real CC pages of pages100 were decomposed, but such sources exist).

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

import unicodedata
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import xxhash

from pipeline.tokenizer.settings import TokenizerSettings
from pipeline.tokenizer.train import sample_budget, split_training_lines, training_quotas

SAMPLE_SCHEMA = pa.schema(
    [("lang", pa.string()), ("line", pa.string()), ("balanced", pa.bool_()), ("unbalanced", pa.bool_())]
)
VERIFY_SCHEMA = pa.schema([("doc_id", pa.string()), ("lang", pa.string()), ("text", pa.string()), ("rank", pa.uint64())])
_TWO64 = float(2**64)


def balanced_quotas(
    chars: Mapping[str, int], families: Mapping[str, str], settings: TokenizerSettings
) -> tuple[dict[str, int], dict[str, int]]:
    """(balanced, unbalanced) characters per language: alpha = sampling_alpha, and alpha = 1 with the same total.
    `families` gives each language's balancing family."""
    budget = sample_budget(sum(chars.values()), settings)
    balanced = training_quotas(dict(chars), dict(families), budget, settings.sampling_alpha)
    unbalanced = training_quotas(dict(chars), dict(families), max(1, sum(balanced.values())), 1.0)
    return balanced, unbalanced


def draw_probabilities(quotas: Mapping[str, int], chars: Mapping[str, int]) -> dict[str, float]:
    """The share of each language's characters its quota asks for (at most 1)."""
    return {lang: min(1.0, q / chars[lang]) for lang, q in quotas.items() if chars.get(lang, 0) > 0 and q > 0}


def draw_fraction(doc_ids: list[str], seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per document from (seed, doc_id) only: the sample's draw."""
    return np.fromiter((xxhash.xxh64_intdigest(d.encode("utf-8"), seed) for d in doc_ids), dtype=np.float64, count=len(doc_ids)) / _TWO64


def verify_rank(doc_ids: list[str], seed: int) -> np.ndarray:
    """An independent seeded order for choosing the verification documents (not the training draw)."""
    return np.fromiter((xxhash.xxh3_64_intdigest(d.encode("utf-8"), seed) for d in doc_ids), dtype=np.uint64, count=len(doc_ids))


@dataclass
class DrawnCounts:
    """What one language gave one draw of a shard's sample: documents, characters, lines (and, for the balanced
    draw, UTF-8 bytes)."""

    docs: int = 0
    chars: int = 0
    bytes: int = 0
    lines: int = 0


def draw_sample(
    doc_ids: list[str],
    texts: list[str],
    langs: list[str],
    p_balanced: Mapping[str, float],
    p_unbalanced: Mapping[str, float],
    seed: int,
    max_sentence_length: int,
) -> tuple[pa.Table, dict[str, DrawnCounts], dict[str, DrawnCounts]]:
    """A shard's training lines (`SAMPLE_SCHEMA`: each drawn document's NFC lines, flagged balanced and/or
    unbalanced) and, per language, what the balanced and the unbalanced draws took (languages without a drawn
    document left out)."""
    draws = draw_fraction(doc_ids, seed)
    cols: dict[str, list[Any]] = {"lang": [], "line": [], "balanced": [], "unbalanced": []}
    balanced: dict[str, DrawnCounts] = defaultdict(DrawnCounts)
    unbalanced: dict[str, DrawnCounts] = defaultdict(DrawnCounts)
    for text, lang, u in zip(texts, langs, draws.tolist()):
        in_balanced = u < p_balanced.get(lang, 0.0)
        in_unbalanced = u < p_unbalanced.get(lang, 0.0)
        if not (in_balanced or in_unbalanced):
            continue
        lines = list(split_training_lines(unicodedata.normalize("NFC", text), max_sentence_length))
        n_chars = sum(map(len, lines))
        cols["lang"].extend([lang] * len(lines))
        cols["line"].extend(lines)
        cols["balanced"].extend([in_balanced] * len(lines))
        cols["unbalanced"].extend([in_unbalanced] * len(lines))
        for drawn, counts in ((in_balanced, balanced), (in_unbalanced, unbalanced)):
            if drawn:
                c = counts[lang]
                c.docs += 1
                c.chars += n_chars
                c.lines += len(lines)
                if counts is balanced:
                    c.bytes += sum(len(line.encode("utf-8")) for line in lines)
    return pa.table(cols, schema=SAMPLE_SCHEMA), dict(balanced), dict(unbalanced)


def verify_candidates(doc_ids: list[str], texts: list[str], langs: list[str], seed: int, k: int) -> pa.Table:
    """Per language the k documents with the smallest verification rank (the global bottom-k is among them)."""
    ranks = verify_rank(doc_ids, seed)
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


def sample_composition(
    estimate: Mapping[str, Mapping[str, int]],
    quotas: tuple[Mapping[str, int], Mapping[str, int]],
    sample_stats: list[dict[str, Any]],
    family: Callable[[str], str],
) -> dict[str, dict[str, Any]]:
    """Per language of the estimate or the sample: its `family`, the estimate from the upstream records (`estimate`:
    docs, chars and bytes per language), the exact corpus read, the (balanced, unbalanced) quotas and what was
    drawn, from the sample shards' record stats (`by_lang` and ``<kind>/<what>/<lang>`` counters)."""
    balanced_q, unbalanced_q = quotas
    exact: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for st in sample_stats:
        for lang, c in st["by_lang"].items():
            for key in ("docs_in", "chars_in", "docs_out", "chars_out"):
                exact[lang][key] += c[key]
        for name, n in st["counters"].items():
            kind, what, lang = name.split("/", 2)
            exact[lang][f"{kind}_{what}"] += n
    out: dict[str, dict[str, Any]] = {}
    for lang in sorted(set(estimate["chars"]) | set(exact)):
        e = exact.get(lang, {})
        out[lang] = {
            "family": family(lang),
            "corpus_docs_estimate": estimate["docs"].get(lang, 0),
            "corpus_chars_estimate": estimate["chars"].get(lang, 0),
            "corpus_bytes_estimate": estimate["bytes"].get(lang, 0),
            "corpus_docs": e.get("docs_in", 0),
            "corpus_chars": e.get("chars_in", 0),
            "quota_chars": balanced_q.get(lang, 0),
            "sample_docs": e.get("docs_out", 0),
            "sample_chars": e.get("chars_out", 0),
            "sample_lines": e.get("balanced_lines", 0),
            "unbalanced_quota_chars": unbalanced_q.get(lang, 0),
            "unbalanced_docs": e.get("unbalanced_docs", 0),
            "unbalanced_chars": e.get("unbalanced_chars", 0),
            "unbalanced_lines": e.get("unbalanced_lines", 0),
        }
    return out


def composition_by_family(composition: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """The composition's characters (corpus, quota, sample, unbalanced) summed per family."""
    keys = ("corpus_chars", "quota_chars", "sample_chars", "unbalanced_chars")
    out: dict[str, dict[str, int]] = {}
    for row in composition.values():
        fam = out.setdefault(row["family"], dict.fromkeys(keys, 0))
        for k in keys:
            fam[k] += row[k]
    return dict(sorted(out.items()))
