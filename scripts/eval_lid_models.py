"""Measure LID models alone and combined, per language, on short and long text; fit the ensemble's group weights.

The measurement behind `pipeline/data/lang/confusable_groups.tsv` and the README's "Language ID" table.

Data (../shared/data, never copied into the project). Tatoeba is split by line number: even lines (``dev``) choose the
weights (``--fit``), odd lines (``test``) report them, so the table is measured on text the weights never saw:

- ``tatoeba`` short: every test-half Tatoeba sentence (~30 characters), 112 languages;
- ``tatoeba docs`` long: per language, up to 20 documents of ~600 characters made of consecutive test-half sentences;
- ``tatoeba_long.tsv`` (462 sentences of ~260 characters, 85 languages) and ``udhr`` (whole UDHR texts, ~10,000
  characters) — other text, used for neither fitting nor choosing.

Models: fastText lid.176 (the primary), CLD2 (pycld2), HeLI-OTS (heliport, if installed), CLD3 (gcld3, if installed;
it builds from source only with protobuf, so it is measured, not shipped) and Lingua (lingua-language-detector, if
installed; low-accuracy mode as the ensemble runs it, ``--lingua-high`` for the other; alone it chooses among all its
75 languages, in a group among the members). ``--models`` picks the optional ones. Rows: each model alone; the
ensemble (fastText + others voting inside confusable groups) with the weights of the groups file; with ``--fit`` also
the weights fitted here for every combination; and a vote over all languages (no groups) for comparison. Accuracy is
per language (ISO 639-3 part), "macro" is the mean over the languages fastText can output (the languages the ensemble
can output: the second models only choose among a group's members). Run:

    python scripts/eval_lid_models.py [--fit] [--show-languages]
    python scripts/eval_lid_models.py --fit --models lingua --combos cld2+lingua+markers [--lingua-high]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_langid import DATA, lang_of, load_tatoeba_long  # noqa: E402

from pipeline.lang.codes import LID176_LABELS, UND, normalize_label  # noqa: E402
from pipeline.lang.ensemble import (  # noqa: E402
    MARKERS,
    ConfusableGroup,
    Ensemble,
    SecondOpinion,
    load_groups,
    Lingua,
    make_model,
)
from pipeline.lang.identify import LanguageIdentifier, Prediction  # noqa: E402

Sample = tuple[str, str]
NAMED = ["bos", "hrv", "srp", "msa", "ind", "nno", "nor", "afr", "nld", "ces", "slk"]  # msa = zsm, nor = nob
GRID = (0.0, 0.25, 0.5, 1.0, 2.0)


def tatoeba_halves(data: Path) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {"dev": [], "test": []}
    for path in sorted((data / "tatoeba").glob("tatoeba.*-eng.*")):
        iso = path.suffix[1:]
        if iso == "eng" and not path.name.startswith("tatoeba.deu-"):
            continue
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        for i, ln in enumerate(lines):
            out["dev" if i % 2 == 0 else "test"].append((lang_of(iso), ln))
    return out


def documents(sentences: list[Sample], chars: int = 600, per_lang: int = 20) -> list[Sample]:
    by_lang: dict[str, list[str]] = defaultdict(list)
    for g, t in sentences:
        by_lang[g].append(t)
    docs: list[Sample] = []
    for g, lines in sorted(by_lang.items()):
        text = ""
        for ln in lines:
            text += ln + "\n"
            if len(text) >= chars:
                docs.append((g, text))
                text = ""
                if sum(d[0] == g for d in docs) >= per_lang:
                    break
    return docs


def load_udhr(data: Path) -> list[Sample]:
    out: list[Sample] = []
    for row in (data / "udhr" / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        f, iso = row.split("\t")[:2]
        out.append((lang_of(iso), (data / "udhr" / f"udhr_{f}.txt").read_text(encoding="utf-8")))
    return out


class Cld3(SecondOpinion):
    """CLD3 (gcld3), measured only."""

    name = "cld3"

    def __init__(self) -> None:
        import gcld3

        self._model = gcld3.NNetLanguageIdentifier(0, 1000)
        self.languages = frozenset(
            normalize_label(c, strict=False).partition("_")[0] for c in (
                "af am ar bg bn bs ca ceb co cs cy da de el en eo es et eu fa fi fil fr fy ga gd gl gu ha haw hi hmn "
                "hr ht hu hy id ig is it iw ja jv ka kk km kn ko ku ky la lb lo lt lv mg mi mk ml mn mr ms mt my ne "
                "nl no ny pa pl ps pt ro ru sd si sk sl sm sn so sq sr st su sv sw ta te tg th tr uk ur uz vi xh yi "
                "yo zh zu").split())

    def top(self, line: str, script: str | None, members: Sequence[str] | None = None) -> tuple[str, float]:
        r = self._model.FindLanguage(line)
        if r.language == "und":
            return UND, 0.0
        try:
            return normalize_label(r.language.split("-")[0], script, strict=False), float(r.probability)
        except ValueError:
            return UND, 0.0


class Memo(SecondOpinion):
    """A model whose answers are remembered per line (many rules are measured on the same lines)."""

    def __init__(self, model: SecondOpinion) -> None:
        self.model, self.name, self.languages = model, model.name, model.languages
        self.score_is_share = model.score_is_share
        self.cache: dict[tuple[str, tuple[str, ...] | None], tuple[str, float]] = {}

    def top(self, line: str, script: str | None, members: Sequence[str] | None = None) -> tuple[str, float]:
        key = (line, None if members is None else tuple(members))
        got = self.cache.get(key)
        if got is None:
            got = self.cache[key] = self.model.top(line, script, members)
        return got


class MemoLid(LanguageIdentifier):
    """fastText with `predict_lines` remembered per text."""

    def __init__(self) -> None:
        super().__init__(top_k=3)
        self.cache: dict[str, tuple[Prediction, list[str]]] = {}

    def predict_lines(self, text: str) -> tuple[Prediction, list[str]]:
        got = self.cache.get(text)
        if got is None:
            got = self.cache[text] = super().predict_lines(text)
        return got


def iso(code: str) -> str:
    return code.partition("_")[0]


def accuracy(samples: Sequence[Sample], predict: Callable[[str], str],
             right: Callable[[str, str], bool] | None = None) -> tuple[dict[str, float], dict[str, Counter]]:
    ok: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong: dict[str, Counter[str]] = defaultdict(Counter)
    for gold, text in samples:
        got = predict(text)
        total[gold] += 1
        if got == gold or (right is not None and right(gold, got)):
            ok[gold] += 1
        else:
            wrong[gold][got] += 1
    return {g: ok[g] / total[g] for g in total}, wrong


def alone(lid: LanguageIdentifier, model: SecondOpinion) -> Callable[[str], str]:
    def predict(text: str) -> str:
        p, lines = lid.predict_lines(text)
        return iso(model.top(" ".join(lines), p.script)[0]) if lines else UND
    return predict


def ensemble_fn(ens: Ensemble) -> Callable[[str], str]:
    return lambda text: iso(ens.predict(text).lang)


def vote_all(lid: LanguageIdentifier, models: Sequence[SecondOpinion], weight: float = 0.5) -> Callable[[str], str]:
    """A vote over all languages (no groups): fastText's top-k plus each model's top label x `weight`."""
    def predict(text: str) -> str:
        p, lines = lid.predict_lines(text)
        if not lines:
            return UND
        tally: Counter[str] = Counter()
        for c, s in p.top_k:
            tally[iso(c)] += s
        for m in models:
            c, s = m.top(" ".join(lines), p.script)
            if c != UND:
                tally[iso(c)] += weight * (s if m.score_is_share else 1.0)
        return tally.most_common(1)[0][0]
    return predict


def fit(lid: MemoLid, models: Sequence[SecondOpinion], groups: Sequence[ConfusableGroup], dev: list[Sample],
        markers: bool, penalty: float = 20.0, tolerance: float = 0.005) -> dict[str, dict[str, float]]:
    """Per group, the weights (from `GRID`) with the best mean dev accuracy of its members, minus `penalty` times
    any member's loss beyond `tolerance` against fastText alone."""
    base, _ = accuracy(dev, lambda t: iso(lid.predict_lines(t)[0].lang))
    totals = Counter(g for g, _ in dev)
    out: dict[str, dict[str, float]] = {}
    names = [m.name for m in models] + ([MARKERS] if markers else [])
    for group in groups:
        sub = [(g, t) for g, t in dev if iso(lid.predict_lines(t)[0].lang) in group.members]
        golds = [m for m in group.members if m in base]
        if not golds:
            out[group.name] = {name: 0.0 for name in names}
            continue
        sub_base, _ = accuracy(sub, lambda t: iso(lid.predict_lines(t)[0].lang))
        sub_n = Counter(g for g, _ in sub)
        best: tuple[float, dict[str, float]] | None = None
        for ws in itertools.product(GRID, repeat=len(names)):
            w = dict(zip(names, ws))
            ens = Ensemble(lid, models, [group], weights={group.name: w})
            got, _ = accuracy(sub, ensemble_fn(ens))
            val = {m: base[m] + (got.get(m, 0.0) - sub_base.get(m, 0.0)) * sub_n[m] / totals[m] for m in golds}
            obj = sum(val.values()) / len(val) - penalty * sum(max(0.0, base[m] - val[m] - tolerance) for m in golds)
            if best is None or obj > best[0] + 1e-9:
                best = (obj, w)
        assert best is not None
        out[group.name] = best[1]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--fit", action="store_true", help="fit group weights on the dev half for every combination")
    ap.add_argument("--combos", default=None,
                    help="with --fit: only these combinations, e.g. 'cld2+markers,cld2+heliport+markers' (default all)")
    ap.add_argument("--show-languages", action="store_true", help="per-language accuracy of every row")
    ap.add_argument("--models", default=None,
                    help="optional models to measure beside cld2, e.g. 'lingua' (default: heliport, cld3, lingua if "
                    "installed)")
    ap.add_argument("--tolerance", type=float, default=0.005,
                    help="with --fit: a member's dev loss against fastText alone that goes unpenalized")
    ap.add_argument("--skip-alone", action="store_true", help="leave out the rows of each model alone")
    ap.add_argument("--lingua-high", action="store_true",
                    help="Lingua in its high-accuracy mode (default: low-accuracy, as the ensemble runs it)")
    ap.add_argument("--skip-sets", default="", help="comma-separated sets to leave out, e.g. 'udhr'")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"data not found: {args.data}", file=sys.stderr)
        return 2

    lid = MemoLid()
    second: dict[str, SecondOpinion] = {"cld2": Memo(make_model("cld2"))}
    factories: list[tuple[str, Callable[[], SecondOpinion]]] = [
        ("heliport", lambda: make_model("heliport")), ("cld3", Cld3),
        ("lingua", lambda: Lingua(low_accuracy=not args.lingua_high))]
    for name, factory in factories:
        if args.models is not None and name not in args.models.split(","):
            continue
        try:
            second[name] = Memo(factory())
        except ImportError as e:
            print(f"({name} not measured: {e})")
    groups = load_groups()
    halves = tatoeba_halves(args.data)
    sets = {
        "tatoeba (short)": halves["test"],
        "tatoeba docs (~600 ch)": documents(halves["test"]),
        "tatoeba_long.tsv": load_tatoeba_long(args.data),
        "udhr (whole)": [s for s in load_udhr(args.data)],
    }
    sets = {n: s for n, s in sets.items() if not any(k and n.startswith(k) for k in args.skip_sets.split(","))}
    ft_langs = {iso(normalize_label(f"__label__{x}")) for x in LID176_LABELS}
    Row = tuple[str, Callable[[str], str], Callable[[str, str], bool] | None]
    rows: list[Row] = [("fastText lid.176", lambda t: iso(lid.predict(t).lang), None)]
    if not args.skip_alone:
        rows += [(f"{n} alone", alone(lid, m), None) for n, m in second.items()]
    covers = {(g.macro, m) for g in groups if g.macro for m in g.macro_of}

    def macro_right(gold: str, got: str) -> bool:
        return (got, gold) in covers
    shipped = [["cld2"], ["cld2", "heliport"], ["cld2", "lingua"]]
    for names in shipped:
        if all(n in second for n in names):
            ens = Ensemble(lid, [second[n] for n in names], groups)
            rows.append((f"fastText + {' + '.join(names)} + markers (groups, shipped weights)", ensemble_fn(ens), None))
            mf = Ensemble(lid, [second[n] for n in names], groups, macro_fallback=True)
            rows.append(("  same + macrolanguage fallback (a macrolanguage counts as right for its members)",
                         ensemble_fn(mf), macro_right))
    if args.fit:
        names_all = [n for n in ("cld2", "heliport", "cld3", "lingua") if n in second] + [MARKERS]
        for r in range(1, len(names_all) + 1):
            for names in itertools.combinations(names_all, r):
                if args.combos is not None and "+".join(names) not in args.combos.split(","):
                    continue
                t0 = time.perf_counter()
                models = [second[n] for n in names if n != MARKERS]
                w = fit(lid, models, groups, halves["dev"], MARKERS in names, tolerance=args.tolerance)
                print(f"fitted weights, fastText + {' + '.join(names)} ({time.perf_counter() - t0:.0f} s):")
                for g, ws in w.items():
                    print(f"  {g:<22} " + " ".join(f"{n}={v:g}" for n, v in ws.items()))
                ens = Ensemble(lid, models, groups, weights=w)
                rows.append((f"fastText + {' + '.join(names)} (groups, fitted)", ensemble_fn(ens), None))
    others = [second[n] for n in ("cld2", "heliport") if n in second]
    rows.append((f"vote over all languages: fastText + {' + '.join(m.name for m in others)} x0.5",
                 vote_all(lid, others), None))

    base = {name: accuracy(s, rows[0][1])[0] for name, s in sets.items()}
    header = "| rule | " + " | ".join(f"macro {n}" for n in sets) + " | " + " | ".join(NAMED) + \
        " | worst 3 vs lid.176 (short) |"
    print("\n" + header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, fn, right in rows:
        accs = {n: accuracy(s, fn, right)[0] for n, s in sets.items()}
        macros = []
        for n in sets:
            a = {g: v for g, v in accs[n].items() if g in ft_langs}
            macros.append(sum(a.values()) / len(a))
        short = accs["tatoeba (short)"]
        worst = sorted((short[g] - base["tatoeba (short)"][g], g) for g in short if g in ft_langs)[:3]
        print(f"| {name} | " + " | ".join(f"{m:.3f}" for m in macros) + " | "
              + " | ".join(f"{short.get(g, 0):.2f}" for g in NAMED) + " | "
              + ", ".join(f"{g} {d:+.3f}" for d, g in worst) + " |")
        if args.show_languages:
            print("    " + " ".join(f"{g}:{v:.2f}" for g, v in sorted(short.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
