"""Quiet music under continuous dialogue (issue 13, deliverable 4), on real material made at run time.

Real game music (Debian flare-game) 10 dB under continuous espeak-ng speech
(Debian espeak-ng), folded to mono and low-passed at 4 kHz, as a heavily
dialogued mono film transfer: the cue must be found with its boundaries
within 0.25 s, and a film of the same dialogue without music gives no cue.
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
    "Keep your voice down, they can hear everything we say in here.",
    "The ship leaves at dawn, with or without you, and nobody will wait.",
    "Do you remember the summer we spent by the lake, before the war?",
    "We have three minutes before the doors seal for good, so listen.",
    "It was never about the money, it was always about the family.",
    "Captain, the engines will not hold much longer at this speed.",
    "There is something in the water, I saw it move under the dock.",
    "Give me the map and nobody gets hurt, I am not asking twice.",
]


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    """(music tracks, speech clips) from Debian packages, fetched once into .bench/ (git ignores it)."""
    from bench.material import music_and_speech

    try:
        return music_and_speech(SENTENCES, tmp_path_factory.mktemp("speech"), [("en", 40, 165), ("en+f3", 60, 175), ("en-us", 30, 155), ("en+m3", 45, 170)], SR)
    except (subprocess.CalledProcessError, OSError) as e:
        pytest.skip(f"Debian packages could not be fetched with apt-get download: {e}")


def continuous_dialogue(speech: list[np.ndarray], seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Sentences one after another, 0.05-0.3 s apart, every sentence at the same RMS."""
    n = int(seconds * SR)
    out = np.zeros(n, np.float32)
    t = int(0.2 * SR)
    while t < n:
        s = speech[rng.integers(len(speech))]
        s = s / (np.sqrt(np.mean(s ** 2)) + 1e-9) * 0.1
        m = min(len(s), n - t)
        out[t:t + m] += s[:m]
        t += m + int(rng.uniform(0.05, 0.3) * SR)
    return out


def lowpass(x: np.ndarray, hz: float) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(8, hz, fs=SR, output="sos"), x, axis=0).astype(np.float32)


def encode(x: np.ndarray, out: Path) -> Path:
    wav = out.with_suffix(".wav")
    sf.write(wav, x, SR)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "128k", str(out)],
                   check=True)
    wav.unlink()
    return out


def soundtrack(music: list[Path], root: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A soundtrack folder of the first three tracks under `root`, and their samples (stereo) by name."""
    st = root / "soundtracks" / "film"
    st.mkdir(parents=True)
    tracks = {}
    for p in music[:3]:
        (st / p.name).write_bytes(p.read_bytes())
        tracks[p.stem] = decode_audio(p, SR, channels=2)
    return st, tracks


def add_cue(mix: np.ndarray, seg: np.ndarray, start: float, db: float, talk: np.ndarray) -> None:
    """Lay `seg` (faded in and out over 0.3 s) into `mix` from `start` s, its RMS `db` dB re the speech's."""
    seg = seg.copy()
    fade = int(0.3 * SR)
    ramp = np.linspace(0, 1, fade, dtype=np.float32).reshape((fade,) + (1,) * (seg.ndim - 1))
    seg[:fade] *= ramp
    seg[-fade:] *= ramp[::-1]
    speech_rms = float(np.sqrt(np.mean(talk[talk != 0] ** 2)))
    mix[int(start * SR):int(start * SR) + len(seg)] += seg * (speech_rms * 10 ** (db / 20) / float(
        np.sqrt(np.mean(seg ** 2))))


@pytest.fixture(scope="module")
def films(material, tmp_path_factory):
    """A 40 s mono film: a 10 s cue of a real track 10 dB under continuous speech, low-passed at 4 kHz; and the same
    dialogue without the music. Returns (cue film, dialogue film, soundtrack folder, truth)."""
    music, speech = material
    root = tmp_path_factory.mktemp("quiet")
    st, tracks = soundtrack(music, root)
    rng = np.random.default_rng(3)
    talk = continuous_dialogue(speech, 40.0, rng)
    name = sorted(tracks)[1]
    src = tracks[name].mean(axis=1)
    start, offset, dur = 14.0, 30.0, 10.0
    mix = talk.copy()
    add_cue(mix, src[int(offset * SR):int((offset + dur) * SR)], start, -10.0, talk)  # 10 dB under the speech
    films = root / "films"
    films.mkdir()
    cue = encode(lowpass(mix, 4000.0) * 0.8, films / "quiet.m4a")
    dry = encode(lowpass(talk, 4000.0) * 0.8, films / "dialogue.m4a")
    return cue, dry, st, (name, start, start + dur, offset)


SETTINGS = replace(StampSettings(), speeds=(1.0,))  # one print speed: the test stays short


def test_music_10db_under_continuous_speech_mono_lowpassed_is_found_with_its_boundaries(films):
    cue, _, st, (name, start, end, offset) = films
    df = stamp_film(cue, st, SETTINGS)
    assert list(df.track) == [name], df
    r = df.iloc[0]
    assert abs(r.start - start) <= 0.25 and abs(r.end - end) <= 0.25, (r.start, r.end)
    assert abs(r.track_offset - offset) <= 0.1
    assert r.speed == pytest.approx(1.0, abs=1e-4)


def test_dialogue_without_music_gives_no_cue(films):
    _, dry, st, _ = films
    assert len(stamp_film(dry, st, SETTINGS)) == 0


@pytest.fixture(scope="module")
def pal_kept(material, tmp_path_factory):
    """A pitch-corrected PAL transfer (the whole stereo mix time-stretched by 25/24 with ffmpeg's atempo, pitch as
    released) of 62.5 s of continuous centred speech, low-passed at 4 kHz, with two cues: 16 s of one track in
    its stereo, as loud as the speech (the first pass finds it on the side channel and verifies the film's speed
    and treatment), and 10 s of another, centred, 10 dB under the speech (nothing of it on the side: only the
    fine pass, on mid, can find it). Returns (film, soundtrack folder, truth rows (track, start, end, offset) in
    film seconds after the transfer)."""
    music, speech = material
    root = tmp_path_factory.mktemp("pal_kept")
    st, tracks = soundtrack(music, root)
    rng = np.random.default_rng(5)
    talk = continuous_dialogue(speech, 62.5, rng)
    mix, truth, speed = np.repeat(talk[:, None], 2, axis=1), [], 25 / 24
    names = sorted(tracks)
    for name, start, offset, dur, db in [(names[0], 4.0, 20.0, 16.0, 0.0), (names[1], 34.0, 30.0, 10.0, -10.0)]:
        seg = tracks[name][int(offset * SR):int((offset + dur) * SR)]
        if db < 0:  # the quiet cue centred
            seg = np.repeat(seg.mean(axis=1, keepdims=True), 2, axis=1)
        add_cue(mix, seg, start, db, talk)
        truth.append((name, start / speed, (start + dur) / speed, offset))
    wav, stretched = root / "mix.wav", root / "stretched.wav"
    sf.write(wav, lowpass(mix, 4000.0) * 0.8, SR)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-af", f"atempo={speed:.9f}",
                    str(stretched)], check=True)
    x, _ = sf.read(stretched, dtype="float32")
    return encode(x, root / "pal_kept.m4a"), st, truth


def test_quiet_music_in_a_pitch_corrected_transfer_is_found_with_the_pitch_kept(pal_kept):
    # the fine pass reads the tracks as the film's verified cue plays them (25/24 faster, pitch as released): read
    # resampled, every partial of the quiet cue lies 4 % (bins) off the film's and the cue is missed
    film, st, truth = pal_kept
    df = stamp_film(film, st, replace(SETTINGS, speeds=(1.03, 1.05)))
    assert sorted(df.track) == sorted(t[0] for t in truth), df
    for name, start, end, offset in truth:
        r = df[df.track == name].iloc[0]
        assert r.pitch == "kept" and r.speed == pytest.approx(25 / 24, rel=5e-4), r
        # inside the cue, most of it (a stretched film's extent is read from the stretch coherence, coarser than
        # the sample-exact coherence of a resampled one), at the track time the cue plays there
        assert start - 0.5 <= r.start and r.end <= end + 0.5 and r.end - r.start >= 0.75 * (end - start), r
        assert abs(r.track_offset - (offset + (r.start - start) * 25 / 24)) <= 0.1, (name, r.track_offset, offset)


@pytest.fixture(scope="module")
def pal_vocoder(material, tmp_path_factory):
    """A pitch-corrected PAL transfer (25/24) of 70 s of continuous centred speech, its music stretched two ways:
    16 s of one track by ffmpeg's atempo (WSOLA: grains of the waveform, the phase reading verifies it and the
    film's speed), 16 s of another 4 dB under the speech by a phase vocoder that keeps none of its phases
    (`bench.cues.remix.phase_vocoder`), and 14 s of the third by the same vocoder 3 % faster again (its tempo
    off the transfer's: another rendition, not this transfer's music). Returns (film with all three, film with
    the vocoder's cue alone, soundtrack folder, the atempo cue's track, truth of the vocoder's cue (track, start,
    end, offset))."""
    from bench.cues.remix import phase_vocoder

    music, speech = material
    root = tmp_path_factory.mktemp("pal_vocoder")
    st, tracks = soundtrack(music, root)
    a, b, c = sorted(tracks)
    speed = 25 / 24
    rng = np.random.default_rng(8)
    talk = continuous_dialogue(speech, 70.0, rng)
    wav, out = root / "a.wav", root / "a_stretched.wav"
    sf.write(wav, tracks[a][int(10 * SR):int(30 * SR)], SR)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-af", f"atempo={speed:.9f}",
                    str(out)], check=True)
    seg_a = sf.read(out, dtype="float32")[0][:int(16 * SR)]
    seg_b = phase_vocoder(tracks[b][int(20 * SR):int(40 * SR)], SR, speed, seed=1)[:int(16 * SR)]
    seg_c = phase_vocoder(tracks[c][int(5 * SR):int(25 * SR)], SR, speed * 1.03, seed=2)[:int(14 * SR)]
    films = []
    for name, cues in [("all", [(seg_a, 3.0, 0.0), (seg_b, 26.0, -4.0), (seg_c, 50.0, 0.0)]),
                       ("alone", [(seg_b, 26.0, -4.0)])]:
        mix = np.repeat(talk[:, None], 2, axis=1)
        for seg, start, db in cues:
            add_cue(mix, seg, start, db, talk)
        films.append(encode(lowpass(mix, 5000.0) * 0.8, root / f"{name}.m4a"))
    return films[0], films[1], st, a, (b, 26.0, 42.0, 20.0)


def test_music_a_phase_vocoder_stretched_is_found_in_a_transfer_whose_speed_phase_verified(pal_vocoder):
    film, _, st, wsola, (name, start, end, offset) = pal_vocoder
    s = replace(SETTINGS, speeds=(1.03, 1.05))
    df = stamp_film(film, st, s)
    r = df[df.track == name]
    assert len(r) == 1, df
    r = r.iloc[0]
    assert r.match == "exact" and r.pitch == "kept" and r.speed == pytest.approx(25 / 24, rel=5e-4), r
    assert abs(r.start - start) <= 0.5 and abs(r.end - end) <= 0.5, r
    # the track time the cue plays at its start (the vocoder's line: offset at `start`, 25/24 track s per film s)
    assert abs(r.track_offset - (offset + (r.start - start) * 25 / 24)) <= 0.1, r
    assert 0.0 < r.confidence < 1.0
    # the other rendition of the third track (3 % off the transfer's tempo) is not reported as this track's music
    assert sorted(df.track) == sorted([wsola, name]), df
    assert not ((df.start < 64.0) & (df.end > 50.0)).any(), df
    # read by phase only, the vocoder's cue is lost: the spectra are what finds it
    none = stamp_film(film, st, replace(s, verify=replace(s.verify, spectrum_min_z=1e9)))
    assert name not in set(none.track), none


def test_a_phase_vocoder_cue_alone_is_not_read_by_its_spectra(pal_vocoder):
    # no music of the film holds phase: nothing verifies that it is a stretched transfer, and a stretch with no
    # waveform in common with the album is what another rendition is (the tolerant tier's, cues.renditions)
    _, alone, st, _, _ = pal_vocoder
    df = stamp_film(alone, st, replace(SETTINGS, speeds=(1.03, 1.05)))
    assert df.empty, df


def test_spectrum_coherence_reads_the_stretched_track_in_pieces_as_at_once_and_its_reversal_as_chance(pal_vocoder,
                                                                                                    tmp_path):
    """`SpectrumCoherence` at the vocoder cue's line (track sample (film sample - lag) * 25/24): high where the cue
    plays (26-42 s), chance elsewhere; the same values computed in pieces as at once; and the same track played
    backwards (the same spectra, the notes in the other order) at chance on the same line."""
    from filmscore.cues.cache import PrintCache
    from filmscore.cues.match import STRETCH_SMOOTH_SECONDS, SpectrumCoherence, _spectrum_shifts
    from filmscore.cues.stamp import TrackSet, _decode_film

    _, alone, st, _, (name, start, end, offset) = pal_vocoder
    s, speed, sr, hop = SETTINGS, 25 / 24, SETTINGS.sample_rate, SETTINGS.extent.n_fft // 2
    path, back = next(st.glob(f"{name}.*")), tmp_path / f"{name}.wav"
    x, fs = sf.read(path, dtype="float32")
    sf.write(back, x[::-1], fs)
    lag = int(round((start - offset / speed) * sr))
    kl = int(round(STRETCH_SMOOTH_SECONDS * sr / hop))
    with _decode_film(alone, s) as fa:
        for track, playing in [(path, True), (back, False)]:
            ts = TrackSet([track], s, PrintCache(None), speeds=(1.0,))
            args = (fa, ts.tracks[0], "mid", lag, s.extent.n_fft, sr, s.verify.fmin, s.verify.fmax,
                    _spectrum_shifts(sr, hop), speed)
            whole, parts = SpectrumCoherence(*args), SpectrumCoherence(*args)
            whole.extend(0, whole.n)
            parts.extend(300, 420)
            parts.extend(100, 700)
            parts.extend(0, parts.n)
            assert (parts.lo, parts.hi) == (0, whole.n) and whole.n > 1000
            np.testing.assert_allclose(parts.coh, whole.coh, atol=1e-5)
            for a, b in zip(parts.nulls, whole.nulls):
                np.testing.assert_allclose(a, b, atol=1e-5)
            z = whole.z(kl)
            t = (whole.f0 + np.arange(whole.n) * hop + hop) / sr
            inside, outside = (t > start + 2) & (t < end - 2), (t < start - 3) | (t > end + 3)
            if playing:
                assert z[inside].mean() > 6.0 and abs(z[outside].mean()) < 1.5, (z[inside].mean(), z[outside].mean())
            else:
                # (the largest of ~1,500 overlapping 4 s windows; the played track's mean inside is 11.5 here)
                assert abs(z[inside].mean()) < 2.0 and z.max() < 5.0, (z[inside].mean(), z.max())
            ts.release()


@pytest.fixture(scope="module")
def pal_half_phased(material, tmp_path_factory):
    """A pitch-corrected PAL transfer (25/24) of 40 s of continuous centred speech with one cue of one track on one
    line, as loud as the speech: its first 6 s stretched by ffmpeg's atempo (WSOLA grains: the phase reading
    verifies it), the next 14 s of the same track, on the same line, by a phase vocoder that keeps none of its
    phases (what a stretcher leaves of sustained or quiet music: its spectra on the line, not its phases).
    Returns (film, soundtrack folder, truth (track, start, end, offset))."""
    from bench.cues.remix import phase_vocoder

    music, speech = material
    root = tmp_path_factory.mktemp("pal_half_phased")
    st, tracks = soundtrack(music, root)
    name = sorted(tracks)[0]
    speed, start, offset = 25 / 24, 4.0, 10.0
    talk = continuous_dialogue(speech, 40.0, np.random.default_rng(13))
    wav, out = root / "a.wav", root / "a_stretched.wav"
    sf.write(wav, tracks[name][int(offset * SR):int((offset + 20) * SR)], SR)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-af", f"atempo={speed:.9f}",
                    str(out)], check=True)
    phased = sf.read(out, dtype="float32")[0][:int(6 * SR)]
    t1 = offset + 6 * speed  # the track second the vocoder takes over at, on the same line
    vocoded = phase_vocoder(tracks[name][int(t1 * SR):int((t1 + 20) * SR)], SR, speed, seed=3)[:int(14 * SR)]
    mix = np.repeat(talk[:, None], 2, axis=1)
    add_cue(mix, np.concatenate([phased, vocoded]), start, 0.0, talk)
    return encode(lowpass(mix, 5000.0) * 0.8, root / "pal_half_phased.m4a"), st, (name, start, start + 20.0, offset)


def test_a_stretched_cue_whose_phase_holds_in_part_is_read_whole_by_its_spectra(pal_half_phased):
    # the phase reading verifies the cue over its first 6 s only; the spectra along its line carry the rest: one
    # cue, whole, at the track time it plays (main gave the phased part, trimmed away by the rest read by its
    # spectra on a repeat of the track 10 s off: the whole cue at the wrong track offset)
    film, st, (name, start, end, offset) = pal_half_phased
    df = stamp_film(film, st, replace(SETTINGS, speeds=(1.03, 1.05)))
    assert list(df.track) == [name], df
    r = df.iloc[0]
    assert r.match == "exact" and r.pitch == "kept" and r.speed == pytest.approx(25 / 24, rel=5e-4), r
    assert abs(r.start - start) <= 0.5 and abs(r.end - end) <= 0.5, r
    assert abs(r.track_offset - (offset + (r.start - start) * 25 / 24)) <= 0.1, r


@pytest.fixture(scope="module")
def mono_vocoded(material, tmp_path_factory):
    """A 60 s mono film at the album's speed, low-passed at 4 kHz, under continuous speech: 14 s of one track as
    loud as the speech (the phase verifies it and the film's speed, 1), and 14 s of another 6 dB under the speech
    played through a phase vocoder at speed 1 (`phase_vocoder`: the recording's own spectra on its own timing,
    none of its phases; what music drowned in speech, or remixed in its reverb, leaves the phase reading).
    Returns (film, soundtrack folder, truth of the vocoded cue (track, start, end, offset))."""
    from bench.cues.remix import phase_vocoder

    music, speech = material
    root = tmp_path_factory.mktemp("mono_vocoded")
    st, tracks = soundtrack(music, root)
    a, b, _ = sorted(tracks)
    talk = continuous_dialogue(speech, 60.0, np.random.default_rng(11))
    mix = talk.copy()
    add_cue(mix, tracks[a].mean(axis=1)[int(5 * SR):int(19 * SR)], 3.0, 0.0, talk)
    seg = phase_vocoder(tracks[b].mean(axis=1)[int(25 * SR):int(45 * SR)], SR, 1.0, seed=4)[:int(14 * SR), 0]
    add_cue(mix, seg, 34.0, -6.0, talk)
    return encode(lowpass(mix, 4000.0) * 0.8, root / "mono_vocoded.m4a"), st, (b, 34.0, 48.0, 25.0)


def test_music_without_its_phase_at_the_films_verified_speed_is_found_by_its_spectra(mono_vocoded):
    film, st, (name, start, end, offset) = mono_vocoded
    df = stamp_film(film, st, SETTINGS)
    r = df[df.track == name]
    assert len(r) == 1, df
    r = r.iloc[0]
    assert r.match == "exact" and r.pitch == "resampled" and r.speed == pytest.approx(1.0, abs=1e-4), r
    assert abs(r.start - start) <= 0.5 and abs(r.end - end) <= 0.5, r
    assert abs(r.track_offset - (offset + r.start - start)) <= 0.1, r
    # read by phase only, it is lost
    none = stamp_film(film, st, replace(SETTINGS, verify=replace(SETTINGS.verify, spectrum_min_z=1e9)))
    assert name not in set(none.track), none


@pytest.fixture(scope="module")
def mono_unphased_middle(material, tmp_path_factory):
    """A 50 s mono film, low-passed at 4 kHz, under continuous speech: one track from 5 to 35 s (track offset 10
    s), 3 dB under the speech; from 17 to 20.5 s the same music through a phase vocoder at speed 1 (its own
    spectra on its own timing, none of its phases: what the quietest bars of sustained music in a room, or
    through a loudspeaker, leave of it), crossfaded over 50 ms. And the same film with the music stopped over
    those 3.5 s. Returns (film with the vocoded middle, film with the stopped middle, soundtrack, track)."""
    from bench.cues.remix import phase_vocoder

    music, speech = material
    root = tmp_path_factory.mktemp("mono_unphased")
    st, tracks = soundtrack(music, root)
    name = sorted(tracks)[0]
    src = tracks[name].mean(axis=1)
    talk = continuous_dialogue(speech, 50.0, np.random.default_rng(21))
    cue = src[int(10 * SR):int(40 * SR)].copy()
    a, b = int(12 * SR), int(15.5 * SR)  # the middle, in cue samples (film 17 to 20.5 s)
    pad = int(1.0 * SR)
    voc = phase_vocoder(src[int(10 * SR) + a - pad:int(10 * SR) + b + pad], SR, 1.0, seed=7)[pad:pad + b - a, 0]
    voc *= float(np.sqrt(np.mean(cue[a:b] ** 2)) / (np.sqrt(np.mean(voc ** 2)) + 1e-9))
    x = int(0.05 * SR)
    up = np.linspace(0, 1, x, dtype=np.float32)
    g = np.ones(len(cue), np.float32)  # the recording's gain: out over the middle, crossfaded at both ends
    g[a:a + x], g[a + x:b - x], g[b - x:b] = up[::-1], 0.0, up
    h = np.zeros(len(cue), np.float32)
    h[a:b] = 1.0 - g[a:b]
    out = {}
    for kind, middle in (("vocoded", voc), ("stopped", np.zeros_like(voc))):
        seg = cue * g
        seg[a:b] += middle * h[a:b]
        mix = talk.copy()
        add_cue(mix, seg, 5.0, -3.0, talk)
        out[kind] = encode(lowpass(mix, 4000.0) * 0.8, root / f"unphased_{kind}.m4a")
    return out["vocoded"], out["stopped"], st, name


def _the_whole_cue(df, name: str) -> None:
    """`mono_unphased_middle`'s track is one cue, 5-35 s (within 0.5 s), at the track time it plays (offset 10 s at
    5 s, within 0.1 s)."""
    r = df[df.track == name]
    assert len(r) == 1, df
    r = r.iloc[0]
    assert abs(r.start - 5.0) <= 0.5 and abs(r.end - 35.0) <= 0.5, r
    assert abs(r.track_offset - (10.0 + r.start - 5.0)) <= 0.1, r


def test_a_cue_whose_middle_holds_no_phase_is_one_cue_by_its_spectra(mono_unphased_middle, monkeypatch):
    """3.5 s in the middle of a cue with the music's spectra and none of its phases: one cue 5-35 s, its gap
    bridged by the spectra along its line; the music stopped there instead: two cues; the spectra not read
    (BRIDGE_BY_SPECTRA off, the negative control): the vocoded middle splits the cue, as on main before."""
    import filmscore.cues.match as M

    vocoded, stopped, st, name = mono_unphased_middle
    df = stamp_film(vocoded, st, SETTINGS)
    _the_whole_cue(df, name)
    gone = stamp_film(stopped, st, SETTINGS)
    g = gone[gone.track == name]
    assert len(g) == 2 and not ((g.start < 18.0) & (g.end > 19.5)).any(), gone
    monkeypatch.setattr(M, "BRIDGE_BY_SPECTRA", False)
    split = stamp_film(vocoded, st, SETTINGS)
    assert len(split[split.track == name]) == 2, split


def test_a_pause_in_the_track_itself_lies_inside_its_cue(mono_unphased_middle, tmp_path):
    """The film whose music stops over 17-20.5 s (two cues against the track as released, above: the track plays on
    there and the film does not) against a soundtrack whose track itself pauses there (the same recording, silent
    over track 22-25.5 s: a rest, a break between sections): one cue, 5-35 s. The film plays on through the track's
    pause at one alignment; nothing of the track is there to hear."""
    _, stopped, st, name = mono_unphased_middle
    paused = tmp_path / "soundtracks" / "film"
    paused.mkdir(parents=True)
    for p in st.iterdir():
        if p.stem != name:
            (paused / p.name).write_bytes(p.read_bytes())
    x, fs = sf.read(next(st.glob(f"{name}.*")), dtype="float32")
    x[int(22.0 * fs):int(25.5 * fs)] = 0.0
    sf.write(paused / f"{name}.wav", x, fs)
    df = stamp_film(stopped, paused, SETTINGS)
    _the_whole_cue(df, name)
