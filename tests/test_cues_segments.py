"""`filmscore.cues.segments`: the summed cosines both whole-film searches read (band frames, fine frames)."""

import numpy as np
import pytest

from filmscore.cues.segments import SegmentScorer


def test_segment_scores_are_the_summed_cosines_and_skip_only_dead_film():
    """M[k, p] = sum_j T[start_k + j*stride] . F[p + j*stride] (the definition, summed here by hand), with the
    film's frames of found cues and silence zero: the frequency-domain blocks give the same M at any block length
    and for any stride, and a window of zero frames scores exactly 0."""
    rng = np.random.default_rng(3)
    T = rng.standard_normal((700, 24)).astype(np.float32)
    F = rng.standard_normal((3000, 24)).astype(np.float32)
    for a, b in [(0, 40), (300, 1100), (1400, 2200), (2900, 3000)]:  # found cues / silence, at both ends too
        F[a:b] = 0.0
    for W, H, stride, block in [(40, 20, 2, None), (40, 20, 2, 21), (40, 20, 2, 1000), (30, 9, 3, 64),
                                (25, 10, 1, None)]:
        scorer = SegmentScorer(F, W, H, stride, block)
        js = np.arange(0, W, stride)
        for T_ in (T, T[:W - 3], T[:W + 7]):  # a short track (its one segment zero-padded), the end's extra segment
            M, starts = scorer(T_)
            assert list(starts) == list(range(0, max(1, len(T_) - W + 1), H)) + (
                [len(T_) - W] if len(T_) > W and (len(T_) - W) % H else [])
            assert M.shape == (len(starts), len(F) - js[-1])
            for k in range(len(starts)):
                for p in list(range(0, len(F) - js[-1], 37)) + [299, 300, 1100 - js[-1], 1101, 2899 - js[-1]]:
                    ref = sum(float(T_[starts[k] + j] @ F[p + j]) for j in js if starts[k] + j < len(T_))
                    assert M[k, p] == pytest.approx(ref, abs=1e-4), (W, H, stride, block, k, p)
            assert not M[:, 400:1100 - js[-1]].any()  # a window of zero frames scores exactly 0
    assert SegmentScorer(F, 40, 20, 2)(T[:19])[0].shape == (0, 0)  # shorter than half a segment: none
    with pytest.raises(ValueError, match="bins"):
        SegmentScorer(F, 40, 20, 2)(T[:, :20])
