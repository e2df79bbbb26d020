"""The bench's film mixing (bench/cues/run.py, conditions `film_mix` and `in_scene`): the duck, the bus compressor
and the loudspeaker, against levels and bands worked out by hand."""

import numpy as np
import pytest

from bench.cues.run import SR, compress, duck, loudspeaker


def _db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


def test_duck_dips_the_music_by_its_depth_while_the_dialogue_speaks_and_recovers_after():
    n = 6 * SR
    talk = np.zeros(n, np.float32)
    talk[2 * SR:4 * SR] = 0.1 * np.random.default_rng(0).standard_normal(2 * SR)  # speech from 2 s to 4 s
    g = duck(talk, 9.0, np.random.default_rng(1))
    rng = np.random.default_rng(1)
    attack, release = rng.uniform(0.05, 0.12), rng.uniform(0.3, 0.8)  # the time constants duck draws
    assert g.shape == (n,)
    db = 20 * np.log10(g)
    assert np.abs(db[:int(1.9 * SR)]).max() < 0.01  # before the speech: untouched
    # during it: the full depth once 5 attack time constants have passed (-9 dB x e^-5 = 0.06 dB short of it)
    assert db[int((2.0 + 5 * attack) * SR):int(3.95 * SR)] == pytest.approx(-9.0, abs=0.07)
    # after it: back towards 0 dB as a one-pole of the release's time constant, -9 e^(-(t - 4) / release) (the
    # speech's end as the side-chain sees it is known to 20 ms)
    for t in (4.5, 5.0, 5.5):
        assert db[int(t * SR)] == pytest.approx(-9 * np.exp(-(t - 4.0) / release), rel=0.1, abs=0.02)
    assert np.all(np.diff(db[int(4.0 * SR):]) >= -1e-4)  # rising all the way, never dipping again


def test_compress_reduces_a_level_above_its_threshold_by_the_ratio():
    t = np.arange(4 * SR) / SR
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)[:, None] * np.where(t < 2, 0.01, 1.0)[:, None]  # -40, then 0 dB
    y = compress(np.repeat(x, 2, axis=1), threshold_db=-18.0, ratio=4.0)
    # the loud half sets the reference (its peak): 0 dB re it is 18 dB over the threshold, kept 18 / 4 over it
    assert _db(y[int(3 * SR):, 0]) - _db(x[int(3 * SR):, 0]) == pytest.approx(-18 * (1 - 1 / 4), abs=0.3)
    # the quiet half, 40 dB under the reference, is under the threshold: untouched
    assert _db(y[int(0.5 * SR):int(1.9 * SR), 0]) == pytest.approx(_db(x[int(0.5 * SR):int(1.9 * SR), 0]), abs=0.01)
    assert np.array_equal(y[:, 0], y[:, 1])  # both channels by one gain


def test_loudspeaker_keeps_the_level_and_takes_the_band_a_small_speaker_plays():
    from scipy.signal import welch

    x = np.random.default_rng(2).standard_normal((3 * SR, 2)).astype(np.float32) * 0.1  # white noise, both channels
    y = loudspeaker(x, np.random.default_rng(3))
    assert y.shape == x.shape and y.dtype == np.float32
    assert _db(y) == pytest.approx(_db(x), abs=0.01)  # the cue's level is the one drawn
    f, p = welch(y[:, 0], SR, nperseg=4096)
    inside = p[(f > 500) & (f < 2000)].mean()
    # 250-4000 Hz (white noise in: equal power everywhere); the clipping puts a little back below the band
    assert p[f < 80].mean() < inside / 20 and p[(f > 7000) & (f < 9000)].mean() < inside / 30
    assert not np.allclose(y[:, 0], y[:, 1])  # panned off centre, not a centred mono copy


def test_an_edited_cues_pieces_each_last_two_seconds_and_the_draws_after_are_unchanged():
    """`edit_pieces` against the recipe before it (cuts drawn 2 s inside the cue, sorted, skips drawn after, no
    spacing): the same pieces where the draws are 2 s apart, a cut dropped with a skip where they are not, and the
    generator left where the old recipe left it."""
    from bench.cues.run import MIN_PIECE_SECONDS, edit_pieces

    assert MIN_PIECE_SECONDS == 2.0
    merged = 0
    for seed in range(3000):
        dur = float(np.random.default_rng(seed + 10**6).uniform(6.5, 60))
        old, new = np.random.default_rng(seed), np.random.default_rng(seed)
        k = int(old.integers(2, 4))
        cuts = np.sort(old.uniform(2, dur - 2, k - 1))
        skips = old.uniform(3, 12, k - 1)
        lens, sk = edit_pieces(dur, new)
        assert old.random() == new.random()  # the same draws: the films drawn after are the same
        assert lens.sum() == pytest.approx(dur) and len(sk) == len(lens) - 1 and len(lens) >= 2
        assert lens.min() >= 2.0 - 1e-9 and np.all((sk >= 3) & (sk <= 12))
        if k == 2 or cuts[1] - cuts[0] >= 2.0:
            np.testing.assert_allclose(lens, np.diff(np.r_[0.0, cuts, dur]))
            np.testing.assert_array_equal(sk, skips)
        else:  # the second cut is dropped: two pieces, the first cut and the first skip kept
            merged += 1
            np.testing.assert_allclose(lens, [cuts[0], dur - cuts[0]])
            np.testing.assert_array_equal(sk, skips[:1])
    assert merged > 100  # close cuts are common (the old recipe made a piece under 2 s in about one cue of ten)
