"""Benchmark: near-duplicate detection quality per script, against the TRUE shingle Jaccard.

Labeled set (per script: Latin, Cyrillic, Hangul, Han, Kana, Thai, Arabic): base documents of 1-3 KB cut from real
text (UDHR translations and Tatoeba sentences in ../shared/data; generated text when absent), and for each base
`--copies` edited copies, each edited (token delete / replace / insert / swap of adjacent tokens; tokens are words
for space-delimited scripts, characters for the others) until its exact shingle Jaccard with the base reaches a
target drawn uniformly in [0.5, 1.0]. The Jaccard recorded is the exact one, computed on the pipeline's own
shingles. Different bases of a script are hard negatives (Chinese UDHR variants, two Urdu and two Thai
translations share up to ~50-60% of their 5-grams), so every within-script pair gets its exact Jaccard too.

The pipeline: shingles -> MinHasher (128 perms, xxh32) -> band keys -> chain edges -> [verify] -> components,
over all scripts at once. Reported per script, P / R against "true Jaccard >= threshold" (default 0.8), where a
pair is predicted a duplicate when both documents end up in the same cluster:

  labeled   the construction's labels: every copy against its own base, every base against every other base
            of the script (a wrong merge of two groups always shows there), and any cross-script merge. Pairs of
            two copies, or of a copy and another group's base, are not labels: their Jaccard is a by-product of
            independent edits, and clustering joins them through the base (two similar UDHR translations, e.g.
            urd / urd_2, bring their copies along), as a dedup should
  all-pairs every pair of documents of the script, copy-copy pairs included (penalises the transitive closure)
  labeled excluding |J - threshold| < 0.05 (the gray zone, where no 128-permutation signature can decide
            reliably: the estimate's sd is 0.035 at J = 0.8)

Configurations compared (signatures computed once): datasketch's optimal (b, r) for the threshold, with and
without verification; `verified_lsh_params` (LSH tuned for a lower candidate threshold, so that it loses almost
no pair at the threshold) + verification at the threshold on the signature estimate or on the exact Jaccard of the
shingle-hash sets (the recommended setup and the stage's default: chain edges + exact verification).

`--korean-study` compares word 5-grams over eojeol with character 5-grams for Korean (see `korean_study`).

Not a test: run it by hand,  python scripts/bench/dedup_quality.py [--bases 60 --copies 4 --rounds 2]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

from pipeline.dedup.components import cluster_documents  # noqa: E402
from pipeline.dedup.lsh import (  # noqa: E402
    band_keys,
    bucket_edges,
    candidate_probability,
    lsh_params,
    verified_lsh_params,
)
from pipeline.dedup.minhash import MinHasher  # noqa: E402
from pipeline.dedup.shingles import DEFAULT_CONFIG, ShingleConfig, shingle_kind, shingles, text_script  # noqa: E402
from pipeline.dedup.verify import ShingleSets, verify_edges, verify_edges_exact  # noqa: E402

SCRIPTS = {
    # script label: (UDHR ISO 15924 codes, Tatoeba languages, language code given to the pipeline)
    "Latin": ({"Latn"}, [], "xxx_Latn"),
    "Cyrillic": ({"Cyrl"}, ["rus", "ukr", "bel", "bul", "mkd", "srp"], "xxx_Cyrl"),
    "Hangul": ({"Hang", "Kore"}, ["kor"], "kor_Hang"),
    "Han": ({"Hans", "Hant", "Hani"}, ["cmn", "yue", "wuu"], "zho_Hans"),
    "Kana": ({"Jpan"}, ["jpn"], "jpn_Jpan"),
    "Thai": ({"Thai"}, ["tha"], "tha_Thai"),
    "Arabic": ({"Arab"}, ["ara", "pes", "urd", "uig"], "xxx_Arab"),
}


# ----------------------------------------------------------------------------------------------------------------
# corpus
def load_sources(script: str, rng: random.Random) -> list[tuple[str, list[str]]]:
    """[(name, units)]: a UDHR text as lines, or a Tatoeba language as sentences."""
    udhr_codes, tatoeba, _ = SCRIPTS[script]
    out: list[tuple[str, list[str]]] = []
    index = SHARED / "udhr" / "index.tsv"
    if index.is_file():
        rows = [r for r in csv.DictReader(open(index, encoding="utf-8"), delimiter="\t") if r["iso15924"] in udhr_codes]
        for r in rows:
            p = SHARED / "udhr" / f"udhr_{r['file']}.txt"
            if p.is_file():
                lines = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
                out.append((f"udhr:{r['file']}", lines))
    for lang in tatoeba:
        p = SHARED / "tatoeba" / f"tatoeba.{lang}-eng.{lang}"
        if p.is_file():
            sents = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
            rng.shuffle(sents)
            out.append((f"tatoeba:{lang}", sents))
    if not out:
        out = [("generated", generated_units(script, rng))]
    return out


_ALPHABETS = {
    "Latin": "abcdefghijklmnopqrstuvwxyzáéíóúñç",
    "Cyrillic": "абвгдежзийклмнопрстуфхцчшщыьэюя",
    "Arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
}


def generated_units(script: str, rng: random.Random, n: int = 4000) -> list[str]:
    """Pseudo sentences in the script (only when the real data is absent)."""
    if script in _ALPHABETS:
        letters = _ALPHABETS[script]
        vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(3000)]
        return [" ".join(rng.choice(vocab) for _ in range(rng.randint(5, 14))) + "." for _ in range(n)]
    ranges = {"Hangul": (0xAC00, 0xD7A3), "Han": (0x4E00, 0x6FFF), "Kana": (0x3041, 0x30FA), "Thai": (0x0E01, 0x0E30)}
    lo, hi = ranges[script]
    chars = [chr(rng.randint(lo, hi)) for _ in range(1500)]
    if script == "Hangul":
        vocab = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
        return [" ".join(rng.choice(vocab) for _ in range(rng.randint(4, 10))) + "." for _ in range(n)]
    return ["".join(rng.choice(chars) for _ in range(rng.randint(8, 30))) + "。" for _ in range(n)]


def make_bases(script: str, n_bases: int, rng: random.Random) -> list[str]:
    """n_bases texts of 1-3 KB; units (lines / sentences) are used once, round-robin over the sources."""
    sources = load_sources(script, rng)
    cursors = [0] * len(sources)
    joiner = "" if script in ("Han", "Kana", "Thai") else " "
    bases: list[str] = []
    si = 0
    stalled = 0
    while len(bases) < n_bases and stalled < len(sources):
        name, units = sources[si % len(sources)]
        c = cursors[si % len(sources)]
        target = rng.randint(1000, 3000)
        parts, size = [], 0
        while c < len(units) and size < target:
            parts.append(units[c])
            size += len(units[c].encode("utf-8")) + 1
            c += 1
        cursors[si % len(sources)] = c
        if size >= 1000:
            bases.append(joiner.join(parts) if joiner else "\n".join(parts))
            stalled = 0
        else:
            stalled += 1
        si += 1
    return bases


# ----------------------------------------------------------------------------------------------------------------
# edits
def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def tokens_of(text: str, kind: str) -> list[str]:
    return list(text) if kind == "char" else text.split()


def render(tokens: list[str], kind: str) -> str:
    return "".join(tokens) if kind == "char" else " ".join(tokens)


def edit_once(tokens: list[str], pool: list[str], rng: random.Random) -> None:
    op = rng.randrange(4)
    if not tokens:
        tokens.append(rng.choice(pool))
        return
    i = rng.randrange(len(tokens))
    if op == 0 and len(tokens) > 1:
        del tokens[i]
    elif op == 1:
        tokens[i] = rng.choice(pool)
    elif op == 2:
        tokens.insert(i, rng.choice(pool))
    elif len(tokens) > 1:
        j = i + 1 if i + 1 < len(tokens) else i - 1
        tokens[i], tokens[j] = tokens[j], tokens[i]
    else:
        tokens[i] = rng.choice(pool)


def edited_copy(base: str, lang: str, target: float, pool: list[str], rng: random.Random,
                config: ShingleConfig = DEFAULT_CONFIG) -> tuple[str, float]:
    """Edit `base` until the exact shingle Jaccard with it is <= target (just below); returns (text, Jaccard)."""
    kind = "char" if shingle_kind(text_script(base), config) == "char" else "word"
    base_set = set(shingles(base, config))
    tokens = tokens_of(base, kind)
    n = config.char_n if kind == "char" else config.word_n
    text, j = render(tokens, kind), 1.0
    while j > target:
        # ~n shingles die per edit: step towards the target, never overshooting by much
        step = max(1, int(0.4 * (j - target) * len(tokens) / n))
        for _ in range(step):
            edit_once(tokens, pool, rng)
        text = render(tokens, kind)
        j = jaccard(base_set, set(shingles(text, config)))
    return text, j


# ----------------------------------------------------------------------------------------------------------------
# labeled set
@dataclass
class Doc:
    text: str
    lang: str
    script: str
    group: int  # index of the base it comes from (global)
    is_base: bool
    j_base: float  # exact Jaccard with its base (1.0 for the base)


def build_labeled(scripts: list[str], n_bases: int, n_copies: int, rng: random.Random,
                  config: ShingleConfig = DEFAULT_CONFIG) -> list[Doc]:
    docs: list[Doc] = []
    group = 0
    for script in scripts:
        lang = SCRIPTS[script][2]
        bases = make_bases(script, n_bases, rng)
        kind = "char" if shingle_kind(text_script(bases[0]), config) == "char" else "word"
        pool = [t for b in bases for t in tokens_of(b, kind) if t.strip()]
        for base in bases:
            docs.append(Doc(base, lang, script, group, True, 1.0))
            for _ in range(n_copies):
                text, j = edited_copy(base, lang, rng.uniform(0.5, 1.0), pool, rng, config)
                docs.append(Doc(text, lang, script, group, False, j))
            group += 1
    return docs


# ----------------------------------------------------------------------------------------------------------------
# pipeline and evaluation
@dataclass(frozen=True)
class PipelineConfig:
    name: str
    bands: int
    rows: int
    mode: str = "chain"
    verify: float | None = None
    exact: bool = False  # verify on the true Jaccard of the shingle-hash sets, not the signature estimate


def run_pipeline(sigs: np.ndarray, cfg: PipelineConfig, sets: ShingleSets | None = None) -> np.ndarray:
    keys = band_keys(sigs, cfg.bands, cfg.rows)
    src, dst = bucket_edges(keys, cfg.mode)
    if cfg.verify is not None:
        if cfg.exact:
            src, dst = verify_edges_exact(sets, src, dst, cfg.verify)
        else:
            src, dst = verify_edges(sigs, src, dst, cfg.verify)
    return cluster_documents(len(sigs), src, dst).cluster_id


def pair_truth(docs: list[Doc], sets: list[set]) -> dict[tuple[int, int], float]:
    """Exact Jaccard of every within-script pair."""
    by_script = defaultdict(list)
    for i, d in enumerate(docs):
        by_script[d.script].append(i)
    truth = {}
    for idx in by_script.values():
        for a in range(len(idx)):
            sa = sets[idx[a]]
            for b in range(a + 1, len(idx)):
                truth[(idx[a], idx[b])] = jaccard(sa, sets[idx[b]])
    return truth


def evaluate(docs, truth, cluster_id, threshold, gray=0.05):
    """{script: {metric: (tp, fp, fn)}} with metric in labeled / all / labeled_gray."""
    res = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for (a, b), j in truth.items():
        da, db = docs[a], docs[b]
        pred = cluster_id[a] == cluster_id[b]
        pos = j >= threshold
        same_group = da.group == db.group
        # the construction's labels: a copy against its own base, a base against every other base
        labeled = (da.is_base or db.is_base) if same_group else (da.is_base and db.is_base)
        metrics = ["all"]
        if labeled:
            metrics.append("labeled")
            if abs(j - threshold) >= gray:
                metrics.append("labeled_gray")
        for m in metrics:
            c = res[da.script][m]
            if pred and pos:
                c[0] += 1
            elif pred:
                c[1] += 1
            elif pos:
                c[2] += 1
    # cross-script pairs predicted together are false positives (scripts share no shingles in practice)
    by_cluster = defaultdict(list)
    for i, c in enumerate(cluster_id):
        by_cluster[int(c)].append(i)
    for members in by_cluster.values():
        if len({docs[i].script for i in members}) > 1:
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    a, b = members[x], members[y]
                    if docs[a].script != docs[b].script:
                        for m in ("all", "labeled", "labeled_gray"):
                            res[docs[a].script][m][1] += 1
    return res


def pr(c) -> tuple[float, float]:
    tp, fp, fn = c
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r


def bayes_limit(threshold: float, num_perm: int, lo: float = 0.5, hi: float = 1.0) -> tuple[float, float]:
    """P/R of the best signature-only rule (estimated J >= threshold, perfect candidates) for J ~ U[lo, hi]."""
    from scipy.stats import binom

    js = np.linspace(lo, hi, 4001)
    acc = binom.sf(np.ceil(threshold * num_perm) - 1, num_perm, js)
    pos = js >= threshold
    tp, fp, fn = acc[pos].sum(), acc[~pos].sum(), (1 - acc[pos]).sum()
    return tp / (tp + fp), tp / (tp + fn)


# ----------------------------------------------------------------------------------------------------------------
# Korean: word 5-grams over eojeol vs character 5-grams
def respace(text: str, rng: random.Random, merge: float = 0.15, split: float = 0.05) -> str:
    """Korean spacing variation: drop some spaces between eojeol, split some eojeol in two."""
    out = []
    for w in text.split(" "):
        if len(w) >= 4 and rng.random() < split:
            k = rng.randint(1, len(w) - 1)
            w = w[:k] + " " + w[k:]
        out.append(w)
    s = out[0] if out else ""
    for w in out[1:]:
        s += ("" if rng.random() < merge else " ") + w
    return s


def korean_study(args, rng: random.Random) -> None:
    """Word 5-grams over eojeol vs character 5-grams for Korean, against an edit-based truth.

    Copies of Korean bases get a known fraction e of their eojeol edited (U[0, 0.3]); half of them are also
    re-spaced (15% of the spaces between eojeol dropped, 5% of the eojeol split), as copies of one Korean text on
    different sites often are. Truth, independent of the shingling: duplicate when e <= 3% (whatever the
    spacing), not a duplicate when e >= 10% or the base differs; in between not scored. Each scheme runs the
    full pipeline at the same threshold.
    """
    print("\n== Korean: word 5-grams over eojeol vs character 5-grams ==")
    bases = make_bases("Hangul", args.bases, rng)
    pool = [t for b in bases for t in b.split()]
    items = []  # (group, e, respaced, text)
    for g, base in enumerate(bases):
        items.append((g, 0.0, False, base))
        for _ in range(max(args.copies, 10)):
            tokens = base.split()
            e = rng.uniform(0.0, 0.3)
            for _ in range(int(round(e * len(tokens)))):
                edit_once(tokens, pool, rng)
            text = " ".join(tokens)
            sp = rng.random() < 0.5
            if sp:
                text = respace(text, rng)
            items.append((g, e, sp, text))
    dup_max, nondup_min = 0.03, 0.10
    print(f"{len(bases)} bases (all the Korean text there is), {len(items)} docs; truth: same base and eojeol edit "
          f"fraction e <= {dup_max:.0%} -> duplicate, e >= {nondup_min:.0%} or another base -> not, in between not "
          f"scored; threshold {args.threshold}, recommended setup (verified_lsh_params + chain + verify)")
    hasher = MinHasher(args.num_perm, 1, "xxh32")
    bins = [(0.0, 0.01), (0.01, 0.03), (0.03, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, 0.3)]
    print(f"{'shingles':14s} {'per doc':>7s} {'P':>6s} {'R':>6s} {'R same sp.':>10s} {'R respaced':>10s}   "
          "mean true J with the base by e (not re-spaced): " + " ".join(f"{a:.0%}-{b:.0%}" for a, b in bins))
    for kind in ("char", "word"):
        cfg = ShingleConfig(korean=kind)
        sh = [shingles(t, cfg) for *_, t in items]
        sets = [set(s) for s in sh]
        sigs = hasher.signatures(sh)
        hsets = ShingleSets.from_hashes([hasher.hash_values(x) for x in sh])
        b, r = verified_lsh_params(args.threshold, args.num_perm)
        cid = run_pipeline(sigs, PipelineConfig("k", b, r, "chain", args.threshold))
        base_index = {g: i for i, (g, e, sp, _) in enumerate(items) if e == 0.0 and not sp}
        counts = {"tp": 0, "fp": 0, "fn": 0}
        rec = {False: [0, 0], True: [0, 0]}
        jbin = defaultdict(list)
        for i, (g, e, sp, _) in enumerate(items):
            bi = base_index[g]
            if i == bi:
                continue
            if not sp:
                for a, bb in bins:
                    if a <= e < bb:
                        jbin[(a, bb)].append(jaccard(sets[i], sets[bi]))
            pred = bool(cid[i] == cid[bi])
            if e <= dup_max:
                counts["tp" if pred else "fn"] += 1
                rec[sp][0] += pred
                rec[sp][1] += 1
            elif e >= nondup_min:
                counts["fp"] += pred
        for i in range(len(items)):
            for k in range(i + 1, len(items)):
                if items[i][0] != items[k][0] and cid[i] == cid[k]:
                    counts["fp"] += 1
        tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
        p = tp / (tp + fp) if tp + fp else 1.0
        rr = tp / (tp + fn) if tp + fn else 1.0
        rs = [f"{rec[k][0] / rec[k][1]:.3f}" if rec[k][1] else "n/a" for k in (False, True)]
        jcells = " ".join(f"{np.mean(jbin[x]):7.2f}" if jbin[x] else "    n/a" for x in bins)
        print(f"{kind + ' 5-grams':14s} {np.mean([len(s) for s in sh]):7.0f} {p:6.3f} {rr:6.3f} {rs[0]:>10s} "
              f"{rs[1]:>10s}   {jcells}")
    jc, jw = [], []
    for base in bases:
        v = respace(base, rng)
        jc.append(jaccard(set(shingles(base, ShingleConfig(korean="char"))),
                          set(shingles(v, ShingleConfig(korean="char")))))
        jw.append(jaccard(set(shingles(base, ShingleConfig(korean="word"))),
                          set(shingles(v, ShingleConfig(korean="word")))))
    print(f"re-spacing only (no edit): mean true J char 5-grams {np.mean(jc):.3f}, word 5-grams {np.mean(jw):.3f} "
          f"(min {min(jw):.3f})")


# ----------------------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bases", type=int, default=60, help="base documents per script")
    ap.add_argument("--copies", type=int, default=4, help="edited copies per base")
    ap.add_argument("--rounds", type=int, default=2, help="independent labeled sets (seeds), summed")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--scripts", default=",".join(SCRIPTS))
    ap.add_argument("--korean-study", action="store_true", help="also run the Korean shingle comparison")
    ap.add_argument("--korean-only", action="store_true")
    args = ap.parse_args()

    rng = random.Random(12345)
    print(f"data: {'real (' + str(SHARED) + ')' if (SHARED / 'udhr').is_dir() else 'generated (shared data absent)'}")
    if args.korean_study or args.korean_only:
        korean_study(args, rng)
        if args.korean_only:
            return

    t, P = args.threshold, args.num_perm
    b0, r0 = lsh_params(t, P)
    b1, r1 = verified_lsh_params(t, P)
    configs = [
        PipelineConfig(f"LSH({b0}x{r0}) chain, no verify", b0, r0, "chain", None),
        PipelineConfig(f"LSH({b0}x{r0}) chain + verify", b0, r0, "chain", t),
        PipelineConfig(f"LSH({b1}x{r1}) chain + verify", b1, r1, "chain", t),
        PipelineConfig(f"LSH({b1}x{r1}) chain + exact verify *", b1, r1, "chain", t, exact=True),
        PipelineConfig(f"LSH({b1}x{r1}) star + verify", b1, r1, "star", t),
        PipelineConfig(f"LSH({b1}x{r1}) chain, no verify", b1, r1, "chain", None),
    ]
    scripts = args.scripts.split(",")
    totals = {c.name: defaultdict(lambda: defaultdict(lambda: [0, 0, 0])) for c in configs}
    n_docs = 0
    hasher = MinHasher(P, 1, "xxh32")
    for rd in range(args.rounds):
        t0 = time.time()
        docs = build_labeled(scripts, args.bases, args.copies, random.Random(1000 + rd))
        sh = [shingles(d.text) for d in docs]
        sets = [set(s) for s in sh]
        sigs = hasher.signatures(sh)
        hsets = ShingleSets.from_hashes([hasher.hash_values(x) for x in sh])
        truth = pair_truth(docs, sets)
        n_docs += len(docs)
        for c in configs:
            res = evaluate(docs, truth, run_pipeline(sigs, c, hsets), t)
            for script, ms in res.items():
                for m, v in ms.items():
                    tot = totals[c.name][script][m]
                    for k in range(3):
                        tot[k] += v[k]
        js = np.array([d.j_base for d in docs if not d.is_base])
        print(f"round {rd}: {len(docs)} docs, {len(truth)} within-script pairs; copies' true J: "
              f"min {js.min():.2f} median {np.median(js):.2f}, {np.mean(js >= t):.0%} >= {t} "
              f"({time.time() - t0:.0f} s)")

    bp, br = bayes_limit(t, P)
    print(f"\nthreshold {t}, {P} perms. LSH {b0}x{r0} = datasketch MinHashLSH's optimum for {t} (P(candidate) at "
          f"J={t}: {candidate_probability(t, b0, r0):.2f}); {b1}x{r1} = verified_lsh_params({t}, {P}) (P at {t}: "
          f"{candidate_probability(t, b1, r1):.3f}, at 0.7: {candidate_probability(0.7, b1, r1):.2f}); "
          f"* = the recommended setup")
    print(f"ceiling for any {P}-perm signature decision on J ~ U[0.5, 1] (estimate >= {t}, every pair a candidate): "
          f"P {bp:.3f} R {br:.3f}")
    for m, title in (("labeled", "labeled pairs"), ("labeled_gray", "labeled pairs, gray zone |J-t|<0.05 excluded"),
                     ("all", "all pairs (copy-copy included)")):
        print(f"\n-- {title}: precision / recall per script --")
        print(f"{'config':40s} " + " ".join(f"{s:>13s}" for s in scripts) + f" {'all scripts':>13s}")
        for c in configs:
            cells = []
            agg = [0, 0, 0]
            for s in scripts:
                v = totals[c.name][s][m]
                agg = [agg[k] + v[k] for k in range(3)]
                p, r = pr(v)
                cells.append(f"{p:.3f}/{r:.3f}")
            p, r = pr(agg)
            cells.append(f"{p:.3f}/{r:.3f}")
            print(f"{c.name:40s} " + " ".join(f"{x:>13s}" for x in cells))
    pos = {s: sum(totals[configs[0].name][s]["labeled"][k] for k in (0, 2)) for s in scripts}
    print(f"\npositive labeled pairs per script (J >= {t}): {pos}; {n_docs} documents in all")


if __name__ == "__main__":
    main()
