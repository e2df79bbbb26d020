"""The one config loader: reads params.yaml and validates it against the schema.

Every stage calls `load_params()` first. An unknown or misspelled key (say a
typo in `dvc exp run -S model.pol=max`) is an error naming the key and the
nearest valid one; a wrong type or a value out of range names the key, the
value and what is allowed. All problems are reported at once.

The schema is declared once here, one section per pipeline part, as nested
dicts of `Spec` objects.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from . import GENRES_DEFAULT
from .errors import ParamsError, Problem

PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class Spec:
    """One leaf of the schema."""

    kind: str  # int, float, str, bool, list, any
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    of: "Spec | None" = None  # element spec for lists
    min_len: int = 0
    nullable: bool = False
    unique: bool = False
    doc: str = ""
    #: the value params.yaml ships with (None: not declared yet)
    default: Any = None
    #: True: says how the work runs (processes, threads, device, batch size, scheduler, cache folder),
    #: never what it computes: left out of cache keys and of the stages' DVC `params:`
    runtime: bool = False

    def check(self, key: str, value: Any) -> list[Problem]:
        where = f"params.yaml: {key}"
        if value is None:
            return [] if self.nullable else [Problem(where, "is empty (null)", f"set {key} to a {self.kind}")]
        if self.kind == "any":
            return []
        ok_types = {
            "int": (int,),
            "float": (int, float),
            "str": (str,),
            "bool": (bool,),
            "list": (list, tuple),
        }[self.kind]
        if isinstance(value, bool) and self.kind in ("int", "float"):
            return [Problem(where, f"is {value!r}, expected a {self.kind}", self._fix(key))]
        if not isinstance(value, ok_types):
            return [Problem(where, f"is {value!r} ({type(value).__name__}), expected a {self.kind}", self._fix(key))]
        probs: list[Problem] = []
        if self.choices is not None and self.kind != "list" and value not in self.choices:
            near = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            probs.append(Problem(where, f"is {value!r}{hint}", f"use one of {list(self.choices)}"))
        if self.kind in ("int", "float"):
            if self.min is not None and value < self.min:
                probs.append(Problem(where, f"is {value}, below the minimum {self.min}", self._fix(key)))
            if self.max is not None and value > self.max:
                probs.append(Problem(where, f"is {value}, above the maximum {self.max}", self._fix(key)))
        if self.kind == "list":
            if len(value) < self.min_len:
                probs.append(Problem(where, f"has {len(value)} item(s), needs at least {self.min_len}", self._fix(key)))
            if self.unique and len(set(map(str, value))) != len(value):
                probs.append(Problem(where, "has duplicate items", "list each item once"))
            if self.of is not None:
                for i, item in enumerate(value):
                    probs += self.of.check(f"{key}[{i}]", item)
        return probs

    def _fix(self, key: str) -> str:
        parts = [f"set {key} to a {self.kind}"]
        if self.min is not None:
            parts.append(f">= {self.min}")
        if self.max is not None:
            parts.append(f"<= {self.max}")
        if self.choices is not None:
            parts.append(f"one of {list(self.choices)}")
        return " ".join(parts)


def Int(min=None, max=None, **kw) -> Spec:
    return Spec("int", min=min, max=max, **kw)


def Float(min=None, max=None, **kw) -> Spec:
    return Spec("float", min=min, max=max, **kw)


def Str(choices=None, **kw) -> Spec:
    return Spec("str", choices=tuple(choices) if choices else None, **kw)


def Bool(**kw) -> Spec:
    return Spec("bool", **kw)


def List(of: Spec | None = None, min_len: int = 0, **kw) -> Spec:
    return Spec("list", of=of, min_len=min_len, **kw)


# --------------------------------------------------------------------------
# The schema, one section per part of the pipeline.
# --------------------------------------------------------------------------

CORPUS = {
    "path": Str(doc="corpus root (films/, soundtracks/, labels.csv); data/demo is the generated demo"),
    "genres": List(Str(), min_len=1, unique=True, doc="the genre set; labels outside it are errors"),
    "quick_check": Bool(doc="decode only the head and tail of each file when validating (fast); false decodes all"),
    "jobs": Int(min=1, max=256, runtime=True, doc="files checked in parallel"),
}

DEMO = {
    "seed": Int(min=0),
    "n_films": Int(min=1, max=1000),
    "film_seconds": Float(min=30, max=7200),
    "min_tracks": Int(min=1, max=40),
    "max_tracks": Int(min=1, max=40),
    "track_seconds": List(Float(min=5, max=600), min_len=2, doc="[shortest, longest] track length"),
    "cues_per_film": List(Int(min=0, max=200), min_len=2, doc="[fewest, most] cues mixed into a film"),
    "cue_seconds": List(Float(min=1, max=600), min_len=2, doc="[shortest, longest] cue"),
    "music_db": List(Float(min=-40, max=10), min_len=2, doc="[lowest, highest] music level relative to the dialogue bed, dB"),
    "foreign_cue_prob": Float(min=0, max=1, doc="chance that a cue has another genre's character"),
    "max_genres": Int(min=1, max=6),
    "min_films_per_genre": Int(min=0, max=1000, doc="every genre labels at least this many films (where max_genres allows)"),
    "sample_rate": Int(min=8000, max=48000, doc="synthesis rate (files are written at 44.1 kHz MP3 / 48 kHz film audio)"),
    "video": Bool(doc="write H.264 MP4 films (false: audio-only films)"),
    "audio_only_share": Float(min=0, max=1, doc="share of films written as audio-only MP3s (when video is true)"),
    "video_size": List(Int(min=16, max=1920), min_len=2, doc="[width, height], both even"),
    "video_fps": Int(min=1, max=60),
    "jobs": Int(min=1, max=256, runtime=True),
}

CUES = {  # Score Stamper (filmscore.cues); every tunable of the matcher
    "mode": Str(choices=("chromaprint", "windows"), doc="chromaprint: the full matcher; windows: the paper's 5 s windows"),
    "sample_rate": Int(min=8000, max=22050, doc="matching rate, Hz (Chromaprint works at 11025)"),
    "use_side": Bool(doc="also match the side signal L-R of stereo films, where centred dialogue cancels"),
    "speeds": List(Float(min=0.5, max=2.0), min_len=1, unique=True,
                   doc="renditions searched, as playback speed (1.0; 1.0416667 = PAL 25/24 speed-up, pitch included)"),
    "min_track_seconds": Float(min=0.5, max=600, doc="shorter tracks are skipped with a warning"),
    "jobs": Int(min=1, max=256, runtime=True, doc="films matched in parallel"),
    "cache": Str(runtime=True, doc="fingerprint and per-film cue cache folder (by content hash)"),
    "cache_track_audio": Bool(runtime=True, doc="also cache each track's decoded PCM (int16 mid/side at sample_rate, about 160 MB per "
                                  "hour of stereo soundtrack), so the phase check never decodes a soundtrack twice"),
    "bands": {
        "n_fft": Int(min=256, max=65536), "hop": Int(min=64, max=65536), "n_bands": Int(min=4, max=128),
        "fmin": Float(min=20, max=10000), "fmax": Float(min=100, max=11025),
        "highpass_seconds": Float(min=0, max=60, doc="log band energies minus their moving mean over this span"),
    },
    "hash": {
        "enabled": Bool(doc="Chromaprint sub-fingerprint index as a candidate source"),
        "key_bits": Int(choices=(8, 16, 32), doc="items indexed by parts of this many bits"),
        "min_votes": Int(min=1, doc="aligned item parts for a candidate"),
        "max_bucket": Int(min=1, doc="keys held more often than this are ignored"),
    },
    "xcorr": {
        "enabled": Bool(doc="band-frame cross-correlation as a candidate source"),
        "segment_seconds": Float(min=1, max=60), "hop_seconds": Float(min=0.5, max=60),
        "min_z": Float(min=0, doc="z-score of a correlation peak to become a candidate"),
        "peaks_per_segment": Int(min=1, max=64, doc="candidates per track segment: every peak at z >= min_z, at "
                                 "least a segment apart, the strongest first, up to this many (one per use of the track)"),
        "max_candidates_per_minute": Float(min=0.1, doc="verification budget per minute of film"),
    },
    "verify": {
        "n_fft": Int(min=1024, max=131072, doc="STFT-GCC-PHAT frame"),
        "window_seconds": Float(min=1, max=120), "search_seconds": Float(min=0.01, max=5),
        "fmin": Float(min=0, max=10000), "fmax": Float(min=100, max=11025),
        "min_z": Float(min=0, doc="GCC-PHAT peak z-score to accept an alignment"),
    },
    "extent": {
        "n_fft": Int(min=128, max=16384, doc="phase-coherence frames at the verified lag"),
        "smooth_seconds": Float(min=0, max=10), "min_z": Float(min=0),
        "merge_gap_seconds": Float(min=0, max=60), "min_cue_seconds": Float(min=0, max=600),
        "grow_seconds": Float(min=1, max=600, doc="coherence from the checked window outward in chunks this long, "
                              "while the track still plays near an edge"),
    },
    "windows": {
        "seconds": Float(min=0.5, max=60, doc="the paper's window (5 s)"),
        "min_votes": Int(min=1), "max_gap": Int(min=0, max=100, doc="empty windows allowed inside a cue"),
    },
    "eval": {
        "iou": Float(min=0.01, max=1.0, doc="intersection over union for a found cue to pair with a true one"),
    },
}

FEATURE_SETS = ("mir", "vggish", "openl3", "visual")

FEATURES = {
    "sets": List(Str(choices=FEATURE_SETS), unique=True,
                 doc="feature sets to extract; the others are written as skipped (key-only tables)"),
    "jobs": Int(min=1, max=256, runtime=True, doc="films extracted in parallel (processes)"),
    "mir": {
        "sample_rate": Int(min=8000, max=48000, doc="analysis rate, Hz; cue audio is decoded (resampled) to it"),
        "frame_size": Int(min=256, max=8192, doc="short frames (samples): RMS, ZCR, MFCC, spectral shape"),
        "hop_size": Int(min=64, max=8192),
        "tonal_frame_size": Int(min=1024, max=32768, doc="tonal frames (samples): chroma, roughness, inharmonicity"),
        "tonal_hop_size": Int(min=256, max=32768),
        "texture_window": Float(min=0.5, max=60, doc="texture window, s (paper: 5)"),
        "texture_hop": Float(min=0.1, max=60, doc="texture hop, s (paper: 33 % overlap of 5 s = 3.35)"),
        "texture_align": Str(choices=("nearest", "centred"),
                             doc="1 Hz frames take the nearest texture window, or one window is centred on each"),
        "key_frame": Float(min=0.1, max=30, doc="chroma averaged over this many s for key strength and mode"),
        "key_hop": Float(min=0.05, max=30),
        "rhythm_frame": Float(min=1, max=30, doc="onset-curve frame for tempo and pulse clarity, s"),
        "rhythm_hop": Float(min=0.05, max=30),
        "tempo_range": List(Float(min=10, max=600), min_len=2, doc="[slowest, fastest] tempo searched, BPM"),
        "brightness_cutoff": Float(min=100, max=20000, doc="spectral brightness: energy share above this, Hz"),
        "silence_db": Float(min=-160, max=0, doc="frames quieter than this (dBFS RMS) have no spectral shape"),
    },
    "visual": {
        "size": List(Int(min=8, max=3840), min_len=2, doc="[width, height] frames are scaled to before analysis"),
        "samples_per_second": Int(min=1, max=60, doc="pictures averaged per second of film"),
        "region_cut": Str(choices=("otsu", "mean"), doc="how the bright and dark regions of contrast are cut"),
        "batch_frames": Int(min=1, max=4096, runtime=True, doc="frames decoded per batch (bounds memory)"),
    },
}

# Neural audio embeddings (filmscore.features.vggish / .openl3): merged by the
# features section as features.vggish and features.openl3. Weight files are
# looked up relative to the repository root; see docs/weights.md.
_DEVICE_DOC = "cpu, auto (the first CUDA GPU if any, else cpu), cuda or cuda:N"
EMBED_SCHEMA = {
    "vggish": {
        "weights": Str(doc="VGGish state_dict: torchvggish's vggish-10086976.pth, or the TF checkpoint converted "
                           "with `filmscore weights convert-vggish`"),
        "pca_params": Str(doc="PCA params: torchvggish's vggish_pca_params-970ea276.pth or the TF release's "
                              "vggish_pca_params.npz (read only with postprocess: true)"),
        "postprocess": Bool(doc="PCA + clip + 8-bit quantisation as the released AudioSet embeddings (the paper); "
                                "false: the raw 128-d output"),
        "device": Str(runtime=True, doc=_DEVICE_DOC),
        "batch_size": Int(min=1, max=4096, runtime=True, doc="0.96 s examples per forward pass"),
        "threads": Int(min=0, max=256, runtime=True, doc="torch threads per process (0: torch's default); 1 when films run in parallel"),
    },
    "openl3": {
        "weights": Str(doc="official Keras weights, e.g. openl3_audio_mel256_music.h5"),
        "input_repr": Str(choices=["mel256", "mel128"], doc="the model's input spectrogram; must match the weight file"),
        "embedding_size": Int(choices=(512, 6144), doc="512 (the final max-pool spans the whole map) or 6144"),
        "device": Str(runtime=True, doc=_DEVICE_DOC),
        "batch_size": Int(min=1, max=1024, runtime=True, doc="1 s windows per forward pass"),
        "threads": Int(min=0, max=256, runtime=True, doc="torch threads per process (0: torch's default); 1 when films run in parallel"),
    },
}

FEATURES["vggish"] = EMBED_SCHEMA["vggish"]
FEATURES["openl3"] = EMBED_SCHEMA["openl3"]

RUN = {
    # Where per-film work runs (filmscore.parallel.map_films). It never changes a
    # result, so stages do not list this section under `params:` in dvc.yaml:
    # switching to a cluster does not re-run anything.
    "scheduler": Str(nullable=True, runtime=True, doc="Dask scheduler address tcp://HOST:PORT or scheduler-file JSON path; null: local processes"),
    "jobs": Int(min=1, max=256, runtime=True, doc="local worker processes for per-film work when scheduler is null (1: in-process)"),
    "wait_s": Float(min=1, max=3600, runtime=True, doc="seconds to wait for the scheduler to answer and a first worker to join"),
}

REPORTS = {
    "importance": {
        # the model cell data/models/<features>-<level>-<pool>-<hidden> whose fold models are permuted
        "features": Str(choices=("mir", "vggish", "openl3", "visual"),
                        doc="feature set of the analysed model; needs feature groups, i.e. mir (the paper)"),
        "level": Str(choices=("cue", "frame"), doc="bag level of the analysed model (the paper: cue)"),
        "pool": Str(doc="pooling of the analysed model (the paper: avg)"),
        "hidden": Int(min=1, doc="hidden units of the analysed model (the paper: 64)"),
        "n_repeats": Int(min=1, max=10000, doc="permutations per feature group (the paper: 100)"),
        "seed": Int(min=0, doc="seed of the permutations"),
        "confidence": Float(min=0.5, max=0.999, doc="level of the t-interval over repeats"),
    },
    "crossmodal": {
        "alpha": Float(min=1e-6, max=0.5, doc="family-wise significance level (Bonferroni over the genres)"),
        "min_clips": Int(min=2, max=10000, doc="a genre is testable with at least this many clips on each side"),
        "min_films": Int(min=1, max=10000, doc="... and at least this many films on each side"),
    },
    "timeline": {
        "films_per_page": Int(min=1, max=500, doc="films per cue-timeline figure"),
    },
}

# -- genre models (filmscore.mil): the Table 4 grid, the headline model, training, evaluation
from .mil.names import ATTENTION_NORMS as _ATT, BASES as _BASES, CLASSICAL as _CLASSICAL  # noqa: E402
from .mil.names import FEATURE_SETS as _SETS, LEVELS as _LEVELS, POOLS as _POOLS, PRECISIONS  # noqa: E402
from .mil.names import SCHEDULES  # noqa: E402

MODEL = {
    "set": Str(_SETS, doc="feature set of the headline model (later analyses use it); must be in grid.sets"),
    "level": Str(_LEVELS, doc="instance level of the headline model: cue or frame; must be in grid.levels"),
    "pool": Str(_POOLS, doc="pooling of the headline model; must be in grid.pools"),
    "hidden": Int(min=1, max=4096, doc="hidden units of the headline model; must be in grid.hidden"),
}

GRID = {
    "sets": List(Str(_SETS), min_len=1, unique=True, doc="feature sets of Table 4"),
    "levels": List(Str(_LEVELS), min_len=1, unique=True, doc="instance levels (cue: frames averaged per cue)"),
    "pools": List(Str(_POOLS), min_len=1, unique=True, doc="neural pooling types"),
    "hidden": List(Int(min=1, max=4096), min_len=1, unique=True, doc="hidden units per embedding layer"),
    "classical": List(Str(_CLASSICAL), min_len=1, unique=True, doc="classical MIL methods (binary relevance)"),
    "bases": List(Str(_BASES), min_len=1, unique=True, doc="base classifiers of the classical methods"),
}

CV = {
    "folds": Int(min=0, max=100000, doc="0: leave-one-out over the films (the paper); k >= 2: k shuffled folds"),
    "seed": Int(min=0, doc="shuffling of k-fold assignments (unused for leave-one-out)"),
}

TRAIN = {
    "schedule": Str(SCHEDULES, default="paper",
                    doc="training length: paper (train.epochs, the paper's fixed budget), steps (train.steps optimiser "
                        "steps whatever the corpus size) or nested (epochs among train.nested_epochs chosen by an "
                        "inner cross-validation inside each training fold)"),
    "epochs": Int(min=1, max=100000, doc="training epochs under schedule paper (paper: 200)"),
    "steps": Int(min=1, max=10000000, default=1400,
                 doc="optimiser steps per model under schedule steps (1400: the paper's 200 epochs on its 110 films)"),
    "nested_epochs": List(Int(min=1, max=100000), min_len=1, unique=True, default=[50, 100, 200, 400],
                          doc="candidate epochs under schedule nested"),
    "inner_folds": Int(min=2, max=100, default=3, doc="inner cross-validation folds under schedule nested"),
    "lr": Float(min=1e-8, max=1.0, doc="Adam learning rate (paper: 5e-5)"),
    "batch_size": Int(min=1, max=100000, doc="bags per batch (paper: 16)"),
    "layers": Int(min=1, max=16, doc="dense embedding layers before pooling (paper: 3)"),
    "attention": Str(_ATT, doc="attention normalisation: sigmoid (Kong et al. 2019) or softmax (Ilse et al. 2018)"),
    "attend_layers": List(Int(min=1, max=16), min_len=1, unique=True,
                          doc="embedding layers (1-based) attended by multi_attention"),
    "dropout": Float(min=0.0, max=0.95, doc="dropout after each embedding layer (paper: none)"),
    "loss_weights": Str(("balanced", "none"), doc="per-genre positive/negative weights of the BCE loss"),
    "threshold": Float(min=0.001, max=0.999, doc="a genre is predicted when its probability is >= threshold (paper: 0.5)"),
    "seed": Int(min=0, doc="initial weights and batch order"),
    "precision": Str(PRECISIONS, doc="32-true (float32) or bf16-mixed (bfloat16 instance activations, float32 weights and loss)"),
    "fold_batching": Bool(doc="train all cross-validation folds as one batched model (same models, much faster)"),
    "jobs": Int(min=0, max=256, runtime=True, doc="processes sharing the folds (0: one per CPU core; the models do not depend on it)"),
}

CLASSICAL = {
    "knn_k": Int(min=1, max=1000, doc="neighbours of the kNN base classifier"),
    "svm_c": Float(min=1e-6, max=1e6, doc="C of the SVM base classifier"),
    "svm_kernel": Str(("rbf", "linear", "poly", "sigmoid"), doc="SVM kernel (gamma: 'scale')"),
    "rf_trees": Int(min=1, max=10000, doc="trees of the random-forest base classifier"),
    "logreg_c": Float(min=1e-6, max=1e6, default=1.0,
                      doc="inverse L2 strength of the logistic-regression base (standardised, class-balanced)"),
    "seed": Int(min=0, doc="random forest seed"),
    "jobs": Int(min=0, max=256, runtime=True, doc="processes sharing the folds (0: one per CPU core)"),
}

EVALUATE = {
    "random_draws": Int(min=1, max=1000000, doc="draws averaged for the random-guess baseline"),
    "ttest_over": Str(("genres", "films"), doc="pairs of the t-test against random: per-genre APs or per-film APs"),
    "alpha": Float(min=1e-9, max=0.5, doc="significance level of the t-test (paper: 0.01)"),
    "seed": Int(min=0, doc="random-guess draws and the bootstrap's resampled films"),
    "bootstrap": Int(min=1, max=1000000, default=1000,
                     doc="resamples of the films for Table 4's intervals and paired tests (fewer than 10 films: "
                         "intervals unavailable)"),
    "confidence": Float(min=0.5, max=0.999, default=0.95, doc="level of the bootstrap intervals"),
    "interval": Str(("percentile", "bca"), default="percentile",
                    doc="bootstrap interval: percentile or BCa (bias-corrected and accelerated; Efron & Tibshirani 1993)"),
}

SCHEMA: dict[str, Any] = {
    "corpus": CORPUS,
    "demo": DEMO,
    "cues": CUES,
    "features": FEATURES,
    "run": RUN,
    "reports": REPORTS,
    "model": MODEL,
    "grid": GRID,
    "cv": CV,
    "train": TRAIN,
    "classical": CLASSICAL,
    "evaluate": EVALUATE,
}

# Cross-field checks: functions of the whole params dict returning problems.
CHECKS: list[Callable[[dict], list[Problem]]] = []


def _check_demo(p: dict) -> list[Problem]:
    d = p.get("demo", {})
    out = []
    try:
        if d["min_tracks"] > d["max_tracks"]:
            out.append(Problem("params.yaml: demo.min_tracks", "is larger than demo.max_tracks", "make min_tracks <= max_tracks"))
        for key in ("track_seconds", "cues_per_film", "cue_seconds", "music_db"):
            lo, hi = d[key][0], d[key][1]
            if lo > hi:
                out.append(Problem(f"params.yaml: demo.{key}", f"[{lo}, {hi}] is not [low, high]", "put the smaller value first"))
    except (KeyError, TypeError, IndexError):
        pass  # reported by the schema pass
    return out


CHECKS.append(_check_demo)


def _check_cues(p: dict) -> list[Problem]:
    c = p.get("cues", {})
    out = []
    try:
        for sec in ("bands", "verify"):
            if c[sec]["fmin"] >= c[sec]["fmax"]:
                out.append(Problem(f"params.yaml: cues.{sec}.fmin", "is not below fmax", "make fmin < fmax"))
            if c[sec]["fmax"] > c["sample_rate"] / 2:
                out.append(Problem(f"params.yaml: cues.{sec}.fmax", f"is above half of cues.sample_rate ({c['sample_rate'] / 2:g} Hz)",
                                   "lower it or raise cues.sample_rate"))
        if c["bands"]["hop"] > c["bands"]["n_fft"]:
            out.append(Problem("params.yaml: cues.bands.hop", "is larger than cues.bands.n_fft", "make hop <= n_fft"))
        if c["xcorr"]["hop_seconds"] > c["xcorr"]["segment_seconds"]:
            out.append(Problem("params.yaml: cues.xcorr.hop_seconds", "is larger than segment_seconds",
                               "make hop_seconds <= segment_seconds, or segments leave gaps"))
    except (KeyError, TypeError):
        pass
    return out


CHECKS.append(_check_cues)
def _check_features(p: dict) -> list[Problem]:
    f = p.get("features")
    if not isinstance(f, dict):
        return []
    out = []
    try:
        m = f["mir"]
        pairs = (("hop_size", "frame_size"), ("tonal_hop_size", "tonal_frame_size"), ("texture_hop", "texture_window"),
                 ("key_hop", "key_frame"), ("rhythm_hop", "rhythm_frame"))
        for hop, frame in pairs:
            if m[hop] > m[frame]:
                out.append(Problem(f"params.yaml: features.mir.{hop}", f"({m[hop]}) is larger than features.mir.{frame} "
                                   f"({m[frame]}): parts of the audio would be skipped", f"make {hop} <= {frame}"))
        lo, hi = m["tempo_range"][0], m["tempo_range"][1]
        if lo >= hi:
            out.append(Problem("params.yaml: features.mir.tempo_range", f"[{lo}, {hi}] is not [slowest, fastest]",
                               "put the smaller tempo first"))
        elif m["rhythm_frame"] < 2 * 60.0 / lo:
            out.append(Problem("params.yaml: features.mir.rhythm_frame",
                               f"{m['rhythm_frame']} s holds fewer than two beats at {lo} BPM",
                               f"make it at least {2 * 60.0 / lo:.2f} s or raise tempo_range[0]"))
    except (KeyError, TypeError, IndexError):
        pass  # reported by the schema pass
    return out


CHECKS.append(_check_features)


def _check_run(p: dict) -> list[Problem]:
    from .parallel import scheduler_problem

    prob = scheduler_problem(p.get("run", {}).get("scheduler")) if isinstance(p.get("run"), dict) else None
    return [prob] if prob else []


CHECKS.append(_check_run)
def _check_models(p: dict) -> list[Problem]:
    """The headline model is a grid cell; multi-attention attends existing layers; cv.folds != 1."""
    out = []
    m, g, t, cv = p.get("model"), p.get("grid"), p.get("train"), p.get("cv")
    if isinstance(m, dict) and isinstance(g, dict):
        for mk, gk in (("set", "sets"), ("level", "levels"), ("pool", "pools"), ("hidden", "hidden")):
            if mk in m and gk in g and isinstance(g[gk], list) and m[mk] not in g[gk]:
                out.append(Problem(f"params.yaml: model.{mk}", f"is {m[mk]!r}, not in grid.{gk} {g[gk]}",
                                   f"the headline model must be a trained grid cell: add {m[mk]!r} to grid.{gk} "
                                   f"(e.g. dvc exp run -S model.{mk}={m[mk]} -S 'grid.{gk}={g[gk] + [m[mk]]}')"))
    if isinstance(t, dict):
        try:
            bad = [l for l in t["attend_layers"] if l > t["layers"]]
            if bad:
                out.append(Problem("params.yaml: train.attend_layers", f"{bad} exceed train.layers = {t['layers']}",
                                   f"attend layers between 1 and {t['layers']}"))
        except (KeyError, TypeError):
            pass
    if isinstance(cv, dict) and cv.get("folds") == 1:
        out.append(Problem("params.yaml: cv.folds", "is 1", "use 0 (leave-one-out) or 2 or more folds"))
    return out


CHECKS.append(_check_models)


# --------------------------------------------------------------------------


def _all_keys(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in schema.items():
        name = f"{prefix}{k}"
        keys.append(name)
        if isinstance(v, dict):
            keys += _all_keys(v, name + ".")
    return keys


def validate(params: dict, schema: dict | None = None, sections: list[str] | None = None) -> list[Problem]:
    """Every problem of `params` against the schema (optionally only some top-level sections)."""
    schema = SCHEMA if schema is None else schema
    everything = _all_keys(schema)
    probs: list[Problem] = []

    def walk(node: Any, spec: Any, prefix: str) -> None:
        if isinstance(spec, dict):
            if not isinstance(node, dict):
                probs.append(Problem(f"params.yaml: {prefix.rstrip('.')}", f"should be a section (mapping), got {node!r}",
                                     "restore the section's keys from the project's params.yaml"))
                return
            for k, v in node.items():
                key = f"{prefix}{k}"
                if k not in spec:
                    near = difflib.get_close_matches(str(k), list(spec), n=1, cutoff=0.5) or \
                        difflib.get_close_matches(key, everything, n=1, cutoff=0.6)
                    if near:
                        cand = near[0] if "." in near[0] else f"{prefix}{near[0]}"
                        fix = f"did you mean '{cand}'?"
                    else:
                        fix = f"valid keys here: {', '.join(prefix + s for s in spec)}"
                    probs.append(Problem(f"params.yaml: {key}", "unknown key", fix))
                    continue
                walk(v, spec[k], key + ".")
            for k in spec:
                if k not in node:
                    probs.append(Problem(f"params.yaml: {prefix}{k}", "is missing",
                                         "add it (see the project's params.yaml for its default)"))
        else:
            probs.extend(spec.check(prefix.rstrip("."), node))

    if not isinstance(params, dict):
        return [Problem("params.yaml", "is not a mapping of sections", "restore the project's params.yaml")]
    if sections is None:
        walk(params, schema, "")
    else:
        for s in sections:
            if s not in params:
                probs.append(Problem(f"params.yaml: {s}", "section is missing", "restore it from the project's params.yaml"))
            else:
                walk(params[s], schema[s], s + ".")
        for k in params:
            if k not in schema:
                near = difflib.get_close_matches(str(k), list(schema), n=1, cutoff=0.5)
                probs.append(Problem(f"params.yaml: {k}", "unknown section",
                                     f"did you mean '{near[0]}'?" if near else f"valid sections: {', '.join(schema)}"))
    if not probs:
        for check in CHECKS:
            probs += check(params)
    return probs


def load_params(path: str | Path = PARAMS_FILE, sections: list[str] | None = None) -> dict:
    """Read and validate params.yaml; raise ParamsError listing every problem.

    With `sections`, only those sections (and unknown top-level sections) are
    checked, so a stage is not blocked by a section it never reads.
    """
    path = Path(path)
    if not path.is_file():
        raise ParamsError([Problem(str(path), "not found", "run from the repository root, or pass --params")])
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ParamsError([Problem(str(path), f"is not valid YAML ({e})", "fix the syntax")]) from None
    probs = validate(params, sections=sections)
    if probs:
        raise ParamsError(probs)
    return params


def settings_from_section(cls, section: dict, tuples: dict[str, type] | None = None):
    """A settings dataclass from a (validated) params section: its own keys only, missing
    ones keep their defaults, and YAML lists named in ``tuples`` become tuples of that type."""
    from dataclasses import fields

    names = {f.name for f in fields(cls)}
    kw = {k: v for k, v in section.items() if k in names}
    for key, kind in (tuples or {}).items():
        if key in kw:
            kw[key] = tuple(kind(v) for v in kw[key])
    return cls(**kw)


def result_params(spec: dict, values: dict) -> dict:
    """The part of a params section that can change a result: `values` without its `runtime` keys.

    `spec` is the section's schema (for example ``SCHEMA["features"]["mir"]``); keys the
    schema does not know are kept (never silently dropped from a cache key)."""
    out = {}
    for k, v in values.items():
        s = spec.get(k) if isinstance(spec, dict) else None
        if isinstance(s, Spec) and s.runtime:
            continue
        out[k] = result_params(s, v) if isinstance(s, dict) and isinstance(v, dict) else v
    return out


def genres(params: dict) -> list[str]:
    """The genre set of this run."""
    return list(params["corpus"]["genres"])


__all__ = ["load_params", "validate", "genres", "result_params", "settings_from_section", "SCHEMA", "Spec", "GENRES_DEFAULT"]
