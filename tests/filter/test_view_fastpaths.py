"""The per-line fast paths of `DocView` give what the plain per-line code gives (see pipeline/filter/view.py)."""

from __future__ import annotations

import pytest

from pipeline.filter import view as view_mod
from pipeline.filter.view import DocView
from pipeline.text import segment
from pipeline.text.segment import profile_for


def test_lower_into_foreign_is_complete() -> None:
    """Every character outside the foreign class whose lower case holds a foreign run character is listed."""
    gate, run = view_mod._FOREIGN_CHAR_RE.match, view_mod._FOREIGN_RUN_RE.search
    found = "".join(c for c in map(chr, range(0x110000)) if not gate(c) and run(c.lower()))
    assert found == view_mod._LOWER_INTO_FOREIGN


def _slow_line_sizes(v: DocView) -> list[float]:
    k = v.profile.chars_per_word
    out = []
    for line, n in zip(v.lines, v.line_units, strict=True):
        if n and view_mod._FOREIGN_CHAR_RE.search(line):
            runs = view_mod._FOREIGN_RUN_RE.findall(line.lower())
            n = n - sum(map(len, runs)) + len(runs) * k
        out.append(float(n))
    return out


TEXTS = [
    "第一行 ABC 是 42 个。\n\n  第二行İstanbul x\u0387y  \n·\n\u3000\nΑΣ.Σ ΣΑΣ 中文\n\x01ab\x01 cd",
    "Kelvin \u212a 中 and Ω\u2126 ohm。\nẞ straße 中文 TEST\n",
    "  \n\t\n",
    "无外文的一行。\n第二行！",
]


@pytest.mark.parametrize("text", TEXTS)
def test_line_facts_match_per_line_code(text: str) -> None:
    for script in ("Hans", "Latn"):
        v = DocView(text, profile_for(script))
        assert v.lower_lines == [line.lower() for line in v.lines]
        assert v.line_ends_sentence == [segment.ends_sentence(line) for line in v.lines]
        if v.char_units:
            assert v.line_sizes == _slow_line_sizes(v)
        marks = view_mod._MID_SENTENCE_MARKS
        assert v.line_has_sentence_mark == [
            end or any(m in line for m in marks) for end, line in zip(v.line_ends_sentence, v.lines, strict=True)
        ]
