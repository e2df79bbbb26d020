"""VGGish's input: log-mel spectrogram examples of 0.96 s, as the reference vggish_input.py / mel_features.py.

16 kHz mono -> frames of 400 samples (25 ms) every 160 (10 ms), periodic Hann
window, |rfft| with 512 points -> 64 mel bands between 125 and 7500 Hz -> log(mel + 0.01)
-> non-overlapping examples of 96 frames x 64 bands.

The mel filterbank is the reference one: triangles that are linear on the HTK
mel scale (mel = 1127 ln(1 + f / 700)) with band edges evenly spaced in mel,
unnormalised (peak 1), DC bin zeroed. It differs from librosa's htk=True
filterbank, whose triangles are linear in Hz between the same edges.

Framing follows the reference: only whole frames and whole examples are kept
(a trailing partial example is dropped). One departure: audio shorter than one
example (0.975 s: 96 frames) is zero-padded to one example, where the reference
would return none; a cue that short still gets an embedding.
"""

from __future__ import annotations

import numpy as np

from ..embedding import as_mono, resample
from . import params as P

WINDOW_SAMPLES = int(round(P.SAMPLE_RATE * P.STFT_WINDOW_SECONDS))  # 400
HOP_SAMPLES = int(round(P.SAMPLE_RATE * P.STFT_HOP_SECONDS))  # 160
FFT_LENGTH = 2 ** int(np.ceil(np.log2(WINDOW_SAMPLES)))  # 512
EXAMPLE_FRAMES = int(round(P.EXAMPLE_WINDOW_SECONDS / P.STFT_HOP_SECONDS))  # 96
EXAMPLE_HOP_FRAMES = int(round(P.EXAMPLE_HOP_SECONDS / P.STFT_HOP_SECONDS))  # 96
MIN_SAMPLES = WINDOW_SAMPLES + (EXAMPLE_FRAMES - 1) * HOP_SAMPLES  # 15600: one whole example


def frame(data: np.ndarray, window_length: int, hop_length: int) -> np.ndarray:
    """Whole frames of `window_length` rows every `hop_length` along axis 0 (a strided view)."""
    n = data.shape[0]
    num = 1 + (n - window_length) // hop_length if n >= window_length else 0
    shape = (num, window_length) + data.shape[1:]
    strides = (data.strides[0] * hop_length,) + data.strides
    return np.lib.stride_tricks.as_strided(data, shape=shape, strides=strides, writeable=False)


def periodic_hann(n: int) -> np.ndarray:
    """The 'periodic' Hann window (as TF and the reference): 0.5 - 0.5 cos(2 pi k / n)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi / n * np.arange(n))


def stft_magnitude(signal: np.ndarray) -> np.ndarray:
    """|rfft| of Hann-windowed frames: (n_frames, FFT_LENGTH // 2 + 1)."""
    frames = frame(signal, WINDOW_SAMPLES, HOP_SAMPLES)
    return np.abs(np.fft.rfft(frames * periodic_hann(WINDOW_SAMPLES), FFT_LENGTH))


def hertz_to_mel(f):
    """HTK mel scale."""
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_matrix(num_mel_bins: int = P.NUM_MEL_BINS, num_spectrogram_bins: int = FFT_LENGTH // 2 + 1,
               sample_rate: int = P.SAMPLE_RATE, lower_hz: float = P.MEL_MIN_HZ,
               upper_hz: float = P.MEL_MAX_HZ) -> np.ndarray:
    """(num_spectrogram_bins, num_mel_bins) weights; triangles linear in mel, as the reference."""
    nyquist = sample_rate / 2.0
    if not 0.0 <= lower_hz < upper_hz <= nyquist:
        raise ValueError(f"need 0 <= lower ({lower_hz}) < upper ({upper_hz}) <= nyquist ({nyquist})")
    bins_mel = hertz_to_mel(np.linspace(0.0, nyquist, num_spectrogram_bins))
    edges = np.linspace(hertz_to_mel(lower_hz), hertz_to_mel(upper_hz), num_mel_bins + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (bins_mel[:, None] - lower) / (centre - lower)
    down = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(up, down))
    weights[0, :] = 0.0  # the DC bin carries no mel energy
    return weights


_MEL = mel_matrix()


def log_mel_spectrogram(signal16k: np.ndarray) -> np.ndarray:
    """(n_frames, 64) log(mel + 0.01) of 16 kHz mono audio."""
    mag = stft_magnitude(np.asarray(signal16k, dtype=np.float64))
    return np.log(mag @ _MEL + P.LOG_OFFSET)


def waveform_to_examples(audio: np.ndarray, sr: int) -> np.ndarray:
    """(n_examples, 96, 64) float32 log-mel examples of mono audio at any rate (resampled to 16 kHz)."""
    x = resample(as_mono(audio), sr, P.SAMPLE_RATE)
    if 0 < x.size < MIN_SAMPLES:
        x = np.pad(x, (0, MIN_SAMPLES - x.size))
    if x.size == 0:
        return np.zeros((0, EXAMPLE_FRAMES, P.NUM_MEL_BINS), dtype=np.float32)
    log_mel = log_mel_spectrogram(x)
    return np.ascontiguousarray(frame(log_mel, EXAMPLE_FRAMES, EXAMPLE_HOP_FRAMES), dtype=np.float32)


def example_centres(n_examples: int) -> np.ndarray:
    """Centre time (s) of each example: example k spans frames 96k .. 96k+95, i.e.
    samples [0.96k s, 0.96k s + 0.975 s); its centre is 0.96k + 0.4875 s."""
    span = (WINDOW_SAMPLES + (EXAMPLE_FRAMES - 1) * HOP_SAMPLES) / P.SAMPLE_RATE
    return np.arange(n_examples) * P.EXAMPLE_HOP_SECONDS + span / 2.0
