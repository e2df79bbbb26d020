"""Content-addressed cache of track prints and of per-film cue tables.

Layout (`cues.cache`, by default `data/cues_cache/`: a tool cache beside the
pipeline, not a DVC output; docs/lab.md)::

    tracks/<sha[:2]>/<sha>-<settings>.npz   prints of one track at one searched speed
    tracks/<sha[:2]>/<sha>-<settings>.npy   its PCM (int16 mid/side at the matcher rate, about
                                            160 MB per hour of stereo soundtrack), read by the
                                            phase check through a memory map (`audio`: optional)
    films/<sha[:2]>/<key>.parquet           cues of one film for one soundtrack and settings

Keys are content hashes (SHA-256 of the file) combined with a digest of the
settings that shape the stored data (result parameters only: ``jobs``, the
cache folder and ``cues.eval`` are not settings of the matcher) and with
`code_version`: the source of every project module that computes the entry
(its import closure, `filmscore.provenance`: `PRINTS_CODE` for track prints and
PCM, `CUES_CODE`, the whole matcher, for a film's cues) and the versions of the
libraries and of libchromaprint. Editing any of those modules, or upgrading a
library, is a cache miss; no version number is bumped by hand. Renaming or
moving a file costs nothing, adding one film to a corpus computes only that
film, and a stale entry is never read. Entries are written atomically; a
corrupt entry is recomputed, never trusted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_path, file_hash
from ..provenance import ROOTS, library_versions, source_digest

log = logging.getLogger(__name__)

#: the modules computing a track's prints and PCM (their import closure is hashed into those keys)
PRINTS_CODE = ("filmscore.cues.prints", __name__)
#: the modules computing a film's cue table: the whole matcher
CUES_CODE = ("filmscore.cues.stamp", __name__)
#: third-party distributions whose versions enter every key (libchromaprint's own version too)
LIBRARIES = ("numpy", "scipy", "pandas", "pyarrow")


def code_version(modules: tuple[str, ...], roots: tuple[Path, ...] = ROOTS) -> str:
    """A digest of the code behind an entry: the import closure of `modules` and the library versions."""
    from .libchromaprint import version

    blob = json.dumps({"code": source_digest(modules, roots=roots), "libs": library_versions(LIBRARIES),
                       "libchromaprint": version()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def current_code_version(modules: tuple[str, ...]) -> str:
    """`code_version` of the code this process runs (computed once: the modules loaded do not change)."""
    return code_version(modules)


class PrintCache:
    """The cache folder (`root`), or a disabled cache (None). `audio`: keep tracks' PCM too."""

    def __init__(self, root: str | Path | None, audio: bool = True):
        self.root = Path(root) if root else None
        self.audio = audio

    @property
    def enabled(self) -> bool:
        return self.root is not None

    @property
    def audio_enabled(self) -> bool:
        return self.root is not None and self.audio

    def _audio_path(self, sha: str, tag: str) -> Path:
        assert self.root is not None
        return self.root / "tracks" / sha[:2] / f"{sha}-{tag}.npy"

    def load_track_audio(self, sha: str, tag: str):
        """The cached int16 (n, 1 or 2) PCM of a track as a `PcmFile` (read by spans), or None."""
        from .prints import PcmFile

        if not self.audio_enabled:
            return None
        p = self._audio_path(sha, tag)
        if not p.is_file():
            return None
        try:
            return PcmFile(p)
        except Exception as e:  # a torn or foreign file: recompute
            log.warning("%s: unreadable cache entry (%s), recomputing", p, e)
            return None

    def save_track_audio(self, sha: str, tag: str, data: np.ndarray) -> None:
        if not self.audio_enabled:
            return
        p = self._audio_path(sha, tag)
        with atomic_path(p, suffix=".npy") as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(data, dtype=np.int16))

    def _track_path(self, sha: str, tag: str) -> Path:
        assert self.root is not None
        return self.root / "tracks" / sha[:2] / f"{sha}-{tag}.npz"

    def load_track(self, sha: str, tag: str) -> dict | None:
        if not self.enabled:
            return None
        p = self._track_path(sha, tag)
        if not p.is_file():
            return None
        try:
            with np.load(p) as z:
                return {k: z[k] for k in z.files}
        except Exception as e:  # a torn or foreign file: recompute
            log.warning("%s: unreadable cache entry (%s), recomputing", p, e)
            return None

    def save_track(self, sha: str, tag: str, arrays: dict) -> None:
        if not self.enabled:
            return
        p = self._track_path(sha, tag)
        with atomic_path(p, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

    def _film_path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / "films" / key[:2] / f"{key}.parquet"

    def load_film(self, key: str) -> pd.DataFrame | None:
        if not self.enabled:
            return None
        p = self._film_path(key)
        if not p.is_file():
            return None
        try:
            return pd.read_parquet(p)
        except Exception as e:
            log.warning("%s: unreadable cache entry (%s), recomputing", p, e)
            return None

    def save_film(self, key: str, df: pd.DataFrame) -> None:
        if not self.enabled:
            return
        p = self._film_path(key)
        with atomic_path(p) as tmp:
            df.to_parquet(tmp, index=False)


def content_hash(path: str | Path, known: dict[str, str] | None = None) -> str:
    """SHA-256 of a file, taken from `known` (e.g. the manifest) when it is there."""
    key = str(Path(path))
    if known and key in known:
        return known[key]
    return file_hash(path)
