"""Candidates for quiet music under dialogue: fine spectral frames of the band the film carries (`cues.fine`).

The band-frame search (`match.xcorr_candidates`, 24 log bands of 0.19 s)
sees a film's loudest source: where music sits 8-12 dB under continuous
speech, a log band holds the speech, and the true lag of a track segment
scores no higher than chance (z 1-4 measured on the bench's heavy-dialogue
films). Yet the music is there, between the speech: its partials hold still
for tenths of a second at their pitch, while the speech's harmonics glide and
stop every syllable. Frames fine in frequency (n_fft 1024: 11 Hz at 11025 Hz)
and in time (hop n_fft/2: 46 ms) resolve that; the same correlation of
whitened log spectra then scores the true lag at z 8-19 on the same films.

Features: log power of the bins from `fine.fmin` up to the band the film
actually carries (`film_bandwidth`: a film low-passed at 3 kHz has nothing
above, and bins of coding noise would only add chance), minus its moving mean
over `bands.highpass_seconds` (the mix's and the recording's colour), per
frame zero mean and unit norm: the dot product of two frames is a cosine.

Search: every track segment (`segment_seconds`, a hop of `hop_seconds`)
against every film frame, a segment's frames taken every `track_stride`-th
(frames overlap by half: every other one loses little, measured z 9-10 for
10), scored as the z of its summed cosines against all positions. Computed
as correlations along time in the frequency domain, the film's transforms
made once for all tracks (`segments.SegmentScorer`). The product of the transforms is
the cost (film frames x track segments x bins): so the search runs at one
speed, the speed already verified in the film (a transfer plays all its
music at one speed; 1 when none is), on mid only (side, where a stereo
film's centred dialogue cancels, is searched well by the band frames).
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.fft as sfft

from .prints import FilmAudio

log = logging.getLogger(__name__)

BANDWIDTH_DROP_DB = 30.0  # the film carries a frequency whose power is within this of its 200-2000 Hz level
BANDWIDTH_SMOOTH_HZ = 200.0


def film_bandwidth(film: FilmAudio, ch: str, sr: int, n_fft: int = 1024, max_seconds: float = 600.0) -> float:
    """The highest frequency (Hz) the film carries: where its long-term spectrum stays within BANDWIDTH_DROP_DB
    of its mean level in 200-2000 Hz (smoothed over BANDWIDTH_SMOOTH_HZ); read from up to `max_seconds` of it,
    spread evenly over the film."""
    hop = n_fft
    n = film.n_samples
    want = int(max_seconds * sr)
    blocks = 10
    blen = max(n_fft * 4, min(n, want) // blocks)
    starts = np.linspace(0, max(0, n - blen), blocks).astype(np.int64) if n > blen else np.array([0])
    win = np.hanning(n_fft).astype(np.float32)
    acc = np.zeros(n_fft // 2 + 1, np.float64)
    for a in np.unique(starts):
        x = film.pcm(ch, int(a), int(a) + blen)
        if len(x) < n_fft:
            continue
        fr = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * win
        acc += (np.abs(sfft.rfft(fr, axis=1)) ** 2).sum(axis=0)
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    if not acc.any():
        return float(sr / 2)
    k = max(1, int(round(BANDWIDTH_SMOOTH_HZ / (f[1] - f[0]))))
    sm = np.convolve(acc, np.ones(k) / k, mode="same")
    ref = float(np.mean(sm[(f >= 200) & (f <= 2000)]))
    ok = 10 * np.log10(sm + 1e-30) >= 10 * np.log10(ref + 1e-30) - BANDWIDTH_DROP_DB
    above = np.nonzero(ok & (f >= 200))[0]
    return float(f[above[-1]]) if len(above) else float(sr / 2)


class FineFrames:
    """Whitened fine log spectra (n_fft, hop n_fft/2) of bins [fmin, fmax] Hz at rate sr."""

    def __init__(self, sr: int, n_fft: int, fmin: float, fmax: float, highpass_seconds: float):
        self.sr, self.n_fft, self.hop = sr, n_fft, n_fft // 2
        f = np.fft.rfftfreq(n_fft, 1.0 / sr)
        sel = np.nonzero((f >= fmin) & (f <= fmax))[0]
        self.lo, self.hi = (int(sel[0]), int(sel[-1]) + 1) if len(sel) else (0, 0)
        self.win = np.hanning(n_fft).astype(np.float32)
        self.k = max(1, int(round(highpass_seconds * sr / self.hop)))

    @property
    def n_bins(self) -> int:
        return self.hi - self.lo

    def __call__(self, x: np.ndarray, block: int = 8192, step: float = 1.0) -> np.ndarray:
        """(frames, bins) float32; frame i starts at sample round(i * hop * step): `step` other than 1 reads x at
        another tempo with its pitch kept (a rendition `step` times as fast has frame i where x has frame i * step)."""
        hop = self.hop * step
        n = 1 + int((len(x) - self.n_fft) // hop) if len(x) >= self.n_fft else 0
        out = np.zeros((n, self.n_bins), np.float32)
        if n == 0 or self.n_bins == 0:
            return out
        if step == 1.0:
            frames = np.lib.stride_tricks.sliding_window_view(x, self.n_fft)[:: self.hop][:n]
        else:
            first = np.round(np.arange(n) * hop).astype(np.int64)
            taps = np.arange(self.n_fft)
        for a in range(0, n, block):  # bounded temporaries on a two-hour film
            fr = frames[a:a + block] if step == 1.0 else x[first[a:a + block, None] + taps]
            spec = sfft.rfft(fr * self.win, axis=1, overwrite_x=True)[:, self.lo:self.hi]
            p = spec.real ** 2
            p += spec.imag ** 2
            out[a:a + block] = p
        floor = max(float(np.percentile(out[:: max(1, n // 2000)], 99)) * 1e-7, 1e-20)
        np.log(out + floor, out=out)
        if self.k > 1 and n > 1:  # minus the moving mean over highpass_seconds (float64 sums: long films)
            c = np.concatenate([np.zeros((1, out.shape[1])), np.cumsum(out, axis=0, dtype=np.float64)])
            i = np.arange(n)
            lo = np.clip(i - self.k // 2, 0, n)
            hi = np.clip(i + self.k // 2 + 1, 0, n)
            out -= ((c[hi] - c[lo]) / (hi - lo)[:, None]).astype(np.float32)
        out -= out.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norm, 1e-6)
        out[norm[:, 0] <= 1e-6] = 0.0
        return out
