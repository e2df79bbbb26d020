"""The tolerant tier's default search: fine spectral frames read at the rendition's tempo (`cues.tolerant.features`).

A rendition re-recorded at another tempo with its pitch kept plays the
track's notes at their pitches, each held a few % longer or shorter. Fine
spectral frames (`filmscore.cues.fine`: whitened log spectra of 11 Hz bins
every 46 ms, the exact tier's search for quiet music under dialogue) resolve
those notes between the speech; read from the track every 46 ms x tempo,
they line up with the rendition's frames one to one. Measured on the
bench's rendition films (docs/cues.md): every rendition cue's best 5 s
segment scores z 7.8-17.4 against the film on side (4.8-14.0 on mid), where
the chroma of the same cues has a mean cosine of 0.1-0.4 along their true
line; read at tempo 1 instead of the cue's, the same segments lose up to 6 of
z. So the search runs at the tempos of a grid and follows the line that the
segments of one track draw across the film.

1. Frames: the film's channels (mid, and side where it carries signal: a
   stereo film's centred dialogue cancels there) as `cues.fine` frames in the
   band the film carries; frames inside exact cues, and frames `SILENT_DB`
   under the signal's loud ones (`frames`), are zeroed. Each track's
   mid is read at every tempo of `tempo_grid` (cells of at most
   `tolerant.tempo_step`, so a rendition is within half a cell of one).
2. Segments (`cues.fine` segment and hop, every `track_stride`-th frame), each
   scored against every film position (`segments.SegmentScorer`) and turned into
   a z over the film's live positions (outside exact cues).
3. Lines (`line_alignments`): segment k at film position p lies on line
   c = p - (its first track frame). A rendition at the grid tempo puts its
   consecutive segments on one line; at up to half a cell off, the line
   drifts by a frame every few segments. A local alignment over consecutive
   segments (Smith-Waterman along k, the line allowed to move one frame
   either way from one segment to the next: up to 1.9 % of tempo) scores a
   run of segments by their z minus `min_z`; each run reaching `RECORD` is an
   alignment (first and last segment and line, score).
4. Decoys and acceptance as the chroma search does (`rendition._accept`): the
   same search over decoys, each track's frames reversed in time (decoy set 1)
   and then cut into `DECOY_BLOCK_SECONDS` blocks put in a random order (sets
   2 and up, a seed per set): the track's notes, pitches, timbre and rate of
   change, none of its successions. Decoy sets: enough to face
   `NULL_FILM_SECONDS` of film, up to `MAX_DECOY_SETS`. A cue's chance rate
   is the number of decoy alignments scoring as high per decoy set and film
   hour, extrapolated above the `TAIL`-th best decoy (10; chroma: 5) by an
   exponential; it is reported when that is at most `tolerant.false_alarms`.
   Decoys are collected from a score of `DECOY_RECORD` (tracks' alignments
   from `RECORD`), so a film whose chance lines are weak still has a tail.
5. Reported (`rendition.fit_line` on the fine frames, the track read at its
   own rate): the tempo within `LINE_TEMPO_REACH` of the grid tempo every
   0.1 %, and the track offset at the cue's start; the cue's ends are the
   line's best run of frames whose cosine exceeds half the cue's mean, then
   carried out along the line where the track plays on more weakly, block by
   block against the same track's other lines (`grown`).

Cost: a segment-score product per track, tempo, version (the track and each
decoy set) and channel, over the film's time outside exact cues: 7 tempos x
3 versions x 2 channels for a long film, some 40 times the exact tier's fine
pass (docs/cues.md, Measured). A rendition in another key is not found (no transposition is
searched; the chroma search, `features: chroma`, does not search one
either).
"""

from __future__ import annotations

import logging

import numpy as np

from .fine import FineFrames, film_bandwidth
from .segments import SegmentScorer
from .rendition import NULL_FILM_SECONDS, RenditionCue, _accept, _Alignment, _best_run, _path_cos, fit_line

log = logging.getLogger(__name__)

RECORD = 2.0               # line alignments whose score (summed z - min_z) reaches this are kept
DECOY_RECORD = 0.5         # and decoys' from this: a film whose chance lines are weak still has a chance tail to fit
DRIFT = 1                  # frames a line may move from one segment to the next (1 per 2.5 s hop: 1.9 % of tempo)
DECOY_BLOCK_SECONDS = 8.0  # decoy sets 2 and up: the reversed track in blocks of this, shuffled
MAX_DECOY_SETS = 3         # each set costs a full search: up to 3 (short films), 1 for a film of an hour or more
TAIL = 10                  # the chance rate's exponential tail fitted to the best 10 decoys: a short film's best 5 can
                           # bunch within a few tenths (a speech-only film's chance lines are all alike), and a tail
                           # fitted to them falls off far too steeply (measured: a chance line at 3.8, 1.5 over the
                           # 5th best decoy, extrapolated to 0.007 per hour)
LINE_TEMPO_REACH = 0.025   # the reported line's tempo: within this of the grid tempo (a cell's half plus the drift)
LINE_TEMPO_STEP = 0.001
LINE_OFFSET = 0.05         # a frame pair lengthens the reported cue when its cosine exceeds this (chance: 0 +- 0.06)
OFF = -1e4                 # z of a position outside the film's live time (exact cues)
SILENT_DB = 50.0           # frames this far under a signal's loud frames (95th percentile RMS) count as silent
GROW_SHIFTS = tuple(d * (2.0 + 1.5 * i) for i in range(8) for d in (-1, 1))  # seconds of track: `grown`'s lines
GROW_DRIFT = 1.0           # `grown`: a block's z counts for a cue's music by its excess over this; the end moves
GROW_PEAK = 4.5            # where the summed excess peaks at this or more (chance: 0.3 % of lines, measured on a
GROW_DROP = 6.0            # bench film: docs/cues.md); the search stops where the sum falls this far under its peak
GROW_LIVE = 0.9            # or at a block with more of its frames silent (or inside exact cues) than a tenth


def frames(ff: FineFrames, x: np.ndarray, step: float = 1.0, block: int = 8192) -> np.ndarray:
    """`ff` frames of x read every hop x `step`, silent frames (SILENT_DB under its loud ones) zero.

    Whitening takes a log spectrum: a near-silent frame (a stereo film's side where nothing but centred dialogue
    plays, a codec's residue) would weigh as much as a loud one, and its noise, minus the moving mean of the music
    before it, reads as that music's shadow for the length of the moving mean (measured: cosines as high as the
    cue's for 1.2 s past a cue's end on a film's side)."""
    X = ff(x, step=step)
    if not len(X):
        return X
    pos = np.round(np.arange(len(X)) * ff.hop * step).astype(np.int64)
    rms = np.empty(len(X))
    for a in range(0, len(X), block):  # float64 running sums a block of frames at a time (a two-hour film)
        p = pos[a:a + block] - pos[a]
        c = np.concatenate([[0.0], np.cumsum(np.square(x[pos[a]:pos[a] + p[-1] + ff.n_fft], dtype=np.float64))])
        rms[a:a + block] = np.sqrt((c[p + ff.n_fft] - c[p]) / ff.n_fft)
    X[rms < np.percentile(rms, 95) * 10 ** (-SILENT_DB / 20)] = 0.0
    return X


def tempo_grid(lo: float, hi: float, step: float) -> np.ndarray:
    """The centres of the fewest equal cells of at most `step` covering [lo, hi]: every tempo of the range lies
    within half a cell of one (1 is a centre when the range is symmetric about it and the cells are odd)."""
    n = max(1, int(np.ceil((hi - lo) / step - 1e-9)))
    return lo + (np.arange(n) + 0.5) * (hi - lo) / n


def segment_z(M: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Each segment's scores (rows of M) as z over the live positions; other positions get OFF."""
    lv = live[:M.shape[1]]
    Z = np.full(M.shape, OFF, np.float32)
    if lv.sum() < 2:
        return Z
    m = M[:, lv]
    Z[:, lv] = (m - m.mean(axis=1, keepdims=True)) / (m.std(axis=1, keepdims=True) + 1e-9)
    return Z


def line_alignments(Z: np.ndarray, starts: np.ndarray, min_z: float, record: float = RECORD, drift: int = DRIFT
                    ) -> list[tuple[float, int, int, int, int]]:
    """Local alignments of consecutive segments along lines: (score, first segment, its position, last segment,
    its position).

    Z (segments, positions): segment k (first track frame starts[k]) at film position p. Segment k on line c sits
    at p = c + starts[k]. A run of segments k0..k1 on lines c_k0..c_k1, each |c_k+1 - c_k| <= drift, scores
    sum(Z[k, c_k + starts[k]] - min_z); the recurrence keeps, for each line, the best run ending at segment k
    (a run restarts where its score would fall to 0 or below); every run whose score reaches `record` is an
    alignment, reported once, where its score peaks.
    """
    K, P = Z.shape
    if K == 0 or P == 0:
        return []
    cmin = -int(starts[-1])
    C = P - cmin
    cc = np.arange(C, dtype=np.int64)
    r = np.zeros(C, np.float32)
    key = np.zeros(C, np.int64)                      # the run's first cell, k * C + line index
    best_key, best_h, best_k, best_c = [], [], [], []
    for k in range(K):
        x = np.full(C, OFF, np.float32)
        o = int(starts[-1] - starts[k])              # line index of position 0 for this segment
        x[o:o + P] = Z[k]
        x -= np.float32(min_z)
        b, bk = r.copy(), key.copy()
        for d in range(1, drift + 1):                # the run ending at k - 1 on a line up to `drift` away
            for src, dst in ((slice(0, C - d), slice(d, C)), (slice(d, C), slice(0, C - d))):
                better = r[src] > b[dst]
                b[dst] = np.where(better, r[src], b[dst])
                bk[dst] = np.where(better, key[src], bk[dst])
        fresh = b <= 0
        bk[fresh] = k * C + cc[fresh]
        r = np.maximum(np.maximum(b, 0) + x, 0).astype(np.float32)
        key = bk
        idx = np.flatnonzero(r >= record)
        if len(idx):
            best_key.append(key[idx]), best_h.append(r[idx]), best_k.append(np.full(len(idx), k)), best_c.append(idx)
    if not best_key:
        return []
    keys, h, ks, cs = (np.concatenate(v) for v in (best_key, best_h, best_k, best_c))
    o = np.lexsort((-h, keys))                       # one per run: where its score peaks
    keys, h, ks, cs = keys[o], h[o], ks[o], cs[o]
    first = np.r_[True, keys[1:] != keys[:-1]]
    out = []
    for kk, hh, k1, c1 in zip(keys[first], h[first], ks[first], cs[first]):
        k0, c0 = divmod(int(kk), C)
        out.append((float(hh), k0, int(c0) + cmin + int(starts[k0]), int(k1), int(c1) + cmin + int(starts[k1])))
    return out


def grown(F: np.ndarray, T: np.ndarray, a: float, tempo: float, k0: int, k1: int, W: int, shifts: list[float],
          guard: int = 0) -> tuple[int, int]:
    """A rendition cue's first and last film frame (k0, k1 on the line film frame k -> track frame (k - a) * tempo)
    carried out along its line where the track plays on more weakly: a rendition's parts differ in how closely they
    follow the track (another arrangement, an instrument that comes and goes, dialogue over it), and the cue's ends
    (frames whose cosine exceeds half the cue's mean) stop where its strongest part does.

    Outward from each end, past `guard` frames (the whitening's moving mean carries a cue's music that far past
    its end), blocks of W film frames (a segment) every W // 2 are read along the line and along the lines of the
    same track `shifts` track frames off it (its own music elsewhere: the same key, instruments and pace, none of
    its succession): a block's z is its mean cosine's excess over theirs in units of their spread. Each block adds
    z - GROW_DRIFT to a running sum (music that follows the line adds; chance takes the drift away on average), and
    the end moves out to the block where the sum peaks, if that peak reaches GROW_PEAK. The search stops at the
    track's ends, where the sum falls GROW_DROP under its peak, and at a block with more than a tenth of its frames
    outside the film's live time (`GROW_LIVE`: an exact cue's, or silence: music playing under a scene's words
    fills its pauses, and a silent stretch's faint residue, a reverberation's tail, whitens to a full frame that
    follows the line). The end is then set to the frame: the run from the old end whose summed cosine less the
    midpoint of the blocks' mean and the other lines' is largest (as `fit_line`'s ends, half the music's level
    over chance)."""
    n, H = len(F), max(1, W // 2)
    live = F.any(axis=1)

    def block(p: int) -> tuple[float, float, float] | None:
        """(z, mean cosine along the line, along the others) of film frames p .. p + W - 1; None: not readable."""
        if p < 0 or p + W > n or live[p:p + W].mean() < GROW_LIVE:
            return None
        j0, j1 = (p - a) * tempo, (p + W - 1 - a) * tempo        # the line's track frames over the block
        if j0 < 0 or j1 + 1 >= len(T):
            return None
        ds = [d for d in shifts if 0 <= j0 + d and j1 + d + 1 < len(T)]
        if len(ds) < len(shifts) // 2:
            return None
        m = float(_path_cos(F, T, a, tempo, p, p + W).mean())
        o = np.array([_path_cos(F, T, a - d / tempo, tempo, p, p + W).mean() for d in ds])
        return (m - float(o.mean())) / (float(o.std()) + 1e-9), m, float(o.mean())

    def walk(p: int, step: int) -> tuple[int, float] | None:
        """(the outermost block's first frame, the cosine level between the line's and the others') or None."""
        run, best, blocks, at = 0.0, 0.0, [], 0
        while (r := block(p)) is not None:
            run += r[0] - GROW_DRIFT
            blocks.append((p, r[1], r[2]))
            if run > best:
                best, at = run, len(blocks)
            if run < best - GROW_DROP:
                break
            p += step * H
        if best < GROW_PEAK:
            return None
        kept = blocks[:at]
        return kept[-1][0], 0.5 * (np.mean([b[1] for b in kept]) + np.mean([b[2] for b in kept]))

    before = walk(k0 - guard - W, -1)
    if before is not None:
        p, level = before
        lo = max(0, p - H)
        x = _path_cos(F, T, a, tempo, lo, k0) - np.float32(level)
        gain = np.cumsum(x[::-1])[::-1]                   # summed from each frame to the old start
        if gain.max() > 0:
            k0 = lo + int(np.argmax(gain))
    after = walk(k1 + 1 + guard, 1)
    if after is not None:
        p, level = after
        hi = min(n, p + W + H)
        x = _path_cos(F, T, a, tempo, k1 + 1, hi) - np.float32(level)
        gain = np.cumsum(x)
        if gain.max() > 0:
            k1 = k1 + 1 + int(np.argmax(gain))
    return k0, k1


def decoy(T: np.ndarray, version: int, frames_per_block: int) -> np.ndarray:
    """Decoy `version` (1, 2, ...) of a track's frames T: reversed in time; from 2 on, also cut into blocks of
    `frames_per_block` put in an order drawn with seed `version` (the same decoy for the same track every run)."""
    D = T[::-1]
    if version > 1 and len(D) > frames_per_block:
        blocks = [D[a:a + frames_per_block] for a in range(0, len(D), frames_per_block)]
        order = np.random.default_rng(version).permutation(len(blocks))
        D = np.concatenate([blocks[i] for i in order])
    return np.ascontiguousarray(D)


def find_fine_renditions(F: dict[str, np.ndarray], tracks: dict[str, np.ndarray], ff: dict[str, FineFrames], s,
                         live_seconds: float) -> list[RenditionCue]:
    """Rendition cues of `tracks` (name -> mid PCM at the matcher rate, as released) in the film's fine frames `F`
    (channel -> frames, zero inside exact cues; `ff`: each channel's FineFrames); `live_seconds`: the film's time
    outside exact cues (for the chance rate)."""
    t, fs_ = s.tolerant, s.fine
    sr = s.sample_rate
    lo_t, hi_t = min(t.tempos), max(t.tempos)
    tempos = tempo_grid(lo_t, hi_t, t.tempo_step)
    hours = max(live_seconds, 1.0) / 3600.0
    n_sets = int(min(MAX_DECOY_SETS, max(1, np.ceil(NULL_FILM_SECONDS / max(live_seconds, 1.0)))))
    fr = (fs_.n_fft // 2) / sr  # every channel's frames: hop n_fft / 2
    W = max(2, int(round(fs_.segment_seconds / fr)))
    H = max(fs_.track_stride, int(round(fs_.hop_seconds / fr / fs_.track_stride)) * fs_.track_stride)
    block = max(1, int(round(DECOY_BLOCK_SECONDS / fr)))
    cands: list[_Alignment] = []
    loose: list[_Alignment] = []
    for ch, Fc in F.items():
        live = Fc.any(axis=1)
        scorer = SegmentScorer(Fc, W, H, fs_.track_stride)
        for name, x in tracks.items():
            for tau in tempos:
                T = frames(ff[ch], x, float(tau))
                for v in range(n_sets + 1):
                    M, starts = scorer(T if v == 0 else decoy(T, v, block))
                    if not len(starts):
                        continue
                    for h, k0, p0, k1, p1 in line_alignments(segment_z(M, live), starts, t.min_z,
                                                             RECORD if v == 0 else DECOY_RECORD):
                        # film frames p0 .. p1 + W - 1; track frames (read at tau) starts[k0] .. starts[k1] + W - 1
                        al = _Alignment(v, name, ch, p0, p1 + W - 1, int(starts[k0]), int(starts[k1]) + W - 1, h,
                                        float(tau))
                        if (al.i1 - al.i0 + 1) * fr >= t.min_cue_seconds:
                            cands.append(al)
                        elif v:
                            loose.append(al)
        log.info("tolerant tier (fine frames, %s): %d track(s) x %d tempos (%.4f-%.4f) x %d decoy set(s) searched, "
                 "%d alignment(s) so far", ch, len(tracks), len(tempos), tempos[0], tempos[-1], n_sets, len(cands))
    out = []
    for c, fa in _accept(cands, loose, n_sets, hours, t.false_alarms, TAIL):
        tau = c.scale
        T1 = frames(ff[c.channel], tracks[c.track])
        line = _Alignment(0, c.track, c.channel, c.i0, c.i1, int(round(c.j0 * tau)), int(round(c.j1 * tau)), c.score)
        Fc = F[c.channel]
        tempo, a, k0, k1, sim = fit_line(Fc, T1, line, max(lo_t, tau - LINE_TEMPO_REACH),
                                         min(hi_t, tau + LINE_TEMPO_REACH), LINE_OFFSET, margin=W // 2,
                                         step=LINE_TEMPO_STEP, reach=4.0)
        # the ends: frames whose cosine exceeds half the cue's mean. Both sides are whitened by a moving mean over
        # `bands.highpass_seconds`, which carries the music's mean into the film's frames for half of it past the
        # music's ends, where the track (playing on) shares it: the cosine there decays from about half the cue's mean
        k_lo, k_hi = max(0, k0 - W // 2), min(len(Fc), k1 + W // 2 + 1)
        _, s0, s1 = _best_run(_path_cos(Fc, T1, a, tempo, k_lo, k_hi) - np.float32(max(LINE_OFFSET, sim / 2)))
        k0, k1 = grown(Fc, T1, a, tempo, k_lo + s0, k_lo + s1, W, [d / fr for d in GROW_SHIFTS],
                       guard=int(round(s.bands.highpass_seconds / 2 / fr)))
        sim = float(_path_cos(Fc, T1, a, tempo, k0, k1 + 1).mean())
        # frame k covers samples k * hop .. k * hop + n_fft: centred at (k + 1) * fr (n_fft = 2 hop)
        start, end = (k0 + 0.5) * fr, (k1 + 1.5) * fr
        off = ((k0 + 0.5 - 1 - a) * tempo + 1) * fr
        out.append(RenditionCue(c.track, start, end, max(0.0, off), tempo, sim, c.score, fa, c.channel))
        log.debug("rendition (fine frames): %s %.1f-%.1f s, tempo %.3f (grid %.4f), offset %.1f s, score %.1f, "
                  "%.2g chance alignments per hour (%s)", c.track, start, end, tempo, tau, off, c.score, fa, c.channel)
    return out


def film_fine(film, s, claimed: list[tuple[float, float]]) -> tuple[dict, dict, float]:
    """The film's fine frames per channel (zero inside `claimed` and where silent), their FineFrames, and the film's
    live seconds (its time outside exact cues and silence, on the channel that has the most: the chance rate is per
    hour of film, whichever channel a chance alignment lies on)."""
    sr, fs_ = s.sample_rate, s.fine
    F, ff = {}, {}
    live_seconds = 0.0
    for ch in film.channels:
        fmax = min(fs_.fmax, film_bandwidth(film, ch, sr))
        f = FineFrames(sr, fs_.n_fft, fs_.fmin, fmax, s.bands.highpass_seconds)
        if f.n_bins < 16:
            continue
        X = frames(f, film.pcm(ch, 0, film.n_samples))
        fr = f.hop / sr
        centres = (np.arange(len(X)) + 1) * fr
        for a, b in claimed:
            X[(centres >= a) & (centres < b)] = 0.0
        F[ch], ff[ch] = X, f
        live_seconds = max(live_seconds, float(X.any(axis=1).sum()) * fr)
    return F, ff, live_seconds


def track_pcm(tracks) -> dict[str, np.ndarray]:
    """Each track's mid PCM as released (by name), once whatever its grid speeds."""
    out: dict[str, np.ndarray] = {}
    for tr in tracks:
        if tr.name not in out:
            out[tr.name] = tr.audio().whole("mid", 1.0)
    return out
