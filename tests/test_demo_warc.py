"""The bundled demo crawl (demo/): the committed files are exactly what scripts/make_demo_warc.py builds, they hold
what demo/planted.json says was planted, and the Ray-free reader the extract stage uses gets out of them what it
should (every article and duplicate, legacy charsets decoded to the right script, the broken record counted and
skipped without losing the pages after it)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastwarc.warc import ArchiveIterator, WarcRecordType

from pipeline.ingest.charset import resolve_label
from pipeline.ingest.warc import Document, ExtractSettings, Skipped, extract_stream
from pipeline.text.scripts import dominant_script

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
SCRIPT = ROOT / "scripts" / "make_demo_warc.py"
CRAWL = "DEMO-2026-47"
#: What configs/demo.yaml asks of the extract stage.
OPTIONS = ExtractSettings(extractor="resiliparse", main_content=True, min_text_chars=20)
DOC_PLANTS = ("article", "exact_dup", "near_dup")
Key = tuple[str, int]


@pytest.fixture(scope="module")
def maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo_warc", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_demo_warc"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def planted() -> dict:
    return json.loads((DEMO / "planted.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def records(planted: dict) -> dict[Key, dict]:
    return {(r["shard"], r["offset"]): r for r in planted["records"]}


@pytest.fixture(scope="module")
def extracted(planted: dict) -> dict[str, list[Document | Skipped]]:
    """Every item the reader gives, per shard, in order."""
    out = {}
    for shard in planted["shards"]:
        with open(DEMO / shard, "rb") as fh:
            out[shard] = list(extract_stream(fh, OPTIONS))
    return out


@pytest.fixture(scope="module")
def items(extracted: dict[str, list[Document | Skipped]]) -> dict[Key, Document | Skipped]:
    return {(shard, it.offset): it for shard, lst in extracted.items() for it in lst if it.offset is not None}


@pytest.fixture(scope="module")
def pages(maker: ModuleType) -> dict[str, Any]:
    """The planned pages (title, paragraphs as written into the HTML), by URL."""
    demo = maker.plan_demo(maker.load_articles())
    return {p.url: p for p in demo.pages}


def _script_of(language: str) -> str:
    return language.split("_")[1]


# ------------------------------------------------------------------------------------------------ reproducibility


def test_rebuild_gives_the_committed_bytes(maker: ModuleType, tmp_path: Path) -> None:
    maker.build(tmp_path)
    built = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(DEMO).as_posix() for p in DEMO.rglob("*") if p.is_file() and p.name != "README.md")
    assert built == committed
    for rel in built:
        assert (tmp_path / rel).read_bytes() == (DEMO / rel).read_bytes(), f"{rel} drifted: rerun the script"


def test_tree_is_common_crawl_shaped_and_small(planted: dict) -> None:
    listing = gzip.decompress((DEMO / "crawl-data" / CRAWL / "warc.paths.gz").read_bytes()).decode("ascii")
    paths = listing.splitlines()
    assert paths == planted["shards"] and listing.endswith("\n")
    assert len(paths) == 4
    pattern = re.compile(
        rf"crawl-data/{CRAWL}/segments/(\d{{13}}\.\d\d)/warc/{CRAWL}-202611\d{{8}}-(\d{{5}})\.warc\.gz"
    )
    matches = [pattern.fullmatch(p) for p in paths]
    assert all(matches), paths
    assert [m.group(2) for m in matches if m] == ["00000", "00001", "00002", "00003"]
    assert len({m.group(1) for m in matches if m}) == 2  # two segments of two shards
    size = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    assert size < 2.1e6, f"demo/ is {size / 1e6:.2f} MB"


def test_warc_records_come_in_cc_order(planted: dict, records: dict[Key, dict]) -> None:
    """warcinfo first (isPartOf), then request, response, metadata per page, all about the same URL."""
    for shard in planted["shards"]:
        broken = [r for r in planted["records"] if r["shard"] == shard and r["plant"] == "broken"]
        stop = broken[0]["offset"] if broken else None
        types: list[str] = []
        responses: list[int] = []
        with open(DEMO / shard, "rb") as fh:
            it = iter(ArchiveIterator(fh, parse_http=False))
            info = next(it)
            assert info.record_type == WarcRecordType.warcinfo
            assert f"isPartOf: {CRAWL}".encode() in info.reader.read()
            last_uri = None
            try:
                for rec in it:
                    kind = rec.headers.get("WARC-Type")
                    types.append(kind)
                    uri = rec.headers.get("WARC-Target-URI")
                    if kind == "request":
                        last_uri = uri
                    else:
                        assert uri == last_uri
                    if kind == "response":
                        responses.append(rec.stream_pos)
            except OSError:  # FastWARC alone stops at the cut gzip member; the reader test below covers the rest
                assert stop is not None and rec.stream_pos < stop
                assert types[-1] == "request" and last_uri == broken[0]["url"]
                types.pop()
            else:
                assert stop is None, "FastWARC read through the broken record"
        assert len(types) % 3 == 0 and types == ["request", "response", "metadata"] * (len(types) // 3), shard
        expected = sorted(o for (s, o) in records if s == shard and (stop is None or o < stop))
        assert responses == expected


# ----------------------------------------------------------------------------------------------------- composition


def test_composition(planted: dict, maker: ModuleType) -> None:
    recs = planted["records"]
    plants = Counter(r["plant"] for r in recs)
    assert set(plants) == {"article", "exact_dup", "near_dup", "junk", "non_document", "broken"}
    html = [r for r in recs if r["plant"] in (*DOC_PLANTS, "junk")]
    assert 300 <= len(html) <= 450
    for plant, lo, hi in (("exact_dup", 0.07, 0.12), ("near_dup", 0.07, 0.12), ("junk", 0.10, 0.15)):
        assert lo <= plants[plant] / len(html) <= hi, (plant, plants[plant], len(html))
    assert plants["broken"] == 1 and plants["non_document"] == 8
    langs = Counter(r["language"] for r in html)
    assert len(langs) >= 8 and {"kor_Hang", "jpn_Jpan", "zho_Hans", "rus_Cyrl", "eng_Latn"} <= set(langs)
    assert langs.most_common(1)[0][0] == "kor_Hang"
    junk_langs = {r["language"] for r in recs if r["plant"] == "junk"}
    assert {"kor_Hang", "jpn_Jpan", "zho_Hans", "rus_Cyrl", "eng_Latn"} <= junk_langs
    assert {r["junk_kind"] for r in recs if r["plant"] == "junk"} == set(maker.JUNK_KINDS)
    kinds = {(r["content_type"], r["status"]) for r in recs if r["plant"] == "non_document"}
    assert kinds == {("text/html", 404), ("text/html", 301), ("image/png", 200), ("text/plain", 200)}
    assert len({r["url"] for r in recs}) == len(recs)


def test_legacy_charsets_cover_every_encoding_and_label_mode(planted: dict) -> None:
    html = [r for r in planted["records"] if r["plant"] in (*DOC_PLANTS, "junk")]
    legacy = [r for r in html if r.get("charset") not in (None, "utf-8")]
    codecs = {r["charset"] for r in legacy}
    assert {"euc_kr", "cp949", "shift_jis", "euc_jp", "gbk", "gb2312", "big5", "cp1251", "koi8_r"} <= codecs
    assert codecs & {"tis_620", "cp874"}
    assert {r["charset_label"] for r in legacy if r["charset"] == "gb2312"} == {"gb2312"}
    assert {r["label_mode"] for r in legacy} == {"header", "meta", "none", "mislabeled_header"}
    for lang in ("kor_Hang", "jpn_Jpan", "zho_Hans", "zho_Hant", "rus_Cyrl", "tha_Thai"):
        n = sum(r["language"] == lang for r in html)
        k = sum(r["language"] == lang for r in legacy)
        assert 0.13 <= k / n <= 0.25, (lang, k, n)
    assert all(
        r["charset"] == "utf-8"
        for r in html
        if r["language"] not in ("kor_Hang", "jpn_Jpan", "zho_Hans", "zho_Hant", "rus_Cyrl", "tha_Thai")
    )


def test_duplicates_point_at_articles_and_near_dups_are_near(
    planted: dict, maker: ModuleType, pages: dict[str, Any]
) -> None:
    by_url = {r["url"]: r for r in planted["records"]}
    for r in planted["records"]:
        if r["plant"] not in ("exact_dup", "near_dup", "broken"):
            continue
        orig = by_url[r["of"]]
        assert orig["plant"] == "article" and orig["language"] == r["language"]
        assert orig["site"] != r["site"] or r["plant"] == "near_dup"
        if r["plant"] in ("exact_dup", "broken"):
            assert r["main_sha1"] == orig["main_sha1"] and r["template"] != orig["template"]
        else:
            assert r["main_sha1"] != orig["main_sha1"]
            assert 0.85 <= r["jaccard_char5"] <= 0.95
            page, src = pages[r["url"]], pages[r["of"]]
            a = maker.main_text(page.title, page.paragraphs)
            b = maker.main_text(src.title, src.paragraphs)
            assert round(maker.jaccard(maker.char_ngrams(a), maker.char_ngrams(b)), 4) == r["jaccard_char5"]
    edits = Counter(e for r in planted["records"] if r["plant"] == "near_dup" for e in r["edits"])
    assert set(edits) == {"number", "drop_sentence", "updated", "credit", "correction"}


# --------------------------------------------------------------------------------------- what the reader gets out


def test_every_article_and_duplicate_is_extracted_in_its_script(
    planted: dict, items: dict[Key, Document | Skipped], pages: dict[str, Any]
) -> None:
    n = 0
    for r in planted["records"]:
        if r["plant"] not in DOC_PLANTS:
            continue
        doc = items.get((r["shard"], r["offset"]))
        assert isinstance(doc, Document), (r["url"], doc)
        assert doc.url == r["url"] and doc.crawl_id == CRAWL
        page = pages[r["url"]]
        assert r["title"] == page.title
        for para in page.paragraphs:
            assert para in doc.text, (r["url"], para[:40])
        assert dominant_script(doc.text) == _script_of(r["language"]), r["url"]
        n += 1
    assert n == sum(planted["summary"]["plants"][p] for p in DOC_PLANTS)


def test_legacy_charset_pages_decode_by_their_label_or_by_detection(
    planted: dict, items: dict[Key, Document | Skipped]
) -> None:
    sources = Counter()
    for r in planted["records"]:
        if r.get("charset") in (None, "utf-8"):
            continue
        doc = items[(r["shard"], r["offset"])]
        assert isinstance(doc, Document)
        expected_source = {"header": "header", "meta": "meta", "mislabeled_header": "meta"}.get(r["label_mode"])
        if expected_source is None:  # no label: the decoder must detect it
            assert doc.charset_source in ("detected", "fallback"), r["url"]
        else:
            assert doc.charset_source == expected_source, (r["url"], doc.charset_source)
            assert doc.charset == resolve_label(r["charset_label"]), (r["url"], doc.charset)
        assert "\ufffd" not in doc.text
        assert dominant_script(doc.text) == _script_of(r["language"]), (r["url"], r["charset"])
        sources[doc.charset_source] += 1
    assert sources["detected"] >= 5


def test_junk_pages_come_out_or_are_skipped_as_empty(planted: dict, items: dict[Key, Document | Skipped]) -> None:
    with_text = {"keyword_spam", "lorem_ipsum", "cookie_only", "tag_cloud", "numbers_table"}
    for r in planted["records"]:
        if r["plant"] != "junk":
            continue
        it = items[(r["shard"], r["offset"])]
        if r["junk_kind"] == "js_shell":
            assert isinstance(it, Skipped) and it.reason == "empty_extraction", r["url"]
        elif r["junk_kind"] == "repeated_line":  # one line many times: its copies go, the one left is the filter's
            assert isinstance(it, Document) and "repeated_lines_dropped" in it.repairs, (r["url"], it)
            assert "\n" not in it.text.strip(), it.text
        elif r["junk_kind"] in with_text:
            assert isinstance(it, Document), (r["url"], it)
            assert len(it.text) >= 150
        else:  # navigation-only and near-empty pages: whatever is left of them, if anything
            assert isinstance(it, Document) or it.reason == "empty_extraction"
    lorem = [items[(r["shard"], r["offset"])] for r in planted["records"] if r.get("junk_kind") == "lorem_ipsum"]
    assert all("Lorem ipsum dolor sit amet" in d.text for d in lorem if isinstance(d, Document))


def test_non_documents_are_skipped_with_their_reason(planted: dict, items: dict[Key, Document | Skipped]) -> None:
    for r in planted["records"]:
        if r["plant"] != "non_document":
            continue
        it = items[(r["shard"], r["offset"])]
        assert isinstance(it, Skipped)
        assert it.reason == ("http_status" if r["status"] != 200 else "not_html"), (r["url"], it)


def test_broken_record_is_counted_and_the_rest_of_its_shard_is_read(
    planted: dict, records: dict[Key, dict], extracted: dict[str, list[Document | Skipped]]
) -> None:
    (broken,) = (r for r in planted["records"] if r["plant"] == "broken")
    shard_items = extracted[broken["shard"]]
    damaged = [it for it in shard_items if isinstance(it, Skipped) and it.reason in ("truncated", "malformed_record")]
    assert [(it.offset, it.reason) for it in damaged] == [(broken["offset"], "truncated")]
    after = sorted(o for (s, o) in records if s == broken["shard"] and o > broken["offset"])
    assert len(after) > 50  # mid-shard, not at the end
    got_after = [it.offset for it in shard_items if it.offset is not None and it.offset > broken["offset"]]
    assert got_after == after


def test_the_reader_reports_exactly_the_planted_response_records(
    records: dict[Key, dict], extracted: dict[str, list[Document | Skipped]]
) -> None:
    seen = [(shard, it.offset) for shard, lst in extracted.items() for it in lst]
    assert len(seen) == len(set(seen))
    assert set(seen) == set(records)
