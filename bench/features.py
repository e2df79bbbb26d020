#!/usr/bin/env python
"""Benchmark of the feature extractors on one CPU core: real-time factors.

    PYTHONPATH=src python bench/features.py [--tracks 12] [--cue-seconds 60] [--video-seconds 120]

Music: the soundtrack of the game Flare (Debian package flare-game, orchestral,
about 38 minutes), fetched at run time with `apt-get download` and unpacked
with `dpkg -x` into .bench/ (gitignored). Each track is cut into cues of
--cue-seconds and every feature set is run on them as the stage does.

Video: a synthetic 1280x720, 24 fps H.264 film (ffmpeg testsrc2, x264 default
GOP) of --video-seconds, read at the visual set's size; reported as seconds
of compute per hour of film, for cues covering the whole film and a quarter of it.

Everything runs pinned to one core (sched_setaffinity, 1 BLAS/OpenMP thread).
Each figure is given from CPU time (the one-core cost, unaffected by other
work on a shared machine) and from wall time. Printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from material import BENCH, fetch_music  # noqa: E402  (bench/material.py)




def synthetic_film(seconds: int) -> Path:
    path = BENCH / f"film_720p_{seconds}s.mp4"
    if not path.is_file():
        BENCH.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp.mp4")
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size=1280x720:rate=24:duration={seconds}", "-f", "lavfi", "-i",
                        f"sine=f=220:duration={seconds}", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-shortest", str(tmp)], check=True)
        tmp.rename(path)
    return path


class Clock:
    """CPU time of this process (all its threads) and its finished children, and wall time."""

    def __enter__(self) -> "Clock":
        self._cpu, self._wall = _cpu_now(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.cpu = _cpu_now() - self._cpu
        self.wall = time.perf_counter() - self._wall


def _cpu_now() -> float:
    own = time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + kids.ru_utime + kids.ru_stime


def line(name: str, audio_s: float, clock: "Clock") -> None:
    print(f"{name:<26} {audio_s / 60:6.1f} min audio  cpu {clock.cpu:7.2f} s -> {audio_s / clock.cpu:7.1f}x real time"
          f"   (wall {clock.wall:7.2f} s -> {audio_s / clock.wall:7.1f}x)", flush=True)


def bench_mir(params: dict, cues: list[np.ndarray], sr: int) -> None:
    from filmscore.features.mir import MIR, texture_stats

    mir = MIR.from_params(params["features"]["mir"])
    audio_s = sum(len(c) for c in cues) / sr
    mir.embed(cues[0][: sr * 5], sr)  # warm-up
    with Clock() as total:
        for c in cues:
            mir.embed(c, sr)
    line("mir (full set)", audio_s, total)
    parts = {"short frames": [], "tonal frames": [], "key + rhythm frames": [], "texture windows": []}
    for c in cues:  # where the time goes
        with Clock() as a:
            short, odf = mir._short_frames(c)
        with Clock() as b:
            tonal = mir._tonal_frames(c)
        with Clock() as d:
            grids = [mir._key_frames(tonal), mir._rhythm_frames(odf, short.times)]
        with Clock() as e:
            starts, ends, _ = mir.texture_windows(len(c) / sr, max(1, len(c) // sr))
            for g in [short, tonal, *grids]:
                texture_stats(g.times, g.values, starts, ends)
        for k, v in zip(parts, (a, b, d, e)):
            parts[k].append(v)
    for k, clocks in parts.items():
        summed = Clock()
        summed.cpu, summed.wall = sum(c.cpu for c in clocks), sum(c.wall for c in clocks)
        line(f"  mir: {k}", audio_s, summed)


def bench_embeddings(params: dict, tracks: list[Path], cue_seconds: float) -> None:
    from filmscore.features.extract import make_extractor, set_params
    from filmscore.media import decode_audio

    for name in ("vggish", "openl3"):
        try:
            model = make_extractor(name, set_params(params, name))
        except ModuleNotFoundError as e:
            print(f"{name:<22} not benchmarked: module not in this build ({e})")
            continue
        except Exception as e:  # WeightsMissing and friends: say why
            print(f"{name:<22} not benchmarked: {str(e).splitlines()[-1]}")
            continue
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:
            pass
        sr = int(getattr(model, "sample_rate", 16000))
        cues = [decode_audio(t, sr, duration=cue_seconds) for t in tracks[:3]]
        model.embed(cues[0][: sr * 3], sr)
        with Clock() as clock:
            for c in cues:
                model.embed(c, sr)
        line(name, sum(len(c) for c in cues) / sr, clock)


def bench_visual(params: dict, seconds: int) -> None:
    from filmscore.features.visual import Visual

    film = synthetic_film(seconds)
    vis = Visual.from_params(params["features"]["visual"])
    size = "x".join(map(str, params["features"]["visual"]["size"]))
    for label, times in (("all of the film", np.arange(float(seconds))),
                         ("a quarter (10 s cues every 40 s)",
                          np.concatenate([np.arange(s, s + 10.0) for s in range(0, seconds - 9, 40)]))):
        with Clock() as clock:
            values, ok = vis.film(film, times)
        assert ok.all()
        print(f"visual, cues over {label:<34} {seconds} s of 1280x720 24 fps read at {size}: cpu {clock.cpu:6.2f} s -> "
              f"{clock.cpu * 3600 / seconds:6.1f} s per film hour   (wall {clock.wall:6.2f} s -> "
              f"{clock.wall * 3600 / seconds:6.1f} s per film hour)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, default=12, help="music tracks used (Flare has 12)")
    ap.add_argument("--cue-seconds", type=float, default=60.0, help="cue length the tracks are cut into")
    ap.add_argument("--video-seconds", type=int, default=120, help="length of the synthetic film")
    ap.add_argument("--skip", nargs="*", default=[], choices=["mir", "embeddings", "visual"])
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    from filmscore.media import decode_audio

    tracks = fetch_music()[: args.tracks]
    sr = int(params["features"]["mir"]["sample_rate"])
    with Clock() as decode:
        audio = [decode_audio(t, sr) for t in tracks]
    step = int(args.cue_seconds * sr)
    cues = [a[i: i + step] for a in audio for i in range(0, len(a), step) if len(a) - i >= sr]
    total_s = sum(len(c) for c in cues) / sr
    print(f"music: {len(tracks)} tracks of {PACKAGE}, {total_s / 60:.1f} min, {len(cues)} cues of <= {args.cue_seconds:.0f} s; "
          f"one core ({os.sched_getaffinity(0) if hasattr(os, 'sched_getaffinity') else '?'})")
    line("decode (ffmpeg, mono)", total_s, decode)
    if "mir" not in args.skip:
        bench_mir(params, cues, sr)
    if "embeddings" not in args.skip:
        bench_embeddings(params, tracks, args.cue_seconds)
    if "visual" not in args.skip:
        bench_visual(params, args.video_seconds)


if __name__ == "__main__":
    main()
