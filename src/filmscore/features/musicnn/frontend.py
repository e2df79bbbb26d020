"""musicnn's input: log-compressed mel spectrogram patches, as the release's extractor.py computes them.

16 kHz mono -> librosa.feature.melspectrogram with its defaults and the
release's settings (n_fft 512, hop 256, 96 mel bands):

- frames centred on multiples of the hop (the signal padded by n_fft / 2 = 256
  samples each side, **reflected**, as librosa did before 0.10 and so when the
  models' training spectrograms were made; librosa >= 0.10 pads with zeros),
  periodic Hann window of 512 samples, power spectrum |X|^2;
- 96 mel bands from 0 Hz to 8 kHz on the Slaney mel scale (linear below
  1 kHz, logarithmic above), triangles linear in Hz, each normalised to unit
  area ("slaney" norm);

then, as extractor.py: cast to float16 (the release stores the mel power as
float16 before compressing it, as the training data were stored), and
log10(10000 x + 1). Frame k is centred at k * 16 ms; a signal of n samples
has 1 + n // 256 frames.

Patches are 187 frames (3 s; extractor.py: librosa.time_to_frames(3) + 1).
filmscore takes one patch per second of audio, centred on that second
(`patch_starts`); the release's extractor takes non-overlapping patches
instead, which would give one value per 3 s. A spectrogram shorter than one
patch is repeated until it fills one (`repeat_pad`), as musicnn's training
code does for short clips (`pad_short: repeat-pad` in each model's
config.json); the release's extractor fails on such input.

Resampling to 16 kHz uses filmscore's polyphase resampler
(`filmscore.features.embedding.resample`); the release's `librosa.load` used
resampy (librosa 0.7) or soxr (librosa >= 0.10).
"""

from __future__ import annotations

import numpy as np

from ..embedding import as_mono, resample
from . import params as P


def hz_to_mel(f) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear to 1 kHz, then logarithmic."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(m) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_matrix(sr: int = P.SAMPLE_RATE, n_fft: int = P.FFT_SIZE, n_mels: int = P.N_MELS,
               fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) filterbank: triangles linear in Hz between Slaney-mel-spaced edges, unit area."""
    fmax = sr / 2.0 if fmax is None else fmax
    fft_hz = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (fft_hz[:, None] - lower) / (centre - lower)
    down = (upper - fft_hz[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(up, down))
    return weights * (2.0 / (upper - lower))  # Slaney normalisation: each triangle has unit area


_MEL = mel_matrix()
_WINDOW = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(P.FFT_SIZE) / P.FFT_SIZE)  # periodic Hann


def mel_power(signal16k: np.ndarray) -> np.ndarray:
    """(n_frames, 96) mel power spectrogram (float64) of 16 kHz mono audio, frames centred, reflect-padded."""
    x = np.asarray(signal16k, dtype=np.float64)
    half = P.FFT_SIZE // 2
    # numpy reflects repeatedly when the pad is longer than the signal; one sample has nothing to reflect
    x = np.pad(x, (half, half), mode="reflect" if x.size > 1 else "edge")
    n = 1 + (x.size - P.FFT_SIZE) // P.FFT_HOP
    frames = np.lib.stride_tricks.as_strided(x, shape=(n, P.FFT_SIZE), strides=(x.strides[0] * P.FFT_HOP, x.strides[0]),
                                             writeable=False)
    spec = np.fft.rfft(frames * _WINDOW, P.FFT_SIZE)
    power = spec.real ** 2 + spec.imag ** 2
    return power @ _MEL


def log_compress(mel: np.ndarray) -> np.ndarray:
    """extractor.py's compression: float16 mel power, then log10(10000 x + 1), as float32."""
    half = np.asarray(mel).astype(np.float16)
    return np.log10(P.LOG_SCALE * half.astype(np.float32) + 1.0).astype(np.float32)


def log_mel(audio: np.ndarray, sr: int) -> np.ndarray:
    """(n_frames, 96) float32 network input of mono audio at any rate (resampled to 16 kHz)."""
    x = resample(as_mono(audio), sr, P.SAMPLE_RATE)
    if x.size == 0:
        return np.zeros((0, P.N_MELS), dtype=np.float32)
    return log_compress(mel_power(x))


def repeat_pad(spec: np.ndarray, n: int = P.N_FRAMES) -> np.ndarray:
    """A spectrogram of fewer than `n` frames repeated (whole copies, then the start again) to exactly `n`."""
    if len(spec) == 0:
        raise ValueError("cannot repeat an empty spectrogram")
    if len(spec) >= n:
        return spec
    reps = -(-n // len(spec))
    return np.concatenate([spec] * reps, axis=0)[:n]


def patch_starts(n_frames: int, n_seconds: int) -> np.ndarray:
    """First frame of the patch of each second: patch i is centred on second i's centre, i + 0.5 s
    (frame round((i + 0.5) / 0.016), the 94th of 187), moved inside the spectrogram at its ends."""
    centres = np.rint((np.arange(n_seconds) + 0.5) / P.FRAME_SECONDS).astype(np.int64)
    return np.clip(centres - P.N_FRAMES // 2, 0, max(0, n_frames - P.N_FRAMES))


def patches(spec: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(len(starts), 187, 96) float32 patches of a (n_frames, 96) spectrogram (repeat-padded when short)."""
    spec = repeat_pad(np.asarray(spec, dtype=np.float32))
    view = np.lib.stride_tricks.sliding_window_view(spec, P.N_FRAMES, axis=0)  # (n - 186, 96, 187)
    return np.ascontiguousarray(view[np.asarray(starts)].transpose(0, 2, 1))
