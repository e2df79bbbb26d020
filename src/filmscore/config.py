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
    "jobs": Int(min=1, max=256, doc="files checked in parallel"),
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
    "sample_rate": Int(min=8000, max=48000),
    "video": Bool(doc="write H.264 MP4 films (false: audio-only films)"),
    "video_size": List(Int(min=16, max=1920), min_len=2, doc="[width, height]"),
    "video_fps": Int(min=1, max=60),
    "jobs": Int(min=1, max=256),
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

SCHEMA: dict[str, Any] = {
    "corpus": CORPUS,
    "demo": DEMO,
    "reports": REPORTS,
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


def genres(params: dict) -> list[str]:
    """The genre set of this run."""
    return list(params["corpus"]["genres"])


__all__ = ["load_params", "validate", "genres", "SCHEMA", "Spec", "GENRES_DEFAULT"]
