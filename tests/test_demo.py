"""The generated demo corpus: deterministic, true to its ground truth, valid, and
leaning by genre where it says it does. One tiny demo (3 films of 30 s) is
generated per session and shared."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from filmscore import GENRES_DEFAULT
from filmscore.cli import main as cli_main
from filmscore.corpus import validate_corpus
from filmscore.demo import DEFAULTS, generate_demo, write_not_generated
from filmscore.demo import generate as gen
from filmscore.errors import FilmscoreError
from filmscore.media import decode_audio, probe

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(DEFAULTS, n_films=3, film_seconds=30, track_seconds=[12, 20], cues_per_film=[2, 3], cue_seconds=[5, 9],
            min_tracks=2, max_tracks=3, audio_only_share=0.34, min_films_per_genre=1, jobs=2)


def hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "corpus"
    generate_demo(out, TINY, GENRES_DEFAULT)
    return out


def test_same_seed_same_bytes_other_seed_differs(demo, tmp_path):
    again = generate_demo(tmp_path / "again", TINY, GENRES_DEFAULT, jobs=1)  # other process count too
    h1, h2 = hashes(demo), hashes(again)
    assert h1 == h2
    assert any(k.endswith(".mp4") for k in h1) and any(k.startswith("soundtracks/") for k in h1)
    other = generate_demo(tmp_path / "other", dict(TINY, seed=1, n_films=1), GENRES_DEFAULT)
    h3 = hashes(other)
    film = next(k for k in h3 if k.startswith("films/demo_000"))
    assert h3[film] != h1.get(film)
    tracks = [k for k in h3 if k.startswith("soundtracks/demo_000/")]
    assert tracks and all(h3[k] != h1.get(k) for k in tracks)


def _ncc(x: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of `seg` against every position of `x`."""
    from scipy import signal

    c = signal.correlate(x, seg, mode="valid", method="fft")
    energy = signal.correlate(x**2, np.ones(len(seg)), mode="valid", method="fft")
    return c / (np.sqrt(np.maximum(energy, 1e-12)) * np.linalg.norm(seg))


def test_truth_cues_are_really_in_the_film_audio(demo):
    sr = 8000
    n_checked = 0
    for csv in sorted((demo / "cues_truth").glob("*.csv")):
        fid = csv.stem
        film = next((demo / "films").glob(f"{fid}.*"))
        x = decode_audio(film, sr)
        truth = pd.read_csv(csv)
        for r in truth.itertuples():
            seg = decode_audio(demo / "soundtracks" / fid / f"{r.track}.mp3", sr, start=r.track_offset,
                               duration=r.end - r.start)
            assert abs(len(seg) / sr - (r.end - r.start)) < 0.05
            ncc = _ncc(x, seg)
            true_lag = int(round(r.start * sr))
            best = int(np.argmax(ncc))
            assert abs(best - true_lag) / sr < 0.05, (fid, r.track, best / sr, r.start)
            assert ncc[best] > 0.15
            # absent elsewhere: far from this track's cues the segment does not match
            away = np.ones(len(ncc), bool)
            for o in truth[truth.track == r.track].itertuples():
                away[max(0, int((o.start - (r.end - r.start)) * sr)) : int(o.end * sr)] = False
            assert away.any()
            assert ncc[away].max() < 0.5 * ncc[best], (fid, r.track)
            n_checked += 1
    assert n_checked >= 5


def test_corpus_is_valid_and_labels_known(demo):
    corpus, manifest = validate_corpus(demo, GENRES_DEFAULT)
    assert corpus.film_ids == ["demo_000", "demo_001", "demo_002"]
    assert all(set(g) <= set(GENRES_DEFAULT) and g for g in corpus.labels.values())
    films = manifest[manifest.role == "film"].set_index("film_id")
    assert (films.audio_codec == "aac").sum() == 2 and (films.audio_codec == "mp3").sum() == 1  # share 0.34
    assert films.has_video.sum() == 2 and set(films[films.has_video].video_codec) == {"h264"}
    assert set(films[films.has_video].width) == {160} and set(films[films.has_video].height) == {90}
    assert (films.channels == 2).all() and abs(films.duration - 30).max() < 0.2
    tracks = manifest[manifest.role == "track"]
    assert (tracks.audio_codec == "mp3").all() and (tracks.sample_rate == 44100).all() and (tracks.channels == 2).all()
    assert set(corpus.truth) == set(corpus.film_ids)


def test_cues_fit_film_and_track_and_never_overlap(demo):
    for fid in ("demo_000", "demo_001", "demo_002"):
        truth = pd.read_csv(demo / "cues_truth" / f"{fid}.csv")
        assert list(truth.columns) == ["track", "start", "end", "track_offset"]
        t = truth.sort_values("start")
        assert (t.start.iloc[1:].to_numpy() >= t.end.iloc[:-1].to_numpy()).all()
        assert (t.start >= 0).all() and (t.end <= 30).all() and (t.end > t.start).all()
        for r in t.itertuples():
            dur = probe(demo / "soundtracks" / fid / f"{r.track}.mp3").duration
            assert r.track_offset >= 0 and r.track_offset + (r.end - r.start) <= dur + 0.01


def test_video_brightness_leans_by_genre(demo):
    decord = pytest.importorskip("decord")
    labels = pd.read_csv(demo / "labels.csv").set_index("film_id").genres.str.split("|")
    videos = {p.stem for p in (demo / "films").glob("*.mp4")}
    dark = [f for f in videos if "Horror" in labels[f] and not {"Comedy", "Romance"} & set(labels[f])]
    bright = [f for f in videos if {"Comedy", "Romance"} & set(labels[f]) and "Horror" not in labels[f]]
    assert dark and bright, labels.to_dict()

    def luma(fid: str) -> float:
        vr = decord.VideoReader(str(demo / "films" / f"{fid}.mp4"))
        frames = vr.get_batch(list(range(0, len(vr), 8))).asnumpy().astype(float)
        return float((frames @ np.array([0.299, 0.587, 0.114])).mean())

    assert max(luma(f) for f in dark) < min(luma(f) for f in bright) - 10


def test_label_prior_follows_the_paper():
    rng = np.random.default_rng(5)
    labels = gen.plan_labels(rng, 2000, list(GENRES_DEFAULT), 3, 0)
    count = {g: sum(g in ls for ls in labels) for g in GENRES_DEFAULT}
    # paper Table 1: Action 55 > Drama 44 > Comedy 37 > Sci-Fi 36 > Romance 13 > Horror 11
    assert count["Action"] > count["Drama"] > count["Comedy"] > max(count["Romance"], count["Horror"])
    assert count["Sci-Fi"] > 2 * max(count["Romance"], count["Horror"])
    single = sum(len(ls) == 1 for ls in labels) / len(labels)
    assert 0.25 < single < 0.35  # 33 of 110
    topped = gen.plan_labels(np.random.default_rng(5), 30, list(GENRES_DEFAULT), 3, 3)
    assert all(sum(g in ls for ls in topped) >= 3 for g in GENRES_DEFAULT)


def test_failed_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    real = gen.encode.write_mp3
    monkeypatch.setattr(gen.encode, "write_mp3", broken)
    with pytest.raises(RuntimeError):
        generate_demo(tmp_path / "out", dict(TINY, n_films=1, jobs=1), GENRES_DEFAULT)
    assert list(tmp_path.iterdir()) == []


def test_unknown_genre_is_refused(tmp_path):
    with pytest.raises(FilmscoreError, match="no music style"):
        generate_demo(tmp_path / "out", TINY, ["Action", "Western"])
    assert not (tmp_path / "out").exists()


def test_not_generated_never_touches_the_corpus(tmp_path):
    corpus = tmp_path / "mine"
    (corpus / "films").mkdir(parents=True)
    (corpus / "films" / "a.mp4").write_bytes(b"user data")
    out = write_not_generated(tmp_path / "demo", corpus)
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["NOT_GENERATED.txt"]
    assert str(corpus) in (out / "NOT_GENERATED.txt").read_text()
    assert (corpus / "films" / "a.mp4").read_bytes() == b"user data"
    write_not_generated(tmp_path / "demo", corpus)  # re-runs replace its own output
    inside = tmp_path / "demo2" / "corpus"
    (inside / "films").mkdir(parents=True)
    (inside / "films" / "a.mp4").write_bytes(b"user data")
    with pytest.raises(FilmscoreError, match="overlaps"):
        write_not_generated(tmp_path / "demo2", inside)
    assert (inside / "films" / "a.mp4").read_bytes() == b"user data"


def test_cli_help_and_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the CLI reads ./params.yaml: a tiny demo
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["demo"] = TINY
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(SystemExit) as e:
        cli_main(["demo", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "OUT" in out and "--force" in out and "--seed" in out and "--jobs" in out

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert cli_main(["demo", str(mine), "--films", "1", "--seconds", "30"]) == 2
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and "--force" in err and str(mine) in err
    assert (mine / "notes.txt").read_text() == "keep me"

    assert cli_main(["demo", str(tmp_path / "x"), "--films", "0"]) == 2
    assert "--films" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

    assert cli_main(["demo", str(mine), "--films", "1", "--seconds", "30", "--seed", "3", "-j", "1", "--force"]) == 0
    assert not (mine / "notes.txt").exists()
    assert sorted(p.name for p in (mine / "films").iterdir()) == ["demo_000.mp4"]
    assert pd.read_csv(mine / "labels.csv").film_id.tolist() == ["demo_000"]
    # a folder the demo itself wrote may be regenerated without --force
    assert cli_main(["demo", str(mine), "--films", "1", "--seconds", "30", "--seed", "3", "-j", "1"]) == 0
