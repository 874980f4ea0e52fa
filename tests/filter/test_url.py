"""URL filter: blocklists (UT1 directories, plain files, over HTTP), host normalization, words per script, tally."""

from __future__ import annotations

import gzip
import http.server
import pickle
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import quote

import pytest
from pydantic import ValidationError

from pipeline.filter.url import (
    BUILTIN_CATEGORIES,
    DATA_DIR,
    URLFilter,
    URLFilterSettings,
    normalize_host,
    tokenize_url_text,
)

FIXTURES = Path(__file__).parent / "fixtures" / "url"
UT1 = FIXTURES / "ut1"


def pct(text: str, encoding: str = "utf-8") -> str:
    return quote(text, encoding=encoding)


@pytest.fixture(scope="module")
def lists() -> URLFilter:
    """The fixture lists only (built-in words off), adult before gambling."""
    return URLFilter(
        URLFilterSettings(
            blocklists={
                "adult": str(UT1 / "adult"),
                "gambling": str(UT1 / "gambling"),
                "plain": str(FIXTURES / "plain.txt"),
            },
            banned_words=False,
            soft_words=False,
        )
    )


@pytest.fixture(scope="module")
def words() -> URLFilter:
    """The built-in word lists only."""
    return URLFilter()


# ---------------------------------------------------------------------------------------------------------------
# blocklists


def test_domain_and_parent_domains(lists: URLFilter) -> None:
    assert lists.check("http://badsite.com/page") == "url:blocklist:adult"
    assert lists.check("https://a.b.badsite.com/") == "url:blocklist:adult"
    assert lists.check("https://x.wildcard.example/") == "url:blocklist:adult"  # "*.wildcard.example"
    assert lists.check("http://casino-spam.biz") == "url:blocklist:gambling"
    for url in (
        "http://notbadsite.com/",  # a longer label is not a parent
        "http://badsite.com.example.org/",  # the listed name as a prefix of another domain
        "http://badsite.co/",
        "http://example.com/badsite.com",
    ):
        assert lists.check(url) is None, url


def test_only_the_listed_subdomain_and_below(lists: URLFilter) -> None:
    assert lists.check("http://sub.only.example.com/") == "url:blocklist:plain"
    assert lists.check("http://deep.sub.only.example.com/x") == "url:blocklist:plain"
    assert lists.check("http://only.example.com/") is None
    assert lists.check("http://other.example.com/") is None


def test_first_list_in_settings_order_is_the_reason(lists: URLFilter) -> None:
    # badsite.com is in both adult and gambling
    assert lists.check("http://badsite.com/") == "url:blocklist:adult"
    swapped = URLFilter(
        URLFilterSettings(
            blocklists={"gambling": str(UT1 / "gambling"), "adult": str(UT1 / "adult")},
            banned_words=False,
            soft_words=False,
        )
    )
    assert swapped.check("http://badsite.com/") == "url:blocklist:gambling"
    assert lists.explain("http://badsite.com/")["blocklists"] == ["adult"]  # a key is stored once, for its first list


def test_www_port_case_userinfo_trailing_dot(lists: URLFilter) -> None:
    for url in (
        "HTTP://WWW.BadSite.COM:8080/x",
        "http://badsite.com./",
        "http://user:secret@badsite.com/",
        "//badsite.com/protocol-relative",
        "badsite.com/no-scheme",
        "http://upper-case.net/",  # listed as Upper-Case.NET
        "http://listed-with-www.org/",  # listed as www.listed-with-www.org
        "http://www.listed-with-www.org/",
        "http://Spam-Domain.org/",
        "http://1.2.3.4:8000/",
    ):
        assert lists.check(url) is not None, url
    assert lists.check("http://2.3.4/") is None  # an IP address matches exactly, no parent walk
    assert lists.check("http://5.1.2.3.4/") is None


def test_idna_both_forms(lists: URLFilter) -> None:
    # listed in punycode (例え.jp): a Unicode host is encoded, a punycode host matches as is
    assert lists.check("http://例え.jp/a") == "url:blocklist:adult"
    assert lists.check("http://www.xn--r8jz45g.jp/") == "url:blocklist:adult"
    assert lists.check("http://sub.例え.jp/") == "url:blocklist:adult"
    assert lists.check("http://例え。jp/") == "url:blocklist:adult"  # full-width dot
    # listed in Unicode: a punycode host is decoded
    puny = "xn--" + "bücher-schlecht".encode("punycode").decode("ascii") + ".de"
    assert puny.startswith("xn--bcher")
    assert lists.check(f"https://{puny}/") == "url:blocklist:adult"
    assert lists.check("https://BÜCHER-schlecht.de/") == "url:blocklist:adult"
    assert lists.check("https://bücher.de/") is None


def test_bare_tld_entry(lists: URLFilter) -> None:
    assert lists.check("http://anything.xxx/") == "url:blocklist:plain"  # "xxx" in plain.txt: the whole TLD
    assert lists.check("http://xxx.example.com/") is None


def test_url_prefixes(lists: URLFilter) -> None:
    for url in (
        "http://portal.org/adult",
        "http://portal.org/adult/",
        "https://www.portal.org/adult/page.html?x=1",
        "http://PORTAL.org/Adult/deeper/still",
        "http://freehost.com/~baduser/index.html",
        "http://forum.net/viewtopic.php?t=13",
        "http://prefixed.net/bad/path/sub",  # "http://www.prefixed.net/bad/path/" in plain.txt
    ):
        assert lists.check(url) is not None, url
    for url in (
        "http://portal.org/",
        "http://portal.org/adultery-law",  # not at a path boundary
        "http://portal.org/news/adult",
        "http://sub.portal.org/adult/",  # URL prefixes name one host exactly
        "http://forum.net/viewtopic.php?t=14",
        "http://forum.net/viewtopic.php",
        "http://prefixed.net/bad",
    ):
        assert lists.check(url) is None, url


def test_ut1_directory_with_only_domains_and_gzip_file(tmp_path: Path) -> None:
    gz = tmp_path / "list.txt.gz"
    gz.write_bytes(gzip.compress(b"# gzipped\nzipped.example\nzipped.org/path\n"))
    f = URLFilter(
        URLFilterSettings(blocklists={"g": str(UT1 / "gambling"), "z": str(gz)}, banned_words=False, soft_words=False)
    )
    assert f.check("http://www.casino-spam.biz/x") == "url:blocklist:g"
    assert f.check("http://zipped.example/") == "url:blocklist:z"
    assert f.check("http://zipped.org/path/x") == "url:blocklist:z"
    assert f.check("http://portal.org/adult") is None  # adult's urls file is not part of this filter


def test_missing_list_fails_at_load_naming_list_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "domains.txt"
    with pytest.raises(FileNotFoundError, match=r"blocklist 'adult'.*nope/domains\.txt"):
        URLFilter(URLFilterSettings(blocklists={"adult": str(missing)}))
    with pytest.raises(FileNotFoundError, match=r"blocklist 'empty'.*neither a 'domains' nor a 'urls'"):
        URLFilter(URLFilterSettings(blocklists={"empty": str(UT1 / "empty")}))
    # disabled: nothing is read
    disabled = URLFilter(URLFilterSettings(enabled=False, blocklists={"adult": str(missing)}))
    assert disabled.check("http://x/porn") is None


def test_a_file_that_is_not_a_list_fails(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text('<html>\n<a href="x">x</a>\n</html>\n')
    with pytest.raises(ValueError, match=r"blocklist 'web'.*holds no domain or URL"):
        URLFilter(URLFilterSettings(blocklists={"web": str(page)}))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The fixture lists served by a real HTTP server on 127.0.0.1 (a thread), and its root directory."""
    root = tmp_path / "www"
    shutil.copytree(FIXTURES, root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_lists_served_over_http(http_root: tuple[str, Path]) -> None:
    base, _ = http_root
    f = URLFilter(
        URLFilterSettings(
            blocklists={"remote_dir": f"{base}/ut1/adult", "remote_file": f"{base}/plain.txt"},
            banned_words=False,
            soft_words=False,
        )
    )
    assert f.check("http://a.badsite.com/") == "url:blocklist:remote_dir"
    assert f.check("http://portal.org/adult/x") == "url:blocklist:remote_dir"  # the directory's urls file
    assert f.check("http://spam-domain.org/") == "url:blocklist:remote_file"
    assert f.check("http://example.org/") is None
    with pytest.raises(FileNotFoundError, match=r"blocklist 'gone'.*missing\.txt"):
        URLFilter(URLFilterSettings(blocklists={"gone": f"{base}/missing.txt"}))


# ---------------------------------------------------------------------------------------------------------------
# allow_domains


def test_allow_domains_win_over_lists_and_words() -> None:
    f = URLFilter(
        URLFilterSettings(
            blocklists={"adult": str(UT1 / "adult")},
            allow_domains=["WWW.Wikipedia.org.", "badsite.com", "例え.jp"],
        )
    )
    assert f.settings.allow_domains == ("wikipedia.org", "badsite.com", "例え.jp")
    assert f.check("https://ko.wikipedia.org/wiki/Porn_(film)") is None
    assert f.check("https://en.wikipedia.org/wiki/casino-poker") is None
    assert f.check("http://badsite.com/porn") is None
    assert f.check("http://xn--r8jz45g.jp/") is None  # allowed in Unicode, URL in punycode
    assert f.check("https://wikipedia.org.evil.com/porn") == "url:banned_word:adult"
    assert f.check("https://notwikipedia.org/porn") == "url:banned_word:adult"


# ---------------------------------------------------------------------------------------------------------------
# words


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # Latin, whole tokens, letter/digit boundaries
        ("http://example.com/videos/porn-hd", "adult"),
        ("http://example.com/porn123", "adult"),
        ("http://PORNHUB.com/", "adult"),
        ("http://example.com/watch?v=1&q=milf", "adult"),
        ("http://example.com/ＰＯＲＮ/x", "adult"),  # full-width, NFKC
        # Cyrillic
        ("http://example.ru/порно/1", "adult"),
        (f"http://example.ru/{pct('порно')}-онлайн", "adult"),
        # pinyin
        ("http://example.cn/liuhecai/kaijiang.html", "gambling"),
        ("http://example.cn/seqing/1.html", "adult"),
        # Korean romanization: phrase as two tokens or glued
        ("http://example.kr/toto-site/list", "gambling"),
        ("http://example.kr/best_totosite_2024", "gambling"),
        ("http://example.kr/meoktwi-police", "gambling"),
        # Japanese romaji
        ("http://example.jp/jukujo/", "adult"),
        # Indonesian
        ("http://example.id/slot-gacor-hari-ini", "gambling"),
        ("http://example.id/slotgacor", "gambling"),
        ("http://example.id/situs-judi-online", "gambling"),
        ("http://togel.example.id/", "gambling"),
        # Vietnamese, with and without diacritics
        ("http://example.vn/nha-cai-uy-tin", "gambling"),
        ("http://example.vn/nhà-cái-uy-tín", "gambling"),
        (f"http://example.vn/{pct('cá-cược')}-bong-da", "gambling"),
        # brand phrase split by the tokenizer
        ("http://www.bet365.com/", "gambling"),
        # CJK substrings in percent-encoded paths, queries and IDN hosts
        (f"http://example.cn/{pct('色情片')}/1.html", "adult"),
        (f"http://example.cn/search?q={pct('免费色情电影')}", "adult"),
        (f"http://example.cn/{pct('六合彩', 'gb18030')}/", "gambling"),  # GBK-encoded URL
        (f"http://example.jp/{pct('エロ動画')}", "adult"),
        (f"http://example.jp/{pct('ｴﾛ動画')}", "adult"),  # half-width katakana, NFKC
        (f"http://example.kr/{pct('토토사이트')}-추천", "gambling"),
        (f"http://example.kr/{pct('야동')}", "adult"),
        ("http://카지노사이트.com/", "gambling"),
        ("http://xn--" + "카지노사이트".encode("punycode").decode() + ".com/", "gambling"),
        # subwords in glued host names
        ("https://freeporntube.com/", "adult"),
        ("https://nhentai.net/g/1/", "adult"),
        ("https://bandartogel88.com/", "gambling"),
    ],
)
def test_hard_words(words: URLFilter, url: str, reason: str) -> None:
    assert words.check(url) == f"url:banned_word:{reason}", words.explain(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://www.essex.ac.uk/",
        "http://sussex.example.com/middlesex/wessex",
        "http://example.com/research/analysis-of-data",
        "http://www.scunthorpe-united.co.uk/",
        "http://example.com/sexton-and-sextant",
        "http://example.com/therapist-directory",
        "http://example.com/cocktail-recipes/dickens",
        "http://example.com/unisex-clothing",
        "http://example.com/bukkake-udon-recipe",  # soft only
        "http://example.com/freeporntube",  # subwords never look at the path
        "http://www.villepornichet.fr/",  # Pornichet, France
        "http://ansporn.de/",  # German "incentive"
        "http://hertogelijk.nl/",  # Dutch "ducal"
        "http://www.toto.co.jp/products/",  # TOTO toilets: toto is soft
        "http://example.com/judi-dench-biography",
        "http://example.cn/bocai-recipe",  # 菠菜 spinach: soft
        "http://example.cn/news/zhibo",
        f"http://example.jp/{pct('エセックス')}-{pct('サセックス')}",  # Essex, Sussex in katakana contain セックス
        f"http://example.jp/{pct('ユニセックス')}",
        f"http://example.kr/{pct('유니섹스')}-{pct('미들섹스')}",
        f"http://example.cn/{pct('中国特色情况')}",  # 特色 + 情况 contains 色情 (soft, one word)
        f"http://example.cn/{pct('白色情人节')}",  # White Day
        f"http://example.cn/{pct('支援交流会')}",  # 支援 + 交流 contains 援交 (soft)
        f"http://example.jp/{pct('背中出しドレス')}",  # backless dress contains 中出し
        f"http://example.kr/{pct('이웃집-토토로')}",  # Totoro
        "http://example.com/",
    ],
)
def test_no_false_positives(words: URLFilter, url: str) -> None:
    assert words.check(url) is None, words.explain(url)


def test_soft_words_threshold(words: URLFilter) -> None:
    assert words.check("http://example.com/casino") is None
    assert words.check("http://example.com/casino/casino-review") is None  # one distinct word
    assert words.check("http://example.com/casino-poker") == "url:soft_words"
    assert words.check("http://poker.example.com/roulette") == "url:soft_words"  # host and path together
    assert words.check("http://example.vn/xo-so/soi-cau") == "url:soft_words"  # two soft phrases
    ko = f"http://example.kr/{pct('토토')}-{pct('카지노')}"
    assert words.check(ko) == "url:soft_words"
    assert words.explain(ko)["soft_words"] == ["카지노", "토토"]
    assert words.check(f"http://example.kr/{pct('토토로')}-{pct('카지노')}") is None  # 토토로 is an exception
    assert words.check(f"http://example.cn/{pct('色情')}") is None
    assert words.check(f"http://example.cn/{pct('色情')}/{pct('美女')}") == "url:soft_words"
    one = URLFilter(URLFilterSettings(soft_word_threshold=1))
    assert one.check("http://example.com/casino") == "url:soft_words"
    three = URLFilter(URLFilterSettings(soft_word_threshold=3))
    assert three.check("http://example.com/casino-poker") is None
    assert three.check("http://example.com/casino-poker-slots") == "url:soft_words"


def test_categories_and_switches() -> None:
    adult_only = URLFilter(URLFilterSettings(categories=["adult"]))
    assert adult_only.check("http://example.id/togel") is None
    assert adult_only.check("http://example.com/casino-poker") is None  # gambling soft words are off too
    assert adult_only.check("http://example.com/porn") == "url:banned_word:adult"
    no_builtin = URLFilter(
        URLFilterSettings(
            banned_words=False,
            soft_words=False,
            extra_banned_words={"piracy": ["warez", "free movie download"], "adult": ["色情"]},
            extra_soft_words=["Torrent", "crack"],
        )
    )
    assert no_builtin.check("http://example.com/porn") is None
    assert no_builtin.check("http://example.com/warez/") == "url:banned_word:piracy"
    assert no_builtin.check("http://example.com/free-movie-download") == "url:banned_word:piracy"
    assert no_builtin.check(f"http://example.cn/{pct('色情')}") == "url:banned_word:adult"
    assert no_builtin.check("http://example.com/torrent") is None
    assert no_builtin.check("http://example.com/torrent-crack") == "url:soft_words"


def test_builtin_lists_load_and_every_category_has_its_files() -> None:
    assert BUILTIN_CATEGORIES == ("adult", "gambling")
    for cat in BUILTIN_CATEGORIES:
        for suffix in (".txt", ".soft.txt", ".subwords.txt"):
            assert (DATA_DIR / f"{cat}{suffix}").is_file()
    f = URLFilter()
    assert "porn" in f._hard.tokens and "casino" in f._soft.tokens
    assert ("slot", "gacor") in f._hard.phrases
    assert "sex" not in f._hard.tokens and "sex" in f._soft.tokens


def test_tokenizer() -> None:
    assert tokenize_url_text("x.com/sex123-essex") == ["x", "com", "sex", "123", "essex"]
    assert tokenize_url_text("x.cn/porn视频_nhà-cái") == ["x", "cn", "porn", "视频", "nha", "cai"]
    assert normalize_host("User@WWW.Example.COM.:80") == "example.com"
    assert normalize_host("[2001:db8::1]:443") == "2001:db8::1"


def test_explain_and_pickle(words: URLFilter) -> None:
    url = f"http://www.example.kr/{pct('토토사이트')}?x=1"
    e = words.explain(url)
    assert e["hosts"] == ["example.kr"]
    assert e["banned_words"] == ["gambling:토토사이트"]
    assert e["decision"] == "url:banned_word:gambling"
    lst = URLFilter(URLFilterSettings(blocklists={"adult": str(UT1 / "adult")}))
    copy = pickle.loads(pickle.dumps(lst))  # a filter built once can travel to workers
    for u in ("http://badsite.com/", "http://portal.org/adult/x", "http://example.com/casino-poker", "http://ok.org/"):
        assert copy.check(u) == lst.check(u)


# ---------------------------------------------------------------------------------------------------------------
# settings


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"soft_word_threshold": 0}, "greater than or equal to 1"),
        ({"unknown": 1}, "Extra inputs are not permitted"),
        ({"blocklists": {"": "/x"}}, "blocklist name '' must be non-empty"),
        ({"blocklists": {"a:b": "/x"}}, "without spaces or ':'"),
        ({"blocklists": {"adult": "  "}}, "blocklist 'adult': the path is empty"),
        ({"categories": ["adult", "drugs"]}, "unknown word category 'drugs'"),
        ({"allow_domains": ["https://example.com/"]}, "allow_domains takes domains, not URLs"),
        ({"extra_banned_words": {"": ["x"]}}, "word category '' must be non-empty"),
        ({"extra_banned_words": {"spam": ["---"]}}, "extra_banned_words.spam: '---' has no letter or digit"),
        ({"extra_soft_words": ["a b c d"]}, "phrase of 4 tokens"),
        ({"extra_soft_words": ["!essex"]}, "exception '!essex' contains none of the list's substring entries"),
    ],
)
def test_settings_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        URLFilterSettings(**kwargs)  # type: ignore[arg-type]


def test_settings_are_frozen_and_normalized() -> None:
    s = URLFilterSettings(
        blocklists={"adult": " /lists/adult "}, extra_soft_words=["Casino", "casino"], categories=["gambling", "adult"]
    )
    assert s.blocklists == {"adult": "/lists/adult"}
    assert s.extra_soft_words == ("casino",)
    assert s.categories == ("adult", "gambling")
    with pytest.raises(ValidationError):
        s.enabled = False  # type: ignore[misc]
