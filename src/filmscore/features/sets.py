"""The feature-set registry: the one list of the feature sets the `features` stage can extract.

Every other list of sets is derived from `REGISTRY`: the params schema
(``features.sets``, ``model.set``, ``grid.sets``), the MIL names, the order in
which the stage writes ``data/features/<set>/``, and the per-set cache keys.
Adding a feature set is one `FeatureSet` entry here plus its own module, whose
extractor class follows the interface below; its parameters are the section
``features.<name>`` of params.yaml (declared in `filmscore.config`).

Extractor interface (what `filmscore.features.film` calls):

- ``Class.from_params(section: dict)``: build from the set's params section;
  may raise `filmscore.features.weights.WeightsMissing` (the set is then
  written as skipped and the others run);
- audio sets: a ``sample_rate`` attribute (Hz; the cue audio is decoded, mono,
  at that rate) and ``embed(audio, sr) -> (frames, features)`` giving one row
  per second of audio;
- video sets: ``film(path, times) -> (values, ok)``, the features at each film
  time and whether the video had a picture there, and a ``columns`` list;
- optionally ``columns`` (feature column names; default ``<set>_000``, ...).

This module imports nothing from the project, so the params schema can import
it; the extractor modules are named by string and imported only when a set
runs (`load`). Their source, with everything they import (`computation`), is
hashed into the per-film cache keys (`filmscore.features.cache`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureSet:
    """One feature set: where its extractor lives and what it needs."""

    name: str  #: folder name data/features/<name>/ and params section features.<name>
    module: str  #: module defining the extractor class
    cls: str  #: the extractor class in `module`
    libraries: tuple[str, ...]  #: third-party distributions its results depend on (versions enter cache keys)
    audio: bool  #: True: computed from each cue's audio; False: from the film's pictures
    #: modules missing from a minimal installation that make the set skipped rather than an error
    optional_imports: tuple[str, ...] = ()
    #: how reports name the set
    label: str = ""
    #: the paper's feature set whose published Table 4 numbers are shown beside this set's rows
    #: (musicnn: the paper's learned embedding, VGGish); None: the paper has no such rows
    paper_set: str | None = None

    def load(self) -> type:
        """The extractor class (imports its module)."""
        return getattr(importlib.import_module(self.module), self.cls)

    def computation(self) -> tuple[str, ...]:
        """The project modules whose import closure computes one film of this set (for cache keys)."""
        return (self.module, PER_FILM_MODULE)


#: The module that computes one (set, film) result from an extractor (decoding, the 1 Hz grid).
PER_FILM_MODULE = "filmscore.features.film"

REGISTRY: tuple[FeatureSet, ...] = (
    FeatureSet("mir", "filmscore.features.mir", "MIR", ("essentia", "numpy"), audio=True,
               label="MIR", paper_set="mir"),
    FeatureSet("musicnn", "filmscore.features.musicnn", "Musicnn", ("torch", "numpy", "scipy"), audio=True,
               optional_imports=("torch",), label="musicnn (learned embedding; paper: VGGish)", paper_set="vggish"),
    FeatureSet("vggish", "filmscore.features.vggish", "VGGish", ("torch", "numpy", "scipy"), audio=True,
               optional_imports=("torch", "h5py"), label="VGGish", paper_set="vggish"),
    FeatureSet("openl3", "filmscore.features.openl3", "OpenL3", ("torch", "numpy", "scipy", "h5py"), audio=True,
               optional_imports=("torch", "h5py"), label="OpenL3"),
    FeatureSet("visual", "filmscore.features.visual", "Visual", ("decord", "numpy"), audio=False, label="visual"),
)

#: the set names, in the order the stage writes them
NAMES: tuple[str, ...] = tuple(s.name for s in REGISTRY)
#: the sets computed from audio
AUDIO: tuple[str, ...] = tuple(s.name for s in REGISTRY if s.audio)
_BY_NAME = {s.name: s for s in REGISTRY}


def get(name: str) -> FeatureSet:
    """The registry entry of set `name` (KeyError naming the known sets otherwise)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown feature set {name!r}; known: {', '.join(NAMES)}") from None


def label(name: str) -> str:
    """How reports name a feature set (its registry label; the name itself for anything else)."""
    return _BY_NAME[name].label or name if name in _BY_NAME else name


def paper_set(name: str) -> str | None:
    """The paper's set whose Table 4 numbers stand beside this set's rows (the name itself for 'none')."""
    return _BY_NAME[name].paper_set if name in _BY_NAME else name


def modules() -> tuple[str, ...]:
    """Every extractor module of the registry (the `features` stage imports them by name)."""
    return tuple(s.module for s in REGISTRY)


__all__ = ["FeatureSet", "REGISTRY", "NAMES", "AUDIO", "PER_FILM_MODULE", "get", "label", "paper_set", "modules"]
