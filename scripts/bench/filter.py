"""Benchmark: quality-filter documents per second on one core, per language group, beside str.split and datatrove.

Documents: ~3 KB (UTF-8) documents built from the project's hand-written paragraphs (scripts/demo_text, 13 language
variants): document i of a language starts at paragraph i and takes paragraphs (with their titles as lines, blank
lines between paragraphs) until it reaches --size bytes, so every document differs. Groups: Latin (en de fr es vi),
Cyrillic (ru uk), Hangul (ko), Han (zh-Hans zh-Hant), Kana (ja), Thai (th), Arabic (ar).

Rows per group (docs/s on one core, best of --repeat runs over the same documents):
  str.split            bare whitespace split: the floor any tokenizer is compared with
  tokenize             pipeline.text.segment: words (space-delimited) or character units (Han, Kana, Thai)
  full rules check     QualityFilter.check: Gopher repetition + Gopher quality + C4 + FineWeb, first failure
  full rules apply     QualityFilter.apply: the same plus the text after C4's line removal
  measured             every rule measured, no early exit: what the filter stage runs with filter.write_measurements
                       (the default), QualityFilter.apply_measured_many over a language's documents as one batch
                       (apply_measured per document in checkouts without it)
  datatrove gopher     datatrove's GopherQualityFilter alone (its word tokenizer for the group's language when
                       installed, else its English one), if `import datatrove` works — not a project dependency
  jieba                jieba.lcut on the Han documents, if jieba is installed: what a real Chinese segmenter costs

Also: the same filter (apply, best of --repeat, and the first pass with its setup) over the real Common Crawl pages
in ../shared/data/cc (cc-main-2018-43-pages100.jsonl.gz, 100 pages, OpenLID labels) when present, with the reasons
it gave. The box may be shared: compare rows of one run.

Then the Gopher n-gram rules (the sizes in force per script, every size measured as the filter stage does), old and
new side by side, interleaved: `old` sorts every n-gram position at every size (the implementation before candidate
positions, kept here), `new` is `DocView` (each size sorts only the positions whose smaller n-gram repeats); both
start from the same n-gram hashes. Checks that both give the same values.

Old code against new (`--against CHECKOUT`, e.g. `git worktree add /tmp/old <commit>`): first the identity check —
both filters run on the bench documents (3 KB, 400 B and 20 KB; labelled and, for some, unlabelled so the script is
detected) and on every real page in ../shared/data (CC-MAIN-2018-43 texts and raw HTML, web-zh, article-extraction
articles and raw HTML; each labelled and unlabelled), and check, apply and apply_measured must give the same reasons,
texts (also whether apply returned the input object), removed lines and every measurement (compared by repr: exact),
and a checkout's batch call (apply_measured_many over all the documents at once) must give what the other's
apply_measured gives; any difference fails the run. Then check / apply / measured per group for both, in fresh
processes interleaved old, new, old, new (best of --rounds, each best of --repeat), side by side with the ratio.
Meant for speed changes that must not change a decision; --rounds 0 runs the identity check alone.

Not a test: run it by hand,  python scripts/bench/filter.py [--docs 200] [--repeat 3] [--size 3000]
                             python scripts/bench/filter.py --against /tmp/old [--docs 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"


def _code_root() -> Path:
    """Where `pipeline` is imported from: this checkout, or another one given with --code (how --against runs the
    old code with this script)."""
    if "--code" in sys.argv[:-1]:
        return Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
    return ROOT


sys.path.insert(0, str(_code_root()))

import numpy as np  # noqa: E402

from pipeline.filter.quality import DocView, QualityFilter, QualityResult  # noqa: E402
from pipeline.lang.codes import normalize_label  # noqa: E402
from pipeline.text.segment import profile_for  # noqa: E402

GROUPS: dict[str, list[str]] = {
    "Latin": ["en", "de", "fr", "es", "vi"],
    "Cyrillic": ["ru", "uk"],
    "Hangul": ["ko"],
    "Han": ["zh-Hans", "zh-Hant"],
    "Kana": ["ja"],
    "Thai": ["th"],
    "Arabic": ["ar"],
}
# datatrove's word-tokenizer language per demo language (its tokenizer_assignment.csv codes).
DATATROVE_LANG = {"zh-Hans": "zh", "zh-Hant": "zh"}


def paragraphs(lang: str) -> list[str]:
    """Title + paragraph blocks of scripts/demo_text/<lang>.txt."""
    out: list[str] = []
    for line in (ROOT / "scripts" / "demo_text" / f"{lang}.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith(("#", "[")):
            continue
        out.append(line[2:] if line.startswith("= ") else line)
    return out


def make_docs(lang: str, n: int, size: int) -> list[str]:
    paras = paragraphs(lang)
    docs = []
    for i in range(n):
        parts: list[str] = []
        j = i
        while sum(len(p.encode("utf-8")) + 2 for p in parts) < size:
            parts.append(paras[j % len(paras)])
            j += 1
        docs.append("\n\n".join(parts))
    return docs


def rate(fn: Callable[[str], object], docs: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for d in docs:
            fn(d)
        best = min(best, time.perf_counter() - t)
    return len(docs) / best


def measured_rate(qf: QualityFilter, docs: list[str], code: str, repeat: int) -> float:
    """Docs/s of what the filter stage runs to measure every rule: `apply_measured_many` over the documents (one
    language's, as one batch) when the checkout has it, else `apply_measured` per document."""
    many = getattr(qf, "apply_measured_many", None)
    if many is None:
        return rate(lambda d: qf.apply_measured(d, code), docs, repeat)
    codes = [code] * len(docs)
    return len(docs) / min(_timed(lambda: many(docs, codes)) for _ in range(repeat))


def tokenize_fn(script: str | None) -> Callable[[str], object]:
    prof = profile_for(script)
    if prof.unit == "char":
        return lambda d: DocView(d, prof).unit_text
    return lambda d: DocView(d, prof).words


def datatrove_gopher(lang: str) -> tuple[Callable[[str], object], str] | None:
    try:
        from datatrove.data import Document
        from datatrove.pipeline.filters import GopherQualityFilter
    except Exception:  # noqa: BLE001 - any import problem means "not available"
        return None
    for code in (DATATROVE_LANG.get(lang, lang.split("-")[0]), "en"):
        try:
            f = GopherQualityFilter(language=code)
            f.filter(Document(text="A short warm-up text. It has two sentences.", id="0"))
        except Exception:  # noqa: BLE001 - a tokenizer whose extra is missing: try English
            continue
        return (lambda d, f=f: f.filter(Document(text=d, id="0"))), code
    return None


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def real_pages(qf: QualityFilter, repeat: int) -> None:
    path = SHARED / "cc" / "cc-main-2018-43-pages100.jsonl.gz"
    if not path.is_file():
        print(f"\nreal CC pages: {path} not found, skipped")
        return
    pages: list[tuple[str, str]] = []
    with gzip.open(path, "rb") as fh:
        for raw in fh:
            rec = json.loads(raw.decode("utf-8", "replace"))
            if rec.get("t"):
                pages.append((rec["t"], rec.get("lang") or "und"))
    t = time.perf_counter()
    results = [qf.apply(text, lang) for text, lang in pages]
    first = time.perf_counter() - t  # includes compiling each of the 19 languages' word lists once
    best = min(_timed(lambda: [qf.apply(text, lang) for text, lang in pages]) for _ in range(repeat))
    size = sum(len(p[0].encode("utf-8")) for p in pages) / len(pages)
    reasons = Counter(r.reason or "kept" for r in results)
    print(f"\nreal CC pages (CC-MAIN-2018-43, {len(pages)} pages, mean {size / 1000:.1f} KB): "
          f"{len(pages) / best:,.0f} docs/s apply (best of {repeat}; first pass {len(pages) / first:,.0f} docs/s, "
          f"with the setup of {len({lang for _, lang in pages})} languages' word lists)")
    for reason, n in reasons.most_common():
        print(f"  {n:4d}  {reason}")


def _old_top_chars(v: DocView, n: int) -> int:
    if v.n_gram_units < n:
        return 0
    _, first, counts = np.unique(v.ngram_keys(n), return_index=True, return_counts=True)
    top = int(counts.max())
    if top < 2:
        return 0
    chars = v.ngram_chars(n)
    return top * chars if isinstance(chars, int) else top * int(chars[first[counts == top]].max())


def _old_dup_chars(v: DocView, n: int) -> int:
    total = v.n_gram_units
    if total < n:
        return 0
    keys = v.ngram_keys(n)
    sk = np.sort(keys)
    if not (sk[1:] == sk[:-1]).any():
        return 0
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    repeat = sk[1:] == sk[:-1]
    starts = order[1:][repeat]
    delta = np.bincount(starts, minlength=total + 1)[: total + 1] - np.bincount(starts + n, minlength=total + 1)[
        : total + 1
    ]
    covered = np.cumsum(delta[:total]) > 0
    # characters: an n-gram unit is a word, or in Chinese and Japanese a character or a whole Latin word or number
    return int(covered.sum()) if v._char_grams else int(v.unit_lengths[covered].sum())


def ngram_rules(qf: QualityFilter, docs: list[tuple[str, str]], repeat: int) -> None:
    """The n-gram rules alone, old vs new, on the bench documents and the real pages (see the module doc)."""
    sets = [("bench documents", docs)]
    path = SHARED / "web-zh" / "zh-web-500.jsonl.gz"
    if path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            sets.append(("web-zh (500 real pages)", [(json.loads(line)["text"], "zho_Hans") for line in fh]))
    print(f"\nGopher n-gram rules, us/doc (best of {repeat}, interleaved; load {os.getloadavg()[0]:.1f})")
    print(f"{'documents':26s} {'old':>7s} {'new':>7s} {'old/new':>8s}  same values")
    for name, items in sets:
        plans = []
        for text, lang in items:
            code, script = qf._lang_script(text, lang, None)
            g = qf.rules_for(code, script).gopher_repetition
            plans.append((text, profile_for(script), list(g.max_top_ngram_char_frac), list(g.max_dup_ngram_char_frac)))
        best = {"old": float("inf"), "new": float("inf")}
        values: dict[str, list[int]] = {}
        for _ in range(repeat):
            for which in ("old", "new"):
                top, dup = (_old_top_chars, _old_dup_chars) if which == "old" else (DocView.top_ngram_chars,
                                                                                    DocView.dup_ngram_chars)
                out: list[int] = []
                spent = 0.0
                for text, prof, tops, dups in plans:
                    v = DocView(text, prof)
                    v._prefix  # the shared hashing, the same for both: not timed
                    t = time.perf_counter()
                    out += [top(v, n) for n in tops] + [dup(v, n) for n in dups]
                    spent += time.perf_counter() - t
                best[which] = min(best[which], spent)
                values[which] = out
        old, new = best["old"] / len(plans) * 1e6, best["new"] / len(plans) * 1e6
        whole = min(_timed(lambda: [qf.apply_measured(t, lang) for t, lang in items]) for _ in range(repeat))
        whole = whole / len(items) * 1e6  # the filter stage's per-document call (new), for the share
        print(f"{name:26s} {old:7.0f} {new:7.0f} {old / new:7.2f}x  {values['old'] == values['new']}  "
              f"(apply_measured {whole:.0f} us/doc: n-gram rules {old / (whole - new + old):.0%} of it before, "
              f"{new / whole:.0%} now)")


# --- old code against new (--against): the same outputs, and how much faster -------------------------------------


def identity_docs(per_lang: int) -> list[tuple[str, str, str | None]]:
    """(set, text, language label) of the documents both filters run: the bench documents at three sizes with their
    language's label (a few also unlabelled, so the script is detected), and the real pages in ../shared/data, each
    with its label and unlabelled: the CC-MAIN-2018-43 texts and their raw HTML, the 500 web-zh pages, the 181
    article-extraction articles and their raw HTML (markup, scripts and long lines: the odd cases)."""
    out: list[tuple[str, str, str | None]] = []
    for langs in GROUPS.values():
        for lang in langs:
            code = normalize_label(lang)
            for size, n in ((3000, per_lang), (400, max(per_lang // 4, 1)), (20000, max(per_lang // 20, 1))):
                docs = make_docs(lang, n, size)
                out += [(f"bench-{size}", d, code) for d in docs]
                out += [(f"bench-{size}-unlabelled", d, None) for d in docs[: max(n // 10, 1)]]
    path = SHARED / "cc" / "cc-main-2018-43-pages100.jsonl.gz"
    if path.is_file():
        with gzip.open(path, "rb") as fh:
            for raw in fh:
                rec = json.loads(raw.decode("utf-8", "replace"))
                for key, name in (("t", "cc2018"), ("h", "cc2018-html")):
                    if rec.get(key):
                        out += [(name, rec[key], rec.get("lang") or "und"), (f"{name}-unlabelled", rec[key], None)]
    path = SHARED / "web-zh" / "zh-web-500.jsonl.gz"
    if path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                text = json.loads(line)["text"]
                out += [("web-zh", text, "zho_Hans"), ("web-zh-unlabelled", text, None)]
    art = SHARED / "article-extraction"
    if (art / "ground-truth.json").is_file():
        truth = json.loads((art / "ground-truth.json").read_bytes().decode("utf-8", "replace"))
        for key, rec in sorted(truth.items()):
            out += [("articles", rec["articleBody"], None), ("articles-en", rec["articleBody"], "eng_Latn")]
            html = art / "html" / f"{key}.html.gz"
            if html.is_file():
                out.append(("articles-html", gzip.decompress(html.read_bytes()).decode("utf-8", "replace"), None))
    return out


def identity_rows(docs: list[tuple[str, str, str | None]]) -> list[tuple[object, ...]]:
    """What the filter says of each document: check's reason; apply's reason, text (a digest, and whether it is the
    input object itself) and removed lines; the same from apply_measured, and every measurement (repr: exact)."""
    import hashlib

    def digest(text: str) -> str:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

    def measured(text: str, m: QualityResult, meas: dict[str, float]) -> tuple[object, ...]:
        return m.reason, digest(m.text), m.text is text, m.removed_lines, {k: repr(v) for k, v in meas.items()}

    qf = QualityFilter()
    # The batch call the filter stage makes, when this checkout has it: its outputs go beside the others (the run
    # compares them with the other checkout's apply_measured ones).
    many = qf.apply_measured_many([t for _, t, _ in docs], [c for _, _, c in docs]) if hasattr(
        qf, "apply_measured_many") else None  # fmt: skip
    rows: list[tuple[object, ...]] = []
    for i, (_, text, lang) in enumerate(docs):
        r = qf.apply(text, lang)
        rows.append((
            qf.check(text, lang), r.reason, digest(r.text), r.text is text, r.removed_lines,
            *measured(text, *qf.apply_measured(text, lang)), None if many is None else measured(text, *many[i]),
        ))  # fmt: skip
    return rows


_ROW_FIELDS = ("check", "apply.reason", "apply.text", "apply.text_is_input", "apply.removed_lines",
               "measured.reason", "measured.text", "measured.text_is_input", "measured.removed_lines", "measurements",
               "measured_many")
_MEASURED = slice(5, 10)  # the fields of apply_measured's outputs (measured_many holds the same five)


def _row_diffs(a: tuple[object, ...], b: tuple[object, ...]) -> list[str]:
    """The fields where two checkouts' rows differ; `measured_many` (absent in older checkouts, None where the
    checkout has no batch call) is compared with the other side's apply_measured outputs."""
    out = [f for f, x, y in zip(_ROW_FIELDS[:10], a[:10], b[:10], strict=True) if x != y]
    for mine, other in ((a, b), (b, a)):
        if len(mine) > 10 and mine[10] is not None and mine[10] != tuple(other[_MEASURED]):
            out.append("measured_many")
            break
    return out


def filter_rates(per_lang: int, size: int, repeat: int) -> dict[str, dict[str, float]]:
    """Seconds per document of check, apply and apply_measured per script group (best of `repeat` per language)."""
    qf = QualityFilter()
    out: dict[str, dict[str, float]] = {}
    for group, langs in GROUPS.items():
        spent: Counter[str] = Counter()
        n = 0
        for lang in langs:
            docs = make_docs(lang, per_lang, size)
            code = normalize_label(lang)
            n += len(docs)
            qf.apply_measured(docs[0], code)  # the language's plan and word lists: set-up, not timed
            for row, fn in (("check", qf.check), ("apply", qf.apply)):
                spent[row] += len(docs) / rate(lambda d, c=code, f=fn: f(d, c), docs, repeat)  # type: ignore[misc]
            spent["measured"] += len(docs) / measured_rate(qf, docs, code, repeat)
        out[group] = {row: t / n for row, t in spent.items()} | {"n": float(n)}
    return out


def instructions_run(per_lang: int, size: int, method: str) -> int:
    """`per_lang` documents of every language through `method` inside one `functools.reduce` call, after a warm-up
    (plans, word lists, power tables), so that callgrind counts the filter's work alone:

        valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \\
            python scripts/bench/filter.py --instructions 4 [--code /tmp/old]

    (Ir of the run / the documents printed = instructions per document: independent of the machine's load.)"""
    import functools

    qf = QualityFilter()
    fn = getattr(qf, method)
    items: list[tuple[Any, Any]] = []
    n = 0
    for langs in GROUPS.values():
        for lang in langs:
            code = normalize_label(lang)
            docs = make_docs(lang, per_lang + 5, size)
            if method == "apply_measured_many":  # one batch per language, as the measured row times it
                fn(docs[:5], [code] * 5)
                items.append((docs[5:], [code] * per_lang))
            else:
                for d in docs[:5]:
                    fn(d, code)
                items += [(d, code) for d in docs[5:]]
            n += per_lang
    functools.reduce(lambda _, item: fn(*item), items, None)
    return n


def _child(code: Path, *args: str) -> str:
    import subprocess

    cmd = [sys.executable, str(Path(__file__).resolve()), "--code", str(code), *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def against(old: Path, per_lang: int, size: int, repeat: int, rounds: int) -> bool:
    """Runs the filter of checkout `old` and of this one on the same documents: every output must be identical;
    then times both, interleaved (old, new, old, new, ...: each a fresh process), and prints the rates side by side.
    Returns whether the outputs are identical."""
    import pickle
    import tempfile

    docs = identity_docs(per_lang)
    dumps = {}
    with tempfile.TemporaryDirectory() as tmp:
        for which, code in (("old", old), ("new", ROOT)):
            path = Path(tmp) / f"{which}.pkl"
            _child(code, "--dump", str(path), "--docs", str(per_lang))
            dumps[which] = pickle.loads(path.read_bytes())
    sets = Counter(name for name, _, _ in docs)
    diffs = [(i, f) for i, (a, b) in enumerate(zip(dumps["old"], dumps["new"], strict=True))
             for f in _row_diffs(a, b)]  # fmt: skip
    batch = [w for w in ("old", "new") if any(len(r) > 10 and r[10] is not None for r in dumps[w])]
    print(f"identity against {old}: {len(docs)} documents ({', '.join(f'{k} {v}' for k, v in sets.items())}), "
          f"10 outputs each (measurements compared by repr)"
          + (f", and the batch call's ({'/'.join(batch)}) against apply_measured's" if batch else "") + ": "
          + ("all identical" if not diffs else f"{len(diffs)} differences"))
    for i, f in diffs[:20]:
        j = _ROW_FIELDS.index(f)
        a, b = (dumps[w][i][j] if j < len(dumps[w][i]) else None for w in ("old", "new"))
        if f == "measured_many":  # the batch call's outputs beside the other side's apply_measured ones
            a, b = (r[10] if len(r) > 10 and r[10] is not None else tuple(r[_MEASURED])
                    for r in (dumps["old"][i], dumps["new"][i]))  # fmt: skip
            if a[:4] == b[:4]:  # only the measurements differ: show those
                a, b = ({k: v for k, v in x[4].items() if a[4].get(k) != b[4].get(k)} for x in (a, b))
        if isinstance(a, dict) and isinstance(b, dict):
            a, b = ({k: v for k, v in x.items() if a.get(k) != b.get(k)} for x in (a, b))
        print(f"  {docs[i][0]} #{i} ({docs[i][2]}) {f}: old {a!r} new {b!r}")

    if rounds < 1:
        return not diffs
    results: dict[str, list[dict[str, dict[str, float]]]] = {"old": [], "new": []}
    for _ in range(rounds):
        for which, code in (("old", old), ("new", ROOT)):
            out = _child(code, "--rates", "--docs", str(per_lang), "--size", str(size), "--repeat", str(repeat))
            results[which].append(json.loads(out))
    print(f"\nold vs new, docs/s on one core (best of {rounds} interleaved processes x best of {repeat}; "
          f"load {os.getloadavg()[0]:.1f}): old / new (new/old)")
    rows = ("check", "apply", "measured")
    print(f"{'group':9s} " + " ".join(f"{r:>24s}" for r in rows))
    best = {w: {g: {r: min(x[g][r] for x in results[w]) for r in rows} for g in GROUPS} for w in results}
    for g in [*GROUPS, "all"]:
        cells = []
        for r in rows:
            if g == "all":
                n = sum(results["new"][0][k]["n"] for k in GROUPS)
                o, nw = (n / sum(best[w][k][r] * results[w][0][k]["n"] for k in GROUPS) for w in ("old", "new"))
            else:
                o, nw = 1 / best["old"][g][r], 1 / best["new"][g][r]
            cells.append(f"{o:8,.0f} / {nw:6,.0f} ({nw / o:4.2f}x)")
        print(f"{g:9s} " + " ".join(f"{c:>24s}" for c in cells))
    return not diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=200, help="documents per language")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size", type=int, default=3000, help="target document size in UTF-8 bytes")
    ap.add_argument("--against", type=Path, metavar="CHECKOUT",
                    help="another checkout of the project (git worktree add /tmp/old <commit>): check that its filter "
                    "gives the same outputs on the bench documents and the real pages, and time both, interleaved")
    ap.add_argument("--rounds", type=int, default=3, help="--against: interleaved old/new processes per side (0: the identity check alone)")
    ap.add_argument("--code", type=Path, help=argparse.SUPPRESS)  # import pipeline from there (see _code_root)
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # --against's child: write identity_rows there
    ap.add_argument("--rates", action="store_true", help=argparse.SUPPRESS)  # --against's child: filter_rates JSON
    ap.add_argument("--instructions", type=int, metavar="N",
                    help="only run N documents per language through --method inside functools.reduce, for callgrind "
                    "(see instructions_run)")
    ap.add_argument("--method", default="apply_measured",
                    choices=("check", "apply", "apply_measured", "apply_measured_many"))
    args = ap.parse_args()
    if args.instructions is not None:
        print(f"{instructions_run(args.instructions, args.size, args.method)} documents through {args.method}")
        return
    if args.dump:
        import pickle

        args.dump.write_bytes(pickle.dumps(identity_rows(identity_docs(args.docs))))
        return
    if args.rates:
        print(json.dumps(filter_rates(args.docs, args.size, args.repeat)))
        return
    if args.against:
        sys.exit(0 if against(args.against.resolve(), args.docs, args.size, args.repeat, args.rounds) else 1)

    qf = QualityFilter()
    print(f"quality filter bench: {args.docs} docs per language of ~{args.size} bytes, best of {args.repeat}, one core "
          f"(load {os.getloadavg()[0]:.1f})")
    header = f"{'group':9s} {'KB/doc':>6s} {'str.split':>10s} {'tokenize':>10s} {'check':>10s} {'apply':>10s} " \
             f"{'measured':>10s} {'datatrove':>10s} {'check/split':>11s} {'check/dt':>9s}  kept"
    print(header)
    all_docs: list[tuple[str, str]] = []
    totals: dict[str, float] = Counter()
    dt_notes: list[str] = []
    for group, langs in GROUPS.items():
        split_t = tok_t = check_t = apply_t = meas_t = dt_t = 0.0
        n_docs = kept = 0
        dt_ok = True
        kb = 0.0
        for lang in langs:
            docs = make_docs(lang, args.docs, args.size)
            code = normalize_label(lang)
            script = code.partition("_")[2]
            all_docs += [(d, code) for d in docs]
            kb += sum(len(d.encode("utf-8")) for d in docs) / 1000
            n_docs += len(docs)
            split_t += len(docs) / rate(str.split, docs, args.repeat)
            tok_t += len(docs) / rate(tokenize_fn(script), docs, args.repeat)
            check_t += len(docs) / rate(lambda d, c=code: qf.check(d, c), docs, args.repeat)
            apply_t += len(docs) / rate(lambda d, c=code: qf.apply(d, c), docs, args.repeat)
            meas_t += len(docs) / measured_rate(qf, docs, code, args.repeat)
            kept += sum(qf.check(d, code) is None for d in docs)
            dtf = datatrove_gopher(lang)
            if dtf is None:
                dt_ok = False
            else:
                dt_t += len(docs) / rate(dtf[0], docs, 1)
                dt_notes.append(f"{lang}:{dtf[1]}")
        cells = [n_docs / split_t, n_docs / tok_t, n_docs / check_t, n_docs / apply_t, n_docs / meas_t]
        dt_rate = n_docs / dt_t if dt_ok else None
        for k, t in zip(("split", "tok", "check", "apply", "meas", "dt"), (split_t, tok_t, check_t, apply_t, meas_t, dt_t)):
            totals[k] += t
        totals["n"] += n_docs
        dt_cell = f"{dt_rate:10,.0f}" if dt_rate else f"{'n/a':>10s}"
        ratio_dt = f"{cells[2] / dt_rate:8.1f}x" if dt_rate else f"{'':>9s}"
        print(f"{group:9s} {kb / n_docs:6.1f} {cells[0]:10,.0f} {cells[1]:10,.0f} {cells[2]:10,.0f} {cells[3]:10,.0f} "
              f"{cells[4]:10,.0f} {dt_cell} {cells[2] / cells[0]:10.2f}x {ratio_dt}  {kept}/{n_docs}")
    n = totals["n"]
    dt_all = f"{n / totals['dt']:10,.0f}" if totals["dt"] and len(dt_notes) == sum(map(len, GROUPS.values())) else \
        f"{'n/a':>10s}"
    print(f"{'all':9s} {'':6s} {n / totals['split']:10,.0f} {n / totals['tok']:10,.0f} {n / totals['check']:10,.0f} "
          f"{n / totals['apply']:10,.0f} {n / totals['meas']:10,.0f} {dt_all}")
    if dt_notes:
        print(f"datatrove GopherQualityFilter word tokenizer per language: {', '.join(dt_notes)}")
    else:
        print("datatrove: not installed (pip install datatrove spacy) — column skipped")

    try:
        import jieba  # type: ignore[import-not-found]

        jieba.initialize()
        han = [d for d, c in all_docs if c in ("zho_Hans", "zho_Hant")]
        print(f"\njieba.lcut on the Han docs: {rate(jieba.lcut, han, 1):,.0f} docs/s "
              f"(character units: {rate(tokenize_fn('Hans'), han, args.repeat):,.0f} docs/s)")
    except ImportError:
        print("\njieba: not installed, segmenter comparison skipped")

    real_pages(qf, args.repeat)
    ngram_rules(qf, all_docs, args.repeat)
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
