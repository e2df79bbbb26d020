"""Score Stamper: find where a film uses its soundtrack's tracks (cues).

`stamp_film` (one film), `stamp_corpus` (every film of a corpus, cached by
content hash), `evaluate` (against cues_truth/). Mode `chromaprint` is the
matcher of `match.py`; mode `windows` reproduces the paper's 5 s windows.

Names are imported lazily: importing one module of the package (``prints``)
does not import the matcher, so the import closure that keys the track-print
cache (`filmscore.cues.cache`) holds only the code that computes prints.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"StampSettings": "settings", "stamp_film": "stamp", "empty_cues": "stamp", "CUE_COLUMNS": "stamp"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
