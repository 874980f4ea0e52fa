"""HTML → plain text for pretraining, with Resiliparse by default and trafilatura as an opt-in alternative.

Resiliparse is the default because it is ~7-10x faster than trafilatura on this machine (see the perf notes) and the
read+extract+langid stage has a budget of ~1 ms per document. Its options are chosen for language-model text:

* ``preserve_formatting=True`` — keep paragraph and line breaks: line-level quality filters and dedup need them;
* ``list_bullets=True`` — keep list items as separate bulleted lines rather than running them together;
* ``alt_texts=False`` — image alt texts are mostly file names, "logo", "image" or SEO keywords, not prose;
* ``links=False``, ``form_fields=False`` — URLs and input values are not text in the page's language;
* ``noscript=False`` — ``<noscript>`` is nearly always "please enable JavaScript";
* ``comments=False`` by default (``comments=True`` on request, `extract.comments`) — the comment sections
  Resiliparse finds hold real running text, but also the comment form and "X said on <date>:" lines, and an
  article's body excludes them: on the article-extraction benchmark they cost 0.011 F1 (precision 0.891 → 0.872);
* ``post_meta=False`` — bylines and "posted on <date>" lines are boilerplate.

``main_content=True`` applies Resiliparse's boilerplate heuristics (navigation, footers, sidebars); with False all
visible text is kept.
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

__all__ = ["EXTRACTORS", "dom_deeper_than", "html_to_text", "html_title", "require_extractor"]

#: Extractor names `html_to_text` accepts.
EXTRACTORS = ("resiliparse", "trafilatura")


#: What installs a working trafilatura (lxml >= 5.2 moved its HTML cleaner, which trafilatura imports, into
#: lxml_html_clean; the extra pulls both).
INSTALL_HINT = "pip install 'polyglot-pipeline[trafilatura]'"


def _trafilatura() -> ModuleType:
    """Import trafilatura only when chosen: it is slow to import and an optional dependency.

    A missing package and a broken one are told apart: the ImportError of an installed trafilatura that cannot
    import (a missing lxml_html_clean, a binary mismatch) is shown as it is, not hidden behind "not installed".
    """
    try:
        import trafilatura
    except ModuleNotFoundError as e:
        if e.name != "trafilatura":
            raise ImportError(
                f"extractor 'trafilatura' is installed but cannot be imported: {type(e).__name__}: {e}; {INSTALL_HINT}"
            ) from e
        raise ImportError(f"extractor 'trafilatura' needs the trafilatura package: {INSTALL_HINT}") from e
    except ImportError as e:
        raise ImportError(
            f"extractor 'trafilatura' is installed but cannot be imported: {type(e).__name__}: {e}; {INSTALL_HINT}"
        ) from e
    return trafilatura


def require_extractor(extractor: str) -> None:
    """Fail early, before any page is read, if `extractor` is unknown or its optional package is missing."""
    if extractor not in EXTRACTORS:
        raise ValueError(f"unknown extractor {extractor!r}; choose one of {', '.join(EXTRACTORS)}")
    if extractor == "trafilatura":
        _trafilatura()


def html_to_text(
    html: str,
    *,
    extractor: str = "resiliparse",
    main_content: bool = True,
    comments: bool = False,
    tree: HTMLTree | None = None,
) -> str:
    """The page's text, paragraphs separated by blank lines; "" when the page has none.

    `tree` is the page already parsed by Resiliparse (reused when extracting twice); trafilatura ignores
    `comments` (its option ``include_comments`` is on) and `tree`.
    """
    if extractor == "resiliparse":
        return extract_plain_text(
            tree if tree is not None else HTMLTree.parse(html),
            preserve_formatting=True,
            main_content=main_content,
            list_bullets=True,
            alt_texts=False,
            links=False,
            form_fields=False,
            noscript=False,
            comments=comments,
            post_meta=False,
        )
    if extractor == "trafilatura":
        traf = _trafilatura()
        if not main_content:  # trafilatura's own "all the text" mode, no boilerplate removal
            return traf.html2txt(html) or ""
        return (
            traf.extract(
                html,
                include_comments=True,
                include_tables=True,
                include_images=False,
                include_links=False,
                favor_precision=False,
                deduplicate=False,
            )
            or ""
        )
    raise ValueError(f"unknown extractor {extractor!r}; choose one of {', '.join(EXTRACTORS)}")


def html_title(html: str) -> str | None:
    """The page's <title>, whitespace collapsed; None when absent. Costs one Resiliparse parse (~tens of µs)."""
    return HTMLTree.parse(html).title or None



def dom_deeper_than(tree: HTMLTree, limit: int) -> bool:
    """Whether some element of the parsed page has more than `limit` ancestors. Resiliparse's main-content
    extraction takes time that grows super-linearly with nesting (measured: 1,000 levels 0.08 s, 4,000 1.4 s,
    100,000 tens of minutes) while all-visible-text extraction stays linear. One selector query in Lexbor (C),
    stopping at the first such element: ~0.15 ms for a page of 1,000 elements."""
    if tree.document is None:
        return False
    # A page with no element below `_SHALLOW` levels has none below `limit` either: the short selector answers for
    # most pages. Lexbor parses the selector on every call, and the 514-part one took ~45 of the ~60 µs per page.
    if limit > _SHALLOW and tree.document.query_selector(_deep_selector(_SHALLOW)) is None:
        return False
    return tree.document.query_selector(_deep_selector(limit)) is not None


#: Nesting a first, cheap selector looks for (5 of 281 real pages and no generated bench page are deeper).
_SHALLOW = 32


@lru_cache(maxsize=8)
def _deep_selector(limit: int) -> str:
    return " ".join(["*"] * (limit + 2))  # html > body > ... : `limit` levels below the root element
