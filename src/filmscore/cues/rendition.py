"""The tolerant tier: the same composition in another rendition (`cues.renditions`, settings `cues.tolerant`).

The exact tier (`match`) verifies an alignment by the phase of the waveforms:
it finds the album's very recording, at any playback speed, and nothing
else. A film often plays another rendition of a cue's composition: another
take or mix, re-recorded at a slightly different tempo with its pitch kept,
re-orchestrated, or remixed. Its waveform shares nothing with the album's, so
GCC-PHAT cannot verify it; its harmony and melody, the sequence of pitch
classes, are the same. This tier matches that sequence, on the film time the
exact tier left unclaimed, and reports what it finds with ``match:
rendition``.

Method: chroma-based audio matching (Müller, Kurth & Clausen, "Audio
matching via chroma-based statistical features", ISMIR 2005; Kurth & Müller,
"Efficient index-based audio matching", IEEE TASLP 2008; Müller,
"Fundamentals of Music Processing", 2015, §7.2: diagonal matching with
tempo-scaled queries).

1. Features: CENS (chroma energy normalized statistics). STFT (n_fft 4096 at
   the matcher rate, hop 2048: 0.19 s), power of 65 Hz to 2.1 kHz folded into
   12 pitch classes, each frame L1-normalised and quantised to 0..4 on a
   logarithmic scale (thresholds 0.05, 0.1, 0.2, 0.4), smoothed by a Hann
   window of `SMOOTH_FRAMES` and taken every `DECIMATE` frames (0.37 s).
   Quantisation and smoothing make the features robust to dynamics, timbre,
   articulation and small timing deviations: what a rendition changes.
   The slowly varying harmony (a moving mean over `HIGHPASS_FRAMES`, 10 s)
   is removed, so that two pieces in one key holding one chord do not match
   for that alone: what is matched is the succession of harmonies. Each vector is then centred (its mean over the 12 classes removed) and
   L2-normalised, so that a frame whose energy is spread evenly over the
   pitch classes (noise, effects, unvoiced or gliding speech, silence)
   becomes the zero vector and contributes nothing, and the cosine of
   unrelated music scatters around 0 rather than around the 0.6 of raw
   chroma.
2. Candidates (diagonal matching): every `segment_seconds` excerpt of every
   track (every `hop_seconds`), resampled in time to each tempo of a grid
   (1 and steps of `tempo_step` out to `tempos`: a rendition's tempo is
   within half a step of one of them, so the query drifts by at most a
   quarter of a step across it), is compared with every film position at
   once (one matrix product over unfolded film frames, as the exact tier's
   band-frame candidates); the score is the mean frame cosine, and a
   position whose score is at least `min_similarity` and stands
   `CANDIDATE_Z` spreads above that query's scores over the film is a
   candidate. No transposition is searched: a rendition in another key is
   not matched.
3. Alignment: the candidates of a track cluster along lines (film time
   against track time, slope 1/tempo); each cluster (the best supported
   first, at most `MAX_CLUSTERS_PER_MINUTE`) is refined by a finer search of
   tempo and lag that maximises the mean cosine over its span, and refined
   again over the cue it gives. The path is this one line (a constant tempo
   per cue): a rendition whose tempo drifts much within a cue is found in
   pieces or not at all; a warping path (subsequence DTW in the band around
   the line) is not implemented.
4. Extent and acceptance: the frame cosines along the line, smoothed over
   `EXTENT_SMOOTH_SECONDS`, are compared with the same line shifted
   `NULL_SHIFTS` times across the track (the chance level of this track
   against this film stretch); the run that holds the candidates and stays
   `EXTENT_Z` spreads above chance is the cue. It is kept when it lasts at
   least `min_cue_seconds`, its mean cosine is at least `min_similarity`,
   and that mean stands `min_z` spreads above the means of the shifted lines
   over the same span. A cue never enters time an exact cue holds: the
   film's frames there are set to zero before matching, and a cue is cut
   around exact cues.

What is reported: `speed` is the tempo ratio (track seconds per film second,
as for exact cues) of the fitted path; `track_offset` is the track time at
the cue's start along it, within about a second (a feature frame is 0.37 s; a
room reverb delays what the chroma sees), and so are the boundaries; `pitch` is `kept`; `confidence` is below every exact cue's (an
exact cue is accepted at 0.5 or more, a rendition gets at most 0.5:
0.5 * logistic of its z above `min_z`), `gcc_z` is NaN and `strength` is that
z. The features stages cannot read a rendition's
audio from the album (it is another recording): see docs/cues.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy.ndimage import convolve1d, uniform_filter1d

log = logging.getLogger(__name__)

N_FFT = 4096
HOP = 2048
FMIN, FMAX = 65.0, 2100.0
SMOOTH_FRAMES = 9          # Hann smoothing of the quantised chroma, STFT frames (about 1.7 s)
DECIMATE = 2               # feature frame = 2 STFT hops (0.37 s at 11025 Hz)
QUANT = (0.05, 0.1, 0.2, 0.4)
SILENT_RMS = 1e-3          # frames quieter than this (re full scale) carry no chroma
EXTENT_SMOOTH_SECONDS = 3.0
NULL_SHIFTS = 48
CANDIDATE_Z = 3.0          # an excerpt's score this many spreads above its scores over the film (and min_similarity)
EXTENT_Z = 2.0
MAX_CLUSTERS_PER_MINUTE = 6  # alignments examined per minute of film and channel, the best supported first             # a cue's frames: smoothed cosine this many spreads above chance
HIGHPASS_FRAMES = 27       # the slowly varying harmony (a moving mean over 10 s) removed: chord changes remain           # chance level: the path shifted this many times across the track


def frame_seconds(sr: int) -> float:
    return HOP * DECIMATE / sr


def _chroma_map(sr: int) -> tuple[np.ndarray, np.ndarray]:
    f = np.fft.rfftfreq(N_FFT, 1 / sr)
    keep = np.nonzero((f >= FMIN) & (f <= FMAX))[0]
    pc = np.mod(np.round(12 * np.log2(f[keep] / 440.0)).astype(int) + 69, 12)
    return keep, pc


def cens(read, n_samples: int, sr: int, block_frames: int = 2048) -> np.ndarray:
    """Centred, L2-normalised CENS frames (n, 12) float32 of a signal read by `read(a, b)` (float32 samples)."""
    n_frames = max(0, 1 + (n_samples - N_FFT) // HOP) if n_samples >= N_FFT else 0
    if n_frames == 0:
        return np.zeros((0, 12), np.float32)
    keep, pc = _chroma_map(sr)
    M = np.zeros((len(keep), 12), np.float32)
    M[np.arange(len(keep)), pc] = 1.0
    win = np.hanning(N_FFT).astype(np.float32)
    q = np.zeros((n_frames, 12), np.float32)
    for k0 in range(0, n_frames, block_frames):
        k1 = min(n_frames, k0 + block_frames)
        x = read(k0 * HOP, (k1 - 1) * HOP + N_FFT)
        fr = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP][: k1 - k0]
        rms = np.sqrt(np.mean(fr.astype(np.float32) ** 2, axis=1))
        P = np.abs(sfft.rfft(fr * win, axis=1)[:, keep]) ** 2
        c = P.astype(np.float32) @ M
        c /= c.sum(axis=1, keepdims=True) + 1e-20
        lv = np.zeros_like(c)
        for t in QUANT:
            lv += c > t
        lv[rms < SILENT_RMS] = 0
        q[k0:k1] = lv
    h = np.hanning(SMOOTH_FRAMES + 2)[1:-1].astype(np.float32)
    h /= h.sum()
    # (scipy.ndimage keeps the length whatever it is: a track shorter than the windows gives its few frames)
    sm = convolve1d(q, h, axis=0, mode="constant")[::DECIMATE]
    if HIGHPASS_FRAMES:
        sm = sm - uniform_filter1d(sm, HIGHPASS_FRAMES, axis=0, mode="nearest")
    sm -= sm.mean(axis=1, keepdims=True)
    nrm = np.linalg.norm(sm, axis=1, keepdims=True)
    return np.where(nrm > 1e-3, sm / np.maximum(nrm, 1e-3), 0.0).astype(np.float32)


def at_tempo(T: np.ndarray, tempo: float, start: float = 0.0, n: int | None = None) -> np.ndarray:
    """Frames of track features T read at track frame start + k * tempo (linear interpolation), zero outside."""
    if n is None:
        n = int(np.floor((len(T) - 1 - start) / tempo)) + 1 if len(T) else 0
    pos = start + np.arange(max(0, n)) * tempo
    i = np.floor(pos).astype(int)
    w = (pos - i).astype(np.float32)[:, None]
    ok = (i >= 0) & (i + 1 < len(T))
    out = np.zeros((len(pos), T.shape[1]), np.float32)
    out[ok] = T[i[ok]] * (1 - w[ok]) + T[i[ok] + 1] * w[ok]
    last = (i == len(T) - 1)
    out[last] = T[-1] if len(T) else 0
    return out


# ---------------------------------------------------------------- matching


@dataclass
class RenditionCue:
    track: str
    start: float        # film seconds
    end: float
    track_offset: float  # track seconds at `start`
    tempo: float        # track seconds per film second
    similarity: float   # mean frame cosine along the path
    z: float            # mean z above chance along the path
    channel: str


@dataclass
class _Hit:
    track: str
    tempo: float
    a: float            # film frame where track frame 0 falls, on the line of slope 1 / tempo
    pos: int            # film frame of the hit's start
    z: float


def tempo_grid(lo: float, hi: float, step: float) -> list[float]:
    """1 and steps of `step` out to within half a step of [lo, hi] (every tempo of the range within step / 2)."""
    out = [1.0] if lo - step / 2 <= 1.0 <= hi + step / 2 else []
    k = 1
    while 1.0 + (k - 0.5) * step < hi:
        out.append(1.0 + k * step)
        k += 1
    k = 1
    while 1.0 - (k - 0.5) * step > lo:
        out.append(1.0 - k * step)
        k += 1
    return sorted(out)


def _hits(F: np.ndarray, valid: np.ndarray, tracks: dict[str, np.ndarray], t, fs: float) -> list[_Hit]:
    """Diagonal matching: every track segment at every tempo of the grid against every film position."""
    L = max(4, int(round(t.segment_seconds / fs)))
    H = max(1, int(round(t.hop_seconds / fs)))
    if len(F) < L:
        return []
    U = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(F, (L, 12))[:, 0].reshape(-1, L * 12))
    # a position counts in the spread only if most of its window is unclaimed film with chroma
    live = np.convolve(valid.astype(np.float32), np.ones(L, np.float32), mode="valid") >= 0.5 * L
    if live.sum() < 2 * L:
        return []
    Ul = U[live]
    P = len(Ul)
    idx = np.nonzero(live)[0]
    out: list[_Hit] = []
    for name, T in tracks.items():
        qs, meta = [], []
        for tempo in tempo_grid(min(t.tempos), max(t.tempos), t.tempo_step):
            for j0 in range(0, max(1, int((len(T) - L * tempo) + 1)), H):
                q = at_tempo(T, tempo, float(j0), L)
                if (np.abs(q).sum(axis=1) > 0).sum() < L // 2:
                    continue
                qs.append(q.reshape(-1))
                meta.append((tempo, j0))
        if not qs:
            continue
        Q = np.asarray(qs, np.float32)
        for c0 in range(0, len(Q), 512):
            M = (Q[c0:c0 + 512] @ Ul.T) / L
            mu = M.mean(axis=1)
            sd = M.std(axis=1) + 1e-6
            Z = (M - mu[:, None]) / sd[:, None]
            rows, cols = np.nonzero((Z >= CANDIDATE_Z) & (M >= t.min_similarity))
            for r, c in zip(rows, cols):
                tempo, j0 = meta[c0 + r]
                p = int(idx[c])
                out.append(_Hit(name, tempo, p - j0 / tempo, p, float(Z[r, c])))
    return out


def _clusters(hits: list[_Hit], step: float, tol_frames: float) -> list[list[_Hit]]:
    """Hits of one track along one line (tempo within a step, offset within tol), the best-supported first."""
    out: list[list[_Hit]] = []
    for h in sorted(hits, key=lambda h: -h.z):
        for c in out:
            h0 = c[0]
            if h0.track == h.track and abs(h0.tempo - h.tempo) <= step * 1.01 and abs(h0.a - h.a) <= tol_frames:
                c.append(h)
                break
        else:
            out.append([h])
    return sorted(out, key=lambda c: -sum(h.z for h in c))


def _path_cos(F: np.ndarray, T: np.ndarray, a: float, tempo: float, k0: int, k1: int, shift: float = 0.0) -> np.ndarray:
    """Frame cosines of film frames k0..k1 with the track read along the line (film frame k -> track frame
    (k - a) * tempo + shift), wrapped around the track (so a shifted line always reads track frames)."""
    k = np.arange(k0, k1)
    pos = (k - a) * tempo + shift
    n = len(T)
    if shift:
        pos = np.mod(pos, n - 1)
    i = np.floor(pos).astype(int)
    w = (pos - i).astype(np.float32)[:, None]
    ok = (i >= 0) & (i + 1 < n)
    out = np.zeros(len(k), np.float32)
    if ok.any():
        v = T[i[ok]] * (1 - w[ok]) + T[i[ok] + 1] * w[ok]
        out[ok] = np.einsum("ij,ij->i", F[k[ok]], v)
    return out


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 1:
        return x
    return np.convolve(x, np.ones(n, np.float32) / n, mode="same")


def _refine(F: np.ndarray, T: np.ndarray, c: list[_Hit], L: int, step: float) -> tuple[float, float]:
    """The line (a, tempo) that maximises the mean cosine over the cluster's film span."""
    k0 = max(0, min(h.pos for h in c))
    k1 = min(len(F), max(h.pos for h in c) + L)
    best = (-np.inf, c[0].a, c[0].tempo)
    for tempo in c[0].tempo + step * np.linspace(-0.5, 0.5, 9):
        for da in np.arange(-2.0, 2.01, 0.25):
            a = c[0].a + da
            v = float(_path_cos(F, T, a, tempo, k0, k1).mean())
            if v > best[0]:
                best = (v, a, tempo)
    return best[1], best[2]


def find_renditions(F: dict[str, np.ndarray], valid: np.ndarray, tracks: dict[str, np.ndarray], t, sr: int,
                    claimed: list[tuple[float, float]]) -> list[RenditionCue]:
    """Rendition cues of `tracks` (name -> CENS) in the film's CENS `F` (channel -> frames), outside `claimed`."""
    fs = frame_seconds(sr)
    L = max(4, int(round(t.segment_seconds / fs)))
    sm = max(1, int(round(EXTENT_SMOOTH_SECONDS / fs)))
    found: list[RenditionCue] = []
    for ch, Fc in F.items():
        hits = _hits(Fc, valid, tracks, t, fs)
        cap = max(20, int(MAX_CLUSTERS_PER_MINUTE * len(Fc) * fs / 60))
        for c in _clusters(hits, t.tempo_step, 1.5 / fs)[:cap]:
            name = c[0].track
            T = tracks[name]
            center = 0.5 * (min(h.pos for h in c) + max(h.pos for h in c) + L)
            if any(q.start / fs <= center <= q.end / fs for q in found):
                continue
            a, tempo = _refine(Fc, T, c, L, t.tempo_step)
            # the film frames where the track can play along this line
            k0 = max(0, int(np.ceil(a)))
            k1 = min(len(Fc), int(np.floor(a + (len(T) - 1) / tempo)))
            if k1 - k0 < L:
                continue
            cos = _smooth(_path_cos(Fc, T, a, tempo, k0, k1), sm)
            shifts = np.linspace(0.15, 0.85, NULL_SHIFTS) * len(T)
            null = np.stack([_smooth(_path_cos(Fc, T, a, tempo, k0, k1, shift=float(d)), sm) for d in shifts])
            z = (cos - null.mean(axis=0)) / (null.std(axis=0) + 1e-3)
            on = (z >= EXTENT_Z) & valid[k0:k1]
            # the run holding the cluster's centre, gaps under a smoothing window bridged
            ci = int(round(center)) - k0
            if not (0 <= ci < len(on)):
                continue
            gap = sm
            lo = ci
            while lo > 0 and (on[lo - 1] or on[max(0, lo - gap):lo].any()):
                lo -= 1
            hi = ci
            while hi < len(on) - 1 and (on[hi + 1] or on[hi + 1:hi + 1 + gap].any()):
                hi += 1
            while lo < hi and not on[lo]:
                lo += 1
            while hi > lo and not on[hi]:
                hi -= 1
            if hi - lo >= L:  # the line refitted over the whole run, and the run found again along it
                a, tempo = _refine(Fc, T, [_Hit(name, tempo, a, k0 + lo, 0.0), _Hit(name, tempo, a, k0 + hi - L, 0.0)],
                                   L, t.tempo_step / 2)
            c = (N_FFT / 2) / sr  # film and track frame k are centred at k * fs + c
            start, end = (k0 + lo - 0.5) * fs + c, (k0 + hi + 0.5) * fs + c
            for s0, e0 in _cut(start, end, claimed):
                if e0 - s0 < t.min_cue_seconds:
                    continue
                i0, i1 = int(round((s0 - c) / fs)) - k0, int(round((e0 - c) / fs)) - k0
                off = ((s0 - c) / fs - a) * tempo * fs + c
                raw = _path_cos(Fc, T, a, tempo, k0 + i0, k0 + i1)
                simv = float(raw.mean())
                # the cue's mean cosine against the same span read along the shifted paths: chance for this
                # track against this stretch of film
                nulls = np.array([_path_cos(Fc, T, a, tempo, k0 + i0, k0 + i1, shift=float(d)).mean() for d in shifts])
                zv = float((simv - nulls.mean()) / (nulls.std() + 1e-3))
                if simv < t.min_similarity or zv < t.min_z:
                    log.debug("rendition rejected: %s %.1f-%.1f s, tempo %.4f, cos %.2f, z %.1f (%s)", name, s0, e0,
                              tempo, simv, zv, ch)
                    continue
                found.append(RenditionCue(name, s0, e0, max(0.0, off), tempo, simv, zv, ch))
                log.debug("rendition: %s %.1f-%.1f s, tempo %.4f, offset %.1f s, cos %.2f, z %.1f (%s)", name, s0, e0,
                          tempo, off, simv, zv, ch)
    return _resolve(found, t.min_cue_seconds)


def _cut(a: float, b: float, claimed: list[tuple[float, float]]) -> list[tuple[float, float]]:
    pieces = [(a, b)]
    for s, e in claimed:
        nxt = []
        for x, y in pieces:
            if y <= s or x >= e:
                nxt.append((x, y))
                continue
            if x < s:
                nxt.append((x, s))
            if y > e:
                nxt.append((e, y))
        pieces = nxt
    return pieces


def _resolve(cues: list[RenditionCue], min_len: float) -> list[RenditionCue]:
    """Overlapping rendition cues: the one with more evidence (z times length) keeps its time."""
    kept: list[RenditionCue] = []
    for c in sorted(cues, key=lambda c: -c.z * (c.end - c.start)):
        for s0, e0 in _cut(c.start, c.end, [(k.start, k.end) for k in kept]):
            if e0 - s0 >= min_len:
                kept.append(RenditionCue(c.track, s0, e0, c.track_offset + (s0 - c.start) * c.tempo, c.tempo,
                                         c.similarity, c.z, c.channel))
    return sorted(kept, key=lambda c: c.start)


def film_cens(film, sr: int) -> dict[str, np.ndarray]:
    """CENS of each of the film's channels (mid and, where it carries signal, side)."""
    return {ch: cens(lambda a, b, ch=ch: film.pcm(ch, a, b), film.n_samples, sr) for ch in film.channels}


def track_cens(tracks, sr: int) -> dict[str, np.ndarray]:
    """CENS of each track (by name; its mid, as released), computed once whatever its grid speeds."""
    out: dict[str, np.ndarray] = {}
    for tr in tracks:
        if tr.name in out:
            continue
        au = tr.audio()
        out[tr.name] = cens(lambda a, b, au=au: au.span("mid", a, b, 1.0), au.n_samples, sr)
    return out


def match_renditions(film, tracks, s, claimed: list[tuple[float, float]]) -> list[RenditionCue]:
    """Rendition cues of `tracks` (match.Track) in `film` (prints.FilmAudio) outside the film spans `claimed`."""
    sr = s.sample_rate
    fs = frame_seconds(sr)
    F = film_cens(film, sr)
    n = min(len(v) for v in F.values()) if F else 0
    F = {ch: v[:n] for ch, v in F.items()}
    valid = np.ones(n, bool)
    centres = np.arange(n) * fs + (N_FFT / 2) / sr
    for a, b in claimed:
        valid[(centres >= a) & (centres < b)] = False
    for ch in F:
        F[ch][~valid] = 0.0
    valid &= np.any([np.abs(v).sum(axis=1) > 0 for v in F.values()], axis=0) if F else valid
    T = track_cens(tracks, sr)
    cues = find_renditions(F, valid, T, s.tolerant, sr, claimed)
    log.debug("%s: %d rendition cue(s) outside %d exact cue(s)", film.path.name, len(cues), len(claimed))
    return cues
