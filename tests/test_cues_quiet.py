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


@pytest.fixture(scope="module")
def films(material, tmp_path_factory):
    """A 40 s mono film: a 10 s cue of a real track 10 dB under continuous speech, low-passed at 4 kHz; and the same
    dialogue without the music. Returns (cue film, dialogue film, soundtrack folder, truth)."""
    music, speech = material
    root = tmp_path_factory.mktemp("quiet")
    st = root / "soundtracks" / "film"
    st.mkdir(parents=True)
    tracks = {}
    for p in music[:3]:
        (st / p.name).write_bytes(p.read_bytes())
        tracks[p.stem] = decode_audio(p, SR, channels=2)
    rng = np.random.default_rng(3)
    talk = continuous_dialogue(speech, 40.0, rng)
    name = sorted(tracks)[1]
    src = tracks[name].mean(axis=1)
    start, offset, dur = 14.0, 30.0, 10.0
    seg = src[int(offset * SR):int((offset + dur) * SR)].copy()
    fade = int(0.3 * SR)
    seg[:fade] *= np.linspace(0, 1, fade, dtype=np.float32)
    seg[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    speech_rms = float(np.sqrt(np.mean(talk[talk != 0] ** 2)))
    gain = speech_rms * 10 ** (-10 / 20) / float(np.sqrt(np.mean(seg ** 2)))  # music 10 dB under the speech
    mix = talk.copy()
    mix[int(start * SR):int(start * SR) + len(seg)] += seg * gain
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


def test_fine_segment_scores_are_the_summed_cosines_and_skip_only_dead_film():
    """M[k, p] = sum_j T[start_k + j*stride] . F[p + j*stride] (the definition, summed here by hand), with the
    film's frames of found cues and silence zero: the product computed over the live runs only gives the same M."""
    from filmscore.cues.fine import segment_scores

    rng = np.random.default_rng(3)
    T = rng.standard_normal((700, 24)).astype(np.float32)
    F = rng.standard_normal((3000, 24)).astype(np.float32)
    for a, b in [(0, 40), (300, 1100), (1400, 2200), (2900, 3000)]:  # found cues / silence, at both ends too
        F[a:b] = 0.0
    W, H, stride = 40, 20, 2
    M, starts = segment_scores(T, F, W, H, stride)
    js = np.arange(0, W, stride)
    assert M.shape == (len(starts), len(F) - js[-1])
    for k in range(len(starts)):
        for p in list(range(0, len(F) - js[-1], 37)) + [299, 300, 1100 - js[-1], 1101, 2899 - js[-1]]:
            ref = sum(float(T[starts[k] + j] @ F[p + j]) for j in js if starts[k] + j < len(T))
            assert M[k, p] == pytest.approx(ref, abs=1e-3), (k, p)
    assert not M[:, 400:1100 - js[-1]].any()  # a window of zero frames scores exactly 0
