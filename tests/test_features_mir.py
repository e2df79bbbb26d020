"""MIR features on known signals, each against an independent expectation."""

from __future__ import annotations

import numpy as np
import pytest

from filmscore.features.groups import FEATURE_GROUP, GROUPS, base_of, columns_by_group, group_of
from filmscore.features.mir import (
    CHROMA_NAMES,
    COLUMNS,
    MIR,
    MirSettings,
    deltas,
    key_profiles_correlation,
    texture_stats,
    texture_windows,
)

SR = 22050


@pytest.fixture(scope="module")
def mir() -> MIR:
    return MIR()


def t_axis(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def sine(freq: float, seconds: float = 6.0, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * t_axis(seconds))).astype(np.float32)


def midi(n: int) -> float:
    return 440.0 * 2 ** ((n - 69) / 12)


def chord(notes, seconds: float = 6.0) -> np.ndarray:
    t = t_axis(seconds)
    return (0.5 * sum(np.sin(2 * np.pi * midi(n) * t) for n in notes) / len(notes)).astype(np.float32)


def noise(seconds: float = 6.0, sd: float = 0.1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, sd, int(seconds * SR)).astype(np.float32)


def clicks(bpm: float, seconds: float = 12.0) -> np.ndarray:
    x = noise(seconds, sd=0.002, seed=3)
    x[(np.arange(0, seconds, 60.0 / bpm) * SR).astype(int)] = 1.0
    return x


def feats(mir: MIR, x: np.ndarray) -> dict[str, float]:
    """Cue-level (mean over the 1 Hz frames) value of every column."""
    v = mir.embed(x, SR)
    assert v.dtype == np.float32 and v.shape[1] == len(COLUMNS) and np.isfinite(v).all()
    return dict(zip(COLUMNS, v.mean(axis=0).astype(float)))


# ------------------------------------------------------------------ layout


def test_columns_names_and_groups():
    assert len(COLUMNS) == 134 and len(set(COLUMNS)) == len(COLUMNS)
    for needed in ("mfcc_03_mean", "d_mfcc_03_std", "dd_mfcc_13_mean", "chroma_A_mean", "key_mode_mean",
                   "rms_std", "tempo_mean", "pulse_clarity_std", "roughness_mean", "spectral_brightness_mean"):
        assert needed in COLUMNS
    by_group = columns_by_group(COLUMNS)
    assert list(by_group) == list(GROUPS) and len(GROUPS) == 8
    # 13 coefficients x (mean, std) per MFCC group; RMS alone in Dynamics; 12 chroma in Pitch
    assert [len(by_group[g]) for g in ("MFCC", "dMFCC", "ddMFCC", "Dynamics", "Pitch", "Rhythm")] == [26, 26, 26, 2, 24, 4]
    assert len(by_group["Timbre"]) == 2 * 8 and len(by_group["Tone"]) == 2 * 5
    assert sum(map(len, by_group.values())) == len(COLUMNS)
    assert {base_of(c) for c in COLUMNS} == set(FEATURE_GROUP)
    assert group_of("d_mfcc_03_std") == "dMFCC" and group_of("chroma_C#_mean") == "Pitch"
    assert group_of("inharmonicity_mean") == "Tone" and group_of("zero_crossing_rate_std") == "Timbre"
    with pytest.raises(KeyError):
        group_of("brightness")  # a visual column is not a MIR feature


def test_frame_count_follows_the_1hz_grid(mir):
    assert mir.embed(sine(440, 10.0), SR).shape[0] == 10
    assert mir.embed(sine(440, 10.7), SR).shape[0] == 10
    assert mir.embed(sine(440, 2.0), SR).shape[0] == 2
    # shorter than a texture window, a tonal frame, even a short frame: still one frame, finite
    for seconds in (0.4, 0.1, 0.01):
        v = mir.embed(sine(440, seconds), SR)
        assert v.shape == (1, len(COLUMNS)) and np.isfinite(v).all()
    with pytest.raises(ValueError, match="22050"):
        mir.embed(sine(440, 1.0), 16000)


# ------------------------------------------------------------------ dynamics, timbre


def test_rms_of_a_known_sine(mir):
    f = feats(mir, sine(440, amp=0.5))
    assert f["rms_mean"] == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    assert f["rms_std"] < 0.01
    assert feats(mir, sine(440, amp=0.1))["rms_mean"] == pytest.approx(0.1 / np.sqrt(2), rel=0.01)


@pytest.mark.parametrize("freq", [440.0, 1000.0])
def test_zero_crossing_rate_counts_crossings_per_second(mir, freq):
    # one-way crossings per second (MIRtoolbox's default): a sine crosses upwards f times a second
    assert feats(mir, sine(freq))["zero_crossing_rate_mean"] == pytest.approx(freq, rel=0.01)


def test_tone_centroid_chroma_and_flatness(mir):
    f = feats(mir, sine(440))
    assert f["spectral_centroid_mean"] == pytest.approx(440, abs=15)
    assert f["spectral_spread_mean"] < 60  # a single partial: little spread
    chroma = [f[f"chroma_{c}_mean"] for c in CHROMA_NAMES]
    assert CHROMA_NAMES[int(np.argmax(chroma))] == "A"
    assert f["chroma_A_mean"] == pytest.approx(1.0, abs=1e-3)
    assert max(c for n, c in zip(CHROMA_NAMES, chroma) if n != "A") < 0.3
    c = feats(mir, sine(midi(60)))  # middle C
    assert CHROMA_NAMES[int(np.argmax([c[f"chroma_{n}_mean"] for n in CHROMA_NAMES]))] == "C"
    assert f["spectral_flatness_mean"] < 0.05
    assert f["spectral_brightness_mean"] < 0.01  # nothing above 1500 Hz
    assert feats(mir, sine(3000))["spectral_brightness_mean"] > 0.99


def test_white_noise_spectral_shape(mir):
    """White noise has a flat spectrum: a uniform distribution over 0..Nyquist."""
    f = feats(mir, noise())
    nyq = SR / 2
    assert f["spectral_flatness_mean"] > 0.4
    assert f["spectral_flatness_mean"] > 10 * feats(mir, sine(440))["spectral_flatness_mean"] + 0.3
    assert f["spectral_centroid_mean"] == pytest.approx(nyq / 2, rel=0.05)
    assert f["spectral_spread_mean"] == pytest.approx(nyq / np.sqrt(12), rel=0.05)
    assert f["spectral_skewness_mean"] == pytest.approx(0.0, abs=0.1)
    assert f["spectral_kurtosis_mean"] == pytest.approx(-1.2, abs=0.1)  # excess kurtosis of a uniform
    assert f["spectral_brightness_mean"] == pytest.approx((nyq - 1500) / nyq, abs=0.02)
    assert f["spectral_entropy_mean"] > 0.95
    tone = feats(mir, sine(440))
    assert tone["spectral_entropy_mean"] < 0.7
    assert tone["spectral_crest_mean"] > 10 * f["spectral_crest_mean"]


def test_roughness_of_dyads_follows_sethares(mir):
    t = t_axis(4.0)

    def dyad(semitones):
        ratio = 2 ** (semitones / 12)
        return (0.25 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 440 * ratio * t))).astype(np.float32)

    r = {k: feats(mir, dyad(k))["roughness_mean"] for k in (1, 2, 3, 6, 7)}
    assert r[1] > r[2] > r[3] > r[6] > r[7]  # roughness falls as the interval leaves the critical band
    assert r[7] < 0.002 and feats(mir, sine(440, 4.0))["roughness_mean"] == pytest.approx(0.0, abs=1e-6)
    # two equal partials: a^2 (e^{-3.5 s df} - e^{-5.75 s df}) / (2 a^2), s = 0.24 / (0.0207 f_min + 18.96)
    s = 0.24 / (0.0207 * 440 + 18.96)
    df = 440 * (2 ** (1 / 12) - 1)
    assert r[1] == pytest.approx(0.5 * (np.exp(-3.5 * s * df) - np.exp(-5.75 * s * df)), rel=0.05)


def test_inharmonicity_of_stretched_partials(mir):
    t = t_axis(4.0)
    harmonic = sum(np.sin(2 * np.pi * 220 * n * t) / n for n in range(1, 7)) / 4
    stretched = sum(np.sin(2 * np.pi * 220 * n * np.sqrt(1 + 0.02 * n * n) * t) / n for n in range(1, 7)) / 4
    h = feats(mir, harmonic.astype(np.float32))["inharmonicity_mean"]
    s = feats(mir, stretched.astype(np.float32))["inharmonicity_mean"]
    assert h < 0.005 and s > 5 * h + 0.01


def test_mfcc_deltas_of_a_steady_tone_are_zero_and_of_a_sweep_not(mir):
    steady = feats(mir, sine(440))
    assert max(abs(steady[f"d_mfcc_{i:02d}_mean"]) for i in range(1, 14)) < 0.05
    t = t_axis(6.0)
    sweep = (0.5 * np.sin(2 * np.pi * (200 * t + 400 * t ** 2))).astype(np.float32)  # 200 -> 5000 Hz
    s = feats(mir, sweep)
    assert max(abs(s[f"d_mfcc_{i:02d}_mean"]) for i in range(1, 14)) > 0.05
    # MFCCs of different timbres differ
    n = feats(mir, noise())
    assert max(abs(steady[f"mfcc_{i:02d}_mean"] - n[f"mfcc_{i:02d}_mean"]) for i in range(1, 14)) > 5


def test_deltas_regression_formula():
    c = np.arange(10, dtype=float)[:, None] ** 2  # c_t = t^2: slope 2t in the interior
    d = deltas(c)
    assert d[2:-2, 0] == pytest.approx(2 * np.arange(2, 8))
    assert deltas(np.ones((5, 3))) == pytest.approx(np.zeros((5, 3)))


# ------------------------------------------------------------------ rhythm


@pytest.mark.parametrize("bpm", [120.0, 90.0])
def test_click_train_tempo(mir, bpm):
    f = feats(mir, clicks(bpm))
    assert f["tempo_mean"] == pytest.approx(bpm, abs=2.0)
    assert f["tempo_std"] < 2.0


def test_pulse_clarity_click_train_vs_noise(mir):
    assert feats(mir, clicks(120))["pulse_clarity_mean"] > feats(mir, noise(12.0))["pulse_clarity_mean"] + 0.3


# ------------------------------------------------------------------ tonality


def test_key_mode_of_triads(mir):
    c_major = feats(mir, chord([60, 64, 67]))
    a_minor = feats(mir, chord([57, 60, 64]))
    e_major = feats(mir, chord([64, 68, 71]))
    d_minor = feats(mir, chord([62, 65, 69]))
    assert c_major["key_mode_mean"] > 0 and e_major["key_mode_mean"] > 0
    assert a_minor["key_mode_mean"] < 0 and d_minor["key_mode_mean"] < 0
    assert c_major["key_strength_mean"] > feats(mir, noise())["key_strength_mean"] + 0.2


def test_key_strength_equals_essentia_key():
    """Our vectorised K-K correlation gives Essentia's Key (krumhansl, plain profiles) key and strength."""
    import essentia.standard as es

    key = es.Key(profileType="krumhansl", usePolyphony=False, useThreeChords=False, pcpSize=12, numHarmonics=1)
    flats = {"Eb": "D#", "Bb": "A#", "Ab": "G#", "Db": "C#", "Gb": "F#"}
    rng = np.random.default_rng(7)
    for _ in range(12):
        chroma = rng.random(12)
        major, minor = key_profiles_correlation(chroma)
        if major.max() >= minor.max():
            ours = (CHROMA_NAMES[int(major.argmax())], "major", float(major.max()))
        else:
            ours = (CHROMA_NAMES[int(minor.argmax())], "minor", float(minor.max()))
        name, scale, strength, _ = key(np.roll(chroma, 3).astype(np.float32))  # HPCP order starts at A
        assert (flats.get(name, name), scale) == ours[:2]
        assert strength == pytest.approx(ours[2], abs=1e-4)


# ------------------------------------------------------------------ texture windows


def test_texture_stats_against_numpy():
    rng = np.random.default_rng(1)
    times = np.arange(200) * 0.05 + 0.025  # 20 Hz frames over 10 s
    values = rng.normal(size=(200, 3))
    values[30:40, 1] = np.nan  # undefined frames are ignored
    starts, ends = np.array([0.0, 3.35, 5.0]), np.array([5.0, 8.35, 10.0])
    mean, std = texture_stats(times, values, starts, ends)
    for w, (a, b) in enumerate(zip(starts, ends)):
        sel = (times >= a) & (times < b)
        assert mean[w] == pytest.approx(np.nanmean(values[sel], axis=0))
        assert std[w] == pytest.approx(np.nanstd(values[sel], axis=0))  # population std (ddof=0)
    assert np.isfinite(mean).all()


def test_texture_windows_layout_and_alignment():
    starts, ends, assign = texture_windows(12.0, 12, 5.0, 3.35, "nearest")
    # 33 % overlap from the cue start, plus one window ending at the cue end
    assert starts == pytest.approx([0.0, 3.35, 6.7, 7.0]) and ends == pytest.approx([5.0, 8.35, 11.7, 12.0])
    centres = (starts + ends) / 2  # 2.5, 5.85, 9.2, 9.5
    for i, w in enumerate(assign):
        assert abs(centres[w] - (i + 0.5)) == pytest.approx(np.min(np.abs(centres - (i + 0.5))))
    assert list(assign[:3]) == [0, 0, 0] and assign[5] == 1
    starts, ends, assign = texture_windows(3.2, 3, 5.0, 3.35, "nearest")  # shorter than a window
    assert list(starts) == [0.0] and list(ends) == [3.2] and list(assign) == [0, 0, 0]
    starts, ends, assign = texture_windows(12.0, 12, 5.0, 3.35, "centred")
    assert starts == pytest.approx(np.clip(np.arange(12) + 0.5 - 2.5, 0, 12))
    assert ends == pytest.approx(np.clip(np.arange(12) + 0.5 + 2.5, 0, 12))
    assert list(assign) == list(range(12))


def test_embed_is_texture_stats_of_frame_features(mir):
    """The 1 Hz rows are exactly the window statistics of the frame-level features."""
    x = np.concatenate([sine(440, 4.0, 0.1), sine(440, 4.0, 0.4), sine(440, 4.0, 0.2)])
    rows = mir.embed(x, SR)
    short = mir.frame_features(x)[0]
    rms = short.values[:, short.names.index("rms")]
    starts, ends, assign = texture_windows(12.0, 12, 5.0, 3.35, "nearest")
    j = COLUMNS.index("rms_mean")
    for i in range(12):
        sel = (short.times >= starts[assign[i]]) & (short.times < ends[assign[i]])
        assert rows[i, j] == pytest.approx(rms[sel].mean(), rel=1e-5)
        assert rows[i, j + 1] == pytest.approx(rms[sel].std(), rel=1e-4, abs=1e-6)
    centred = MIR(MirSettings(texture_align="centred")).embed(x, SR)
    assert centred.shape == rows.shape
    assert centred[0, j] == pytest.approx(rms[short.times < 3.0].mean(), rel=1e-5)


def test_silence_is_finite_and_zero(mir):
    v = mir.embed(np.zeros(3 * SR, np.float32), SR)
    assert v.shape == (3, len(COLUMNS)) and np.isfinite(v).all()
    f = dict(zip(COLUMNS, v[0]))
    assert f["rms_mean"] == 0 and f["spectral_centroid_mean"] == 0 and f["chroma_A_mean"] == 0
    # a cue that starts silent: the silent part does not drag the tone's centroid down
    x = np.concatenate([np.zeros(2 * SR, np.float32), sine(440, 4.0)])
    assert feats(mir, x)["spectral_centroid_mean"] == pytest.approx(440, abs=15)
