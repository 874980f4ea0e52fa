"""A tiny real stage for testing the runtime contract without WARCs or models: JSON lines → upper-cased Parquet.

A document "BOOM" raises in the stage; "DIE" ends the worker process at once, as a crash or the OOM killer would.
"""

from __future__ import annotations

import json
import os

import pyarrow as pa

from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage, shard_ids
from pipeline.storage import expand_inputs, join, open_input, write_parquet


class ToyStage(Stage):
    name = "toy"

    def config_parts(self) -> tuple[str, ...]:
        return ("extract",)

    def plan(self) -> list[ShardTask]:
        files = expand_inputs(self.cfg.extract.inputs or [])
        ids = shard_ids(files)
        return [ShardTask(ids[f], (f,), {"main": join(self.stage_dir(), f"{ids[f]}.parquet")}) for f in files]

    def setup(self) -> None:
        import ray

        self.node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        stats = ShardStats()
        texts = []
        with open_input(task.inputs[0]) as f:
            for line in f.read().decode().splitlines():
                text = json.loads(line)["text"]
                if text == "BOOM":
                    raise ValueError("planted failure")
                if text == "DIE":
                    os._exit(1)  # a worker killed mid-shard (segfault, OOM killer)
                stats.seen("und", text)
                if len(text) >= self.cfg.extract.min_text_chars:
                    stats.kept("und", text)
                    texts.append(text.upper())
                else:
                    stats.removed_doc("und", "too_short")
        progress(len(texts))
        stats.meta["node"] = self.node
        write_parquet(pa.table({"text": pa.array(texts, pa.string())}), task.outputs["main"])
        return stats
