"""Another rendition of a recording, made at run time: the same music, not the same waveform.

Used by bench/cues/run.py (condition `rendition`) and tests/test_cues_rendition.py.
`rendition(x, sr, tempo)` re-synthesises a recording at another tempo with
its pitch kept, keeping its short-time magnitude spectrum (so its notes,
harmony and timbre) but none of its phase: every STFT frame gets random
phases, as a re-recording shares no waveform with the album. Then it is
remixed: a tilt EQ (low-passed and with its bass lifted), a room reverb
(RT60 0.6 s) and a quiet layer of noise hits (a percussion layer the
album does not have). The tempo can drift (`drift`, relative, a slow sine),
as a performance does. Nothing of it can be verified by the phase of the
album's waveform (GCC-PHAT), only by what it plays.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt


def _stretch_random_phase(x: np.ndarray, sr: int, tempo, rng: np.random.Generator) -> np.ndarray:
    """Mono x played `tempo(t)` times as fast (pitch kept): STFT magnitudes read along the tempo, random phases,
    overlap-added (Hann analysis and synthesis windows, normalised by their summed square)."""
    n_fft, hop = 2048, 256
    win = np.hanning(n_fft).astype(np.float32)
    x = np.pad(np.asarray(x, np.float32), (n_fft, n_fft))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    mag = np.abs(np.fft.rfft(frames * win, axis=1))
    n_in = len(mag)
    pos = [0.0]  # output frame k reads input frame pos[k]
    while pos[-1] < n_in - 1:
        pos.append(pos[-1] + float(tempo(pos[-1] * hop / sr)))
    pos = np.asarray(pos[:-1])
    i = np.floor(pos).astype(int)
    w = (pos - i)[:, None]
    m = mag[i] * (1 - w) + mag[np.minimum(i + 1, n_in - 1)] * w
    y = np.fft.irfft(m * np.exp(1j * rng.uniform(0, 2 * np.pi, m.shape)), n=n_fft, axis=1) * win
    out = np.zeros(len(y) * hop + n_fft, np.float64)
    norm = np.zeros_like(out)
    for k in range(len(y)):
        out[k * hop:k * hop + n_fft] += y[k]
        norm[k * hop:k * hop + n_fft] += win ** 2
    out = out / np.maximum(norm, 1e-3 * norm.max())
    return out[n_fft:len(out) - n_fft].astype(np.float32)


def phase_vocoder(x: np.ndarray, sr: int, tempo: float, seed: int = 0) -> np.ndarray:
    """x (n, channels) played `tempo` times as fast with its pitch kept by a phase vocoder that keeps none of the
    recording's phases (the same random phases in every channel, so the stereo image holds): the short-time
    magnitude spectrum of the very recording along the line of the speed, and no waveform in common with it.
    Not remixed: the recording itself time-stretched, as a pitch-corrected transfer may be."""
    x = np.asarray(x, np.float32)
    x = x[:, None] if x.ndim == 1 else x
    chans = [_stretch_random_phase(x[:, c], sr, lambda t: tempo, np.random.default_rng(seed))
             for c in range(x.shape[1])]
    return np.stack(chans, axis=1)


def rendition(x: np.ndarray, sr: int, tempo: float, seed: int = 0, drift: float = 0.0) -> np.ndarray:
    """x (n, channels) as another rendition at `tempo` (track seconds per rendition second), pitch kept, remixed."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float32)
    if x.ndim == 1:
        x = x[:, None]
    phase0 = rng.uniform(0, 2 * np.pi)

    def tempo_at(t: float) -> float:
        return tempo * (1.0 + drift * np.sin(2 * np.pi * t / 23.0 + phase0))

    chans = [_stretch_random_phase(x[:, c], sr, tempo_at, np.random.default_rng(seed * 7 + c)) for c in range(x.shape[1])]
    n = min(len(c) for c in chans)
    y = np.stack([c[:n] for c in chans], axis=1)
    # tilt EQ: top rolled off above 3.5 kHz, bass lifted below 250 Hz
    y = sosfilt(butter(4, 3500, fs=sr, output="sos"), y, axis=0) + 0.5 * sosfilt(butter(2, 250, fs=sr, output="sos"), y, axis=0)
    # room: exponentially decaying noise, RT60 0.6 s, mixed wet 0.5
    L = int(0.6 * sr)
    h = rng.standard_normal((L, y.shape[1])) * np.exp(-6.9 * np.arange(L) / L)[:, None]
    h /= np.sqrt((h ** 2).sum(axis=0))
    y = y + 0.5 * fftconvolve(y, h, axes=0)[:n]
    # a percussion layer the album does not have: noise hits every ~0.5 s at -14 dB
    rms = float(np.sqrt(np.mean(y ** 2))) + 1e-9
    hit = (rng.standard_normal(int(0.08 * sr)) * np.exp(-np.arange(int(0.08 * sr)) / (0.015 * sr))).astype(np.float32)
    layer = np.zeros(n, np.float32)
    t = int(rng.uniform(0, 0.5) * sr)
    while t + len(hit) < n:
        layer[t:t + len(hit)] += hit * rng.uniform(0.5, 1.0)
        t += int(rng.uniform(0.4, 0.6) * sr)
    layer *= rms * 10 ** (-14 / 20) / (float(np.sqrt(np.mean(layer ** 2))) + 1e-9)
    y = y + layer[:, None]
    return (y / (float(np.sqrt(np.mean(y ** 2))) + 1e-9) * rms).astype(np.float32)
