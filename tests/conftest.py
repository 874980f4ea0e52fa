"""Shared test fixtures: where the real third-party data lives, and one Ray session for the whole run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real crawl / UDHR / Tatoeba data beside the project (../shared/data); skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real third-party data not found at {SHARED_DATA} (../shared/data beside the project)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_tokenizer(tmp_path_factory):
    """A 4,000-piece BPE SentencePiece processor trained on the demo paragraphs (13 languages), once per session."""
    import sentencepiece as spm

    from pipeline.tokenizer.settings import TokenizerSettings
    from pipeline.tokenizer.train import train_sentencepiece
    from tests.tokenizer.conftest import read_demo_texts

    texts = read_demo_texts()
    lines = [line for lang in sorted(texts) for line in texts[lang]]
    model = train_sentencepiece(lines, TokenizerSettings(model_type="bpe", vocab_size=4000), tmp_path_factory.mktemp("tok"))
    return spm.SentencePieceProcessor(model_file=str(model))


@pytest.fixture(scope="session")
def ray_session():
    """One embedded local Ray for the whole test session (start-up costs ~4 s; see the Ray notes)."""
    import ray
    from ray import cloudpickle

    import tests
    from pipeline.config import RaySection
    from pipeline.runtime import ensure_ray

    cloudpickle.register_pickle_by_value(tests)  # test-only stages travel to the workers by value
    ensure_ray(RaySection(num_cpus=2, object_store_mb=256))
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True)
def _ray_up_when_asked(request: pytest.FixtureRequest) -> None:
    """A test that asks for Ray gets it, also when a CLI run in an earlier test shut it down: it must not fall back to
    running its small stages in the pytest process (`ray.in_driver_below_mb`), where a planted worker crash would end
    the whole session."""
    if "ray_session" in request.fixturenames:
        from pipeline.config import RaySection
        from pipeline.runtime import ensure_ray

        ensure_ray(RaySection(num_cpus=2, object_store_mb=256))
