"""`polyglot langid`: decide each document's language (fastText + second opinions), keep the wanted ones.

Where a document's language is decided: `pipeline.lang.identify.LanguageIdentifier.predict_lines` (normalization,
windows, fastText, label → canonical code, script) and `pipeline.lang.ensemble.Ensemble.predict` (the vote inside
confusable groups, the macrolanguage fallback). This stage applies the config's decision rules — the wanted
languages and per-language minimum scores — and writes the documents it does not keep to a separate
`_removed/langid/` output with the reason, so nothing is silently dropped.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.lang.ensemble import Ensemble, make_model
from pipeline.lang.identify import LanguageIdentifier
from pipeline.stages.base import BatchResult, DocumentStage, ShardStats, ShardTask
from pipeline.storage import local_copy

TOPK_TYPE = pa.list_(pa.struct([("lang", pa.string()), ("score", pa.float32())]))
MODELS_TYPE = pa.list_(pa.struct([("model", pa.string()), ("lang", pa.string()), ("score", pa.float32())]))
#: Columns langid adds to the extract columns.
ADDED = [
    ("lang", pa.string()),
    ("lang_score", pa.float32()),
    ("lang_script", pa.string()),
    ("lang_topk", TOPK_TYPE),
    ("lang_share", pa.float32()),
    ("lang_group", pa.string()),
    ("lang_models", MODELS_TYPE),
]

REASON_NO_TEXT = "no_text"  # nothing left to identify after normalization (only digits, URLs, symbols)
REASON_LOW_SCORE = "low_score"  # top-1 probability under the language's minimum
REASON_UNWANTED = "unwanted_language"  # identified confidently, but not one of `languages`


def decide(lang: str, score: float, wanted: set[str] | None, min_score: float, by_lang: dict[str, float]) -> str | None:
    """The rejection reason for a prediction, or None to keep it. Pure, so the rules are testable alone."""
    if lang == "und":
        return REASON_NO_TEXT
    if score < by_lang.get(lang, min_score):
        return REASON_LOW_SCORE
    if wanted is not None and lang not in wanted:
        return REASON_UNWANTED
    return None


class LangidStage(DocumentStage):
    name = "langid"
    version = "3"
    removed_output = "rejected"
    reason_column = "reject_reason"

    def config_parts(self) -> tuple[str, ...]:
        return ("langid", "languages")

    def task_for(self, upstream: ShardTask) -> ShardTask:
        return ShardTask(upstream.shard_id, (upstream.outputs["main"],),
                         self.document_outputs(upstream.shard_id, removed=False)
                         | {"rejected": self.removed_path(upstream.shard_id)}, input_hashes=upstream.reading())  # fmt: skip

    def setup(self) -> None:
        lc = self.cfg.langid
        if lc.model_path is None:
            lid = LanguageIdentifier(model_path=None, top_k=lc.top_k, max_windows=lc.max_windows)
        else:
            with local_copy(lc.model_path) as local:  # fastText opens local files only; it reads the whole model
                lid = LanguageIdentifier(model_path=local, top_k=lc.top_k, max_windows=lc.max_windows)
        self.lid = Ensemble(
            lid,
            [make_model(name) for name in lc.ensemble],
            consult=lc.consult,
            macro_fallback=lc.macrolanguage_fallback,
            macro_min_share=lc.macrolanguage_min_share,
            adopt_unknown=lc.adopt_unknown,
            adopt_below=lc.adopt_unknown_below,
        )
        self.wanted = set(self.cfg.languages) if self.cfg.languages is not None else None

    def main_fields(self) -> list[pa.Field]:
        return [pa.field(name, typ) for name, typ in ADDED]

    def removed_fields(self) -> list[pa.Field]:
        return [*self.main_fields(), pa.field(self.reason_column, pa.string())]

    def decide(self, batch: pa.RecordBatch, stats: ShardStats) -> BatchResult:
        lc = self.cfg.langid
        wanted, min_score, by_lang = self.wanted, lc.min_score, lc.min_score_by_lang
        langs: list[str] = []
        scores: list[float] = []
        scripts: list[str | None] = []
        shares: list[float] = []
        groups: list[str | None] = []
        reasons: list[str | None] = []
        # The list columns as their flat values and offsets: no dict per value to convert.
        topk_ends, topk_langs, topk_scores = [0], [], []
        vote_ends, vote_models, vote_langs, vote_scores = [0], [], [], []
        predict = self.lid.predict_many
        text = batch.column("text")
        for start in range(0, len(text), _TEXTS_AT_ONCE):
            for p in predict(text.slice(start, _TEXTS_AT_ONCE).to_pylist()):
                langs.append(p.lang)
                scores.append(p.score)
                scripts.append(p.script)
                shares.append(p.share)
                groups.append(p.group)
                for lang, score in p.top_k:
                    topk_langs.append(lang)
                    topk_scores.append(score)
                topk_ends.append(len(topk_langs))
                for model, lang, score in p.votes:
                    vote_models.append(model)
                    vote_langs.append(lang)
                    vote_scores.append(score)
                vote_ends.append(len(vote_models))
                reasons.append(decide(p.lang, p.score, wanted, min_score, by_lang))
        columns = {
            "lang": pa.array(langs, pa.string()),
            "lang_score": pa.array(scores, pa.float32()),
            "lang_script": pa.array(scripts, pa.string()),
            "lang_topk": _list_array(TOPK_TYPE, topk_ends, [topk_langs, topk_scores]),
            "lang_share": pa.array(shares, pa.float32()),
            "lang_group": pa.array(groups, pa.string()),
            "lang_models": _list_array(MODELS_TYPE, vote_ends, [vote_models, vote_langs, vote_scores]),
        }
        return BatchResult(reasons, columns)


#: Texts of a batch held as Python strings, and language-identified together, at once (a batch's texts as `str` can
#: take 4x their UTF-8 bytes).
_TEXTS_AT_ONCE = 256


def _list_array(typ: pa.ListType, ends: list[int], values: list[list]) -> pa.Array:
    """A list-of-struct column of type `typ` from its rows' ends in the flat values and the struct's fields' values."""
    struct = typ.value_type
    fields = [pa.array(v, struct.field(i).type) for i, v in enumerate(values)]
    flat = pa.StructArray.from_arrays(fields, fields=list(struct))
    return pa.ListArray.from_arrays(pa.array(ends, pa.int32()), flat, type=typ)
