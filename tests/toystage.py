"""A tiny real stage for testing the runtime contract without WARCs or models: JSON lines → upper-cased Parquet.

A document "BOOM" raises in the stage; "DIE" ends the worker process at once, as a crash or the OOM killer would. "SLOW" takes a second. A file `<input>.full` beside an
input makes the shard's output meet a full disk.
"""

from __future__ import annotations

import errno
import io
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import pyarrow as pa
from fsspec.implementations.local import LocalFileSystem

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
                if text == "SLOW":
                    time.sleep(1.0)
                stats.seen("und", text)
                if len(text) >= self.cfg.extract.min_text_chars:
                    stats.kept("und", text)
                    texts.append(text.upper())
                else:
                    stats.removed_doc("und", "too_short")
        progress(len(texts))
        stats.meta["node"] = self.node
        table = pa.table({"text": pa.array(texts, pa.string())})
        if os.path.exists(task.inputs[0] + ".full"):  # the disk is full for this shard's output
            with full_disk():
                write_parquet(table, task.outputs["main"])
        write_parquet(table, task.outputs["main"])
        return stats


@contextmanager
def full_disk() -> Iterator[None]:
    """A storage shim: local files opened for writing take a few bytes, then fail with ENOSPC, as on a full disk."""

    class Full(io.RawIOBase):
        def __init__(self, f: BinaryIO) -> None:
            self.f = f

        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:
            self.f.write(bytes(data)[:10])
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            self.f.close()
            super().close()

    real = LocalFileSystem._open

    def _open(self: LocalFileSystem, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        f = real(self, path, mode, *args, **kwargs)
        return Full(f) if "w" in mode else f

    LocalFileSystem._open = _open
    try:
        yield
    finally:
        LocalFileSystem._open = real
