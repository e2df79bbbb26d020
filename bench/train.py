"""Benchmark: fold-batched MIL training against a plain per-fold Lightning loop, and the full grid.

    PYTHONPATH=src:. python bench/train.py                 # everything (about 20 min on 2 cores)
    PYTHONPATH=src:. python bench/train.py --skip-per-fold --skip-precision  # the full grid only
    PYTHONPATH=src:. python bench/train.py --precision 32-true --skip-per-fold --skip-precision
    PYTHONPATH=src:. python bench/train.py --films 30 --epochs 20   # a quick look

Synthetic bags shaped like the paper's corpus: 110 films with its genre counts
(Action 55, Comedy 37, Drama 44, Horror 11, Romance 13, Sci-Fi 36), 10-40 cues per
film, VGGish-like 128-d embeddings (0..255-ish values) and MIR-like 140-d features
(mixed scales: tempo ~120, centroid ~2000, MFCCs ~0-50). Each cue mixes its film's
genre prototypes, and some cues carry another genre's character (soft bags).

Prints (stdout): the time and macro F1 of leave-one-out training of one cell
(avg pooling, 64 units) batched over folds, the same at the other precision
(``--precision``, default bf16-mixed as ``train.precision``; 32-true is float32), and as
one Lightning run per fold on the same bags; then the time of the whole Table 4 grid
(6 pools x 2 feature sets, plus Simple MI and IMV with kNN and SVM). The issue's
target: the full grid in under 10 minutes on 2 cores. Each time is given as wall time and as CPU
time (this process and its fold-share workers): on a shared machine the wall time
grows with the other load, while CPU time / cores estimates an idle machine's
wall time (multi-threaded runs count spinning threads too). Load average and
threads are printed too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]
COUNTS = [55, 37, 44, 11, 13, 36]


def synthetic_corpus(n_films: int = 110, seed: int = 0, signal: float = 0.6):
    """Labels with the paper's genre frequencies and two feature sets of bags; ``signal``:
    the weight of the genre prototypes against unit instance noise (smaller: harder)."""
    rng = np.random.default_rng(seed)
    p = np.array(COUNTS) / 110
    Y = (rng.random((n_films, 6)) < p).astype(int)
    empty = Y.sum(1) == 0
    Y[empty, rng.integers(0, 6, empty.sum())] = 1
    n_cues = rng.integers(10, 41, n_films)
    sets = {}
    for name, dim in (("vggish", 128), ("mir", 140)):
        protos = rng.normal(size=(6, dim))
        bags = []
        for i in range(n_films):
            gs = np.flatnonzero(Y[i])
            cue_genres = rng.choice(gs, n_cues[i])
            foreign = rng.random(n_cues[i]) < 0.2  # soft bag: cues typical of other genres
            cue_genres[foreign] = rng.integers(0, 6, foreign.sum())
            x = signal * protos[cue_genres] + rng.normal(size=(n_cues[i], dim))
            if name == "vggish":
                x = np.clip(128 + 30 * x, 0, 255)
            else:
                scale = np.concatenate([[20.0, 400.0], np.full(dim - 2, 8.0)])
                offset = np.concatenate([[120.0, 2000.0], np.linspace(-20, 50, dim - 2)])
                x = offset + scale * x
            bags.append(x.astype(np.float32))
        sets[name] = bags
    return sets, Y


class Timer:
    """Wall time of a block, and the CPU time of a cross-validation (``res.cpu_seconds``: this
    process and its worker processes); CPU time / cores ~ the wall time on an idle machine."""

    def __enter__(self):
        self.w, self.cpu = time.perf_counter(), 0.0
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w

    def __str__(self) -> str:
        return f"{self.wall:7.1f} s wall, {self.cpu:7.1f} s CPU"


def macro_f1(res) -> float:
    from filmscore.mil.metrics import prf

    return float(prf(res.truth, res.pred)["f1"].mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--films", type=int, default=110)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--pool", default="avg", help="pool of the batched vs per-fold comparison")
    ap.add_argument("--skip-per-fold", action="store_true")
    ap.add_argument("--skip-grid", action="store_true")
    ap.add_argument("--skip-precision", action="store_true", help="skip the batched run at the other precision")
    ap.add_argument("--precision", default="bf16-mixed", choices=("32-true", "bf16-mixed"),
                    help="training arithmetic of every neural run (as train.precision)")
    ap.add_argument("--sets", default="vggish,mir", help="feature sets of the grid")
    ap.add_argument("--pools", default=",".join(("max", "avg", "linear_softmax", "single_attention",
                                                   "multi_attention", "feature_attention")), help="pools of the grid")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--jobs", type=int, default=0,
                    help="processes sharing the folds in batched training (0: one per CPU core, as train.jobs)")
    args = ap.parse_args(argv)

    os.environ.setdefault("FILMSCORE_NO_PROGRESS", "1")
    import torch

    from filmscore.log import setup_logging
    from filmscore.mil import InstanceMajorityVote, MILClassifier, SimpleMI, cross_validate, make_folds

    setup_logging()
    if args.threads:
        torch.set_num_threads(args.threads)
    sets, Y = synthetic_corpus(args.films)
    folds = make_folds(args.films)
    print(f"# bench/train: {args.films} films, leave-one-out ({args.films} folds), {args.epochs} epochs, "
          f"hidden {args.hidden}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"# cues per film: {int(np.mean([len(b) for b in sets['vggish']]))} on average; "
          f"genre counts {Y.sum(0).tolist()}")
    kw = dict(hidden=args.hidden, epochs=args.epochs, precision=args.precision, show_progress=False)
    bkw = dict(kw, jobs=args.jobs)

    with Timer() as tb:
        batched = MILClassifier(pool=args.pool, **bkw).cross_validate(sets["vggish"], Y, folds, genres=GENRES)
    tb.cpu = batched.cpu_seconds
    print(f"batched   {args.pool:<18} vggish: {tb}   macro F1 {macro_f1(batched):.3f}   "
          f"({args.precision}, jobs={args.jobs or os.cpu_count()})")
    sys.stdout.flush()
    other = "32-true" if args.precision == "bf16-mixed" else "bf16-mixed"
    if not args.skip_precision:
        with Timer() as to:
            alt = MILClassifier(pool=args.pool, **{**bkw, "precision": other}).cross_validate(
                sets["vggish"], Y, folds, genres=GENRES)
        to.cpu = alt.cpu_seconds
        print(f"batched   {args.pool:<18} vggish: {to}   macro F1 {macro_f1(alt):.3f}   ({other}; "
              f"max |prob difference| {np.abs(alt.prob - batched.prob).max():.2g}, "
              f"{(alt.pred != batched.pred).mean():.1%} of the film-genre decisions differ)")
        sys.stdout.flush()
    if not args.skip_per_fold:
        with Timer() as tp:
            per_fold = MILClassifier(pool=args.pool, fold_batching=False, **kw).cross_validate(
                sets["vggish"], Y, folds, genres=GENRES)
        tp.cpu = per_fold.cpu_seconds
        diff = np.abs(per_fold.prob - batched.prob).max()
        print(f"per-fold  {args.pool:<18} vggish: {tp}   macro F1 {macro_f1(per_fold):.3f}   "
              f"(speed-up {tp.wall / tb.wall:.1f}x wall, {tp.cpu / tb.cpu:.1f}x CPU; "
              f"max |prob difference| {diff:.2g})")
        sys.stdout.flush()
    if args.skip_grid:
        return 0

    with Timer() as total:
        for name in args.sets.split(","):
            bags = sets[name]
            for pool in args.pools.split(","):
                with Timer() as t:
                    res = MILClassifier(pool=pool, **bkw).cross_validate(bags, Y, folds, genres=GENRES)
                t.cpu = res.cpu_seconds
                total.cpu += t.cpu
                print(f"grid  {name:<7} {pool:<18} {t}   macro F1 {macro_f1(res):.3f}")
                sys.stdout.flush()
            for est in (SimpleMI(base="knn"), SimpleMI(base="svm"), InstanceMajorityVote(base="knn"),
                        InstanceMajorityVote(base="svm")):
                with Timer() as t:
                    res = cross_validate(est, bags, Y, folds, genres=GENRES, jobs=args.jobs)
                t.cpu = res.cpu_seconds
                total.cpu += t.cpu
                print(f"grid  {name:<7} {est.method_name + '-' + est.base:<18} {t}   macro F1 {macro_f1(res):.3f}")
                sys.stdout.flush()
    cores = os.cpu_count() or 1
    print(f"full grid (6 pools x 2 sets + Simple MI / IMV x kNN / SVM): {total.wall / 60:.1f} min wall, "
          f"{total.cpu / 60:.1f} min CPU (= {total.cpu / cores / 60:.1f} min on {cores} idle cores); "
          f"load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
