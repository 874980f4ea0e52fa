"""User rules for the tests: what a user writes in their own module and names in the YAML by import path."""

from __future__ import annotations

from pipeline.filter.view import DocView


def digit_frac(view: DocView) -> float:
    """Share of the text's characters that are digits (price lists, timetables, lottery results)."""
    text = view.text
    return sum(ch.isdigit() for ch in text) / max(len(text), 1)


class KeywordCount:
    """Occurrences of one keyword (a rule class: built once with its params, then measured per document)."""

    def __init__(self, keyword: str) -> None:
        self.keyword = keyword.lower()
        self.name = f"count_{self.keyword}"

    def measure(self, view: DocView) -> float | None:
        return float(view.lower.count(self.keyword)) if view.lines else None


NOT_CALLABLE = 42
