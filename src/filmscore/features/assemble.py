"""Table assembly: one set's bags (data/features/<set>/) from its per-film cache entries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..files import atomic_dir, write_json
from . import bags
from .bags import cue_table, empty_frames
from .cache import Entry


def assemble_set(out_dir: str | Path, name: str, entries: list[Entry], cues: pd.DataFrame, columns: list[str],
                 extra: dict | None = None) -> dict:
    """Write ``<out_dir>/<name>/`` (frames, cues, status) from the cached per-film tables, one film at a time.

    `extra` is added to the status (audio sets: ``{"audio": "track" | "film"}``, where their audio was read).

    Frames are streamed into one parquet file film by film, so memory holds one
    film's table at a time; the folder appears whole or not at all. Returns the status.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    warnings: list[str] = []
    cue_parts: list[pd.DataFrame] = []
    n_rows = 0
    target = Path(out_dir) / name
    with atomic_dir(target) as tmp:
        writer = None
        schema = None
        for entry in entries:
            frames, warns = entry.read()
            warnings += warns
            if frames.empty:
                continue
            if not columns:
                columns = bags.feature_columns(frames)
            table = pa.Table.from_pandas(frames[list(bags.FRAME_KEYS) + columns], preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(tmp / "frames.parquet", schema)
            writer.write_table(table.cast(schema))
            n_rows += len(frames)
            cue_parts.append(cue_table(frames, cues[cues["film_id"] == entry.film_id]))
        if writer is None:
            empty_frames(columns).to_parquet(tmp / "frames.parquet", index=False)
        else:
            writer.close()
        cue_level = pd.concat(cue_parts, ignore_index=True) if cue_parts else cue_table(empty_frames(columns), cues)
        cue_level.to_parquet(tmp / "cues.parquet", index=False)
        status = {"status": "ok", "films": len({e.film_id for e in entries}), "films_with_frames": len(cue_parts),
                  "cues": len(cue_level), "frames": n_rows, "features": len(columns), **(extra or {}),
                  "warnings": warnings}
        write_json(tmp / "status.json", status)
    return status


__all__ = ["assemble_set"]
