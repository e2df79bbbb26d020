"""OpenL3's input: the log mel spectrogram of kapre 0.1.x's Melspectrogram layer, with openl3's settings.

The published OpenL3 audio models were trained with (openl3 <= 0.3, models.py)

    Melspectrogram(n_dft=2048, n_hop=242, n_mels=256, sr=48000, power_melgram=1.0,
                   htk=True, return_decibel_melgram=True, padding='same')

on 1 s windows at 48 kHz. kapre computes, per window:

1. 'same' padding as TensorFlow's convolution: 199 frames (ceil(48000 / 242)), the
   1964 samples of padding split 982 before / 982 after;
2. a DFT of each 2048-sample frame under a periodic Hann window (kapre's DFT
   kernels), squared magnitude (kapre's Spectrogram is a power spectrogram inside
   Melspectrogram);
3. a mel filterbank (librosa's `filters.mel` with htk=True, norm=1 / 'slaney':
   Hz-linear triangles between HTK-mel-spaced edges from 0 Hz to 24 kHz, area
   normalised), then `power_melgram=1.0`: the square root;
4. kapre's amplitude_to_decibel: 10 log10(max(x, 1e-10)), minus its maximum over
   the window, floored at -80 dB.

The output is (n_mels, 199) per window (kapre's channels_last image: frequency
is the height, time the width).

openl3 0.4 replaced this layer by kapre 0.3's `get_melspectrogram_layer` (power
2 mel on the Slaney mel scale, end padding); filmscore follows the frontend the
weights were trained with.
"""

from __future__ import annotations

import numpy as np

from . import params as P

N_FRAMES = -(-int(P.SAMPLE_RATE * P.WINDOW_SECONDS) // P.N_HOP)  # 199
_PAD_TOTAL = max((N_FRAMES - 1) * P.N_HOP + P.N_DFT - int(P.SAMPLE_RATE * P.WINDOW_SECONDS), 0)  # 1964
PAD_BEFORE = _PAD_TOTAL // 2  # 982 (TF puts the odd sample, if any, after)
PAD_AFTER = _PAD_TOTAL - PAD_BEFORE


def hz_to_mel_htk(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz_htk(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, sr: int = P.SAMPLE_RATE, n_fft: int = P.N_DFT,
                   fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) weights as librosa.filters.mel(htk=True, norm='slaney') (kapre's `mel`)."""
    fmax = sr / 2.0 if fmax is None else fmax
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    edges = mel_to_hz_htk(np.linspace(hz_to_mel_htk(fmin), hz_to_mel_htk(fmax), n_mels + 2))
    fdiff = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # area normalisation (Slaney)
    return weights


def periodic_hann(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


_BANKS: dict[int, np.ndarray] = {}
_WINDOW = periodic_hann(P.N_DFT)


def _bank(n_mels: int) -> np.ndarray:
    if n_mels not in _BANKS:
        _BANKS[n_mels] = mel_filterbank(n_mels).T.copy()  # (n_freq, n_mels)
    return _BANKS[n_mels]


def melspectrogram_db(windows: np.ndarray, n_mels: int) -> np.ndarray:
    """(k, 48000) one-second windows at 48 kHz -> (k, n_mels, 199) float32 kapre-style dB (max 0, floor -80)."""
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != int(P.SAMPLE_RATE * P.WINDOW_SECONDS):
        raise ValueError(f"expected (k, {int(P.SAMPLE_RATE * P.WINDOW_SECONDS)}) windows, got {w.shape}")
    x = np.pad(w, ((0, 0), (PAD_BEFORE, PAD_AFTER)))
    frames = np.lib.stride_tricks.sliding_window_view(x, P.N_DFT, axis=1)[:, ::P.N_HOP]  # (k, 199, 2048)
    spec = np.fft.rfft(frames * _WINDOW, axis=-1)
    power = spec.real ** 2 + spec.imag ** 2
    mel = np.sqrt(power @ _bank(n_mels))  # power_melgram = 1.0
    db = 10.0 * np.log10(np.maximum(mel, P.AMIN))
    db -= db.max(axis=(1, 2), keepdims=True)
    db = np.maximum(db, -P.DYNAMIC_RANGE)
    return np.ascontiguousarray(db.transpose(0, 2, 1), dtype=np.float32)


def one_second_windows(audio48k: np.ndarray, n: int) -> np.ndarray:
    """(n, 48000): window i = samples of seconds [i, i+1); the audio is zero-padded (or cut) to n seconds."""
    size = int(P.SAMPLE_RATE * P.WINDOW_SECONDS)
    x = np.asarray(audio48k, dtype=np.float32)[: n * size]
    if x.size < n * size:
        x = np.pad(x, (0, n * size - x.size))
    return x.reshape(n, size)
