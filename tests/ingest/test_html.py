"""HTML → text: boilerplate handling, the chosen Resiliparse options, and the optional trafilatura extractor."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.ingest.html import html_title, html_to_text

PAGE = """<!DOCTYPE html><html><head><title>  대한민국   헌법 </title><script>var tracking = 1;</script>
<style>p { color: red }</style></head><body>
<nav><a href="/a">Home</a> <a href="/b">About us</a></nav>
<main><article><h1>대한민국</h1>
<p>대한민국은 민주공화국이다. <img src="flag.png" alt="태극기 사진"> 대한민국의 주권은 국민에게 있다.</p>
<p>모든 국민은 인간으로서의 존엄과 가치를 가지며, 행복을 추구할 권리를 가진다.</p>
<p class="byline">Posted by Kim on 2020-01-01</p><noscript>Please enable JavaScript</noscript>
<form><input value="검색어 입력"></form></article>
<div class="comments"><p>좋은 글이네요, 감사합니다.</p></div></main>
<footer>Copyright 2026 Example. All rights reserved.</footer></body></html>"""


def test_main_content_keeps_article_drops_boilerplate() -> None:
    text = html_to_text(PAGE)
    assert "대한민국은 민주공화국이다." in text
    assert "행복을 추구할 권리를 가진다." in text
    assert "좋은 글이네요" not in text  # comment sections only on request
    assert "좋은 글이네요" in html_to_text(PAGE, comments=True)
    for noise in ("tracking", "color: red", "Home", "Copyright", "태극기", "flag.png", "JavaScript", "검색어", "Posted by"):
        assert noise not in text, noise


def test_paragraphs_stay_on_their_own_lines() -> None:
    lines = [ln for ln in html_to_text(PAGE).splitlines() if ln.strip()]
    assert "모든 국민은 인간으로서의 존엄과 가치를 가지며, 행복을 추구할 권리를 가진다." in lines


def test_full_text_mode_keeps_navigation_and_lists() -> None:
    text = html_to_text(PAGE + "", main_content=False)
    assert "Home" in text and "Copyright 2026" in text
    listed = html_to_text("<ul><li>하나</li><li>둘</li></ul>", main_content=False)
    assert listed.split() == ["•", "하나", "•", "둘"]


def test_empty_and_textless_pages() -> None:
    assert html_to_text("") == ""
    assert html_to_text("<html><head><script>x()</script></head><body><img src=a.png></body></html>") == ""


def test_title() -> None:
    assert html_title(PAGE) == "대한민국 헌법"
    assert html_title("<p>no title</p>") is None


def test_unknown_extractor() -> None:
    with pytest.raises(ValueError, match="unknown extractor"):
        html_to_text(PAGE, extractor="lynx")


def test_missing_trafilatura_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # makes `import trafilatura` fail
    with pytest.raises(ImportError, match=r"needs the trafilatura package: pip install 'polyglot-pipeline\[trafilatura\]'"):
        html_to_text(PAGE, extractor="trafilatura")


def _require_trafilatura_extra() -> None:
    """Skip unless the `[trafilatura]` extra is installed (the `test` extra pulls it in, so CI has it)."""
    try:
        import trafilatura  # noqa: F401
    except ImportError as e:
        pytest.skip(f"the [trafilatura] extra is not installed or broken ({e}): pip install -e '.[trafilatura]'")


def test_broken_trafilatura_shows_the_real_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """lxml >= 5.2 without lxml_html_clean: the error says what failed to import, not that trafilatura is missing."""
    _require_trafilatura_extra()
    for name in [m for m in sys.modules if m.split(".")[0] in ("trafilatura", "justext") or m == "lxml.html.clean"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "lxml_html_clean", None)
    monkeypatch.setitem(sys.modules, "lxml.html.clean", None)
    with pytest.raises(ImportError, match=r"installed but cannot be imported: .*lxml.html.clean") as err:
        html_to_text(PAGE, extractor="trafilatura")
    assert "needs the trafilatura package" not in str(err.value)
    assert "pip install 'polyglot-pipeline[trafilatura]'" in str(err.value)


@pytest.mark.slow
def test_trafilatura_extra_gives_a_working_extractor() -> None:
    """What `pip install 'polyglot-pipeline[trafilatura]'` declares is installed, imports and extracts (nothing is
    installed here: CI gets the extra through the `test` extra)."""
    import tomllib
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    _require_trafilatura_extra()
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    extras = project["project"]["optional-dependencies"]
    assert "polyglot-pipeline[trafilatura]" in extras["test"]  # so CI runs this test
    wanted = [Requirement(r) for r in extras["trafilatura"]]
    assert {r.name.lower().replace("_", "-") for r in wanted} >= {"trafilatura", "lxml-html-clean"}
    for r in wanted:
        try:
            assert r.specifier.contains(version(r.name), prereleases=True), f"{r} but {version(r.name)} installed"
        except PackageNotFoundError:
            pytest.skip(f"the [trafilatura] extra is only partly installed ({r.name} missing): pip install -e '.[trafilatura]'")
    text = html_to_text(PAGE, extractor="trafilatura")
    assert "대한민국은 민주공화국이다." in text and "Copyright" not in text
