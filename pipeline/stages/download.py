"""`polyglot download`: fetch a crawl's path list, pick shards, download them in parallel on Ray.

The HTTP work (retries with backoff, Range resume, size and full gzip verification) is in `pipeline.fetch.http`;
this stage plans which shards to fetch and where they go, mirroring Common Crawl's `crawl-data/...` layout below
`<work_dir>/download/`. A shard gets its completion record only after its file is verified and has its final name.

Decisions:
- The chosen path list is cached in `<work_dir>/download/<crawl>.<kind>.selected.json` (keyed by base URL and
  selection), so reruns and `extract` (which plans from this stage) need no request for `<kind>.paths.gz`.
- A shard's identity is its URL alone (`input_fingerprint`) and no config section is hashed: retries, timeouts,
  `parallel` and `verify_gzip` decide how a file is fetched, not what it holds, and changing them must not
  re-download hundreds of 1 GB shards. A new base URL or selection gives new URLs/tasks, which are fetched.
- Local targets (a path or `file://`) are fetched in place: the `.part` beside the final name survives a killed
  run and is resumed by the next. Remote targets (`s3://...`) are fetched to local scratch (resumable there), then
  uploaded under a unique temporary name, size-checked, and renamed; the final name exists only when complete.
- Shard ids are the file stem plus the kind (`CC-MAIN-...-00001.warc`, `....wet`): a segment's WARC and WET
  share a stem, and fetching both kinds into one work dir must not make their completion records overwrite
  each other.
- Progress is reported in bytes transferred (a restart after a corrupt file counts again).
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import uuid
from pathlib import Path
from typing import Any

import xxhash

from pipeline.config import DownloadSection
from pipeline.fetch.http import FetchResult, fetch_file, read_paths_list, select_paths
from pipeline.stages.base import Progress, ShardStats, ShardTask, Stage, shard_ids
from pipeline.storage import exists, fs_and_path, is_local, join, read_json, write_json

#: Where remote targets are staged before upload: `<tmp>/polyglot-download/<hash of URL>/<file name>`.
SCRATCH_DIR = Path(tempfile.gettempdir()) / "polyglot-download"


def upload_atomic(local: str | Path, dest_url: str) -> int:
    """Copy a local file to an fsspec URL so that `dest_url` appears only complete: upload under a unique
    temporary sibling, check its size, then rename. Returns the size; on failure the temporary is removed and
    `dest_url` is untouched. (On object stores the rename is a server-side copy, which is itself atomic.)"""
    size = os.path.getsize(local)
    fs, path = fs_and_path(dest_url)
    parent = posixpath.dirname(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        fs.put_file(str(local), tmp)
        uploaded = fs.size(tmp)
        if uploaded != size:
            raise OSError(f"upload of {local} to {dest_url} stored {uploaded} of {size} bytes")
        fs.mv(tmp, path)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp)
    return size


def fetch_to_remote(
    url: str, dest_url: str, *, scratch_dir: str | Path | None = None, **fetch_kwargs: Any
) -> FetchResult:
    """`fetch_file` into local scratch (default `SCRATCH_DIR`), then `upload_atomic` to `dest_url` (any fsspec URL).

    The scratch name is derived from the URL, so a `.part` left by a killed run on this machine is resumed. The
    verified scratch file is removed once uploaded, or when the upload fails (the next attempt fetches again).
    The returned result's `path` is that scratch path, already removed.
    """
    root = Path(scratch_dir if scratch_dir is not None else SCRATCH_DIR)
    scratch = root / xxhash.xxh3_64_hexdigest(url.encode()) / posixpath.basename(url.rstrip("/"))
    res = fetch_file(url, scratch, **fetch_kwargs)
    try:
        upload_atomic(res.path, dest_url)
    finally:
        scratch.unlink(missing_ok=True)
    return res


class DownloadStage(Stage):
    name = "download"
    version = "1"
    progress_unit = "bytes"
    cpus_per_worker = 0.25  # I/O bound: several downloads share a CPU

    def _section(self) -> DownloadSection:
        if self.cfg.download is None:
            raise ValueError("the config has no `download` section")
        return self.cfg.download

    def config_parts(self) -> tuple[str, ...]:
        return ()  # the URL (input_fingerprint) alone decides a shard's bytes; see the module docstring

    def max_workers(self) -> int | None:
        return self._section().parallel

    def selected_paths_file(self) -> str:
        d = self._section()
        return join(self.stage_dir(), f"{d.crawl}.{d.kind}.selected.json")

    def selected_paths(self) -> list[str]:
        """The chosen shard paths, cached in the work dir so reruns and later stages need no network."""
        d = self._section()
        cache = self.selected_paths_file()
        key = d.select.model_dump(mode="json")
        if exists(cache):
            try:
                saved = read_json(cache)
            except (OSError, ValueError):
                saved = {}  # unreadable: fetch the list again and rewrite it
            if saved.get("select") == key and saved.get("base_url") == d.base_url and saved.get("paths"):
                return list(saved["paths"])
        paths = read_paths_list(
            d.base_url, d.crawl, d.kind, retries=d.retries, backoff_s=d.backoff_s, timeout_s=d.timeout_s
        )
        chosen = select_paths(
            paths, mode=d.select.mode, n=d.select.n, seed=d.select.seed, explicit=d.select.paths or None
        )
        body = {"base_url": d.base_url, "crawl": d.crawl, "kind": d.kind, "select": key, "paths": chosen,
                "total_in_list": len(paths)}
        write_json(cache, body)
        return chosen

    def plan(self) -> list[ShardTask]:
        d = self._section()
        paths = self.selected_paths()
        ids = shard_ids(paths)
        return [
            ShardTask(
                shard_id=f"{ids[rel]}.{d.kind}",  # a segment's WARC and WET share a stem; their records must not
                inputs=(),
                outputs={"main": join(self.stage_dir(), *rel.split("/"))},
                params={"url": f"{d.base_url.rstrip('/')}/{rel}"},
            )
            for rel in paths
        ]

    def input_fingerprint(self, task: ShardTask) -> str:
        return task.params["url"]

    def process(self, task: ShardTask, progress: Progress) -> ShardStats:
        d = self._section()
        url = task.params["url"]
        dest = task.outputs["main"]
        kwargs: dict[str, Any] = dict(
            retries=d.retries, backoff_s=d.backoff_s, timeout_s=d.timeout_s, verify_gzip=d.verify_gzip,
            on_progress=progress,
        )
        if is_local(dest):
            res = fetch_file(url, fs_and_path(dest)[1], **kwargs)  # a file:// URL becomes its local path
        else:
            res = fetch_to_remote(url, dest, **kwargs)
        stats = ShardStats()
        stats.count("files")
        stats.count("bytes", res.bytes)
        stats.count("attempts", res.attempts)
        stats.count("resumed", int(res.resumed))
        stats.meta["sha256"] = res.sha256
        stats.meta["url"] = url
        return stats
