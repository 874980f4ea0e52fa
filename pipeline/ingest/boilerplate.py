"""A fast line-level boilerplate pass after main-content extraction, and the check for truncated main content.

Resiliparse's main-content heuristics keep some boilerplate inside the article's container (share buttons, tag
lists, "Leave a comment", lists of related headlines) and, on some pages (recipes, magazine and blog posts), keep
only the header or the teaser. Both are judged here on the extracted text, line by line, with signals that hold in
any language:

* **link lines** — a line that is the text of one link of the page, or a run of link texts joined by separators
  (``Home | News | Sport``) or by spaces (a short line without a sentence end), is navigation, not prose. Link
  texts come from one C-level regex over the raw HTML (anchors without markup inside; ~0.1 ms for a 100 KB page),
  not from walking the DOM in Python (Resiliparse's node collections cost ~0.5 ms per anchor to iterate: 10-50 ms
  per news page);
* **truncated main content** (`looks_truncated`, `recover_article`) — main text under a tenth of the visible text,
  while the visible text holds prose lines it lacks worth more than twice the main text;
* **the tail** — after the last prose line (a sentence end and at least `PROSE_WORDS` English-equivalent words),
  a tail made only of short lines (fewer than `TAIL_WORDS` each) is sharing, tagging and comment-form furniture;
* **repeated lines** (`drop_repeated_lines`) — a line that the page's text already holds is a copy the HTML shows
  twice (a slideshow's captions beside its thumbnails, a photo credit under each picture, a pull quote), not more
  of the article: later copies are dropped before the quality filter's repetition rules see them;
* **site repeats** (`pipeline.ingest.site_repeats`, per shard, run by the extract stage) — a line that is not prose
  and repeats on several pages of the same host in the shard is the site's template.

Word counts are script-aware (`line_words`, from the filter's units per script in `pipeline.text.segment`), so a
Chinese, Japanese or Korean line is measured like its English translation, not as one "word".

Measured on the article-extraction benchmark (181 real pages; thresholds chosen on half of them, held-out half
reported beside it by ``scripts/bench/extraction.py``).
"""

from __future__ import annotations

import html as html_lib
import re

from pipeline.text.scripts import dominant_script
from pipeline.text.segment import (
    SENTENCE_MARK_RE,
    ScriptProfile,
    char_units,
    ends_sentence,
    profile_for,
)

__all__ = [
    "PROSE_WORDS",
    "TAIL_WORDS",
    "anchor_texts",
    "drop_repeated_lines",
    "is_prose",
    "line_words",
    "text_profile",
    "looks_truncated",
    "recover_article",
    "remove_boilerplate",
]

#: A prose line ends a sentence and holds at least this many (English-equivalent) words.
PROSE_WORDS = 8
#: Lines after the last prose line are dropped when every one of them is shorter than this, and they are at most
#: `TAIL_LINES` (a longer run of short lines is content: a forum thread, a poem, a list of steps).
TAIL_WORDS = 12
TAIL_LINES = 10
#: A line whose characters are at least this share of link texts is a link line.
LINK_SHARE = 0.8
#: Truncated main content: main text below this share of the visible text, while prose lines that main content
#: lacks add up to at least `MISSING_PROSE` characters and to more than twice the main text.
TRUNCATED_SHARE = 0.1
MISSING_PROSE = 500
#: The recovered article starts at the first paragraph of prose this long (English-equivalent words, ~200 characters
#: of English), or at the first prose line when there is none (a recipe's steps).
LONG_PARAGRAPH_WORDS = 33

# Bounded repeats: a page of "<a" without ">" must not make the scan quadratic (no single page may stall a shard).
_ANCHOR = re.compile(r"<a\b[^<>]{0,2000}>([^<]{1,300})</a\s{0,10}>", re.IGNORECASE)
#: Link runs joined by single spaces are looked for in lines of at most this many words, anchors of at most this many.
_RUN_MAX_WORDS = 40
_ANCHOR_MAX_WORDS = 8
_SEPARATORS = re.compile(r"\s*(?:[|•·»›/]|\s{2,})\s*")
_BULLET = "•*-–—·▪► \t"


def anchor_texts(html: str) -> frozenset[str]:
    """Texts of the page's links that hold no markup, whitespace collapsed (entities decoded)."""
    out = set()
    for t in _ANCHOR.findall(html):  # the group's strings in one call: no match object per link (~20% less here)
        if "&" in t:
            t = html_lib.unescape(t)
        out.add(" ".join(t.split()))
    out.discard("")
    return frozenset(out)


def text_profile(text: str) -> ScriptProfile:
    """The units a text's lines are counted in: its dominant script's profile (one script lookup per text, not per
    line: the lookup is a numpy pass that costs more than the rest of the pass on a short line)."""
    return profile_for(dominant_script(text))


_LATIN = profile_for("Latn")


def line_words(line: str, profile: ScriptProfile = _LATIN) -> float:
    """English-equivalent words in a line of a text in `profile`'s script: whitespace words (eojeols / 0.68 for
    Korean), or characters per English word for scripts without spaces (a Han character is 1/1.5 word). An ASCII
    line is counted in whitespace words whatever the text's script (an English footer on a Chinese page)."""
    n = len(line.split())
    if line.isascii():
        return float(n)
    if profile.unit == "char":
        return len(char_units(line)) / profile.chars_per_word
    return n / profile.chars_per_word  # chars_per_word: 1.0 for alphabets, the eojeols per English word for Hangul


def is_prose(line: str, profile: ScriptProfile = _LATIN) -> bool:
    """A stripped line that reads as running text: a sentence end and at least `PROSE_WORDS` words."""
    return ends_sentence(line) and line_words(line, profile) >= PROSE_WORDS


def _link_share(line: str, anchors: frozenset[str]) -> float:
    raw = line.strip(_BULLET)
    words = raw.split()
    if not words:
        return 0.0
    s = " ".join(words)
    if s in anchors:
        return 1.0
    if _has_separator(raw):
        parts = [p for p in _SEPARATORS.split(raw) if p]
        if len(parts) >= 2:
            return sum(len(p) for p in parts if p in anchors) / sum(len(p) for p in parts)
    return _covered_by_links(s, anchors, words)


def _has_separator(raw: str) -> bool:
    """Whether `raw` holds two spaces in a row or a separator character (``| • · » › /``, tab). Written out: a
    generator over the characters costs more than the scans, on every line of every page."""
    return ("  " in raw or "|" in raw or "/" in raw or "\t" in raw or "•" in raw or "·" in raw or "»" in raw
            or "›" in raw)  # fmt: skip


def _anchor_heads(anchors: frozenset[str]) -> dict[str, tuple[int, ...]]:
    """For each first word of a link text: the word counts (at most `_ANCHOR_MAX_WORDS`) of the link texts that start
    with it, largest first. A piece of a line is a link text only if its first word is a key here and its length one
    of these: `_covered_by_links` tries those alone, not every length at every word (the same matches in the same
    order; ~40 µs a line it looks at, on pages of ~20 lines, became ~5). Kept for the last `anchors` (one page's)."""
    global _heads_for
    cached = _heads_for  # one read of the pair: another thread may replace it meanwhile
    if cached[0] is anchors:
        return cached[1]
    heads: dict[str, set[int]] = {}
    for a in anchors:
        words = a.split(" ")
        if len(words) <= _ANCHOR_MAX_WORDS:
            heads.setdefault(words[0], set()).add(len(words))
    index = {w: tuple(sorted(ns, reverse=True)) for w, ns in heads.items()}
    _heads_for = (anchors, index)
    return index


_heads_for: tuple[frozenset[str] | None, dict[str, tuple[int, ...]]] = (None, {})


def _covered_by_links(s: str, anchors: frozenset[str], words: list[str] | None = None) -> float:
    """Share of a short line made of link texts side by side (``Home About us Contact``), matched greedily, longest
    first. Prose and long lines are not looked at: a sentence is not navigation. `words`: ``s.split(" ")`` when the
    caller has them (`s` joins them with single spaces)."""
    if words is None:
        words = s.split(" ")
    if len(words) > _RUN_MAX_WORDS or ends_sentence(s):
        return 0.0
    heads = _anchor_heads(anchors)
    covered, i, end = 0, 0, len(words)
    while i < end:
        for n in heads.get(words[i], ()):
            if n <= end - i and (piece := " ".join(words[i : i + n])) in anchors:
                covered += len(piece)
                i += n
                break
        else:
            i += 1
    return covered / len(s)


def remove_boilerplate(
    text: str, anchors: frozenset[str] = frozenset(), profile: ScriptProfile | None = None
) -> str:
    """`text` without link lines and without a tail of short lines after the last prose line (module docstring).
    `profile`: the units of the text's script (default: `text_profile(text)`)."""
    # An ASCII text's lines are counted in whitespace words whatever the profile: no script lookup for it.
    profile = profile or (_LATIN if text.isascii() else text_profile(text))
    lines = text.split("\n")
    if anchors:
        lines = [ln for ln in lines if ln.isspace() or not ln or _link_share(ln.strip(), anchors) < LINK_SHARE]
    last, tail = len(lines) - 1, 0
    while last >= 0:  # from the end: the last prose line, checking that everything after it is short furniture
        s = lines[last].strip()
        if s.strip(_BULLET):  # an empty list item ("•" of an icon) is not a line of its own
            if is_prose(s, profile):
                break
            tail += 1
            if tail > TAIL_LINES or line_words(s, profile) >= TAIL_WORDS:
                return "\n".join(lines).strip()
        last -= 1
    if last >= 0:
        lines = lines[: last + 1]
    return "\n".join(lines).strip()


def drop_repeated_lines(text: str) -> tuple[str, int]:
    """`text` with the later copies of each non-blank line removed (compared stripped), and how many were removed;
    blank lines that a removal leaves side by side are merged. A page without copies is returned as it is."""
    lines = text.split("\n")
    keys = [ln.strip() for ln in lines]
    filled = [k for k in keys if k]
    if len(set(filled)) == len(filled):
        return text, 0
    seen: set[str] = set()
    out: list[str] = []
    dropped = 0
    after_drop = False
    for line, key in zip(lines, keys):
        if not key:
            if not (after_drop and (not out or not out[-1].strip())):  # a dropped paragraph's blank line goes too
                out.append(line)
        elif key in seen:
            dropped += 1
            after_drop = True
        else:
            seen.add(key)
            out.append(line)
            after_drop = False
    return "\n".join(out).strip(), dropped


def _prose_lines(text: str, profile: ScriptProfile) -> list[str]:
    return [s for s in (ln.strip(_BULLET) for ln in text.split("\n")) if s and is_prose(s, profile)]


def _long(line: str, profile: ScriptProfile) -> bool:
    """A long paragraph of prose: `LONG_PARAGRAPH_WORDS` English-equivalent words and sentences (a tag cloud or a
    keyword string is long too, but has no sentence end)."""
    if line_words(line, profile) < LONG_PARAGRAPH_WORDS:
        return False
    return ends_sentence(line) or len(SENTENCE_MARK_RE.findall(line)) >= 2


def looks_truncated(main: str, full: str) -> bool:
    """Whether main-content extraction kept only a header or teaser of a page whose visible text holds the article.

    True when the main text is under `TRUNCATED_SHARE` of all visible text while the visible text holds prose
    (`is_prose` lines: a recipe's steps count as much as a magazine's long paragraphs), absent from the main text,
    worth at least `MISSING_PROSE` characters and twice the main text.
    """
    if len(main) >= TRUNCATED_SHARE * len(full) or len(full) < MISSING_PROSE:
        return False
    missing = sum(len(p) for p in _prose_lines(full, text_profile(full)) if p not in main)
    return missing >= MISSING_PROSE and missing > 2 * len(main)


def recover_article(full: str, anchors: frozenset[str] = frozenset()) -> str:
    """The article inside all visible text, without link lines and short-line tail.

    Used when main content came out truncated (`looks_truncated`). The article starts at the first long paragraph
    of prose (or the first prose line: a recipe's steps), extended upwards over the lines above it up to the nearest
    link line (the site's navigation): a title, a teaser, a list of ingredients. It ends before the first run of more
    than `TAIL_LINES` lines that are not prose (sidebars, footers); `remove_boilerplate` cuts its own tail.
    """
    profile = text_profile(full)
    lines = full.split("\n")
    first = next((i for i, ln in enumerate(lines) if _long(ln.strip(), profile)), None)
    if first is None:
        first = next((i for i, ln in enumerate(lines) if is_prose(ln.strip(_BULLET), profile)), 0)
    start = first
    while start > 0 and anchors:
        above = lines[start - 1].strip()
        if above and _link_share(above, anchors) >= LINK_SHARE:
            break
        start -= 1
    end, gap = first, 0  # the article ends before the first run of more than TAIL_LINES lines that are not prose
    for i in range(first, len(lines)):
        s = lines[i].strip(_BULLET)
        if not s:
            continue
        if is_prose(s, profile):
            end, gap = i, 0
        else:
            gap += 1
            if gap > TAIL_LINES:
                break
    else:
        end = len(lines) - 1
    return remove_boilerplate("\n".join(lines[start : end + 1]), anchors, profile)
