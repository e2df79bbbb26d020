"""Coverage of Table 4's bootstrap intervals for mAP and macro F1: percentile against BCa.

A planted model of 6 genres (prevalence .15-.5, score = effect x label + N(0, 1)); the population values
come from 200000 films; each of ``--runs`` corpora of ``--films`` films gets the 95 % interval over films
(1000 resamples, `filmscore.stats` draws) by both methods; printed: the share of corpora whose interval
contains the population value (binomial SE), and the side of the misses. ``--discrete 10`` rounds the
scores to tenths (ties between films, as kNN shares have).

``--random``: the random-guess row instead. Its population value is the mAP of a uniformly random
ranking of a corpus of ``--films`` films (every genre present), averaged by Monte Carlo over 20000
corpora and rankings (scikit-learn-equivalent AP without ties); each corpus's interval is
`filmscore.mil.report.FilmBootstrap.intervals` of the random row (exact expected AP on each resample).

    PYTHONPATH=src:. python bench/ap_coverage.py [--runs 300] [--films 30] [--discrete 0] [--random]
"""
import numpy as np, sys, time
from filmscore.mil.metrics import average_precision_columns, macro_f1
from filmscore.stats import resample_indices, _bca, _percentile
import argparse
ap = argparse.ArgumentParser(); ap.add_argument("--runs", type=int, default=300); ap.add_argument("--films", type=int, default=30)
ap.add_argument("--discrete", type=int, default=0, help="round scores to 1/k (kNN-like ties); 0: continuous")
ap.add_argument("--random", action="store_true", help="coverage of the random-guess row's mAP interval")
a = ap.parse_args(); runs, n, disc = a.runs, a.films, a.discrete
B = 1000; G = 6; prev = np.array([.15, .2, .3, .3, .4, .5]); d = np.array([.5, 1, 1, 1.5, 1, .7])


def random_row(runs, n):
    from filmscore.mil.folds import make_folds
    from filmscore.mil.metrics import _ap_untied
    from filmscore.mil.report import FilmBootstrap

    def labels(rng):
        while True:
            Y = (rng.random((n, G)) < prev).astype(int)
            if Y.any(0).all():
                return Y
    rng = np.random.default_rng(0)
    vals = [np.nanmean(_ap_untied(Y, rng.random(Y.shape))) for Y in (labels(rng) for _ in range(20000))]
    truth = float(np.mean(vals))
    print(f"random row, n={n} runs={runs}: population mAP {truth:.4f} (MC SE {np.std(vals) / np.sqrt(len(vals)):.4f})")
    hits = {"percentile": [], "bca": []}
    t0 = time.time()
    for k in range(runs):
        Y = labels(np.random.default_rng(1000 + k))
        for m in hits:
            ev = {"bootstrap": B, "seed": k, "confidence": .95, "interval": m, "alpha": .01}
            iv = FilmBootstrap(Y, make_folds(n), ev).intervals(None, None, None)
            hits[m].append((iv["map_lo"] <= truth <= iv["map_hi"], iv["map_lo"] > truth))
    for m, v in hits.items():
        h = np.array(v, float); p = h[:, 0].mean()
        print(("random", m), f"cover {p:.3f} +- {np.sqrt(p * (1 - p) / runs):.3f}  misses above {h[:, 1].mean():.3f}"
              f"  ({time.time() - t0:.0f} s)")


if a.random:
    random_row(runs, n)
    sys.exit(0)
def draw(n, rng):
    Y = (rng.random((n, G)) < prev).astype(int)
    S = Y * d + rng.normal(size=(n, G))
    if disc: S = np.round(1 / (1 + np.exp(-S)) * disc) / disc
    return Y, S
thr = 0.5 if disc else 0.0
def f1cols(Y, P):  # (n, ..., G) -> macro over last
    tp = (Y & P).sum(0); den = Y.sum(0) + P.sum(0)
    return np.divide(2.0 * tp, den, out=np.zeros(tp.shape), where=den > 0).mean(-1)
rng = np.random.default_rng(0)
Yb, Sb = draw(200000, rng)
truth = {"ap": np.nanmean(average_precision_columns(Yb, Sb)), "f1": macro_f1(Yb, Sb > thr)}
res = {}; ests = {"ap": [], "f1": []}
for k in range(runs):
    Y, S = draw(n, np.random.default_rng(1000 + k)); P = (S > thr).astype(int)
    present = Y.any(0)
    idx = resample_indices(n, B, k)
    Yr, Sr, Pr = Y[idx].transpose(1, 0, 2), S[idx].transpose(1, 0, 2), P[idx].transpose(1, 0, 2)
    ok = Yr.any(0)[:, present].all(1)
    vals = {"ap": np.nanmean(average_precision_columns(Yr, Sr), axis=1), "f1": f1cols(Yr.astype(bool), Pr.astype(bool))}
    est = {"ap": np.nanmean(average_precision_columns(Y, S)), "f1": macro_f1(Y, P)}
    keep = np.ones(n, bool); jack = {"ap": np.empty(n), "f1": np.empty(n)}
    for i in range(n):
        keep[i] = False
        good = Y[keep].any(0)[present].all()
        jack["ap"][i] = np.nanmean(average_precision_columns(Y[keep], S[keep])) if good else np.nan
        jack["f1"][i] = macro_f1(Y[keep], P[keep]) if good else np.nan
        keep[i] = True
    for st in ("ap", "f1"):
        ests[st].append(est[st])
        f = vals[st][ok]
        for m, (l, h) in {"percentile": _percentile(f, .95), "bca": _bca(f, est[st], jack[st], .95)}.items():
            res.setdefault((st, m), []).append((l <= truth[st] <= h, l > truth[st]))
print(f"n={n} runs={runs} disc={disc}", {k: f"truth {truth[k]:.4f} mean est {np.mean(v):.4f} sd {np.std(v):.4f}" for k, v in ests.items()})
for key, v in res.items():
    a = np.array(v, float); p = a[:, 0].mean()
    print(key, f"cover {p:.3f} +- {np.sqrt(p*(1-p)/runs):.3f}  misses above {a[:,1].mean():.3f}")
