"""Real music for the benchmarks: Debian game-music packages, fetched once into .bench/.

`apt-get download` + `dpkg -x` at run time (never committed). Used by bench/features.py
and bench/embed.py; bench/cues/run.py assembles its own mixtures from several packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"


def fetch_music(package: str = "flare-game", name: str = "flare") -> list[Path]:
    """The music tracks (.ogg under a `music` folder) of a Debian package, unpacked on first use."""
    unpacked = BENCH / name
    if not unpacked.is_dir():
        BENCH.mkdir(exist_ok=True)
        debs = sorted(BENCH.glob(f"{package}_*.deb"))
        if not debs:
            subprocess.run(["apt-get", "download", package], cwd=BENCH, check=True)
            debs = sorted(BENCH.glob(f"{package}_*.deb"))
        _unpack(debs[-1], unpacked)
    tracks = sorted(p for p in unpacked.rglob("*.ogg") if "music" in p.parts)
    if not tracks:
        sys.exit(f"no music found under {unpacked}")
    return tracks


def fetch_packages(names: list[str], root: Path = BENCH) -> Path:
    """Unpack Debian packages (`apt-get download` + `dpkg -x`, once) into root/pkgs/<name>; returns root/pkgs.

    The layout bench/cues/run.py uses, so the benchmark and the tests share one download.
    """
    pk = root / "pkgs"
    need = [p for p in names if not (pk / p).is_dir()]
    if need:
        debs = root / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        missing = [p for p in need if not list(debs.glob(f"{p}_*.deb"))]
        if missing:
            subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True, capture_output=True)
        pk.mkdir(parents=True, exist_ok=True)
        for p in need:
            _unpack(sorted(debs.glob(f"{p}_*.deb"))[-1], pk / p)
    return pk


def _unpack(deb: Path, dest: Path) -> None:
    """`dpkg -x` into a fresh folder beside `dest`, then renamed to it: a concurrent or interrupted unpack
    never leaves a half-filled `dest` (the loser of a race keeps the winner's copy)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        subprocess.run(["dpkg", "-x", str(deb), str(tmp)], check=True)
        try:
            tmp.rename(dest)
        except OSError:
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


ESPEAK_PACKAGES = ["espeak-ng", "libespeak-ng1", "espeak-ng-data", "libpcaudio0", "libsonic0"]


def espeak_wav(pk: Path, text: str, out: Path, voice: str = "en", pitch: int = 40, speed: int = 160) -> Path:
    """Speech by the espeak-ng unpacked under pk (ESPEAK_PACKAGES) into a WAV file (22050 Hz mono)."""
    import os

    libdirs = ":".join(str(d) for d in Path(pk).glob("lib*/usr/lib/x86_64-linux-gnu"))
    env = dict(os.environ, LD_LIBRARY_PATH=libdirs)
    data = next((pk / "espeak-ng-data").rglob("phontab")).parent  # the data folder (not the doc folder of that name)
    subprocess.run([str(pk / "espeak-ng/usr/bin/espeak-ng"), f"--path={data.parent}", "-v", voice, "-p", str(pitch),
                    "-s", str(speed), "-w", str(out), text], check=True, env=env, capture_output=True)
    return out


def music_and_speech(sentences: list[str], out: Path, voices: list[tuple[str, int, int]],
                     sr: int) -> tuple[list[Path], list]:
    """(flare-game music tracks but the ambient ones, each sentence spoken by espeak-ng with voices[i % len]
    (voice, pitch, speed) and decoded mono at `sr`): the material of the cue matcher's known-answer tests.
    The WAVs go to `out`. apt-get / dpkg failures raise (the tests skip on them)."""
    from filmscore.media import decode_audio

    pk = fetch_packages(["flare-game", *ESPEAK_PACKAGES])
    music = sorted(p for p in (pk / "flare-game").rglob("music/*.ogg") if "ambient" not in p.name)
    speech = [decode_audio(espeak_wav(pk, text, out / f"s{i}.wav", *voices[i % len(voices)]), sr, channels=1)
              for i, text in enumerate(sentences)]
    return music, speech


AUDIBLE_DB = 60.0  # audible: a 0.1 s level within this of the signal's loud level (its 95th percentile)


def audible_span(x: np.ndarray, sr: int, frame: float = 0.1) -> tuple[float, float]:
    """(first, last) second of x (samples, or samples x channels) that is audible: from the start of the first
    `frame` whose mean-square level lies within AUDIBLE_DB of the 95th percentile of all frames' levels to the
    end of the last such frame. Music fades in and out, and many tracks end on seconds of digital silence: a
    bench cue drawn over a silent tail would be silence (or its dither scaled up to the cue's level) under a
    truth row that no matcher can find."""
    m = max(1, int(frame * sr))
    n = len(x) // m
    if n == 0:
        return 0.0, len(x) / sr
    sq = np.square(np.asarray(x, np.float64)[:n * m].reshape(n, m, -1))
    level = 10 * np.log10(sq.mean(axis=(1, 2)) + 1e-30)
    ok = np.flatnonzero(level >= np.percentile(level, 95) - AUDIBLE_DB)
    return float(ok[0] * m / sr), float((ok[-1] + 1) * m / sr)
