"""The bench's material helpers (bench/material.py) on signals with a known answer."""

import numpy as np

from bench.material import AUDIBLE_DB, audible_span

SR = 1000


def _tone(seconds: float, amp: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * 50 * t)).astype(np.float32)


def test_audible_span_leaves_out_silent_head_and_tail():
    # 1 s of silence, 3 s of music, 0.5 s at 80 dB under it (dither: inaudible), 2 s of silence
    x = np.concatenate([np.zeros(SR), _tone(3, 0.5), _tone(0.5, 0.5e-4), np.zeros(2 * SR)])
    assert audible_span(x, SR) == (1.0, 4.0)


def test_audible_span_keeps_a_fade_and_a_pause():
    # a fade 40 dB under the music (within AUDIBLE_DB) is music; so is a silent pause between two passages
    assert AUDIBLE_DB > 40
    x = np.concatenate([_tone(2, 0.5), np.zeros(SR), _tone(2, 0.5), _tone(1, 0.005), np.zeros(SR)])
    assert audible_span(x, SR) == (0.0, 6.0)
    stereo = np.stack([x, np.zeros_like(x)], axis=1)  # samples x channels: the level is over both
    assert audible_span(stereo, SR) == (0.0, 6.0)
