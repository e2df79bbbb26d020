"""Score Stamper: find where a film uses its soundtrack's tracks (cues).

`stamp_film` (one film), `stamp_corpus` (every film of a corpus, cached by
content hash), `evaluate` (against cues_truth/). Mode `chromaprint` is the
matcher of `match.py`; mode `windows` reproduces the paper's 5 s windows.
"""

from .settings import StampSettings
from .stamp import CUE_COLUMNS, empty_cues, stamp_film

__all__ = ["StampSettings", "stamp_film", "empty_cues", "CUE_COLUMNS"]
