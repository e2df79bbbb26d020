#!/usr/bin/env python
"""CPU throughput of the musicnn, VGGish and OpenL3 embedders on one core, on real music; musicnn vs MIR F1.

    PYTHONPATH=src python bench/embed.py [--seconds 120] [--openl3-seconds 60] [--musicnn-seconds 120]
                                         [--batch 64 16 4] [--only musicnn]
    PYTHONPATH=src python bench/embed.py --f1 [DATA_MODELS]     # macro F1 of MIR and musicnn on a finished run

musicnn's target: at least 50 x real time on one core (MSD_musicnn, penultimate).
`--f1` reads the grid cells a `dvc repro` (e.g. `make demo`) trained under
data/models/ and prints the macro F1 of each method for the MIR and musicnn
sets side by side, with the paper's MIR and VGGish (its learned embedding)
figures.

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
from filmscore.features.musicnn import Musicnn  # noqa: E402
from filmscore.features.musicnn import frontend as m_front  # noqa: E402
from filmscore.features.musicnn import params as M  # noqa: E402
from filmscore.features.musicnn.network import MusicnnNet, from_variables, tf_variables  # noqa: E402
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

PACKAGE = "flare-game"




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
        if kind == "musicnn":
            return Musicnn.from_params({**M.DEFAULT_SECTION, "batch_size": batch}), "published weights"
        if kind == "vggish":
            return VGGish.from_params({**VGGISH_DEFAULT, "batch_size": batch, "threads": 1}), "published weights"
        return OpenL3.from_params({**OPENL3_DEFAULT, "batch_size": batch, "threads": 1}), "published weights"
    except WeightsMissing:
        pass
    dev = torch.device("cpu")
    cl = torch.channels_last  # as the loaders leave the networks
    if kind == "musicnn":
        rng = np.random.default_rng(0)
        v = {k: (1.0 + rng.random(shape) if k.endswith("variance") else 0.05 * rng.standard_normal(shape)).astype(np.float32)
             for k, shape in tf_variables("musicnn").items()}
        return Musicnn(from_variables(v, "musicnn"), "MSD_musicnn", "penultimate", dev, batch, Path("random")), \
            "random weights"
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
        if kind == "musicnn":
            inputs = [m_front.repeat_pad(m_front.log_mel(y, sr)) for y in native]
        elif kind == "vggish":
            inputs = [v_front.waveform_to_examples(y, sr) for y in native]
        else:
            inputs = [o_front.melspectrogram_db(o_front.one_second_windows(y, embedding.n_seconds(len(y), sr)),
                                                model.n_mels) for y in native]
    print(line("frontend", total, fe))
    with Clock() as nn_:
        for x, y in zip(inputs, native):
            if kind == "musicnn":  # one 3 s patch per second, front-end convolutions shared
                starts = np.unique(m_front.patch_starts(len(x), embedding.n_seconds(len(y), sr)))
                model.embed_starts(x, starts)
            else:
                embedding.run_batches(model.net, x[:, None], model.batch_size, model.device)
    print(line("network", total, nn_))
    with Clock() as full:
        rows = sum(len(model.embed(y, sr)) for y in native)
    print(line("embed() at model rate", total, full))
    print(f"  -> {rows} rows at 1 Hz; one core embeds 2 h of cue audio in {7200 / (total / full.cpu) / 60:.1f} min (CPU)")
    if kind == "musicnn" and isinstance(model.net, MusicnnNet):
        patchwise = [m_front.patches(x, np.unique(m_front.patch_starts(len(x), embedding.n_seconds(len(y), sr))))
                     for x, y in zip(inputs, native)]
        with Clock() as pw:
            for p in patchwise:
                model.embed_patches(p)
        print(line("network, patch by patch", total, pw) + "   (without the shared front end)")


def f1_side_by_side(models_root: Path) -> None:
    """Macro F1 of every trained cell of the MIR and musicnn sets, per method, beside the paper's MIR and VGGish."""
    import json

    from filmscore.mil.names import MODEL_LABELS
    from filmscore.mil.report import PAPER_TABLE4

    cells: dict[tuple[str, str], dict[str, float]] = {}
    for m in sorted(models_root.glob("*/metrics.json")):
        info = json.loads(m.read_text())
        if info.get("status") != "ok":
            continue
        fs, level, method, size = m.parent.name.split("-", 3)
        if fs in ("mir", "musicnn") and level == "cue":
            cells.setdefault((method, size), {})[fs] = info["macro"]["f1"]
    if not cells:
        sys.exit(f"no trained mir / musicnn cue-level cells under {models_root}: run `make demo` (dvc repro) first")
    print(f"macro F1, cue level ({models_root}); paper: its 110 films (MIR; VGGish = its learned embedding)")
    print(f"  {'method':<26} {'size':>5} {'MIR':>6} {'musicnn':>8}   {'paper MIR':>9} {'paper VGGish':>12}")
    for (method, size), f in sorted(cells.items()):
        fmt = lambda v: f"{v:.3f}" if v is not None else "-"  # noqa: E731
        pm, pv = PAPER_TABLE4.get(("mir", method)), PAPER_TABLE4.get(("vggish", method))
        print(f"  {MODEL_LABELS.get(method, method):<26} {size:>5} {fmt(f.get('mir')):>6} {fmt(f.get('musicnn')):>8}   "
              f"{fmt(pm[2] if pm else None):>9} {fmt(pv[2] if pv else None):>12}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--seconds", type=float, default=120.0, help="seconds of music for VGGish")
    ap.add_argument("--openl3-seconds", type=float, default=60.0, help="seconds of music for OpenL3")
    ap.add_argument("--musicnn-seconds", type=float, default=120.0, help="seconds of music for musicnn")
    ap.add_argument("--batch", type=int, nargs=3, default=[64, 16, 4], metavar=("VGGISH", "OPENL3", "MUSICNN"))
    ap.add_argument("--only", choices=("vggish", "openl3", "musicnn"), help="time this embedder alone")
    ap.add_argument("--f1", nargs="?", const="data/models", metavar="DATA_MODELS",
                    help="print the MIR and musicnn macro F1 of a finished run instead of timing")
    args = ap.parse_args()
    if args.f1:
        f1_side_by_side(Path(args.f1))
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    torch.set_num_threads(1)
    tracks = fetch_music()
    print(f"one core, torch {torch.__version__}, {torch.get_num_threads()} thread; music: {PACKAGE} ({len(tracks)} tracks)")
    runs = {"musicnn": (args.musicnn_seconds, args.batch[2]), "vggish": (args.seconds, args.batch[0]),
            "openl3": (args.openl3_seconds, args.batch[1])}
    for kind, (seconds, batch) in runs.items():
        if args.only in (None, kind):
            bench(kind, tracks, seconds, batch)


if __name__ == "__main__":
    main()
