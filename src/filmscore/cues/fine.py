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
as one matrix product of the track's frames with the film's per chunk, the
segments' sums read along diagonals (strided views, no copies). The product
is the cost (film frames x track frames x bins): so the search runs at one
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


def segment_scores(T: np.ndarray, F: np.ndarray, W: int, H: int, stride: int, gap: int = 256
                   ) -> tuple[np.ndarray, np.ndarray]:
    """`_dense_scores` computed only where the film has a non-zero frame (frames of cues already found and of
    silence are zero, and a position whose frames are all zero sums to exactly 0): the film's live runs (runs of
    positions apart by fewer than `gap` frames merged) are scored one by one, the rest of M is 0. Same M as the
    dense product, at the cost of the live part of the film only."""
    Wj = max(1, (W + stride - 1) // stride)
    reach = (Wj - 1) * stride
    P = len(F) - reach
    live = np.flatnonzero(F.any(axis=1)) if P > 0 else np.zeros(0, np.int64)
    if P <= 0 or len(live) > 0.9 * len(F):
        return _dense_scores(T, F, W, H, stride)
    # position p sums frames p, p + stride, ..., p + reach: it is live when a live frame lies in [p - reach, p]
    lo, hi = live - reach, live + 1
    cut = np.flatnonzero(lo[1:] > hi[:-1] + gap) + 1
    first, last = (np.r_[0, cut], np.r_[cut - 1, len(live) - 1]) if len(live) else (cut, cut)
    M, starts = None, None
    for a, b in zip(np.clip(lo[first], 0, P), np.clip(hi[last], 0, P)):
        a, b = int(a), int(b)
        if a >= b:
            continue
        m, st = _dense_scores(T, F[a:b + reach], W, H, stride)
        if M is None:
            if not len(st):
                break
            M, starts = np.zeros((m.shape[0], P), np.float32), st
        M[:, a:b] = m
    if M is None:
        m, starts = _dense_scores(T, F[:reach + 1], W, H, stride)  # nothing live: the segments, all 0
        if not len(starts):
            return m, starts
        M = np.zeros((len(starts), P), np.float32)
    return M, starts


def _dense_scores(T: np.ndarray, F: np.ndarray, W: int, H: int, stride: int, cols: int = 4096, segs: int = 32
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Summed cosines of every track segment against every film position, and the segments' first frames.

    T (track frames, d), F (film frames, d). Segment k covers track frames
    [k*H, k*H + W), of which every `stride`-th enters the sum; position p
    pairs the segment's first frame with film frame p. Returns M (segments,
    positions = len(F) - W + 1) and the first frames of the segments. The
    products run over blocks of `cols` positions and `segs` segments, so that
    a block's product stays in cache while its diagonals are summed (the sums
    are memory-bound: over whole rows of a two-hour film they took as long as
    the products); each M element is the same sum in the same order either way.
    """
    Wj = max(1, (W + stride - 1) // stride)
    reach = (Wj - 1) * stride
    P = len(F) - reach
    if len(T) < W // 2 or P <= 0:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    starts = np.arange(0, max(1, len(T) - W + 1), H)
    last = len(T) - W if len(T) > W and starts[-1] < len(T) - W else None  # the track's end: one shifted segment
    Tp = np.vstack([T, np.zeros((W + stride, T.shape[1]), np.float32)])  # a short track: its segment zero-padded
    Ft = np.ascontiguousarray(F.T)
    M = np.empty((len(starts) + (last is not None), P), np.float32)
    hs = H // stride if H % stride == 0 else 0
    for p0 in range(0, P, cols):
        n = min(P, p0 + cols) - p0
        Fb = Ft[:, p0: p0 + n + reach]
        for c0 in range(0, len(starts), segs):
            st = starts[c0:c0 + segs]
            acc = np.zeros((len(st), n), np.float32)
            if hs:
                # the block's frames, every stride-th: segment k's j-th frame is row (k - k0) * hs + j of G
                G = Tp[st[0]: st[-1] + Wj * stride: stride] @ Fb
                for j in range(Wj):
                    acc += G[j: j + hs * (len(st) - 1) + 1: hs, j * stride: j * stride + n]
            else:
                for j in range(Wj):
                    acc += Tp[st + j * stride] @ Fb[:, j * stride: j * stride + n]
            M[c0:c0 + len(st), p0:p0 + n] = acc
        if last is not None:
            M[-1, p0:p0 + n] = sum(Tp[last + j * stride] @ Fb[:, j * stride: j * stride + n] for j in range(Wj))
    if last is not None:
        starts = np.append(starts, last)
    return M, starts
