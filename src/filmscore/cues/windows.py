"""The paper's Score Stamper (mode `windows`): 5 s windows, hits merged into cues.

The film is cut into non-overlapping windows (`cues.windows.seconds`, 5 s in
the paper). For each window the fingerprinter names the track playing, if
any: here the track and offset with the most aligned Chromaprint items among
the window's items (the role Dejavu's aligned-hash count plays in the paper),
accepted from `min_votes` votes. Hits of the same track separated by at most
`max_gap` windows without a hit are merged into one cue that runs from the
start of its first window to the end of its last (the paper's Fig 1: a track
hit in two nearby windows gives a 15 s cue). Only speed 1 and the mid signal
are used, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .match import KeyIndex, sub_keys
from .prints import CHROMAPRINT_HOP, Prints
from .settings import StampSettings


@dataclass
class WindowHit:
    window: int
    track: int
    lag: float      # film time minus track time, seconds
    votes: int


def window_hits(film: Prints, tracks: list[Prints], s: StampSettings) -> list[WindowHit]:
    ffp = film.fp.get("mid")
    if ffp is None or not len(ffp):
        return []
    vals, gid, pos = [], [], []
    for g, t in enumerate(tracks):
        fp = t.fp.get("mid")
        if fp is not None and len(fp):
            vals.append(fp)
            gid.append(np.full(len(fp), g, np.int64))
            pos.append(np.arange(len(fp), dtype=np.int64))
    if not vals:
        return []
    index, gid, pos = KeyIndex(sub_keys(np.concatenate(vals), s.hash.key_bits)), np.concatenate(gid), np.concatenate(pos)
    per = max(1, int(round(s.windows.seconds / CHROMAPRINT_HOP)))
    n_windows = int(np.ceil(film.duration / s.windows.seconds))
    hits = []
    for w in range(n_windows):
        i0 = int(round(w * s.windows.seconds / CHROMAPRINT_HOP))
        i1 = min(len(ffp), i0 + per)
        if i1 <= i0:
            break
        qi, idx = index.query(sub_keys(ffp[i0:i1], s.hash.key_bits), s.hash.max_bucket)
        if not len(qi):
            continue
        fi = qi + i0
        key = gid[idx] * (1 << 32) + (fi - pos[idx] + (1 << 31))
        uk, c = np.unique(key, return_counts=True)
        j = int(np.argmax(c))
        if c[j] >= s.windows.min_votes:
            g = int(uk[j] >> 32)
            lag = int((uk[j] & ((1 << 32) - 1)) - (1 << 31)) * CHROMAPRINT_HOP
            hits.append(WindowHit(w, g, lag, int(c[j])))
    return hits


def merge_hits(hits: list[WindowHit], window_seconds: float, max_gap: int, film_duration: float) -> list[dict]:
    """Cues from window hits: same track, at most `max_gap` empty windows between hits."""
    cues: list[dict] = []
    open_: dict | None = None
    for h in sorted(hits, key=lambda h: h.window):
        if open_ is not None and h.track == open_["track"] and h.window - open_["last"] - 1 <= max_gap:
            open_["last"] = h.window
            open_["votes"].append(h.votes)
            continue
        if open_ is not None:
            cues.append(open_)
        open_ = {"track": h.track, "first": h.window, "last": h.window, "lag": h.lag, "votes": [h.votes]}
    if open_ is not None:
        cues.append(open_)
    out = []
    for c in cues:
        start = c["first"] * window_seconds
        end = min(film_duration, (c["last"] + 1) * window_seconds)
        out.append({"track": c["track"], "start": start, "end": end, "lag": c["lag"],
                    "n_windows": c["last"] - c["first"] + 1, "votes": float(np.mean(c["votes"]))})
    return out
