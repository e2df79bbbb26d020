"""The one config loader: reads params.yaml and validates it against the schema.

Every stage calls `load_params()` first. An unknown or misspelled key (say a
typo in `dvc exp run -S model.pol=max`) is an error naming the key and the
nearest valid one; a wrong type or a value out of range names the key, the
value and what is allowed. All problems are reported at once.

The schema is declared once here, one section per pipeline part, as nested
dicts of `Spec` objects.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from . import GENRES_DEFAULT
from .errors import ParamsError, Problem
from .features.sets import NAMES as FEATURE_SETS  # the feature-set registry (imports nothing of the project)
from .paths import DEMO

PARAMS_FILE = "params.yaml"


class _NoDefault:
    """Marks a Spec whose default is not declared (every leaf of SCHEMA declares one: tested)."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class Spec:
    """One leaf of the schema: the parameter's type, range, default and one-line doc, declared once.

    Everything else is derived from it: validation (`validate`), the defaults of the
    settings dataclasses (`schema_defaults`), the message for a missing key, and the
    check that the shipped params.yaml is valid and complete (tests/test_config.py)."""

    kind: str  # int, float, str, bool, list, any
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    of: "Spec | None" = None  # element spec for lists
    min_len: int = 0
    nullable: bool = False
    unique: bool = False
    doc: str = ""
    #: the parameter's default: what the project's params.yaml ships and what settings objects start from
    default: Any = NO_DEFAULT
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
    "path": Str(default=str(DEMO), doc="corpus root (films/, soundtracks/, labels.csv); data/demo is the generated demo"),
    "genres": List(Str(), min_len=1, unique=True, default=list(GENRES_DEFAULT), doc="the genre set; labels outside it are errors"),
    "quick_check": Bool(default=True, doc="decode only the head and tail of each file when validating (fast); false decodes all"),
    "audio_stream": Spec("any", default=0, doc="which audio stream of each film is read (validation, cues, features): "
                         "an index (0 = the first) or a language tag (\"eng\", \"en\", \"fra\"); a film without it is an "
                         "error naming the film and the streams it has"),
    "jobs": Int(min=1, max=256, runtime=True, default=2, doc="files checked in parallel"),
}

DEMO = {
    "seed": Int(min=0, default=0),
    "n_films": Int(min=1, max=1000, default=30),
    "film_seconds": Float(min=30, max=7200, default=180),
    "min_tracks": Int(min=1, max=40, default=4),
    "max_tracks": Int(min=1, max=40, default=6),
    "track_seconds": List(Float(min=5, max=600), min_len=2, default=[30, 75], doc="[shortest, longest] track length"),
    "cues_per_film": List(Int(min=0, max=200), min_len=2, default=[4, 8], doc="[fewest, most] cues mixed into a film"),
    "cue_seconds": List(Float(min=1, max=600), min_len=2, default=[8, 60], doc="[shortest, longest] cue"),
    "music_db": List(Float(min=-40, max=10), min_len=2, default=[-12, 3], doc="[lowest, highest] music level relative to the dialogue bed, dB"),
    "foreign_cue_prob": Float(min=0, max=1, default=0.15, doc="chance that a cue has another genre's character"),
    "max_genres": Int(min=1, max=6, default=3),
    "min_films_per_genre": Int(min=0, max=1000, default=3, doc="every genre labels at least this many films (where max_genres allows)"),
    "sample_rate": Int(min=8000, max=48000, default=22050, doc="synthesis rate (files are written at 44.1 kHz MP3 / 48 kHz film audio)"),
    "video": Bool(default=True, doc="write H.264 MP4 films (false: audio-only films)"),
    "audio_only_share": Float(min=0, max=1, default=0.1, doc="share of films written as audio-only MP3s (when video is true)"),
    "video_size": List(Int(min=16, max=1920), min_len=2, default=[160, 90], doc="[width, height], both even"),
    "video_fps": Int(min=1, max=60, default=8),
    "jobs": Int(min=1, max=256, runtime=True, default=2),
}

CUES = {  # Score Stamper (filmscore.cues); every tunable of the matcher
    "mode": Str(choices=("chromaprint", "windows"), default="chromaprint", doc="chromaprint: the full matcher; windows: the paper's 5 s windows"),
    "sample_rate": Int(min=8000, max=22050, default=11025, doc="matching rate, Hz (Chromaprint works at 11025)"),
    "use_side": Bool(default=True, doc="also match the side signal L-R of stereo films, where centred dialogue cancels"),
    "speeds": List(Float(min=0.5, max=2.0), min_len=1,
                   default=[0.95, 1.05], doc="[slowest, fastest] playback speed of a film relative to its tracks (track "
                   "seconds per film second: 1000/1001 NTSC pull-down, 25/24 PAL speed-up); each alignment's speed is "
                   "estimated in this range. [1.0]: only the speed as released"),
    "speed_step": Float(min=0.005, max=0.05, default=0.02,
                        doc="the tracks are printed at 1 and steps of this out to the range, for the candidate search "
                        "(a candidate is found within half a step of its speed, then the speed is estimated)"),
    "min_track_seconds": Float(min=0.5, max=600, default=3.0, doc="shorter tracks are skipped with a warning"),
    "jobs": Int(min=1, max=256, runtime=True, default=2, doc="films matched in parallel"),
    "cache": Str(runtime=True, default="data/cues_cache", doc="fingerprint and per-film cue cache folder (keyed on content, "
                 "settings and code; a tool cache, not a DVC output)"),
    "cache_track_audio": Bool(runtime=True, default=True, doc="also cache each track's decoded PCM (int16 mid/side at sample_rate, about 160 MB per "
                                  "hour of stereo soundtrack), so the phase check never decodes a soundtrack twice"),
    "bands": {
        "n_fft": Int(min=256, max=65536, default=4096), "hop": Int(min=64, max=65536, default=2048), "n_bands": Int(min=4, max=128, default=24),
        "fmin": Float(min=20, max=10000, default=150.0), "fmax": Float(min=100, max=11025, default=5000.0),
        "highpass_seconds": Float(min=0, max=60, default=3.0, doc="log band energies minus their moving mean over this span"),
    },
    "hash": {
        "enabled": Bool(default=True, doc="Chromaprint sub-fingerprint index as a candidate source"),
        "key_bits": Int(choices=(8, 16, 32), default=16, doc="items indexed by parts of this many bits"),
        "min_votes": Int(min=1, default=8, doc="aligned item parts for a candidate"),
        "max_bucket": Int(min=1, default=64, doc="keys held more often than this are ignored"),
    },
    "xcorr": {
        "enabled": Bool(default=True, doc="band-frame cross-correlation as a candidate source"),
        "segment_seconds": Float(min=1, max=60, default=5.0), "hop_seconds": Float(min=0.5, max=60, default=2.5),
        "min_z": Float(min=0, default=5.0, doc="z-score of a correlation peak to become a candidate"),
        "peaks_per_segment": Int(min=1, max=64, default=8, doc="candidates per track segment: every peak at z >= min_z, at "
                                 "least a segment apart, the strongest first, up to this many (one per use of the track)"),
        "max_candidates_per_minute": Float(min=0.1, default=12.0, doc="verification budget per minute of film"),
    },
    "fine": {
        "enabled": Bool(default=True, doc="a second candidate search for quiet music under dialogue: fine spectral frames "
                        "of the band the film carries, at the film's verified speed, where no cue is yet (docs/cues.md)"),
        "n_fft": Int(min=256, max=8192, default=1024, doc="fine frames (hop n_fft/2): 11 Hz, 46 ms at 11025 Hz"),
        "fmin": Float(min=0, max=10000, default=150.0),
        "fmax": Float(min=200, max=11025, default=3000.0, doc="upper bound; lowered to the band the film carries"),
        "segment_seconds": Float(min=1, max=60, default=5.0), "hop_seconds": Float(min=0.5, max=60, default=2.5),
        "track_stride": Int(min=1, max=8, default=2, doc="every stride-th frame of a segment enters its sum"),
        "min_z": Float(min=0, default=4.5, doc="z-score of a segment's peak to become a candidate (verified at "
                       "verify.min_z; films against reversed tracks gave no cue at 4.5, docs/cues.md)"),
        "max_candidates_per_minute": Float(min=0.1, default=12.0, doc="verification budget of this pass per minute of film"),
    },
    "verify": {
        "n_fft": Int(min=1024, max=131072, default=16384, doc="STFT-GCC-PHAT frame"),
        "window_seconds": Float(min=1, max=120, default=8.0), "search_seconds": Float(min=0.01, max=5, default=0.4),
        "fmin": Float(min=0, max=10000, default=100.0), "fmax": Float(min=100, max=11025, default=5000.0),
        "min_z": Float(min=0, default=9.0, doc="GCC-PHAT peak z-score to accept an alignment"),
        "stretch_min_z": Float(min=0, default=4.0, doc="a time-stretched rendition (pitch kept, as a pitch-corrected PAL "
                               "transfer), where GCC-PHAT cannot hold: mean coherence z over the checked window to accept it"),
        "spectrum_min_z": Float(min=0, default=5.0, doc="the same read from the spectra along the line, in a film whose "
                                "stretched music is verified by phase at that speed (docs/cues.md)"),
    },
    "extent": {
        "n_fft": Int(min=128, max=16384, default=1024, doc="phase-coherence frames at the verified lag"),
        "smooth_seconds": Float(min=0, max=10, default=0.5), "min_z": Float(min=0, default=4.0),
        "merge_gap_seconds": Float(min=0, max=60, default=2.0, doc="runs of one alignment this close are one cue; "
                                   "longer gaps too where the track plays on through them (match.plays_through)"),
        "min_cue_seconds": Float(min=0, max=600, default=2.0),
        "grow_seconds": Float(min=1, max=600, default=16.0, doc="coherence from the checked window outward in chunks this long, "
                              "while the track still plays near an edge"),
    },
    "renditions": Bool(default=False, doc="also run the tolerant tier (mode chromaprint): the same composition in another "
                       "rendition (another recording or mix, tempo a few % off with its pitch kept), matched by its notes "
                       "(cues.tolerant.features) on film time no exact cue holds and reported with match: rendition "
                       "and a confidence under 0.5 (docs/cues.md); false (the default): exact matches only, every cue a verified recording"),
    "tolerant": {  # the tolerant tier (filmscore.cues.rendition, rendition_fine)
        "features": Str(choices=("fine", "chroma"), default="fine",
                        doc="fine: fine spectral frames (the notes at their pitch) of each track read at the tempos of "
                        "a grid, lines of 5 s segments across the film; chroma: CENS chroma by local alignment along a "
                        "warping path (robust to re-orchestration; recall about half of fine's on the bench, docs/cues.md)"),
        "tempos": List(Float(min=0.5, max=2.0), min_len=2, default=[0.95, 1.05],
                       doc="[slowest, fastest] mean tempo of a rendition relative to its track (track seconds per film "
                       "second); the path may follow a tempo that drifts within a cue"),
        "tempo_step": Float(min=0.002, max=0.05, default=0.015,
                            doc="fine: the widest cell of the tempo grid the tracks are read at (a rendition lies within "
                            "half a cell of a grid tempo; each tempo costs a search)"),
        "min_z": Float(min=0, max=20, default=3.0, doc="fine: a 5 s segment lengthens a line when its score against "
                       "the film position exceeds this z (each adds its z minus this to the line's score)"),
        "min_similarity": Float(min=0, max=1, default=0.3, doc="chroma: the cosine (centred CENS) a frame pair must "
                                "exceed to lengthen a path: each pair adds its cosine minus this to the path's score"),
        "false_alarms": Float(min=0, default=0.05, doc="a rendition cue is reported when alignments of decoys (the tracks "
                              "reversed in time, then block-shuffled (fine) or transposed (chroma)) score as high at most "
                              "this often per hour of the film: the tier's expected false cues per film hour"),
        "min_cue_seconds": Float(min=1, max=600, default=8.0, doc="shorter rendition cues are dropped"),
    },
    "windows": {
        "seconds": Float(min=0.5, max=60, default=5.0, doc="the paper's window (5 s)"),
        "min_votes": Int(min=1, default=4), "max_gap": Int(min=0, max=100, default=1, doc="empty windows allowed inside a cue"),
    },
    "eval": {
        "iou": Float(min=0.01, max=1.0, default=0.5, doc="intersection over union for a found cue to pair with a true one"),
    },
}

FEATURES = {
    "sets": List(Str(choices=FEATURE_SETS), unique=True,
                 default=["mir", "musicnn", "vggish", "openl3", "visual"], doc="feature sets to extract; the others are written as skipped (key-only tables)"),
    "jobs": Int(min=1, max=256, runtime=True, default=2, doc="films extracted in parallel (processes)"),
    "cache": Str(runtime=True, default="data/features/cache",
                 doc="per-film feature cache folder (keyed on content, params and code; a tool cache, not a DVC output)"),
    "audio": Str(choices=("track", "film"), default="track",
                 doc="where audio sets read a cue: its soundtrack track at the matched offset and speed (the music "
                     "alone), or the film's mix at the cue's times (the paper: dialogue and effects included); "
                     "visual features always read the film (docs/features.md)"),
    "mir": {
        "sample_rate": Int(min=8000, max=48000, default=22050, doc="analysis rate, Hz; cue audio is decoded (resampled) to it"),
        "frame_size": Int(min=256, max=8192, default=1024, doc="short frames (samples): RMS, ZCR, MFCC, spectral shape"),
        "hop_size": Int(min=64, max=8192, default=512),
        "tonal_frame_size": Int(min=1024, max=32768, default=4096, doc="tonal frames (samples): chroma, roughness, inharmonicity"),
        "tonal_hop_size": Int(min=256, max=32768, default=2048),
        "texture_window": Float(min=0.5, max=60, default=5.0, doc="texture window, s (paper: 5)"),
        "texture_hop": Float(min=0.1, max=60, default=3.35, doc="texture hop, s (paper: 33 % overlap of 5 s = 3.35)"),
        "texture_align": Str(choices=("nearest", "centred"),
                             default="nearest", doc="1 Hz frames take the nearest texture window, or one window is centred on each"),
        "key_frame": Float(min=0.1, max=30, default=1.0, doc="chroma averaged over this many s for key strength and mode"),
        "key_hop": Float(min=0.05, max=30, default=0.5),
        "rhythm_frame": Float(min=1, max=30, default=3.0, doc="onset-curve frame for tempo and pulse clarity, s"),
        "rhythm_hop": Float(min=0.05, max=30, default=0.5),
        "tempo_range": List(Float(min=10, max=600), min_len=2, default=[40, 200], doc="[slowest, fastest] tempo searched, BPM"),
        "brightness_cutoff": Float(min=100, max=20000, default=1500, doc="spectral brightness: energy share above this, Hz"),
        "silence_db": Float(min=-160, max=0, default=-80, doc="frames quieter than this (dBFS RMS) have no spectral shape"),
    },
    "visual": {
        "size": List(Int(min=8, max=3840), min_len=2, default=[160, 90], doc="[width, height] frames are scaled to before analysis"),
        "samples_per_second": Int(min=1, max=60, default=1, doc="pictures averaged per second of film"),
        "region_cut": Str(choices=("otsu", "mean"), default="otsu", doc="how the bright and dark regions of contrast are cut"),
        "batch_frames": Int(min=1, max=4096, runtime=True, default=64, doc="frames decoded per batch (bounds memory)"),
    },
}

# Neural audio embeddings (filmscore.features.vggish / .openl3 / .musicnn): merged by the
# features section as features.vggish, features.openl3 and features.musicnn. Weight files are
# looked up relative to the repository root; see docs/weights.md.
_DEVICE_DOC = "cpu, auto (the first CUDA GPU if any, else cpu), cuda or cuda:N"
EMBED_SCHEMA = {
    "vggish": {
        "weights": Str(default="models/vggish-10086976.pth", doc="VGGish state_dict: torchvggish's vggish-10086976.pth, or the TF checkpoint converted "
                           "with `filmscore weights convert-vggish`"),
        "pca_params": Str(default="models/vggish_pca_params-970ea276.pth", doc="PCA params: torchvggish's vggish_pca_params-970ea276.pth or the TF release's "
                              "vggish_pca_params.npz (read only with postprocess: true)"),
        "postprocess": Bool(default=True, doc="PCA + clip + 8-bit quantisation as the released AudioSet embeddings (the paper); "
                                "false: the raw 128-d output"),
        "device": Str(runtime=True, default="cpu", doc=_DEVICE_DOC),
        "batch_size": Int(min=1, max=4096, runtime=True, default=64, doc="0.96 s examples per forward pass"),
        "threads": Int(min=0, max=256, runtime=True, default=1, doc="torch threads per process (0: torch's default); 1 when films run in parallel"),
    },
    "openl3": {
        "weights": Str(default="models/openl3_audio_mel256_music.h5", doc="official Keras weights, e.g. openl3_audio_mel256_music.h5"),
        "input_repr": Str(choices=["mel256", "mel128"], default="mel256", doc="the model's input spectrogram; must match the weight file"),
        "embedding_size": Int(choices=(512, 6144), default=512, doc="512 (the final max-pool spans the whole map) or 6144"),
        "device": Str(runtime=True, default="cpu", doc=_DEVICE_DOC),
        "batch_size": Int(min=1, max=1024, runtime=True, default=16, doc="1 s windows per forward pass"),
        "threads": Int(min=0, max=256, runtime=True, default=1, doc="torch threads per process (0: torch's default); 1 when films run in parallel"),
    },
}

EMBED_SCHEMA["musicnn"] = {
    "weights": Str(default="models/musicnn", doc="folder of the musicnn .npz weights (<model>.npz), written by "
                   "`filmscore weights fetch-musicnn` from the musicnn 0.1.0 wheel (make demo runs it)"),
    "model": Str(choices=("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"), default="MSD_musicnn",
                 doc="pretrained tagger: musicnn or VGG, trained on the Million Song Dataset (MSD) or MagnaTagATune (MTT)"),
    "output": Str(choices=("penultimate", "taggram", "both"), default="penultimate",
                  doc="columns: the layer before the tags (musicnn: 200 units; VGG: 256), the 50 tag probabilities "
                      "(taggram: the tag groups of the importance analysis), or both"),
    "device": Str(runtime=True, default="cpu", doc=_DEVICE_DOC),
    "batch_size": Int(min=1, max=1024, runtime=True, default=4,
                      doc="3 s patches per forward pass (small batches keep the convolutions in the CPU cache)"),
    "threads": Int(min=0, max=256, runtime=True, default=1, doc="torch threads per process (0: torch's default); 1 when films run in parallel"),
}

FEATURES["vggish"] = EMBED_SCHEMA["vggish"]
FEATURES["openl3"] = EMBED_SCHEMA["openl3"]
FEATURES["musicnn"] = EMBED_SCHEMA["musicnn"]

RUN = {
    # Where per-film work runs (filmscore.parallel.map_films). It never changes a
    # result, so stages do not list this section under `params:` in dvc.yaml:
    # switching to a cluster does not re-run anything.
    "scheduler": Str(nullable=True, runtime=True, default=None, doc="Dask scheduler address tcp://HOST:PORT or scheduler-file JSON path; null: local processes"),
    "jobs": Int(min=1, max=256, runtime=True, default=2, doc="local worker processes for per-film work when scheduler is null (1: in-process)"),
    "wait_s": Float(min=1, max=3600, runtime=True, default=60, doc="seconds to wait for the scheduler to answer and a first worker to join"),
}

#: units of the cross-modal test (filmscore.reports.crossmodal reads them here)
CROSSMODAL_UNITS = ("film", "mixed", "clip")

REPORTS = {
    "importance": {
        # the model cell data/models/<features>-<level>-<pool>-<hidden> whose fold models are permuted
        "features": Str(choices=FEATURE_SETS,
                        default="mir", doc="feature set of the analysed model; needs feature groups: mir (the paper's eight) or "
                        "musicnn with features.musicnn.output: taggram (tag groups Genre, Mood, Instrument, Era, Voice)"),
        "level": Str(choices=("cue", "frame"), default="cue", doc="bag level of the analysed model (the paper: cue)"),
        "pool": Str(default="avg", doc="pooling of the analysed model (the paper: avg)"),
        "hidden": Int(min=1, default=64, doc="hidden units of the analysed model (the paper: 64)"),
        "n_repeats": Int(min=1, max=10000, default=100, doc="permutations per feature group (the paper: 100)"),
        "seed": Int(min=0, default=0, doc="seed of the permutations"),
        "confidence": Float(min=0.5, max=0.999, default=0.95, doc="level of the importance interval (films + permutations, or permutations only)"),
        "bootstrap": Int(min=0, max=100000, default=1000,
                         doc="resamples of the bootstrap over films and repeats behind the importance interval "
                             "(0: the interval covers the permutations only)"),
    },
    "crossmodal": {
        "alpha": Float(min=1e-6, max=0.5, default=0.01, doc="family-wise significance level (Bonferroni over the genres)"),
        "min_clips": Int(min=2, max=10000, default=5, doc="a genre is testable with at least this many clips on each side"),
        "min_films": Int(min=1, max=10000, default=2, doc="... and at least this many films on each side"),
        "unit": Str(CROSSMODAL_UNITS, default="film",
                    doc="unit of the test: film (one median per film, Mann-Whitney), mixed (every clip, random "
                        "intercept per film) or clip (the paper's: clips as independent samples, p-values too small)"),
    },
    "timeline": {
        "films_per_page": Int(min=1, max=500, default=40, doc="films per cue-timeline figure"),
    },
}

# -- genre models (filmscore.mil): the Table 4 grid, the headline model, training, evaluation
from .mil.names import ATTENTION_NORMS as _ATT, BASES as _BASES, CLASSICAL as _CLASSICAL  # noqa: E402
from .mil.names import FEATURE_SETS as _SETS, LEVELS as _LEVELS, POOLS as _POOLS, PRECISIONS  # noqa: E402
from .mil.names import SCHEDULES  # noqa: E402

MODEL = {
    "set": Str(_SETS, default="mir", doc="feature set of the headline model (later analyses use it); must be in grid.sets"),
    "level": Str(_LEVELS, default="cue", doc="instance level of the headline model: cue or frame; must be in grid.levels"),
    "pool": Str(_POOLS, default="avg", doc="pooling of the headline model; must be in grid.pools"),
    "hidden": Int(min=1, max=4096, default=64, doc="hidden units of the headline model; must be in grid.hidden"),
}

GRID = {
    "sets": List(Str(_SETS), min_len=1, unique=True, default=["musicnn", "mir"],
                 doc="feature sets of Table 4 (musicnn: the learned embedding every user can run; vggish/openl3 "
                     "when their weights are present)"),
    "levels": List(Str(_LEVELS), min_len=1, unique=True, default=["cue"], doc="instance levels (cue: frames averaged per cue)"),
    "pools": List(Str(_POOLS), min_len=1, unique=True, default=["max", "avg", "linear_softmax", "single_attention", "multi_attention", "feature_attention"], doc="neural pooling types"),
    "hidden": List(Int(min=1, max=4096), min_len=1, unique=True, default=[64], doc="hidden units per embedding layer"),
    "classical": List(Str(_CLASSICAL), min_len=1, unique=True, default=["simplemi", "imv"], doc="classical MIL methods (binary relevance)"),
    "bases": List(Str(_BASES), min_len=1, unique=True, default=["knn", "svm"], doc="base classifiers of the classical methods"),
}

CV = {
    "folds": Int(min=0, max=100000, default=0, doc="0: leave-one-out over the films (the paper); k >= 2: k shuffled folds"),
    "seed": Int(min=0, default=0, doc="shuffling of k-fold assignments (unused for leave-one-out)"),
}

TRAIN = {
    "schedule": Str(SCHEDULES, default="nested",
                    doc="training length: paper (train.epochs, the paper's fixed budget), steps (train.steps optimiser "
                        "steps whatever the corpus size) or nested (epochs among train.nested_epochs chosen by an "
                        "inner cross-validation inside each training fold)"),
    "epochs": Int(min=1, max=100000, default=200, doc="training epochs under schedule paper (paper: 200)"),
    "steps": Int(min=1, max=10000000, default=1400,
                 doc="optimiser steps per model under schedule steps (1400: the paper's 200 epochs on its 110 films)"),
    "nested_epochs": List(Int(min=1, max=100000), min_len=1, unique=True, default=[50, 100, 200, 400],
                          doc="candidate epochs under schedule nested"),
    "inner_folds": Int(min=2, max=100, default=3, doc="inner cross-validation folds under schedule nested"),
    "lr": Float(min=1e-8, max=1.0, default=5e-05, doc="Adam learning rate (paper: 5e-5)"),
    "batch_size": Int(min=1, max=100000, default=16, doc="bags per batch (paper: 16)"),
    "layers": Int(min=1, max=16, default=3, doc="dense embedding layers before pooling (paper: 3)"),
    "attention": Str(_ATT, default="sigmoid", doc="attention normalisation: sigmoid (Kong et al. 2019) or softmax (Ilse et al. 2018)"),
    "attend_layers": List(Int(min=1, max=16), min_len=1, unique=True,
                          default=[2, 3], doc="embedding layers (1-based) attended by multi_attention"),
    "dropout": Float(min=0.0, max=0.95, default=0.0, doc="dropout after each embedding layer (paper: none)"),
    "loss_weights": Str(("balanced", "none"), default="balanced", doc="per-genre positive/negative weights of the BCE loss"),
    "threshold": Float(min=0.001, max=0.999, default=0.5, doc="a genre is predicted when its probability is >= threshold (paper: 0.5)"),
    "seed": Int(min=0, default=0, doc="initial weights and batch order"),
    "precision": Str(PRECISIONS, default="32-true", doc="32-true (float32) or bf16-mixed (bfloat16 instance activations, float32 weights and loss)"),
    "fold_batching": Bool(default=True, doc="train all cross-validation folds as one batched model (same models, much faster)"),
    "jobs": Int(min=0, max=256, runtime=True, default=0, doc="processes sharing the folds (0: one per CPU core; the models do not depend on it)"),
}

CLASSICAL = {
    "knn_k": Int(min=1, max=1000, default=5, doc="neighbours of the kNN base classifier"),
    "svm_c": Float(min=1e-6, max=1e6, default=1.0, doc="C of the SVM base classifier"),
    "svm_kernel": Str(("rbf", "linear", "poly", "sigmoid"), default="rbf", doc="SVM kernel (gamma: 'scale')"),
    "rf_trees": Int(min=1, max=10000, default=100, doc="trees of the random-forest base classifier"),
    "logreg_c": Float(min=1e-6, max=1e6, default=1.0,
                      doc="inverse L2 strength of the logistic-regression base (standardised, class-balanced)"),
    "seed": Int(min=0, default=0, doc="random forest seed"),
    "jobs": Int(min=0, max=256, runtime=True, default=0, doc="processes sharing the folds (0: one per CPU core)"),
}

EVALUATE = {
    "random_draws": Int(min=1, max=1000000, default=1000, doc="draws averaged for the random-guess baseline"),
    "ttest_over": Str(("genres", "films"), default="genres", doc="pairs of the t-test against random: per-genre APs or per-film APs"),
    "alpha": Float(min=1e-9, max=0.5, default=0.01,
                   doc="level of the t-test (paper: 0.01) and of the bootstrap tests that mark a difference distinguishable"),
    "seed": Int(min=0, default=0, doc="random-guess draws and the bootstrap's resampled films"),
    "bootstrap": Int(min=1, max=1000000, default=1000,
                     doc="resamples of the films for Table 4's intervals and paired tests (fewer than 10 films: "
                         "intervals unavailable)"),
    "confidence": Float(min=0.5, max=0.999, default=0.95, doc="level of the bootstrap intervals"),
    "interval": Str(("percentile", "bca"), default="bca",
                    doc="bootstrap interval: BCa (bias-corrected and accelerated; Efron & Tibshirani 1993; closer to "
                        "nominal coverage for mAP, bench/ap_coverage.py) or percentile"),
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
        for sec in ("bands", "verify", "fine"):
            if c[sec]["fmin"] >= c[sec]["fmax"]:
                out.append(Problem(f"params.yaml: cues.{sec}.fmin", "is not below fmax", "make fmin < fmax"))
            if c[sec]["fmax"] > c["sample_rate"] / 2:
                out.append(Problem(f"params.yaml: cues.{sec}.fmax", f"is above half of cues.sample_rate ({c['sample_rate'] / 2:g} Hz)",
                                   "lower it or raise cues.sample_rate"))
        if c["bands"]["hop"] > c["bands"]["n_fft"]:
            out.append(Problem("params.yaml: cues.bands.hop", "is larger than cues.bands.n_fft", "make hop <= n_fft"))
        for sec in ("xcorr", "fine"):
            if c[sec]["hop_seconds"] > c[sec]["segment_seconds"]:
                out.append(Problem(f"params.yaml: cues.{sec}.hop_seconds", "is larger than segment_seconds",
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


def section_spec(path: str, schema: dict | None = None) -> Any:
    """The schema node at a dotted path ("features.mir", "cues.eval.iou"); "" is the whole schema."""
    node: Any = SCHEMA if schema is None else schema
    for part in filter(None, path.split(".")):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"no params key {path!r} in the schema (filmscore.config)")
        node = node[part]
    return node


def leaf_specs(schema: dict | None = None, prefix: str = "") -> dict[str, Spec]:
    """{dotted key: Spec} of every parameter (leaf) under `schema`."""
    out: dict[str, Spec] = {}
    for k, v in (SCHEMA if schema is None else schema).items():
        if isinstance(v, dict):
            out.update(leaf_specs(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def defaults(path: str = "") -> Any:
    """The declared default of a parameter, or the nested dict of defaults of a section (a fresh copy)."""
    node = section_spec(path)
    if isinstance(node, Spec):
        return copy.deepcopy(node.default)
    return {k: defaults(f"{path}.{k}" if path else k) for k in node}


def _typed(spec: Spec, value: Any) -> Any:
    """A default as a settings field holds it: floats as float, lists as tuples (hashable, immutable)."""
    if spec.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if spec.kind == "list" and isinstance(value, (list, tuple)):
        return tuple(_typed(spec.of, v) if spec.of is not None else v for v in value)
    return value


def schema_defaults(path: str):
    """Class decorator (apply below ``@dataclass``): each annotated field named like a parameter of
    section `path` takes that parameter's declared default, so a settings class never restates one.

    A field that is in the section and also gives its own default is an error (two declarations);
    fields that are sub-sections keep their ``field(default_factory=...)``."""
    section = section_spec(path)

    def wrap(cls):
        for name in cls.__dict__.get("__annotations__", {}):
            spec = section.get(name)
            if not isinstance(spec, Spec):
                continue
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__}.{name} restates the default of params key {path}.{name}: "
                                f"declare it only in filmscore.config")
            if spec.default is NO_DEFAULT:
                raise TypeError(f"params key {path}.{name} declares no default in filmscore.config")
            setattr(cls, name, _typed(spec, spec.default))
        return cls

    return wrap


def _missing_fix(key: str, spec: Any) -> str:
    """How to restore a missing key or section: its declared default, as YAML."""
    if isinstance(spec, Spec):
        if spec.default is NO_DEFAULT:
            return "add it (see the project's params.yaml)"
        return f"add it; its default is {key.rsplit('.', 1)[-1]}: {_yaml_flow(spec.default)}"
    return f"add the section; its defaults are {key.rsplit('.', 1)[-1]}: {_yaml_flow(defaults(key))}"


def _yaml_flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


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
                    probs.append(Problem(f"params.yaml: {prefix}{k}", "is missing", _missing_fix(f"{prefix}{k}", spec[k])))
        else:
            probs.extend(spec.check(prefix.rstrip("."), node))

    if not isinstance(params, dict):
        return [Problem("params.yaml", "is not a mapping of sections", "restore the project's params.yaml")]
    if sections is None:
        walk(params, schema, "")
    else:
        for s in sections:
            if s not in params:
                probs.append(Problem(f"params.yaml: {s}", "section is missing", _missing_fix(s, schema[s])))
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


def unread_problems(params: dict, dvc_file: str | Path) -> list[Problem]:
    """A problem for each parameter in `params` that no stage of `dvc_file` lists: nothing reads it."""
    from .dvcdeps import load_dvc, unread_keys

    present = set(param_keys(params))
    return [Problem(f"params.yaml: {k}", f"is read by no stage ({dvc_file} lists it under no stage's params)",
                    "list it under the params of the stage that reads it, or remove it from params.yaml "
                    "and filmscore.config") for k in unread_keys(load_dvc(dvc_file)) if k in present]


def param_keys(params: dict, prefix: str = "") -> list[str]:
    """The dotted keys of the leaves of a params dict."""
    out: list[str] = []
    for k, v in params.items():
        if isinstance(v, dict):
            out += param_keys(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}")
    return out


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


__all__ = ["load_params", "validate", "genres", "result_params", "settings_from_section", "defaults", "leaf_specs",
           "schema_defaults", "section_spec", "SCHEMA", "Spec", "NO_DEFAULT", "GENRES_DEFAULT"]
