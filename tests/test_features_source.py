"""features.audio: cue audio from the soundtrack track (the music alone) or from the film's mix.

Tiny generated corpus: one track with a changing stereo chord, one mono 440 Hz tone;
a film (H.264 + AAC) that plays excerpts of them under "dialogue" (syllable-modulated
band noise), and a copy of the film whose dialogue is 10 dB louder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.signal import resample, resample_poly

from filmscore.config import validate
from filmscore.errors import FilmscoreError
from filmscore.features import extract as ex
from filmscore.features.bags import feature_columns, read_set
from filmscore.features.mir import MIR
from filmscore.features.source import AudioSource, decode_mono
from filmscore.media import decode_audio
from tests.features_media import write_video, write_wav
from tests.test_features_pipeline import FPS, SR, VH, VW, base_params

FILM_S = 30
PAL = 25 / 24
NTSC_ISH = 1.03  # any estimated speed


def theme(seconds: int = 20) -> np.ndarray:
    """Stereo: a chord whose notes and loudness change every second (left), plus a fifth above (right)."""
    t = np.arange(seconds * SR) / SR
    second = np.floor(t).astype(int)
    root = 196.0 * 2 ** ((second % 5) / 12)
    env = 0.15 + 0.1 * (second % 3)
    left = env * (np.sin(2 * np.pi * root * t) + 0.5 * np.sin(2 * np.pi * 1.25 * root * t))
    right = left + 0.1 * np.sin(2 * np.pi * 3 * root * t)
    return np.stack([left, right], axis=1)


def tone(seconds: int = 12) -> np.ndarray:
    return 0.3 * np.sin(2 * np.pi * 440 * np.arange(seconds * SR) / SR)


def dialogue(seconds: int, gain: float) -> np.ndarray:
    """Band noise (300-3000 Hz) in 4 Hz syllables: speech-like energy where the film has talk."""
    rng = np.random.default_rng(7)
    n = seconds * SR
    spec = np.fft.rfft(rng.normal(size=n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec[(f < 300) | (f > 3000)] = 0
    noise = np.fft.irfft(spec, n)
    noise /= noise.std()
    syll = 0.5 * (1 + np.sin(2 * np.pi * 4 * np.arange(n) / SR)) ** 2
    return gain * noise * syll


def cue_rows() -> pd.DataFrame:
    rows = [  # film_id, track, start, end, track_offset, speed
        ("f1", "theme", 2.0, 12.0, 3.0, 1.0),    # 10 s of the theme from 3 s
        ("f1", "tone", 13.0, 17.0, 1.0, 1.0),    # the tone as released
        ("f1", "tone", 18.0, 22.0, 1.0, PAL),    # the tone sped up (PAL): 4 s of film = 4.17 s of track
        ("f1", "theme", 23.0, 29.0, 16.0, 1.0),  # runs past the 20 s theme after 4 s: clipped
        ("f1", "tone", 24.0, 28.0, 6.0, NTSC_ISH),  # a speed that is no small ratio (windowed-sinc rendering)
    ]
    df = pd.DataFrame(rows, columns=["film_id", "track", "start", "end", "track_offset", "speed"])
    df["confidence"] = 1.0
    df["cue_id"] = [f"f1:{i:04d}" for i in range(len(df))]
    return df


def film_audio(gain: float) -> np.ndarray:
    mix = np.zeros((FILM_S * SR, 2))
    th, tn = theme(), tone()
    for r in cue_rows().itertuples():
        src = th if r.track == "theme" else np.stack([tn, tn], axis=1)
        a, n = int(r.track_offset * SR), int((r.end - r.start) * SR)
        part = src[a:a + int(n * r.speed) + 1]
        if r.speed != 1.0:
            part = resample(part, int(round(len(part) / r.speed)), axis=0)
        part = part[:n]
        s = int(r.start * SR)
        mix[s:s + len(part)] += part
    return mix + dialogue(FILM_S, gain)[:, None]


def film_frames() -> np.ndarray:
    frames = np.zeros((FILM_S * FPS, VH, VW, 3), np.uint8)
    for i in range(len(frames)):
        frames[i] = 8 * (i // FPS)
    return frames


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    """Two corpora with the same tracks; in `loud` the film's dialogue is 10 dB louder."""
    out = {}
    for name, gain in (("quiet", 0.05), ("loud", 0.05 * 10 ** (10 / 20))):
        root = tmp_path_factory.mktemp(name)
        write_video(root / "films" / "f1.mp4", film_frames(), FPS, film_audio(gain), SR)
        write_wav(root / "soundtracks" / "f1" / "theme.wav", theme(), SR)
        write_wav(root / "soundtracks" / "f1" / "tone.wav", tone(), SR)
        (root / "labels.csv").write_text("film_id,genres\nf1,Drama\n")
        out[name] = root
    return out


def films_tracks(root: Path) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    return {"f1": root / "films" / "f1.mp4"}, {"f1": sorted((root / "soundtracks" / "f1").iterdir())}


def run(root: Path, out: Path, audio: str, cues: pd.DataFrame | None = None, sets=("mir", "visual"),
        cache: Path | None = None) -> dict:
    films, tracks = films_tracks(root)
    return ex.extract_features(base_params(sets=sets, audio=audio), films, cue_rows() if cues is None else cues,
                               out / "features", cache or out / "cache", tracks=tracks)


@pytest.fixture(scope="module")
def runs(corpora, tmp_path_factory) -> dict[tuple[str, str], Path]:
    """mir + visual in both modes on both corpora, each with its own cache."""
    out = {}
    for corpus in corpora:
        for audio in ("track", "film"):
            folder = tmp_path_factory.mktemp(f"{corpus}-{audio}")
            run(corpora[corpus], folder, audio)
            out[(corpus, audio)] = folder / "features"
    return out


def mir_frames(folder: Path) -> pd.DataFrame:
    return read_set(folder, "mir")[0].sort_values(["cue_id", "t"]).reset_index(drop=True)


def test_track_features_equal_those_of_the_track_excerpt(corpora, runs):
    frames = mir_frames(runs[("quiet", "track")])
    mir = MIR.from_params(base_params()["features"]["mir"])
    track = decode_audio(corpora["quiet"] / "soundtracks" / "f1" / "theme.wav", SR, channels=2).mean(axis=1)
    excerpt = track[3 * SR: 13 * SR]  # cue 0: 10 s of the theme from 3 s
    expected = mir.embed(excerpt, SR)
    got = frames[frames.cue_id == "f1:0000"]
    assert len(got) == 10 and got.t.tolist() == [2.0 + i for i in range(10)]
    np.testing.assert_allclose(got[list(mir.columns)].to_numpy(), expected[:10], rtol=1e-4, atol=1e-5)


def test_speed_plays_the_track_as_heard_in_the_film(corpora, runs):
    cues = read_set(runs[("quiet", "track")], "mir")[1].set_index("cue_id")
    # a pure tone's zero-crossing rate is its frequency: 440 Hz as released, 440 x 25/24 under PAL
    assert cues.loc["f1:0001", "zero_crossing_rate_mean"] == pytest.approx(440, rel=0.005)
    assert cues.loc["f1:0002", "zero_crossing_rate_mean"] == pytest.approx(440 * PAL, rel=0.005)
    assert cues.loc["f1:0004", "zero_crossing_rate_mean"] == pytest.approx(440 * NTSC_ISH, rel=0.005)
    frames = mir_frames(runs[("quiet", "track")])
    got = frames[frames.cue_id == "f1:0002"]
    assert got.t.tolist() == [18.0, 19.0, 20.0, 21.0]  # the film's grid: 4 s of film, not 4.17 s of track
    # independently: the whole track decoded and played at 25/24 (scipy resample 24/25), the 4 s from 1 s of track
    track = resample_poly(decode_audio(corpora["quiet"] / "soundtracks" / "f1" / "tone.wav", SR), 24, 25)
    excerpt = track[SR * 24 // 25: SR * 24 // 25 + 4 * SR]
    mir = MIR.from_params(base_params()["features"]["mir"])
    np.testing.assert_allclose(got[list(mir.columns)].to_numpy(), mir.embed(excerpt, SR)[:4], rtol=1e-4, atol=1e-5)


def test_track_features_ignore_the_dialogue_film_features_do_not(runs):
    quiet, loud = mir_frames(runs[("quiet", "track")]), mir_frames(runs[("loud", "track")])
    pd.testing.assert_frame_equal(quiet, loud)
    fq, fl = mir_frames(runs[("quiet", "film")]), mir_frames(runs[("loud", "film")])
    assert fq[["cue_id", "t"]].equals(fl[["cue_id", "t"]])
    # 10 dB more dialogue: louder, and the band noise pulls the spectral shape away from the music
    tone_q, tone_l = fq[fq.cue_id == "f1:0001"], fl[fl.cue_id == "f1:0001"]
    assert (tone_l.rms_mean > tone_q.rms_mean * 1.1).all()
    assert (tone_l.spectral_flatness_mean > tone_q.spectral_flatness_mean).all()
    # and track mode hears the tone itself, film mode the tone under talk
    trk = quiet[quiet.cue_id == "f1:0001"]
    assert np.abs(trk.spectral_centroid_mean - 440).max() < 30
    assert (tone_l.spectral_centroid_mean.to_numpy() > trk.spectral_centroid_mean.to_numpy() + 100).all()


def test_visual_features_come_from_the_film_in_both_modes(runs):
    track_vis, film_vis = (read_set(runs[("quiet", m)], "visual") for m in ("track", "film"))
    pd.testing.assert_frame_equal(track_vis[0], film_vis[0])
    got = track_vis[0].set_index("t")["brightness"]
    for t in (2.0, 13.0, 19.0):
        assert got.loc[t] == pytest.approx(8 * int(t) / 255, abs=0.01)
    assert "audio" not in track_vis[2]
    assert read_set(runs[("quiet", "track")], "mir")[2]["audio"] == "track"
    assert read_set(runs[("quiet", "film")], "mir")[2]["audio"] == "film"


def test_a_cue_past_the_end_of_its_track_is_clipped_with_a_warning(runs):
    frames, _, status = read_set(runs[("quiet", "track")], "mir")
    # 6 s of film from 16 s of a 20 s track: the 4 s the track has
    assert frames[frames.cue_id == "f1:0003"].t.tolist() == [23.0, 24.0, 25.0, 26.0]
    warn = [w for w in status["warnings"] if "f1:0003" in w]
    assert len(warn) == 1 and "'f1'" in warn[0] and "'theme'" in warn[0] and "clipped" in warn[0]


def test_an_offset_beyond_the_track_skips_the_cue_with_a_warning(corpora, tmp_path):
    cues = cue_rows().head(2)
    cues.loc[1, "track_offset"] = 50.0  # the tone lasts 12 s
    run(corpora["quiet"], tmp_path, "track", cues, sets=("mir",))
    frames, _, status = read_set(tmp_path / "features", "mir")
    assert set(frames.cue_id) == {"f1:0000"}
    assert any("f1:0001" in w and "'tone'" in w and "'f1'" in w and "skipped" in w for w in status["warnings"])


def test_a_missing_speed_column_reads_as_speed_one(corpora, runs, tmp_path):
    ref = mir_frames(runs[("quiet", "track")])
    ref = ref[ref.cue_id.isin(["f1:0000", "f1:0001"])].reset_index(drop=True)
    cues = cue_rows().drop(columns=["speed"])
    cues = cues[cues.cue_id.isin(["f1:0000", "f1:0001"])]
    run(corpora["quiet"], tmp_path / "a", "track", cues, sets=("mir",))
    pd.testing.assert_frame_equal(mir_frames(tmp_path / "a" / "features"), ref)
    # a speed estimated a hair off 1 (the matcher's scatter) is the track as released, not re-rendered
    cues = cue_rows()[lambda d: d.cue_id.isin(["f1:0000", "f1:0001"])].assign(speed=[1.00001, 0.99999])
    run(corpora["quiet"], tmp_path / "b", "track", cues, sets=("mir",))
    pd.testing.assert_frame_equal(mir_frames(tmp_path / "b" / "features"), ref)


def test_an_undecodable_track_names_film_and_track_and_writes_nothing(corpora, tmp_path):
    root = tmp_path / "corpus"
    shutil.copytree(corpora["quiet"], root)
    (root / "soundtracks" / "f1" / "tone.wav").write_bytes(b"RIFF garbage, not audio" * 50)
    with pytest.raises(FilmscoreError) as err:
        run(root, tmp_path, "track", sets=("mir", "visual"))
    text = str(err.value)
    assert "'f1'" in text and "'tone'" in text and "tone.wav" in text
    assert not (tmp_path / "features").exists()


def test_bad_track_columns_are_refused_before_any_work(corpora, tmp_path):
    bad = cue_rows()
    bad.loc[0, "track"] = "nosuchtrack"
    bad.loc[1, "track_offset"] = np.nan
    bad.loc[2, "speed"] = 0.0
    with pytest.raises(FilmscoreError) as err:
        run(corpora["quiet"], tmp_path, "track", bad)
    text = str(err.value)
    assert "nosuchtrack" in text and "track_offset" in text and "speed" in text and "features.audio: film" in text
    with pytest.raises(FilmscoreError, match="track_offset"):
        run(corpora["quiet"], tmp_path, "track", cue_rows().drop(columns=["track_offset"]))
    # film mode reads none of those columns
    run(corpora["quiet"], tmp_path, "film", cue_rows().drop(columns=["track_offset", "speed"]), sets=("mir",))
    assert read_set(tmp_path / "features", "mir")[2]["status"] == "ok"


@pytest.mark.slow
def test_track_mode_caches_by_track_content_not_by_film(corpora, tmp_path, monkeypatch):
    computed = []
    real = ex.extract_film

    def counting(feature_set, extractor, film_id, path, cues, src=None):
        computed.append(feature_set.name)
        return real(feature_set, extractor, film_id, path, cues, src)

    monkeypatch.setattr(ex, "extract_film", counting)
    cache = tmp_path / "cache"
    run(corpora["quiet"], tmp_path / "a", "track", cache=cache)
    assert sorted(computed) == ["mir", "visual"]
    computed.clear()
    run(corpora["loud"], tmp_path / "b", "track", cache=cache)  # another film file, the same tracks and cues
    assert computed == ["visual"]
    pd.testing.assert_frame_equal(mir_frames(tmp_path / "a" / "features"), mir_frames(tmp_path / "b" / "features"))
    computed.clear()
    moved = cue_rows()
    moved.loc[0, "track_offset"] = 4.0  # another excerpt of the track
    run(corpora["loud"], tmp_path / "c", "track", moved, sets=("mir",), cache=cache)
    assert computed == ["mir"]
    computed.clear()
    root = tmp_path / "changed"  # the same names, the tone track's content changed
    shutil.copytree(corpora["loud"], root)
    write_wav(root / "soundtracks" / "f1" / "tone.wav", 0.5 * tone(), SR)
    run(root, tmp_path / "d", "track", moved, sets=("mir",), cache=cache)
    assert computed == ["mir"]
    computed.clear()
    run(corpora["loud"], tmp_path / "e", "film", sets=("mir",), cache=cache)  # film mode: its own entries
    assert computed == ["mir"]


def test_audio_source_is_picklable_and_the_param_is_checked():
    import pickle

    src = AudioSource("track", "f1", "film.mp4", {"theme": "theme.wav"}, 30.0)
    back = pickle.loads(pickle.dumps(src))
    assert back.mode == "track" and back.tracks == {"theme": Path("theme.wav")} and back.duration == 30.0
    with pytest.raises(ValueError):
        AudioSource("album", "f1", "film.mp4")
    params = base_params()
    params["features"]["audio"] = "tracks"
    found = "\n".join(map(str, validate(params, sections=["features"])))
    assert "features.audio" in found and "track" in found


def test_the_param_is_declared_once_with_its_default():
    import yaml

    from filmscore.config import FEATURES

    spec = FEATURES["audio"]
    assert spec.default == "track" and set(spec.choices) == {"track", "film"} and spec.doc
    root = Path(__file__).resolve().parents[1]
    assert yaml.safe_load((root / "params.yaml").read_text())["features"]["audio"] == spec.default
    stage = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["features"]
    assert "features.audio" in stage["params"]
    assert "features" not in stage["params"]  # key by key, never the whole section


def test_film_mode_reads_the_chosen_audio_stream(tmp_path):
    """corpus.audio_stream picks the film's stream in film mode (here: a 440 Hz and a 660 Hz tone)."""
    import subprocess

    t = np.arange(6 * SR) / SR
    a = write_wav(tmp_path / "a.wav", 0.3 * np.sin(2 * np.pi * 440 * t), SR)
    b = write_wav(tmp_path / "b.wav", 0.3 * np.sin(2 * np.pi * 660 * t), SR)
    film = tmp_path / "films" / "f1.mka"
    film.parent.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(a), "-i", str(b), "-map", "0:a", "-map", "1:a", "-c", "copy",
                    str(film)], check=True)
    cues = pd.DataFrame({"film_id": ["f1"], "start": [1.0], "end": [5.0], "cue_id": ["f1:0000"]})
    for stream, hz in ((0, 440), (1, 660)):
        params = base_params(sets=("mir",), audio="film")
        params["corpus"]["audio_stream"] = stream
        ex.extract_features(params, {"f1": film}, cues, tmp_path / f"s{stream}", tmp_path / "cache")
        got = read_set(tmp_path / f"s{stream}", "mir")[1]
        assert got.zero_crossing_rate_mean.iloc[0] == pytest.approx(hz, rel=0.005)


def test_film_mode_reads_a_span_with_one_channel_inverted_as_its_music(tmp_path):
    """A faulty transfer's right channel inverted: the plain mean of its channels would cancel the centred music
    and dialogue; the span is read with the channel inverted back (the matcher's rule, cues.prints.out_of_phase)."""
    x = theme(6) + dialogue(6, 0.05)[:, None]
    flipped = x * np.array([1.0, -1.0])
    expect = x.mean(axis=1)[SR:5 * SR]
    assert np.std(flipped.mean(axis=1)) < 0.2 * np.std(expect)  # what the plain mean would read
    for name, audio in (("as_made", x), ("inverted", flipped)):
        got = decode_mono(write_wav(tmp_path / f"{name}.wav", audio, SR), SR, 1.0, 4.0, channels=2)
        assert len(got) == len(expect)
        np.testing.assert_allclose(got, expect, atol=1e-4)  # 16-bit PCM: within a few quantisation steps

