"""Names shared by the MIL code, the params schema and the stages (no heavy imports here)."""

from ..features.sets import NAMES as _FEATURE_SET_NAMES

#: the six neural pooling types (SPEC.md, Table 3 of the paper)
POOLS = ("max", "avg", "linear_softmax", "single_attention", "multi_attention", "feature_attention")
#: attention normalisation: sigmoid-normalised (Kong et al. 2019) or softmax (Ilse et al. 2018)
ATTENTION_NORMS = ("sigmoid", "softmax")
#: arithmetic of neural training (Lightning's names): float32 throughout, or bfloat16
#: instance activations with float32 weights, optimiser, per-bag formulas and loss
PRECISIONS = ("32-true", "bf16-mixed")
#: how long neural models train: the paper's fixed epochs, a fixed number of optimiser steps,
#: or epochs chosen by an inner cross-validation inside each training fold
SCHEDULES = ("paper", "steps", "nested")
#: classical MIL methods and their base classifiers (binary relevance)
CLASSICAL = ("simplemi", "imv")
BASES = ("knn", "svm", "rf", "logreg")
#: instance level: one instance per cue (frames averaged) or per 1 Hz frame
LEVELS = ("cue", "frame")
#: feature sets of the features stage (data/features/<set>/), from the registry `filmscore.features.sets`
FEATURE_SETS = _FEATURE_SET_NAMES
#: label-only baselines (no features)
LABEL_BASELINES = ("random", "plurality")

#: key columns of the feature tables; every other column is a feature
KEY_COLUMNS = ("film_id", "cue_id", "t", "start", "end")

#: human-readable model names (Table 4)
MODEL_LABELS = {
    "random": "Random guess", "plurality": "Plurality label",
    "simplemi": "Simple MI", "imv": "IMV",
    "max": "Max pooling", "avg": "Avg. pooling", "linear_softmax": "Linear softmax",
    "single_attention": "Single attention", "multi_attention": "Multi-attention",
    "feature_attention": "Feature-level attention",
}


def cell_name(feature_set: str, level: str, method: str, size) -> str:
    """Folder name of a grid cell: <set>-<level>-<pool>-<hidden> or <set>-<level>-<method>-<base>."""
    return f"{feature_set}-{level}-{method}-{size}"


__all__ = ["POOLS", "ATTENTION_NORMS", "PRECISIONS", "SCHEDULES", "CLASSICAL", "BASES", "LEVELS", "FEATURE_SETS", "LABEL_BASELINES",
           "KEY_COLUMNS", "MODEL_LABELS", "cell_name"]
