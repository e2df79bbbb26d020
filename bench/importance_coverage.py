"""Coverage of the permutation-importance interval, and what the bootstrap costs the stage.

Coverage study: a model that reads genre A from the bag mean of one noisy feature (the simulation of
tests/test_reports_importance.py). The population importance is the score on a corpus of
``--population`` films; each of ``--runs`` corpora of ``--films`` films gets its importance and four
95 % intervals, and the share of corpora whose interval contains the population value is printed with
its binomial standard error:

* ``repermuted`` (the reported one): each film resample re-permutes its own pool and predicts again,
  spread matched to the mean of the repeats (`filmscore.reports.importance.adjusted_replicates`);
* ``repermuted unshrunk``: the same replicates before that matching (one permutation each: too wide);
* ``fixed pool`` (the method before): films and repeats resampled, the saved permuted predictions reused;
* ``permutations only``: the t-interval over the repeats, films fixed.

Cost: `permutation_importance` on a demo-sized neural cell (``--cost``: 30 films, LOOCV fold models of
average pooling with 64 units, 136 MIR features in 8 groups, 100 repeats, 1000 resamples), untrained
weights (the cost does not depend on them), timed with the re-permuted bootstrap and with the
fixed-pool one (``n_boot`` = 0 plus `bootstrap_scores`).

    PYTHONPATH=src:. FILMSCORE_NO_PROGRESS=1 python bench/importance_coverage.py [--runs 400] [--films 40] [--shift 0.25] [--cost]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from filmscore.reports import importance as imp

GROUP_SIZES = {"MFCC": 26, "dMFCC": 26, "ddMFCC": 26, "Dynamics": 2, "Pitch": 24, "Rhythm": 4, "Timbre": 18, "Tone": 10}


def corpus(n: int, seed: int, shift: float = 0.25) -> tuple[list[np.ndarray], np.ndarray]:
    """Genre A (prevalence 0.4); feature 0 shifted by +-``shift`` with A, SD 0.35 per cue: informative on average."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    bags = []
    for i in range(n):
        x = rng.normal(0.5, 0.35, (int(rng.integers(2, 6)), 2))
        x[:, 0] += shift * (2 * y[i] - 1)
        bags.append(x)
    return bags, y[:, None]


def model(bags: list[np.ndarray]) -> np.ndarray:
    return np.array([[1 / (1 + np.exp(-20 * (b[:, 0].mean() - 0.5)))] for b in bags])


def _covers(v: np.ndarray, truth: float, confidence: float) -> bool:
    v = v[np.isfinite(v)]
    a = (1 - confidence) / 2
    lo, hi = np.percentile(v, [100 * a, 100 * (1 - a)])
    return bool(lo <= truth <= hi)


def coverage(runs: int, films: int, repeats: int, n_boot: int, population: int, confidence: float = 0.95,
             shift: float = 0.25) -> dict:
    big_bags, big_y = corpus(population, 0, shift)
    truth = float(imp.permutation_importance(model, big_bags, {"f0": [0]}, big_y, ["A"], n_repeats=repeats,
                                             seed=0).summary().iloc[0]["mean"])
    hits = {"repermuted": 0, "repermuted unshrunk": 0, "fixed pool": 0, "permutations only": 0}
    est = []
    t0 = time.perf_counter()
    for k in range(runs):
        bags, y = corpus(films, 100 + k, shift)
        res = imp.permutation_importance(model, bags, {"f0": [0]}, y, ["A"], n_repeats=repeats, seed=k,
                                         n_boot=n_boot, confidence=confidence)
        s = res.summary().iloc[0]
        est.append(s["mean"])
        hits["repermuted"] += bool(s["ci_low"] <= truth <= s["ci_high"])
        hits["repermuted unshrunk"] += _covers(res.boot_fresh[:, 0, 0], truth, confidence)
        hits["fixed pool"] += _covers(res.boot_reuse[:, 0, 0], truth, confidence)
        hits["permutations only"] += bool(s["perm_low"] <= truth <= s["perm_high"])
    return {"truth": truth, "mean_estimate": float(np.mean(est)), "sd_estimate": float(np.std(est)),
            "seconds": time.perf_counter() - t0, "coverage": {m: h / runs for m, h in hits.items()}}


def cost(films: int = 30, repeats: int = 100, n_boot: int = 1000, cues: int = 12) -> dict:
    from filmscore.mil.cv import CVResult
    from filmscore.mil.lightning import make_module

    genres = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]
    n_feat = sum(GROUP_SIZES.values())
    rng = np.random.default_rng(0)
    bags = [rng.normal(size=(max(1, int(rng.poisson(cues))), n_feat)) for _ in range(films)]
    Y = (rng.random((films, len(genres))) < 0.35).astype(int)
    Y[0] = 1
    folds = np.arange(films)  # leave-one-out, as the demo
    module = make_module("avg", n_features=n_feat, n_genres=len(genres), n_folds=films, hidden=64)
    res = CVResult(film_ids=[f"f{i}" for i in range(films)], genres=genres, folds=folds, prob=np.zeros(Y.shape),
                   pred=np.zeros(Y.shape), truth=Y, method="avg", models=module,
                   columns=[f"c{i}" for i in range(n_feat)])
    p = res.predict_heldout(bags)
    res.threshold = float(np.median(p))  # untrained weights: a threshold that predicts some films positive
    groups, i = {}, 0
    for g, k in GROUP_SIZES.items():
        groups[g] = list(range(i, i + k))
        i += k
    t0 = time.perf_counter()
    plain = imp.permutation_importance(res.predict_heldout, bags, groups, Y, genres, n_repeats=repeats, seed=0,
                                       threshold=res.threshold, n_boot=0)
    t_perm = time.perf_counter() - t0
    t0 = time.perf_counter()
    imp.bootstrap_scores(plain.truth, plain.pred_orig, plain.pred_perm, n_boot, 0)
    t_fixed = time.perf_counter() - t0
    t0 = time.perf_counter()
    imp.permutation_importance(res.predict_heldout, bags, groups, Y, genres, n_repeats=repeats, seed=0,
                               threshold=res.threshold, n_boot=n_boot, predict_films=res.predict_films).summary()
    t_new = time.perf_counter() - t0
    return {"permutations": t_perm, "fixed_pool_bootstrap": t_fixed, "total_before": t_perm + t_fixed,
            "total_now": t_new}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=400, help="simulated corpora")
    ap.add_argument("--films", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--boot", type=int, default=300)
    ap.add_argument("--population", type=int, default=20000, help="films of the corpus that defines the truth")
    ap.add_argument("--shift", type=float, default=0.25, help="genre effect on feature 0 (smaller: weaker feature)")
    ap.add_argument("--cost", action="store_true", help="also time the stage on a demo-sized neural cell")
    a = ap.parse_args()
    if a.runs:
        r = coverage(a.runs, a.films, a.repeats, a.boot, a.population, shift=a.shift)
        print(f"population importance {r['truth']:.4f}; over {a.runs} corpora of {a.films} films: mean estimate "
              f"{r['mean_estimate']:.4f}, SD {r['sd_estimate']:.4f} ({r['seconds']:.0f} s)")
        for m, c in r["coverage"].items():
            print(f"  95 % interval, {m:18s}: covers in {100 * c:5.1f} % (SE {100 * np.sqrt(c * (1 - c) / a.runs):.1f})")
    if a.cost:
        c = cost()
        print(f"demo-sized cell (30 films, 8 groups x 100 repeats, 1000 resamples): permutations {c['permutations']:.1f} s; "
              f"before: + fixed-pool bootstrap {c['fixed_pool_bootstrap']:.1f} s = {c['total_before']:.1f} s; "
              f"now (re-permuted bootstrap): {c['total_now']:.1f} s")


if __name__ == "__main__":
    main()
