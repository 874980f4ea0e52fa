"""Short hand-picked stop-word lists for Gopher's "contains stop words" rule, per language (canonical codes).

Why: the rule keeps a document only if it contains at least N *distinct* very frequent function words (datatrove
0.10 semantics; Gopher's list is "the be to of and that have with"). Real prose in any language has them; menus,
keyword lists, tables and code do not. The lists are written for this project: the most frequent function words of
each language — articles, prepositions, conjunctions, pronouns, auxiliaries — lower case, short on purpose (a long
list matches junk too).

How they match (`count_stop_words`): for space-delimited languages as whole lower-cased `segment.words`
(Vietnamese: syllables). Korean attaches its particles to the noun (``도서관에서``), so whole eojeols alone (bound
nouns, adverbs, frequent predicate forms such as ``수``, ``및``, ``있는``, ``그리고``, ``것으로``, ``밝혔다``) found
only 1 in some 45-eojeol news paragraphs; Korean also counts the distinct *particle endings* of its eojeols
(`ENDINGS`: 은 는 이 가 을 를 의 에 로 와 과 도 만, and the declarative ending 다), which every sentence has and
menus ("회사소개 고객센터 장바구니") do not. For Chinese and Japanese the entries are
single function characters / particles (的 了 是 在 / の は が を に), and for Thai frequent words (ที่ และ ของ เป็น),
all matched as substrings of the text, since those scripts have no word boundaries. Characters that are frequent in
navigation text were left out on purpose: 我/们 (联系我们 "contact us"), 中 (新闻中心), Thai กับ (inside เกี่ยวกับ
"about"), การ (inside บริการ "services"), มี (inside มีนาคม "March").
"""

from __future__ import annotations

from functools import lru_cache
from operator import itemgetter

__all__ = ["ENDINGS", "STOP_WORDS", "count_stop_words", "stop_words_for"]

_LISTS: dict[str, str] = {
    "eng_Latn": "the of and to a in is that for it with as was on be by at this are from or have an not but they "
    "which you he she we his her their has had were been will would can",
    "deu_Latn": "der die das und in zu den von mit ist des sich auf für nicht im dem ein eine es auch als an er sie "
    "wir ich bei nach wird werden oder aber wie noch dass sind hat um",
    "fra_Latn": "le la les de des du et à en un une est que qui dans pour pas sur au aux il elle ne se ce avec par "
    "plus sont nous vous on mais ou son sa ses",
    "spa_Latn": "de la que el en y a los del se las por un una para con no es al lo como más pero sus su le ya o "
    "este esta muy también fue ha son",
    "ita_Latn": "di e il la che è per un una in del della a non si con le i da gli al dei sono come ma anche più lo "
    "nel alla questo",
    "por_Latn": "de a o que e do da em um uma para com não os as no na se por mais dos das ao como mas foi ele ela é "
    "são também seu sua",
    "pol_Latn": "i w na z się nie do to że jest o jak a po od za ale dla co by są tak ze czy tym może już jego jej "
    "oraz przez tylko",
    "ces_Latn": "a se na v je že s z do o to i k ve pro by jako ale za jsou od po tak jeho které který která však "
    "také byl bylo jsem není podle",
    "rus_Cyrl": "и в не на я что с он по это как а к но из у за от о для же так все она мы они был было его её ее "
    "уже или бы только при до",
    "ukr_Cyrl": "і й в у на не що з до це як а за від по але для та він вона ми вони його її так вже був було також "
    "або при із які який",
    "bel_Cyrl": "і ў у на не што з да гэта як а за ад па але для ён яна мы яны яго яе так ужо быў было таксама або "
    "пры які якія",
    "bul_Cyrl": "и в на да се не за с от е по че са как но а ще това той тя те му си ни при до след един една още "
    "като или има бе беше",
    "vie_Latn": "và của là có được cho không những các một trong với này đã người để khi thì cũng từ như đến ra về "
    "nhiều đó theo sẽ còn nhưng tại lại rất",
    "ind_Latn": "yang dan di ke dari ini itu dengan untuk tidak ada dalam akan pada juga saya kami mereka atau oleh "
    "sudah bisa karena seperti lebih telah adalah banyak harus bahwa",
    "ara_Arab": "في من على إلى الى أن ان عن مع هذا هذه التي الذي كان ما لا هو هي قد كل بعد ذلك بين أو او حتى لم "
    "إن عند كما منذ غير وقد وهو وفي",
    "kor_Hang": "그 이 저 수 것 및 등 더 또 또한 그리고 하지만 그러나 그래서 위해 대한 통해 따라 때문에 있는 있다 있다고 "
    "있습니다 있어 없는 없다 하는 한다 했다 합니다 했습니다 입니다 할 한 된 되는 된다 됐다 것이 것은 것을 것으로 것이다 "
    "같은 많은 모든 가장 이번 지난 다른 새로운 함께 이런 그런 매우 아주 다시 바로 특히 이미 아직 모두 약 중 후 때 각 "
    "해당 밝혔다 말했다 설명했다",
    "jpn_Jpan": "の は が を に で と も た て です ます した から ない こと する いる",
    "zho_Hans": "的 了 是 在 也 就 都 这 但 而 被 把 从 还 很 又 却 并 着 过 吗 呢 吧 和 与 他 她 它",
    "zho_Hant": "的 了 是 在 也 就 都 這 但 而 被 把 從 還 很 又 卻 並 著 過 嗎 呢 吧 和 與 他 她 它",
    "tha_Thai": "ที่ และ ของ เป็น ไม่ ได้ ให้ ว่า จะ นี้ แต่ ก็ จาก โดย เพื่อ แล้ว ซึ่ง อยู่ หรือ",
}

#: Built-in stop-word sets, keyed by canonical language code (``kor_Hang``, ``zho_Hant``, ...).
STOP_WORDS: dict[str, frozenset[str]] = {code: frozenset(words.split()) for code, words in _LISTS.items()}
#: Word-final syllables that count as stop words too (languages whose function words are suffixes).
ENDINGS: dict[str, frozenset[str]] = {"kor_Hang": frozenset("은 는 이 가 을 를 의 에 로 와 과 도 만 다".split())}


@lru_cache(maxsize=1024)
def stop_words_for(lang: str) -> frozenset[str] | None:
    """The built-in set for a canonical code; another script of the same language's list, merged; None if none.

    ``stop_words_for("zho_Hani")`` is the union of the simplified and traditional lists.
    """
    if lang in STOP_WORDS:
        return STOP_WORDS[lang]
    iso3 = lang.partition("_")[0]
    same = [s for code, s in STOP_WORDS.items() if code.partition("_")[0] == iso3]
    return frozenset().union(*same) if same else None


def count_stop_words(
    stop_words: frozenset[str],
    *,
    words: list[str] | None = None,
    text: str | None = None,
    endings: frozenset[str] | None = None,
) -> int:
    """Distinct stop words present: as whole `words` (space-delimited scripts; plus the distinct `endings` that end
    a word), or as substrings of `text`."""
    if words is not None:
        found = len(stop_words.intersection(words))
        if endings:
            found += len(endings.intersection(map(itemgetter(-1), words)))
        return found
    if text is None:
        raise ValueError("count_stop_words needs words= or text=")
    return sum(1 for w in stop_words if w in text)
