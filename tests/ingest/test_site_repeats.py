"""Site repeats over a stream of pages: the same result whatever the slices of keys and groups of sites held in
memory, equal to counting every (site, line) exactly."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

import pipeline.ingest.site_repeats as site_repeats
from pipeline.ingest.site_repeats import SiteRepeats, drop_site_repeats, page_lines, site_template

PROSE = "The council met on Tuesday and approved the new budget for schools after a long and careful debate."


def exact(pages: list[tuple[str, str]], min_pages: int) -> tuple[list[str], int]:
    """The rule with a Counter of strings per site: what `SiteRepeats` must give."""
    seen: dict[str, Counter[str]] = {}
    for host, text in pages:
        seen.setdefault(host, Counter()).update(page_lines(text))
    templates = {h: site_template([ln for ln, n in c.items() if n >= min_pages]) for h, c in seen.items()}
    out, dropped = [], 0
    for host, text in pages:
        lines = text.split("\n")
        kept = [ln for ln in lines if ln.strip() not in templates[host]]
        out.append(text if len(kept) == len(lines) else "\n".join(kept).strip())
        dropped += len(lines) - len(kept)
    return out, dropped


def random_pages(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pages = []
    for i in range(n):
        site = f"s{rng.randrange(n // 6 + 1)}.example"
        nav = [f"Menu {site} {k}" for k in range(rng.randrange(6))]
        shared = [f"Tag {rng.randrange(8)}", "  Home › News  ", f"{PROSE} {site}"]  # a prose line repeats too
        body = [f"Story {i} line {k}: {PROSE}" for k in range(rng.randrange(1, 4))]
        lines = nav + rng.sample(shared, rng.randrange(len(shared) + 1)) + body + [""] * rng.randrange(2)
        rng.shuffle(lines)
        pages.append((site, "\n".join(lines)))
    return pages


@pytest.mark.parametrize("chunk_keys, group_lines", [(1 << 17, 20_000), (64, 7)])
@pytest.mark.parametrize("min_pages", [2, 3])
def test_equals_exact_counting_whatever_is_held_in_memory(monkeypatch, chunk_keys: int, group_lines: int,
                                                          min_pages: int) -> None:  # fmt: skip
    monkeypatch.setattr(site_repeats, "CHUNK_KEYS", chunk_keys)
    monkeypatch.setattr(site_repeats, "GROUP_LINES", group_lines)
    pages = random_pages(600, seed=min_pages)
    expected = exact(pages, min_pages)
    assert expected[1] > 100  # the fixture has templates to find
    assert drop_site_repeats(pages, min_pages) == expected


def test_three_passes_over_a_stream(tmp_path: Path) -> None:
    site = [("ex.com", f"Home › Politics\n{PROSE} Page {i}.\nYour city, your news") for i in range(3)]
    other = [("other.org", "Home › Politics\nYour city, your news")]
    repeats = SiteRepeats(str(tmp_path), 3)
    for host, text in site + other:
        repeats.add(host, text)
    assert repeats.find(iter(site + other)) == 1
    assert [repeats.strip(h, t) for h, t in site] == [(f"{PROSE} Page {i}.", 2) for i in range(3)]
    assert repeats.strip(*other[0]) == (other[0][1], 0)
    assert list(tmp_path.iterdir()) == []  # the key and line files are gone once the templates are decided


def test_too_few_pages_or_no_repeats_keep_every_page(tmp_path: Path) -> None:
    pages = [("ex.com", "Menu\nA"), ("ex.com", "Menu\nB")]
    assert drop_site_repeats(pages, 3) == (["Menu\nA", "Menu\nB"], 0)
    assert drop_site_repeats([], 3) == ([], 0)
    repeats = SiteRepeats(str(tmp_path), 2)
    repeats.add("ex.com", "A")
    repeats.add("ex.com", "B")
    assert repeats.find([("ex.com", "A"), ("ex.com", "B")]) == 0 and repeats.strip("ex.com", "A") == ("A", 0)


@pytest.mark.parametrize("chunk_keys", [1 << 17, 64])
def test_parts_read_elsewhere_add_up_to_the_whole(tmp_path: Path, monkeypatch, chunk_keys: int) -> None:
    """A shard read in parts (each on its own worker, keys saved) decides the templates of the whole shard."""
    import io

    monkeypatch.setattr(site_repeats, "CHUNK_KEYS", chunk_keys)
    pages = random_pages(600, seed=5)
    merged = SiteRepeats(str(tmp_path), 3)
    for k, (lo, hi) in enumerate([(0, 250), (250, 251), (251, 251), (251, 600)]):
        (tmp_path / f"p{k}").mkdir()
        part = SiteRepeats(str(tmp_path / f"p{k}"), 3)
        for host, text in pages[lo:hi]:
            part.add(host, text)
        buf = io.BytesIO()
        part.save_keys(buf)
        assert list((tmp_path / f"p{k}").iterdir()) == []
        merged.add_keys(io.BytesIO(buf.getvalue()), hi - lo)
        with pytest.raises(ValueError):
            SiteRepeats(str(tmp_path / f"p{k}"), 3).add_keys(io.BytesIO(buf.getvalue()[:-1]), hi - lo)
    merged.find(iter(pages))
    out = [merged.strip(h, t) for h, t in pages]
    expected = exact(pages, 3)
    assert [t for t, _ in out] == expected[0] and sum(n for _, n in out) == expected[1] > 100
