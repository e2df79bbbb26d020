"""The published numbers of the paper, in one place, for display beside the project's.

Source: "Film genre from its soundtrack" (`/work/shared/paper.txt`, restated in
SPEC.md). These are the paper's results on its own 110-film corpus; nothing here
is ever used as an input to a computation of the project. The report prints
them in columns or tables labelled "paper".
"""

from __future__ import annotations

CITATION = "the paper (\"Film genre from its soundtrack\", 2021)"

# Table 1: films per genre (110 films; 33 single-genre, 77 multi-genre).
TABLE1_FILMS_PER_GENRE = {"Action": 55, "Comedy": 37, "Drama": 44, "Horror": 11, "Romance": 13, "Sci-Fi": 36}
TABLE1_TOTAL_FILMS = 110
TABLE1_SINGLE_GENRE = 33
TABLE1_MULTI_GENRE = 77

# Score Stamper (Dejavu on 5 s windows), 3 hand-annotated films, 84 cues, 162 min.
STAMPER = {
    "precision": 0.94,
    "precision_sd": 0.012,
    "recall": 0.47,
    "recall_sd": 0.086,
    "films": 3,
    "cues": 84,
    "minutes": 162,
}

# Table 4: macro precision / recall / F1, cue-level, LOOCV.
# (features, model as the paper names it, P, R, F1)
TABLE4 = [
    ("none", "Random guess", 0.32, 0.32, 0.32),
    ("none", "Plurality label", 0.14, 0.34, 0.19),
    ("VGGish", "kNN - Simple MI", 0.64, 0.59, 0.61),
    ("VGGish", "SVM - IMV", 0.64, 0.42, 0.44),
    ("VGGish", "Max pooling", 0.56, 0.48, 0.49),
    ("VGGish", "Average pooling", 0.55, 0.78, 0.62),
    ("VGGish", "Linear softmax", 0.62, 0.59, 0.59),
    ("VGGish", "Single attention", 0.60, 0.73, 0.65),
    ("VGGish", "Multi-attention", 0.45, 0.72, 0.52),
    ("VGGish", "Feature-level attention", 0.53, 0.74, 0.57),
    ("MIR", "SVM - Simple MI", 0.60, 0.52, 0.56),
    ("MIR", "SVM - IMV", 0.55, 0.40, 0.42),
    ("MIR", "Max pooling", 0.40, 0.10, 0.15),
    ("MIR", "Average pooling", 0.55, 0.78, 0.61),
    ("MIR", "Linear softmax", 0.55, 0.61, 0.57),
    ("MIR", "Single attention", 0.49, 0.76, 0.55),
    ("MIR", "Multi-attention", 0.44, 0.70, 0.51),
    ("MIR", "Feature-level attention", 0.53, 0.67, 0.56),
]
TABLE4_BEST = ("VGGish", "Single attention")  # macro F1 .65, 128 units
# The project's name of each Table 4 model (filmscore.mil.names: a pool, a classical method, a baseline).
TABLE4_METHODS = {
    "Random guess": "random", "Plurality label": "plurality",
    "kNN - Simple MI": "simplemi", "SVM - Simple MI": "simplemi", "SVM - IMV": "imv",
    "Max pooling": "max", "Average pooling": "avg", "Linear softmax": "linear_softmax",
    "Single attention": "single_attention", "Multi-attention": "multi_attention",
    "Feature-level attention": "feature_attention",
}
#: Table 4 by (feature set, method) as the project names them: (macro P, R, F1)
TABLE4_BY_METHOD = {(features.lower(), TABLE4_METHODS[model]): (p, r, f1) for features, model, p, r, f1 in TABLE4}

# Fig 3 (permutation feature importance on the MIR average-pooling model, 64 units,
# F1 = .61). The paper gives the figure only, not its values: its findings in words.
FIG3_MODEL = "MIR, average pooling, 64 units (macro F1 .61)"
FIG3_GROUP_ORDER = ["MFCC", "dMFCC", "ddMFCC", "Dynamics", "Pitch", "Rhythm", "Timbre", "Tone"]
FIG3_FINDINGS = [
    "MFCC is the highest-scoring group in every genre.",
    "Overall, the next-highest groups are Tone, Pitch and dMFCC.",
    "Only MFCC and dMFCC significantly degrade Comedy and Drama when permuted.",
    "Tone drives Horror, and scores highly for Romance and Sci-Fi.",
    "Horror and Romance (the rarest genres) vary most across permutations.",
]
FIG3_OVERALL_TOP = ["MFCC", "Tone", "Pitch", "dMFCC"]

# Table 5: difference of medians (genre minus the rest) x 10, by label source.
# Label sources from the paper's best model (single attention on VGGish, F1 .65).
# Which cells the paper set in bold (significant) is lost in its text.
TABLE5_MODEL = "VGGish, single attention, 128 units (macro F1 .65)"
TABLE5 = {
    "brightness": {
        "Actual": {"Action": 0.08, "Comedy": 0.23, "Drama": -0.07, "Horror": -0.70, "Romance": 0.11, "Sci-Fi": 0.01},
        "Predicted": {"Action": 0.06, "Comedy": 0.19, "Drama": 0.01, "Horror": -0.44, "Romance": 0.17, "Sci-Fi": -0.04},
        "False Positive": {"Action": -0.18, "Comedy": 0.16, "Drama": 0.31, "Horror": -0.15, "Romance": 0.16, "Sci-Fi": -0.07},
    },
    "contrast": {
        "Actual": {"Action": -0.08, "Comedy": 0.53, "Drama": -0.25, "Horror": -0.28, "Romance": 0.35, "Sci-Fi": 0.30},
        "Predicted": {"Action": 0.00, "Comedy": 0.45, "Drama": -0.16, "Horror": -0.25, "Romance": 0.16, "Sci-Fi": 0.05},
        "False Positive": {"Action": 0.13, "Comedy": 0.38, "Drama": 0.31, "Horror": 0.27, "Romance": -0.08, "Sci-Fi": -0.20},
    },
}
TABLE5_TEST = "Mann-Whitney U, Bonferroni (alpha = 0.01, m = 6)"
