"""Real music for the benchmarks: Debian game-music packages, fetched once into .bench/.

`apt-get download` + `dpkg -x` at run time (never committed). Used by bench/features.py
and bench/embed.py; bench/cues/run.py assembles its own mixtures from several packages.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
        tmp = BENCH / f"{name}.tmp"
        subprocess.run(["dpkg", "-x", str(debs[-1]), str(tmp)], check=True)
        tmp.rename(unpacked)
    tracks = sorted(p for p in unpacked.rglob("*.ogg") if "music" in p.parts)
    if not tracks:
        sys.exit(f"no music found under {unpacked}")
    return tracks
