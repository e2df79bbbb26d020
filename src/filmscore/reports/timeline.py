"""Per-film cue timeline: which soundtrack tracks play where.

One row per film (every film of the manifest, so a film where nothing was found
shows as an empty row), a coloured span per cue, one colour per track within
the film. Where ground truth exists (cues_truth/<film_id>.csv) the true cues are
drawn as a lower, lighter band in the same track colours, so misses and false
finds show at a glance. Pages of `films_per_page` films keep the figures legible
for large corpora.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def read_truth(folder: str | Path, film_ids: list[str]) -> dict[str, pd.DataFrame]:
    """Ground-truth cues of the films that have them (`folder`/<film_id>.csv, a corpus's cues_truth/)."""
    folder = Path(folder)
    out = {}
    if not folder.is_dir():
        return out
    for fid in film_ids:
        p = folder / f"{fid}.csv"
        if p.is_file():
            df = pd.read_csv(p)
            df["track"] = df["track"].astype(str)
            out[fid] = df
    return out


def timeline_figures(cues: pd.DataFrame, durations: pd.Series, truth: dict[str, pd.DataFrame] | None = None,
                     films_per_page: int = 40) -> list:
    """Matplotlib figures, one per page of films (durations: film_id -> seconds, in row order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    truth = truth or {}
    films = list(durations.index)
    pages = [films[i:i + films_per_page] for i in range(0, len(films), films_per_page)] or [[]]
    cmap = plt.get_cmap("tab20")
    by_film = {fid: g for fid, g in cues.groupby("film_id")} if len(cues) else {}
    has_truth = bool(truth)
    figs = []
    for pi, page in enumerate(pages):
        height = 1.2 + 0.42 * max(1, len(page)) * (1.35 if has_truth else 1.0)
        fig, ax = plt.subplots(figsize=(11, height))
        xmax = float(max([durations.get(f, 0.0) for f in page] + [1.0]))
        for row, fid in enumerate(page):
            y = len(page) - 1 - row
            found = by_film.get(fid, pd.DataFrame(columns=["track", "start", "end"]))
            true = truth.get(fid)
            tracks = sorted(set(found["track"].astype(str)) | (set(true["track"]) if true is not None else set()))
            color = {t: cmap(i % 20) for i, t in enumerate(tracks)}
            ax.barh(y, durations.get(fid, 0.0), left=0, height=0.9, color="0.95", edgecolor="0.85", lw=0.5)
            center, h = (y + 0.23, 0.42) if true is not None else (y, 0.6)
            for r in found.itertuples(index=False):
                ax.barh(center, r.end - r.start, left=r.start, height=h, color=color[str(r.track)],
                        edgecolor="black", lw=0.3)
                if (r.end - r.start) > 0.06 * xmax:
                    ax.text((r.start + r.end) / 2, center, str(r.track)[:18], ha="center", va="center", fontsize=6)
            if true is not None:
                for r in true.itertuples(index=False):
                    ax.barh(y - 0.22, r.end - r.start, left=r.start, height=0.36, color=color[str(r.track)],
                            alpha=0.45, edgecolor="0.3", lw=0.3, hatch="////")
        ax.set_yticks(range(len(page)), list(reversed(page)), fontsize=7)
        ax.set_ylim(-0.6, max(1, len(page)) - 0.4)
        ax.set_xlim(0, xmax * 1.01)
        ax.set_xlabel("film time (s)")
        title = "Cue timeline: which soundtrack track plays where (colour = track within each film)"
        if len(pages) > 1:
            title += f", page {pi + 1}/{len(pages)}"
        ax.set_title(title, fontsize=9)
        if has_truth:
            ax.legend(handles=[Patch(facecolor="0.6", edgecolor="black", label="found cues (upper band)"),
                               Patch(facecolor="0.6", alpha=0.45, hatch="////", label="true cues (lower band)")],
                      fontsize=7, loc="upper right", bbox_to_anchor=(1, 1.0 + 0.6 / height), ncol=2, frameon=False)
        fig.tight_layout()
        figs.append(fig)
    return figs
