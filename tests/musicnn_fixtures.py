"""Signals for the musicnn tests (numpy only).

`test_tone` also feeds `tests/data/make_musicnn_reference.py`, which ran it
(and two excerpts of real music, stored in the reference file as 16-bit PCM)
through the musicnn 0.1.0 release's TensorFlow graph. `piano_tone` and
`drum_loop` are the known signals of the taggram direction test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SR = 16000
REFERENCE = Path(__file__).parent / "data" / "musicnn_reference.npz"


def test_tone(seconds: float = 3.2, sr: int = SR) -> np.ndarray:
    """A 440 Hz tone with two harmonics and a slow tremolo, 0.3 peak."""
    t = np.arange(int(seconds * sr)) / sr
    y = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 880 * t) + 0.25 * np.sin(2 * np.pi * 1320 * t)
    y *= 1.0 + 0.2 * np.sin(2 * np.pi * 3.0 * t)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def piano_tone(seconds: float = 8.0, sr: int = SR) -> np.ndarray:
    """Sustained piano-like notes: a C major chord struck every 2 s, 12 inharmonic partials with
    1/k amplitudes, faster decay for higher partials, no percussion."""
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t)
    for f0 in (261.63, 329.63, 392.00):
        for k in range(1, 13):
            fk = k * f0 * np.sqrt(1 + 0.0004 * k * k)  # string stiffness: slightly stretched partials
            if fk > sr / 2.2:
                break
            local = t % 2.0
            y += np.sin(2 * np.pi * fk * t) * np.exp(-local * (0.6 + 0.35 * k)) / k
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def drum_loop(seconds: float = 8.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A 120 BPM drum loop: kick (decaying 150 -> 50 Hz sweep) on beats 1 and 3, snare (noise burst + 180 Hz
    body) on 2 and 4, closed hi-hat (high-passed noise) on every eighth note."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = np.zeros(n)
    beat = int(0.5 * sr)

    def add(start, sound):
        end = min(n, start + len(sound))
        y[start:end] += sound[: end - start]

    tk = np.arange(int(0.3 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 * tk + 100 * (1 - np.exp(-tk * 30)) / 30)) * np.exp(-tk * 12)
    ts = np.arange(int(0.2 * sr)) / sr
    snare = (0.6 * rng.standard_normal(ts.size) + 0.5 * np.sin(2 * np.pi * 180 * ts)) * np.exp(-ts * 25)
    th = np.arange(int(0.05 * sr)) / sr
    hat = np.diff(rng.standard_normal(th.size + 1)) * np.exp(-th * 80) * 0.25
    for i in range(0, n, beat // 2):
        add(i, hat)
    for b, i in enumerate(range(0, n, beat)):
        add(i, kick if b % 2 == 0 else snare)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)
