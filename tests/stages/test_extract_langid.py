"""`extract` and `langid` as stages: their tables, counts, rejected output and determinism, on WARCs made here."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import parse_config
from pipeline.ingest.warc_writer import WarcWriter, gzip_member
from pipeline.runtime import record_path, run_shard, run_stage
from pipeline.stages.extract import SCHEMA, ExtractStage
from pipeline.stages.langid import REASON_LOW_SCORE, REASON_NO_TEXT, REASON_UNWANTED, LangidStage, decide

PARAS = {
    "ko": "서울시는 다음 달부터 시내버스 12개 노선을 조정한다고 밝혔다. 이용객이 적은 구간은 배차 간격을 늘리는 대신 "
    "지하철역과 대단지 아파트를 잇는 노선에는 차량을 더 투입한다. 바뀌는 노선 번호와 정류장 위치는 안내문에서 확인할 수 있다.",
    "ja": "市は来月から市内バスの十二路線を見直すと発表した。利用者の少ない区間では運行間隔を広げる一方、駅と大規模団地を"
    "結ぶ路線には車両を増やす。変更される路線番号と停留所の位置は、各停留所の案内で確認できる。",
    "zh": "市政府宣布，下个月起将调整十二条公交线路。乘客较少的路段将延长发车间隔，而连接地铁站和大型住宅区的线路将增加车辆。"
    "调整后的线路编号和站点位置可以在各车站的公告中查询。",
    "ru": "Городские власти объявили, что со следующего месяца изменят двенадцать автобусных маршрутов. На участках с "
    "небольшим пассажиропотоком интервалы увеличат, а на маршруты к станциям метро добавят автобусы.",
    "en": "The city announced that twelve bus routes will change next month. Sections with few passengers will see "
    "longer intervals, while routes linking metro stations and large housing estates will get more buses.",
    "de": "Die Stadt hat angekündigt, dass sich im nächsten Monat zwölf Buslinien ändern. Auf schwach genutzten "
    "Abschnitten werden die Takte verlängert, während Linien zu den U-Bahnhöfen zusätzliche Busse bekommen.",
}


def page(text: str, title: str = "News") -> str:
    nav = "".join(f"<li><a href='/s/{i}'>Section {i}</a></li>" for i in range(8))
    return (
        f"<html><head><title>{title}</title></head><body><nav><ul>{nav}</ul></nav>"
        f"<main><article><h1>{title}</h1><p>{text}</p></article></main><footer>(c) 2026 Example</footer></body></html>"
    )


def write_warc(path: Path, *, broken: bool = False) -> dict[str, int]:
    """A CC-like shard: utf-8 and legacy-charset pages, a non-HTML response, a 404, and optionally a broken record."""
    with open(path, "wb") as fh:
        w = WarcWriter(fh)
        w.warcinfo({"isPartOf": "CC-MAIN-2099-01"}, filename=path.name)
        for lang, text in PARAS.items():
            w.response(f"https://ex.{lang}/a", page(text).encode(), http_headers=[("Content-Type", "text/html; charset=utf-8")])
        w.response("https://ex.ko/euc", page(PARAS["ko"]).encode("euc-kr"), http_headers=[("Content-Type", "text/html")])
        w.response("https://ex.ru/1251", page(PARAS["ru"]).encode("cp1251"), http_headers=[("Content-Type", "text/html; charset=windows-1251")])
        w.response("https://ex.zh/gbk", page(PARAS["zh"]).encode("gbk"), http_headers=[("Content-Type", "text/html; charset=gb2312")])
        if broken:
            member = gzip_member(b"WARC/1.1\r\nWARC-Type: response\r\nContent-Length: 5000\r\n\r\n" + b"x" * 400)
            w.raw(member[: len(member) // 2], compress=False)
        w.response("https://ex.en/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(64), http_headers=[("Content-Type", "image/png")])
        w.response("https://ex.en/missing", page("gone").encode(), status=404, http_headers=[("Content-Type", "text/html")])
        w.response("https://ex.en/b", page(PARAS["en"] + " Second page, same city.").encode(), http_headers=[("Content-Type", "text/html")])
        w.response("https://ex.xx/digits", page("12345 67890 -- 2026/11/25 ### 42").encode(), http_headers=[("Content-Type", "text/html")])
    return {"documents": 11, "not_html": 1, "http_status": 1}


def config(tmp: Path, **over) -> object:
    data = {
        "run": {"work_dir": str(tmp / "out")},
        "ray": {"num_cpus": 2, "object_store_mb": 256},
        "extract": {"inputs": [str(tmp / "in" / "*.warc.gz")], "min_text_chars": 5},
        "languages": ["ko", "ja", "zh-Hans", "ru", "en"],
        "langid": {"min_score": 0.5},
    }
    for k, v in over.items():
        data[k] = {**data.get(k, {}), **v} if isinstance(v, dict) else v
    return parse_config(data)


@pytest.fixture
def shard(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    write_warc(tmp_path / "in" / "CC-TEST-00000.warc.gz", broken=True)
    return tmp_path


def _run_local(stage_cls, cfg) -> list[dict]:
    stage = stage_cls(cfg)
    stage.setup()
    return [run_shard(stage, t, {"stage": stage.name}) for t in stage.plan()]


def test_extract_table_counts_and_ids(shard: Path) -> None:
    cfg = config(shard)
    (res,) = _run_local(ExtractStage, cfg)
    assert res["ok"], res
    table = pq.read_table(shard / "out" / "extract" / "CC-TEST-00000.parquet")
    assert table.schema == SCHEMA
    rows = table.to_pylist()
    assert len(rows) == 11
    assert all(r["doc_id"] == f"CC-TEST-00000/{r['record_offset']}" for r in rows)
    assert {r["crawl_id"] for r in rows} == {"CC-MAIN-2099-01"}
    by_url = {r["url"]: r for r in rows}
    assert "버스" in by_url["https://ex.ko/euc"]["text"] and by_url["https://ex.ko/euc"]["charset"] in ("cp949", "euc-kr")
    assert "маршрутов" in by_url["https://ex.ru/1251"]["text"]
    assert "公交线路" in by_url["https://ex.zh/gbk"]["text"]
    assert "Section 3" not in by_url["https://ex.en/a"]["text"]  # main-content extraction drops the menu
    removed = res["stats"]["removed"]
    assert removed["not_html"] == {"und": 1} and removed["http_status"] == {"und": 1}
    assert sum(removed.get(r, {}).get("und", 0) for r in ("truncated", "malformed_record")) == 1
    assert res["stats"]["docs_out"] == 11 and res["stats"]["docs_in"] == 14


def test_langid_splits_kept_and_rejected_with_reasons(shard: Path) -> None:
    cfg = config(shard)
    _run_local(ExtractStage, cfg)
    (res,) = _run_local(LangidStage, cfg)
    assert res["ok"], res
    kept = pq.read_table(shard / "out" / "langid" / "CC-TEST-00000.parquet").to_pylist()
    rejected = pq.read_table(shard / "out" / "_removed" / "langid" / "CC-TEST-00000.parquet").to_pylist()
    assert len(kept) + len(rejected) == 11  # nothing silently dropped
    langs = {r["url"]: r["lang"] for r in kept}
    assert langs["https://ex.ko/a"] == langs["https://ex.ko/euc"] == "kor_Hang"
    assert langs["https://ex.ja/a"] == "jpn_Jpan"
    assert langs["https://ex.zh/a"] == langs["https://ex.zh/gbk"] == "zho_Hans"
    assert langs["https://ex.ru/a"] == "rus_Cyrl"
    for r in kept:
        assert "family" not in r and r["lang_script"] and 1 <= len(r["lang_topk"]) <= 3
        assert r["lang_topk"][0]["lang"] == r["lang"]
    reasons = {r["url"]: r["reject_reason"] for r in rejected}
    assert reasons["https://ex.de/a"] == REASON_UNWANTED
    assert reasons["https://ex.xx/digits"] in (REASON_NO_TEXT, REASON_LOW_SCORE)
    assert res["stats"]["removed"][REASON_UNWANTED] == {"deu_Latn": 1}
    assert res["stats"]["by_lang"]["kor_Hang"]["docs_out"] == 2


def test_per_language_minimum_score(shard: Path) -> None:
    """A global minimum of 1.0, lowered to 0 for Korean: Korean is kept whatever its score, others only at 1.0."""
    cfg = config(shard, langid={"min_score": 1.0, "min_score_by_lang": {"ko": 0.0}})
    _run_local(ExtractStage, cfg)
    (res,) = _run_local(LangidStage, cfg)
    kept = pq.read_table(shard / "out" / "langid" / "CC-TEST-00000.parquet").to_pylist()
    rejected = pq.read_table(shard / "out" / "_removed" / "langid" / "CC-TEST-00000.parquet").to_pylist()
    assert sum(r["lang"] == "kor_Hang" for r in kept) == 2
    assert all(r["lang_score"] >= 1.0 for r in kept if r["lang"] != "kor_Hang")
    low = [r for r in rejected if r["reject_reason"] == REASON_LOW_SCORE]
    assert low and all(r["lang_score"] < 1.0 and r["lang"] != "kor_Hang" for r in low)
    assert sum(sum(v.values()) for v in [res["stats"]["removed"].get(REASON_LOW_SCORE, {})]) == len(low)


def test_decide_rules() -> None:
    assert decide("und", 0.0, None, 0.5, {}) == REASON_NO_TEXT
    assert decide("kor_Hang", 0.4, None, 0.5, {}) == REASON_LOW_SCORE
    assert decide("kor_Hang", 0.4, None, 0.5, {"kor_Hang": 0.3}) is None
    assert decide("deu_Latn", 0.9, {"kor_Hang"}, 0.5, {}) == REASON_UNWANTED
    assert decide("kor_Hang", 0.9, {"kor_Hang"}, 0.5, {}) is None


def test_empty_shard_goes_through(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    with open(tmp_path / "in" / "EMPTY-00000.warc.gz", "wb") as fh:
        WarcWriter(fh).warcinfo({"isPartOf": "X"}, filename="EMPTY-00000.warc.gz")
    cfg = config(tmp_path)
    assert all(r["ok"] for r in _run_local(ExtractStage, cfg))
    assert all(r["ok"] for r in _run_local(LangidStage, cfg))
    assert pq.read_table(tmp_path / "out" / "langid" / "EMPTY-00000.parquet").num_rows == 0


@pytest.mark.slow
def test_on_ray_rerun_skips_and_output_is_deterministic(ray_session, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for i in range(3):
        write_warc(tmp_path / "in" / f"CC-TEST-0000{i}.warc.gz", broken=(i == 1))
    cfg = config(tmp_path)
    ex, li = run_stage(ExtractStage, cfg), run_stage(LangidStage, cfg)
    assert ex.ok and li.ok and ex.shards == li.shards == 3
    assert ex.docs_out == li.docs_in == 33
    files = sorted((tmp_path / "out").rglob("*.parquet"))
    first = {p: p.read_bytes() for p in files}
    again = run_stage(ExtractStage, cfg), run_stage(LangidStage, cfg)
    assert [r.skipped for r in again] == [3, 3]
    run_stage(ExtractStage, cfg, force=True), run_stage(LangidStage, cfg, force=True)
    assert {p: p.read_bytes() for p in files} == first
    rec = json.loads(Path(record_path(cfg, "langid", "CC-TEST-00001")).read_text())
    assert rec["stats"]["docs_in"] == 11


def test_extract_counts_repairs_by_name(tmp_path: Path) -> None:
    """Pages kept after a repair are counted per repair in the shard stats (nothing changes silently)."""
    from tests.ingest.test_boilerplate import recipe_page

    (tmp_path / "in").mkdir()
    utf8 = [("Content-Type", "text/html; charset=utf-8")]
    with open(tmp_path / "in" / "CC-TEST-00001.warc.gz", "wb") as fh:
        w = WarcWriter(fh)
        w.response("https://ex.ko/nul", page(PARAS["ko"] + "<a href='/x\x00'>링크</a>").encode(), http_headers=utf8)
        w.response("https://ex.en/recipe", recipe_page().encode(), http_headers=utf8)
        w.response("https://ex.de/a", page(PARAS["de"]).encode(), http_headers=utf8)
    (res,) = _run_local(ExtractStage, config(tmp_path))
    assert res["ok"], res
    assert res["stats"]["docs_out"] == 3
    counters = res["stats"]["counters"]
    assert counters.get("nul_stripped") == 1 and counters.get("main_content_recovered") == 1, counters
    rows = {r["url"]: r for r in pq.read_table(tmp_path / "out" / "extract" / "CC-TEST-00001.parquet").to_pylist()}
    assert "\x00" not in rows["https://ex.ko/nul"]["text"] and "Step 8" in rows["https://ex.en/recipe"]["text"]


def test_extract_drops_site_template_lines_across_the_shard(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    utf8 = [("Content-Type", "text/html; charset=utf-8")]
    slogan = "<p>Seoul Daily · since 1999</p>"
    with open(tmp_path / "in" / "CC-TEST-00002.warc.gz", "wb") as fh:
        w = WarcWriter(fh)
        for i, lang in enumerate(("ko", "en", "de")):
            w.response(f"https://news.ex/{i}", page(slogan + PARAS[lang]).encode(), http_headers=utf8)
        w.response("https://other.ex/1", page(slogan + PARAS["ru"]).encode(), http_headers=utf8)
    (res,) = _run_local(ExtractStage, config(tmp_path))
    rows = {r["url"]: r["text"] for r in pq.read_table(tmp_path / "out" / "extract" / "CC-TEST-00002.parquet").to_pylist()}
    assert res["stats"]["counters"].get("site_repeat_lines") == 6  # the slogan and the "News" heading, 3 pages each
    assert all("Seoul Daily" not in rows[f"https://news.ex/{i}"] for i in range(3))
    assert all(rows[f"https://news.ex/{i}"] == PARAS[lang] for i, lang in enumerate(("ko", "en", "de")))
    assert "Seoul Daily" in rows["https://other.ex/1"]  # one page of another site: nothing to compare with
    off = config(tmp_path / "off", extract={"inputs": [str(tmp_path / "in" / "*.warc.gz")], "site_repeat_pages": 0})
    (res_off,) = _run_local(ExtractStage, off)
    assert "site_repeat_lines" not in res_off["stats"]["counters"]


def test_extract_streams_in_batches_with_the_whole_shards_site_templates(tmp_path: Path, monkeypatch) -> None:
    """Documents spilled and written 2 at a time lose the same template lines as `drop_site_repeats` over the whole
    shard: a site's pages are spread over several batches, interleaved with another site's."""
    from urllib.parse import urlsplit

    import pipeline.stages.extract as extract
    from pipeline.ingest.site_repeats import drop_site_repeats

    monkeypatch.setattr(extract, "BATCH_DOCS", 2)
    (tmp_path / "in").mkdir()
    utf8 = [("Content-Type", "text/html; charset=utf-8")]
    with open(tmp_path / "in" / "CC-TEST-00003.warc.gz", "wb") as fh:
        w = WarcWriter(fh)
        for i, lang in enumerate(("ko", "en", "de", "ru", "ja")):
            w.response(f"https://news.ex/{i}", page("<p>Seoul Daily · since 1999</p>" + PARAS[lang]).encode(), http_headers=utf8)
            w.response(f"https://blog.ex/{i}", page("<p>Tags: city, buses</p>" + PARAS[lang], "Blog").encode(), http_headers=utf8)
    inputs = [str(tmp_path / "in" / "*.warc.gz")]
    (res,) = _run_local(ExtractStage, config(tmp_path, extract={"inputs": inputs, "site_repeat_pages": 3}))
    (plain,) = _run_local(ExtractStage, config(tmp_path / "off", extract={"inputs": inputs, "site_repeat_pages": 0}))
    table = pq.read_table(tmp_path / "out" / "extract" / "CC-TEST-00003.parquet")
    before = pq.read_table(tmp_path / "off" / "out" / "extract" / "CC-TEST-00003.parquet").to_pylist()
    expected, dropped = drop_site_repeats([(urlsplit(r["url"]).hostname, r["text"]) for r in before], 3)
    assert table.column("text").to_pylist() == expected and dropped > 0
    assert res["stats"]["counters"]["site_repeat_lines"] == dropped
    assert pq.ParquetFile(tmp_path / "off" / "out" / "extract" / "CC-TEST-00003.parquet").metadata.num_rows == 10
    assert table.schema == SCHEMA and plain["stats"]["docs_out"] == res["stats"]["docs_out"] == 10


def _langid_table(tmp: Path, texts: list[str], **langid) -> list[dict]:
    """LangidStage.process on a plain extract-like shard (no Ray): the kept and rejected rows together."""
    import pyarrow as pa

    from pipeline.stages.base import ShardTask
    from pipeline.storage import write_parquet

    cols = {f.name: [None] * len(texts) for f in SCHEMA}
    cols.update(doc_id=[f"t/{i}" for i in range(len(texts))], text=texts, record_offset=list(range(len(texts))))
    src = tmp / "in.parquet"
    write_parquet(pa.table(cols, schema=SCHEMA), str(src))
    cfg = parse_config({"run": {"work_dir": str(tmp / "out")}, "extract": {"inputs": [str(src)]},
                        "langid": {"min_score": 0.0, **langid}})
    stage = LangidStage(cfg)
    stage.setup()
    out = {"main": str(tmp / "kept.parquet"), "rejected": str(tmp / "rejected.parquet")}
    stage.process(ShardTask("t", (str(src),), out), lambda n: None)
    rows = pq.read_table(out["main"]).to_pylist() + pq.read_table(out["rejected"]).to_pylist()
    return sorted(rows, key=lambda r: r["doc_id"])


def test_langid_ensemble_columns(tmp_path: Path) -> None:
    nynorsk = "Vi skal reise til byen i morgon tidleg."  # fastText alone: Danish
    mixed = PARAS["en"] * 8 + "\n" + PARAS["de"] * 8
    rows = _langid_table(tmp_path, [nynorsk, mixed, PARAS["ko"]])
    assert [r["lang"] for r in rows] == ["nno_Latn", rows[1]["lang"], "kor_Hang"]
    assert rows[0]["lang_group"] == "nordic"
    assert [(m["model"], m["lang"]) for m in rows[0]["lang_models"]] == [("fasttext", "dan_Latn"), ("cld2", "nno_Latn")]
    assert rows[0]["lang_topk"][0]["lang"] == "dan_Latn"  # fastText's own alternatives stay as they were
    assert rows[1]["lang"] in ("eng_Latn", "deu_Latn") and 0.3 < rows[1]["lang_share"] < 0.8
    assert rows[2]["lang_share"] == 1.0 and rows[2]["lang_group"] is None
    assert [m["model"] for m in rows[2]["lang_models"]] == ["fasttext"]
    alone = _langid_table(tmp_path / "alone", [nynorsk], ensemble=[], max_windows=1)
    assert alone[0]["lang"] == "dan_Latn" and [m["model"] for m in alone[0]["lang_models"]] == ["fasttext"]
    macro = _langid_table(tmp_path / "macro", ["Ovo je rečenica na hrvatskom jeziku."], macrolanguage_fallback=True)
    assert macro[0]["lang"] == "hbs_Latn" and macro[0]["lang_group"] == "bcms"


def test_langid_ensemble_config_errors() -> None:
    from pipeline.config import ConfigError

    base = {"run": {"work_dir": "/tmp/x"}, "extract": {"inputs": ["x"]}}
    with pytest.raises(ConfigError, match=r"langid\.ensemble.*cld3"):
        parse_config({**base, "langid": {"ensemble": ["cld3"]}})
    with pytest.raises(ConfigError, match="a model is listed twice"):
        parse_config({**base, "langid": {"ensemble": ["cld2", "cld2"]}})
    with pytest.raises(ConfigError, match=r"langid\.consult"):
        parse_config({**base, "langid": {"consult": "sometimes"}})
