"""How often the tolerant tier carries a rendition cue's end along a line of chance (`rendition_fine.grown`).

    PYTHONPATH=src:. python bench/cues/grow_chance.py                     # the films of the last bench/cues/run.py
    PYTHONPATH=src:. python bench/cues/grow_chance.py --films DIR --lines 300 --seed 1

`grown` moves a rendition cue's end outward along its line where blocks of the film follow the track better
than the same track's other lines do. Along a line no rendition lies on, an end that moves is a false extension.
For each film of DIR (the layout bench/cues/run.py writes) and each of its channels, `--lines` lines are drawn at
random: a track of its soundtrack, a tempo in `cues.tolerant.tempos`, a "cue" of one segment at a random film
position whose frames the film carries (outside its true cues, so that no line meets its own track's music), at a
random track position. Each is grown as the tier grows an accepted cue (the film's fine frames as the tier reads
them, the track's at the line's tempo); printed: per film and channel the ends read and the ends moved, then the
total share of ends moved.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from filmscore.cues.prints import FilmAudio  # noqa: E402
from filmscore.cues.rendition_fine import GROW_SHIFTS, film_fine, frames, grown  # noqa: E402
from filmscore.cues.settings import StampSettings  # noqa: E402
from filmscore.cues.stamp import soundtrack_files  # noqa: E402
from filmscore.media import decode_audio  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--films", type=Path, default=Path(".bench/films"), help="a bench films folder (films.json)")
    ap.add_argument("--lines", type=int, default=300, help="random lines per film and channel")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    s = StampSettings()
    sr, fs_ = s.sample_rate, s.fine
    lo_t, hi_t = min(s.tolerant.tempos), max(s.tolerant.tempos)
    rng = np.random.default_rng(a.seed)
    films = sorted(f["film_id"] for f in json.loads((a.films / "films.json").read_text()))
    total = moved = 0
    for fid in films:
        truth = pd.read_csv(a.films / "truth" / f"{fid}.csv")
        film = FilmAudio(a.films / "films" / f"{fid}.m4a", s.bands, use_side=s.use_side)
        try:
            F, ff, _ = film_fine(film, s, list(zip(truth.start, truth.end)))
        finally:
            film.close()
        files = soundtrack_files(a.films / "soundtracks" / fid, fid)
        tracks = [decode_audio(p, sr, channels=1).reshape(-1) for p in files]
        for ch, Fc in F.items():
            fr = ff[ch].hop / sr
            W = max(2, int(round(fs_.segment_seconds / fr)))
            shifts = [d / fr for d in GROW_SHIFTS]
            guard = int(round(s.bands.highpass_seconds / 2 / fr))
            starts = np.flatnonzero(np.convolve(Fc.any(axis=1), np.ones(W), "valid") == W)  # W live frames
            Ts = [frames(ff[ch], x) for x in tracks]  # each track's frames at its own rate, as `grown` reads them
            read = n_moved = 0
            for _ in range(a.lines if len(starts) else 0):
                T = Ts[int(rng.integers(len(Ts)))]
                tempo = float(rng.uniform(lo_t, hi_t))
                if len(T) < 3 * W:
                    continue
                k0 = int(rng.choice(starts))
                j0 = rng.uniform(0, len(T) - 1.1 * W * tempo - 2)  # the track frame at the cue's first frame
                got = grown(Fc, T, k0 - j0 / tempo, tempo, k0, k0 + W - 1, W, shifts, guard=guard)
                read += 2
                n_moved += (got[0] != k0) + (got[1] != k0 + W - 1)
            print(f"{fid:24s} {ch:5s} ends {read:4d} moved {n_moved:3d}")
            total, moved = total + read, moved + n_moved
    print(f"all: {moved} of {total} ends moved ({100 * moved / max(total, 1):.2f} %)")


if __name__ == "__main__":
    main()
