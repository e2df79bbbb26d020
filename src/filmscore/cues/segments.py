"""Summed cosines of every segment of a track's frames against every position of a film's frames.

Both searches that read a whole film for a track's segments score them so:
the band-frame cross-correlation (`match.xcorr_candidates`: 24 log bands
every 0.19 s, a segment of 27 frames) and the fine pass for quiet music
(`match.fine_candidates`, `rendition_fine`: about 270 bins of 11 Hz every
46 ms, every other frame of a segment of 108). One film is searched with many
tracks (and, in the tolerant tier, many tempos and decoys), so the film's side
of the computation is made once (`SegmentScorer`) and each track costs one
product of transforms.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft


class SegmentScorer:
    """Summed cosines of every track segment against every film position: M[k, p] = sum_j T[s_k + j*stride] .
    F[p + j*stride], j < ceil(W / stride), segment k's first frame s_k = k*H (and one segment ending at the track's
    end), for the film's frames F (film frames, d) given once and any number of tracks' frames T (`__call__`).

    Each residue r of p mod stride is a correlation along time of the segment's frames with the film's every
    stride-th frame from r, computed blockwise in the frequency domain (overlap-save): the film's frames cut into
    blocks of `block` frames (advancing by block - Wj + 1, the outputs a block holds), each bin's block transformed
    once per film; per track, the segments' transforms conjugated and multiplied with the blocks', summed over the
    d bins at every frequency as one matrix product, and transformed back. The cost per track is the product,
    (block/2 + 1) * 4 real multiply-adds per segment, bin and block of block - Wj + 1 positions, against H/stride
    (fine frames) or W (band frames, whose segments are rows of their own) per segment, bin and position for the
    direct product: about 7x fewer for the fine frames' defaults (Wj 54, block 256, H/stride 27). Measured on the
    two-hour bench film (docs/cues.md): the fine pass's products 34 -> 5.5 CPU s. Blocks whose frames are all zero
    (frames inside cues already found, and silence) are not computed, and a position whose frames are all zero
    scores exactly 0. The same sums as the direct definition up to float32 rounding of the transforms (about 1e-6
    of a sum of cosines; tested against the sums computed by hand).
    """

    def __init__(self, F: np.ndarray, W: int, H: int, stride: int, block: int | None = None):
        self.W, self.H, self.stride, self.d = W, H, stride, F.shape[1]
        self.Wj = max(1, (W + stride - 1) // stride)
        self.P = len(F) - (self.Wj - 1) * stride
        self.L = block or max(64, 1 << int(np.ceil(np.log2(4 * self.Wj))))
        if self.L < self.Wj:
            raise ValueError(f"block {self.L} is shorter than a segment's {self.Wj} frames")
        self.V = self.L - self.Wj + 1
        self.phases = []  # per residue r: (the positions of M it scores, where they lie in its blocks' outputs, the
        # transforms of its live blocks (f, d, blocks))
        F = np.asarray(F, np.float32)
        for r in range(stride if self.P > 0 else 0):
            Q = len(range(r, self.P, stride))
            nb = -(-Q // self.V)
            Fr = F[r::stride]
            c = np.r_[0, np.cumsum(Fr.any(axis=1))]  # live frames before each frame: block x is live when
            x0 = np.arange(nb) * self.V                 # its frames x*V .. x*V + L - 1 hold one
            b = np.flatnonzero(c[np.minimum(x0 + self.L, len(Fr))] > c[np.minimum(x0, len(Fr))])
            Fp = np.vstack([Fr, np.zeros((max(0, int(nb) * self.V + self.L - len(Fr)), self.d), np.float32)])
            X = np.empty((self.L // 2 + 1, self.d, len(b)), np.complex64)
            for c0 in range(0, len(b), 64):  # bounded temporaries on a two-hour film
                bb = b[c0:c0 + 64]
                X[:, :, c0:c0 + len(bb)] = sfft.rfft(Fp[bb[:, None] * self.V + np.arange(self.L)], axis=1
                                                     ).transpose(1, 2, 0)
            q = (b[:, None] * self.V + np.arange(self.V)).ravel()
            keep = q < Q  # the block's outputs that are positions of M; those whose Wj frames are all zero score 0
            on = keep.copy()
            on[keep] = c[np.minimum(q[keep] + self.Wj, len(Fr))] > c[q[keep]]
            self.phases.append((r + stride * q[on], np.flatnonzero(on), X))

    def segments(self, n: int) -> np.ndarray:
        """The first frames of the segments of a track of n frames: every H-th, and one ending at its end."""
        starts = np.arange(0, max(1, n - self.W + 1), self.H)
        if n > self.W and starts[-1] < n - self.W:
            starts = np.append(starts, n - self.W)
        return starts

    def __call__(self, T: np.ndarray, segs: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """M (segments, positions = len(F) - (Wj - 1) * stride) and the segments' first frames; a track shorter
        than half a segment (or a film shorter than one) gives none: M of shape (0, 0)."""
        if len(T) < self.W // 2 or self.P <= 0:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
        if T.shape[1] != self.d:
            raise ValueError(f"track frames of {T.shape[1]} bins against film frames of {self.d}")
        starts = self.segments(len(T))
        Tp = np.vstack([np.asarray(T, np.float32), np.zeros((self.W + self.stride, self.d), np.float32)])
        M = np.zeros((len(starts), self.P), np.float32)
        js = self.stride * np.arange(self.Wj)
        for c0 in range(0, len(starts), segs):
            st = starts[c0:c0 + segs]
            K = np.conj(sfft.rfft(Tp[st[:, None] + js], n=self.L, axis=1)).transpose(1, 0, 2)  # (f, segs, d)
            for cols, on, X in self.phases:
                if X.shape[2]:
                    y = sfft.irfft((K @ X).transpose(1, 2, 0), n=self.L, axis=2)[:, :, :self.V]  # (segs, blocks, V)
                    M[c0:c0 + len(st), cols] = y.reshape(len(st), -1)[:, on]
        return M, starts

