"""`polyglot filter`: language-aware quality rules, then PII masking, per shard.

Where a document is judged: `pipeline.filter.quality.QualityFilter.apply` (Gopher quality and repetition, C4, FineWeb
rules, with "word", "sentence end" and "n-gram" defined per script — `pipeline.text.segment`); its thresholds come
from the `filter.quality` config (global values rescaled per script, then per-script and per-language overrides).
A removed document goes to `filter/removed/<shard>.parquet` with `filter_reason` (``<family>:<rule>``, e.g.
``gopher_repetition:dup_line_frac``); a kept one continues with C4's line removals applied and its PII masked
(`pipeline.filter.pii`: e-mail, IP, phone numbers, Korean RRN, Luhn-checked cards → typed placeholders).

Counts in the shard's record: documents kept and removed per language and rule (`removed`), and counters
``pii/<kind>/<lang>`` (items masked) and ``lines_removed/<rule>/<lang>`` (C4 line removals).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.filter.pii import PIIMasker
from pipeline.filter.quality import QualityFilter
from pipeline.stages import upstream_tasks
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage
from pipeline.storage import read_parquet, write_parquet


class FilterStage(Stage):
    name = "filter"
    version = "1"

    def config_parts(self) -> tuple[str, ...]:
        return ("filter",)

    def plan(self) -> list[ShardTask]:
        removed = self.cfg.filter.write_removed
        return [
            ShardTask(t.shard_id, (t.outputs["main"],), self.document_outputs(t.shard_id, removed=removed))
            for t in upstream_tasks(self.cfg, "filter")
        ]

    def setup(self) -> None:
        f = self.cfg.filter
        self.quality = QualityFilter(f.quality)
        self.masker = PIIMasker(f.pii) if f.mask_pii else None

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        stats = ShardStats()
        table = read_parquet(task.inputs[0])
        texts = table.column("text").to_pylist()
        langs = table.column("lang").to_pylist()
        out_texts: list[str] = []
        reasons: list[str | None] = []
        masked: list[int] = []
        lines_removed: list[int] = []
        for i, (text, lang) in enumerate(zip(texts, langs)):
            stats.seen(lang, text)
            res = self.quality.apply(text, lang)
            for rule, n in res.removed_lines.items():
                stats.count(f"lines_removed/{rule}/{lang}", n)
            new = res.text
            n_masked = 0
            if res.reason is None and self.masker is not None:
                new, found = self.masker.mask(new)
                for kind, n in found.items():
                    if n:
                        stats.count(f"pii/{kind}/{lang}", n)
                        n_masked += n
            if res.reason is None:
                stats.kept(lang, new)
            else:
                stats.removed_doc(lang, res.reason)
            out_texts.append(new)
            reasons.append(res.reason)
            masked.append(n_masked)
            lines_removed.append(sum(res.removed_lines.values()) if res.text is not text else 0)
            if i % 500 == 499:
                progress(500)
        progress(len(texts) % 500)

        keep = pa.array([r is None for r in reasons], pa.bool_())
        idx = table.schema.get_field_index("text")
        kept = (
            table.set_column(idx, "text", pa.array(out_texts, pa.string()))
            .append_column("lines_removed", pa.array(lines_removed, pa.int32()))
            .append_column("pii_masked", pa.array(masked, pa.int32()))
            .filter(keep)
        )
        write_parquet(kept, task.outputs["main"])
        if "removed" in task.outputs:
            removed = table.append_column("filter_reason", pa.array(reasons, pa.string())).filter(pc.invert(keep))
            write_parquet(removed, task.outputs["removed"])
        return stats
