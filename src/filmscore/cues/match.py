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
   centred dialogue cancels; and on every searched speed (1 and the PAL 25/24).
2. Verification: a phase-coherent check of the waveforms (STFT GCC-PHAT) at the
   candidate lag: the film carries the very recording of the track, so a true
   alignment gives a sharp peak far above chance; its position is the
   sample-exact offset.
3. Extent: at the verified lag, the per-frame phase coherence of film and
   track (n_fft 1024, about 0.05 s frames) against its spread at off lags marks
   where the track plays; runs are merged, short ones dropped, and each
   boundary put at the best two-level step fit.
4. Overlaps between cues are resolved in favour of the stronger cue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .prints import CHROMAPRINT_HOP, FilmAudio, Prints
from .settings import StampSettings

log = logging.getLogger(__name__)


@dataclass
class Track:
    """One soundtrack track at one speed: its prints and (lazily) its PCM."""

    name: str
    path: Path
    speed: float
    prints: Prints
    loader: object = None  # callable() -> dict[channel, float32 PCM] at the matcher rate
    _pcm: dict | None = None

    def pcm(self) -> dict:
        if self._pcm is None:
            self._pcm = self.loader()  # type: ignore[misc]
        return self._pcm

    def release(self) -> None:
        self._pcm = None


@dataclass
class Candidate:
    track: int          # index into the track list
    channel: str
    lag: float          # film time minus (speed-adjusted) track time, seconds
    t0: float           # track span that supports it (speed-adjusted seconds)
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
        fmin = np.full(len(uk), np.iinfo(np.int64).max)
        fmax = np.full(len(uk), -1)
        np.minimum.at(fmin, inv, fi)
        np.maximum.at(fmax, inv, fi)
        for u in good:
            # keep local maxima only
            if any(near[j] > near[u] for j in np.searchsorted(uk, [uk[u] - 1, uk[u] + 1]) if j < len(uk) and abs(uk[j] - uk[u]) == 1):
                continue
            gg = int(uk[u] // (2 * span))
            lg = int(uk[u] % (2 * span) - span)
            f0, f1 = fmin[u] * CHROMAPRINT_HOP, (fmax[u] + 1) * CHROMAPRINT_HOP
            lag_s = lg * CHROMAPRINT_HOP
            out.append(Candidate(gg, ch, lag_s, f0 - lag_s, f1 - lag_s, float(near[u]), "chromaprint"))
    return out


# ---------------------------------------------------------------- candidates: band-frame cross-correlation


def xcorr_candidates(film: Prints, tracks: list[Track], s: StampSettings) -> list[Candidate]:
    xs = s.xcorr
    fs = s.bands.frame_seconds
    W = max(2, int(round(xs.segment_seconds / fs)))
    H = max(1, int(round(xs.hop_seconds / fs)))
    out: list[Candidate] = []
    for ch in film.channels:
        F = film.bands[ch]
        if len(F) < W:
            continue
        d = F.shape[1]
        U = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(F, (W, d))[:, 0].reshape(-1, W * d))
        segs, meta = [], []
        for g, t in enumerate(tracks):
            B = t.prints.bands.get(ch)
            if B is None or len(B) < W // 2:
                continue
            starts = list(range(0, max(1, len(B) - W + 1), H))
            if len(B) > W and starts[-1] < len(B) - W:
                starts.append(len(B) - W)
            for a in starts:
                seg = B[a:a + W]
                n_live = int((np.abs(seg).sum(axis=1) > 0).sum())
                if n_live < W // 2:
                    continue
                if len(seg) < W:
                    seg = np.vstack([seg, np.zeros((W - len(seg), d), np.float32)])
                segs.append(seg.reshape(-1))
                meta.append((g, a, n_live))
        if not segs:
            continue
        S = np.asarray(segs, dtype=np.float32)
        chunk = 256
        for c0 in range(0, len(S), chunk):
            M = U @ S[c0:c0 + chunk].T  # (positions, segments): summed frame cosines
            mu = M.mean(axis=0)
            sd = M.std(axis=0) + 1e-9
            Z = (M - mu) / sd
            for _ in range(xs.peaks_per_segment):
                p = np.argmax(Z, axis=0)
                z = Z[p, np.arange(Z.shape[1])]
                for j in np.nonzero(z >= xs.min_z)[0]:
                    g, a, n_live = meta[c0 + j]
                    lag = (int(p[j]) - a) * fs
                    out.append(Candidate(g, ch, lag, a * fs, (a + W) * fs, float(z[j]), "xcorr"))
                for j in range(Z.shape[1]):
                    Z[max(0, p[j] - W):p[j] + W, j] = -np.inf
    return out


def merge_candidates(cands: list[Candidate], tol: float = 0.5) -> list[Candidate]:
    """One candidate per (track, lag within tol): the strongest, spanning its supporters."""
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
                out.append(Candidate(g, best.channel, best.lag, best.t0, best.t1, score, best.source))
            group = [c] if c is not None else []
    out.sort(key=lambda c: -c.score)
    return out


# ---------------------------------------------------------------- verification: STFT GCC-PHAT


def _band(n_fft: int, sr: int, fmin: float, fmax: float) -> np.ndarray:
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    return (f >= fmin) & (f <= fmax)


def gcc_phat(x: np.ndarray, y: np.ndarray, max_lag: int, n_fft: int, sr: int, fmin: float, fmax: float) -> tuple[int, float]:
    """Where y sits in x (x = y delayed by max_lag + tau, tau in [-max_lag, max_lag]) and the peak's z-score.

    x is 2*max_lag samples longer than y. Frames of y (n_fft, half overlap) are
    matched with the frames of x that cover every lag; cross-spectra are
    whitened (PHAT) per frame and averaged, which lets the bins where the
    music is not masked carry the decision.
    """
    N = n_fft + 2 * max_lag
    N2 = 1 << int(np.ceil(np.log2(N)))
    hop = n_fft // 2
    band = _band(N2, sr, fmin, fmax)
    win = np.hanning(n_fft).astype(np.float32)
    acc = np.zeros(N2 // 2 + 1, dtype=np.complex128)
    n_frames = max(1, 1 + (len(y) - n_fft) // hop)
    ys, xs = [], []
    for m in range(n_frames):
        a = m * hop
        yf = y[a:a + n_fft]
        if len(yf) < n_fft:
            yf = np.pad(yf, (0, n_fft - len(yf)))
        xf = x[a:a + n_fft + 2 * max_lag]
        if len(xf) < n_fft + 2 * max_lag:
            xf = np.pad(xf, (0, n_fft + 2 * max_lag - len(xf)))
        ys.append(yf * win)
        xs.append(xf)
    Y = np.fft.rfft(np.asarray(ys), N2, axis=1)
    X = np.fft.rfft(np.asarray(xs), N2, axis=1)
    C = X * np.conj(Y)
    C /= np.abs(C) + 1e-12
    C[:, ~band] = 0
    acc = C.mean(axis=0)
    r = np.fft.irfft(acc, N2)[: 2 * max_lag + 1]
    k = int(np.argmax(r))
    mask = np.ones(len(r), bool)
    mask[max(0, k - 32):k + 33] = False
    bg = r[mask] if mask.sum() > 16 else r
    z = float((r[k] - np.median(bg)) / (bg.std() + 1e-12))
    return k - max_lag, z


# ---------------------------------------------------------------- extent: phase coherence at the lag


def coherence_curves(film: FilmAudio, y: np.ndarray, ch: str, lag: int, n_fft: int, sr: int,
                     fmin: float, fmax: float, f0: int, f1: int, null_shifts: tuple[int, ...]) -> tuple[np.ndarray, list]:
    """Per-frame phase coherence of film[f0:f1] and the track at `lag` (film = track + lag samples).

    Also the same at off lags of `null_shifts` whole frames (the chance level
    of this very stretch of film), from the same spectra: the track's frames
    are simply paired with film frames that many hops away.
    """
    hop = n_fft // 2
    x = film.pcm(ch, f0, f1)
    ya = np.zeros(f1 - f0, dtype=np.float32)
    a, b = max(0, f0 - lag), min(len(y), f1 - lag)
    if b > a:
        ya[a - (f0 - lag):b - (f0 - lag)] = y[a:b]
    n = 1 + (len(x) - n_fft) // hop if len(x) >= n_fft else 0
    if n <= 0:
        return np.zeros(0, np.float32), [np.zeros(0, np.float32) for _ in null_shifts]
    win = np.hanning(n_fft).astype(np.float32)
    band = _band(n_fft, sr, fmin, fmax)

    def unit_spectra(sig):
        F = np.fft.rfft(np.lib.stride_tricks.sliding_window_view(sig, n_fft)[::hop][:n] * win, axis=1)[:, band]
        return (F / (np.abs(F) + 1e-9)).astype(np.complex64)

    X, Y = unit_spectra(x), unit_spectra(ya)
    live = (np.abs(Y).sum(axis=1) > 0)
    coh = (X * np.conj(Y)).real.mean(axis=1)
    nulls = []
    for k in null_shifts:
        if abs(k) >= n:
            nulls.append(np.zeros(0, np.float32))
            continue
        if k > 0:
            c = (X[k:] * np.conj(Y[:-k])).real.mean(axis=1)[live[:-k]]
        else:
            c = (X[:k] * np.conj(Y[-k:])).real.mean(axis=1)[live[-k:]]
        nulls.append(c.astype(np.float32))
    return coh.astype(np.float32), nulls


def _smooth(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(x) == 0:
        return x
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    i = np.arange(len(x))
    lo = np.clip(i - k // 2, 0, len(x))
    hi = np.clip(i + k - k // 2, 0, len(x))
    return ((c[hi] - c[lo]) / (hi - lo)).astype(np.float32)


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
    lag: float          # seconds, film = track(speed-adjusted) + lag
    strength: float     # mean coherence z over the cue
    gcc_z: float
    channel: str


def extent(film: FilmAudio, tr: Track, ch: str, lag_samples: int, gcc_z: float, s: StampSettings) -> list[Cue]:
    sr = s.sample_rate
    es = s.extent
    y = tr.pcm()[ch]
    f0 = max(0, lag_samples)
    f1 = min(film.n_samples, lag_samples + len(y))
    if f1 - f0 < es.n_fft * 4:
        return []
    hop = es.n_fft // 2
    k = max(1, int(round(es.smooth_seconds * sr / hop)))
    shifts = (int(round(0.53 * sr / hop)), -int(round(0.79 * sr / hop)))  # off lags, not beat-like multiples
    coh, nulls = coherence_curves(film, y, ch, lag_samples, es.n_fft, sr, s.verify.fmin, s.verify.fmax, f0, f1, shifts)
    sm = _smooth(coh, k)
    null = np.concatenate([_smooth(c, k) for c in nulls if len(c) > k] or [sm])
    sigma = float(np.std(null)) + 1e-9
    mu = float(np.median(null))
    z = (sm - mu) / sigma
    mask = z >= es.min_z
    runs = _runs(mask)
    # merge short gaps
    gap = int(round(es.merge_gap_seconds * sr / hop))
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= gap:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    cues = []
    frame_t = lambda i: (f0 + i * hop + es.n_fft / 2) / sr  # noqa: E731  centre of frame i
    for a, b in merged:
        if (b - a) * hop / sr < es.min_cue_seconds:
            continue
        a2 = _step_fit(coh, a, k, rising=True)
        b2 = _step_fit(coh, b, k, rising=False)
        if b2 <= a2:
            a2, b2 = a, b
        start = max(0.0, frame_t(a2) - hop / (2 * sr))
        end = min(film.duration, frame_t(b2 - 1) + hop / (2 * sr))
        if end - start < es.min_cue_seconds:
            continue
        cues.append(Cue(-1, start, end, lag_samples / sr, float(np.mean(z[a:b])), gcc_z, ch))
    return cues


# ---------------------------------------------------------------- overlaps


def resolve_overlaps(cues: list[Cue], min_len: float) -> list[Cue]:
    """Stronger cues keep their time; weaker ones are trimmed around them (or dropped)."""
    kept: list[Cue] = []
    for c in sorted(cues, key=lambda c: -c.strength):
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
                kept.append(Cue(c.track, a, b, c.lag, c.strength, c.gcc_z, c.channel))
    return sorted(kept, key=lambda c: c.start)


# ---------------------------------------------------------------- driver


def match_film(film: FilmAudio, tracks: list[Track], s: StampSettings) -> list[Cue]:
    """All cues of `tracks` in `film` (chromaprint mode)."""
    cands: list[Candidate] = []
    if s.hash.enabled:
        cands += hash_candidates(film.prints, tracks, s)
    n_hash = len(cands)
    if s.xcorr.enabled:
        cands += xcorr_candidates(film.prints, tracks, s)
    cands = merge_candidates(cands)
    cap = max(20, int(s.xcorr.max_candidates_per_minute * film.duration / 60))
    log.debug("%s: %d hash + %d xcorr candidate votes -> %d alignments (cap %d)",
              film.path.name, n_hash, len(cands) - n_hash, len(cands), cap)
    cands = cands[:cap]
    sr = s.sample_rate
    vs = s.verify
    S = int(round(vs.search_seconds * sr))
    found: list[Cue] = []
    verified: list[tuple[int, float]] = []
    for c in cands:
        if any(g == c.track and abs(lag - c.lag) < 2 * vs.search_seconds for g, lag in verified):
            continue
        # a candidate whose film window already lies inside an accepted cue is not checked again
        # (looped music matches itself at several lags; the strongest came first)
        if any(q.start <= c.t0 + c.lag + 1.0 and c.t1 + c.lag - 1.0 <= q.end for q in found):
            continue
        tr = tracks[c.track]
        pcm = tr.pcm()
        dur = len(pcm["mid"]) / sr
        mid_t = 0.5 * (c.t0 + c.t1)
        w = min(vs.window_seconds, dur)
        t0 = min(max(0.0, mid_t - w / 2), max(0.0, dur - w))
        ts, te = int(t0 * sr), int(min(dur, t0 + w) * sr)
        lag0 = int(round(c.lag * sr))
        best = (0, -np.inf, "mid")
        for ch in film.channels:
            if ch not in pcm:
                continue
            y = pcm[ch][ts:te]
            x = film.pcm(ch, ts + lag0 - S, te + lag0 + S)
            if not np.any(x) or not np.any(y):
                continue
            tau, z = gcc_phat(x, y, S, min(vs.n_fft, max(1024, 1 << int(np.log2(max(2, len(y)))))), sr, vs.fmin, vs.fmax)
            if z > best[1]:
                best = (tau, z, ch)
        tau, z, ch = best
        if z < vs.min_z:
            continue
        lag = lag0 + tau
        verified.append((c.track, lag / sr))
        chans = [ch] + [o for o in film.channels if o != ch and o in pcm]
        cues: list[Cue] = []
        for ch2 in chans[:1]:
            cues = extent(film, tr, ch2, lag, z, s)
        for q in cues:
            q.track = c.track
        log.debug("%s: %s at lag %.3f s (%s, gcc z %.1f, %s): %d cue(s)", film.path.name, tr.name, lag / sr,
                  c.source, z, ch, len(cues))
        found += cues
    for t in tracks:
        t.release()
    return resolve_overlaps(found, s.extent.min_cue_seconds)
