"""Small tokenizers trained once per session on the project's demo paragraphs (13 languages, ~110k characters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.tokenizer.export import export_hf
from pipeline.tokenizer.settings import TokenizerSettings
from pipeline.tokenizer.train import train_sentencepiece

DEMO_DIR = Path(__file__).resolve().parents[2] / "scripts" / "demo_text"


def read_demo_texts() -> dict[str, list[str]]:
    """{variant: [paragraph or title, ...]} from scripts/demo_text/*.txt (comments and site headers dropped)."""
    texts: dict[str, list[str]] = {}
    for path in sorted(DEMO_DIR.glob("*.txt")):
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith(("#", "[")):
                continue
            lines.append(line[2:] if line.startswith("= ") else line)
        texts[path.stem] = lines
    return texts


@pytest.fixture(scope="session")
def demo_texts() -> dict[str, list[str]]:
    return read_demo_texts()


@pytest.fixture(scope="session")
def demo_lines(demo_texts: dict[str, list[str]]) -> list[str]:
    return [line for lang in sorted(demo_texts) for line in demo_texts[lang]]


@pytest.fixture(scope="session", params=["unigram", "bpe"])
def trained(request, demo_lines: list[str], tmp_path_factory) -> tuple[Path, Path, TokenizerSettings]:
    """(tokenizer.model, exported HF dir, settings) for a 4,000-piece model of each type."""
    settings = TokenizerSettings(model_type=request.param, vocab_size=4000)
    out = tmp_path_factory.mktemp(f"tok-{request.param}")
    model = train_sentencepiece(demo_lines, settings, out)
    return model, export_hf(model, out / "hf"), settings
