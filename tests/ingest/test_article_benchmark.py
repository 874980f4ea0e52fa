"""Acceptance on real pages: the default extraction's quality on the article-extraction benchmark (../shared/data)."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from pipeline.ingest.warc import ExtractSettings, extract_page

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    """scripts/bench/extraction.py, for the benchmark's own scoring (one definition, not two)."""
    spec = importlib.util.spec_from_file_location("bench_extraction", ROOT / "scripts" / "bench" / "extraction.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_default_extraction_reaches_the_quality_target_on_both_halves(shared_data: Path) -> None:
    data = shared_data / "article-extraction"
    if not (data / "ground-truth.json").is_file():
        pytest.skip(f"article-extraction benchmark not found in {shared_data}")
    bench = _bench()
    truth = {k: v.get("articleBody", "") for k, v in json.loads((data / "ground-truth.json").read_text()).items()}
    pages = {}
    for k in sorted(truth):
        with gzip.open(data / "html" / f"{k}.html.gz", "rt", encoding="utf-8") as fh:
            pages[k] = fh.read()
    default = ExtractSettings(min_text_chars=20)
    main_only = default.model_copy(update=dict(remove_boilerplate=False, recover_truncated=False))
    scores = {}
    for name, opt in (("default", default), ("main-only", main_only)):
        counts = {k: bench.page_counts(truth[k], extract_page(h, opt)[0]) for k, h in pages.items()}
        for half, keys in (("dev", [k for k in pages if k[0] < "8"]), ("held-out", [k for k in pages if k[0] >= "8"])):
            scores[name, half] = bench.score([counts[k] for k in keys])
    for half in ("dev", "held-out"):
        f1, precision, recall = scores["default", half]
        assert f1 >= 0.93, (half, scores)
        assert precision > scores["main-only", half][1], (half, scores)  # the pass buys precision on both halves
        assert recall >= scores["main-only", half][2] - 0.02, (half, scores)  # and costs little recall
