"""The tolerant tier: the same composition in another rendition (`cues.renditions`, settings `cues.tolerant`).

The exact tier (`match`) verifies an alignment by the phase of the waveforms:
it finds the album's very recording, at any playback speed, and nothing
else. A film often plays another rendition of a cue's composition: another
take or mix, re-recorded at a slightly different tempo with its pitch kept,
re-orchestrated, or remixed. Its waveform shares nothing with the album's, so
GCC-PHAT cannot verify it; its notes, harmony and melody are the same. This
tier looks for them on the film time the exact tier left unclaimed, and
reports what it finds with ``match: rendition``.

Two searches (`cues.tolerant.features`): ``fine`` (the default,
`rendition_fine`: the notes at their pitch, fine spectral frames of each track
read at the tempos of a grid) and ``chroma`` (this module: the pitch classes,
meant for re-orchestrated renditions, which the bench does not make; about
half the recall of ``fine`` on the bench's renditions: docs/cues.md). Both accept a cue by the same decoy competition and
chance rate (`_accept`, steps 3 and 4 below) and report it through the same
line fit (`fit_line`). The chroma search:

Method: chroma features (Müller, Kurth & Clausen, "Audio matching via
chroma-based statistical features", ISMIR 2005), aligned by local alignment
along a warping path, as in cover-song identification (Serrà, Serra &
Andrzejak, "Cross recurrence quantification for cover song identification",
New J. Phys. 2009), and accepted on a chance rate calibrated on decoys, as
target-decoy searches do (Elias & Gygi, Nature Methods 2007).

1. Features: CENS (chroma energy normalized statistics). STFT (n_fft 4096 at
   the matcher rate, hop 2048: 0.19 s), power of 65 Hz to 2.1 kHz folded into
   12 pitch classes, each frame L1-normalised and quantised to 0..4 on a
   logarithmic scale (thresholds 0.05, 0.1, 0.2, 0.4), smoothed by a Hann
   window of `SMOOTH_FRAMES` and taken every `DECIMATE` frames (0.37 s).
   Quantisation and smoothing make the features robust to dynamics, timbre,
   articulation and small timing deviations: what a rendition changes.
   The slowly varying harmony (a moving mean over `HIGHPASS_FRAMES`, 10 s)
   is removed, so that two pieces in one key holding one chord do not match
   for that alone: what is matched is the succession of harmonies (silent
   frames stay zero). Each vector is then centred (its mean over the 12
   classes removed) and L2-normalised, so that a frame whose energy is
   spread evenly over the pitch classes (noise, effects, unvoiced or gliding
   speech, silence) becomes the zero vector and contributes nothing, and the
   cosine of unrelated music scatters around 0 rather than around the 0.6 of
   raw chroma.
2. Alignment (`local_alignments`): Smith-Waterman local alignment of the
   film's frames against every track's frames (all tracks laid end to end,
   one pass over the film per channel, one film row in memory at a time).
   A frame pair scores its cosine minus `min_similarity`; a path steps one
   film frame and one track frame, or one and two, or two and one (the
   latter two at `STEP_PENALTY`: a rendition 4 % off its track needs one such
   step every 25 frames, a chance path wandering from cell to cell many), so
   it follows a tempo that drifts inside a
   cue; a path starts where its score would be negative and ends where it
   peaks; exact cues are barriers. Each path that reaches `RECORD_SCORE` is
   an alignment (film and track frames at both ends, score); it is kept when
   it lasts `min_cue_seconds` and its mean tempo lies in `tempos`. No
   transposition is searched: a rendition in another key is not matched.
3. Decoys and competition: the same pass also aligns decoys, each track
   reversed in time (its harmonic vocabulary, texture and rate of change,
   none of its successions), in its own key and transposed (`DECOY_ROLLS`),
   as many decoy sets as make an hour of film (`NULL_FILM_SECONDS`: 10 for a
   short film, 1 for a film of an hour or more). Film time goes to the best
   alignment, track or decoy (`_compete`): the tracks' alignments that
   survive against the first decoys (reversed, same key) are the candidate
   cues. Each decoy set competes with the tracks in the same way; its
   survivors are chance alignments, except where they lie in the time of a
   surviving alignment of their own track (that rendition's echo in its
   reversed copy).
4. Acceptance (`chance_rate`): a candidate cue's chance rate is the number of
   surviving decoy alignments scoring at least as high, per decoy set and
   per hour of film (outside exact cues); above the `TAIL`-th best decoy it
   is extrapolated by an exponential fitted to the decoys' tail (local
   alignment scores have exponential tails: Karlin & Altschul 1990); when
   fewer than `TAIL` decoys pass the cue filters (a short or quiet film),
   decoy alignments of every length and tempo are counted (conservative). A cue
   is reported when its chance rate is at most `false_alarms` per hour; the
   threshold is per film, calibrated on that film's own dialogue, effects
   and music, not a fixed score.

What is reported (`fit_line`): the line (tempo and position) near the path
that reads the track best, scored by its best run of frames (cosine minus
`min_similarity`, maximum-sum segment), searched over the whole tempo range:
a path's ends are a frame or more off, and a path that ran on past its cue
carries chance track frames into its mean tempo. `speed` is the line's tempo
(track seconds per film second, as for exact cues), `track_offset` the track
time at the cue's start along it, within about half a second (a feature
frame is 0.37 s; a room reverb delays what the chroma sees), and the
boundaries are the ends of the line's best run; `pitch` is `kept`;
`confidence` is below every exact cue's (an exact cue is accepted at 0.5 or
more; a rendition gets 0.5 x / (1 + x), x the decades by which its chance
rate falls short of `false_alarms`), `gcc_z` is NaN and `strength` is the
path's score. The features stages cannot read a rendition's audio from the
album (it is another recording): see docs/cues.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
HIGHPASS_FRAMES = 27       # the slowly varying harmony (a moving mean over 10 s) removed: chord changes remain
STEP_PENALTY = 1.0         # a path's step off the diagonal costs this: a rendition 4 % off needs one every 25 frames (0.04 a
                           # frame), while a chance path that wanders from cell to cell (0.1 made it cheap) pays for it
RECORD_SCORE = 2.0         # paths whose score reaches this are kept (one alignment per path: where it peaks)
# decoys: the tracks reversed in time, in their own key (which also competes with the tracks for film time), then
# transposed, to the keys sharing fewest notes of a diatonic scale with it first (6, 1, 11, ...), never a fourth or
# fifth (5, 7), whose reversed copies come closest to the track's own harmony
DECOY_ROLLS = (0, 6, 1, 11, 2, 10, 3, 9, 4, 8)
NULL_FILM_SECONDS = 3600.0  # decoy sets counted: enough that they face an hour of film (up to len(DECOY_ROLLS))
TAIL = 5                   # decoys above which the chance rate is extrapolated (exponential tail)
LINE_MARGIN = 8            # a cue's line is read this many frames (3 s) beyond its path's ends (`fit_line`)
LINE_TEMPO_STEP = 0.0025   # tempos of the line searched: every 0.25 %
LINE_REACH = 4.0           # and its position, this many frames either side of the path's middle


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
    silent = sm.sum(axis=1) < 1e-3  # no chroma under the smoothing window (silence)
    if HIGHPASS_FRAMES:
        sm = sm - uniform_filter1d(sm, HIGHPASS_FRAMES, axis=0, mode="nearest")
    sm[silent] = 0.0  # stays silent: the high-pass would give it the negative of the music before it
    sm -= sm.mean(axis=1, keepdims=True)
    nrm = np.linalg.norm(sm, axis=1, keepdims=True)
    return np.where(nrm > 1e-3, sm / np.maximum(nrm, 1e-3), 0.0).astype(np.float32)


# ---------------------------------------------------------------- matching


@dataclass
class RenditionCue:
    track: str
    start: float        # film seconds
    end: float
    track_offset: float  # track seconds at `start`
    tempo: float        # track seconds per film second (the path's mean)
    similarity: float   # mean frame cosine along the path's line
    score: float        # local-alignment score of the path
    false_alarms: float  # decoy alignments per hour of film scoring at least `score` (the chance of it)
    channel: str


@dataclass
class _Alignment:
    version: int        # 0: the track; k >= 1: decoy k (reversed in time, transposed by DECOY_ROLLS[k - 1])
    track: str
    channel: str
    i0: int             # film frames, first and last of the path
    i1: int
    j0: int             # track frames (of the version) at i0 and i1
    j1: int
    score: float
    scale: float = 1.0  # the track's frames read every hop x scale (the fine search's grid tempo; chroma: 1)

    @property
    def tempo(self) -> float:
        """Track seconds per film second along the path."""
        return self.scale * (self.j1 - self.j0) / max(1, self.i1 - self.i0)


def decoy(T: np.ndarray, roll: int) -> np.ndarray:
    """A decoy of track features T: reversed in time and transposed by `roll` semitones (the 12 chroma classes
    rotated). It has the track's harmonic vocabulary, texture and rate of change, and none of its successions."""
    return np.ascontiguousarray(np.roll(T[::-1], roll, axis=1))


def local_alignments(F: np.ndarray, barrier: np.ndarray, columns: np.ndarray, first: np.ndarray, offset: float,
                     penalty: float, record: float, block: int = 256) -> tuple[np.ndarray, ...]:
    """Smith-Waterman local alignment of film frames F (n, 12) against track frames `columns` (N, 12).

    The tracks are laid end to end in `columns`; `first` marks the first frame of each, where no path enters
    from the left. Frame pair (i, j) scores its cosine minus `offset`; a path advances one film frame and one
    track frame (the diagonal), or one film frame and two track frames, or two film frames and one track frame
    (the track locally faster or slower), each of the last two at a cost `penalty`; a path ends where its
    running score would fall below zero, and `barrier` film frames (exact cues) end every path.
    Returns, for every cell whose score reaches `record`: the path's start cell (film, column), the score, the
    cell (film, column). One row per film frame is kept in memory (two for the steps that skip a film frame).
    """
    n, N = len(F), len(columns)
    NEG = np.float32(-1e9)
    m1 = np.where(first, NEG, np.float32(0)).astype(np.float32)      # column j - 1 belongs to the same track
    f2 = first.copy()
    f2[1:] |= first[:-1]
    m2 = np.where(f2, NEG, np.float32(0)).astype(np.float32) - np.float32(penalty)  # and j - 2
    m1p = m1 - np.float32(penalty)
    H1, H2 = np.zeros(N, np.float32), np.zeros(N, np.float32)        # rows i - 1, i - 2
    K1, K2 = np.zeros(N, np.int64), np.zeros(N, np.int64)            # their paths' start cells, i * N + j
    jj = np.arange(N, dtype=np.int64)
    d, f, s = (np.empty(N, np.float32) for _ in range(3))
    kd, kf, ks = (np.zeros(N, np.int64) for _ in range(3))
    best = (np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))
    out: list[tuple[np.ndarray, ...]] = []
    TT = np.ascontiguousarray(columns.T, dtype=np.float32)
    for i0 in range(0, n, block):
        C = F[i0:i0 + block].astype(np.float32) @ TT
        C -= np.float32(offset)
        for r in range(len(C)):
            i = i0 + r
            if barrier[i]:
                H2, K2, H1, K1 = H1, K1, np.zeros(N, np.float32), np.zeros(N, np.int64)
                continue
            d[0] = NEG
            np.add(H1[:-1], m1[1:], out=d[1:])
            kd[1:] = K1[:-1]
            f[:2] = NEG
            np.add(H1[:-2], m2[2:], out=f[2:])
            kf[2:] = K1[:-2]
            s[0] = NEG
            np.add(H2[:-1], m1p[1:], out=s[1:])
            ks[1:] = K2[:-1]
            b = np.maximum(d, np.maximum(f, s))
            K = np.where(b == d, kd, np.where(b == f, kf, ks))
            fresh = b <= 0
            K[fresh] = i * N + jj[fresh]
            H = np.maximum(b, 0)
            H += C[r]
            np.maximum(H, 0, out=H)
            idx = np.flatnonzero(H >= record)
            if len(idx):
                out.append((K[idx], H[idx], np.full(len(idx), i, np.int64), idx.astype(np.int64)))
            H2, K2, H1, K1 = H1, K1, H, K
        if out:  # memory stays bounded by the number of paths, not of cells: the best cell of each path so far
            best = _best_per_path(*(np.concatenate([a, *x]) for a, x in zip(best, zip(*out))))
            out = []
    key, H, i, j = best
    return key // N, key % N, H, i, j


def _best_per_path(key: np.ndarray, H: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, ...]:
    """One cell per path (start cell `key`): where its score peaks."""
    o = np.lexsort((-H, key))
    key, H, i, j = key[o], H[o], i[o], j[o]
    m = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
    return key[m], H[m], i[m], j[m]


def _overlap(a: _Alignment, b: _Alignment) -> int:
    return min(a.i1, b.i1) - max(a.i0, b.i0) + 1


def _compete(cands: list[_Alignment]) -> list[_Alignment]:
    """Film time goes to the best-scoring alignment, whatever its track, version or channel: an alignment is
    kept unless more than half of it lies in time a better kept one holds."""
    kept: list[_Alignment] = []
    for c in sorted(cands, key=lambda c: -c.score):
        if all(_overlap(c, k) <= 0.5 * (c.i1 - c.i0 + 1) for k in kept):
            kept.append(c)
    return kept


def chance_rate(decoys: list[float], n_sets: int, hours: float, tail: int = TAIL) -> Callable[[float], float]:
    """Expected chance alignments per hour of film scoring at least x, from the surviving decoys' scores.

    Empirical (count / decoy sets / hours) down to the `tail`-th best decoy; above it the exceedances of
    local-alignment scores, which fall off exponentially (Karlin & Altschul 1990), are extrapolated by an
    exponential fitted to the best `tail` decoys (maximum likelihood, peaks over threshold).
    """
    d = np.sort(np.asarray(decoys, float))[::-1]
    scale = 1.0 / max(1, n_sets) / max(hours, 1e-9)
    if len(d) == 0:
        return lambda x: 0.0
    k = min(tail, len(d))
    u = d[k - 1]
    excess = d[:k] - u
    lam = (k - 1) / excess.sum() if k > 1 and excess.sum() > 0 else np.inf

    def rate(x: float) -> float:
        if x <= u:
            return float((d >= x).sum()) * scale
        return float(k * np.exp(-lam * (x - u))) * scale if np.isfinite(lam) else 0.0

    return rate


def _chance(targets: list[_Alignment], cands: list[_Alignment], found: list[_Alignment], n_sets: int) -> list[float]:
    """Scores of the decoy alignments that survive, set by set, the competition with the tracks' alignments; a decoy
    lying mostly in time where a surviving alignment of its own track holds (that rendition's echo in its reversed,
    transposed copy) is not chance and is left out."""
    null: list[float] = []
    for v in range(1, n_sets + 1):
        for c in _compete(targets + [c for c in cands if c.version == v]):
            if c.version and not any(k.track == c.track and _overlap(c, k) > 0.5 * min(c.i1 - c.i0, k.i1 - k.i0) + 1
                                     for k in found):
                null.append(c.score)
    return null


def find_renditions(F: dict[str, np.ndarray], tracks: dict[str, np.ndarray], t, sr: int,
                    barrier: np.ndarray | None = None) -> list[RenditionCue]:
    """Rendition cues of `tracks` (name -> CENS) in the film's CENS `F` (channel -> frames); `barrier`: film
    frames no path enters (exact cues), left out of the film's length for the chance rate."""
    fs = frame_seconds(sr)
    names = [k for k, v in tracks.items() if len(v) >= 2]
    n = min((len(v) for v in F.values()), default=0)
    if not names or n < 2:
        return []
    if barrier is None:
        barrier = np.zeros(n, bool)
    hours = max(float(np.sum(~barrier[:n])) * fs, 1.0) / 3600.0
    # decoy sets: enough that the decoys face NULL_FILM_SECONDS of film, at least one
    n_sets = int(min(len(DECOY_ROLLS), max(1, np.ceil(NULL_FILM_SECONDS / (hours * 3600)))))
    cols, first, owner = [], [], []
    for v in range(n_sets + 1):
        for nm in names:
            X = tracks[nm] if v == 0 else decoy(tracks[nm], DECOY_ROLLS[v - 1])
            cols.append(X)
            fl = np.zeros(len(X), bool)
            fl[0] = True
            first.append(fl)
            owner.append(np.full(len(X), len(owner)))
    columns = np.concatenate(cols).astype(np.float32)
    first = np.concatenate(first)
    owner = np.concatenate(owner)
    base = np.r_[0, np.cumsum([len(c) for c in cols])[:-1]]
    lo_t, hi_t = min(t.tempos), max(t.tempos)
    min_frames = t.min_cue_seconds / fs
    cands: list[_Alignment] = []
    loose: list[_Alignment] = []  # decoy alignments shorter than a cue or off the tempo range
    for ch, Fc in F.items():
        Fc = np.where(barrier[:n, None], 0.0, Fc[:n]).astype(np.float32)
        i0, j0, sc, i1, j1 = local_alignments(Fc, barrier[:n], columns, first, t.min_similarity, STEP_PENALTY,
                                              RECORD_SCORE)
        for a, b, h, c, e in zip(i0, j0, sc, i1, j1):
            o = int(owner[e])
            al = _Alignment(o // len(names), names[o % len(names)], ch, int(a), int(c), int(b - base[o]),
                            int(e - base[o]), float(h))
            if al.i1 - al.i0 + 1 >= min_frames and lo_t <= al.tempo <= hi_t:
                cands.append(al)
            elif al.version:
                loose.append(al)
    c0 = (N_FFT / 2) / sr  # film and track frame k are centred at k * fs + c0
    out = []
    for c, fa in _accept(cands, loose, n_sets, hours, t.false_alarms):
        Fz = np.where(barrier[:n, None], 0.0, F[c.channel][:n]).astype(np.float32)
        tempo, a, k0, k1, sim = fit_line(Fz, tracks[c.track], c, lo_t, hi_t, t.min_similarity)
        start, end = (k0 - 0.5) * fs + c0, (k1 + 0.5) * fs + c0
        off = (k0 - 0.5 - a) * tempo * fs + c0
        out.append(RenditionCue(c.track, start, end, max(0.0, off), tempo, sim, c.score, fa, c.channel))
        log.debug("rendition: %s %.1f-%.1f s, tempo %.3f, offset %.1f s, score %.1f, %.2g chance alignments per "
                  "hour (%s)", c.track, start, end, tempo, off, c.score, fa, c.channel)
    return out


def _accept(cands: list[_Alignment], loose: list[_Alignment], n_sets: int, hours: float, false_alarms: float,
            tail: int = TAIL) -> list[tuple[_Alignment, float]]:
    """The tracks' alignments (version 0) that win film time against the first decoys, with their chance rate
    (decoy alignments per set and film hour scoring as high), where that is at most `false_alarms`.

    `cands`: alignments of tracks and decoys that pass the cue filters (length, tempo); `loose`: decoy alignments
    that do not, counted only when too few of `cands` survive to fit a tail of `tail` decoys (`chance_rate`)."""
    targets = [c for c in cands if c.version == 0]
    # the tracks against their first decoys: a decoy aligned where its track's rendition plays loses to it
    found = [c for c in _compete(targets + [c for c in cands if c.version == 1]) if c.version == 0]
    # chance: each decoy set in the same competition with the tracks
    null = _chance(targets, cands, found, n_sets)
    if len(null) < tail:
        # too few decoys pass the cues' filters to fit a tail (a short or quiet film): count decoy alignments of
        # every length and tempo; chance alignments share one exponential tail and the filters only remove some,
        # so this count is the conservative one
        null = _chance(targets, cands + loose, found, n_sets)
    rate = chance_rate(null, n_sets, hours, tail)
    out = []
    for c in found:
        fa = rate(c.score)
        if fa > false_alarms:
            log.debug("rendition rejected: %s film frames %d-%d, score %.1f, %.2g chance alignments per hour (%s)",
                      c.track, c.i0, c.i1, c.score, fa, c.channel)
            continue
        out.append((c, fa))
    log.debug("rendition acceptance: %d decoy set(s), %d decoy alignment(s) after competition, %d of %d accepted",
              n_sets, len(null), len(out), len(found))
    return out


def _path_cos(F: np.ndarray, T: np.ndarray, a: float, tempo: float, k0: int, k1: int) -> np.ndarray:
    """Frame cosines of film frames k0..k1 with the track read along the line film frame k -> track frame
    (k - a) * tempo (linear interpolation, 0 outside the track)."""
    k = np.arange(k0, k1)
    pos = (k - a) * tempo
    i = np.floor(pos).astype(int)
    w = (pos - i).astype(np.float32)[:, None]
    ok = (i >= 0) & (i + 1 < len(T))
    out = np.zeros(len(k), np.float32)
    if ok.any():
        v = T[i[ok]] * (1 - w[ok]) + T[i[ok] + 1] * w[ok]
        out[ok] = np.einsum("ij,ij->i", F[k[ok]], v)
    return out


def fit_line(F: np.ndarray, T: np.ndarray, c: _Alignment, lo: float, hi: float, offset: float,
             margin: int = LINE_MARGIN, step: float = LINE_TEMPO_STEP, reach: float = LINE_REACH
             ) -> tuple[float, float, int, int, float]:
    """The line that reads the track best along an alignment, and the cue it holds: (tempo, a, first and last
    film frame, mean cosine), the line being film frame k -> track frame (k - a) * tempo.

    A path's ends are where its running score peaks, a frame or more off at each end, and a path that ran on
    past its cue by a few chance cells carries their track frames into its mean tempo (several % off). So the
    tempo is searched over the whole range `lo`..`hi` (every `step`), and the line's position `reach` frames
    either side of the path's middle (every quarter frame); each line is scored by its best run of film frames
    (the maximum-sum segment of cosine minus `offset`, the path's own score, within `margin` frames of the
    path): the best line gives the tempo, the track offset and the cue's ends.
    """
    n = len(F)
    k_lo, k_hi = max(0, c.i0 - margin), min(n, c.i1 + margin + 1)
    im, jm = 0.5 * (c.i0 + c.i1), 0.5 * (c.j0 + c.j1)
    best = (-np.inf, c.tempo, im - jm / max(c.tempo, 1e-9), c.i0, c.i1)
    for tempo in np.arange(lo, hi + 0.5 * step, step):
        for dj in np.arange(-reach, reach + 0.125, 0.25):
            a = im - (jm + dj) / tempo
            v, s0, s1 = _best_run(_path_cos(F, T, a, tempo, k_lo, k_hi) - np.float32(offset))
            if v > best[0]:
                best = (v, float(tempo), float(a), k_lo + s0, k_lo + s1)
    _, tempo, a, k0, k1 = best
    sim = float(_path_cos(F, T, a, tempo, k0, k1 + 1).mean())
    return tempo, a, k0, k1, sim


def _best_run(x: np.ndarray) -> tuple[float, int, int]:
    """The maximum-sum run of x (Kadane): its sum, first and last index (an empty x: -inf)."""
    if not len(x):
        return -np.inf, 0, 0
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    lo = np.minimum.accumulate(c[:-1])        # the lowest prefix sum before each end
    new = np.r_[True, c[1:-1] < lo[:-1]]      # where it is
    arg = np.maximum.accumulate(np.where(new, np.arange(len(x)), 0))
    gain = c[1:] - lo
    e = int(np.argmax(gain))
    return float(gain[e]), int(arg[e]), e


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


def _cut_cue(c: RenditionCue, claimed: list[tuple[float, float]], min_len: float) -> list[RenditionCue]:
    """The pieces of a cue outside `claimed` (exact cues: a frame's edge can reach into one) of `min_len` or more."""
    return [RenditionCue(c.track, s0, e0, c.track_offset + (s0 - c.start) * c.tempo, c.tempo, c.similarity, c.score,
                         c.false_alarms, c.channel)
            for s0, e0 in _cut(c.start, c.end, claimed) if e0 - s0 >= min_len]


def _resolve(cues: list[RenditionCue], min_len: float) -> list[RenditionCue]:
    """Overlapping rendition cues: the one with the higher score keeps its time."""
    kept: list[RenditionCue] = []
    for c in sorted(cues, key=lambda c: -c.score):
        for s0, e0 in _cut(c.start, c.end, [(k.start, k.end) for k in kept]):
            if e0 - s0 >= min_len:
                kept.append(RenditionCue(c.track, s0, e0, c.track_offset + (s0 - c.start) * c.tempo, c.tempo,
                                         c.similarity, c.score, c.false_alarms, c.channel))
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
    """Rendition cues of `tracks` (match.Track) in `film` (prints.FilmAudio) outside the film spans `claimed`, by
    the search `s.tolerant.features` names: fine spectral frames on a tempo grid (`rendition_fine`) or chroma."""
    if s.tolerant.features == "fine":
        from .rendition_fine import film_fine, find_fine_renditions, track_pcm

        F, ff, live_seconds = film_fine(film, s, claimed)
        found = find_fine_renditions(F, track_pcm(tracks), ff, s, live_seconds) if F else []
    else:
        found = _match_chroma(film, tracks, s, claimed)
    cues = [c for c in found for c in _cut_cue(c, claimed, s.tolerant.min_cue_seconds)]
    cues = _resolve(cues, s.tolerant.min_cue_seconds)
    log.debug("%s: %d rendition cue(s) outside %d exact cue(s)", film.path.name, len(cues), len(claimed))
    return cues


def _match_chroma(film, tracks, s, claimed: list[tuple[float, float]]) -> list[RenditionCue]:
    """The chroma search (`features: chroma`): CENS of the film's channels against the tracks'."""
    sr = s.sample_rate
    fs = frame_seconds(sr)
    F = film_cens(film, sr)
    n = min(len(v) for v in F.values()) if F else 0
    F = {ch: v[:n] for ch, v in F.items()}
    barrier = np.zeros(n, bool)
    centres = np.arange(n) * fs + (N_FFT / 2) / sr
    for a, b in claimed:
        barrier[(centres >= a) & (centres < b)] = True
    return find_renditions(F, track_cens(tracks, sr), s.tolerant, sr, barrier)
