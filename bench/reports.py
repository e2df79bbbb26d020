"""Benchmark of the reports' own machinery on a paper-sized synthetic run (110 films).

Prints, for permutation importance, the time per permutation spent outside the
model (pooling the instances, permuting a group's columns, rebuilding the bags,
F1), measured with a near-free linear model on bag means; and the time of the
cross-modal analysis. The real importance stage adds the MIL fold models'
prediction time: n_groups x n_repeats calls of predict_proba on all films.

    PYTHONPATH=src:. FILMSCORE_NO_PROGRESS=1 python bench/reports.py [--films 110] [--repeats 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from filmscore.reports import crossmodal as cm
from filmscore.reports import importance as imp

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]
GROUP_SIZES = {"MFCC": 26, "dMFCC": 26, "ddMFCC": 26, "Dynamics": 2, "Pitch": 24, "Rhythm": 4, "Timbre": 18, "Tone": 10}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--films", type=int, default=110)
    ap.add_argument("--cues", type=int, default=12, help="mean cues per film (cue-level instances)")
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--boot", type=int, default=1000, help="resamples of the importance bootstrap over films")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    n_feat = sum(GROUP_SIZES.values())
    bags = [rng.normal(size=(int(rng.poisson(a.cues)), n_feat)) for _ in range(a.films)]
    W = rng.normal(size=(n_feat, len(GENRES))) / np.sqrt(n_feat)
    Y = (rng.random((a.films, len(GENRES))) < 0.35).astype(int)

    def predict(bs):
        means = np.stack([b.mean(axis=0) if len(b) else np.zeros(n_feat) for b in bs])
        return 1 / (1 + np.exp(-means @ W * 4))

    groups, i = {}, 0
    for g, k in GROUP_SIZES.items():
        groups[g] = list(range(i, i + k))
        i += k
    t0 = time.perf_counter()
    res = imp.permutation_importance(predict, bags, groups, Y, GENRES, n_repeats=a.repeats, seed=0)
    dt = time.perf_counter() - t0
    t2 = time.perf_counter()
    boot = imp.bootstrap_scores(res.truth, res.pred_orig, res.pred_perm, a.boot, 0)
    print(f"importance bootstrap over films and repeats: {len(boot)} resamples: {time.perf_counter() - t2:.2f} s")
    n_perm = len(groups) * a.repeats
    t1 = time.perf_counter()
    predict(bags)
    model = time.perf_counter() - t1
    print(f"importance: {a.films} films, {sum(map(len, bags))} instances x {n_feat} features, {len(groups)} groups x "
          f"{a.repeats} repeats = {n_perm} permutations: {dt:.2f} s total, "
          f"{1000 * (dt / n_perm - model):.2f} ms per permutation outside the model "
          f"(the linear stand-in model: {1000 * model:.2f} ms per call)")
    res.summary()

    # cross-modal: ~30 frames per clip
    rows = []
    labels = pd.DataFrame(Y, index=[f"f{k:03d}" for k in range(a.films)], columns=GENRES)
    for fi, fid in enumerate(labels.index):
        for c in range(len(bags[fi])):
            n = int(rng.integers(8, 60))
            rows.append(pd.DataFrame({"film_id": fid, "cue_id": f"{fid}:{c:04d}", "t": np.arange(n, dtype=float),
                                      "brightness": rng.random(n), "contrast": rng.random(n)}))
    frames = pd.concat(rows, ignore_index=True)
    pred = labels.sample(frac=1, random_state=0).set_index(labels.index)
    for unit in cm.UNITS:
        t0 = time.perf_counter()
        r = cm.analyse(frames, labels, pred, GENRES, unit=unit)
        dt = time.perf_counter() - t0
        print(f"crossmodal ({unit}): {len(frames)} frames, {len(r.clips)} clips, {len(r.table)} comparisons: {dt:.2f} s")


if __name__ == "__main__":
    main()
