"""Rules as data: user rules by import path, the page family (error pages, stubs, link farms, navigation), the
bad-word family (script-aware matching, rates not single hits, title hits, config lists), script units and rescaling.

Every page here is written for the test (the project's own prose in scripts/demo_text and hand-made junk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import ConfigError, parse_config
from pipeline.filter.lexicon import Lexicon, TermMatcher, builtin_terms, status_phrases_all
from pipeline.filter.quality import REASONS, QualityFilter
from pipeline.filter.rules import FAMILIES, Scale
from pipeline.filter.settings import QualitySettings
from pipeline.filter.view import DocView
from pipeline.lang.codes import normalize_label
from pipeline.text.segment import profile_for
from tests.filter.test_quality import paragraphs, prose_docs

QF = QualityFilter()


def qf(data: dict) -> QualityFilter:
    return QualityFilter(QualitySettings.model_validate(data))


def article(lang: str, size: int = 2500) -> str:
    return prose_docs(lang, 1, size=size)[0]


# --- rules are data -------------------------------------------------------------------------------------------


def test_every_rule_is_listed_with_its_settings_key_and_scale() -> None:
    settings = QualitySettings()
    for fam in FAMILIES:
        model = getattr(settings, fam.name)
        for rule in fam.rules(model):
            assert rule.key in type(model).model_fields, (fam.name, rule.name)
            assert isinstance(rule.scale, Scale) and rule.op in ("max", "min")
    assert {"page:error_page", "page:too_little_prose", "badwords:adult", "badwords:gambling_title"} <= set(REASONS)
    columns = [c for c, _, _ in QF.metrics()]
    assert "fineweb.dup_line_char_frac" in columns and "page.prose" in columns and len(columns) == len(set(columns))


def test_explain_and_measurements_come_from_the_same_rules() -> None:
    doc = article("ko")
    result, flat = QF.apply_measured(doc, "ko")
    explained = QF.explain(doc, "ko")["measurements"]
    assert result.reason is None
    assert flat == {f"{fam}.{k}": float(v) for fam, vals in explained.items() for k, v in vals.items()}
    assert {"page.prose", "badwords.adult_per_1000", "gopher_quality.words", "fineweb.line_punct_frac"} <= set(flat)


def test_dup_line_char_ratio_rescales_with_character_density() -> None:
    s = QualitySettings()
    en, zh, ko = s.rules_for("eng_Latn", "Latn"), s.rules_for("zho_Hans", "Hans"), s.rules_for("kor_Hang", "Hang")
    assert en.fineweb.max_dup_line_char_frac == 0.01
    assert zh.fineweb.max_dup_line_char_frac == pytest.approx(0.04)  # 6 / 1.5 line characters per English word
    assert ko.fineweb.max_dup_line_char_frac > 0.01
    assert zh.page.min_prose == 45 and zh.page.prose_line_units == 12  # counts x 1.5


def test_a_chapter_with_its_navigation_line_at_top_and_bottom_is_kept() -> None:
    """FineWeb's 1% rule removed clean novel chapters for one repeated 'previous / contents / next' line."""
    nav = "上一章 ← 章节目录 → 下一章 加入书签"
    chapter = article("zh-Hans", 2200)
    doc = f"{nav}\n{chapter}\n{nav}"
    assert QF.check(doc, "zh-Hans") is None
    paras = chapter.split("\n\n")
    inside = "\n\n".join([*paras[:2], nav, *paras[2:4], nav, *paras[4:]])
    frac = QF.explain(inside, "zh-Hans")["measurements"]["fineweb"]["dup_line_char_frac"]
    assert 0.01 < frac < 0.04  # inside the main text it counts, but a line of this size is under the Han threshold


def test_latin_words_in_a_chinese_page_count_as_words_not_letters() -> None:
    page = "404 Error - Not Found\n404 您访问的页面找不回来了，您可以上百度查找您感兴趣的内容。"
    view = DocView(page, profile_for("Hans"))
    assert view.n_units == 26 + 19  # n-gram rules: one unit per character, letters included
    assert view.size == 26 + 5 * 1.5  # counting rules: 26 Han characters + 5 words (404, error, not, found, 404)
    assert QF.check(page, "zh-Hans") in ("page:error_page", "page:too_little_prose")


# --- user rules by import path ---------------------------------------------------------------------------------


def test_a_user_function_rule_from_the_config() -> None:
    digits = "\n".join(f"第{i:03d}期 开奖结果 {i * 7919 % 100000:05d} {i * 104729 % 1000:03d}。" for i in range(60))
    custom = qf({"page": {"enabled": False}, "badwords": {"enabled": False},
                 "custom_rules": [{"rule": "tests.filter.custom_rules:digit_frac", "max": 0.3}]})  # fmt: skip
    reason = custom.check(digits, "zh-Hans")
    assert reason == "custom:digit_frac" or QF.explain(digits, "zh-Hans")["failed"]  # classic rules may fire first
    assert "custom:digit_frac" in custom.explain(digits, "zh-Hans")["failed"]
    assert custom.explain(digits, "zh-Hans")["measurements"]["custom"]["digit_frac"] > 0.3
    assert custom.check(article("zh-Hans"), "zh-Hans") is None


def test_a_user_class_rule_with_params_and_a_per_language_threshold() -> None:
    data = {
        "custom_rules": [{"rule": "tests.filter.custom_rules:KeywordCount", "params": {"keyword": "council"}, "min": 1}],
        "by_lang": {"de": {"custom": {"thresholds": {"count_council": None}}}},
    }
    custom = qf(data)
    en, de = article("en"), article("de")
    assert "council" in en.lower() and "council" not in de.lower()
    assert custom.check(en, "en") is None
    assert custom.check(article("fr"), "fr") == "custom:count_council"
    assert custom.check(de, "de") is None  # turned off for German
    assert custom.rules_for("eng_Latn", "Latn").custom.thresholds == {"count_council": 1}


def test_user_rules_fail_loudly_and_precisely() -> None:
    base = {"run": {"work_dir": "/tmp/x"}, "extract": {"inputs": ["x.warc.gz"]}}
    for rule, words in (
        ({"rule": "tests.filter.no_such_module:f", "max": 1}, "cannot import module"),
        ({"rule": "tests.filter.custom_rules:nope", "max": 1}, "has no attribute"),
        ({"rule": "tests.filter.custom_rules:NOT_CALLABLE", "max": 1}, "neither a function nor a class"),
        ({"rule": "tests.filter.custom_rules:digit_frac"}, "exactly one of max or min"),
        ({"rule": "digit_frac", "max": 1}, "not an import path"),
    ):
        with pytest.raises(ConfigError, match=words):
            parse_config({**base, "filter": {"quality": {"custom_rules": [rule]}}})
    two = [{"rule": "tests.filter.custom_rules:digit_frac", "max": 1}] * 2
    with pytest.raises(ConfigError, match="two custom rules are named 'digit_frac'"):
        parse_config({**base, "filter": {"quality": {"custom_rules": two}}})


# --- page family -----------------------------------------------------------------------------------------------

ERROR_PAGES = {
    "en": "Example Shop\nHome | Products | Contact\n404 - Page not found\nThe page you requested could not be found.",
    "zh-Hans": "首页 | 新闻 | 联系我们\n404 页面不存在\n抱歉，您访问的页面不存在或已被删除，请返回首页。",
    "ja": "ホーム | 会社概要 | お問い合わせ\nお探しのページは見つかりませんでした。\nURLをご確認のうえ、トップページへお戻りください。",
    "ko": "홈 | 회사소개 | 고객센터\n요청하신 페이지를 찾을 수 없습니다.\n주소가 올바른지 확인해 주세요.",
    "de": "Startseite | Kontakt\nSeite nicht gefunden\nDie angeforderte Seite konnte leider nicht gefunden werden.",
    "ru": "Главная | Контакты\nСтраница не найдена\nК сожалению, запрашиваемая страница не существует.",
}


#: Listings whose own notice says they have expired: stub pages too.
EXPIRED_PAGES = {
    "en": "Jobs | Post a job | Sign in\nSenior accountant, Leeds\nSorry, this job posting has expired.",
    "de": "Startseite | Anzeigen\nWohnung in Leipzig, 3 Zimmer\nDiese Anzeige ist abgelaufen.",
    "zh-Hans": "首页 | 招聘信息 | 联系我们\n会计主管（上海）\n该职位信息已过期，请浏览其他职位。",
    "ko": "홈 | 채용정보 | 고객센터\n회계 담당자 모집\n이 공고는 만료되었습니다.",
}


@pytest.mark.parametrize(
    ("lang", "page"), [(lang, pages[lang]) for pages in (ERROR_PAGES, EXPIRED_PAGES) for lang in sorted(pages)]
)
def test_error_pages_in_many_languages(lang: str, page: str) -> None:
    info = QF.explain(page, lang)
    assert info["decision"] == "page:error_page", info["failed"]
    assert info["measurements"]["page"]["status_phrases"] >= 1


def test_an_article_that_mentions_an_error_is_not_an_error_page() -> None:
    doc = article("en", 3000) + "\n\nReaders who saw 'page not found' on the council site were asked to retry."
    assert QF.check(doc, "en") is None


def test_a_short_article_about_an_expired_document_is_kept() -> None:
    """Only a page's own notice is a stub phrase: 'has expired' alone is also prose (an ID card, a deadline)."""
    doc = ("To renew an identity card you need an appointment at the town hall, which you can book on the city's "
           "website or by phone. Bring the old card and a recent colour photograph with a white background. The fee "
           "can be paid by card at the office. If the card has expired only recently, no other document is needed. "
           "The whole visit usually takes less than half an hour.")
    info = QF.explain(doc, "en")
    assert info["decision"] is None and info["measurements"]["page"]["status_phrases"] == 0


def test_notice_phrases_need_a_page_with_almost_no_prose() -> None:
    banner = "Please enable JavaScript to view this site."
    assert QF.check(f"Menu | Home\n{banner}", "en") == "page:error_page"
    assert QF.check(f"{banner}\n\n{article('en')}", "en") is None


def test_two_notices_in_a_page_with_little_prose_make_an_interstitial() -> None:
    help_lines = "\n".join(f"({i}) 请确保浏览器没有禁止发送Cookie，并且本地时间准确无误，然后刷新页面重试。" for i in range(1, 4))
    page = f"正在为您跳转到访问页面......\n如果您的浏览器没有自动跳转，请检查以下设置。\n{help_lines}"
    assert QF.explain(page, "zh-Hans")["measurements"]["page"]["status_phrases"] >= 2
    assert QF.check(page, "zh-Hans") == "page:error_page"
    short = "\n".join(p for p in article("zh-Hans", 600).split("\n") if len(p) > 20)[:130]
    one_notice = f"如果您的浏览器没有自动跳转，请点击此链接\n{short}"
    page_m = QF.explain(one_notice, "zh-Hans")["measurements"]["page"]
    assert 90 < page_m["prose"] < 225 and page_m["status_phrases"] == 0  # one notice beside some prose: boilerplate
    login = "Please log in to continue. You must be logged in to view this page. Enable JavaScript to use the editor."
    assert QF.check(f"{login}\n\n{article('en', 3000)}", "en") is None  # a real page carries them beside its prose


def test_every_language_has_its_own_status_phrases() -> None:
    phrases = set(status_phrases_all()) | set(status_phrases_all(notices=True))
    for sample in ("page not found", "页面不存在", "ページが見つかりません", "페이지를 찾을 수 없습니다", "seite nicht gefunden"):
        assert sample in phrases
    assert "error" not in phrases and "404" not in phrases  # never a bare word


def test_a_menu_or_catalogue_page_has_too_little_prose() -> None:
    catalogue = "\n".join(f"产品型号 JC-{i:03d} 规格 DN{20 + i} 价格 {i * 13} 元" for i in range(40))
    assert QF.check(catalogue, "zh-Hans") in ("page:too_little_prose", "page:prose_frac", "page:repeated_prefix")
    teaser = article("ko", 400).split("\n\n")[1]
    nav = "\n".join(f"{w} 바로가기" for w in "뉴스 스포츠 경제 정치 사회 문화 연예 날씨 쇼핑 블로그 카페 지도".split() * 6)
    assert QF.check(f"{nav}\n{teaser}\n{nav}", "ko") in ("page:prose_frac", "page:repeated_prefix")


def test_a_short_blurb_amid_menus_needs_a_larger_prose_share() -> None:
    blurb = paragraphs("zh-Hans")[1]  # one real paragraph, under short_prose
    menu = [f"{c}田牌特级手工麻辣五香牛肉干零食大礼包 ￥{i}.80" for i, c in enumerate("东南西北中发白春夏秋冬梅兰竹菊风花")]
    info = QF.explain("\n".join(["店铺首页", blurb, *menu]), "zh-Hans")
    share = info["measurements"]["page"]["short_prose_frac"]
    assert 0.2 <= share < 0.3 and info["failed"][0] == "page:short_prose_frac"  # min_prose_frac alone lets it pass
    assert "page:short_prose_frac" not in QF.explain("\n".join(["店铺首页", blurb, *menu[:8]]), "zh-Hans")["failed"]
    # An article with as many menu lines has enough prose not to be asked for the larger share.
    assert "short_prose_frac" not in QF.explain("\n".join([article("zh-Hans", 2500), *menu]), "zh-Hans")[
        "measurements"]["page"]


def test_copyright_and_legal_footers_are_not_prose() -> None:
    stub = "\n".join([
        "非洲木琴 产品展示", "首页 关于我们 产品中心 联系我们",
        "本网站所有内容未经书面同意，不得转载，违者将追究法律责任！",
        "Copyright © 2006-2016 广州某某贸易有限公司 版权所有 粤ICP备15057486号。",
        "本站内容收集于互联网，不承担任何由于内容的合法性所引起的争议和法律责任。",
    ])  # fmt: skip
    assert QF.check(stub, "zh-Hans") == "page:too_little_prose"
    lex = Lexicon.build("zho_Hans")
    assert DocView(stub, profile_for("Hans"), lex).prose_size(12) == 0
    assert DocView(stub, profile_for("Hans")).prose_size(12) > 45  # without the word lists: no footer markers
    for line, lang in (("© 2024 Example GmbH. Alle Rechte vorbehalten.", "deu_Latn"),
                       ("Copyright (c) 2019 무단 전재 및 재배포 금지. 모든 권리 보유.", "kor_Hang"),
                       ("当サイトの記事・画像の無断転載を禁じます。", "jpn_Jpan")):  # fmt: skip
        lines = DocView(line, profile_for(lang.split("_")[1]), Lexicon.build(lang)).prose_lines(1)
        assert lines == [], line
    # a paragraph that discusses copyright is prose: only footer-sized lines are left out
    essay = "版权所有者" + article("zh-Hans", 1200).replace("\n\n", "")
    assert DocView(essay, profile_for("Hans"), lex).prose_lines(12) == [0]


def test_link_farm_pages_fail_the_url_ratio() -> None:
    links = " ".join(f"www.site{i}.com" for i in range(40))
    page = article("en", 1500) + "\n" + links
    assert QF.check(page, "en") == "page:url_ratio"
    assert QF.check(article("en", 1500) + "\nMore at www.example.org.", "en") is None


def test_repeated_line_prefixes_mark_keyword_and_lottery_lists() -> None:
    lines = [f"063期{word}特码 心水推荐" for word in "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未".replace("", " ").split()]
    prose = article("zh-Hans", 1200)
    page = prose + "\n" + "\n".join(lines)
    assert "page:repeated_prefix" in QF.explain(page, "zh-Hans")["failed"]
    bullets = "\n".join(f"- {p}" for p in paragraphs("en")[1:9])
    view = DocView(bullets, profile_for("Latn"))
    assert view.repeated_prefix_frac(8) == 0  # a bulleted article: the bullet is not a shared start
    sentences = [p for p in paragraphs("en") if p.endswith(".")][:10]
    charter = "\n".join(f"Everyone has the right to {p.lower()}" for p in sentences)
    assert DocView(charter, profile_for("Latn")).repeated_prefix_frac(8) == 0  # prose lines are never a list


# --- badwords family -------------------------------------------------------------------------------------------


def test_the_shipped_lists_are_read_per_language() -> None:
    assert ("六合彩", True) in builtin_terms("gambling", "zh-Hans")
    assert any(t == "바카라" for t, _ in builtin_terms("gambling", "ko"))
    assert builtin_terms("adult", "en") and builtin_terms("adult", "ja")


def test_script_aware_matching() -> None:
    m = TermMatcher({"sex": 1.0, "blow job": 1.0, "야동": 1.0, "porn": 1.0, "成人电影": 1.0, "av": 1.0})

    def hits(text: str, script: str) -> float:
        return m.count(DocView(text.lower(), profile_for(script)))

    assert hits("Sussex sex Essex analysis blow job blowjob", "Latn") == 2  # whole words and phrases only
    assert hits("야동을 보는 야동 porn", "Hang") == 3  # eojeol stems: 야동 + 을
    assert hits("看porn成人电影 av女优 java sussex Avatar", "Hans") == 3  # substrings in Han, whole ASCII words


def test_one_medical_or_lgbt_word_never_drops_a_page() -> None:
    doc = article("en", 3000) + "\n\nThe clinic offers free testing for sexually transmitted infections to gay and lesbian couples."
    assert QF.check(doc, "en") is None
    zh = article("zh-Hans", 2500) + "\n\n医院提醒：性病和乳腺疾病应及早就医检查。"
    assert QF.check(zh, "zh-Hans") is None


def test_betting_brands_wrapped_around_chinese_prose_are_gambling() -> None:
    """SEO pages put a betting brand (金宝博 is 188BET, 威廉希尔 William Hill) before scraped paragraphs."""
    paras = paragraphs("zh-Hans")[1:7]
    brands = ["金宝博官网", "188bet金宝博", "威廉希尔体育投注", "沙巴体育", "金宝博网址", "皇冠体育"]
    page = "\n".join(f"{b}{p}" for b, p in zip(brands, paras, strict=True))
    assert QF.check(page, "zh-Hans") == "badwords:gambling"
    assert QF.check(article("zh-Hans", 2500) + "\n据报道，威廉希尔的赔率显示主队占优。", "zh-Hans") is None  # one mention


def test_fake_pharmacy_and_black_market_spam_is_its_own_category() -> None:
    assert ("网赚", True) in builtin_terms("spam", "zh-Hans") and ("代孕", False) in builtin_terms("spam", "zh-Hans")
    assert "badwords:spam" in REASONS
    tools = "\n".join(f"{p}本站提供QQ群发软件与网赚教程，日赚百元。" for p in paragraphs("zh-Hans")[1:5])
    assert QF.check(tools, "zh-Hans") == "badwords:spam"
    pharmacy = "\n\n".join(f"{p} Buy viagra online at our canadian pharmacy, no prescription needed."
                             for p in paragraphs("en")[1:5])  # fmt: skip
    assert QF.check(pharmacy, "en") == "badwords:spam"
    # A health article that names the drug a few times is not spam (soft entries, and the rate needs min_hits).
    health = article("en", 2500) + "\n\nDoctors say Viagra and Cialis should only be taken on prescription; Viagra can interact with heart drugs."
    assert QF.check(health, "en") is None


def test_surrogacy_ads_injected_into_reposted_news_are_spam() -> None:
    news = paragraphs("zh-Hans")[1:6]
    ad = "http://www.example.com/a/3.html 如何办理代孕手续_北京代孕|北京代孕公司-北京代孕服务网"
    hacked = "\n".join(p[:20] + ad + p[20:] if i % 2 else p for i, p in enumerate(news))  # glued mid-sentence
    assert QF.check(hacked, "zh-Hans") == "badwords:spam"
    assert QF.check("\n".join(news), "zh-Hans") is None
    # News about surrogacy names it, its agencies and their prices (soft entries): not spam.
    report = article("zh-Hans", 1500) + "\n记者调查发现，一些代孕机构以“代孕中心”的名义招揽客户，代孕费用高达数十万元。" \
        "法律界人士指出，代孕公司的经营行为违反国家规定，卫生部门已多次开展打击非法代孕的专项行动。"
    assert QF.check(report, "zh-Hans") is None


def test_a_bad_word_title_over_unrelated_text_is_an_seo_wrapper() -> None:
    body = "\n".join(paragraphs("zh-Hans")[1:6])
    seo = "1.85英雄合击_新开传奇私服网站_最新版本\n" + body  # one hard hit: under max_title_hits
    info = QF.explain(seo, "zh-Hans")
    assert info["measurements"]["page"]["off_topic_title_hits"] == 1.0
    assert info["decision"] == "page:off_topic_title"
    # The same bad word in a title the text is about: on topic (a fashion story on stars' casual clothes, 私服).
    fashion = "明星私服穿搭：秋冬大衣怎么选\n" + body + "\n明星私服穿搭里，秋冬大衣总是主角。怎么选一件大衣？先看版型。"
    assert QF.explain(fashion, "zh-Hans")["measurements"]["page"]["off_topic_title_hits"] == 0.0
    assert QF.check("新闻中心_本地新闻\n" + body, "zh-Hans") is None  # a clean title over the same text
    assert QF.rules_for("eng_Latn", "Latn").page.max_off_topic_title_hits is None  # character-unit scripts only


def test_text_cut_into_bracketed_characters_is_obfuscated() -> None:
    paras = paragraphs("zh-Hans")[1:6]
    cut = "".join(f"【{c}】" for c in "".join(paras[2:]))  # 【此】【外】【，】: keyword filters see no word
    page = "\n".join([*paras[:2], cut])
    info = QF.explain(page, "zh-Hans")
    assert info["measurements"]["page"]["bracketed_frac"] > 0.5 and info["decision"] == "page:bracketed_chars"
    # Headings in brackets and citation marks are not runs of single bracketed characters.
    cited = "\n".join([f"【{paras[0][:6]}】", *paras, "参考文献[1][2][3][4][5]"])
    assert QF.explain(cited, "zh-Hans")["measurements"]["page"]["bracketed_frac"] == 0
    wiki = article("en", 1500) + " as reported.[1][2][3][4]"
    assert QF.explain(wiki, "en")["measurements"]["page"]["bracketed_frac"] == 0


def test_porn_and_gambling_link_farms_are_dropped() -> None:
    porn = "\n".join(["成人电影 在线观看 自拍偷拍 亚洲色图 无码av 激情小说 日韩av 成人视频"] * 3
                     + [p for p in paragraphs("zh-Hans")[1:4]])  # fmt: skip
    assert QF.check(porn, "zh-Hans") in ("badwords:adult", "badwords:adult_title")
    lottery = "\n".join([f"六合彩第{i}期特码资料，时时彩开奖结果，百家乐真人荷官在线投注。" for i in range(12)])
    assert QF.check(lottery, "zh-Hans", ) in ("badwords:gambling", "badwords:gambling_title")
    korean = "카지노사이트 바카라 토토사이트 먹튀검증\n" + article("ko", 1200)
    assert QF.check(korean, "ko") in ("badwords:gambling", "badwords:gambling_title")
    assert "badwords:gambling_title" in QF.explain(korean, "ko")["failed"]


def test_extra_and_replacement_lists_from_the_config(tmp_path: Path) -> None:
    words = tmp_path / "gambling-en.txt"
    words.write_text("# our own list\nwidgetcoin\n", encoding="utf-8")
    doc = article("en", 2500) + "\n" + " ".join(["widgetcoin"] * 20)
    assert QF.check(doc, "en") is None
    replaced = qf({"by_lang": {"en": {"badwords": {"replace": {"gambling": str(words)}}}}})
    assert replaced.check(doc, "en") == "badwords:gambling"
    extra = qf({"badwords": {"extra": {"gambling": ["widgetcoin"]}}})
    assert extra.check(doc, "en") == "badwords:gambling"
    off = qf({"by_lang": {"en": {"badwords": {"enabled": False}}}, "badwords": {"extra": {"gambling": ["widgetcoin"]}}})
    assert off.check(doc, "en") is None
    lex = Lexicon.build(normalize_label("en"), categories=("gambling",), extra={"gambling": ("widgetcoin",)})
    assert lex.words.weights["widgetcoin"] == {"gambling": 1.0}


def test_a_title_injected_into_the_body_marks_a_hacked_chinese_page() -> None:
    title = "激情成人影院_在线观看免费"
    paras = article("zh-Hans", 2000).split("\n\n")
    hacked = [p[: len(p) // 2] + title + p[len(p) // 2 :] for p in paras[1:]]
    page = "\n\n".join([title, paras[0], *hacked])
    info = QF.explain(page, "zh-Hans")
    assert info["measurements"]["page"]["title_inside_lines"] >= 3 and "page:title_injected" in info["failed"]
    breadcrumb = "\n\n".join([title, f"首页 > 影院 > {title}", article("zh-Hans", 2000)])
    assert DocView(breadcrumb, profile_for("Hans")).title_inside_lines == 0  # at a line's end: a breadcrumb
    english = "\n\n".join(["Council approves new crosswalks", *[f"Read: Council approves new crosswalks today. {p}"
                           for p in paragraphs("en")[1:6]]])  # fmt: skip
    assert QF.rules_for("eng_Latn", "Latn").page.max_title_injections is None  # titles are quoted in English pages
    assert "page:title_injected" not in QF.explain(english, "en")["failed"]


def test_a_list_of_one_sentence_titles_has_no_paragraph() -> None:
    questions = [
        "我的孩子晚上总是咳嗽应该吃什么药比较好？", "甲状腺结节需要做手术吗还是吃药就可以了？",
        "医生您好我最近总是失眠多梦是什么原因呢？", "高血压患者平时饮食应该注意哪些方面的问题？",
        "孕妇感冒了可以吃哪些药物对胎儿没有影响？", "老人腿脚无力走路不稳是不是缺钙引起的呢？",
    ] * 3  # fmt: skip
    page = "\n".join(["健康问答_内科_疾病列表", *questions, "上一页 1 2 3 下一页"])
    info = QF.explain(page, "zh-Hans")
    assert info["measurements"]["page"]["paragraph_prose"] == 0
    assert "page:too_little_paragraph" in info["failed"]
    assert "page:too_little_paragraph" not in QF.explain(article("zh-Hans", 1500), "zh-Hans")["failed"]
    assert "page:too_little_paragraph" not in QF.explain(article("ja", 1500), "ja")["failed"]
    # English news writes one-sentence paragraphs: the rule is for character-unit scripts only.
    assert QF.rules_for("eng_Latn", "Latn").page.min_paragraph_prose is None
    v = DocView("第一句话很长，也有逗号。第二句。\n只有一句话的标题行也不算段落吗？", profile_for("Hans"))
    assert v.paragraph_size(8, 40) == v.line_sizes[0]  # two sentence ends: a paragraph; one short sentence: not


def test_truncated_teaser_lines_are_not_prose() -> None:
    snippets = [
        "据报道，该市今年的降雨量比往年多出三成。多地出现内涝，有关部门已经启动应急预案，要求各区县加强...",
        "专家表示，连续降雨导致部分农田受灾。农业部门正在组织技术人员下乡指导农户排水，尽快恢复生产……",
        "气象台预计，未来一周仍有较强降雨过程。提醒市民出行注意安全，远离河道和低洼地带，关注最新预警...",
        "记者从交通部门获悉，受暴雨影响，部分高速公路临时封闭。铁路部门也调整了多趟列车的运行计划……",
    ]  # fmt: skip
    menu = ["首页", "新闻", "天气预报", "相关搜索：", "暴雨预警", "降雨量查询", "内涝", "防汛", "农田排水", "高速封闭"]
    page = "\n".join(["暴雨最新消息_搜索结果", *menu[:3], *snippets, *menu[3:]])
    v = DocView(page, profile_for("Hans"))
    assert len(v.prose_lines(12)) == 4  # without the setting: each snippet is a prose line
    v = DocView(page, profile_for("Hans"))
    v.teasers = (3, 37.5)  # page.min_teaser_lines, page.paragraph_units in Han
    assert v.prose_lines(12) == []  # four lines cut off at an ellipsis: a list of teasers
    assert QF.check(page, "zh-Hans") == "page:too_little_prose"
    assert qf({"page": {"min_teaser_lines": None}}).check(page, "zh-Hans") != "page:too_little_prose"
    # One paragraph cut off at the end (a chapter behind a "read on" link) is still the page's prose.
    chapter = article("zh-Hans", 1500).replace("\n\n", "\n").rstrip("。") + "……"
    assert QF.check(chapter, "zh-Hans") is None
    assert QF.rules_for("eng_Latn", "Latn").page.min_teaser_lines == 3  # every script: "..." teasers too
    # Short lines trailing off are casual writing, not snippets: they stay prose however many there are.
    diary = ["今天下雨了，没能出门。只好在家里看书……", "晚上做了番茄汤，孩子们都说好喝。明天再试试别的……",
             "想起小时候外婆煮的汤。那个味道再也找不到了……", "写到这里有点想家了。下次回去一定要多住几天……"]
    v = DocView("\n".join(diary), profile_for("Hans"))
    v.teasers = (3, 37.5)
    assert v.prose_lines(12) == [0, 1, 2, 3]


def test_anchor_groups_cover_every_phrase_with_a_substring_it_holds() -> None:
    """Each phrase is in exactly one group and contains its group's anchor: an absent anchor rules its group out."""
    import random

    from pipeline.filter.lexicon import anchor_groups

    rng = random.Random(4)
    letters = "ab cd"
    for _ in range(300):
        phrases = tuple(
            "".join(rng.choice(letters) for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(1, 9))
        )
        groups = anchor_groups(phrases, size=rng.randint(1, 6))
        assert sorted(p for _, group in groups for p in group) == sorted(set(phrases))
        assert all(anchor in p for anchor, group in groups for p in group)


@pytest.mark.parametrize("lang", ["en", "zh-Hans", "ko", "ru"])
def test_status_phrases_with_anchors_count_as_the_pattern_alone(lang: str) -> None:
    """The anchor test in front of the status-phrase patterns changes no count: pages with phrases, without, and
    with an anchor but no phrase."""
    lex = Lexicon.build(normalize_label(lang))
    phrases = status_phrases_all(False, None)[:30] + status_phrases_all(True, None)[:10]
    texts = [*prose_docs(lang, 3), "server down", "nothing to see", *(f"x {p} y {p}." for p in phrases)]
    for text in texts:
        v = DocView(text, profile_for(normalize_label(lang).partition("_")[2]), lex)
        for notices in (False, True):
            pattern = lex.notices if notices else lex.phrases
            assert lex.status_phrases(v, notices) == len(pattern.findall(v.lower))
