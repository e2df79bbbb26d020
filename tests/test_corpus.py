"""The corpus contract: validation catches each bad input, all at once, and writes nothing."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from filmscore.corpus import scan_corpus, validate_corpus
from filmscore.errors import FilmscoreError
from filmscore.files import file_hash
from filmscore.media import decode_audio, probe

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]


def problems(root, **kw) -> list:
    with pytest.raises(FilmscoreError) as e:
        validate_corpus(root, GENRES, **kw)
    return e.value.problems


def test_valid_corpus_manifest(tiny_corpus):
    corpus, m = validate_corpus(tiny_corpus, GENRES)
    assert corpus.film_ids == ["alpha", "beta"]
    assert corpus.labels == {"alpha": ["Action", "Sci-Fi"], "beta": ["Romance"]}
    assert corpus.label_matrix().tolist() == [[1, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0]]
    films = m[m.role == "film"].set_index("film_id")
    assert bool(films.loc["alpha", "has_video"]) and not bool(films.loc["beta", "has_video"])
    assert films.loc["alpha", "width"] == 64 and films.loc["alpha", "height"] == 36
    assert films.loc["alpha", "duration"] == pytest.approx(6.0, abs=0.2)
    assert films.loc["beta", "duration"] == pytest.approx(8.0, abs=0.2)
    assert (m[m.role == "track"].sample_rate == 22050).all()
    # content hash is the file's sha256
    row = m[(m.film_id == "beta") & (m.track == "theme")].iloc[0]
    assert row.sha256 == file_hash(tiny_corpus / row.path)
    assert len(m) == 6 and m.genres[m.film_id == "alpha"].iloc[0] == "Action|Sci-Fi"


def test_decoder_gives_known_signal(media_dir):
    x = decode_audio(media_dir / "tone440.mp3", 22050)
    assert len(x) == pytest.approx(6 * 22050, rel=0.01)
    spec = abs(__import__("numpy").fft.rfft(x[22050:44100]))
    assert spec.argmax() == pytest.approx(440, abs=1)  # 1 s of signal: bin = Hz
    st = decode_audio(media_dir / "tone440.mp3", 22050, channels=2, start=1.0, duration=2.0)
    assert st.shape == (2 * 22050, 2)
    assert probe(media_dir / "film.mp4").video.width == 64


def test_missing_corpus_folder(tmp_path):
    probs = problems(tmp_path / "nowhere")
    assert len(probs) == 1 and "corpus folder not found" in probs[0].what and "filmscore demo" in probs[0].fix


def test_empty_folders(tmp_path):
    (tmp_path / "films").mkdir()
    (tmp_path / "soundtracks").mkdir()
    probs = problems(tmp_path)
    text = " ".join(str(p) for p in probs)
    assert "holds no film files" in text and "labels.csv" in text


def test_every_listed_bad_input_reported_at_once(tiny_corpus, media_dir, tmp_path):
    root = tiny_corpus
    # a film with no soundtrack
    shutil.copy(media_dir / "film_audio.mp3", root / "films" / "gamma.mp3")
    # duplicate ids (same stem, two extensions)
    shutil.copy(media_dir / "film_audio.mp3", root / "films" / "alpha.mp3")
    # a truncated MP3 track
    data = (media_dir / "tone440.mp3").read_bytes()
    (root / "soundtracks" / "beta" / "cut.mp3").write_bytes(data[: len(data) // 2])
    # a text file named .mp4
    (root / "films" / "delta.mp4").write_text("not a video")
    (root / "soundtracks" / "delta").mkdir()
    shutil.copy(media_dir / "tone440.mp3", root / "soundtracks" / "delta" / "t.mp3")
    # unknown genre, duplicate label row
    (root / "labels.csv").write_text(
        "film_id,genres\nalpha,Action|Western\nbeta,Romance\nbeta,Drama\ngamma,Drama\ndelta,Horror\n"
    )
    probs = problems(root)
    by = [(Path(p.where).name.split(":")[0], p.what) for p in probs]
    text = "\n".join(f"{w}: {x}" for w, x in by)
    assert "duplicate film id 'alpha'" in text
    assert "gamma: film 'gamma' has no soundtrack folder" in text
    assert "cut.mp3" in text and "truncated" in text
    assert "delta.mp4: not a readable media file" in text
    assert "unknown genre(s) ['Western']" in text
    assert "duplicate film_id 'beta'" in text
    # every problem carries a fix
    assert all(p.fix for p in probs)


def test_labels_with_wrong_columns(tiny_corpus):
    (tiny_corpus / "labels.csv").write_text("movie,genre\nalpha,Action\n")
    probs = problems(tiny_corpus)
    assert any("missing ['film_id', 'genres']" in p.what for p in probs)
    # no cascade of "no label row" errors on top of the column error
    assert not any("no label row" in p.what for p in probs)


def test_missing_label_row_and_empty_soundtrack(tiny_corpus):
    (tiny_corpus / "labels.csv").write_text("film_id,genres\nalpha,Action\n")
    for f in (tiny_corpus / "soundtracks" / "alpha").iterdir():
        f.unlink()
    probs = problems(tiny_corpus)
    text = " ".join(p.what for p in probs)
    assert "no label row for film 'beta'" in text
    assert "soundtrack folder holds no audio files" in text


def test_truth_file_checked(tiny_corpus):
    (tiny_corpus / "cues_truth" / "alpha.csv").write_text("track,start,end\nnosuch,5,2\n")
    probs = problems(tiny_corpus)
    text = " ".join(p.what for p in probs)
    assert "end before they start" in text and "nosuch" in text


def test_full_check_catches_truncation(tiny_corpus, media_dir):
    data = (media_dir / "tone660.mp3").read_bytes()
    (tiny_corpus / "soundtracks" / "alpha" / "chase.mp3").write_bytes(data[: int(len(data) * 0.6)])
    probs = problems(tiny_corpus, quick=False)
    assert any("chase.mp3" in p.where and "truncated" in p.what for p in probs)


def test_scan_does_not_decode(tiny_corpus):
    (tiny_corpus / "films" / "alpha.mp4").write_text("garbage")
    corpus, probs = scan_corpus(tiny_corpus, GENRES)
    assert probs == [] and corpus.film_ids == ["alpha", "beta"]
