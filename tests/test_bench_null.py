"""The false-alarm bench's helpers (bench/cues/null.py): settings from `--set`, tracks reversed in time."""

import numpy as np
import pytest
import soundfile as sf

from bench.cues.null import reversed_soundtrack, with_settings
from filmscore.cues.settings import StampSettings


def test_set_changes_one_setting_checked_against_the_params_schema():
    s = with_settings(["fine.min_z=4.5", "verify.window_seconds=12", "fine.track_stride=3", "fine.enabled=false"])
    assert s.fine.min_z == 4.5 and s.verify.window_seconds == 12.0 and s.fine.track_stride == 3
    assert s.fine.enabled is False
    assert s.xcorr == StampSettings().xcorr and s.extent == StampSettings().extent  # the rest as it was
    assert with_settings([]) == StampSettings()
    with pytest.raises(SystemExit, match="min_z"):  # an unknown key: the schema's message suggests the near one
        with_settings(["fine.minz=4"])
    with pytest.raises(SystemExit, match="fine.track_stride"):  # out of its range (1-8)
        with_settings(["fine.track_stride=20"])
    with pytest.raises(SystemExit, match="not a section"):
        with_settings(["fin.min_z=4"])
    with pytest.raises(SystemExit, match="section.key=value"):
        with_settings(["fine.min_z"])


def test_reversed_soundtrack_holds_each_track_backwards(tmp_path):
    src = tmp_path / "soundtracks" / "f"
    src.mkdir(parents=True)
    x = np.stack([np.linspace(-0.5, 0.5, 800), np.linspace(0.25, -0.25, 800)], axis=1).astype(np.float32)
    sf.write(src / "a.wav", x, 8000, subtype="PCM_16")
    (out,) = reversed_soundtrack(src, "f", tmp_path / "rev")
    y, sr = sf.read(out, dtype="float32", always_2d=True)
    assert sr == 8000 and out.name == "a.wav"
    assert np.allclose(y, x[::-1], atol=1 / 16384)


def test_keep_one_keeps_the_track_with_the_most_true_seconds_as_released(tmp_path):
    from bench.cues.null import main_track

    truth = tmp_path / "t.csv"
    truth.write_text("track,start,end,track_offset,speed,rendition\n"
                     "a,0,10,0,1,False\nb,12,30,0,1,False\na,40,50,5,1,False\nc,60,61,0,1,False\n")
    assert main_track(truth) == "a"  # a: 10 + 10 s, b: 18 s
    src = tmp_path / "soundtracks" / "f"
    src.mkdir(parents=True)
    x = np.linspace(-0.5, 0.5, 800).astype(np.float32)
    for name in ("a", "b"):
        sf.write(src / f"{name}.wav", x, 8000, subtype="PCM_16")
    kept, rev = sorted(reversed_soundtrack(src, "f", tmp_path / "rev", frozenset(["a"])), key=lambda p: p.stem)
    assert kept == src / "a.wav"  # as released, not copied
    y, _ = sf.read(rev, dtype="float32")
    assert rev.parent == tmp_path / "rev" and np.allclose(y, x[::-1], atol=1 / 16384)
