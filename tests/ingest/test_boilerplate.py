"""The boilerplate pass after main content, and recovery of truncated main content, on self-made pages."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pipeline.ingest.boilerplate import (
    TAIL_LINES,
    anchor_texts,
    drop_repeated_lines,
    is_prose,
    line_words,
    looks_truncated,
    recover_article,
    remove_boilerplate,
    text_profile,
)
from pipeline.ingest.site_repeats import drop_site_repeats
from pipeline.ingest.warc import Document, ExtractSettings, extract_page, extract_stream
from pipeline.ingest.warc_writer import WarcWriter

EN = "The committee approved the new budget on Tuesday after a long debate about school funding in the region."
ZH = "委员会在周二经过长时间的辩论后批准了新的预算，主要讨论了该地区的学校经费问题。"
JA = "委員会は火曜日、地域の学校予算について長い議論の末に新しい予算を承認した。"
KO = "위원회는 화요일 지역 학교 예산에 관한 긴 논의 끝에 새 예산을 승인했다."
RELATED = ["Mayor opens new bridge downtown", "Local team wins the regional cup", "Storm warning for the weekend"]


def page(body: str) -> str:
    nav = "".join(f'<a href="/s/{i}">Section {i}</a> ' for i in range(6))
    return f"<html><head><title>t</title></head><body><header><nav>{nav}</nav></header>{body}</body></html>"


def article(paragraphs: list[str], extra: str = "") -> str:
    ps = "".join(f"<p>{p}</p>" for p in paragraphs)
    return page(f"<main><article><h1>Budget approved</h1>{ps}{extra}</article></main>")


# -- units ------------------------------------------------------------------------------------------------------------


def test_line_words_are_script_aware() -> None:
    assert line_words(EN) == 18
    for text in (ZH, JA, KO):  # the same sentence: about as many English-equivalent words
        profile = text_profile(text)
        assert 12 <= line_words(text, profile) <= 26, (text, line_words(text, profile))
        assert is_prose(text, profile)
        assert line_words(text) < line_words(text, profile)  # as bare whitespace words they would look short
    assert line_words("Copyright 2026 Example Inc.", text_profile(ZH)) == 4  # an ASCII line on a Chinese page
    assert not is_prose("Share this article")
    assert not is_prose("Budget approved.")  # a sentence, but too short to be prose


def test_anchor_texts() -> None:
    html = '<p>See <a href="/a">the full   report</a> and <a href="/b"><b>bold</b></a> <a href=/c>Tom &amp; Jerry</a></p>'
    assert anchor_texts(html) == {"the full report", "Tom & Jerry"}  # anchors with markup inside are not read


# -- the pass ---------------------------------------------------------------------------------------------------------


def test_link_lines_go_running_text_with_links_stays() -> None:
    related = "".join(f'<h3><a href="/r/{i}">{t}</a></h3>' for i, t in enumerate(RELATED))
    body = f'<p>{EN}</p>{related}<p>Read <a href="/report">the report</a> for details. {EN}</p>'
    html = page(f"<main><article><h1>Budget approved</h1>{body}</article></main>")
    text, _, _ = extract_page(html, ExtractSettings())
    assert EN in text and "Read the report for details." in text
    for t in RELATED:
        assert t not in text
    raw, _, _ = extract_page(html, ExtractSettings(remove_boilerplate=False))
    assert all(t in raw for t in RELATED)  # Resiliparse alone keeps them


def test_menu_line_of_links_joined_by_separators() -> None:
    anchors = frozenset({"Home", "News", "Sport"})
    assert remove_boilerplate(f"{EN}\nHome | News | Sport\n{EN}", anchors) == f"{EN}\n{EN}"


def test_short_tail_after_the_last_prose_line_goes() -> None:
    tail = ["Share this:", "Facebook", "Twitter", "Tags: budget, schools", "Leave a comment"]
    assert remove_boilerplate("\n".join([EN, EN, *tail])) == f"{EN}\n{EN}"
    assert remove_boilerplate("\n".join([ZH, ZH, "分享到：", "微博", "微信"])) == f"{ZH}\n{ZH}"


def test_a_tail_that_is_content_stays() -> None:
    long_tail = [f"Short reply number {i}" for i in range(TAIL_LINES + 1)]  # a thread of short posts
    text = "\n".join([EN, *long_tail])
    assert remove_boilerplate(text) == text
    not_short = "\n".join([EN, "Ingredients", "500 g flour, 300 ml water, 10 g salt, 5 g yeast and a pinch of sugar to start"])
    assert remove_boilerplate(not_short) == not_short
    no_prose = "\n".join(["Menu", "Contact", "Imprint"])  # nothing to anchor a tail on: left to the filter
    assert remove_boilerplate(no_prose) == no_prose


# -- truncated main content -------------------------------------------------------------------------------------------

METHOD = [
    f"Step {i}: knead the dough for ten minutes until it is smooth and elastic, then let it rest in a warm place "
    f"for an hour, covered with a damp cloth, until it has doubled in size and springs back when pressed."
    for i in range(1, 9)
]


def recipe_page() -> str:
    """A theme that puts the recipe's method in a column Resiliparse takes for a sidebar: main content keeps the
    teaser only."""
    method = "".join(f"<p>{p}</p>" for p in METHOD)
    return page(
        "<article><h1>Country bread</h1><p>A simple loaf for every day.</p></article>"
        f'<div class="sidebar"><h2>Method</h2>{method}</div>'
        "<footer><p>Copyright 2026 Example Recipes</p></footer>"
    )


def test_truncated_main_content_is_recovered_and_counted(tmp_path: Path) -> None:
    html = recipe_page()
    plain, _, _ = extract_page(html, ExtractSettings(recover_truncated=False))
    assert METHOD[0] not in plain and len(plain) < 100  # the trap: short, but not empty, so no fallback
    text, fallback, recovered = extract_page(html, ExtractSettings())
    assert recovered and not fallback
    assert all(m in text for m in METHOD)
    assert "Section 1" not in text and "Copyright" not in text

    path = tmp_path / "r.warc.gz"
    with open(path, "wb") as fh:
        WarcWriter(fh).response("https://ex.com/bread", html.encode(), http_headers=[("Content-Type", "text/html")])
    (doc,) = list(extract_stream(io.BytesIO(path.read_bytes()), ExtractSettings()))
    assert isinstance(doc, Document) and doc.repairs == ("main_content_recovered",) and METHOD[-1] in doc.text



# -- repeated lines -----------------------------------------------------------------------------------------------


def test_drop_repeated_lines_keeps_first_copies_and_paragraph_breaks() -> None:
    text = f"Budget approved\n\n{EN}\nPhoto: Jane Doe, AP\n\n{ZH}\nPhoto: Jane Doe, AP\n\n{EN}\n\n{KO}\n  {ZH}  "
    out, dropped = drop_repeated_lines(text)
    assert dropped == 3
    assert out == f"Budget approved\n\n{EN}\nPhoto: Jane Doe, AP\n\n{ZH}\n\n{KO}"
    plain = f"{EN}\n\n\n{ZH}"  # no copies: the text as it was, blank lines included
    assert drop_repeated_lines(plain) == (plain, 0)


def test_a_slideshow_caption_shown_twice_is_one_line_of_the_article(tmp_path: Path) -> None:
    caption = "The mayor, left, and the treasurer talk before the vote on the budget in the city hall on Tuesday."
    slide = f'<div class="slide"><img src="a.jpg"><p>{caption}</p><p>Photo: Jane Doe, AP</p></div>'
    paragraphs = [EN, "The vote passed with a clear majority after the council agreed on the school funding plan.",
                  "Opponents said that the new budget leaves too little money for the repair of old roads."]
    html = article(paragraphs, slide + slide)
    kept, _, none = extract_page(html, ExtractSettings(drop_repeated_lines=False))
    assert kept.count(caption) == 2 and not none
    text, _, repairs = extract_page(html, ExtractSettings())
    assert text.count(caption) == 1 and text.count("Photo: Jane Doe, AP") == 1
    assert repairs == ("repeated_lines_dropped",) and all(p in text for p in paragraphs)

    path = tmp_path / "s.warc.gz"
    with open(path, "wb") as fh:
        WarcWriter(fh).response("https://ex.com/vote", html.encode(), http_headers=[("Content-Type", "text/html")])
    (doc,) = list(extract_stream(io.BytesIO(path.read_bytes()), ExtractSettings()))
    assert isinstance(doc, Document) and doc.repairs == ("repeated_lines_dropped",) and doc.text == text

STEPS = [
    "Preheat the oven to 220 degrees and dust a baking tray with flour.",
    "Mix the flour, salt and yeast in a large bowl, then add the warm water.",
    "Knead the dough for ten minutes until it is smooth and springs back.",
    "Cover the bowl and leave the dough to rise for one hour in a warm place.",
    "Shape the dough into a round loaf and place it on the baking tray.",
    "Slash the top with a sharp knife so that the loaf can rise in the oven.",
    "Bake for thirty minutes until the crust is golden and sounds hollow.",
    "Let the bread cool on a wire rack for at least twenty minutes before slicing.",
]


def test_a_recipe_of_short_steps_is_recovered_with_its_ingredients() -> None:
    ingredients = "".join(f"<li>{x}</li>" for x in ("500 g flour", "10 g salt", "7 g yeast", "350 ml water"))
    steps = "".join(f"<li>{x}</li>" for x in STEPS)
    html = page(
        "<article><h1>Country bread</h1><p>A simple loaf for every day.</p></article>"
        f'<div class="sidebar"><h2>Ingredients</h2><ul>{ingredients}</ul><h2>Method</h2><ol>{steps}</ol></div>'
    )
    text, _, recovered = extract_page(html, ExtractSettings())
    assert recovered
    assert all(x in text for x in STEPS) and "350 ml water" in text and "Ingredients" in text
    assert "Section 1" not in text  # the navigation above stops the article's upward extension


def test_comments_left_out_on_purpose_are_not_a_truncated_article() -> None:
    comments = "".join(f'<div class="comment"><p>{m}</p></div>' for m in METHOD)
    html = article([EN], f'<section class="comments"><h2>Comments</h2>{comments}</section>')
    text, _, recovered = extract_page(html, ExtractSettings())
    assert not recovered and EN in text and METHOD[0] not in text


@pytest.mark.parametrize(
    ("main", "full", "truncated"),
    [
        ("Teaser.", "\n".join(["Menu", "Teaser.", *METHOD]), True),
        ("\n".join(METHOD), "\n".join(["Menu", *METHOD]), False),  # main has the long paragraphs
        ("Teaser.", "\n".join(["Menu", "Teaser.", "tag " * 200]), False),  # long but not prose (a tag cloud)
        ("Teaser.", "\n".join(["Menu", "Teaser.", METHOD[0]]), False),  # too little missing to be an article
    ],
)
def test_looks_truncated(main: str, full: str, truncated: bool) -> None:
    assert looks_truncated(main, full) is truncated


def test_recover_article_starts_at_the_first_long_paragraph() -> None:
    full = "\n".join(["Home", "Recipes", "Country bread", *METHOD, "Share", "Pin it"])
    assert recover_article(full) == "\n".join(METHOD)


# -- site repeats -----------------------------------------------------------------------------------------------------


def test_site_template_lines_go_only_within_a_site_and_only_when_not_prose() -> None:
    crumbs, slogan = "Home › Politics › Budget", "Your city, your news"
    quote = "Our newsroom is independent and funded by readers like you, every single day of the year."
    site = [("ex.com", "\n".join([crumbs, f"{EN} Page {i}.", slogan, quote])) for i in range(3)]
    other = [("other.org", "\n".join([crumbs, ZH, slogan]))]  # the same lines, another site, one page
    texts, dropped = drop_site_repeats(site + other)
    assert dropped == 6
    for i, text in enumerate(texts[:3]):
        assert text == f"{EN} Page {i}.\n{quote}"  # the repeated sentence is left to dedup
    assert texts[3] == other[0][1]
    two = drop_site_repeats(site[:2])
    assert two == ([t for _, t in site[:2]], 0)  # on two pages a line may be shared content: kept


def test_recover_article_ends_before_the_sidebar() -> None:
    sidebar = [f"Archive {2010 + i}" for i in range(TAIL_LINES + 1)]
    footer = "This site uses cookies to measure its audience; by reading on you accept their use."
    full = "\n".join(["Home", "Country bread", *METHOD, *sidebar, footer])
    assert recover_article(full) == "\n".join(METHOD)
    icons = "\n".join([*METHOD, "Share this:", *["•"] * 12, "Like this:"])  # icon-only list items are not lines
    assert remove_boilerplate(icons) == "\n".join(METHOD)
