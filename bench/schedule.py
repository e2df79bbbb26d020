"""Measure training schedules and arithmetic on synthetic corpora of two sizes (docs/models.md).

    nice -n 10 env PYTHONPATH=src:. python bench/schedule.py --films 30,110 --folds 10 \\
        --pools avg,single_attention --schedules paper,steps,nested --precisions bf16-mixed

Corpora: `bench/train.synthetic_corpus` (the paper's genre frequencies, 10-40 cues per film,
VGGish-like and MIR-like bags of mixed scales) with a weaker genre signal (``--signal``,
default 0.3: the bench's 0.6 is nearly separable), ``--seed`` per corpus. Each row: macro F1
and mAP of held-out predictions (``--folds`` folds, 0: leave-one-out) with their 95 %
bootstrap intervals over films (`filmscore.stats`, 1000 resamples), the epochs the
schedule gave, and the wall time. Simple MI + logreg / SVM rows for reference.
Parameters are the params.yaml defaults (lr 5e-5, batch 16, 64 units, steps 1400,
nested epochs [50, 100, 200, 400], 3 inner folds) unless given.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from train import synthetic_corpus  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--films", default="30,110")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--sets", default="mir")
    ap.add_argument("--pools", default="avg,single_attention")
    ap.add_argument("--schedules", default="paper,steps,nested")
    ap.add_argument("--precisions", default="bf16-mixed")
    ap.add_argument("--signal", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--steps", type=int, default=1400)
    ap.add_argument("--nested-epochs", default="50,100,200,400")
    ap.add_argument("--classical", default="logreg,svm")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--demo", default="", help="a project folder with data/manifest.parquet and data/features/<set>/: "
                    "measure on its cue-level bags (its film count) instead of a synthetic corpus")
    args = ap.parse_args(argv)
    os.environ.setdefault("FILMSCORE_NO_PROGRESS", "1")
    import torch

    from filmscore.mil import MILClassifier, SimpleMI, cross_validate, make_folds
    from filmscore.mil.metrics import macro_f1, mean_ap
    from filmscore.stats import bootstrap_interval

    torch.set_num_threads(args.threads)
    print(f"# bench/schedule: {args.demo or 'synthetic'}, signal {args.signal}, seed {args.seed}, folds {args.folds or 'LOO'}, "
          f"torch threads {args.threads}, load {os.getloadavg()[0]:.1f}", flush=True)
    print("| films | set | model | schedule | arithmetic | macro F1 [95 % CI] | mAP [95 % CI] | epochs | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.films.split(",")] if not args.demo else [0]:
        if args.demo:
            from filmscore import GENRES_DEFAULT
            from filmscore.mil.io import features_path, load_bags, load_labels

            ids, Y = load_labels(GENRES_DEFAULT, f"{args.demo}/data/manifest.parquet")
            sets = {fs: load_bags(features_path(fs, "cue", f"{args.demo}/data/features"), ids)[0]
                    for fs in args.sets.split(",")}
            n = len(ids)
        else:
            sets, Y = synthetic_corpus(n, seed=args.seed, signal=args.signal)
        folds = make_folds(n, args.folds if args.folds < n else 0, seed=0)

        def row(fs, model, sched, prec, res, epochs, wall):
            f1 = bootstrap_interval(macro_f1, (res.truth, res.pred), n_boot=1000, seed=0)
            ap_ = bootstrap_interval(mean_ap, (res.truth, res.prob), n_boot=1000, seed=0)
            print(f"| {n} | {fs} | {model} | {sched} | {prec} | {f1.estimate:.3f} [{f1.lo:.2f}, {f1.hi:.2f}] | "
                  f"{ap_.estimate:.3f} [{ap_.lo:.2f}, {ap_.hi:.2f}] | {epochs} | {wall:.0f} |", flush=True)

        for fs in args.sets.split(","):
            for base in [b for b in args.classical.split(",") if b]:
                t = time.perf_counter()
                res = cross_validate(SimpleMI(base=base), sets[fs], Y, folds, keep_models=False, jobs=1)
                row(fs, f"simplemi-{base}", "", "", res, "", time.perf_counter() - t)
            for pool in args.pools.split(","):
                for sched in args.schedules.split(","):
                    for prec in args.precisions.split(","):
                        clf = MILClassifier(pool=pool, hidden=64, epochs=args.epochs, schedule=sched, steps=args.steps,
                                            nested_epochs=tuple(int(e) for e in args.nested_epochs.split(",")),
                                            precision=prec, jobs=1, show_progress=False)
                        t = time.perf_counter()
                        res = clf.cross_validate(sets[fs], Y, folds)
                        ep = sorted(set(clf.training_["epochs"]))
                        row(fs, pool, sched, prec, res, "/".join(map(str, ep)), time.perf_counter() - t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
