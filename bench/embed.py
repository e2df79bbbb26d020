#!/usr/bin/env python
"""CPU throughput of the VGGish and OpenL3 embedders on one core, on real music.

    PYTHONPATH=src python bench/embed.py [--seconds 120] [--openl3-seconds 60] [--batch 64 16]

Music: the soundtrack of the game Flare (Debian package flare-game), fetched at
run time with `apt-get download` and unpacked with `dpkg -x` into .bench/
(gitignored). Audio is decoded with filmscore.media at 44.1 kHz and at each
model's rate; the figures are seconds of audio embedded per second of compute
(x real time), split into resampling (44.1 kHz input), frontend (spectrogram)
and network, plus the decoding cost for comparison.

The published weights are used when they are at their default paths under
models/; otherwise the same networks with random weights are timed (the
compute is identical). Pinned to one core (sched_setaffinity, one torch /
BLAS / OpenMP thread); each figure from CPU time (the one-core cost, not
disturbed by other work on a shared machine) and wall time. Prints; asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from filmscore.features import embedding  # noqa: E402
from filmscore.features.openl3 import OpenL3  # noqa: E402
from filmscore.features.openl3 import frontend as o_front  # noqa: E402
from filmscore.features.openl3.network import OpenL3Net  # noqa: E402
from filmscore.features.openl3.params import DEFAULT_SECTION as OPENL3_DEFAULT  # noqa: E402
from filmscore.features.vggish import VGGish  # noqa: E402
from filmscore.features.vggish import frontend as v_front  # noqa: E402
from filmscore.features.vggish.network import VGGishNet  # noqa: E402
from filmscore.features.vggish.params import DEFAULT_SECTION as VGGISH_DEFAULT  # noqa: E402
from filmscore.features.vggish.postprocess import Postprocessor  # noqa: E402
from filmscore.features.weights import WeightsMissing  # noqa: E402
from filmscore.media import decode_audio  # noqa: E402

from material import fetch_music  # noqa: E402  (bench/material.py)




def _cpu_now() -> float:
    """CPU seconds of this process and of its finished children (ffmpeg decodes in a child)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Clock:
    def __enter__(self):
        self.c0, self.w0 = _cpu_now(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.cpu, self.wall = _cpu_now() - self.c0, time.perf_counter() - self.w0


def music(tracks: list[Path], seconds: float, sr: int) -> list[np.ndarray]:
    """Cuts of up to 60 s from consecutive tracks, `seconds` in all (excluding a track's first 10 s)."""
    cuts, left = [], seconds
    for t in tracks:
        if left <= 0:
            break
        y = decode_audio(t, sr=sr, start=10.0, duration=min(60.0, left))
        if len(y) >= sr:
            cuts.append(y)
            left -= len(y) / sr
    return cuts


def build(kind: str, batch: int):
    """The model from the default weight paths when present, else the same network with random weights."""
    try:
        if kind == "vggish":
            return VGGish.from_params({**VGGISH_DEFAULT, "batch_size": batch, "threads": 1}), "published weights"
        return OpenL3.from_params({**OPENL3_DEFAULT, "batch_size": batch, "threads": 1}), "published weights"
    except WeightsMissing:
        pass
    dev = torch.device("cpu")
    cl = torch.channels_last  # as the loaders leave the networks
    if kind == "vggish":
        q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((128, 128)))
        net = VGGishNet().eval().to(memory_format=cl)
        return VGGish(net, Postprocessor(q, np.zeros(128)), dev, batch, Path("random"), None), "random weights"
    return OpenL3(OpenL3Net("mel256", 512).eval().to(memory_format=cl), dev, batch, Path("random")), "random weights"


def line(name: str, audio_s: float, clk: Clock) -> str:
    return (f"  {name:<28} {audio_s / clk.cpu:8.1f} x real time (CPU)   {audio_s / clk.wall:8.1f} x (wall)"
            f"   [{clk.cpu:6.2f} s CPU for {audio_s:.0f} s of audio]")


def bench(kind: str, tracks: list[Path], seconds: float, batch: int) -> None:
    model, weights = build(kind, batch)
    sr = model.sample_rate
    with Clock() as dec_native:
        native = music(tracks, seconds, sr)
    with Clock() as dec_44k:
        cd = music(tracks, seconds, 44100)
    total = sum(len(y) for y in native) / sr
    print(f"{kind}: {model.describe()}, {weights}, batch {batch}, {len(native)} cuts, {total:.0f} s of music")
    print(line(f"decode at {sr} Hz (ffmpeg)", total, dec_native))
    print(line("decode at 44100 Hz (ffmpeg)", total, dec_44k))
    with Clock() as rs:
        for y in cd:
            embedding.resample(y, 44100, sr)
    print(line("resample 44.1k -> model rate", total, rs))
    model.embed(native[0][: 3 * sr], sr)  # warm-up (allocations, lazily built filterbanks)
    with Clock() as fe:
        if kind == "vggish":
            inputs = [v_front.waveform_to_examples(y, sr) for y in native]
        else:
            inputs = [o_front.melspectrogram_db(o_front.one_second_windows(y, embedding.n_seconds(len(y), sr)),
                                                model.n_mels) for y in native]
    print(line("frontend", total, fe))
    with Clock() as nn_:
        for x in inputs:
            embedding.run_batches(model.net, x[:, None], model.batch_size, model.device)
    print(line("network", total, nn_))
    with Clock() as full:
        rows = sum(len(model.embed(y, sr)) for y in native)
    print(line("embed() at model rate", total, full))
    print(f"  -> {rows} rows at 1 Hz; one core embeds 2 h of cue audio in {7200 / (total / full.cpu) / 60:.1f} min (CPU)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--seconds", type=float, default=120.0, help="seconds of music for VGGish")
    ap.add_argument("--openl3-seconds", type=float, default=60.0, help="seconds of music for OpenL3")
    ap.add_argument("--batch", type=int, nargs=2, default=[64, 16], metavar=("VGGISH", "OPENL3"))
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    torch.set_num_threads(1)
    tracks = fetch_music()
    print(f"one core, torch {torch.__version__}, {torch.get_num_threads()} thread; music: {PACKAGE} ({len(tracks)} tracks)")
    bench("vggish", tracks, args.seconds, args.batch[0])
    bench("openl3", tracks, args.openl3_seconds, args.batch[1])


if __name__ == "__main__":
    main()
