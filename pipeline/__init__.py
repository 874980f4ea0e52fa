"""polyglot-pipeline: raw web crawl in, balanced multilingual pretraining corpus out.

The public surface is `__all__`: `Pipeline` to build and run a pipeline from Python, the config model and its
loaders, and the base classes a third-party stage subclasses. Names are imported on first use, so `import
pipeline` stays cheap (no Ray, no models).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Pipeline": "pipeline.api",
    "StageFailed": "pipeline.api",
    "PipelineConfig": "pipeline.config",
    "ConfigError": "pipeline.config",
    "load_config": "pipeline.config",
    "parse_config": "pipeline.config",
    "Stage": "pipeline.stages.base",
    "ShardTask": "pipeline.stages.base",
    "ShardStats": "pipeline.stages.base",
    "StageResult": "pipeline.runtime",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the names of __all__, for type checkers and editors
    from pipeline.api import Pipeline, StageFailed  # noqa: F401
    from pipeline.config import ConfigError, PipelineConfig, load_config, parse_config  # noqa: F401
    from pipeline.runtime import StageResult  # noqa: F401
    from pipeline.stages.base import ShardStats, ShardTask, Stage  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pipeline' has no attribute '{name}'")
