"""Score Stamper on known-answer mixtures synthesised here (music-like and speech-like signals)."""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from filmscore.cues import CUE_COLUMNS, StampSettings, stamp_film
from filmscore.cues.cache import PrintCache
from filmscore.cues.evaluate import evaluate, film_scores
from filmscore.cues.windows import WindowHit, merge_hits
from filmscore.errors import FilmscoreError, MediaError, ParamsError

SR = 11025
FAST = replace(StampSettings(), speeds=(1.0,))


# ---------------------------------------------------------------- signals


def music(seconds: float, seed: int) -> np.ndarray:
    """Stereo music-like signal: notes of harmonic tones (panned voices) and noise hits, at RMS 0.1."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros((n, 2), np.float32)
    t = np.arange(int(0.6 * SR)) / SR
    for voice in range(3):
        pan = np.array([0.2 + 0.3 * voice, 0.8 - 0.3 * voice])
        pos = 0
        while pos < n:
            dur = rng.choice([0.15, 0.3, 0.45, 0.6])
            m = min(int(dur * SR), n - pos)
            f0 = 110 * 2 ** (rng.integers(0, 36) / 12)
            tt = t[:m]
            note = sum(np.sin(2 * np.pi * f0 * h * tt + rng.uniform(0, 6.28)) / h for h in range(1, 6))
            env = np.exp(-tt * rng.uniform(2, 8))
            out[pos:pos + m] += (note * env)[:, None] * pan
            pos += m
    for _ in range(int(seconds * 2)):
        p = rng.integers(0, n - 2000)
        out[p:p + 2000] += (rng.standard_normal((2000, 2)) * np.exp(-np.arange(2000) / 300)[:, None]).astype(np.float32)
    return (out / np.sqrt(np.mean(out ** 2)) * 0.1).astype(np.float32)


def speech(seconds: float, seed: int) -> np.ndarray:
    """Mono speech-like signal: a gliding harmonic voice through formant-like resonances, in syllables and pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)) + 15 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    src = sum(np.sin(h * phase) * (1.0 / h) * (1 + np.sin(2 * np.pi * (0.3 + 0.1 * h) * t)) for h in range(1, 30)
              if h * 300 < SR / 2)
    syl = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    talk = np.repeat(rng.random(int(seconds) + 1) < 0.8, SR)[:n]
    x = src * syl * talk + 0.05 * rng.standard_normal(n) * syl * talk
    return (x / np.sqrt(np.mean(x ** 2) + 1e-12) * 0.1).astype(np.float32)


def db(x: float) -> float:
    return 10 ** (x / 20)


def write(path: Path, x: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, SR, subtype="PCM_16")
    return path


def _ffmpeg(*args: str) -> None:
    import subprocess

    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def make_film(tmp: Path, seconds: float, cues: list[tuple[np.ndarray, float, float, float]], speech_db: float = 0.0,
              mono: bool = False, name: str = "film") -> Path:
    """cues: (track, film start, track offset, duration); music at 0 dB re speech_db under it."""
    n = int(seconds * SR)
    film = np.repeat(speech(seconds, 99)[:, None], 2, axis=1) * db(speech_db)
    for tr, start, off, dur in cues:
        a, m = int(start * SR), int(dur * SR)
        film[a:a + m] += tr[int(off * SR):int(off * SR) + m]
    film = film[:n]
    if mono:
        film = film.mean(axis=1)
    return write(tmp / "films" / f"{name}.wav", film * 0.8)


@pytest.fixture(scope="module")
def tracks():
    return {"alpha": music(40, 1), "beta": music(35, 2), "gamma": music(40, 3)}


@pytest.fixture
def soundtrack(tmp_path, tracks):
    d = tmp_path / "soundtracks" / "film"
    write(d / "alpha.wav", tracks["alpha"])
    write(d / "beta.wav", tracks["beta"])
    return d


# ---------------------------------------------------------------- matching


def test_cue_found_at_film_time_and_track_offset(tmp_path, tracks, soundtrack):
    film = make_film(tmp_path, 50, [(tracks["alpha"], 12.0, 7.0, 15.0)], speech_db=3.0)
    df = stamp_film(film, soundtrack, FAST)
    assert list(df.columns[: len(CUE_COLUMNS)]) == CUE_COLUMNS
    assert len(df) == 1
    r = df.iloc[0]
    assert r.track == "alpha"
    assert abs(r.start - 12.0) < 0.5 and abs(r.end - 27.0) < 0.5
    assert abs(r.track_offset - 7.0) < 0.5
    assert 0.5 <= r.confidence <= 1.0
    assert r.cue_id == "film:0000"


def test_track_used_twice_gives_two_cues_and_distractor_is_ignored(tmp_path, tracks, soundtrack):
    film = make_film(tmp_path, 60, [(tracks["beta"], 3.0, 2.0, 10.0), (tracks["gamma"], 18.0, 5.0, 12.0),
                                    (tracks["beta"], 40.0, 20.0, 12.0)])
    df = stamp_film(film, soundtrack, FAST)
    assert list(df["track"]) == ["beta", "beta"], df  # gamma is not in the soundtrack
    assert list(df["cue_id"]) == ["film:0000", "film:0001"]
    assert abs(df.start.iloc[0] - 3.0) < 0.5 and abs(df.track_offset.iloc[0] - 2.0) < 0.5
    assert abs(df.start.iloc[1] - 40.0) < 0.5 and abs(df.track_offset.iloc[1] - 20.0) < 0.5
    assert (df.start.diff().dropna() > 0).all()


@pytest.mark.parametrize("played", ["alpha", "alpha_mix"])
@pytest.mark.parametrize("order", ["ranked", "reversed"])
def test_near_duplicate_tracks_the_better_one_wins_and_the_cue_is_reported_once(tmp_path, tracks, played, order,
                                                                               monkeypatch):
    """An album holding a track twice (the recording, and a mix of it with an overdub): the film's cue is
    reported once, as the track the film plays, whichever of the two the candidate search ranks first
    (`reversed`: the candidates checked weakest first, and the second pass off)."""
    from filmscore.cues import match

    s = FAST
    if order == "reversed":
        merge = match.merge_candidates
        monkeypatch.setattr(match, "merge_candidates", lambda cands, tol=0.5, free=None: merge(cands, tol, free)[::-1])
        s = replace(FAST, fine=replace(FAST.fine, enabled=False))
    d = tmp_path / "soundtracks" / "film"
    versions = {"alpha": tracks["alpha"], "alpha_mix": tracks["alpha"] + db(-6) * tracks["gamma"]}
    for name, x in versions.items():
        write(d / f"{name}.wav", x / max(1.0, float(np.abs(x).max()) / 0.9))
    film = make_film(tmp_path, 40, [(versions[played], 10.0, 5.0, 16.0)], speech_db=3.0)
    df = stamp_film(film, d, s)
    assert list(df.track) == [played], df
    assert abs(df.start.iloc[0] - 10.0) < 0.5 and abs(df.end.iloc[0] - 26.0) < 0.5


def test_music_10db_under_speech_in_a_mono_film_is_found(tmp_path, tracks, soundtrack):
    film = make_film(tmp_path, 45, [(tracks["alpha"], 20.0, 3.0, 14.0)], speech_db=10.0, mono=True)
    df = stamp_film(film, soundtrack, FAST)
    assert len(df) == 1 and df.track.iloc[0] == "alpha"
    assert abs(df.start.iloc[0] - 20.0) < 0.5 and abs(df.end.iloc[0] - 34.0) < 0.5
    assert abs(df.track_offset.iloc[0] - 3.0) < 0.5


def test_a_film_with_one_channel_inverted_gives_the_cues_of_the_film_itself(tmp_path, tracks, soundtrack, caplog):
    """A faulty transfer's right channel inverted swaps mid (L+R, now cancelling the centred music) and side: read
    back as it was, the film gives its cues (before, beta's 30 s were missed: the music sat in the side only)."""
    film = make_film(tmp_path, 90, [(tracks["alpha"], 5.0, 3.0, 25.0), (tracks["beta"], 50.0, 2.0, 30.0)])
    x, _ = sf.read(film, dtype="float32")
    x[:, 1] *= -1
    inverted = write(tmp_path / "films" / "inverted.wav", x)
    with caplog.at_level(logging.WARNING):
        ref = stamp_film(film, soundtrack, FAST, film_id="film")
        assert "polarity" not in caplog.text
        got = stamp_film(inverted, soundtrack, FAST, film_id="film")
    assert "inverted.wav: its left and right channels are out of phase" in caplog.text
    assert list(ref.track) == list(got.track) == ["alpha", "beta"]
    np.testing.assert_allclose(ref[["start", "end"]].to_numpy(), [[5.0, 30.0], [50.0, 80.0]], atol=0.1)
    np.testing.assert_allclose(got[["start", "end", "track_offset"]].to_numpy(),
                               ref[["start", "end", "track_offset"]].to_numpy(), atol=0.05)


def test_pal_speedup_rendition_is_found(tmp_path, tracks, soundtrack):
    from scipy.signal import resample

    fast = resample(tracks["alpha"], int(len(tracks["alpha"]) * 24 / 25), axis=0).astype(np.float32)
    film = make_film(tmp_path, 40, [(fast, 10.0, 4.8, 14.0)], speech_db=0.0)  # 4.8 s of the fast copy = 5 s of the track
    df = stamp_film(film, soundtrack, replace(StampSettings(), speeds=(1.0, 25 / 24)))
    assert len(df) == 1 and df.track.iloc[0] == "alpha"
    assert df.speed.iloc[0] == pytest.approx(25 / 24, rel=5e-4)
    assert abs(df.start.iloc[0] - 10.0) < 0.5 and abs(df.track_offset.iloc[0] - 5.0) < 0.5


def played_at(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """x played at speed down/up with its pitch (scipy's polyphase resampler: independent of the matcher's)."""
    from scipy.signal import resample_poly

    return resample_poly(x, up, down, axis=0).astype(np.float32)


@pytest.mark.parametrize("up,down", [(1001, 1000), (24, 25)], ids=["ntsc-1000/1001", "pal-25/24"])
def test_film_at_another_speed_gives_every_cue_with_its_speed_and_offset(tmp_path, tracks, soundtrack, up, down):
    # the whole film plays its music down/up times as fast as the album (NTSC pull-down: 1000/1001, PAL: 25/24)
    speed = down / up
    uses = [("alpha", 3.0, 6.0, 11.0), ("beta", 19.0, 12.0, 10.0)]  # track, film start, track offset, film seconds
    cues = [(played_at(tracks[t], up, down), start, off / speed, dur) for t, start, off, dur in uses]
    film = make_film(tmp_path, 32, cues, speech_db=3.0)
    df = stamp_film(film, soundtrack, StampSettings())
    assert list(df.track) == ["alpha", "beta"], df
    for (_, r), (t, start, off, dur) in zip(df.iterrows(), uses):
        assert r.speed == pytest.approx(speed, rel=5e-4)
        assert abs(r.track_offset + (start - r.start) * r.speed - off) < 0.1  # the track time at the true start
        assert abs(r.start - start) < 0.5 and abs(r.end - (start + dur)) < 0.5


@pytest.mark.parametrize("tempo", [1000 / 1001, 25 / 24], ids=["ntsc-1000/1001", "pal-25/24"])
def test_time_stretched_film_pitch_kept_gives_every_cue_with_its_speed_and_offset(tmp_path, tracks, soundtrack, tempo):
    # a pitch-corrected transfer: ffmpeg's atempo (WSOLA) stretches the tracks, their pitch as released
    uses = [("alpha", 3.0, 6.0, 14.0), ("beta", 21.0, 12.0, 14.0)]  # track, film start, track offset, film seconds
    cues = []
    for t, start, off, dur in uses:
        out = tmp_path / f"{t}_stretched.wav"
        _ffmpeg("-i", str(soundtrack / f"{t}.wav"), "-af", f"atempo={tempo:.9f}", str(out))
        cues.append((sf.read(out, dtype="float32")[0], start, off / tempo, dur))
    film = make_film(tmp_path, 38, cues, speech_db=3.0)
    df = stamp_film(film, soundtrack, StampSettings())
    assert list(df.track) == ["alpha", "beta"], df
    for (_, r), (t, start, off, dur) in zip(df.iterrows(), uses):
        assert r.speed == pytest.approx(tempo, rel=5e-4)
        assert abs(r.track_offset + (start - r.start) * r.speed - off) < 0.1
        assert abs(r.start - start) < 0.5 and abs(r.end - (start + dur)) < 0.5
    assert (df.pitch == "kept").all()


def test_edited_cue_is_reported_as_its_pieces(tmp_path, tracks, soundtrack):
    # one cue of alpha cut by an editor: 6 s and 4 s of the track skipped between its three pieces
    pieces = [(4.0, 2.0, 6.0), (10.0, 14.0, 6.0), (16.0, 24.0, 5.0)]  # film start, track offset, seconds
    film = make_film(tmp_path, 26, [(tracks["alpha"], *p) for p in pieces], speech_db=3.0)
    df = stamp_film(film, soundtrack, FAST)
    assert list(df.track) == ["alpha"] * 3, df
    for (_, r), (start, off, dur) in zip(df.iterrows(), pieces):
        assert abs(r.start - start) < 0.25 and abs(r.end - (start + dur)) < 0.25  # boundaries at the cuts
        assert abs(r.track_offset - off) < 0.1


def test_a_group_of_votes_is_read_where_no_found_cue_explains_the_film():
    """`merge_candidates`: one candidate per track and lag (within 0.5 s), its score the strongest vote's raised by
    10 % per other vote; with `free`, its window is the strongest free vote's (an edited cue's piece beside a found
    piece of the same track: the second pass reads it where it shows), the strongest vote's where none is free."""
    from filmscore.cues.match import Candidate, merge_candidates

    votes = [Candidate(0, "mid", 85.2, 5.0, 10.0, 9.9, "fine"),   # window 90.2-95.2 s of film: under a found cue
             Candidate(0, "mid", 85.3, 2.5, 7.5, 8.6, "fine"),    # 87.8-92.8: free
             Candidate(0, "mid", 85.1, 0.0, 5.0, 5.9, "fine"),    # 85.1-90.1: free, weaker
             Candidate(0, "mid", 78.4, 15.0, 20.0, 12.7, "fine"),  # another lag: a group of its own
             Candidate(1, "mid", 85.2, 0.0, 5.0, 4.0, "fine")]    # another track: a group of its own
    free = lambda c: c.t0 + c.lag < 90.0  # noqa: E731 (the found cue starts at film 91.7 s)
    for f, window in ((None, (5.0, 10.0)), (free, (2.5, 7.5))):
        out = merge_candidates(votes, free=f)
        assert [(c.track, c.lag) for c in out] == [(0, 78.4), (0, 85.3 if f else 85.2), (1, 85.2)]
        assert out[1].score == pytest.approx(9.9 * 1.2) and (out[1].t0, out[1].t1) == window
    assert (merge_candidates(votes, free=lambda c: False)[1].t0) == 5.0  # none free: the strongest


def test_phased_seconds_count_film_the_found_cues_leave_unexplained():
    """`_phased`: a cue's seconds less those only its spectra bridged (`heard`), pro rata less the film that cues
    found before explain (their union: overlapping found cues count once)."""
    from filmscore.cues.match import Cue, _phased

    a = Cue(0, 10.0, 20.0, 0.0, 5.0, 10.0, "mid", heard=2.0)
    b = Cue(0, 30.0, 34.0, 0.0, 5.0, 10.0, "mid")
    assert _phased([a, b]) == pytest.approx(8.0 + 4.0)
    found = [(5.0, 12.0), (11.0, 14.0), (33.0, 40.0)]  # a: 10-14 covered (4 of 10 s); b: 33-34 (1 of 4 s)
    assert _phased([a, b], found) == pytest.approx(8.0 * 0.6 + 4.0 * 0.75)
    assert _phased([a], [(0.0, 100.0)]) == 0.0


def test_widened_cues_take_the_spectra_readings_ends_and_count_the_seconds_added_as_heard():
    """`_widened`: each phase cue carried out to the ends of the spectra cues overlapping it, the seconds added
    counted as heard, the evidence (strength x length) unchanged; pieces that then overlap are one cue (evidence
    summed, heard all but the pieces' phased seconds). Hand-computed."""
    from filmscore.cues.match import Cue, _phased, _widened

    q1 = Cue(0, 10.0, 20.0, 0.0, 10.0, 9.0, "mid", pitch_kept=True)
    q2 = Cue(0, 25.0, 30.0, 0.0, 6.0, 9.0, "mid", pitch_kept=True, heard=1.0)
    far = Cue(0, 40.0, 45.0, 0.0, 7.0, 9.0, "mid", spectrum=True)  # overlaps no phase cue: adds nothing
    got = _widened([q2, q1], [Cue(0, 8.0, 21.0, 0.0, 7.0, 9.0, "mid", spectrum=True),
                               Cue(0, 22.0, 31.0, 0.0, 7.0, 9.0, "mid", spectrum=True), far])
    assert [(q.start, q.end, q.heard) for q in got] == [(8.0, 21.0, 3.0), (22.0, 31.0, 5.0)]
    assert [q.strength for q in got] == pytest.approx([10.0 * 10.0 / 13.0, 6.0 * 5.0 / 9.0])
    assert not any(q.spectrum for q in got)
    # one spectra cue across both: 8-27 widens q1 to 8-27 and q2 to 8-30, one cue 8-30 whose phased seconds are
    # q1's 10 and q2's 4
    got = _widened([q1, q2], [Cue(0, 8.0, 27.0, 0.0, 7.0, 9.0, "mid", spectrum=True)])
    assert len(got) == 1
    q = got[0]
    assert (q.start, q.end) == (8.0, 30.0)
    assert q.strength == pytest.approx((10.0 * 10.0 + 6.0 * 5.0) / 22.0)
    assert q.heard == pytest.approx(8.0) and _phased(got) == pytest.approx(14.0)
    assert _widened([q1, q2], []) == [q1, q2]


def test_speed_outside_the_searched_range_finds_nothing(tmp_path, tracks, soundtrack, caplog):
    film = make_film(tmp_path, 20, [(played_at(tracks["alpha"], 24, 25), 3.0, 4.0, 12.0)], speech_db=-6.0)
    with caplog.at_level(logging.INFO):
        df = stamp_film(film, soundtrack, replace(StampSettings(), speeds=(0.99, 1.01)))
    assert df.empty
    assert "0.99" in caplog.text and "1.01" in caplog.text  # the log says which range was searched


def _film_with_a_quiet_middle(tmp: Path, tracks, soundtrack, drop_db: float | None,
                              quiet: tuple[float, float] = (15.0, 23.0)) -> Path:
    """alpha from 5 to 35 s (track offset 2) under speech and broadband noise; over `quiet` (film s) the music
    drops by drop_db (None: it stops there, the track's line going on silent)."""
    n = 45 * SR
    bed = speech(45, 99) + 0.1 * np.random.default_rng(5).standard_normal(n).astype(np.float32)
    film = np.repeat(bed[:, None], 2, axis=1) * db(6.0)
    g = np.ones(30 * SR, np.float32)
    g[int((quiet[0] - 5) * SR):int((quiet[1] - 5) * SR)] = 0.0 if drop_db is None else db(-drop_db)
    film[5 * SR:35 * SR] += tracks["alpha"][2 * SR:32 * SR] * g[:, None]
    return write(tmp / "films" / "film.wav", film.mean(axis=1) * 0.8)


def test_a_cue_whose_music_sinks_under_the_speech_for_a_while_stays_one_cue(tmp_path, tracks, soundtrack, monkeypatch):
    """Music 10 dB quieter for 8 s in the middle of a cue (no 0.5 s window of it passes extent.min_z there) is one
    cue by the gap's evidence (gap_z); where the music stops for those 8 s, two. Without gap_z the quiet middle
    splits the cue (checked, so the test can fail)."""
    import filmscore.cues.match as M

    df = stamp_film(_film_with_a_quiet_middle(tmp_path / "q", tracks, soundtrack, 10.0), soundtrack, FAST)
    assert len(df) == 1 and df.track.iloc[0] == "alpha"
    assert abs(df.start.iloc[0] - 5.0) < 0.5 and abs(df.end.iloc[0] - 35.0) < 0.5
    gone = stamp_film(_film_with_a_quiet_middle(tmp_path / "s", tracks, soundtrack, None), soundtrack, FAST)
    assert len(gone) == 2 and not ((gone.start < 17.0) & (gone.end > 21.0)).any()
    # a long quiet middle (22 s, 12 dB down) between two 4 s passages: one cue, its gap's evidence not diluted
    # into the passages' mean (a form that averaged them together lost the whole cue)
    long = stamp_film(_film_with_a_quiet_middle(tmp_path / "l", tracks, soundtrack, 12.0, (9.0, 31.0)), soundtrack,
                      FAST)
    assert len(long) == 1 and abs(long.start.iloc[0] - 5.0) < 0.5 and abs(long.end.iloc[0] - 35.0) < 0.5
    monkeypatch.setattr(M, "gap_z", lambda zk, k: -np.inf)
    split = stamp_film(_film_with_a_quiet_middle(tmp_path / "n", tracks, soundtrack, 10.0), soundtrack, FAST)
    assert len(split) == 2


def test_gap_z_is_the_gaps_mean_z_at_one_windows_chance_spread():
    """gap_z: mean frame z times sqrt(gap / k); plays_through: it and each half's; hand-computed, and by simulation
    of chance frames smoothed over k and standardised as `Coherence.z` does (its spread stays near 1 at every gap
    length)."""
    from filmscore.cues.match import _smooth, gap_z, plays_through

    assert gap_z(np.full(44, 1.5), 11) == pytest.approx(1.5 * 2.0)
    assert gap_z(np.zeros(0), 11) == -np.inf
    # plays_through: evidence spread through the gap merges (whole 400 / sqrt(4400) = 6.0, halves 4.3); a fade at
    # one end of a silence does not, however large the whole gap's figure (12.1; its silent half 0)
    assert plays_through(np.ones(400), 11, 4.0)
    assert gap_z(np.r_[np.full(200, 4.0), np.zeros(200)], 11) == pytest.approx(800 / np.sqrt(4400))
    assert not plays_through(np.r_[np.full(200, 4.0), np.zeros(200)], 11, 4.0)
    rng = np.random.default_rng(1)
    k = 11
    for n in (4 * k, 16 * k):
        draws = []
        for _ in range(1500):
            sm = _smooth(rng.standard_normal(n + 4 * k), k)[2 * k:-2 * k]
            draws.append(gap_z(sm / np.sqrt(1.0 / k), k))
        assert abs(np.mean(draws)) < 0.1 and 0.85 < np.std(draws) < 1.15


def test_sinc_rendering_at_any_speed_is_exact_and_span_independent():
    from filmscore.cues.prints import TrackAudio

    t = np.arange(40000) / SR
    tone = (np.sin(2 * np.pi * 1234.5 * t) * 0.5 * 32767).astype(np.int16)
    ta = TrackAudio(np.stack([tone, tone], axis=1), ("mid", "side"), SR)
    for speed in (1000 / 1001, 1.0237):
        whole = ta.whole("mid", speed)
        assert len(whole) == ta.length(speed) == math.ceil(40000 / speed)
        j = np.arange(100, len(whole) - 100)  # away from the ends, a tone played at `speed` is a tone at 1234.5 * speed Hz
        np.testing.assert_allclose(whole[j], np.sin(2 * np.pi * 1234.5 * j * speed / SR) * 0.5 * 32767 / 32768, atol=1e-3)
        for a, b in [(0, 50), (1234, 5678), (39000, 41000), (-30, 40)]:
            np.testing.assert_array_equal(ta.span("mid", a, b, speed), np.concatenate(
                [np.zeros(max(0, -a), np.float32), whole[max(0, a):b], np.zeros(max(0, b - len(whole)), np.float32)]))


def test_film_without_soundtrack_music_gives_an_empty_valid_table(tmp_path, tracks, soundtrack):
    film = make_film(tmp_path, 30, [(tracks["gamma"], 5.0, 0.0, 20.0)])
    df = stamp_film(film, soundtrack, FAST)
    assert df.empty and list(df.columns[: len(CUE_COLUMNS)]) == CUE_COLUMNS


def test_track_used_three_times_gives_three_cues_from_the_band_correlation(tmp_path, tracks, soundtrack):
    # the same 10 s of a track at three places, under speech; Chromaprint votes off: each segment of the
    # track must keep a peak for every use, not only its best one or two
    uses = [5.0, 27.0, 49.0]
    film = make_film(tmp_path, 70, [(tracks["alpha"], t, 6.0, 10.0) for t in uses], speech_db=6.0)
    s = replace(FAST, hash=replace(FAST.hash, enabled=False))
    df = stamp_film(film, soundtrack, s)
    assert list(df.track) == ["alpha"] * 3, df
    for (_, r), t in zip(df.iterrows(), uses):
        assert abs(r.start - t) < 0.5 and abs(r.end - (t + 10)) < 0.5 and abs(r.track_offset - 6.0) < 0.5


def test_track_audio_spans_equal_the_whole_track_resampled():
    from scipy.signal import resample_poly

    from filmscore.cues.prints import TrackAudio

    rng = np.random.default_rng(3)
    data = (rng.standard_normal((30000, 2)) * 3000).astype(np.int16)
    ta = TrackAudio(data, ("mid", "side"), SR)
    whole = resample_poly(data[:, 1].astype(np.float64) / 32768, 24, 25)  # 25/24: 24 samples out per 25 in
    assert ta.length(25 / 24) == len(whole) == 28800
    for a, b in [(0, 50), (1234, 5678), (20000, 28800), (28700, 29000), (-30, 40)]:
        got = ta.span("side", a, b, 25 / 24)
        ref = np.zeros(b - a)
        lo, hi = max(a, 0), min(b, len(whole))
        ref[lo - a:hi - a] = whole[lo:hi]
        np.testing.assert_allclose(got, ref, atol=2e-6)
    np.testing.assert_array_equal(ta.span("mid", 10, 20), data[10:20, 0] / 32768)
    assert not ta.span("mid", 40000, 40010).any() and not ta.span("nope", 0, 10).any()


@pytest.mark.parametrize("drift", [False, True], ids=["coherence", "drift-following"])
def test_coherence_computed_in_pieces_equals_all_at_once(tmp_path, tracks, soundtrack, drift):
    from filmscore.cues.match import Coherence, DriftCoherence
    from filmscore.cues.prints import FilmAudio
    from filmscore.cues.stamp import TrackSet

    film = make_film(tmp_path, 30, [(tracks["alpha"], 4.0, 2.0, 20.0)], speech_db=3.0)
    ts = TrackSet([soundtrack / "alpha.wav"], FAST, PrintCache(None))
    with FilmAudio(film, FAST.bands) as fa:
        tr = ts.tracks[0]
        args = (fa, tr, "mid", int(2.0 * SR), 1024, SR, 100.0, 5000.0, (11, -17))
        make = (lambda: DriftCoherence(*args, track=2.0)) if drift else (lambda: Coherence(*args))
        whole, parts = make(), make()
        whole.extend(0, whole.n)
        parts.extend(200, 260)
        parts.extend(150, 400)
        parts.extend(0, parts.n)
        assert (parts.lo, parts.hi) == (0, whole.n) and whole.n > 500
        np.testing.assert_allclose(parts.coh, whole.coh, atol=1e-6)
        for a, b, oa, ob in zip(parts.nulls, whole.nulls, parts.null_ok, whole.null_ok):
            np.testing.assert_array_equal(oa, ob)
            np.testing.assert_allclose(a, b, atol=1e-6)
        # the track plays at this lag over film 4..24 s: coherence high there, at chance outside
        t = (np.arange(whole.n) * 512 + 512 + int(2.0 * SR)) / SR
        coh = whole.at_best(11) if drift else whole.coh
        assert coh[(t > 6) & (t < 22)].mean() > 0.3 > 0.05 > abs(whole.coh[t > 26].mean())
        if drift:  # at the lag exactly: the best offset is 0 where the track plays (the film is mixed sample-exact)
            assert np.abs(whole.offset(11)[(t > 6) & (t < 22)]).max() < 0.1
    ts.release()


def test_int16_decoding_matches_float(tmp_path, tracks):
    from filmscore.media import decode_audio, stream_audio

    path = write(tmp_path / "x.wav", tracks["beta"][: 3 * SR])
    f = decode_audio(path, SR, channels=2)
    i = decode_audio(path, SR, channels=2, dtype="int16")
    assert i.dtype == np.int16 and i.shape == f.shape
    assert np.abs(i.astype(np.float64) - f * 32768).max() <= 1.0
    blocks = list(stream_audio(path, SR, channels=1, block_seconds=1.0, dtype="int16"))
    assert [b.dtype for b in blocks] == [np.int16] * 3 and sum(len(b) for b in blocks) == 3 * SR
    with pytest.raises(ValueError):
        decode_audio(path, SR, dtype="float16")


def test_chromaprint_item_hop_holds_over_an_hour():
    """An excerpt taken 3000 s into a recording matches its items at round(3000 s / hop), not a few items off."""
    from filmscore.cues.prints import CHROMAPRINT_HOP, raw_fingerprint

    rng = np.random.default_rng(5)
    t0 = 3000.0
    x = np.repeat(rng.standard_normal(int((t0 + 40) * SR) // 64 + 1).astype(np.float32), 64)  # steppy noise
    x = x[: int((t0 + 40) * SR)] * 0.2
    whole = raw_fingerprint(x, SR)
    part = raw_fingerprint(x[int(t0 * SR):], SR)[:200]
    ber = {k: np.unpackbits((whole[k:k + 200] ^ part).view(np.uint8)).mean() for k in range(24200, 24260)}
    best = min(ber, key=ber.get)
    assert ber[best] < 0.15  # the same audio (frames 7 samples apart)
    assert best == round(t0 / CHROMAPRINT_HOP) == round(t0 * SR / 1365)


def test_surround_film_is_matched_on_its_channels_where_the_stereo_downmix_fails(tmp_path, tracks):
    # a mono track, played in the front left and right of a 5.1 film whose centre carries dialogue 30 dB louder:
    # ffmpeg's stereo downmix folds the centre into both sides (no side signal to fall back on), the front pair does not
    solo = tracks["alpha"].mean(axis=1)
    st = tmp_path / "soundtracks" / "film"
    write(st / "solo.wav", solo)
    n = 24 * SR
    x = np.zeros((n, 6), np.float32)  # FL FR FC LFE BL BR
    x[:, 2] = speech(24, 7) * db(30.0)
    a, m = 6 * SR, 12 * SR
    x[a:a + m, 0] += solo[3 * SR:3 * SR + m]
    x[a:a + m, 1] += solo[3 * SR:3 * SR + m]
    x *= 0.9 / np.abs(x).max()
    wav = write(tmp_path / "raw51.wav", x)
    film = tmp_path / "films" / "film.mka"
    film.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg("-i", str(wav), "-af", "aformat=channel_layouts=5.1", "-c:a", "flac", str(film))
    down = tmp_path / "films" / "downmix.wav"
    _ffmpeg("-i", str(film), "-ac", "2", str(down))
    df = stamp_film(film, st, FAST)
    assert list(df.track) == ["solo"], df
    assert abs(df.start.iloc[0] - 6.0) < 0.25 and abs(df.end.iloc[0] - 18.0) < 0.25
    assert abs(df.track_offset.iloc[0] - 3.0) < 0.1
    # the same film folded to stereo: the music is lost under the dialogue for the band-frame and Chromaprint
    # candidates; the fine-frame search of mid (cues.fine, for quiet music) sees it between this synthetic voice's
    # harmonics, at its place
    assert stamp_film(down, st, replace(FAST, fine=replace(FAST.fine, enabled=False))).empty
    df = stamp_film(down, st, FAST)
    assert list(df.track) == ["solo"] and abs(df.start.iloc[0] - 6.0) < 0.25 and abs(df.end.iloc[0] - 18.0) < 0.25


def test_audio_stream_by_index_or_language_and_an_absent_one_is_a_named_error(tmp_path, tracks, soundtrack):
    from filmscore.corpus import check_media

    eng = make_film(tmp_path, 20, [], name="eng")  # dialogue only
    fra = make_film(tmp_path, 20, [(tracks["alpha"], 4.0, 2.0, 12.0)], name="fra")  # dialogue and a cue
    film = tmp_path / "films" / "two.mka"
    _ffmpeg("-i", str(eng), "-i", str(fra), "-map", "0:a", "-map", "1:a", "-metadata:s:a:0", "language=eng",
            "-metadata:s:a:1", "language=fra", "-c:a", "flac", str(film))
    assert stamp_film(film, soundtrack, FAST).empty  # default: the first stream
    for stream in (1, "fra", "fr", "fre"):
        df = stamp_film(film, soundtrack, FAST, audio_stream=stream)
        assert list(df.track) == ["alpha"] and abs(df.start.iloc[0] - 4.0) < 0.25, stream
    for stream in (2, "deu"):
        with pytest.raises(MediaError, match=r"two\.mka.*0 \[eng\].*1 \[fra\]"):
            stamp_film(film, soundtrack, FAST, audio_stream=stream)
    row, probs = check_media(film, audio_stream="de")
    assert row is None and "two.mka" in probs[0].where and "[fra]" in probs[0].what
    row, probs = check_media(film, audio_stream="fra")
    assert not probs and row["channels"] == 2


def test_cues_lie_on_the_films_timeline_where_its_audio_starts_after_its_picture(tmp_path, tracks, soundtrack):
    """An mkv whose audio starts 1.5 s after its video (ffmpeg's -itsoffset; a DVD's audio delay): the cue is
    reported at the film's time, its film time in the wav plus 1.5 s, as a player shows it beside the picture."""
    wav = make_film(tmp_path, 30, [(tracks["alpha"], 6.0, 4.0, 15.0)], speech_db=3.0)
    film = tmp_path / "films" / "late.mkv"
    _ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x36:r=24", "-itsoffset", "1.5", "-i", str(wav), "-t", "32",
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "flac", str(film))
    df = stamp_film(film, soundtrack, FAST)
    assert list(df.track) == ["alpha"]
    assert abs(df.start.iloc[0] - 7.5) < 0.25 and abs(df.end.iloc[0] - 22.5) < 0.25
    assert abs(df.track_offset.iloc[0] - 4.0) < 0.1


def test_soundtrack_folders_of_discs_and_files_of_one_name_give_tracks_named_apart(tmp_path, tracks):
    from filmscore.corpus import track_names
    from filmscore.cues.stamp import soundtrack_files

    d = tmp_path / "soundtracks" / "film"
    write(d / "CD1" / "01.wav", tracks["alpha"])
    (d / "CD2").mkdir(parents=True)
    _ffmpeg("-i", str(write(tmp_path / "b.wav", tracks["beta"])), "-c:a", "wavpack", str(d / "CD2" / "01.wv"))
    write(d / "gamma.wav", tracks["gamma"])
    sf.write(d / "gamma.flac", tracks["gamma"], SR)
    (d / "cover.jpg").write_bytes(b"\xff\xd8")
    (d / ".hidden").mkdir()
    write(d / ".hidden" / "x.wav", tracks["gamma"])
    files = soundtrack_files(d, "film")
    assert [str(p.relative_to(d)) for p in files] == ["CD1/01.wav", "CD2/01.wv", "gamma.flac", "gamma.wav"]
    assert track_names(files) == ["CD1/01", "CD2/01", "gamma.flac", "gamma.wav"]
    assert track_names([d / "CD1" / "01.wav", d / "x.wav"]) == ["01", "x"]
    film = make_film(tmp_path, 40, [(tracks["beta"], 5.0, 3.0, 14.0)], speech_db=3.0)
    df = stamp_film(film, d, FAST)
    assert list(df.track) == ["CD2/01"] and abs(df.start.iloc[0] - 5.0) < 0.25
    one = stamp_film(film, d / "CD2" / "01.wv", FAST)  # one track file as the soundtrack
    assert list(one.track) == ["01"] and abs(one.start.iloc[0] - 5.0) < 0.25
    with pytest.raises(FilmscoreError, match="holds no audio files.*cover.jpg"):
        soundtrack_files(_only(tmp_path / "junk", "cover.jpg"), "film")


def _only(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True)
    (folder / name).write_bytes(b"\xff\xd8")
    return folder


# ---------------------------------------------------------------- the paper's windows


def test_window_hits_merge_as_the_paper_describes():
    hits = [WindowHit(2, 0, 1.0, 9), WindowHit(4, 0, 1.0, 7),   # two nearby windows, one empty between: 15 s
            WindowHit(7, 0, 1.0, 5),                             # two empty windows later: a new cue
            WindowHit(8, 1, 3.0, 6)]                             # another track: a new cue
    cues = merge_hits(hits, 5.0, max_gap=1, film_duration=100.0)
    assert [(c["track"], c["start"], c["end"]) for c in cues] == [(0, 10.0, 25.0), (0, 35.0, 40.0), (1, 40.0, 45.0)]
    assert cues[0]["end"] - cues[0]["start"] == 15.0
    assert [(c["start"], c["end"]) for c in merge_hits(hits[:2], 5.0, max_gap=0, film_duration=100.0)] == [(10, 15), (20, 25)]


def test_windows_mode_finds_a_clear_cue_on_the_5s_grid(tmp_path, tracks, soundtrack):
    film = make_film(tmp_path, 40, [(tracks["alpha"], 10.0, 0.0, 20.0)], speech_db=-20.0)
    df = stamp_film(film, soundtrack, replace(FAST, mode="windows"))
    assert len(df) >= 1 and set(df.track) == {"alpha"}
    assert all(s % 5 == 0 for s in df.start) and df.start.min() >= 5 and df.end.max() <= 35
    assert df.end.max() - df.start.min() >= 10


# ---------------------------------------------------------------- bad input, cache, CLI


def test_bad_input(tmp_path, tracks, soundtrack, caplog):
    film = make_film(tmp_path, 30, [(tracks["alpha"], 5.0, 0.0, 10.0)])
    with pytest.raises(FilmscoreError, match="film"):
        stamp_film(film, tmp_path / "soundtracks" / "nope", FAST, film_id="nope")
    write(soundtrack / "sting.wav", tracks["beta"][: int(1.5 * SR)])
    write(soundtrack / "silence.wav", np.zeros((5 * SR, 2), np.float32))
    with caplog.at_level(logging.WARNING):
        df = stamp_film(film, soundtrack, FAST)
    assert "sting.wav" in caplog.text and "silence.wav" in caplog.text
    assert list(df.track) == ["alpha"]
    (soundtrack / "broken.mp3").write_bytes(b"\xff\xfb\x90\x00" + b"garbage" * 50)
    with pytest.raises(MediaError, match="broken.mp3"):
        stamp_film(film, soundtrack, FAST)
    (soundtrack / "broken.mp3").unlink()
    (soundtrack / "empty.flac").write_bytes(b"")  # a copy that failed
    with pytest.raises(MediaError, match=r"empty\.flac: is empty \(0 bytes\)"):
        stamp_film(film, soundtrack, FAST)
    (soundtrack / "empty.flac").unlink()
    noise = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    (soundtrack / "noise.flac").write_bytes(noise)  # bytes that are not audio under an audio name
    with pytest.raises(MediaError, match=r"noise\.flac: not a readable media file \(its flac stream has no sample"):
        stamp_film(film, soundtrack, FAST)
    (soundtrack / "noise.flac").unlink()
    bad_film = tmp_path / "films" / "bad.mp4"
    bad_film.write_bytes(b"not a film")
    with pytest.raises(MediaError, match="bad.mp4"):
        stamp_film(bad_film, soundtrack, FAST)


def test_cache_by_content(tmp_path, tracks, soundtrack):
    film = make_film(tmp_path, 30, [(tracks["alpha"], 5.0, 0.0, 10.0)])
    cache = PrintCache(tmp_path / "cache")
    a = stamp_film(film, soundtrack, FAST, cache=cache)
    assert len(list((tmp_path / "cache" / "tracks").rglob("*.npz"))) == 2
    assert len(list((tmp_path / "cache" / "films").rglob("*.parquet"))) == 1
    moved = tmp_path / "elsewhere" / "renamed.wav"  # same content, new name: served from the cache
    moved.parent.mkdir()
    moved.write_bytes(film.read_bytes())
    b = stamp_film(moved, soundtrack, FAST, cache=cache, film_id="film")
    pd.testing.assert_frame_equal(a, b)
    assert len(list((tmp_path / "cache" / "films").rglob("*.parquet"))) == 1


def test_track_prints_are_keyed_on_the_print_settings_only(tmp_path, tracks, soundtrack):
    """Tuning the matcher (candidates, verification, extent, track filter) reuses every printed track; a setting
    that changes the prints (the band frames) prints again, and still reuses the PCM; the cue table is keyed on
    everything."""
    film = make_film(tmp_path, 30, [(tracks["alpha"], 5.0, 0.0, 10.0)])
    root = tmp_path / "cache"
    write(soundtrack / "sting.wav", tracks["gamma"][: int(2.0 * SR)])  # 2 s: skipped at min_track_seconds 3
    entries = lambda ext: {p: p.stat().st_mtime_ns for p in (root / "tracks").rglob(f"*.{ext}")}  # noqa: E731
    films = lambda: len(list((root / "films").rglob("*.parquet")))  # noqa: E731
    a = stamp_film(film, soundtrack, FAST, cache=PrintCache(root))
    npz, npy = entries("npz"), entries("npy")
    assert len(npz) == 3 and len(npy) == 2 and films() == 1  # sting: a skip marker, no PCM
    tuned = replace(FAST, verify=replace(FAST.verify, min_z=8.5), xcorr=replace(FAST.xcorr, min_z=4.5),
                    extent=replace(FAST.extent, min_z=3.5), fine=replace(FAST.fine, min_z=6.5))
    b = stamp_film(film, soundtrack, tuned, cache=PrintCache(root))
    assert entries("npz") == npz and entries("npy") == npy  # nothing printed or decoded again
    assert films() == 2  # but the cues are computed again
    assert list(b.track) == list(a.track) == ["alpha"]
    # the skip verdict is taken again under the run's cues.min_track_seconds: the 2 s track is now printed
    stamp_film(film, soundtrack, replace(FAST, min_track_seconds=1.0), cache=PrintCache(root))
    now = entries("npz")
    assert len(now) == 3 and sum(now[p] != npz[p] for p in npz) == 1 and len(entries("npy")) == 3
    npy = entries("npy")
    stamp_film(film, soundtrack, replace(FAST, bands=replace(FAST.bands, n_bands=20)), cache=PrintCache(root))
    assert len(entries("npz")) == 6 and entries("npy") == npy  # new prints beside the old; the PCM reused


def test_cached_track_audio_gives_identical_cues(tmp_path, tracks, soundtrack, caplog):
    from filmscore.cues.prints import load_track_audio
    from scipy.signal import resample

    fast = resample(tracks["beta"], int(len(tracks["beta"]) * 24 / 25), axis=0).astype(np.float32)
    film = make_film(tmp_path, 45, [(tracks["alpha"], 3.0, 4.0, 12.0), (fast, 24.0, 9.6, 14.0)], speech_db=3.0)
    s = replace(StampSettings(), speeds=(1.0, 25 / 24))
    fresh = stamp_film(film, soundtrack, s)  # no cache: tracks decoded into a temporary folder
    assert list(fresh.track) == ["alpha", "beta"] and fresh.speed.iloc[1] == pytest.approx(25 / 24, rel=5e-4)
    root = tmp_path / "cache"
    filled = stamp_film(film, soundtrack, s, cache=PrintCache(root))  # decodes and caches the PCM
    pcm = sorted(root.rglob("*.npy"))
    assert len(pcm) == 2
    want = load_track_audio(soundtrack / "alpha.wav", SR).data
    got = np.load([p for p in pcm if np.load(p, mmap_mode="r").shape == want.shape][0])
    np.testing.assert_array_equal(got, want)
    shutil.rmtree(root / "films")
    cached = stamp_film(film, soundtrack, s, cache=PrintCache(root))  # reads prints and PCM from the cache
    shutil.rmtree(root / "films")
    no_audio = stamp_film(film, soundtrack, s, cache=PrintCache(root, audio=False))
    for df in (filled, cached, no_audio):
        pd.testing.assert_frame_equal(df, fresh)
    # a torn PCM entry is recomputed, not trusted
    shutil.rmtree(root / "films")
    with open(pcm[0], "r+b") as fh:
        fh.truncate(1000)
    with caplog.at_level(logging.WARNING):
        again = stamp_film(film, soundtrack, s, cache=PrintCache(root))
    assert "unreadable cache entry" in caplog.text
    pd.testing.assert_frame_equal(again, fresh)


def test_cue_cache_keys_follow_the_code_that_computes_them(tmp_path):
    """Editing any module of the matcher's import closure (on a copy of the sources) changes the keys."""
    from filmscore.cues.cache import CUES_CODE, PRINTS_CODE, code_version

    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    shutil.copytree(root / "src" / "filmscore", src / "filmscore", ignore=shutil.ignore_patterns("__pycache__"))
    roots = (src,)
    before = {k: code_version(m, roots) for k, m in (("cues", CUES_CODE), ("prints", PRINTS_CODE))}
    assert before == {k: code_version(m, roots) for k, m in (("cues", CUES_CODE), ("prints", PRINTS_CODE))}

    def edited(rel):
        f = src / "filmscore" / rel
        text = f.read_text()
        f.write_text(text + "\nA_CONSTANT = 2\n")
        try:
            return {k: code_version(m, roots) for k, m in (("cues", CUES_CODE), ("prints", PRINTS_CODE))}
        finally:
            f.write_text(text)

    after = edited("cues/match.py")  # the matcher: a film's cues, not the prints
    assert after["cues"] != before["cues"] and after["prints"] == before["prints"]
    after = edited("cues/prints.py")  # prints and everything built on them
    assert after["cues"] != before["cues"] and after["prints"] != before["prints"]
    after = edited("media.py")  # the decoder, reached through prints
    assert after["cues"] != before["cues"] and after["prints"] != before["prints"]
    after = edited("mil/pools.py")  # not imported by the matcher
    assert after == before


def test_runtime_keys_leave_the_cue_cache_and_results_alone(tmp_path, tracks, soundtrack, monkeypatch):
    from filmscore.config import load_params
    from filmscore.cues import cache as cache_mod
    from filmscore.cues import stamp as stamp_mod

    section = load_params(Path(__file__).resolve().parents[1] / "params.yaml", sections=["cues"])["cues"]
    base = StampSettings.from_params(section)
    for key, value in (("jobs", 7), ("cache", "elsewhere"), ("cache_track_audio", False), ("eval", {"iou": 0.9})):
        assert StampSettings.from_params({**section, key: value}).digest() == base.digest(), key
    assert StampSettings.from_params({**section, "use_side": not section["use_side"]}).digest() != base.digest()
    # an entry written by another version of the matcher is never read: recomputed beside it
    film = make_film(tmp_path, 30, [(tracks["alpha"], 5.0, 0.0, 10.0)])
    root = tmp_path / "cache"
    a = stamp_film(film, soundtrack, FAST, cache=PrintCache(root))
    films = lambda: sorted((root / "films").rglob("*.parquet"))  # noqa: E731
    assert len(films()) == 1
    stale = films()[0]
    pd.DataFrame({"film_id": ["film"], "track": ["beta"], "start": [0.0], "end": [1.0]}).to_parquet(stale)
    real = cache_mod.current_code_version
    monkeypatch.setattr(stamp_mod, "current_code_version", lambda m: real(m) + "-edited")
    b = stamp_film(film, soundtrack, FAST, cache=PrintCache(root))
    pd.testing.assert_frame_equal(a, b)
    assert len(films()) == 2


def test_chromaprint_binding_matches_pyacoustid_and_patches_nothing():
    import ctypes

    chromaprint = pytest.importorskip("chromaprint")  # pyacoustid: the reference
    from filmscore.cues import libchromaprint
    from filmscore.cues.prints import raw_fingerprint

    theirs = chromaprint._libchromaprint
    before = getattr(theirs.chromaprint_get_raw_fingerprint, "argtypes", None)
    x = (music(20.0, 3)[:, 0] * 32767).astype(np.int16)
    ours = raw_fingerprint(x, SR)
    fp = chromaprint.Fingerprinter()
    fp.start(SR, 1)
    fp.feed(x.tobytes())
    ref, algorithm = chromaprint.decode_fingerprint(fp.finish())
    assert algorithm == libchromaprint.ALGORITHM_TEST2
    assert len(ours) > 100 and ours.tolist() == [v & 0xFFFFFFFF for v in ref]
    assert getattr(theirs.chromaprint_get_raw_fingerprint, "argtypes", None) == before
    assert not hasattr(theirs, "_filmscore_raw")
    assert isinstance(libchromaprint.library(), ctypes.CDLL) and libchromaprint.version()[0].isdigit()


def _cli(argv):
    from filmscore.cues import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_writes_the_cue_table(tmp_path, tracks, soundtrack):
    film = make_film(tmp_path, 30, [(tracks["beta"], 6.0, 1.0, 12.0)])
    out = tmp_path / "cues.csv"
    assert _cli(["stamp", str(film), str(soundtrack), "-o", str(out), "--speeds", "1"]) == 0
    df = pd.read_csv(out)
    assert list(df.columns[: len(CUE_COLUMNS)]) == CUE_COLUMNS
    assert list(df.track) == ["beta"] and df.cue_id.iloc[0] == "film:0000"
    quiet = make_film(tmp_path, 20, [], name="quiet")
    outp = tmp_path / "none.parquet"
    assert _cli(["stamp", str(quiet), str(soundtrack), "-o", str(outp), "--speeds", "1"]) == 0
    empty = pd.read_parquet(outp)
    assert empty.empty and list(empty.columns[: len(CUE_COLUMNS)]) == CUE_COLUMNS


def test_cli_refuses_bad_speeds_and_an_output_it_cannot_write_before_it_matches(tmp_path, soundtrack, monkeypatch):
    import filmscore.cues.cli as cli_mod

    monkeypatch.setattr(cli_mod, "stamp_film", lambda *a, **k: pytest.fail("matched before the arguments were checked"))
    film = make_film(tmp_path, 5, [])
    out = str(tmp_path / "cues.csv")
    with pytest.raises(FilmscoreError, match="--speeds.*'abc' is not a list of numbers"):
        _cli(["stamp", str(film), str(soundtrack), "-o", out, "--speeds", "abc"])
    for bad in ("0", "-1,2", "0.9,2.5"):
        with pytest.raises(FilmscoreError, match=r"cues\.speeds.*from 0\.5 to 2\.0"):
            _cli(["stamp", str(film), str(soundtrack), "-o", out, f"--speeds={bad}"])
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(FilmscoreError, match="dir.csv: is a folder"):
        _cli(["stamp", str(film), str(soundtrack), "-o", str(tmp_path / "dir.csv")])
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "old.csv").write_text("kept")
    os.chmod(tmp_path / "ro", 0o555)
    try:
        if not os.access(tmp_path / "ro", os.W_OK):  # root writes anywhere: nothing to refuse
            with pytest.raises(FilmscoreError, match="cannot be written"):
                _cli(["stamp", str(film), str(soundtrack), "-o", str(tmp_path / "ro" / "new" / "cues.csv")])
    finally:
        os.chmod(tmp_path / "ro", 0o755)
    with pytest.raises(FilmscoreError, match="cannot be written"):
        _cli(["stamp", str(film), str(soundtrack), "-o", str(tmp_path / "ro" / "old.csv" / "cues.csv")])
    assert (tmp_path / "ro" / "old.csv").read_text() == "kept" and not list((tmp_path / "ro").glob(".*probe"))
    with pytest.raises(ParamsError, match="cues.speeds"):
        replace(StampSettings(), speeds=(0.0, 0.0))


def test_a_dvd_style_program_stream_decodes_whole_and_from_a_seek(tmp_path, tracks):
    """MPEG-2 program stream with AC3 audio (a DVD's VOB): ffmpeg's raw output complains of the timestamps, and a
    seek lands inside an AC3 frame; neither is corruption. The seek reads the samples of the whole decode."""
    from filmscore.media import decode_audio

    wav = write(tmp_path / "m.wav", tracks["alpha"][: 20 * SR])
    mpg = tmp_path / "dvd.mpg"
    _ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x36:r=25", "-i", str(wav), "-shortest", "-map", "0:v", "-map",
            "1:a", "-c:v", "mpeg2video", "-c:a", "ac3", "-ar", "48000", "-b:a", "384k", str(mpg))
    whole = decode_audio(mpg, SR)
    assert abs(len(whole) / SR - 20) < 0.1
    for start in (2.5, 7.3, 12.0):
        part = decode_audio(mpg, SR, start=start, duration=3.0)
        i, skip = int(round(start * SR)), int(0.1 * SR)  # past the first frame's decoder warm-up
        assert len(part) == 3 * SR
        # the same signal up to the resampler's phase (48 kHz to SR restarted at the seek: a fraction of a sample),
        # compared below SR / 16, where a sample's shift is a small phase
        lp = np.hanning(16) / np.hanning(16).sum()
        a = np.convolve(part[skip:-8], lp, "valid")
        r = [np.corrcoef(a, np.convolve(whole[i + skip + d:i + skip + d + len(a) + 15], lp, "valid"))[0, 1]
             for d in range(-2, 3)]
        assert max(r) > 0.99, (start, r)
    trunc = tmp_path / "cut.mpg"
    trunc.write_bytes(mpg.read_bytes()[: mpg.stat().st_size // 2] + bytes(range(256)) * 64)
    with pytest.raises(MediaError, match="cut.mpg"):
        decode_audio(trunc, SR)


# ---------------------------------------------------------------- evaluation


def test_a_films_scores_are_the_same_bits_whatever_the_processs_string_hashes():
    """`film_scores` sums its tracks' seconds in track order: 24 tracks of awkward lengths scored in processes with
    ten PYTHONHASHSEEDs give the bits of the sums taken in sorted order here (a set's order, which follows the
    hashes, gave the demo's per-film SD a different last digit from run to run; here, three different sums)."""
    import subprocess
    import sys

    names = [f"track_{i:02d}" for i in range(24)]
    rows = [(n, 10.0 * i, 10.0 * i + 1 / (3 + i) + i / 7) for i, n in enumerate(names)]
    want = 0.0
    for _, a, b in sorted(rows):
        want += b - a
    code = (
        "import pandas as pd\n"
        "from filmscore.cues.evaluate import film_scores\n"
        f"f = pd.DataFrame({rows!r}, columns=['track', 'start', 'end'])\n"
        "c = film_scores(f, f)\n"
        "print(repr((c['tp_seconds'], c['found_seconds'], c['true_seconds'])))\n")
    got = set()
    for seed in range(10):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        got.add(out.stdout.strip())
    assert got == {repr((want, want, want))}, got


def test_evaluation_against_hand_computed_values():
    truth = pd.DataFrame({"track": ["a", "a", "b"], "start": [0.0, 50.0, 20.0], "end": [10.0, 60.0, 30.0],
                          "track_offset": [0.0, 5.0, 0.0]})
    found = pd.DataFrame({"film_id": "f", "track": ["a", "b", "b", "c"], "start": [1.0, 22.0, 40.0, 70.0],
                          "end": [10.5, 30.0, 44.0, 72.0], "track_offset": [1.5, 2.0, 0.0, 0.0]})
    c = film_scores(found, truth)
    # time: a: found [1,10.5] vs true [0,10]+[50,60] -> 9 s; b: [22,30]+[40,44] vs [20,30] -> 8 s; c: 0
    assert c["tp_seconds"] == pytest.approx(17.0)
    assert c["found_seconds"] == pytest.approx(9.5 + 8 + 4 + 2)
    assert c["true_seconds"] == pytest.approx(30.0)
    # cues: a (IoU 9/10.5) and b (IoU 8/10) pair; boundary errors 1, 0.5, 2, 0
    assert c["n_pairs"] == 2
    assert sorted(c["boundary_errors"]) == pytest.approx([0.0, 0.5, 1.0, 2.0])
    # offsets at the later start: a at 1 s: found 1.5, truth 0 + 1 = 1 -> 0.5; b at 22 s: 2.0 and 0 + 2 -> 0
    assert sorted(c["offset_errors"]) == pytest.approx([0.0, 0.5])
    # a speed moves the truth's position: b at 1.1 times -> 2.2 at 22 s -> 0.2
    c2 = film_scores(found, truth.assign(speed=[1.0, 1.0, 1.1]))
    assert sorted(c2["offset_errors"]) == pytest.approx([0.2, 0.5])
    per, ov = evaluate(found, {"f": truth})
    assert ov["time_precision"] == pytest.approx(17 / 23.5)
    assert ov["time_recall"] == pytest.approx(17 / 30)
    p, r = 17 / 23.5, 17 / 30
    assert ov["time_f1"] == pytest.approx(2 * p * r / (p + r))
    assert ov["cue_precision"] == pytest.approx(2 / 4) and ov["cue_recall"] == pytest.approx(2 / 3)
    assert ov["median_boundary_error"] == pytest.approx(0.75)
    assert ov["offset_wrong"] == 0.0  # 0.5 s is not beyond OFFSET_WRONG_SECONDS
    # b matched at a repeat 10 s on in its track: one pair of two names the wrong part of it
    _, ov3 = evaluate(found.assign(track_offset=[1.5, 12.0, 0.0, 0.0]), {"f": truth})
    assert ov3["offset_wrong"] == pytest.approx(0.5) and ov3["median_offset_error"] == pytest.approx(5.25)
    # a film with truth and no cues found: recall 0, precision undefined
    per2, ov2 = evaluate(found.iloc[0:0], {"f": truth})
    assert ov2["time_recall"] == 0.0 and math.isnan(ov2["time_precision"])
