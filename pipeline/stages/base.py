"""The stage contract: a stage turns each input shard into one output file, independently of the others.

A stage plans its shard tasks on the driver, sets itself up once per worker (model loading lives in `setup`, never
in the per-shard path), and processes one shard at a time, returning the shard's counts. The runtime
(`pipeline.runtime`) decides where and whether each task runs; nothing here knows about Ray, so a stage can be
tested by calling `setup()` and `process()` directly.
"""

from __future__ import annotations

import posixpath
import re
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import xxhash

from pipeline.config import PipelineConfig

Progress = Callable[[int], None]


_SUFFIXES = re.compile(r"(\.warc)?\.\w+(\.(gz|zst|lz4|bz2|xz))?$")


def shard_ids(paths: list[str]) -> dict[str, str]:
    """Stable shard ids from file names (CC names are unique); a short path hash settles collisions."""
    stems = {p: _SUFFIXES.sub("", posixpath.basename(p.rstrip("/"))) or "shard" for p in paths}
    counts: dict[str, int] = {}
    for s in stems.values():
        counts[s] = counts.get(s, 0) + 1
    return {p: s if counts[s] == 1 else f"{s}-{xxhash.xxh32_hexdigest(p.encode())[:6]}" for p, s in stems.items()}


@dataclass(frozen=True)
class ShardTask:
    """One unit of work: a shard id, the files it reads and the files it writes (name → path)."""

    shard_id: str
    inputs: tuple[str, ...]
    outputs: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class LangCounts:
    docs_in: int = 0
    docs_out: int = 0
    chars_in: int = 0
    chars_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class ShardStats:
    """What one shard did: documents, characters and bytes in and out per language, and removals by reason.

    Stages call `seen` for every document they read and `kept` or `removed` for each one; the totals land in the
    shard's completion record and `polyglot stats` adds them up.
    """

    def __init__(self) -> None:
        self.by_lang: dict[str, LangCounts] = defaultdict(LangCounts)
        self.removed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.counters: dict[str, int] = defaultdict(int)
        self.meta: dict[str, str] = {}

    def seen(self, lang: str, text: str, nbytes: int | None = None) -> None:
        """Count a document read; `nbytes` overrides the UTF-8 size (e.g. the raw HTML payload)."""
        c = self.by_lang[lang]
        c.docs_in += 1
        c.chars_in += len(text)
        c.bytes_in += len(text.encode("utf-8")) if nbytes is None else nbytes

    def kept(self, lang: str, text: str) -> None:
        c = self.by_lang[lang]
        c.docs_out += 1
        c.chars_out += len(text)
        c.bytes_out += len(text.encode("utf-8"))

    def removed_doc(self, lang: str, reason: str) -> None:
        self.removed[reason][lang] += 1

    def count(self, name: str, n: int = 1) -> None:
        """A free-form counter (e.g. records skipped before they became documents)."""
        self.counters[name] += n

    @property
    def docs_in(self) -> int:
        return sum(c.docs_in for c in self.by_lang.values())

    @property
    def docs_out(self) -> int:
        return sum(c.docs_out for c in self.by_lang.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "by_lang": {k: vars(v).copy() for k, v in sorted(self.by_lang.items())},
            "removed": {r: dict(sorted(d.items())) for r, d in sorted(self.removed.items())},
            "counters": dict(sorted(self.counters.items())),
            "meta": dict(sorted(self.meta.items())),
        }


class Stage(ABC):
    """Base class of every stage. Subclasses set `name`, plan their tasks and process one shard."""

    name: ClassVar[str]
    #: CPUs one worker of this stage needs (I/O-bound stages ask for less and run more workers).
    cpus_per_worker: ClassVar[float] = 1.0
    #: Bump when a change of code changes the outputs, so completed shards are redone.
    version: ClassVar[str] = "1"
    #: What `process` reports to `progress`: "docs", or the name of a counter it also records (e.g. "bytes").
    progress_unit: ClassVar[str] = "docs"

    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    def stage_dir(self) -> str:
        from pipeline.storage import join

        return join(self.cfg.run.work_dir, self.name)

    @abstractmethod
    def plan(self) -> list[ShardTask]:
        """The shard tasks of this stage (driver side; cheap, no data is read)."""

    @abstractmethod
    def config_parts(self) -> tuple[str, ...]:
        """Names of the config sections whose change must redo completed shards."""

    def input_fingerprint(self, task: ShardTask) -> str:
        """Identity of a task's inputs; default: size and mtime/ETag of each input file."""
        from pipeline.storage import fingerprint

        return "+".join(fingerprint(p) for p in task.inputs)

    def document_outputs(self, shard_id: str, *, removed: bool) -> dict[str, str]:
        """A document stage's outputs for a shard: `<stage>/<shard>.parquet`, and `<stage>/removed/<shard>.parquet`
        when the stage writes the documents it removes."""
        from pipeline.storage import join

        outputs = {"main": join(self.stage_dir(), f"{shard_id}.parquet")}
        if removed:
            outputs["removed"] = join(self.stage_dir(), "removed", f"{shard_id}.parquet")
        return outputs

    def max_workers(self) -> int | None:
        """Cap on parallel workers from the stage's own config (None: as many as the CPUs allow)."""
        return None

    def setup(self) -> None:
        """Worker-side, once: load models and other heavy state."""

    @abstractmethod
    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        """Worker-side: read the task's inputs, write its outputs atomically, return its counts.

        Call `progress(n)` every few hundred documents so the driver can show live progress.
        """
