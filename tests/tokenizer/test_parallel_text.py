"""The parallel text the parity report measures: the bundled sentences and `read_parallel_text`'s checks."""

from __future__ import annotations

import unicodedata

import pytest

from pipeline.lang.codes import normalize_label
from pipeline.tokenizer.parity import PARALLEL_DIR, read_parallel_text


def test_bundled_parallel_text_is_aligned_and_nfc() -> None:
    parallel = read_parallel_text(PARALLEL_DIR)
    assert sorted(parallel) == sorted(normalize_label(v) for v in
                                      ["ko", "en", "ja", "zh-Hans", "zh-Hant", "ru", "uk", "de", "fr", "es", "vi", "th", "ar"])
    assert {len(s) for s in parallel.values()} == {40}
    for lang, sentences in parallel.items():
        assert len(set(sentences)) == 40, lang
        for s in sentences:
            assert s == s.strip() and unicodedata.is_normalized("NFC", s)
    # numbers are words, so digit splitting does not skew the comparison
    assert not any(ch.isdigit() for s in parallel.values() for line in s for ch in line)


def test_parallel_text_errors(tmp_path) -> None:
    (tmp_path / "en.txt").write_text("One.\nTwo.\n", "utf-8")
    (tmp_path / "de.txt").write_text("Eins.\n", "utf-8")
    with pytest.raises(ValueError, match="not line-aligned"):
        read_parallel_text(tmp_path)
    (tmp_path / "de.txt").write_text("Eins.\n\nZwei.\n", "utf-8")
    with pytest.raises(ValueError, match="blank line 2"):
        read_parallel_text(tmp_path)
    (tmp_path / "de.txt").write_text("Eins.\nZwei.\n\n", "utf-8")  # trailing blank lines are fine
    (tmp_path / "eng.txt").write_text("One.\nTwo.\n", "utf-8")
    with pytest.raises(ValueError, match="a second file for eng_Latn"):
        read_parallel_text(tmp_path)
    (tmp_path / "eng.txt").unlink()
    (tmp_path / "notes.txt").write_text("a\nb\n", "utf-8")
    with pytest.raises(ValueError, match="not a language code"):
        read_parallel_text(tmp_path)
    (tmp_path / "notes.txt").unlink()
    assert read_parallel_text(tmp_path) == {"deu_Latn": ["Eins.", "Zwei."], "eng_Latn": ["One.", "Two."]}
