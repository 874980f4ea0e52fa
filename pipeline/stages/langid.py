"""`polyglot langid`: decide each document's language (fastText + second opinions), keep the wanted ones.

Where a document's language is decided: `pipeline.lang.identify.LanguageIdentifier.predict_lines` (normalization,
windows, fastText, label → canonical code, script) and `pipeline.lang.ensemble.Ensemble.predict` (the vote inside
confusable groups, the macrolanguage fallback). This stage applies the config's decision rules — the wanted
languages and per-language minimum scores — and writes the documents it does not keep to a separate
`rejected/` output with the reason, so nothing is silently dropped.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.lang.ensemble import Ensemble, make_model
from pipeline.lang.identify import LanguageIdentifier
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage
from pipeline.storage import join, local_copy, read_parquet, write_parquet

TOPK_TYPE = pa.list_(pa.struct([("lang", pa.string()), ("score", pa.float32())]))
MODELS_TYPE = pa.list_(pa.struct([("model", pa.string()), ("lang", pa.string()), ("score", pa.float32())]))
#: Columns langid adds to the extract columns.
ADDED = [
    ("lang", pa.string()),
    ("lang_score", pa.float32()),
    ("lang_script", pa.string()),
    ("lang_topk", TOPK_TYPE),
    ("family", pa.string()),
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


class LangidStage(Stage):
    name = "langid"
    version = "2"

    def config_parts(self) -> tuple[str, ...]:
        return ("langid", "languages", "families")

    def plan(self) -> list[ShardTask]:
        from pipeline.stages import upstream_tasks

        return [
            ShardTask(t.shard_id, (t.outputs["main"],), self.document_outputs(t.shard_id, removed=False)
                      | {"rejected": join(self.stage_dir(), "rejected", f"{t.shard_id}.parquet")})
            for t in upstream_tasks(self.cfg, "langid")
        ]

    def setup(self) -> None:
        from pipeline.lang.families import family_of

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
        table = self.cfg.family_table()
        self._family = lambda code: family_of(code, table)
        self.wanted = set(self.cfg.languages) if self.cfg.languages is not None else None

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        lc = self.cfg.langid
        stats = ShardStats()
        table = read_parquet(task.inputs[0])
        texts = table.column("text").to_pylist()
        langs, scores, scripts, topks, families, reasons = [], [], [], [], [], []
        shares, groups, models = [], [], []
        for i, text in enumerate(texts):
            p = self.lid.predict(text)
            reason = decide(p.lang, p.score, self.wanted, lc.min_score, lc.min_score_by_lang)
            langs.append(p.lang)
            scores.append(p.score)
            scripts.append(p.script)
            topks.append([{"lang": lang, "score": s} for lang, s in p.top_k])
            families.append(self._family(p.lang))
            shares.append(p.share)
            groups.append(p.group)
            models.append([{"model": m, "lang": lang, "score": sc} for m, lang, sc in p.votes])
            reasons.append(reason)
            stats.seen(p.lang, text)
            if reason is None:
                stats.kept(p.lang, text)
            else:
                stats.removed_doc(p.lang, reason)
            if i % 500 == 499:
                progress(500)
        progress(len(texts) % 500)

        added = [
            pa.array(langs, pa.string()),
            pa.array(scores, pa.float32()),
            pa.array(scripts, pa.string()),
            pa.array(topks, TOPK_TYPE),
            pa.array(families, pa.string()),
            pa.array(shares, pa.float32()),
            pa.array(groups, pa.string()),
            pa.array(models, MODELS_TYPE),
        ]
        full = table
        for (name, typ), arr in zip(ADDED, added):
            full = full.append_column(pa.field(name, typ), arr)
        keep = pa.array([r is None for r in reasons], pa.bool_())
        write_parquet(full.filter(keep), task.outputs["main"])
        rejected = full.append_column("reject_reason", pa.array(reasons, pa.string())).filter(pc.invert(keep))
        write_parquet(rejected, task.outputs["rejected"])
        return stats
