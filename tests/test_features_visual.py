"""Brightness and contrast (paper eq. 1-2) on synthetic pictures and videos with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from filmscore.errors import MediaError
from filmscore.features.visual import Visual, VisualSettings, brightness_contrast, luma, otsu_thresholds
from tests.features_media import write_video

H, W = 36, 64


def picture(levels_and_shares) -> np.ndarray:
    """A (1, 2000) luma row (a 40 x 50 picture) made of levels in the given shares."""
    n = 2000
    row = np.concatenate([np.full(int(round(s * n)), v, np.float32) for v, s in levels_and_shares])
    assert len(row) == n
    return row[None, :]


def test_two_tone_pictures():
    half = picture([(0.0, 0.5), (1.0, 0.5)])
    quarter = picture([(1.0, 0.25), (0.0, 0.75)])
    for cut in ("otsu", "mean"):
        b, c = brightness_contrast(half, cut)[0]
        assert (b, c) == pytest.approx((0.5, 1.0))
        b, c = brightness_contrast(quarter, cut)[0]
        # (B_max - B_min)(1 - |A_max - A_min|) = (1 - 0)(1 - |0.25 - 0.75|)
        assert (b, c) == pytest.approx((0.25, 0.5))


def test_uniform_picture_has_no_contrast():
    for cut in ("otsu", "mean"):
        b, c = brightness_contrast(picture([(0.4, 1.0)]), cut)[0]
        assert b == pytest.approx(0.4) and c == 0.0


def test_region_cuts_differ_where_they_should():
    """60 % at 0.2, 25 % at 0.5, 15 % at 1.0 (mean 0.395).

    mean cut: bright = {0.5, 1.0} (40 %), B_max = 0.6875, B_min = 0.2, C = 0.4875 * (1 - 0.2) = 0.39.
    Otsu: between-class variance 0.0570 for {0.2 | 0.5, 1.0} and 0.0646 for {0.2, 0.5 | 1.0}, so the
    second: B_max = 1, B_min = 0.245 / 0.85, C = (1 - 0.28824) * (1 - 0.7) = 0.21353.
    """
    y = picture([(0.2, 0.60), (0.5, 0.25), (1.0, 0.15)])
    b, c = brightness_contrast(y, "mean")[0]
    assert b == pytest.approx(0.395, abs=1e-4) and c == pytest.approx(0.39, abs=1e-4)
    b, c = brightness_contrast(y, "otsu")[0]
    assert c == pytest.approx((1 - 0.245 / 0.85) * 0.3, abs=1e-4)


def test_linear_ramp():
    y = np.linspace(0, 1, 2000, dtype=np.float32)[None, :]
    for cut in ("otsu", "mean"):
        b, c = brightness_contrast(y, cut)[0]
        assert b == pytest.approx(0.5, abs=1e-3) and c == pytest.approx(0.5, abs=0.01)


def test_otsu_matches_brute_force_within_class_variance():
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.beta(2, 8, size=(5, 1500)), rng.beta(7, 3, size=(5, 800))], axis=1).astype(np.float32)
    q = np.round(y * 255) / 255  # the levels Otsu sees
    thr = otsu_thresholds(y)
    for i in range(len(y)):
        levels = np.unique(q[i])
        cost = [q[i][q[i] <= t].var() * (q[i] <= t).mean() + q[i][q[i] > t].var() * (q[i] > t).mean()
                for t in levels[:-1]]
        best = levels[int(np.argmin(cost))]
        assert thr[i] == pytest.approx(best, abs=1e-6)


def test_luma_is_bt601():
    rgb = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]]], np.uint8)
    assert luma(rgb)[0] == pytest.approx([0.299, 0.587, 0.114, 1.0], abs=1e-6)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """6 s at 10 fps: even seconds half white (left), odd seconds a quarter white (top); second 4 is
    dark in its first half and white in its second."""
    fps, frames = 10, np.zeros((60, H, W, 3), np.uint8)
    for i in range(60):
        s = i // fps
        if s == 4:
            frames[i] = 255 if i % fps >= 5 else 0
        elif s % 2 == 0:
            frames[i, :, : W // 2] = 255
        else:
            frames[i, : H // 4] = 255
    return write_video(tmp_path_factory.mktemp("vis") / "v.mp4", frames, fps)


def test_video_seconds(video):
    vis = Visual(VisualSettings(size=(W, H)))
    values, ok = vis.film(video, np.array([0.0, 1.0, 2.0, 3.0, 5.0, 7.5]))
    assert list(ok) == [True] * 5 + [False]  # 7.5 s is past the 6 s video
    assert values[:5, 0] == pytest.approx([0.5, 0.25, 0.5, 0.25, 0.25], abs=0.01)
    assert values[:5, 1] == pytest.approx([1.0, 0.5, 1.0, 0.5, 0.5], abs=0.02)
    assert np.isnan(values[5]).all()


def test_samples_per_second_average_and_batches(video):
    one = Visual(VisualSettings(size=(W, H), samples_per_second=1)).film(video, np.array([4.0]))[0]
    assert one[0, 0] == pytest.approx(1.0, abs=0.01)  # sampled at 4.5 s: white
    two = Visual(VisualSettings(size=(W, H), samples_per_second=2)).film(video, np.array([4.0]))[0]
    assert two[0, 0] == pytest.approx(0.5, abs=0.01)  # 4.25 s black, 4.75 s white
    assert two[0, 1] == pytest.approx(0.0, abs=0.01)  # each picture uniform
    times = np.arange(6.0)
    big = Visual(VisualSettings(size=(W, H), batch_frames=64)).film(video, times)[0]
    small = Visual(VisualSettings(size=(W, H), batch_frames=2)).film(video, times)[0]
    assert np.array_equal(big, small)
    # reduced resolution: area averages barely move
    half = Visual(VisualSettings(size=(W // 2, H // 2))).film(video, times)[0]
    assert half == pytest.approx(big, abs=0.03)


def test_unreadable_video_names_the_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(MediaError, match="broken.mp4"):
        Visual().film(bad, np.array([0.0]))
