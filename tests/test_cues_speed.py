"""Long cues at a transfer's playback speed keep their full extent (issue 13), on real material made at run time.

Real game music (Debian flare-game) under real speech (espeak-ng), played at
1000/1001 (an NTSC pull-down or a 23.976 fps transfer) and at 25/24 (PAL) by
scipy's polyphase resampler (independent of the matcher's renderer), mixed and
AAC-encoded. A speed verified over one 8 s window is good to a few 1e-6; at
11025 Hz that moves the lag by a sample every 20 s or so, enough to scatter
the phase of the upper bins: a long cue used to keep only the stretch around
its checked window. Each long cue must keep both boundaries within 0.25 s, its
track offset within 0.1 s and its speed within 1e-5 (its speed is refitted
over its whole length), whatever speed the extent starts from.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from filmscore.cues import StampSettings, stamp_film
from filmscore.media import decode_audio

SR = 22050
SENTENCES = [
    "I told you we should never have come back to this place.",
    "Where were you last night when the lights went out?",
    "Nobody walks away from this, not this time.",
    "She said she would wait, but that was years ago.",
    "The ship leaves at dawn, with or without you.",
    "Give me the map and nobody gets hurt.",
]


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    """(music tracks, speech clips) from Debian packages, fetched once into .bench/ (git ignores it)."""
    from bench.material import music_and_speech

    try:
        return music_and_speech(SENTENCES, tmp_path_factory.mktemp("speech"), [("en", 45, 160), ("en+f3", 45, 160), ("en-us", 45, 160)], SR)
    except (subprocess.CalledProcessError, OSError) as e:
        pytest.skip(f"Debian packages could not be fetched with apt-get download: {e}")


def dialogue(speech: list[np.ndarray], seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Sentences at one RMS, 0.2-1.0 s apart."""
    n = int(seconds * SR)
    out = np.zeros(n, np.float32)
    t = int(0.3 * SR)
    while t < n:
        s = speech[rng.integers(len(speech))]
        s = s / (np.sqrt(np.mean(s ** 2)) + 1e-9) * 0.1
        m = min(len(s), n - t)
        out[t:t + m] += s[:m]
        t += m + int(rng.uniform(0.2, 1.0) * SR)
    return out


def encode(x: np.ndarray, out: Path) -> Path:
    wav = out.with_suffix(".wav")
    sf.write(wav, x, SR)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "160k", str(out)],
                   check=True)
    wav.unlink()
    return out


# (track index, film start, track offset, film seconds): a 58 s cue and a 14 s one
USES = [(1, 4.0, 20.0, 58.0), (2, 68.0, 10.0, 14.0)]


def make(material, root: Path, up: int, down: int) -> tuple[Path, Path, list[tuple[str, float, float, float]]]:
    """A stereo film playing its music at down/up with its pitch moved, music 6 dB under the dialogue."""
    from scipy.signal import resample_poly

    music, speech = material
    st = root / "soundtracks" / "film"
    st.mkdir(parents=True)
    rng = np.random.default_rng(7)
    seconds = 86.0
    film = np.zeros((int(seconds * SR), 2), np.float32)
    talk = dialogue(speech, seconds, rng)
    film += talk[:, None] * 0.8
    speed = down / up
    truth = []
    for i, p in enumerate(music[:3]):
        (st / p.name).write_bytes(p.read_bytes())
    for k, start, off, dur in USES:
        p = music[k]
        x = decode_audio(p, SR, channels=2)
        played = resample_poly(x, up, down, axis=0).astype(np.float32)  # output sample j: input j * speed
        a = int(round(off / speed * SR))
        seg = played[a:a + int(dur * SR)].copy()
        fade = int(0.3 * SR)
        seg[:fade] *= np.linspace(0, 1, fade, dtype=np.float32)[:, None]
        seg[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)[:, None]
        gain = float(np.sqrt(np.mean(talk[talk != 0] ** 2))) * 0.8 * 10 ** (-6 / 20) / float(np.sqrt(np.mean(seg ** 2)))
        f0 = int(start * SR)
        film[f0:f0 + len(seg)] += seg * gain
        truth.append((p.stem, start, start + dur, off))
    film /= max(1.0, float(np.abs(film).max()) / 0.9)
    (root / "films").mkdir()
    return encode(film, root / "films" / "film.m4a"), st, truth


@pytest.fixture(scope="module")
def ntsc(material, tmp_path_factory):
    return make(material, tmp_path_factory.mktemp("ntsc"), 1001, 1000)


# a range around the transfer's speed (prints at speed 1 alone): the test stays short; the estimate is the same
SETTINGS = replace(StampSettings(), speeds=(0.995, 1.005), renditions=False)


def check(df, truth, speed):
    assert sorted(df.track) == sorted(t for t, *_ in truth), df
    for name, start, end, off in truth:
        r = df[df.track == name].iloc[0]
        assert abs(r.start - start) <= 0.25 and abs(r.end - end) <= 0.25, (name, r.start, r.end, start, end)
        assert abs(r.track_offset + (start - r.start) * r.speed - off) <= 0.1, (name, r.track_offset)
        assert r.speed == pytest.approx(speed, abs=1e-5)
        assert r.pitch == "resampled"


def test_long_cue_at_ntsc_speed_keeps_its_full_extent(ntsc):
    film, st, truth = ntsc
    check(stamp_film(film, st, SETTINGS), truth, 1000 / 1001)


def test_long_cue_at_pal_speed_keeps_its_full_extent(material, tmp_path):
    film, st, truth = make(material, tmp_path, 24, 25)
    check(stamp_film(film, st, replace(SETTINGS, speeds=(1.03, 1.05))), truth, 25 / 24)


@pytest.mark.parametrize("error", [-8e-6, 5e-6, 2e-5])
def test_extent_from_a_slightly_wrong_speed_is_the_whole_cue_at_the_refitted_speed(ntsc, error):
    """The extent of a verified alignment (`match._extent_at`), at the true lag at the cue's middle but a speed
    `error` off (what one window's estimate, or a speed verified on another cue of the film, may give): the whole
    58 s cue, its speed refitted to within 1e-6."""
    from filmscore.cues.cache import PrintCache
    from filmscore.cues.match import Alignment, _extent_at
    from filmscore.cues.stamp import TrackSet, _decode_film

    film, st, truth = ntsc
    s = SETTINGS
    sr = s.sample_rate
    name, start, end, off = truth[0]
    ts = TrackSet(sorted(st.iterdir()), s, PrintCache(None), speeds=(1.0,))
    tr = next(t for t in ts.tracks if t.name == name)
    true_speed = 1000 / 1001
    sp = true_speed * (1 + error)
    mid = 0.5 * (start + end)
    tau = off + (mid - start) * true_speed            # track time at the cue's middle
    lag = int(round((mid - tau / sp) * sr))            # the line through it at the wrong speed
    with _decode_film(film, s) as fa:
        cues, _ = _extent_at(fa, tr, Alignment(sp, lag, 20.0, "mid"), s, tau)
    ts.release()
    assert len(cues) == 1, [(q.start, q.end) for q in cues]
    q = cues[0]
    assert abs(q.start - start) <= 0.25 and abs(q.end - end) <= 0.25, (q.start, q.end)
    assert q.speed == pytest.approx(true_speed, abs=1e-6)
    assert abs(q.track_offset - (off + (q.start - start) * true_speed)) <= 0.01


def test_stretch_z_grows_with_the_span_at_one_windows_chance_spread():
    """stretch_z: the mean frame z over 1, 2, 3 windows times sqrt(span / window); hand-computed, and by simulation
    of independent chance frames (each span's scaled mean has one window's spread)."""
    from filmscore.cues.match import stretch_z

    t = np.arange(-12.0, 12.0 + 1e-9, 0.5)          # frames every 0.5 s, 24 s around the candidate's middle
    # a quiet cue: frame z 3 throughout; one window (8 s) gives 3, the whole 24 s span 3 * sqrt(24 / 8)
    assert stretch_z(np.full(len(t), 3.0), t, 8.0, 4) == pytest.approx(3.0 * np.sqrt(3.0))
    # music only in the middle window: the longer spans dilute it, one window's mean wins
    z = np.where(np.abs(t) <= 4, 6.0, 0.0)
    assert stretch_z(z, t, 8.0, 4) == pytest.approx(6.0)
    # too few frames: -inf
    assert stretch_z(np.ones(3), t[:3], 8.0, 4) == -np.inf
    # chance: window-independent frame means (one standard-normal value per 8 s window); each span's scaled mean
    # is then standard normal, and their maximum (correlated: the spans nest) has a tail close to one window's
    # (99.9 % of N(0, 1): 3.09), not the sqrt(3) wider tail an unscaled sum over three windows would have
    rng = np.random.default_rng(0)
    wins = np.floor((t + 12) / 8).clip(0, 2)
    draws = [stretch_z(rng.standard_normal(3)[wins.astype(int)], t, 8.0, 4) for _ in range(4000)]
    assert 0.1 < np.mean(draws) < 0.8 and 2.6 < np.quantile(draws, 0.999) < 4.0


def test_half_frame_lines_are_the_rows_read_by_linear_interpolation():
    """`match.half_frame_lines` (band_speed's lines of speed and lag) against numpy's interpolation of each row:
    G laid between zeros half a column beyond both ends, read at first + k / 2 and averaged over the rows."""
    from filmscore.cues.match import half_frame_lines

    rng = np.random.default_rng(0)
    G = rng.standard_normal((7, 40)).astype(np.float32)
    first = rng.uniform(-4.0, 38.0, size=(5, 7))
    first[0] = -60.0  # a line wholly before the film's frames
    n = 12
    got = half_frame_lines(G, first, n)
    x = np.concatenate([[-0.5], np.arange(40), [39.5]])
    want = np.array([[np.mean([np.interp(first[i, r] + k / 2, x, np.r_[0.0, G[r], 0.0], left=0.0, right=0.0)
                               for r in range(7)]) for k in range(n)] for i in range(5)])
    assert got.shape == (5, n)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert not got[0].any()


def test_a_candidate_printed_a_grid_step_off_the_films_speed_is_read_resampled(ntsc):
    """A candidate of the 58 s cue of the NTSC film (1000/1001, resampled) printed at the grid speed 0.98: the band
    search of `estimate` (half a grid step and a little about the print) cannot reach the film's speed, the stretch
    reading's wider search finds its line, and along that line the phase holds. The alignment is the resampled one
    (as the film plays it), speed within 1e-4 of 1000/1001 and lag within 2 samples of the truth at the window's
    middle; its extent is the whole cue at the refitted speed -- not a time-stretched reading, whose extent cuts
    quiet music short."""
    from filmscore.cues.cache import PrintCache
    from filmscore.cues.match import Candidate, _extent_at, estimate
    from filmscore.cues.stamp import TrackSet, _decode_film

    film, st, truth = ntsc
    s = replace(StampSettings(), renditions=False)
    sr = s.sample_rate
    grid = 0.98
    assert abs(grid - 1000 / 1001) > 0.5 * s.speed_step + 0.003  # outside the band search about the print
    name, start, end, off = truth[0]
    ts = TrackSet(sorted(st.iterdir()), s, PrintCache(None), speeds=(grid,))
    i, tr = next((i, t) for i, t in enumerate(ts.tracks) if t.name == name)
    true_speed = 1000 / 1001
    mid = 0.5 * (start + end)
    tau = off + (mid - start) * true_speed                       # track seconds at the cue's middle
    t_grid = tau / grid                                           # the same at the print's speed
    c = Candidate(i, "mid", mid - t_grid, t_grid - 2.5, t_grid + 2.5, 10.0, "xcorr")
    with _decode_film(film, s) as fa:
        al = estimate(fa, tr, c, s, [])
        cues, _ = _extent_at(fa, tr, al, s, tau)
    ts.release()
    assert not al.pitch_kept and not al.spectrum, al
    assert al.z >= s.verify.min_z, al
    assert al.speed == pytest.approx(true_speed, abs=1e-4)  # one window's polish; the extent refits it
    # the lag at the cue's middle: film sample = lag + track sample / speed
    assert abs(al.lag - (mid - tau / al.speed) * sr) <= 2, (al.lag, (mid - tau / al.speed) * sr)
    assert len(cues) == 1, [(q.start, q.end) for q in cues]
    q = cues[0]
    assert abs(q.start - start) <= 0.25 and abs(q.end - end) <= 0.25, (q.start, q.end)
    assert q.speed == pytest.approx(true_speed, abs=1e-6) and not q.pitch_kept
