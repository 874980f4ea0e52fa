"""The Python entry point: build a pipeline from a config file, a dict or a `PipelineConfig`, run all its stages or
some, and read what they made. The `polyglot` CLI is a thin shell over this class.

    from pipeline import Pipeline

    with Pipeline.from_yaml("configs/demo.yaml", overrides={"run": {"work_dir": "/tmp/demo"}}) as pipe:
        pipe.run(["extract", "langid", "filter"])
        docs = pipe.documents("filter")        # a datasets.Dataset of the kept documents

Nothing is printed: stage summaries and progress go through the `pipeline` logger (switch it on with
`logging.basicConfig(level=logging.INFO)`, or attach your own handler).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pipeline.config import (
    ConfigError,
    PipelineConfig,
    parse_config,
    with_absolute_paths,
)

if TYPE_CHECKING:
    import datasets

    from pipeline.runtime import StageResult

log = logging.getLogger(__name__)


class StageFailed(RuntimeError):
    """Some shards of a stage failed (each kept in `_state/<stage>/<shard>.error.json`); later stages were not run.

    `result` is the failed stage's result, `results` every stage's that ran before it, by name."""

    def __init__(self, result: StageResult, results: dict[str, StageResult]) -> None:
        self.result = result
        self.results = results
        super().__init__(f"{result.stage}: {len(result.failed)} shard(s) failed; later stages not run; errors in "
                         f"_state/{result.stage}/*.error.json")  # fmt: skip


def _merged(base: Any, overrides: Any) -> Any:
    """`base` with `overrides` merged in, mapping by mapping (a list or a value replaces)."""
    if isinstance(base, dict) and isinstance(overrides, dict):
        out = dict(base)
        for k, v in overrides.items():
            out[k] = _merged(base.get(k), v)
        return out
    return copy.deepcopy(overrides)


class Pipeline:
    """One configured pipeline over one work dir."""

    def __init__(self, config: PipelineConfig | dict[str, Any] | str | Path, *, ray_address: str | None = None) -> None:
        if isinstance(config, (str, Path)):
            config = Pipeline.from_yaml(config).config
        elif isinstance(config, dict):
            config = parse_config(config)
        self.config: PipelineConfig = with_absolute_paths(config)
        self.ray_address = ray_address

    @classmethod
    def from_yaml(cls, path: str | Path, *, overrides: dict[str, Any] | None = None,
                  ray_address: str | None = None) -> Pipeline:  # fmt: skip
        """A pipeline from a YAML file, with `overrides` (the same shape, e.g. {"run": {"work_dir": ...}}) merged
        in before validation; files the config names are relative to the YAML file."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"{p}: cannot read config file: {e.strerror or e}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from None
        if overrides:
            data = _merged(data, overrides)
        return cls(parse_config(data, str(p), p.parent), ray_address=ray_address)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base_dir: str | Path | None = None,
                  ray_address: str | None = None) -> Pipeline:  # fmt: skip
        """A pipeline from an already-parsed config (files it names are relative to `base_dir`)."""
        return cls(parse_config(data, "<dict>", base_dir), ray_address=ray_address)

    @property
    def work_dir(self) -> str:
        return self.config.run.work_dir

    @property
    def stages(self) -> list[str]:
        """The stages `run()` executes by default (run.stages, in pipeline order)."""
        return list(self.config.run.stages or [])

    def run(self, stages: Iterable[str] | None = None, *, force: bool = False,
            command: str = "pipeline.Pipeline.run") -> dict[str, StageResult]:  # fmt: skip
        """Run `stages` (default: run.stages) in pipeline order under the work-dir lock; each stage's result by
        name. Raises `StageFailed` when shards of a stage failed, or the stage's own error (kept in
        `_state/<stage>/_stage.error.json`); Ray stays up for the next call until `close()`."""
        from pipeline import stages as registry
        from pipeline.fusion import chains, run_chain
        from pipeline.runtime import (
            clear_stage_error,
            record_stage_error,
            work_dir_lock,
        )

        cfg = self.config
        known = [s.name for s in cfg.stage_specs()]
        wanted = list(self.stages if stages is None else stages)
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise ValueError(f"unknown stage(s): {', '.join(unknown)}; known: {', '.join(known)}")
        results: dict[str, StageResult] = {}
        with work_dir_lock(cfg.run.work_dir, command):
            for group in chains(cfg, [s for s in known if s in wanted]):
                try:
                    if len(group) == 1:
                        done = [registry.runner(group[0], cfg)(cfg, self.ray_address, force)]
                    else:  # consecutive document stages, one pass per shard (`run.fuse`)
                        done = run_chain(group, cfg, address=self.ray_address, force=force)
                except Exception as e:
                    name = group[0] if len(group) == 1 else getattr(e, "stage_name", None) or group[0]
                    e.stage_name = name  # type: ignore[attr-defined]  # which stage raised, for the caller's message
                    try:
                        record_stage_error(cfg, name, e)
                    except OSError:
                        log.debug("could not keep the error of %s in the work dir", name)
                    raise
                for name, result in zip(group, done, strict=True):
                    clear_stage_error(cfg, name)
                    results[name] = result
                for result in done:
                    if not result.ok:
                        raise StageFailed(result, results)
        return results

    def documents(self, stage: str | None = None) -> datasets.Dataset:
        """The kept documents of a document stage (default: the last one in run.stages) as a `datasets.Dataset`."""
        import datasets

        from pipeline.stages import document_stages
        from pipeline.storage import join, list_files

        docs = document_stages(self.config)
        if stage is None:
            listed = [s for s in docs if s in self.stages]
            stage = listed[-1] if listed else docs[-1]
        if stage not in docs:
            raise ValueError(f"{stage} is not a document stage; document stages: {', '.join(docs)}")
        files = list_files(join(self.work_dir, stage), ".parquet")
        if not files:
            raise FileNotFoundError(f"{stage}: no documents under {join(self.work_dir, stage)} (has it run?)")
        return datasets.load_dataset("parquet", data_files=files, split="train")

    def stats(self) -> dict[str, Any]:
        """The stats report (`polyglot stats --json`) as a dict."""
        from pipeline.report import collect

        return collect(self.work_dir)

    def close(self) -> None:
        """Stop the embedded Ray (or disconnect from a cluster); the next `run` starts or joins it again."""
        from pipeline.runtime import shutdown_ray

        shutdown_ray()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
