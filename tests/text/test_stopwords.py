"""Stop-word lists: coverage of the shipped configs' languages, matching per script, prose vs navigation text."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.lang.codes import normalize_label
from pipeline.text.segment import profile_for, words
from pipeline.text.stopwords import ENDINGS, STOP_WORDS, count_stop_words, stop_words_for

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo_text"
# Languages of configs/demo.yaml and configs/cc-example.yaml.
CONFIG_LANGS = "ko ja zh-Hans zh-Hant ru uk be bg pl cs en de fr es it pt vi th id ar".split()
DEMO_LANGS = "ko en ja zh-Hans zh-Hant ru uk de fr es vi th ar".split()


def demo_prose(lang: str) -> str:
    lines = (DEMO / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
    return "\n".join(line.removeprefix("= ") for line in lines if line and not line.startswith(("#", "[")))


def count(code: str, text: str) -> int:
    stops = stop_words_for(code)
    assert stops is not None
    if profile_for(code.partition("_")[2]).unit == "char":
        return count_stop_words(stops, text=text.lower())
    return count_stop_words(stops, words=words(text.lower()), endings=ENDINGS.get(code))


@pytest.mark.parametrize("lang", CONFIG_LANGS)
def test_every_configured_language_has_a_short_clean_list(lang: str) -> None:
    code = normalize_label(lang)
    stops = stop_words_for(code)
    assert stops is not None and 15 <= len(stops) <= 80
    assert all(w == w.lower() and w.strip() == w and " " not in w for w in stops)


@pytest.mark.parametrize("lang", DEMO_LANGS)
def test_prose_has_many_distinct_stop_words(lang: str) -> None:
    """Every paragraph block of real prose: at least 2 distinct stop words (the default requirement), usually many."""
    code = normalize_label(lang)
    prose = demo_prose(lang)
    assert count(code, prose) >= 8
    for para in prose.split("\n"):
        if len(para) > 150:
            assert count(code, para) >= 2, para[:80]


NAV = {
    "kor_Hang": "홈 회사소개 고객센터 뉴스 스포츠 경제 날씨 로그인 회원가입 쇼핑 장바구니 블로그 채용 사이트맵 이벤트",
    "jpn_Jpan": "ホーム 会社概要 お問い合わせ ニュース スポーツ 経済 天気 ログイン 新規登録 ショップ カート ブログ 採用情報",
    "zho_Hans": "首页 公司简介 联系我们 新闻中心 体育 财经 天气 登录 注册 商城 购物车 常见问题 博客 招聘 网站地图 关于我们",
    "zho_Hant": "首頁 公司簡介 聯絡我們 新聞中心 體育 財經 天氣 登入 註冊 商城 購物車 常見問題 部落格 招募 網站地圖 關於我們",
    "tha_Thai": "หน้าแรก เกี่ยวกับเรา ติดต่อเรา ข่าว กีฬา เศรษฐกิจ สภาพอากาศ เข้าสู่ระบบ สมัครสมาชิก ร้านค้า บริการ ค้นหา",
    "rus_Cyrl": "Главная Компания Контакты Новости Спорт Экономика Погода Вход Регистрация Магазин Корзина Блог Вакансии",
    "ara_Arab": "الرئيسية الشركة اتصل بنا أخبار رياضة اقتصاد الطقس تسجيل الدخول المتجر المدونة وظائف خريطة الموقع",
    "eng_Latn": "Home Company Contact News Sports Business Weather Login Register Shop Cart Blog Careers Sitemap Events",
}


@pytest.mark.parametrize("code", sorted(NAV))
def test_navigation_text_has_fewer_than_two(code: str) -> None:
    assert count(code, NAV[code]) < 2


def test_matching_modes() -> None:
    en = STOP_WORDS["eng_Latn"]
    assert count_stop_words(en, words=["the", "the", "of", "cat"]) == 2  # distinct entries
    assert count_stop_words(en, words=["theory", "often"]) == 0  # whole words only
    th = STOP_WORDS["tha_Thai"]
    assert count_stop_words(th, text="บ้านที่อยู่ของเรา") == 3  # ที่ อยู่ ของ as substrings
    assert count_stop_words(STOP_WORDS["jpn_Jpan"], text="猫が好きです") == 3  # が で です (substrings overlap)
    ko = STOP_WORDS["kor_Hang"]
    # whole eojeols (수 있는) plus the distinct particle endings (는 를 다)
    assert count_stop_words(ko, words="구청은 도서관을 열 수 있는 방안을 밝혔다".split(), endings=ENDINGS["kor_Hang"]) == 7
    assert count_stop_words(ko, words="회사소개 고객센터 장바구니".split(), endings=ENDINGS["kor_Hang"]) == 0
    with pytest.raises(ValueError, match="words= or text="):
        count_stop_words(en)


def test_lookup_falls_back_to_the_language_and_unknown_is_none() -> None:
    assert stop_words_for("zho_Hani") == STOP_WORDS["zho_Hans"] | STOP_WORDS["zho_Hant"]
    assert stop_words_for("bel_Latn") == STOP_WORDS["bel_Cyrl"]  # same language, other script: best effort
    assert stop_words_for("xho_Latn") is None
    assert "的" in STOP_WORDS["zho_Hans"] and "這" in STOP_WORDS["zho_Hant"] and "这" not in STOP_WORDS["zho_Hant"]
