"""The per-film feature cache: one (set, film) result per entry, keyed on everything that produced it.

An entry is ``<cache_dir>/<set>/<film_id>/<key>.parquet`` (the film's frame
table) and ``<key>.json`` (its warnings, row count and the parquet file's
SHA-256), the JSON written last. The key is the SHA-256 of:

- what the set reads of the film (`filmscore.features.source.audio_inputs`): the
  film file's content hash and the film's cue rows (cue_id, start, end) for
  video sets and ``features.audio: film``; each cue's track content hash,
  offset, speed and times, and the film's duration, for ``features.audio: track``;
- the set's *result* parameters (`filmscore.config.result_params`: the
  section without its runtime keys, so ``jobs``, ``threads``, ``device`` or
  ``batch_size`` never change a key) and the content of any file they name
  (weights);
- `filmscore.provenance.source_digest` of the set's computation
  (`FeatureSet.computation`: its extractor module and the per-film module) and
  of this module, i.e. the source of every project module they import,
  directly or lazily: editing any of them is a miss;
- the versions of the libraries the set names in the registry.

So an entry written by other code, other settings or another library version
is never read: it has another key. An entry whose JSON is missing or
unreadable, or whose parquet file does not match the hash the JSON records (a
torn or truncated write, a partial copy), is reported and recomputed. Entries
are never deleted by the pipeline apart from such broken ones; delete the
folder to reclaim space.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..config import SCHEMA, result_params
from ..files import atomic_path, file_hash, write_json
from ..provenance import ROOTS, library_versions, source_digest
from .sets import FeatureSet

log = logging.getLogger(__name__)


def param_files(section: dict) -> dict[str, str]:
    """Hashes of the files a params section names (weights): their content is part of the result.
    A folder (musicnn's weights) counts with every file directly in it."""
    out = {}
    for k, v in sorted(section.items()):
        if isinstance(v, str) and v and Path(v).is_file():
            out[k] = file_hash(v)
        elif isinstance(v, str) and v and Path(v).is_dir():
            for f in sorted(p for p in Path(v).iterdir() if p.is_file()):
                out[f"{k}/{f.name}"] = file_hash(f)
    return out


def code_digest(feature_set: FeatureSet, roots: tuple[Path, ...] = ROOTS) -> str:
    """Digest of the source of every project module that computes (and stores) one film of the set."""
    return source_digest((*feature_set.computation(), __name__), roots=roots)


@dataclass(frozen=True)
class SetVersion:
    """Everything about a set, apart from the film, that its results depend on."""

    name: str
    digest: str

    @classmethod
    def of(cls, feature_set: FeatureSet, section: dict, roots: tuple[Path, ...] = ROOTS) -> "SetVersion":
        spec = SCHEMA["features"].get(feature_set.name, {})
        blob = json.dumps({"set": feature_set.name, "params": result_params(spec, section),
                           "files": param_files(section), "code": code_digest(feature_set, roots),
                           "libs": library_versions(feature_set.libraries)},
                          sort_keys=True, default=str)
        return cls(feature_set.name, hashlib.sha256(blob.encode()).hexdigest())


def cache_key(version: SetVersion, inputs: dict) -> str:
    """The key of one film's entry: the set's version and what it reads (`source.audio_inputs`)."""
    blob = json.dumps({"set": version.digest, **inputs})
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Entry:
    """One cache entry's two files."""

    film_id: str
    parquet: Path
    sidecar: Path

    @classmethod
    def at(cls, cache_dir: str | Path, name: str, film_id: str, key: str) -> "Entry":
        folder = Path(cache_dir) / name / film_id
        return cls(film_id, folder / f"{key}.parquet", folder / f"{key}.json")

    def exists(self) -> bool:
        """Both files are there (what a parallel run checks before doing a film again)."""
        return self.parquet.is_file() and self.sidecar.is_file()

    def problem(self) -> str | None:
        """Why the entry cannot be used (None when it is complete and intact)."""
        if not self.sidecar.is_file():
            return None if not self.parquet.is_file() else "its .json is missing (the write did not finish)"
        try:
            meta = json.loads(self.sidecar.read_text(encoding="utf-8"))
            recorded = meta["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            return "its .json is unreadable or incomplete"
        if not self.parquet.is_file():
            return "its .parquet file is missing"
        if file_hash(self.parquet) != recorded:
            return "its .parquet file does not match the hash recorded in its .json (torn or truncated)"
        return None

    def usable(self) -> bool:
        """True when the entry is complete and intact; a broken entry is logged and removed (recomputed)."""
        why = self.problem()
        if why is None:
            return self.exists()
        log.warning("feature cache entry %s is broken (%s): recomputed", self.parquet, why)
        for f in (self.sidecar, self.parquet):
            f.unlink(missing_ok=True)
        return False

    def write(self, frames: pd.DataFrame, meta: dict) -> None:
        """Store a result: the parquet file first, then the JSON naming its hash (an entry is complete only then)."""
        with atomic_path(self.parquet) as tmp:
            frames.to_parquet(tmp, index=False)
        write_json(self.sidecar, {**meta, "rows": len(frames), "sha256": file_hash(self.parquet)})

    def read(self) -> tuple[pd.DataFrame, list[str]]:
        """The frame table and its warnings."""
        meta = json.loads(self.sidecar.read_text(encoding="utf-8"))
        return pd.read_parquet(self.parquet), list(meta["warnings"])


__all__ = ["SetVersion", "Entry", "cache_key", "code_digest", "param_files"]
