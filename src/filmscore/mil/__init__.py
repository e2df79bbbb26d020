"""Multiple-instance genre models: a film is a bag, each of its cues an instance.

Estimators (scikit-learn style, on any bags: a list of (instances, features) arrays):

* `MILClassifier(pool=..., hidden=..., epochs=..., lr=..., batch_size=..., seed=...)`:
  the neural models (three dense layers, one of six poolings, sigmoid outputs),
  Lightning modules underneath (`filmscore.mil.lightning`);
* `SimpleMI(base="knn"|"svm"|"rf")`, `InstanceMajorityVote(base=...)`: classical MIL
  with binary relevance; `RandomGuess`, `PluralityLabelSet`: label-only baselines.

Cross-validation: `cross_validate(estimator, bags, Y, folds)` -> `CVResult` (held-out
predictions, fold models, ``predict_heldout(bags)`` for permutation analyses,
``save``/``load``); `make_folds(n, k)` (0: leave-one-out). Metrics: `filmscore.mil.metrics`.
The DVC stages: `filmscore.mil.grid.run_cell` (train) and `filmscore.mil.report.evaluate`.

Names are imported lazily, so ``import filmscore.mil.names`` stays light (no torch).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "MILClassifier": "estimators",
    "SimpleMI": "classical", "InstanceMajorityVote": "classical", "RandomGuess": "classical",
    "PluralityLabelSet": "classical",
    "CVResult": "cv", "cross_validate": "cv",
    "make_folds": "folds", "check_bags": "folds",
    "load_bags": "io", "load_labels": "io",
    "run_cell": "grid", "load_cell": "grid", "evaluate": "report",
    "POOLS": "names", "cell_name": "names",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
