"""Find every use of a soundtrack's tracks in a film (mode `chromaprint`).

1. Candidates, two sources:
   * Chromaprint: an index of the tracks' raw 32-bit sub-fingerprints; every
     film item that hits it votes for (track, film-minus-track offset).
     Offsets with enough aligned votes are candidates. Cheap and exact where
     the music is clear.
   * Band-frame cross-correlation: every few-second segment of every track is
     correlated with the whole film at every lag at once (one matrix product
     over unfolded film frames). A cosine similarity of log-band frames
     degrades gracefully under dialogue where Chromaprint's bits flip.
   Both run on mid and, for stereo films, on the side signal (L-R), where
   centred dialogue cancels; and on the tracks printed at a grid of speeds
   (`StampSettings.grid_speeds`: 1 and steps of `cues.speed_step` across
   `cues.speeds`), so that a film at any speed of the range has a candidate
   within half a step of its speed.
2. Speed and verification (`estimate`): the candidate's speed is estimated,
   first from log-band frames (the track laid on the film at speeds within
   half a grid step, to ~0.1 %), then from the drift of the lag along the
   window (`drift_fit`: GCC-PHAT of short frames, a Hough transform of the
   lag's line, to ~1e-5); a speed already verified in the film is tried first.
   The track rendered at that speed (`TrackAudio.span`: windowed sinc at any
   speed) is then checked against the film by a phase-coherent test of the
   waveforms (STFT GCC-PHAT): the film carries the very recording of the
   track, so a true alignment gives a sharp peak far above chance; its
   position is the sample-exact offset. A time-stretched transfer (pitch
   kept: WSOLA grains within a few ms of the speed's line) does not hold
   phase over a window; where GCC-PHAT fails, or finds only a short cue, the
   track at its own pitch is checked frame by frame along the line
   (`StretchCoherence`, `stretch_check`), accepted at
   `cues.verify.stretch_min_z`. In a film whose stretched music is so
   verified, music stretched without a phase to hold (a phase vocoder;
   WSOLA over sustained music) is read by its spectra along the transfer's
   line instead (`SpectrumCoherence`, `spectrum_check`), accepted at
   `cues.verify.spectrum_min_z`.
3. Extent: at the verified lag, the per-frame phase coherence of film and
   track (n_fft 1024, about 0.05 s frames) against its spread at off lags marks
   where the track plays; runs are merged, short ones and those whose mean z
   is under the threshold (chance peaks bridged by the merge) dropped, and
   each boundary put at the best two-level step fit. Two cues of one
   resampled alignment are one where the spectra of the gap between them
   play on along its line (`SpectrumCoherence`, `plays_through`): music whose
   phase drowns for a while under speech, a room or a small loudspeaker.
   A cue longer than the checked window gets its speed polished over its
   whole span and its extent computed again (the lag drifts by under half a
   sample across it). The coherence is computed
   from the checked window outward, a chunk at a time, for as long as the
   track still plays near the edge: a cue costs its own length, not the
   length of its track.
4. Overlaps between cues are resolved in favour of the stronger cue.

All FFTs are scipy's in single precision (numpy's float32 FFT is several
times slower on batches of frames).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.fft as sfft
from scipy.ndimage import uniform_filter1d

from .prints import CHROMAPRINT_HOP, BandFramer, BandSpec, FilmAudio, Prints, TrackAudio, normalise_bands
from .segments import SegmentScorer
from .settings import StampSettings

log = logging.getLogger(__name__)

REFINE_SECONDS = 24.0      # track excerpt for the band-frame speed estimate
SPEED_BAND_STEP = 0.0005   # its speed steps (0.05 %)
SPEED_SLACK = 1e-3         # an estimate this close outside cues.speeds is held to the range, farther is no match
POLISH_ETA = 6e-4          # a checked alignment's speed is polished within this relative range
FINE_SPEED_SNAP = 2e-3     # the fine candidate search reads a track at its print's grid speed this close to the film's
DUPLICATE_SCORE = 0.5       # another track's candidate inside a cue scoring this share of the cue's is checked
REPEAT_RIVAL = 1.15          # a candidate inside a cue of its own track at another offset is checked where its GCC-PHAT
                             # z over its window exceeds the cue's own alignment's there by this factor
RIVAL_SPAN_SECONDS = 24.0    # where the window reads them within that factor of each other (a near tie), both are read
                             # over this much of the cue about the candidate (0: the window only)
BRIDGE_BY_SPECTRA = True   # a gap inside a resampled cue that its phases leave is read by its spectra (`extent`)
TRACK_PAUSE_DB = 20.0      # ... and is one cue with its pieces where the track itself is this far under their level
TRACK_PAUSE_SECONDS = 16.0  # ... over a gap of at most this long (a rest or a break inside the track)
DRIFT_TRACK = 2.0          # the extent follows a drift of the lag this many samples either way (DriftCoherence)
DRIFT_STEP = 0.5           # in steps of this many samples
STRETCH_GRAIN_SPEED = 1e-4  # a resampled reading this close to speed 1 may be a stretcher's grains ...
STRETCH_SPEED_APART = 3e-4  # ... when the stretch reading's speed is this far from 1
STRETCH_MORE_SECONDS = 0.5  # ... and it explains this much more film than the resampled reading
STRETCH_JITTER_SECONDS = 0.015  # a time-stretcher's grains lie within this of the line (ffmpeg atempo, WSOLA)
STRETCH_SMOOTH_SECONDS = 4.0  # a time-stretched cue's extent also reads its coherence smoothed this long
SPECTRUM_TIME_SECONDS = 2.0  # SpectrumCoherence: the track's moving mean over this long is taken out of its frames
SPECTRUM_BINS = 9            # and each frame's (film and track) over this many bins (about 100 Hz at 1024, 11025 Hz)
SPECTRUM_NULL_SECONDS = (3.7, -5.3)  # its nulls: the track this far off the line (not beat-like multiples)
SPECTRUM_SEARCH_SECONDS = 0.25  # the spectrum reading searches the lag this far either side of the candidate's
SPECTRUM_SEARCH_STEP = 256   # in steps of this many samples (23 ms at 11025 Hz; its frames are 93 ms)
SPECTRUM_SCREEN = 0.5        # and reads REFINE_SECONDS where the checked window reaches this share of its threshold
SPECTRUM_TEMPOS = np.round(np.arange(-0.05, 0.05001, 0.0025), 4)  # the tempos of the lines tried through its offsets
SPECTRUM_TEMPO = 0.0075      # the best of which must lie this close to the film's speed (another rendition: 2-4 % off)


@dataclass
class Track:
    """One soundtrack track printed at one grid speed: its prints and (lazily) its PCM, rendered at any speed."""

    name: str
    path: Path
    speed: float
    prints: Prints
    loader: object = None  # callable() -> TrackAudio (speed 1; spans are rendered at self.speed)
    _audio: TrackAudio | None = None

    def audio(self) -> TrackAudio:
        if self._audio is None:
            self._audio = self.loader()  # type: ignore[misc]
        return self._audio

    @property
    def channels(self) -> tuple[str, ...]:
        return self.audio().channels

    @property
    def n_samples(self) -> int:
        """Length at this track's grid speed, in samples."""
        return self.audio().length(self.speed)

    def length(self, speed: float) -> int:
        """Length played at `speed`, in samples."""
        return self.audio().length(speed)

    def span(self, channel: str, start: int, stop: int, speed: float | None = None) -> np.ndarray:
        """Samples [start, stop) of one channel played at `speed` (default: the grid speed), float32, zero outside."""
        return self.audio().span(channel, start, stop, self.speed if speed is None else speed)

    def release(self) -> None:
        self._audio = None


@dataclass
class Candidate:
    track: int          # index into the track list (a track at one grid speed)
    channel: str
    lag: float          # film time minus track time at the grid speed, seconds
    t0: float           # track span that supports it (seconds at the grid speed)
    t1: float
    score: float        # z-like strength, for ordering
    source: str


# ---------------------------------------------------------------- candidates: Chromaprint votes


def sub_keys(fp: np.ndarray, key_bits: int) -> np.ndarray:
    """Split each 32-bit item into 32/key_bits keys, tagged with their part: (n, parts) int64.

    Chromaprint items of the same audio differ in about a tenth of their bits
    even between a clean track and a clean mix (the film's frames do not fall
    on the track's), so whole 32-bit items rarely agree; a part of 16 bits
    agrees far more often and is still rare enough to index.
    """
    parts = 32 // key_bits
    fp = np.asarray(fp, dtype=np.int64)
    mask = (1 << key_bits) - 1
    return np.stack([((fp >> (k * key_bits)) & mask) + (k << key_bits) for k in range(parts)], axis=1)


class KeyIndex:
    """Sorted sub-keys of many items, queried for every (query item, index item) pair sharing a key."""

    def __init__(self, keys: np.ndarray):
        self.parts = keys.shape[1]
        flat = keys.reshape(-1)
        self.order = np.argsort(flat, kind="stable")
        self.sorted = flat[self.order]

    def query(self, query_keys: np.ndarray, max_bucket: int) -> tuple[np.ndarray, np.ndarray]:
        """(query item, index item) index pairs; keys held more than max_bucket times are skipped."""
        q = query_keys.reshape(-1)
        lo = np.searchsorted(self.sorted, q, "left")
        hi = np.searchsorted(self.sorted, q, "right")
        cnt = hi - lo
        ok = (cnt > 0) & (cnt <= max_bucket)
        if not ok.any():
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        c = cnt[ok]
        qi = np.repeat(np.nonzero(ok)[0], c)
        within = np.arange(len(qi)) - np.repeat(np.cumsum(c) - c, c)
        idx = self.order[np.repeat(lo[ok], c) + within] // self.parts
        return qi // self.parts, idx


def hash_candidates(film: Prints, tracks: list[Track], s: StampSettings) -> list[Candidate]:
    out: list[Candidate] = []
    hs = s.hash
    for ch in film.channels:
        vals, gid, pos = [], [], []
        for g, t in enumerate(tracks):
            if ch in t.prints.fp and len(t.prints.fp[ch]):
                fp = t.prints.fp[ch]
                vals.append(fp)
                gid.append(np.full(len(fp), g, dtype=np.int64))
                pos.append(np.arange(len(fp), dtype=np.int64))
        ffp = film.fp.get(ch)
        if not vals or ffp is None or not len(ffp):
            continue
        vals, gid, pos = sub_keys(np.concatenate(vals), hs.key_bits), np.concatenate(gid), np.concatenate(pos)
        fi, idx = KeyIndex(vals).query(sub_keys(ffp, hs.key_bits), hs.max_bucket)
        if not len(fi):
            continue
        g = gid[idx]
        lag = fi - pos[idx]
        span = len(ffp) + int(vals.size) + 2
        key = g * (2 * span) + (lag + span)
        # vote with the lag and its neighbours (Chromaprint frames drift by a hop)
        uk, inv, c = np.unique(key, return_inverse=True, return_counts=True)
        near = c.copy()
        for d in (-1, 1):
            j = np.searchsorted(uk, uk + d)
            hit = (j < len(uk)) & (uk[np.minimum(j, len(uk) - 1)] == uk + d)
            near[hit] += c[j[hit]]
        good = np.nonzero(near >= hs.min_votes)[0]
        if not len(good):
            continue
        # each vote's film item, grouped by key: the support of a candidate is the verify window
        # that holds most of its votes (chance votes of the same track and lag can lie far away)
        order = np.lexsort((fi, inv))
        fs_sorted = fi[order]
        first = np.concatenate([[0], np.cumsum(c)])
        win = max(1, int(round(s.verify.window_seconds / CHROMAPRINT_HOP)))
        for u in good:
            # keep local maxima only
            if any(near[j] > near[u] for j in np.searchsorted(uk, [uk[u] - 1, uk[u] + 1]) if j < len(uk) and abs(uk[j] - uk[u]) == 1):
                continue
            gg = int(uk[u] // (2 * span))
            lg = int(uk[u] % (2 * span) - span)
            parts = [fs_sorted[first[v]:first[v + 1]] for v in (u - 1, u, u + 1)
                     if 0 <= v < len(uk) and abs(int(uk[v]) - int(uk[u])) <= 1]
            votes = np.sort(np.concatenate(parts))
            inside = np.searchsorted(votes, votes + win, "left") - np.arange(len(votes))  # votes in [v, v + win)
            a = int(np.argmax(inside))
            f0, f1 = votes[a] * CHROMAPRINT_HOP, (votes[a + inside[a] - 1] + 1) * CHROMAPRINT_HOP
            lag_s = lg * CHROMAPRINT_HOP
            out.append(Candidate(gg, ch, lag_s, f0 - lag_s, f1 - lag_s, float(near[u]), "chromaprint"))
    return out


# ---------------------------------------------------------------- candidates: band-frame cross-correlation


def xcorr_candidates(film: Prints, tracks: list[Track], s: StampSettings) -> list[Candidate]:
    """Every track segment against every film position: z-scores of summed frame cosines (`SegmentScorer`, the
    film's side made once per channel), laid out (segments, positions) so that each segment's mean, spread and
    peaks are read along contiguous rows; a peak's z-score is (peak - mean) / spread of its row. Segments with
    fewer than half their frames live (the track's silence) are not searched.
    """
    xs = s.xcorr
    fs = s.bands.frame_seconds
    W = max(2, int(round(xs.segment_seconds / fs)))
    H = max(1, int(round(xs.hop_seconds / fs)))
    out: list[Candidate] = []
    for ch in film.channels:
        F = film.bands[ch]
        if len(F) < W:
            continue
        scorer = SegmentScorer(F, W, H, 1)
        for g, t in enumerate(tracks):
            B = t.prints.bands.get(ch)
            if B is None:
                continue
            M, starts = scorer(B)
            live = np.r_[0, np.cumsum(np.abs(B).sum(axis=1) > 0)]
            rows = np.flatnonzero(live[np.minimum(starts + W, len(B))] - live[starts] >= W // 2)
            if not len(rows):
                continue
            # every peak at z >= min_z, the strongest first, at least a segment apart, at most peaks_per_segment
            # (a track used many times in a film peaks at every use)
            for j, p, z in _row_peaks(M[rows] if len(rows) < len(starts) else M, xs.min_z, W, xs.peaks_per_segment):
                a = int(starts[rows[j]])
                out.append(Candidate(g, ch, (p - a) * fs, a * fs, (a + W) * fs, z, "xcorr"))
    return out


def _row_peaks(M: np.ndarray, min_z: float, sep: int, most: int) -> list[tuple[int, int, float]]:
    """(row, position, z) of every peak of each row of M at z >= min_z against the row's mean and spread, the
    strongest first, at least `sep` positions apart, at most `most` per row."""
    P = M.shape[1]
    ones = np.ones(P, dtype=np.float32)
    mu = (M @ ones) / P
    sd = np.sqrt(np.maximum(np.einsum("ij,ij->i", M, M, dtype=np.float64) / P - mu.astype(np.float64) ** 2,
                            0.0)).astype(np.float32) + 1e-9
    rows, pos = np.nonzero(M >= (mu + min_z * sd)[:, None])
    out: list[tuple[int, int, float]] = []
    if not len(rows):
        return out
    val = M[rows, pos]
    order = np.lexsort((-val, rows))
    rows, pos, val = rows[order], pos[order], val[order]
    bounds = np.concatenate([[0], np.nonzero(np.diff(rows))[0] + 1, [len(rows)]])
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        j = int(rows[r0])
        kept: list[int] = []
        for p, v in zip(pos[r0:r1], val[r0:r1]):
            if any(abs(int(p) - q) < sep for q in kept):
                continue
            kept.append(int(p))
            out.append((j, int(p), float((v - mu[j]) / sd[j])))
            if len(kept) >= most:
                break
    return out


def fine_candidates(film: FilmAudio, tracks: list[Track], s: StampSettings, speed: float,
                    skip: list[tuple[float, float]] = (), pitch_kept: bool = False) -> list[Candidate]:
    """Candidates from fine spectral frames (`filmscore.cues.fine`) of every track played at `speed` against the
    film's mid, in the band the film carries; film positions whose segment lies inside a span of `skip` (film
    seconds: cues already found) are not searched. `pitch_kept`: the film time-stretches its music (a
    pitch-corrected transfer): each track is read at `speed` with its pitch as released (the frames' bins are
    11 Hz wide, so a track resampled by 4 % would put every partial bins away from the film's)."""
    from .fine import FineFrames, film_bandwidth

    fs_ = s.fine
    sr = s.sample_rate
    ch = "mid"
    if film.n_samples < fs_.n_fft * 4:
        return []
    bw = film_bandwidth(film, ch, sr)
    fmax = min(fs_.fmax, bw)
    ff = FineFrames(sr, fs_.n_fft, fs_.fmin, fmax, s.bands.highpass_seconds)
    if ff.n_bins < 16:
        return []
    fr = ff.hop / sr
    W = max(2, int(round(fs_.segment_seconds / fr)))
    H = max(fs_.track_stride, int(round(fs_.hop_seconds / fr / fs_.track_stride)) * fs_.track_stride)
    F = ff(film.pcm(ch, 0, film.n_samples))
    for a, b in skip:  # frames inside found cues: zero (their positions score nothing)
        F[max(0, int(a / fr) + 1): max(0, int(b / fr) - W // 2)] = 0.0
    scorer = SegmentScorer(F, W, H, fs_.track_stride)
    del F
    # one rendering per track: the grid-speed print nearest to `speed` names the candidate
    by_name: dict[str, int] = {}
    for g, t in enumerate(tracks):
        k = by_name.get(t.name)
        if k is None or abs(t.speed - speed) < abs(tracks[k].speed - speed):
            by_name[t.name] = g
    out: list[Candidate] = []
    for name, g in by_name.items():
        tr = tracks[g]
        # a speed within FINE_SPEED_SNAP of the print's grid speed is read at the grid speed (rendered exactly and
        # cheaply, by polyphase filters; the frames cannot tell them apart: 0.1 % is a tenth of a bin at 1 kHz)
        sp = tr.speed if abs(speed / tr.speed - 1) < FINE_SPEED_SNAP else speed
        if ch not in tr.channels:
            T = np.zeros((0, ff.n_bins), np.float32)
        elif pitch_kept:  # frame i of the track read at sample i * hop * speed of the release: its tempo, not its pitch
            sp = speed
            T = ff(tr.audio().whole(ch, 1.0), step=speed)
        else:
            T = ff(tr.audio().whole(ch, sp))
        M, starts = scorer(T)
        if not len(starts):
            continue
        for k, p, z in _row_peaks(M, fs_.min_z, W, s.xcorr.peaks_per_segment):
            a = int(starts[k])
            mid_native = (a + W / 2) * fr * sp               # track seconds as released
            t_film = (p + W / 2) * fr                         # film seconds at the segment's middle
            mid_g = mid_native / tr.speed                      # at the print's grid speed
            half = W * fr * sp / tr.speed / 2
            out.append(Candidate(g, ch, t_film - mid_g, mid_g - half, mid_g + half, z, "fine"))
    log.debug("%s: fine frames %.0f-%.0f Hz (the film carries up to %.0f Hz) at speed %.6f (%s): %d candidates",
              film.path.name, fs_.fmin, fmax, bw, speed, "pitch kept" if pitch_kept else "resampled", len(out))
    return out


def merge_candidates(cands: list[Candidate], tol: float = 0.5, free: Callable[[Candidate], bool] | None = None
                     ) -> list[Candidate]:
    """One candidate per (track, lag within tol): the strongest, its score raised by its supporters'. `free`: where
    given, the group's window is its strongest vote's for which `free` holds, where it has one (the second pass
    checks the film where no cue explains it yet: an edited cue's piece beside a found piece of the same track
    shows there, though its strongest vote may lie under the found piece)."""
    by: dict[int, list[Candidate]] = {}
    for c in cands:
        by.setdefault(c.track, []).append(c)
    out = []
    for g, cs in by.items():
        cs.sort(key=lambda c: c.lag)
        group: list[Candidate] = []
        for c in cs + [None]:  # type: ignore[list-item]
            if c is not None and group and c.lag - group[-1].lag <= tol:
                group.append(c)
                continue
            if group:
                best = max(group, key=lambda c: c.score)
                score = best.score * (1 + 0.1 * (len(group) - 1))
                if free is not None and not free(best):
                    best = max((c for c in group if free(c)), key=lambda c: c.score, default=best)
                out.append(Candidate(g, best.channel, best.lag, best.t0, best.t1, score, best.source))
            group = [c] if c is not None else []
    out.sort(key=lambda c: -c.score)
    return out


# ---------------------------------------------------------------- verification: STFT GCC-PHAT


@functools.lru_cache(maxsize=64)
def _band(n_fft: int, sr: int, fmin: float, fmax: float) -> slice:
    """The rfft bins of [fmin, fmax] Hz for an n_fft-point transform."""
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    sel = np.nonzero((f >= fmin) & (f <= fmax))[0]
    return slice(int(sel[0]), int(sel[-1]) + 1) if len(sel) else slice(0, 0)


@functools.lru_cache(maxsize=16)
def _hann(n: int) -> np.ndarray:
    """np.hanning(n) in float32, made once per length (read-only)."""
    w = np.hanning(n).astype(np.float32)
    w.flags.writeable = False
    return w


def _padded(x: np.ndarray, n: int) -> np.ndarray:
    """x as float32, zero-padded at its end to at least n samples."""
    x = x.astype(np.float32, copy=False)
    return np.pad(x, (0, n - len(x))) if len(x) < n else x


def _gcc_frames(x: np.ndarray, y: np.ndarray, max_lag: int, n_fft: int, sr: int, fmin: float, fmax: float
                ) -> np.ndarray:
    """GCC-PHAT, where y sits in x (x = y delayed by max_lag + tau, tau in [-max_lag, max_lag]): the whitened
    cross-spectra of its frames (band bins, one row per frame), read by `_gcc_peak` from their mean.

    x is 2*max_lag samples longer than y. Frames of y (n_fft, half overlap) are
    matched with the frames of x that cover every lag; cross-spectra are
    whitened (PHAT) per frame and averaged, which lets the bins where the
    music is not masked carry the decision.
    """
    N = n_fft + 2 * max_lag
    N2 = sfft.next_fast_len(N, real=True)
    hop = n_fft // 2
    band = _band(N2, sr, fmin, fmax)
    win = _hann(n_fft)
    n_frames = max(1, 1 + (len(y) - n_fft) // hop)
    need_y = (n_frames - 1) * hop + n_fft
    y = _padded(y, need_y)
    x = _padded(x, need_y + 2 * max_lag)
    ys = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop][:n_frames] * win
    xs = np.lib.stride_tricks.sliding_window_view(x, N)[::hop][:n_frames]
    Y = sfft.rfft(ys, N2, axis=1, overwrite_x=True)[:, band]
    X = sfft.rfft(xs, N2, axis=1)[:, band]
    C = X * np.conj(Y)
    C /= np.abs(C) + 1e-12
    return C


def _gcc_peak(mean: np.ndarray, max_lag: int, n_fft: int, sr: int, fmin: float, fmax: float) -> tuple[int, float]:
    """GCC-PHAT's lag tau and the peak's z-score from the mean of its frames' whitened cross-spectra
    (`_gcc_frames`)."""
    N2 = sfft.next_fast_len(n_fft + 2 * max_lag, real=True)
    acc = np.zeros(N2 // 2 + 1, dtype=np.complex64)
    acc[_band(N2, sr, fmin, fmax)] = mean
    r = sfft.irfft(acc, N2)[: 2 * max_lag + 1]
    k = int(np.argmax(r))
    mask = np.ones(len(r), bool)
    mask[max(0, k - 32):k + 33] = False
    bg = r[mask] if mask.sum() > 16 else r
    z = float((r[k] - np.median(bg)) / (bg.std() + 1e-12))
    return k - max_lag, z


# ---------------------------------------------------------------- extent: phase coherence at the lag


class Coherence:
    """Per-frame phase coherence of the film and a track at one lag (film = track + lag samples).

    The track plays at `speed` (default: its grid speed). Frames (n_fft, half
    overlap) are numbered from the start of the overlap of track and film; any range of them can be computed, in any order, with the
    same result as computing all at once. Also the same at off lags of
    `null_shifts` whole frames (the chance level of this very stretch of film):
    the track's frames are simply paired with film frames that many hops away.
    """

    def __init__(self, film: FilmAudio, tr: Track, ch: str, lag: int, n_fft: int, sr: int, fmin: float, fmax: float,
                 null_shifts: tuple[int, ...], speed: float | None = None):
        self.film, self.tr, self.ch, self.lag = film, tr, ch, lag
        self.speed = tr.speed if speed is None else speed
        self.n_fft, self.hop = n_fft, n_fft // 2
        self.f0 = max(0, lag)
        f1 = min(film.n_samples, lag + tr.length(self.speed))
        self.n = 1 + (f1 - self.f0 - n_fft) // self.hop if f1 - self.f0 >= n_fft else 0
        self.win = _hann(n_fft)
        self.band = _band(n_fft, sr, fmin, fmax)
        self.shifts = null_shifts
        self.K = max((abs(k) for k in null_shifts), default=0)
        self.lo = self.hi = 0  # computed frames [lo, hi)
        self.coh = np.zeros(0, np.float32)
        self.nulls = [np.zeros(0, np.float32) for _ in null_shifts]
        self.null_ok = [np.zeros(0, bool) for _ in null_shifts]

    def _unit_spectra(self, sig: np.ndarray, n: int) -> np.ndarray:
        """Unit-modulus spectra (band bins) of n frames, as float32 (re, im) pairs: (n, 2 * bins)."""
        F = sfft.rfft(np.lib.stride_tricks.sliding_window_view(sig, self.n_fft)[:: self.hop][:n] * self.win,
                      axis=1, overwrite_x=True)[:, self.band]
        F /= np.abs(F) + 1e-9
        return np.ascontiguousarray(F).view(np.float32)

    def _compute(self, a: int, b: int) -> tuple[np.ndarray, list, list]:
        """Coherence of frames [a, b) and their null values (pairs outside [0, n) are marked not ok)."""
        K = self.K
        e0, e1 = max(0, a - K), min(self.n, b + K)  # frames whose spectra are needed
        s0 = self.f0 + e0 * self.hop
        m = e1 - e0
        length = (m - 1) * self.hop + self.n_fft
        X = self._film_spectra(a, b)
        Y = self._unit_spectra(self.tr.span(self.ch, s0 - self.lag, s0 - self.lag + length, self.speed), m)
        yl = np.abs(Y).sum(axis=1) > 0  # track frames that carry signal
        nb = X.shape[1] // 2
        coh = np.einsum("ij,ij->i", X, Y[a - e0:b - e0]) / nb
        nulls, oks = self._nulls(a, b, e0, e1, yl, lambda i, j: np.einsum("ij,ij->i", X[i - (a - e0)], Y[j]) / nb)
        return coh.astype(np.float32), nulls, oks

    def _film_spectra(self, a: int, b: int) -> np.ndarray:
        """`_unit_spectra` of film frames [a, b): the only film frames a block's values and nulls pair (a null
        pairs a film frame of the block with a track frame off it)."""
        sa = self.f0 + a * self.hop
        return self._unit_spectra(self.film.pcm(self.ch, sa, sa + (b - a - 1) * self.hop + self.n_fft), b - a)

    def _nulls(self, a: int, b: int, e0: int, e1: int, yl: np.ndarray, pair, cols: tuple[int, ...] = ()
               ) -> tuple[list, list]:
        """Each null shift's values for frames [a, b): film frame i paired with track frame i - k, by
        `pair(film rows, track rows)` (row indices from e0 into the frames computed, [e0, e1); `cols`: the shape
        of one pair's value); pairs outside them, or onto a track frame without signal (`yl`), are marked not
        ok."""
        ia = np.arange(a, b)
        nulls, oks = [], []
        for k in self.shifts:
            j = ia - k  # track frame paired with film frame i
            ok = (j >= e0) & (j < e1)
            ok[ok] &= yl[j[ok] - e0]
            v = np.zeros((len(ia),) + cols, np.float32)
            if ok.any():
                v[ok] = pair(ia[ok] - e0, j[ok] - e0)
            nulls.append(v)
            oks.append(ok)
        return nulls, oks

    def extend(self, a: int, b: int) -> None:
        """Make frames [a, b) (clipped to the overlap) computed; the range stays contiguous."""
        a, b = max(0, a), min(self.n, b)
        if self.hi <= self.lo:
            if b > a:
                self.coh, self.nulls, self.null_ok = self._compute(a, b)
                self.lo, self.hi = a, b
            return
        if a < self.lo:
            c, nl, ok = self._compute(a, self.lo)
            self.coh = np.concatenate([c, self.coh])
            self.nulls = [np.concatenate([u, v]) for u, v in zip(nl, self.nulls)]
            self.null_ok = [np.concatenate([u, v]) for u, v in zip(ok, self.null_ok)]
            self.lo = a
        if b > self.hi:
            c, nl, ok = self._compute(self.hi, b)
            self.coh = np.concatenate([self.coh, c])
            self.nulls = [np.concatenate([u, v]) for u, v in zip(self.nulls, nl)]
            self.null_ok = [np.concatenate([u, v]) for u, v in zip(self.null_ok, ok)]
            self.hi = b

    def z(self, k: int) -> np.ndarray:
        """Smoothed coherence of the computed frames as a z-score against the smoothed nulls."""
        sm = _smooth(self.coh, k)
        null = [_smooth(v[ok], k) for v, ok in zip(self.nulls, self.null_ok) if ok.sum() > k]
        null = np.concatenate(null) if null else sm
        return (sm - float(np.median(null))) / (float(np.std(null)) + 1e-9)


class DriftCoherence(Coherence):
    """`Coherence` that follows a small drift of the lag: each frame's value is the best within `track` samples.

    A speed estimated to e (relative) moves the lag by e * sample_rate samples
    a second; at 11025 Hz an error of 5e-6 (the resolution of a speed fitted
    over one 8 s window) is a sample every 18 s, and a sample is enough to
    scatter the phase of the upper bins: a long cue at a slightly wrong speed
    would cohere only around the checked window. Here each frame's cross-spectrum
    is read at lag offsets of `DRIFT_STEP` samples across [-track, track] (a
    phase ramp per offset), every offset's coherence is smoothed along time,
    and each frame takes the best offset: the extent holds while the drift
    stays within `track` samples. The nulls go through the same maximum, so
    chance coherence stays chance. `offset(k)` gives each frame's best offset
    (sub-sample, parabolic), from which `line_fit` refits the speed and lag.
    """

    def __init__(self, film: FilmAudio, tr: Track, ch: str, lag: int, n_fft: int, sr: int, fmin: float, fmax: float,
                 null_shifts: tuple[int, ...], speed: float | None = None, track: float = 2.0):
        super().__init__(film, tr, ch, lag, n_fft, sr, fmin, fmax, null_shifts, speed)
        self.deltas = np.arange(-track, track + 1e-9, DRIFT_STEP)
        bins = np.arange(self.band.start, self.band.stop)
        # X conj(Y) of a film delayed by d samples more than the lag turns as exp(-i w d): exp(+i w delta) undoes it
        self.ramp = np.exp(1j * 2 * np.pi * bins[:, None] * self.deltas[None, :] / n_fft).astype(np.complex64)
        self.coh = np.zeros((0, len(self.deltas)), np.float32)
        self.nulls = [np.zeros((0, len(self.deltas)), np.float32) for _ in null_shifts]

    def _compute(self, a: int, b: int) -> tuple[np.ndarray, list, list]:
        K = self.K
        e0, e1 = max(0, a - K), min(self.n, b + K)
        s0 = self.f0 + e0 * self.hop
        m = e1 - e0
        length = (m - 1) * self.hop + self.n_fft
        X = self._film_spectra(a, b).view(np.complex64)
        Y = self._unit_spectra(self.tr.span(self.ch, s0 - self.lag, s0 - self.lag + length, self.speed), m
                               ).view(np.complex64)
        yl = np.abs(Y).sum(axis=1) > 0
        nb = X.shape[1]
        coh = ((X * np.conj(Y[a - e0:b - e0])) @ self.ramp).real / nb
        nulls, oks = self._nulls(a, b, e0, e1, yl,
                                 lambda i, j: ((X[i - (a - e0)] * np.conj(Y[j])) @ self.ramp).real / nb,
                                 (len(self.deltas),))
        return coh.astype(np.float32), nulls, oks

    def _best(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        sm = _smooth(self.coh, k)
        return sm, np.argmax(sm, axis=1)

    def z(self, k: int) -> np.ndarray:
        sm, i = self._best(k)
        best = sm[np.arange(len(sm)), i]
        null = [_smooth(v[ok], k).max(axis=1) for v, ok in zip(self.nulls, self.null_ok) if ok.sum() > k]
        null = np.concatenate(null) if null else best
        return (best - float(np.median(null))) / (float(np.std(null)) + 1e-9)

    @property
    def zero(self) -> int:
        """The column of offset 0 (the lag itself)."""
        return int(np.argmin(np.abs(self.deltas)))

    def z_fixed(self, k: int) -> np.ndarray:
        """z of the smoothed coherence at offset 0 alone against its own nulls: `Coherence.z` at the lag."""
        j = self.zero
        sm = _smooth(self.coh[:, j], k)
        null = [_smooth(v[ok, j], k) for v, ok in zip(self.nulls, self.null_ok) if ok.sum() > k]
        null = np.concatenate(null) if null else sm
        return (sm - float(np.median(null))) / (float(np.std(null)) + 1e-9)

    def at_best(self, k: int) -> np.ndarray:
        """Each frame's (unsmoothed) coherence at its best smoothed offset."""
        _, i = self._best(k)
        return self.coh[np.arange(len(self.coh)), i]

    def offset(self, k: int) -> np.ndarray:
        """Each computed frame's best lag offset (samples, sub-sample by a parabola through the smoothed values)."""
        sm, i = self._best(k)
        r = np.arange(len(sm))
        il, ir = np.clip(i - 1, 0, sm.shape[1] - 1), np.clip(i + 1, 0, sm.shape[1] - 1)
        a, b, c = sm[r, il], sm[r, i], sm[r, ir]
        den = a - 2 * b + c
        frac = np.where((il < i) & (ir > i) & (den < 0), 0.5 * (a - c) / np.where(den < 0, den, -1.0), 0.0)
        return self.deltas[i] + frac * DRIFT_STEP

    def line_fit(self, k: int, good: np.ndarray) -> tuple[float, float] | None:
        """(speed, lag) refitted to the best offsets of the `good` computed frames; None when too few or too short.

        Film sample t holds rendered track sample t - lag - d(t), d = c0 + c1 t;
        rendered sample j is sample j * speed as released, so the track as
        released plays at speed * (1 - c1) with its sample 0 at (lag + c0) / (1 - c1).
        """
        if good.sum() < 16:
            return None
        idx = np.nonzero(good)[0]
        t = (self.f0 + (idx + self.lo) * self.hop + self.n_fft / 2).astype(np.float64)
        if t[-1] - t[0] < 4 * self.n_fft:
            return None
        d = self.offset(k)[idx].astype(np.float64)
        tc = float(np.mean(t))
        c1, c0c = np.polyfit(t - tc, d, 1)
        c0 = c0c - c1 * tc  # offset at film sample 0
        return self.speed * (1 - c1), (self.lag + c0) / (1 - c1)


class StretchCoherence(Coherence):
    """Per-frame phase coherence where the film plays the track time-stretched, its pitch kept (`speed` != 1).

    A time-stretcher (WSOLA, as ffmpeg's atempo and PAL pitch correction)
    lays copies of short grains of the recording along the film's time, each
    at the pitch as released but at a lag that follows the line film sample =
    lag + track sample / speed only to within its search tolerance. So each
    film frame is paired with the track frame (at speed 1: the pitch as
    released) the line puts there, and the coherence of the pair is the
    largest GCC-PHAT value within `jitter` samples of the line. The nulls pair
    the track frames with film frames `null_shifts` hops away, as in
    `Coherence`, through the same maximum, so chance coherence stays chance.
    `peak` holds each computed frame's best offset from the line (samples).
    """

    def __init__(self, film: FilmAudio, tr: Track, ch: str, lag: int, n_fft: int, sr: int, fmin: float, fmax: float,
                 null_shifts: tuple[int, ...], speed: float, jitter: int):
        super().__init__(film, tr, ch, lag, n_fft, sr, fmin, fmax, null_shifts, speed)
        self.jitter = int(jitter)
        self.N = sfft.next_fast_len(n_fft + 2 * self.jitter, real=True)
        self.band = _band(self.N, sr, fmin, fmax)
        self.nb = max(1, self.band.stop - self.band.start)
        self.peak = np.zeros(0, np.float32)

    def _pairs(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        full = np.zeros((len(X), self.N // 2 + 1), np.complex64)
        full[:, self.band] = X * np.conj(Y)
        r = sfft.irfft(full, self.N, axis=1)[:, : 2 * self.jitter + 1] * (self.N / (2.0 * self.nb))
        return r.max(axis=1).astype(np.float32), (r.argmax(axis=1) - self.jitter).astype(np.float32)

    def _compute(self, a: int, b: int) -> tuple[np.ndarray, list, list]:
        K, J, hop, n_fft = self.K, self.jitter, self.hop, self.n_fft
        e0, e1 = max(0, a - K), min(self.n, b + K)
        m = e1 - e0
        starts = self.f0 + np.arange(e0, e1) * hop                       # film frame starts
        L = n_fft + 2 * J
        x = self.film.pcm(self.ch, int(starts[a - e0]) - J, int(starts[b - e0 - 1]) + n_fft + J)
        xs = np.lib.stride_tricks.sliding_window_view(x, L)[::hop][:b - a]  # film frames [a, b): all a block pairs
        tstarts = np.round((starts - self.lag) * self.speed).astype(np.int64)  # the track frames the line puts there
        y = self.tr.span(self.ch, int(tstarts[0]), int(tstarts[-1]) + n_fft, 1.0)
        ys = y[(tstarts - tstarts[0])[:, None] + np.arange(n_fft)[None, :]] * self.win
        X = sfft.rfft(xs, self.N, axis=1)[:, self.band]
        X /= np.abs(X) + 1e-9
        Y = sfft.rfft(ys, self.N, axis=1)[:, self.band]
        yl = np.abs(Y).sum(axis=1) > 1e-6
        Y /= np.abs(Y) + 1e-9
        coh, peak = self._pairs(X, Y[a - e0:b - e0])
        coh = np.where(yl[a - e0:b - e0], coh, 0.0).astype(np.float32)
        nulls, oks = self._nulls(a, b, e0, e1, yl, lambda i, j: self._pairs(X[i - (a - e0)], Y[j])[0])
        self._last_peak = peak
        return coh, nulls, oks

    def extend(self, a: int, b: int) -> None:
        lo0, hi0 = self.lo, self.hi
        a, b = max(0, a), min(self.n, b)
        if self.hi <= self.lo:
            super().extend(a, b)
            if self.hi > self.lo:
                self.peak = self._last_peak
            return
        if a < lo0:
            super().extend(a, lo0)
            self.peak = np.concatenate([self._last_peak, self.peak])
        if b > hi0:
            super().extend(self.lo, b)
            self.peak = np.concatenate([self.peak, self._last_peak])

    def line_fit(self, k: int, min_z: float) -> tuple[float, float] | None:
        """(speed, lag) refitted to the best offsets of the frames that cohere (z >= min_z); None when too few."""
        z = self.z(k)
        good = z >= min_z
        if good.sum() < 8:
            return None
        i = np.nonzero(good)[0] + self.lo
        t = (self.f0 + i * self.hop - self.lag).astype(np.float64)     # film frame start minus the line's origin
        off = self.peak[good].astype(np.float64)                        # where the track frame is, minus that start
        A = np.stack([np.ones_like(t), t], axis=1)
        c0, c1 = np.linalg.lstsq(A, off, rcond=None)[0]
        # truth film = lag' + u / s' with u = t * speed: off = (lag' - lag) + t * (speed / s' - 1)
        return self.speed / (1 + c1), self.lag + c0


class SpectrumCoherence(Coherence):
    """Per-frame agreement of the spectra, not the phases, of the film and a track along a line.

    A phase vocoder, or WSOLA over sustained, reverberant music, keeps a
    recording's short-time magnitude spectrum along the line of the speed but
    not its waveform: `StretchCoherence` then finds nothing to cohere; and
    sustained music far under speech can hold too little phase in the band's
    bins for `Coherence` while its partials still stand out of the speech.
    Here each film frame is paired with the track frame the line puts there:
    `pitch_kept`, the track at its own pitch (as `StretchCoherence`), else
    rendered at `speed` (as `Coherence`); and they are compared by the
    correlation across the band's bins of their log power spectra, each made
    a contrast first: both minus their moving mean over
    `SPECTRUM_BINS` bins across frequency (the spectral envelope, the film's
    EQ among it: what stays is the partials), the track's also minus its
    moving mean over `SPECTRUM_TIME_SECONDS` along time (its sustained
    background says nothing of which moment of it plays; what stays is its
    notes as they change). The film's is not: its mean along time would carry
    a cue's music a second past its end and make an echo of it there. A
    track played backwards, or its other moments, give chance values. The
    nulls pair the track frames with film frames `null_shifts` hops away
    (seconds, not a frame or two: the spectrum of sustained music changes
    slowly). Any range of frames gives the same values as computing all at
    once: each block's track frames are computed with the time mean's reach
    of context either side.
    """

    def __init__(self, film: FilmAudio, tr: Track, ch: str, lag: int, n_fft: int, sr: int, fmin: float, fmax: float,
                 null_shifts: tuple[int, ...], speed: float, pitch_kept: bool = True):
        super().__init__(film, tr, ch, lag, n_fft, sr, fmin, fmax, null_shifts, speed)
        self.kt = max(1, int(round(SPECTRUM_TIME_SECONDS * sr / self.hop)))
        self.pitch_kept = pitch_kept

    def track_frames(self, film_starts: np.ndarray) -> np.ndarray:
        """The track frames (n, n_fft) the line puts at these film frame starts (at the track's own pitch: native
        samples; rendered: samples at `speed`)."""
        n_fft = self.n_fft
        if self.pitch_kept:
            ts, speed = np.round((film_starts - self.lag) * self.speed).astype(np.int64), 1.0
        else:
            ts, speed = (film_starts - self.lag).astype(np.int64), self.speed
        y = self.tr.span(self.ch, int(ts[0]), int(ts[-1]) + n_fft, speed)
        return y[(ts - ts[0])[:, None] + np.arange(n_fft)[None, :]]

    def _contrast(self, frames: np.ndarray) -> np.ndarray:
        """Log power of windowed frames (n, n_fft), made a contrast across frequency (not yet along time)."""
        P = np.log(np.abs(sfft.rfft(frames * self.win, axis=1, overwrite_x=True)[:, self.band]) ** 2 + 1e-7)
        return P - uniform_filter1d(P, SPECTRUM_BINS, axis=1, mode="nearest")

    def _compute(self, a: int, b: int) -> tuple[np.ndarray, list, list]:
        K, hop, n_fft, kt = self.K, self.hop, self.n_fft, self.kt
        e0, e1 = max(0, a - K), min(self.n, b + K)             # frames whose values are paired
        c0, c1 = max(0, e0 - kt // 2), min(self.n, e1 + kt - kt // 2)  # and the track's time mean's reach about them
        starts = self.f0 + np.arange(c0, c1) * hop
        x = self.film.pcm(self.ch, int(starts[a - c0]), int(starts[b - c0 - 1]) + n_fft)  # film frames [a, b)
        X = _unit_rows(self._contrast(np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:b - a]))
        ys = self.track_frames(starts)
        yl = (np.abs(ys).sum(axis=1) > 1e-6)[e0 - c0:e1 - c0]
        Y = self._contrast(ys)
        Y = _unit_rows((Y - _along(Y, kt))[e0 - c0:e1 - c0])
        coh = np.where(yl[a - e0:b - e0], np.einsum("ij,ij->i", X, Y[a - e0:b - e0]), 0.0)
        nulls, oks = self._nulls(a, b, e0, e1, yl, lambda i, j: np.einsum("ij,ij->i", X[i - (a - e0)], Y[j]))
        return coh.astype(np.float32), nulls, oks


def _along(F: np.ndarray, k: int) -> np.ndarray:
    """Moving mean of k rows along the first axis (the edge rows repeated beyond the ends), as float32."""
    return uniform_filter1d(np.asarray(F, np.float32), k, axis=0, mode="nearest")


def _unit_rows(F: np.ndarray) -> np.ndarray:
    """Each row minus its mean, scaled to unit length (a zero row stays zero), as float32."""
    F = F - F.mean(axis=1, keepdims=True)
    return (F / (np.linalg.norm(F, axis=1, keepdims=True) + 1e-9)).astype(np.float32)


def _smooth(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(x) == 0:
        return x
    """Moving mean of k frames along the first axis (a 2-D x: each column)."""
    c = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0, dtype=np.float64)])
    i = np.arange(len(x))
    lo = np.clip(i - k // 2, 0, len(x))
    hi = np.clip(i + k - k // 2, 0, len(x))
    n = (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return ((c[hi] - c[lo]) / n).astype(np.float32)


def gap_z(zk: np.ndarray, k: int) -> float:
    """The evidence that a track plays on through a gap between two runs of one alignment: the mean smoothed
    coherence z of the gap's frames times the root of its length in smoothing windows (k frames).

    The frame z of windows k frames apart are close to independent, so under chance this has about one
    window's spread whatever the gap's length (measured on 2,000 gaps of 2-16 s at wrong lags of bench films:
    SD 1.2-1.4, largest 3.9), while quiet music that goes on under speech, too faint for any one window to pass,
    adds up. -inf for an empty gap."""
    if len(zk) == 0:
        return -np.inf
    return float(np.mean(zk)) * float(np.sqrt(len(zk) / k))


def plays_through(zk: np.ndarray, k: int, min_z: float) -> bool:
    """Whether a track plays on through a gap between two runs of one alignment: the gap's `gap_z` reaches min_z
    and each half's reaches min_z / 2 (the evidence spread through the gap, not a fade at one end of a silence)."""
    h = len(zk) // 2
    return gap_z(zk, k) >= min_z and min(gap_z(zk[:h], k), gap_z(zk[h:], k)) >= min_z / 2


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    if not mask.any():
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]))


def _step_fit(c: np.ndarray, b: int, w: int, rising: bool) -> int:
    """Best boundary in [b-w, b+w] for a two-level fit of c (low then high if rising)."""
    lo, hi = max(1, b - w), min(len(c) - 1, b + w)
    if hi <= lo:
        return b
    a0, a1 = max(0, b - 2 * w), min(len(c), b + 2 * w)
    seg = c[a0:a1].astype(np.float64)
    cs = np.concatenate([[0.0], np.cumsum(seg)])
    cs2 = np.concatenate([[0.0], np.cumsum(seg ** 2)])
    best, best_k = None, b
    n = len(seg)
    for k in range(lo, hi + 1):
        i = k - a0
        if i <= 0 or i >= n:
            continue
        m1 = cs[i] / i
        m2 = (cs[n] - cs[i]) / (n - i)
        if (m2 > m1) != rising:
            continue
        sse = (cs2[i] - i * m1 ** 2) + (cs2[n] - cs2[i] - (n - i) * m2 ** 2)
        if best is None or sse < best:
            best, best_k = sse, k
    return best_k


@dataclass
class Cue:
    track: int
    start: float
    end: float
    lag: float          # seconds: film time = lag + track time / speed
    strength: float     # mean coherence z over the cue
    gcc_z: float
    channel: str
    speed: float = 1.0  # track seconds per film second
    pitch_kept: bool = False  # time-stretched (pitch as released) rather than resampled
    spectrum: bool = False    # found by the spectra along the line (`SpectrumCoherence`), not by phase
    heard: float = 0.0        # seconds of it inside gaps its phases left and its spectra bridged (`extent`)

    @property
    def track_offset(self) -> float:
        """Track time (as released) at the cue's start."""
        return (self.start - self.lag) * self.speed


def extent(film: FilmAudio, tr: Track, ch: str, lag_samples: int, gcc_z: float, s: StampSettings,
           around: tuple[int, int] | None = None, speed: float | None = None,
           pitch_kept: bool = False, track: float = 0.0, refits: int = 3, lag_exact: float | None = None,
           spectrum: bool = False) -> tuple[list[Cue], tuple[float, float]]:
    """Cues of `tr` played at `speed` (default: its grid speed) at one verified lag, and the film span examined (s).

    `around` (film samples) is the checked window: the coherence is computed
    there first, with `extent.grow_seconds` either side, then outward a chunk
    at a time while the track still plays near an edge (some frame within a
    merge gap and a smoothing window of it reaches half the threshold). None:
    the whole overlap of track and film at once.

    `track` > 0 (samples; resampled renditions only): the coherence follows a
    drift of the lag within that many samples (`DriftCoherence`), the speed and
    lag are refitted to the drift of the frames inside the cues found, and
    where the refitted line moves the lag by a quarter sample or more anywhere
    along them, the extent is computed again at it (at most `refits` times): a
    cue's extent and boundaries do not depend on how well its speed was first
    estimated, and its speed ends up fitted over its whole length.

    `spectrum`: where the track plays is read from the spectra along the line (`SpectrumCoherence`, its nulls
    `SPECTRUM_NULL_SECONDS` off it), not from their phases.
    """
    sr = s.sample_rate
    es = s.extent
    hop = es.n_fft // 2
    k = max(1, int(round(es.smooth_seconds * sr / hop)))
    shifts = (int(round(0.53 * sr / hop)), -int(round(0.79 * sr / hop)))  # off lags, not beat-like multiples
    speed = tr.speed if speed is None else speed
    if spectrum:
        co = SpectrumCoherence(film, tr, ch, lag_samples, es.n_fft, sr, s.verify.fmin, s.verify.fmax,
                               _spectrum_shifts(sr, hop), speed, pitch_kept)
    elif pitch_kept:
        co = StretchCoherence(film, tr, ch, lag_samples, es.n_fft, sr, s.verify.fmin, s.verify.fmax, shifts, speed,
                              int(round(STRETCH_JITTER_SECONDS * sr)))
    elif track > 0:
        co = DriftCoherence(film, tr, ch, lag_samples, es.n_fft, sr, s.verify.fmin, s.verify.fmax, shifts, speed,
                            track=track)
    else:
        co = Coherence(film, tr, ch, lag_samples, es.n_fft, sr, s.verify.fmin, s.verify.fmax, shifts, speed)
    if co.n * hop < es.n_fft * 4:
        return [], (0.0, 0.0)
    gap = int(round(es.merge_gap_seconds * sr / hop))
    # a time-stretched reading's frames cohere only within their grains (weakly, where the music is quiet), and
    # a spectra reading's mostly at its notes' onsets: their z is also read smoothed over STRETCH_SMOOTH_SECONDS
    # (each scale against its own nulls, so each is a z)
    kl = max(k, int(round(STRETCH_SMOOTH_SECONDS * sr / hop))) if pitch_kept or spectrum else k

    def zf() -> tuple[np.ndarray, np.ndarray]:
        """The short-scale z and the z cues are found by (the larger of the two scales' where kl > k)."""
        zk = co.z(k)
        return zk, (np.maximum(zk, co.z(kl)) if kl > k else zk)

    def edges(zk: np.ndarray, a: int, b: int) -> tuple[int, int, int, int]:
        """A run's edges and the reach of each one's step fit. The longer smoothing spreads a loud cue's
        coherence half its length outward: where the short one stands above the threshold within that reach
        inside the run, the edge is the short one's; elsewhere (a quiet cue's faint ends) the long one's,
        its step searched over half its length."""
        if kl == k:
            return a, b, k, k
        on = np.nonzero(zk[a:b] >= es.min_z)[0] + a
        h = kl // 2
        ra = rb = h
        if len(on) and on[0] - a <= h:
            a, ra = int(on[0]), k
        if len(on) and (b - 1) - on[-1] <= h:
            b, rb = int(on[-1]) + 1, k
        return a, b, ra, rb

    if around is None:
        co.extend(0, co.n)
    else:
        grow = max(1, int(round(es.grow_seconds * sr / hop)))
        co.extend((around[0] - co.f0) // hop - grow, (around[1] - co.f0) // hop + grow)
        edge = gap + 2 * k
        while True:
            _, z = zf()
            left = co.lo > 0 and bool(np.any(z[:edge] >= 0.5 * es.min_z))
            right = co.hi < co.n and bool(np.any(z[-edge:] >= 0.5 * es.min_z))
            if not (left or right):
                break
            co.extend(co.lo - grow if left else co.lo, co.hi + grow if right else co.hi)
    if co.hi - co.lo <= k:
        return [], (0.0, 0.0)
    drift = isinstance(co, DriftCoherence)
    origin = co.f0 + co.lo * hop
    heard: list[np.ndarray] = []

    def spectra_through(a: int, b: int) -> bool:
        """Whether the track plays on through the gap [a, b) (computed frames) by its spectra along this line
        (`SpectrumCoherence` over the frames computed, read by `plays_through`): a resampled reading only, where
        the gap's phase evidence fails -- the quietest bars of sustained music under speech, in a room or
        through a loudspeaker, hold too little phase for a second or two while their partials still stand out;
        where the music stops, the spectra read chance as the phases do."""
        if not BRIDGE_BY_SPECTRA:
            return False
        if not heard:
            sc = SpectrumCoherence(film, tr, ch, lag_samples, es.n_fft, sr, s.verify.fmin, s.verify.fmax,
                                   _spectrum_shifts(sr, hop), speed, pitch_kept=False)
            sc.extend(co.lo, co.hi)
            heard.append(sc.z(k) if (sc.lo, sc.hi) == (co.lo, co.hi) else np.zeros(0))
        if len(heard[0]) == 0 or not plays_through(heard[0][a:b], k, es.min_z):
            return False
        log.debug("%s: %s at lag %.3f s plays on through %.1f-%.1f s by its spectra", film.path.name, tr.name,
                  lag_samples / sr, (origin + a * hop) / sr, (origin + b * hop) / sr)
        return True
    lag_s = (lag_samples if lag_exact is None else lag_exact) / sr

    def paused(p0: int, p1: int, a: int, b: int) -> bool:
        """Whether the track itself all but stops through the gap [p1, a) between the pieces [p0, p1) and [a, b)
        (computed frames): the median power of its frames there TRACK_PAUSE_DB or more under theirs (medians: the
        pieces' edges lie within a smoothing window of where the track's music stops and starts), over at most
        TRACK_PAUSE_SECONDS (a rest, a break between sections of the track). The film plays on through the pause at
        this alignment, and nothing of the track is there for its phases or spectra to hear."""
        if (a - p1) * hop / sr > TRACK_PAUSE_SECONDS:
            return False
        x0 = origin + p0 * hop - lag_samples  # the track (at this speed) under film frames [p0, b)
        y = tr.span(ch, x0, x0 + (b - 1 - p0) * hop + es.n_fft, speed).astype(np.float64)
        c = np.concatenate([[0.0], np.cumsum(y * y)])
        i = np.arange(b - p0) * hop
        power = c[i + es.n_fft] - c[i]  # each frame's energy
        level = float(np.median(np.concatenate([power[:p1 - p0], power[a - p0:]])))
        quiet = float(np.median(power[p1 - p0:a - p0]))
        if level > 0 and quiet <= level * 10 ** (-TRACK_PAUSE_DB / 10):
            log.debug("%s: %s at lag %.3f s plays on through %.1f-%.1f s, a pause in the track (%.0f dB under it)",
                      film.path.name, tr.name, lag_samples / sr, (origin + p1 * hop) / sr, (origin + a * hop) / sr,
                      10 * np.log10(max(quiet, 1e-30) / level))
            return True
        return False

    def cues_of(zk: np.ndarray, z: np.ndarray, coh: np.ndarray, narrow: bool, bridge: bool = False
                ) -> tuple[list[Cue], np.ndarray]:
        """Cues where the smoothed coherence z stands above extent.min_z, boundaries by a step fit of coh (where
        each edge sits: `edges`, from the short-scale z `zk`); and the
        frames inside them. `narrow`: runs narrower than the smoothing window are dropped before merging (with a
        maximum over offsets such a run is a chance peak, most often where the window is cut short at the edge of
        the overlap; music that plays keeps its smoothed coherence up for a window or more)."""
        mask = z >= es.min_z
        runs = [(a, b) for a, b in _runs(mask) if b - a >= k] if narrow else _runs(mask)
        pieces: list[list[int]] = []
        for a, b in runs:
            if pieces and a - pieces[-1][1] <= gap:
                pieces[-1][1] = b
            else:
                pieces.append([a, b])

        def holds(a: int, b: int) -> bool:  # long enough, and not chance peaks merged across their short gaps
            return (b - a) * hop / sr >= es.min_cue_seconds and float(np.mean(z[a:b])) >= es.min_z

        # pieces the track plays on between are one cue (by the gap's phases, or else its spectra); it holds where
        # one of its pieces holds on its own (the gap's evidence is `plays_through`'s, not diluted into the pieces'
        # mean) or the whole does
        merged: list[list] = []
        for a, b in pieces:
            if merged and plays_through(zk[merged[-1][1]:a], k, es.min_z):
                merged[-1][1:3] = b, merged[-1][2] or holds(a, b)
            elif bridge and merged and (paused(merged[-1][0], merged[-1][1], a, b) or spectra_through(merged[-1][1], a)):
                merged[-1][1:4] = b, merged[-1][2] or holds(a, b), merged[-1][3] + a - merged[-1][1]
            else:
                merged.append([a, b, holds(a, b), 0])
        out = []
        frame_t = lambda i: (origin + i * hop + es.n_fft / 2) / sr  # noqa: E731  centre of frame i (computed ones)
        inside = np.zeros(len(z), bool)
        for a, b, held, bridged in merged:
            if not (held or holds(a, b)):
                continue
            inside[a:b] = True
            a1, b1, ra, rb = edges(zk, a, b)
            a2 = _step_fit(coh, a1, ra, rising=True)
            b2 = _step_fit(coh, b1, rb, rising=False)
            if b2 <= a2:
                a2, b2 = a, b
            start = max(0.0, frame_t(a2) - hop / (2 * sr))
            end = min(film.duration, frame_t(b2 - 1) + hop / (2 * sr))
            if end - start < es.min_cue_seconds:
                continue
            out.append(Cue(-1, start, end, lag_s, float(np.mean(z[a:b])), gcc_z, ch, speed, pitch_kept, spectrum,
                           bridged * hop / sr))
        return out, inside & mask

    zk, z = zf()
    read = (zk, z, co.at_best(k) if drift else co.coh, drift)
    cues, good = cues_of(*read)
    examined = (origin / sr, (origin + (co.hi - co.lo - 1) * hop + es.n_fft) / sr)
    line = None  # the refitted line the cues take, where they take one
    if drift and cues and refits > 0:
        fit = co.line_fit(k, good)
        if fit is not None:
            sp2, lag2 = fit
            g = np.nonzero(good)[0]
            t = co.f0 + (g[[0, -1]] + co.lo) * hop + es.n_fft / 2  # film samples of the first and last good frame
            sp2, lag2 = _snap_speed(sp2, lag2, float(t[0]), float(t[1]))
            # where the refitted line puts the track against the current one, in samples, along the cues
            moved = np.abs((t - lag2) * sp2 / speed - (t - lag_samples))
            if float(moved.max()) < 0.25:
                # this line holds within a quarter sample along the cues: the boundaries are read from its own
                # coherence (offset 0, no maximum over offsets: the nulls stay as low as a fixed lag's, so a
                # quiet cue's edges keep their z), unless that loses more than a smoothing window of the cues
                zfix = co.z_fixed(k)
                fixed_read = (zfix, zfix, co.coh[:, co.zero], False)
                fixed, _ = cues_of(*fixed_read)
                if sum(q.end - q.start for q in fixed) >= sum(q.end - q.start for q in cues) - es.smooth_seconds:
                    cues, read = fixed, fixed_read
                line = sp2, lag2 / sr  # the cues take the refitted line (a better speed)
            else:
                again, ex2 = extent(film, tr, ch, int(round(lag2)), gcc_z, s, around=(int(t[0]), int(t[1])),
                                    speed=sp2, track=track, refits=refits - 1, lag_exact=lag2)
                # the refitted line is the better one by construction (fitted to the cues' own frames): it wins
                # unless it lost more than a smoothing window of the cues
                if _phased(again) >= sum(q.end - q.start for q in cues) - es.smooth_seconds:
                    return again, (min(examined[0], ex2[0]), max(examined[1], ex2[1]))
    if len(cues) > 1 and not (pitch_kept or spectrum):
        # the reading is settled by its phases; then its pieces are one cue where the gap's spectra play through
        cues, _ = cues_of(*read, bridge=True)
    for q in cues if line is not None else ():
        q.speed, q.lag = line
    return cues, examined


# ---------------------------------------------------------------- overlaps


def resolve_overlaps(cues: list[Cue], min_len: float) -> list[Cue]:
    """Cues with more evidence (mean coherence z times length) keep their time; others are trimmed around them.

    Evidence rather than mean strength, so that where looped music matched at a
    repeat of itself over part of a cue, the alignment that explains the whole
    cue wins; the partial one is trimmed away (or to what it alone explains).
    """
    kept: list[Cue] = []
    for c in sorted(cues, key=lambda c: (-c.strength * (c.end - c.start), c.start, c.track)):
        pieces = [(c.start, c.end)]
        for k in kept:
            nxt = []
            for a, b in pieces:
                if b <= k.start or a >= k.end:
                    nxt.append((a, b))
                    continue
                if a < k.start:
                    nxt.append((a, k.start))
                if b > k.end:
                    nxt.append((k.end, b))
            pieces = nxt
        for a, b in pieces:
            if b - a >= min_len:
                kept.append(replace(c, start=a, end=b))
    return sorted(kept, key=lambda c: c.start)


# ---------------------------------------------------------------- speed: estimated per alignment


@dataclass
class Alignment:
    """A track played at `speed` (track seconds per film second) with track sample 0 at film sample `lag`."""

    speed: float
    lag: int
    z: float = -np.inf      # GCC-PHAT z at this speed and lag (pitch kept: the stretch coherence's z)
    channel: str = "mid"
    pitch_kept: bool = False  # time-stretched: the track's pitch as released at any speed
    spectrum: bool = False    # verified by the spectra along the line (`spectrum_check`), not by phase


def _fine_bands(x: np.ndarray, spec: BandSpec) -> np.ndarray:
    f = BandFramer(spec)
    f.feed(x)
    return normalise_bands(f.finish(), spec)


def half_frame_lines(G: np.ndarray, first: np.ndarray, n: int) -> np.ndarray:
    """Mean over the rows r of G (rows, columns) of row r read at column first[i, r] + k / 2, linearly
    interpolated, for every line i and k = 0 .. n - 1: (lines, n) float32. Beyond the last column G is 0 (half a
    column on, the interpolation tapers to it), and so before the first.

    G is laid on a grid of half columns (the midpoints its linear interpolation), so that each row's n readings
    are one run of that grid taken at one fractional offset: a gather and two products a line."""
    R, C = G.shape
    pad = n + 4
    Gh = np.zeros((R, 2 * C - 1 + 2 * pad), np.float32)
    Gh[:, pad:pad + 2 * C - 1:2] = G
    Gh[:, pad + 1:pad + 2 * C - 1:2] = 0.5 * (G[:, :-1] + G[:, 1:])
    flat, run, row0 = Gh.ravel(), np.arange(n + 1), np.arange(R) * Gh.shape[1] + pad
    out = np.empty((len(first), n), np.float32)
    for i, p in enumerate(first):
        q = np.clip(2 * np.asarray(p, np.float64), -pad, 2 * C + pad)  # half columns; far outside reads 0
        q0 = np.floor(q)
        w = (q - q0).astype(np.float32)
        g = flat[np.clip((row0 + q0.astype(np.int64))[:, None] + run, 0, len(flat) - 1)]
        out[i] = ((1 - w) @ g[:, :-1] + w @ g[:, 1:]) / R
    return out


def band_speed(film: FilmAudio, tr: Track, ch: str, s0: float, lag: float, tau_c: float, s: StampSettings,
               eps_max: float, pitch_kept: bool = False) -> tuple[float, float, float]:
    """Speed and lag from log-band frames of the track around `tau_c` (native s) against the film: (speed, lag s, z).

    The magnitude of the bands does not care whether a film plays the track
    1 % off its speed (the pitch moves a fraction of a band), where the
    waveform's phase already disagrees: the track, rendered at the grid
    speed s0, is laid on the film at s0 * (1 + eps) for every eps in
    [-eps_max, eps_max] (steps of SPEED_BAND_STEP) and every lag within the
    search, and the best summed frame cosine wins (`pitch_kept`: the track is
    rendered at its own pitch, speed 1, and only laid out at those speeds, as
    a time-stretched transfer plays it). Over REFINE_SECONDS of
    track, fine frames (23 ms) place the speed to about 0.1 %, close enough
    for the phase to hold over the frames of `drift_fit`.
    """
    sr = s.sample_rate
    spec = replace(s.bands, n_fft=1024, hop=256, highpass_seconds=1.0)
    hop_s = spec.hop / sr
    dur = tr.audio().n_samples / sr
    a_n, b_n = max(0.0, tau_c - REFINE_SECONDS / 2), min(dur, tau_c + REFINE_SECONDS / 2)
    r = 1.0 if pitch_kept else s0  # the speed the track is rendered at
    ua, ub = int(a_n / r * sr), int(b_n / r * sr)
    if ub - ua < 4 * spec.n_fft:
        return s0, lag, 0.0
    T = _fine_bands(tr.span(ch, ua, ub, r), spec)
    live = np.abs(T).sum(axis=1) > 0
    t_native = ((ua + np.arange(len(T)) * spec.hop + spec.hop / 2) / sr * r)[live]
    T = T[live]
    if len(T) < 16:
        return s0, lag, 0.0
    margin = s.verify.search_seconds + eps_max * (b_n - a_n) + 0.5
    fa = int((lag + a_n / s0 - margin) * sr)
    fb = int((lag + b_n / s0 + margin) * sr)
    F = _fine_bands(film.pcm(ch, fa, fb), spec)
    t_film_c = lag + tau_c / s0
    eps = np.arange(-eps_max, eps_max + 1e-12, SPEED_BAND_STEP)
    d = np.arange(-s.verify.search_seconds, s.verify.search_seconds + 1e-9, hop_s / 2)
    # film frame of each track frame at the first lag, for every speed (the lags step by half a frame)
    first = np.stack([(t_film_c + (t_native - tau_c) / (s0 * (1 + e)) + d[0] - fa / sr - hop_s / 2) / hop_s
                      for e in eps])
    scores = half_frame_lines(T @ F.T, first, len(d))
    i, k = np.unravel_index(int(np.argmax(scores)), scores.shape)
    row = scores[i]
    far = np.abs(d - d[k]) > 0.1
    bg = row[far] if far.sum() > 8 else row
    z = float((row[k] - np.median(bg)) / (bg.std() + 1e-9))
    sp = s0 * (1 + eps[i])
    return sp, t_film_c + d[k] - tau_c / sp, z


def drift_fit(film: FilmAudio, tr: Track, ch: str, al: Alignment, u0: int, u1: int, radius: int, eta_max: float,
              s: StampSettings) -> tuple[Alignment, float]:
    """Polish speed and lag from the drift of the lag along track samples [u0, u1) (at al.speed): (alignment, score).

    Short frames (`extent.n_fft`) of the track rendered at al.speed are each
    correlated with the film (GCC-PHAT) over lags within `radius` samples;
    where the film plays the track (1 + eta) times faster still, the peaks of
    successive frames lie on a line of slope -eta. Every line (lag at the
    centre, eta within eta_max, eta steps of half a sample over the span) is
    scored by the mean of the frames' correlations along it: a Hough transform
    of the lag's drift. Frames are short enough that the residual speed does
    not decorrelate them.
    """
    sr = s.sample_rate
    n_fft = s.extent.n_fft
    hop = n_fft // 2
    y = tr.span(ch, u0, u1, al.speed)
    n = 1 + (len(y) - n_fft) // hop if len(y) >= n_fft else 0
    if n < 8:
        return al, 0.0
    x = film.pcm(ch, u0 + al.lag - radius, u1 + al.lag + radius)
    L = n_fft + 2 * radius
    N = sfft.next_fast_len(L, real=True)
    band = _band(N, sr, s.verify.fmin, s.verify.fmax)
    win = _hann(n_fft)
    ys = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop][:n] * win
    xs = np.lib.stride_tricks.sliding_window_view(x, L)[::hop][:n]
    Y = sfft.rfft(ys, N, axis=1)[:, band]
    X = sfft.rfft(xs, N, axis=1)[:, band]
    C = X * np.conj(Y)
    C /= np.abs(C) + 1e-12
    keep = np.abs(Y).sum(axis=1) > 0
    full = np.zeros((n, N // 2 + 1), np.complex64)
    full[:, band] = C
    r = sfft.irfft(full, N, axis=1)[keep, : 2 * radius + 1].astype(np.float32)
    v = (np.arange(n)[keep] * hop + n_fft / 2 - (u1 - u0) / 2).astype(np.float64)  # frame centres from the middle
    if len(v) < 8:
        return al, 0.0
    vmax = float(np.abs(v).max()) + 1.0
    step = 0.5 / vmax
    rows = np.arange(len(v))[:, None]
    taus = np.arange(-radius, radius + 1, dtype=np.float64)

    def line_scores(etas: np.ndarray, rr: np.ndarray, tt: np.ndarray, nearest: bool = False) -> np.ndarray:
        """Mean over frames of rr along every line (eta, tau in tt), linearly interpolated (or nearest sample)."""
        out = np.empty((len(etas), len(tt)), np.float32)
        for i, e in enumerate(etas):
            pos = radius + tt[None, :] - v[:, None] * e
            if nearest:
                j = np.clip(np.rint(pos).astype(np.int64), 0, rr.shape[1] - 1)
                out[i] = rr[rows, j].mean(axis=0)
                continue
            j = np.floor(pos).astype(np.int64)
            w = (pos - j).astype(np.float32)
            ok = (j >= 0) & (j + 1 < rr.shape[1])
            j = np.clip(j, 0, rr.shape[1] - 2)
            out[i] = ((rr[rows, j] * (1 - w) + rr[rows, j + 1] * w) * ok).mean(axis=0)
        return out

    coarse = 4
    if eta_max > 8 * step:
        # coarse pass: peaks widened by max-pooling, so every `coarse`-th lag and eta step, nearest sample, then
        # half-sample eta steps and every lag near the best
        from scipy.ndimage import maximum_filter1d

        etas = np.arange(-eta_max, eta_max + 1e-15, coarse * step)
        tc = taus[::coarse]
        sc = line_scores(etas, maximum_filter1d(r, 2 * coarse + 1, axis=1), tc, nearest=True)
        i, k = np.unravel_index(int(np.argmax(sc)), sc.shape)
        e0, t0 = etas[i], tc[k]
        etas = np.arange(e0 - coarse * step, e0 + coarse * step + 1e-15, step)
        near = taus[np.abs(taus - t0) <= 2 * coarse + 2]
        sc = line_scores(etas, r, near)
        i, k = np.unravel_index(int(np.argmax(sc)), sc.shape)
        eta, tau0 = float(etas[i]), float(near[k])
    else:
        etas = np.arange(-eta_max, eta_max + 1e-15, step)
        sc = line_scores(etas, r, taus)
        i, k = np.unravel_index(int(np.argmax(sc)), sc.shape)
        eta, tau0 = float(etas[i]), float(taus[k])
    row = line_scores(np.array([eta]), r, taus)[0]
    k = int(np.argmin(np.abs(taus - tau0)))
    far = np.abs(taus - tau0) > 32
    bg = row[far] if far.sum() > 16 else row
    z = float((row[k] - np.median(bg)) / (bg.std() + 1e-12))
    new_speed = al.speed * (1 + eta)
    uc = 0.5 * (u0 + u1)
    lag = al.lag + uc + tau0 - uc * al.speed / new_speed
    return Alignment(new_speed, int(round(lag)), al.z, ch), z


def gcc_at(film: FilmAudio, tr: Track, al: Alignment, ts: int, te: int, channels: list[str],
           s: StampSettings) -> Alignment:
    """GCC-PHAT of track samples [ts, te) at al.speed against the film around al.lag, best channel: checked alignment."""
    return GccReading(film, tr, al, ts, te, channels, s).best()


class GccReading:
    """`gcc_at` over a window that can then grow by whole frames at both ends, the frames read so far kept.

    A patient check reads a candidate over the checked window and, where that
    fails, over about twice it (`estimate`): the longer reading is the checked
    window's frames (their whitened cross-spectra, per channel) and the frames
    of its grid that fit inside the longer span, so only those are computed.
    `best()` over the first window is `gcc_at` over it, bit for bit.
    """

    def __init__(self, film: FilmAudio, tr: Track, al: Alignment, ts: int, te: int, channels: list[str],
                 s: StampSettings):
        self.film, self.tr, self.al, self.s, self.channels = film, tr, al, s, channels
        vs = s.verify
        self.S = int(round(vs.search_seconds * s.sample_rate))
        self.n_fft = min(vs.n_fft, max(1024, 1 << int(np.log2(max(2, te - ts)))))
        self.hop = self.n_fft // 2
        self.g0 = ts                                            # track sample of frame 0 (at al.speed)
        self.lo, self.hi = 0, max(1, 1 + (te - ts - self.n_fft) // self.hop)  # frames read [lo, hi)
        self.sums: dict[str, np.ndarray] = {}  # channels whose film and track both carry signal in the window
        for ch in channels:
            y = tr.span(ch, ts, te, al.speed)
            x = film.pcm(ch, ts + al.lag - self.S, te + al.lag + self.S)
            if np.any(x) and np.any(y):
                self.sums[ch] = self._frames(x, y).sum(axis=0)

    def _frames(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        vs = self.s.verify
        return _gcc_frames(x, y, self.S, self.n_fft, self.s.sample_rate, vs.fmin, vs.fmax)

    def _read(self, ch: str, a: int, b: int) -> np.ndarray:
        """The summed whitened cross-spectra of frames [a, b) on channel ch."""
        t0, t1 = self.g0 + a * self.hop, self.g0 + (b - 1) * self.hop + self.n_fft
        y = self.tr.span(ch, t0, t1, self.al.speed)
        x = self.film.pcm(ch, t0 + self.al.lag - self.S, t1 + self.al.lag + self.S)
        return self._frames(x, y).sum(axis=0)  # silent frames add 0

    def grow(self, ts: int, te: int) -> None:
        """Add the frames of the grid that lie inside track samples [ts, te) (at al.speed)."""
        a = self.lo - max(0, (self.g0 + self.lo * self.hop - ts) // self.hop)
        b = max(self.hi, (te - self.g0 - self.n_fft) // self.hop + 1)
        for ch in self.channels:
            for u, v in ((a, self.lo), (self.hi, b)):
                if v > u:
                    add = self._read(ch, u, v)
                    if ch in self.sums:
                        self.sums[ch] = self.sums[ch] + add
                    elif np.any(add):  # a channel silent over the first window (its frames there add 0)
                        self.sums[ch] = add
        self.lo, self.hi = a, b

    def best(self) -> Alignment:
        """The best channel's alignment over the frames read (as `gcc_at`)."""
        vs, al = self.s.verify, self.al
        best = Alignment(al.speed, al.lag, -np.inf, al.channel)
        n = self.hi - self.lo
        for ch in self.channels:
            if ch not in self.sums:
                continue
            mean = self.sums[ch].copy()
            np.true_divide(mean, np.intp(n), out=mean, casting="unsafe")  # as ndarray.mean: bit for bit
            tau, z = _gcc_peak(mean, self.S, self.n_fft, self.s.sample_rate, vs.fmin, vs.fmax)
            if z > best.z:
                best = Alignment(al.speed, al.lag + tau, z, ch)
        return best


def stretch_check(film: FilmAudio, tr: Track, c: Candidate, s: StampSettings, tau_c: float, t_film: float,
                  channels: list[str], start: Alignment | None = None, speed: float | None = None,
                  transfer: float | None = None, explained: list[tuple[float, float]] = ()) -> Alignment | None:
    """A time-stretched rendition (pitch kept) at the candidate: its speed, lag and z, or None where it is not one.

    The speed comes from the band frames of the track at its own pitch
    (`band_speed(pitch_kept=True)`), then from a line fitted through the best
    offsets of the frames of `StretchCoherence` over the checked window (twice).
    Its z is the mean smoothed coherence z of the window's frames, or of a
    longer span's scaled to one window's chance spread (`stretch_z`, over the
    REFINE_SECONDS computed); accepted at `verify.stretch_min_z`. `speed`: the speed the candidate was found at (a
    fine candidate of a film whose stretched music is verified at it): the
    line starts there, with no band-frame search. `transfer`: the speed this film's stretched music was verified
    at by phase; where the phase reading fails, the candidate is read by its spectra at that speed
    (`spectrum_check`, over the film outside `explained`: the cues found so far).
    """
    sr = s.sample_rate
    es, vs = s.extent, s.verify
    ch = c.channel if c.channel in tr.channels else channels[0]
    # the grid speed of a candidate says little of a stretched rendition's speed (its pitch did not move):
    # the band frames search the whole range
    lo, hi = min(s.speeds), max(s.speeds)
    eps_max = max(abs(lo / tr.speed - 1), abs(hi / tr.speed - 1)) + SPEED_BAND_STEP
    if speed is not None:  # film time = c.lag + tau_c / tr.speed at the candidate's middle
        sp, lag_s = speed, c.lag + tau_c / tr.speed - tau_c / speed
    else:
        sp, lag_s, _ = band_speed(film, tr, ch, tr.speed, c.lag if start is None else start.lag / sr - tau_c / start.speed
                                  + tau_c / tr.speed, tau_c, s, eps_max, pitch_kept=True)
    hop = es.n_fft // 2
    k = max(1, int(round(es.smooth_seconds * sr / hop)))
    shifts = (int(round(0.53 * sr / hop)), -int(round(0.79 * sr / hop)))
    lag = int(round(lag_s * sr))
    w = vs.window_seconds * sr
    mid = int(round(t_film * sr))
    z_best, best = -np.inf, None
    for it in range(4):
        co = StretchCoherence(film, tr, ch, lag, es.n_fft, sr, vs.fmin, vs.fmax, shifts, sp,
                              int(round(STRETCH_JITTER_SECONDS * sr)))
        # the line is fitted over REFINE_SECONDS (a longer baseline), the z taken over the checked window or a
        # longer span around it (stretch_z)
        co.extend((mid - co.f0 - int(REFINE_SECONDS * sr / 2)) // hop, (mid - co.f0 + int(REFINE_SECONDS * sr / 2)) // hop)
        if co.hi - co.lo <= 2 * k:
            return None
        z = stretch_z(co.z(k), co.f0 + (np.arange(co.lo, co.hi) * hop + es.n_fft // 2) - mid, w, 2 * k)
        z_best, best = z, Alignment(sp, lag, z, ch, pitch_kept=True)  # the latest fit: each refines the last
        fit = co.line_fit(k, es.min_z) if it < 3 else None
        if fit is None:
            break
        sp, lag_f = fit
        lag = int(round(lag_f))
    log.debug("%s: %s time-stretched at speed %.6f? stretch z %.1f", film.path.name, tr.name, best.speed, z_best)
    if z_best >= vs.stretch_min_z:
        return best
    if transfer is None:
        return None
    lag_t = (c.lag + tau_c / tr.speed - tau_c / transfer) * sr    # the candidate's middle on the transfer's line
    return spectrum_check(film, tr, s, transfer, lag_t, mid, [ch] + [o for o in channels if o != ch], explained)


def _spectrum_shifts(sr: int, hop: int) -> tuple[int, ...]:
    """`SpectrumCoherence`'s null shifts in frames of `hop` samples."""
    return tuple(int(round(x * sr / hop)) for x in SPECTRUM_NULL_SECONDS)


def spectrum_check(film: FilmAudio, tr: Track, s: StampSettings, speed: float, lag: float, mid: int,
                   channels: list[str], explained: list[tuple[float, float]] = (), pitch_kept: bool = True
                   ) -> Alignment | None:
    """The track played at `speed` (`pitch_kept`: time-stretched, else resampled) about film sample `mid`, read from
    the spectra along its line: its lag and z, or None where the track does not play there.

    For a film whose music is verified by phase elsewhere at `speed`, treated as `pitch_kept` says (a transfer
    plays all its music at one speed, one way), where a candidate's phase fails: stretched music that holds no
    phase (a phase vocoder, or WSOLA over sustained, reverberant music; `stretch_check`), or quiet music whose
    phase the speech over it drowns (`estimate`, the fine pass's candidates). `lag` (film samples, track sample
    0 at speed `speed`) comes from a candidate's frames, good to a frame or two: the lag is searched within
    `SPECTRUM_SEARCH_SECONDS` by the mean `SpectrumCoherence` of the frames about `mid` against the track read
    on a grid of `SPECTRUM_SEARCH_STEP` samples, then read at the best lag over the same span: its statistic is
    `stretch_z` of its smoothed z over the frames outside `explained` (film seconds: the cues found so far;
    looped music's repeats agree in their spectra, so a candidate at a repeat of a found cue's track would read
    that cue's music), accepted at `verify.spectrum_min_z`. The span is first the checked window on the
    candidate's own channel (`channels[0]`), and REFINE_SECONDS on every channel only where that reaches
    `SPECTRUM_SCREEN` of the threshold (most candidates of a film are no music of theirs: the longer span is
    the cost of the few that may be), and only where the spectra over the window agree best along the line of
    this speed: the best line through the frames' lag offsets (`SPECTRUM_TEMPOS`) lies within `SPECTRUM_TEMPO`
    of it (found first: where it does not, the screen's statistic is not read). Another rendition (another
    recording, its tempo a few % off) drifts off this line by a frame in a few seconds, and its spectra agree
    best along a line of its own tempo: it is the tolerant tier's (`cues.renditions`).
    """
    sr, es, vs = s.sample_rate, s.extent, s.verify
    hop, n_fft, step = es.n_fft // 2, es.n_fft, SPECTRUM_SEARCH_STEP
    k = max(1, int(round(es.smooth_seconds * sr / hop)))
    reach = int(round(SPECTRUM_SEARCH_SECONDS * sr))
    u = speed if pitch_kept else 1.0       # track samples read per film sample (own pitch: native; else rendered)

    def read(ch: str, half: int, screen: bool = False) -> tuple[int, float, float] | None:
        """(lag, statistic, tempo) over film samples mid +- half on channel ch; None where the overlap is too short.
        tempo: the relative tempo of the line (through the frames' offsets) the spectra agree along best; `screen`:
        a line of another tempo fails the screen whatever its statistic, which is then not read (-inf)."""
        co = SpectrumCoherence(film, tr, ch, int(round(lag)), n_fft, sr, vs.fmin, vs.fmax, (), speed, pitch_kept)
        i0, i1 = max(0, (mid - half - co.f0) // hop), min(co.n, (mid + half - co.f0) // hop)
        if i1 - i0 <= 2 * k + co.kt:
            return None
        starts = co.f0 + np.arange(i0, i1) * hop
        X = _unit_rows(co._contrast(np.lib.stride_tricks.sliding_window_view(
            film.pcm(ch, int(starts[0]), int(starts[-1]) + n_fft), n_fft)[::hop][:i1 - i0]))
        pos = (starts - lag) * u                                    # the line's track sample of each film frame
        q0 = int(np.floor(pos[0])) - reach
        nq = (int(np.ceil(pos[-1])) + reach - q0) // step + 1
        y = tr.span(ch, q0, q0 + (nq - 1) * step + n_fft, 1.0 if pitch_kept else speed)
        grid = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::step][:nq]
        live = np.abs(grid).sum(axis=1) > 1e-6
        Y = co._contrast(np.array(grid))
        # the track's time contrast over the same span of track time as the frames' (the grid is finer)
        Y = _unit_rows(Y - _along(Y, max(1, int(round(co.kt * hop * u / step)))))
        base = np.round((pos - q0) / step).astype(np.int64)
        offs = np.arange(-(reach // step), reach // step + 1)
        C = np.stack([np.einsum("ij,ij->i", X, Y[j]) * live[j] for j in (np.clip(base + o, 0, nq - 1) for o in offs)],
                     axis=1)                                        # (frames, offsets)
        lag_b = int(round(lag - offs[int(np.argmax(C.mean(axis=0)))] * step / u))  # the line read best on
        # the tempo of the best line through the offsets: drift in grid steps per frame from the middle
        n, m = C.shape
        rel = (starts - mid) * u / step
        tempo, top = 0.0, -np.inf
        for e in SPECTRUM_TEMPOS:
            J = np.arange(m)[None, :] + np.round(rel * e).astype(np.int64)[:, None]
            ok = (J >= 0) & (J < m)
            cnt = ok.sum(axis=0)
            v = np.where(ok, np.take_along_axis(C, np.clip(J, 0, m - 1), axis=1), 0.0).sum(axis=0)
            v = np.where(cnt >= n // 2, v / np.maximum(cnt, 1), -np.inf)
            if v.max() > top:
                tempo, top = float(e), float(v.max())
        if screen and abs(tempo) > SPECTRUM_TEMPO:
            return lag_b, -np.inf, tempo
        co = SpectrumCoherence(film, tr, ch, lag_b, n_fft, sr, vs.fmin, vs.fmax, _spectrum_shifts(sr, hop), speed,
                               pitch_kept)
        co.extend((mid - half - co.f0) // hop, (mid + half - co.f0) // hop)
        if co.hi - co.lo <= 2 * k:
            return None
        t = co.f0 + (np.arange(co.lo, co.hi) * hop + n_fft // 2)
        free = np.ones(len(t), bool)
        for a, b in explained:
            free &= (t < a * sr) | (t > b * sr)
        return lag_b, stretch_z(co.z(k)[free], t[free] - mid, vs.window_seconds * sr, 2 * k), tempo

    # the screen reads the candidate's own channel (channels[0]) over the checked window only; music whose spectra
    # agree best along a line of another tempo is not played at this speed (another rendition)
    first = read(channels[0], int(vs.window_seconds * sr / 2), screen=True)
    if first is None or first[1] < SPECTRUM_SCREEN * vs.spectrum_min_z or abs(first[2]) > SPECTRUM_TEMPO:
        if first is not None and np.isfinite(first[1]):
            log.debug("%s: %s at speed %.6f, its spectra over the window: z %.1f along a line of tempo %+.2f %%",
                      film.path.name, tr.name, speed, first[1], 100 * first[2])
        elif first is not None:
            log.debug("%s: %s at speed %.6f, its spectra over the window agree best along a line of tempo %+.2f %%",
                      film.path.name, tr.name, speed, 100 * first[2])
        return None
    best: Alignment | None = None
    for ch in channels:
        got = read(ch, int(REFINE_SECONDS * sr / 2))
        if got is None:
            continue
        log.debug("%s: %s at speed %.6f (%s), read by its spectra (%s): lag %.3f s, z %.1f", film.path.name,
                  tr.name, speed, "pitch kept" if pitch_kept else "resampled", ch, got[0] / sr, got[1])
        if best is None or got[1] > best.z:
            best = Alignment(speed, got[0], got[1], ch, pitch_kept=pitch_kept, spectrum=True)
    return best if best is not None and best.z >= vs.spectrum_min_z else None


def stretch_z(zs: np.ndarray, t: np.ndarray, w: float, min_frames: int) -> float:
    """The stretch reading's statistic: the mean frame z over the checked window, or over 2, 3, ... windows' span
    around it times the root of the span in windows; the largest (-inf where no span holds over `min_frames`).

    `zs`: the smoothed coherence z of each frame; `t`: each frame's time from the candidate's middle (sorted);
    `w`: the window (same unit). The chance frame z of distinct windows are independent, so the mean over a
    span of n windows spreads 1/sqrt(n) as much as one window's: times sqrt(n) it has one window's chance
    distribution and one threshold holds for every span, while music that plays on adds its evidence (a quiet
    cue held to one window's mean would be held to the same per-frame coherence however long it plays).
    """
    best, n = -np.inf, 1
    reach = float(np.max(np.abs(t))) if len(t) else 0.0
    while (n - 1) * w / 2 < reach or n == 1:
        inside = np.nonzero(np.abs(t) <= n * w / 2)[0]
        if len(inside) > min_frames:
            span = float(t[inside[-1]] - t[inside[0]])
            best = max(best, float(np.mean(zs[inside])) * np.sqrt(max(1.0, span / w)))
        n += 1
    return best


def estimate(film: FilmAudio, tr: Track, c: Candidate, s: StampSettings, known: list[float],
             patient: float | None = None, settled: tuple[float, ...] = (),
             playback: tuple[float, bool] | None = None, explained: list[tuple[float, float]] = ()) -> Alignment:
    """The speed and sample-exact lag of a candidate, checked by GCC-PHAT (z < verify.min_z: not the track).

    1. Speeds already verified in this film (a transfer plays all its music
       at one speed) are tried first, with the lag carried over from the
       candidate's middle: one GCC-PHAT each.
    2. Otherwise the speed is estimated from the band frames (`band_speed`,
       within half a grid step of the candidate's grid speed, to ~0.1 %),
       then from the drift of the lag (`drift_fit`, to ~1e-5), and checked.
    3. An accepted alignment is polished by `drift_fit` over the window.

    `patient` (candidates of quiet music, `fine_candidates`, found at this
    speed): where a check fails over the window, it is repeated over twice
    the window (as much of it as the track has), centred on the candidate:
    the z of a true alignment grows as the root of the length checked, the
    chance peak's does not (docs/cues.md). Their speed is the film's verified
    speed (tried first; nothing else is estimated), or where none is verified,
    `patient` first and then as above; the time-stretch reading is not tried.

    `settled`: those of `known` that were refitted over a long resampled cue
    (two windows or more: to ~1e-7, far better than one window's polish). A
    candidate accepted at one of them is not polished; a candidate printed at
    the grid speed nearest one of them (the film's speed lies within half a
    grid step of its print) that fails there is not the track at that lag: a
    transfer plays all its music at one speed and with one treatment of its
    pitch, so neither the speed search nor the time-stretch reading is run
    for it (candidates printed at other grid speeds still are).

    `playback`: (speed, pitch kept) of the film's music as verified by phase (its longest cue's), and
    `explained`: the cues found so far (film seconds). A patient candidate whose phase fails at a resampled
    playback speed is read by its spectra there (`spectrum_check`); a candidate of a time-stretched film
    whose phase fails goes to `stretch_check` with that speed.
    """
    sr = s.sample_rate
    vs = s.verify
    mid_t = 0.5 * (c.t0 + c.t1)           # seconds at the grid speed
    tau_c = mid_t * tr.speed               # native track seconds
    t_film = c.lag + mid_t                 # film seconds
    dur = tr.audio().n_samples / sr
    channels = [c.channel] + [o for o in film.channels if o != c.channel and o in tr.channels]
    if c.channel not in tr.channels:
        channels = [o for o in film.channels if o in tr.channels]

    def window(sp: float, long: bool = False) -> tuple[int, int]:
        w = min(vs.window_seconds * (2 if long else 1), dur / sp)
        t0 = min(max(0.0, tau_c / sp - w / 2), max(0.0, dur / sp - w))
        return int(t0 * sr), int(min(dur / sp, t0 + w) * sr)

    def lag_at(sp: float, t_film_s: float) -> int:
        return int(round((t_film_s - tau_c / sp) * sr))

    def read(al0: Alignment) -> Alignment:
        """GCC-PHAT over the window at al0.speed (`gcc_at`); a patient candidate's, where that fails, over twice
        the window (the first window's frames and more of their grid)."""
        reading = GccReading(film, tr, al0, *window(al0.speed), channels, s)
        al = reading.best()
        if patient and al.z < vs.min_z:
            reading.grow(*window(al0.speed, long=True))
            longer = reading.best()
            al = longer if longer.z > al.z else al
        return al

    best = Alignment(tr.speed, lag_at(tr.speed, t_film), -np.inf, c.channel)
    for sp in known or ([patient] if patient else []):
        al = read(Alignment(sp, lag_at(sp, t_film)))
        if al.z > best.z:
            best = al
        if best.z >= vs.min_z:
            break
    if best.z < vs.min_z and patient and known and playback is not None and not playback[1]:
        # quiet music at the film's verified (resampled) speed whose phase the speech drowns: its spectra
        sp = playback[0]
        heard = spectrum_check(film, tr, s, sp, lag_at(sp, t_film), int(round(t_film * sr)), channels, explained,
                               pitch_kept=False)
        return heard if heard is not None else best
    if best.z < vs.min_z and any(abs(k - tr.speed) <= 0.5 * s.speed_step for k in settled):
        return best  # failed at the film's settled speed, printed near it: no speed search, no stretch reading
    if best.z < vs.min_z and not (patient and known):
        # (a patient candidate was found at the film's verified speed: nothing to estimate)
        sp1, lag1, _ = band_speed(film, tr, c.channel if c.channel in tr.channels else channels[0], tr.speed,
                                  c.lag, tau_c, s, 0.5 * s.speed_step + 0.003)
        ts, te = window(sp1)
        al1 = Alignment(sp1, int(round(lag1 * sr)), -np.inf, channels[0])
        al2, _ = drift_fit(film, tr, channels[0], al1, ts, te, int(0.06 * sr), 0.002, s)
        al = read(al2)
        if al.z > best.z:
            best = al
    if best.z < vs.min_z:
        if patient:
            return best
        stretched = playback is not None and playback[1]
        kept = stretch_check(film, tr, c, s, tau_c, t_film, channels, explained=explained,
                             transfer=playback[0] if stretched else None)
        if kept is None or kept.spectrum or stretched:
            return kept if kept is not None else best
        # the stretch reading searches its speed wider than the band search above (half a grid step about the
        # candidate's print): a candidate printed at another grid speed than the film's is found on its line, but
        # a resampled rendition is the default reading -- read by phase along the line (the drift of the lag over
        # the window, then GCC-PHAT), where that holds it is the alignment (`check` weighs the stretch reading
        # against it by what each explains); a film that time-stretches its music by phase goes straight to it
        ts, te = window(kept.speed)
        al1 = Alignment(kept.speed, kept.lag, -np.inf, kept.channel)
        al = read(drift_fit(film, tr, kept.channel, al1, ts, te, int(0.06 * sr), 0.002, s)[0])
        if al.z < vs.min_z:
            return kept
        best = al
    if best.speed not in settled:
        ts, te = window(best.speed)
        # GCC-PHAT over one window holds for speeds a few 1e-4 off (a known speed that is near, not equal)
        pol, _ = drift_fit(film, tr, best.channel, best, ts, te, 64, POLISH_ETA, s)
        ts, te = window(pol.speed)
        chk = gcc_at(film, tr, pol, ts, te, [best.channel], s)
        best = chk if chk.z >= best.z - 0.5 else best
    lo, hi = min(s.speeds), max(s.speeds)
    if lo <= best.speed <= hi:
        return best
    if not lo - SPEED_SLACK <= best.speed <= hi + SPEED_SLACK:
        return Alignment(best.speed, best.lag, -np.inf, best.channel)  # outside the range searched: not a match
    # within the estimate's resolution of the range: the speed is held to it (cues.speeds: [1.0] gives speed 1)
    sp = min(hi, max(lo, best.speed))
    ts, te = window(sp)
    return gcc_at(film, tr, Alignment(sp, best.lag + int(round((tau_c / best.speed - tau_c / sp) * sr))),
                  ts, te, [best.channel], s)


#: the speeds of the usual transfers: as released, NTSC pull-down / 23.976 fps (1000/1001 and back), PAL (25/24 and
#: back), PAL from a 23.976 fps master (25 * 1001 / 24000 and back)
TRANSFER_SPEEDS = (1.0, 1000 / 1001, 1001 / 1000, 25 / 24, 24 / 25, 25 * 1001 / 24000, 24000 / (25 * 1001))


def _snap_speed(sp: float, lag: float, t0: float, t1: float, tol: float = 0.1) -> tuple[float, float]:
    """A refitted line (speed, lag in film samples) moved onto a usual transfer speed where that moves the lag by
    under `tol` samples across film samples [t0, t1]: the fit cannot tell them apart, and a speed of exactly 1 is
    read without rendering (any other speed is rendered by windowed sinc). The line keeps its track position at
    the middle of the span."""
    tc = 0.5 * (t0 + t1)
    u = (tc - lag) * sp  # native track samples at the middle
    for r in TRANSFER_SPEEDS:
        if abs(sp / r - 1) * 0.5 * (t1 - t0) < tol:
            return r, tc - u / r
    return sp, lag


def _covered(lo: float, hi: float, spans) -> float:
    """Seconds of [lo, hi] that the union of `spans` ((start, end) pairs) covers."""
    covered, reach = 0.0, lo
    for a, b in sorted((max(lo, a), min(hi, b)) for a, b in spans if a < hi and b > lo):
        covered, reach = covered + max(0.0, b - max(a, reach)), max(reach, b)
    return covered


def _phased(cues: list[Cue], explained: list[tuple[float, float]] = ()) -> float:
    """Seconds of film the cues explain by their phases (or, read by spectra, by those): not the gaps only their
    spectra bridged, nor (pro rata) film that `explained` (film seconds: the cues found so far) already covers."""
    total = 0.0
    for q in cues:
        length = q.end - q.start
        if length <= 0:
            continue
        total += (length - q.heard) * (1.0 - _covered(q.start, q.end, explained) / length)
    return total


def _widened(cues: list[Cue], heard: list[Cue]) -> list[Cue]:
    """Cues of one line read by their phases, each carried out to the ends of the cues of the same line read by
    their spectra (`heard`) that overlap it; the seconds so added are counted as heard (`Cue.heard`), not phased,
    and add no evidence (strength times length, what `resolve_overlaps` weighs, stays the phases'). Pieces the
    widening makes overlap are one cue (their evidence summed)."""
    out: list[Cue] = []
    for q in sorted(cues, key=lambda q: q.start):
        over = [r for r in heard if r.start < q.end and r.end > q.start]
        a, b = min([q.start] + [r.start for r in over]), max([q.end] + [r.end for r in over])
        w = replace(q, start=a, end=b, strength=q.strength * (q.end - q.start) / (b - a),
                    heard=q.heard + (q.start - a) + (b - q.end))
        if out and w.start <= out[-1].end:
            p = out[-1]  # (the phased parts of two pieces are disjoint: the rest of the merged cue is heard)
            lp, lw = p.end - p.start, w.end - w.start
            end = max(p.end, w.end)
            phased = (lp - p.heard) + (lw - w.heard)
            out[-1] = replace(p, end=end, strength=(p.strength * lp + w.strength * lw) / (end - p.start),
                              heard=max(0.0, end - p.start - phased))
        else:
            out.append(w)
    return out


def _extent_at(film: FilmAudio, tr: Track, al: Alignment, s: StampSettings, tau_c: float
               ) -> tuple[list[Cue], tuple[float, float]]:
    """Cues at a verified alignment, from the checked window outward.

    A resampled rendition's coherence follows a drift of the lag of up to
    `DRIFT_TRACK` samples and its speed is refitted over the cues found
    (`extent`): the speed verified over one window is good to a few 1e-6, which
    moves the lag by a sample every 20 s or so.
    """
    sr = s.sample_rate
    w = int(s.verify.window_seconds * sr)
    c0 = int(tau_c / al.speed * sr)
    around = (c0 - w // 2 + al.lag, c0 + w // 2 + al.lag)
    return extent(film, tr, al.channel, al.lag, al.z, s, around=around, speed=al.speed, pitch_kept=al.pitch_kept,
                  track=0.0 if al.pitch_kept else DRIFT_TRACK, spectrum=al.spectrum)


# ---------------------------------------------------------------- driver


def match_film(film: FilmAudio, tracks: list[Track], s: StampSettings) -> list[Cue]:
    """All cues of `tracks` in `film` (chromaprint mode)."""
    cands: list[Candidate] = []
    if s.hash.enabled:
        cands += hash_candidates(film.prints, tracks, s)
    n_hash = len(cands)
    if s.xcorr.enabled:
        cands += xcorr_candidates(film.prints, tracks, s)
    n_votes = len(cands)
    cands = merge_candidates(cands)
    cap = max(20, int(s.xcorr.max_candidates_per_minute * film.duration / 60))
    log.debug("%s: %d hash + %d xcorr candidate votes -> %d alignments (cap %d)",
              film.path.name, n_hash, n_votes - n_hash, len(cands), cap)
    cands = cands[:cap]
    sr = s.sample_rate
    vs = s.verify
    found: list[Cue] = []
    examined: list[tuple[str, float, float, float, float]] = []  # (track, speed, lag s, film span examined)
    known: list[float] = []  # speeds verified in this film, the latest first
    known_len: list[float] = []  # the length of the cue each was refitted over (0: not refitted)
    found_by: list[tuple[str, str, float]] = []  # (track, source, score) of the candidate that found each cue

    def playback() -> tuple[float, bool] | None:
        """(speed, pitch kept) of the film's music as verified by phase: its longest such cue's, of the treatment
        (time-stretched or resampled) whose cues explain more of the film (the spectra reading's cues do not
        count); None where no cue is found yet."""
        phase = [q for q in found if not q.spectrum]
        net = sum((q.end - q.start) * (1 if q.pitch_kept else -1) for q in phase)
        mine = [q for q in phase if q.pitch_kept == (net > 0)]
        if not mine:
            return None
        q = max(mine, key=lambda q: q.end - q.start)
        return float(q.speed), bool(q.pitch_kept)
    n_checked = 0
    rivals: dict[tuple, bool] = {}

    def rival(q: Cue, tr: Track, m: float, tau_c: float) -> bool:
        """Whether a candidate of q's own track, track time `tau_c` (as released) at film time `m` inside q, plays
        the film's music there better than q's alignment: looped music and recapitulated themes repeat themselves
        closely enough to be accepted at the repeat, and then q's track offset (and whatever is read from the
        track there) names the wrong part of the track. Both alignments are read by GCC-PHAT over the same film
        window at q's speed; the candidate is checked (and `resolve_overlaps` keeps the better-evidenced cue) where
        its z exceeds q's by REPEAT_RIVAL, or, where the two read alike there, its z over q about the candidate
        exceeds q's (`_rival`). q's own alignment, or a q not verified by phase at one speed: no."""
        if q.pitch_kept or q.spectrum:
            return False
        sp = q.speed
        here = (m - q.lag) * sp  # track seconds under q's alignment at the candidate's film time
        if abs(here - tau_c) < 2 * vs.search_seconds * sp:
            return False
        key = (tr.name, sp, q.lag, round(m * sr), round(tau_c * sr))  # read once: a candidate is asked again and again
        if key not in rivals:
            rivals[key] = _rival(q, tr, m, tau_c, sp, here)
        return rivals[key]

    def _rival(q: Cue, tr: Track, m: float, tau_c: float, sp: float, here: float) -> bool:
        """`rival`'s reading. A near tie over the window (each within REPEAT_RIVAL of the other) is read again over
        up to RIVAL_SPAN_SECONDS of q about the candidate: a repeat can carry the layer that sets the statements
        apart in only part of the cue (looped music whose loops vary), or none of it where the window lies."""
        dur = tr.audio().n_samples / sr
        chans = [o for o in film.channels if o in tr.channels]
        readings = []
        for t_track in (tau_c, here):
            w = min(vs.window_seconds, dur / sp)
            t0 = min(max(0.0, t_track / sp - w / 2), max(0.0, dur / sp - w))
            ts, te = int(t0 * sr), int(min(dur / sp, t0 + w) * sr)
            al = Alignment(sp, int(round((m - t_track / sp) * sr)))
            readings.append(GccReading(film, tr, al, ts, te, chans, s))
        zs = [r.best().z for r in readings]
        if zs[0] < vs.min_z:
            return False
        if zs[0] > REPEAT_RIVAL * max(zs[1], 0.0):
            return True
        if zs[1] > REPEAT_RIVAL * zs[0] or RIVAL_SPAN_SECONDS <= 0:
            return False
        f0 = max(q.start, m - RIVAL_SPAN_SECONDS / 2)  # film seconds: q about the candidate
        f1 = min(q.end, m + RIVAL_SPAN_SECONDS / 2)
        # cues better evidenced than q trim it away there whatever the candidate reads
        better = [(o.start, o.end) for o in found if o.strength * (o.end - o.start) > q.strength * (q.end - q.start)]
        if _covered(f0, f1, better) >= 0.5 * (f1 - f0):
            return False
        for r in readings:
            r.grow(max(0, int(f0 * sr) - r.al.lag), min(int(dur / sp * sr), int(f1 * sr) - r.al.lag))
        zs = [r.best().z for r in readings]
        log.debug("%s: %s at track %.2f s against its cue's %.2f s over film %.2f-%.2f s: gcc z %.1f vs %.1f",
                  film.path.name, tr.name, tau_c, here, f0, f1, zs[0], zs[1])
        return zs[0] > zs[1]

    def contends(c: Candidate, tr: Track, q: Cue, by: tuple[str, str, float], m: float, tau_c: float) -> bool:
        """Whether candidate c (track time `tau_c` at film time `m`) inside cue q, found by candidate `by` (track,
        source, score), is checked all the same: its source scores it about as high as q's own candidate
        (DUPLICATE_SCORE), and it names another track (a near-duplicate of q's: the album's other mix or edit of
        it) or q's track at another offset that plays the film's music better there (`rival`). Checked, the two
        cues' overlap goes to the better-evidenced (`resolve_overlaps`), whichever the search ranked first."""
        if by[1] != c.source:
            # scores of two sources are not comparable: a candidate of the fine pass (which searches what the first
            # pass left, and finds a loop's true statement where the first pass took a repeat) is read against q's
            # alignment where it names q's own track
            return c.source == "fine" and by[0] == tr.name and rival(q, tr, m, tau_c)
        if c.score < DUPLICATE_SCORE * by[2]:
            return False
        return by[0] != tr.name or rival(q, tr, m, tau_c)

    def check(c: Candidate, patient: float | None = None, kept: bool = False) -> None:
        """Verify one candidate; `patient`: a candidate of quiet music found at this speed (`estimate`); `kept`:
        found with the track's pitch kept, in a film that time-stretches its music (`stretch_check` verifies it)."""
        nonlocal n_checked
        tr = tracks[c.track]
        mid_t = 0.5 * (c.t0 + c.t1)
        m = c.lag + mid_t              # film seconds
        tau_c = mid_t * tr.speed       # native track seconds
        # an alignment already examined around this candidate's window is not checked again
        if any(g == tr.name and e0 <= m <= e1 and abs(tau_c - (m - lag) * sp) < 2 * vs.search_seconds * sp
               for g, sp, lag, e0, e1 in examined):
            return
        # a candidate whose film window already lies inside an accepted cue is not checked again (music that
        # loops matches itself at several lags; checking every repeat of a loop doubles the matcher's time
        # for a few seconds of recall where a repeat was accepted first and covers only part of a cue) -- unless
        # it contends for the cue (`contends`)
        if any(q.start <= c.t0 + c.lag + 1.0 and c.t1 + c.lag - 1.0 <= q.end and not contends(c, tr, q, by, m, tau_c)
               for q, by in zip(found, found_by)):
            return
        n_checked += 1
        settled = tuple(k for k, n in zip(known, known_len) if n >= 2 * vs.window_seconds)
        done = [(q.start, q.end) for q in found]  # what a reading adds to the film's cues counts
        if kept:
            channels = [c.channel] + [o for o in film.channels if o != c.channel and o in tr.channels]
            pb = playback()
            al = (stretch_check(film, tr, c, s, tau_c, m, channels, speed=patient,
                                transfer=pb[0] if pb is not None and pb[1] else None, explained=done)
                  or Alignment(tr.speed, 0, -np.inf, pitch_kept=True))
        else:
            al = estimate(film, tr, c, s, known, patient=patient, settled=settled, playback=playback(),
                          explained=done)
        if al.z < (vs.spectrum_min_z if al.spectrum else vs.stretch_min_z if al.pitch_kept else vs.min_z):
            return
        cues, span = _extent_at(film, tr, al, s, tau_c)
        # (the readings are weighed by what their phases explain: the spectra of a time-stretched film's music also
        # agree along the resampled reading's line, whose phases hold only between the stretcher's jumps)
        if not al.pitch_kept and not patient and _phased(cues) < 1.5 * vs.window_seconds:
            # GCC-PHAT held over the window but the coherence may not follow it: a time-stretched transfer whose
            # grains copy the recording closely enough for one window (a small stretch such as 1000/1001); the
            # reading that explains more of the film wins
            channels = [o for o in film.channels if o in tr.channels]
            kept = stretch_check(film, tr, c, s, tau_c, m, [c.channel] + [o for o in channels if o != c.channel], al)
            if kept is not None:
                cues2, span2 = _extent_at(film, tr, kept, s, tau_c)
                n1, n2 = _phased(cues, done), _phased(cues2, done)
                # a stretcher copies grains of the recording at the speed as released, so a stretched film read
                # as resampled gives speed 1 (in pieces, between the stretcher's jumps), while the stretch's line
                # gives the transfer's speed: where the resampled reading sits at 1 and the stretch's line clearly
                # off it, the stretch wins if it explains more of the film (by a smoothing window); otherwise it
                # must explain clearly more (a resampled film read as stretched gives about its resampled speed,
                # and less film)
                sp1 = max(cues, key=lambda q: q.end - q.start).speed if cues else al.speed
                grains = abs(sp1 - 1) < STRETCH_GRAIN_SPEED and abs(kept.speed - 1) > STRETCH_SPEED_APART
                if n2 > 1.25 * n1 + 1.0 or (grains and n2 > n1 + STRETCH_MORE_SECONDS):
                    al, cues, span = kept, cues2, span2
        if al.pitch_kept and not al.spectrum:
            # a time-stretched reading's phase holds only within the stretcher's grains, weakly where the music is
            # quiet or sustained: its extent may keep a few seconds of a cue whose spectra follow its line throughout
            # (and a repeat of a looped track, read by its spectra, would take the rest), and its ends stop where
            # the grains of the music's quiet edges no longer hold; the spectra along the same line are read: they
            # win where the phases keep under 1.5 windows and they explain clearly more of the film, and otherwise
            # carry each cue's ends out as far as they reach (`_widened`)
            heard = replace(al, spectrum=True)
            cues2, span2 = _extent_at(film, tr, heard, s, tau_c)
            if _phased(cues) < 1.5 * vs.window_seconds and _phased(cues2, done) > 1.25 * _phased(cues, done) + 1.0:
                al, cues, span = heard, cues2, span2
            elif cues:
                cues = _widened(cues, cues2)
                span = (min(span[0], span2[0]), max(span[1], span2[1])) if cues2 else span
        examined.append((tr.name, al.speed, al.lag / sr, span[0], span[1]))
        if cues:
            # the speed refitted over the longest cue (`extent`) is the best this film offers: it replaces a near one
            longest = max(cues, key=lambda q: q.end - q.start)
            fitted, length = float(longest.speed), 0.0 if al.pitch_kept else longest.end - longest.start
            near = [i for i, k in enumerate(known) if abs(fitted - k) < 2e-4]
            if not near:
                known.insert(0, fitted)
                known_len.insert(0, length)
                del known[3:], known_len[3:]
            elif length > known_len[near[0]]:
                known[near[0]], known_len[near[0]] = fitted, length
        for q in cues:
            q.track = c.track
        found.extend(cues)
        found_by.extend([(tr.name, c.source, c.score)] * len(cues))
        log.debug("%s: %s at speed %.6f, lag %.3f s (%s, gcc z %.1f, %s): %d cue(s), %.0f-%.0f s examined",
                  film.path.name, tr.name, al.speed, al.lag / sr, c.source, al.z, al.channel, len(cues), span[0], span[1])

    for c in cands:
        check(c)
    if s.fine.enabled:
        # second pass: fine spectral frames at the film's speed (its music's as verified by phase, `playback`; else
        # the latest verified; else 1), where no cue is yet
        lo, hi = min(s.speeds), max(s.speeds)
        pb = playback()
        sp = pb[0] if pb is not None else known[0] if known else min(hi, max(lo, 1.0))

        def overlaps(c: Candidate) -> list[tuple[float, Cue, tuple[str, str, float]]]:
            """(seconds, cue, its finder) of each found cue that c's film window overlaps."""
            a, b = c.t0 + c.lag, c.t1 + c.lag
            return [(min(b, q.end) - max(a, q.start), q, by) for q, by in zip(found, found_by)
                    if min(b, q.end) > max(a, q.start)]

        def free(c: Candidate) -> bool:
            """Whether at most half of c's film window lies inside found cues."""
            return sum(o for o, _, _ in overlaps(c)) <= 0.5 * (c.t1 - c.t0)

        def explained(c: Candidate) -> bool:
            # this pass looks for what the first left unexplained: a candidate whose window lies mostly inside
            # found cues (a looped track matching a repeat of itself, most often) is not checked, unless it
            # contends for a cue of its own track (`contends`: at another offset, playing the film's music better)
            a, b = c.t0 + c.lag, c.t1 + c.lag
            tr, mid_t = tracks[c.track], 0.5 * (c.t0 + c.t1)
            over = overlaps(c)
            inside = sum(o for o, _, _ in over)
            for o, q, by in over:  # contention is read only where it decides: each reading costs two GCC-PHATs
                if inside <= 0.5 * (b - a):
                    break
                if by[0] == tr.name and contends(c, tr, q, by, c.lag + mid_t, mid_t * tr.speed):
                    inside -= o
            return inside > 0.5 * (b - a)

        # a transfer treats all its music one way: the fine frames read the tracks as the film's cues play them
        kept = sum((q.end - q.start) * (1 if q.pitch_kept else -1) for q in found) > 0
        fine = merge_candidates(fine_candidates(film, tracks, s, sp, [(q.start, q.end) for q in found], kept),
                                free=free)
        cap, todo = max(10, int(s.fine.max_candidates_per_minute * film.duration / 60)), []
        for c in fine:  # the first `cap` not yet explained
            if len(todo) >= cap:
                break
            if not explained(c):
                todo.append(c)
        for c in todo:
            if not explained(c):
                check(c, patient=sp, kept=kept)
    log.debug("%s: %d alignments checked, %d verified", film.path.name, n_checked, len(examined))
    for t in tracks:
        t.release()
    return resolve_overlaps(found, s.extent.min_cue_seconds)
