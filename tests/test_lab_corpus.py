"""Your own corpus, end to end (docs/corpus.md): a corpus laid out by hand with ffmpeg-made media
(not the demo generator), with its own genre set, checked by `filmscore check`, versioned with
`dvc add`, and run through the project's DAG with `dvc repro`.

The DAG part runs the stages listed in CORPUS_STAGES, each followed by its check against what
the hand-made corpus holds; the lead extends the list as stages merge (cues: the one known cue
per film, features: rows for those cues, ...).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from dvcrepo import commit_all, dvc, filmscore, git, project_repo

GENRES = ["Western", "Noir", "Musical"]
# film id -> (genres, container, [(track, track start, film start, seconds)], film seconds)
FILMS = {
    "stagecoach": (["Western"], "mp4", [("main_title", 3.0, 5.0, 10.0)], 30.0),
    "laura": (["Noir"], "mp3", [("theme", 2.0, 12.0, 12.0)], 30.0),
    "top_hat": (["Musical", "Noir"], "mkv", [("cheek_to_cheek", 0.0, 4.0, 8.0)], 24.0),
}
TRACK_SECONDS = 20.0


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def melody(path: Path, base: float, seed: float, rate: float = 4.0, seconds: float = TRACK_SECONDS) -> None:
    """A two-voice melody of pseudo-random notes (never repeating, so every excerpt has one place in
    the track), distinct per (base, seed): music-like enough to fingerprint and to analyse."""
    def note(k):
        return f"floor(12*abs(sin(floor(t*{rate})*{k}+{seed})))"
    lead = f"{base}*pow(2\\,{note(12.9898)}/12)"
    bass = f"{base / 2}*pow(2\\,{note(78.233)}/24)"
    env = f"(1-0.6*mod(t*{rate}\\,1))"
    expr = f"{env}*(0.35*sin(2*PI*t*{lead})+0.15*sin(4*PI*t*{lead}))+0.2*sin(2*PI*t*{bass})"
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc=exprs='{expr}|{expr}':s=44100:d={seconds}", "-c:a", "libmp3lame",
           "-b:a", "128k", str(path))


def film(path: Path, seconds: float, track: Path, track_start: float, film_start: float, dur: float,
         video: bool) -> None:
    """A dialogue-like bed (pink noise) with the track's excerpt mixed in at a known time."""
    delay = int(film_start * 1000)
    graph = (f"[1:a]atrim=start={track_start}:duration={dur},asetpts=PTS-STARTPTS,"
             f"adelay={delay}|{delay},apad[m];[0:a][m]amix=inputs=2:duration=first:normalize=0[a]")
    args = ["-f", "lavfi", "-i", f"anoisesrc=c=pink:a=0.05:d={seconds}:r=44100", "-i", str(track)]
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc=d={seconds}:s=64x36:r=4"]
    args += ["-filter_complex", graph, "-map", "[a]"]
    if video:
        args += ["-map", "2:v", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    args += ["-ac", "2", "-c:a", "aac" if path.suffix in (".mp4", ".mkv") else "libmp3lame", str(path)]
    ffmpeg(*args)


@pytest.fixture(scope="module")
def hand_corpus(tmp_path_factory) -> Path:
    """The corpus as docs/corpus.md lays it out, made by hand."""
    root = tmp_path_factory.mktemp("own") / "corpus"
    labels = ["film_id,genres"]
    for i, (fid, (genres, ext, cues, seconds)) in enumerate(FILMS.items()):
        st = root / "soundtracks" / fid
        st.mkdir(parents=True)
        used = cues[0][0]
        melody(st / f"{used}.mp3", base=220 + 70 * i, seed=1.0 + i)
        melody(st / "end_credits.mp3", base=330 + 50 * i, seed=7.0 + i)  # on the album, never in the film
        (root / "films").mkdir(exist_ok=True)
        track, t0, f0, dur = cues[0]
        film(root / "films" / f"{fid}.{ext}", seconds, st / f"{track}.mp3", t0, f0, dur, video=ext != "mp3")
        labels.append(f"{fid},{'|'.join(genres)}")
        truth = root / "cues_truth"
        truth.mkdir(exist_ok=True)
        (truth / f"{fid}.csv").write_text("track,start,end,track_offset\n"
                                          + "".join(f"{t},{f},{f + d},{s}\n" for t, s, f, d in cues))
    (root / "labels.csv").write_text("\n".join(labels) + "\n")
    return root


def test_filmscore_check_accepts_the_hand_made_corpus(hand_corpus, tmp_path):
    out = tmp_path / "manifest.csv"
    r = filmscore(tmp_path, "check", str(hand_corpus), "--genres", ",".join(GENRES), "-o", str(out))
    assert "is valid: 3 films, 6 tracks" in r.stderr
    m = pd.read_csv(out)
    films = m[m.role == "film"].set_index("film_id")
    assert set(films.index) == set(FILMS)
    for fid, (genres, ext, _, seconds) in FILMS.items():
        assert films.loc[fid, "duration"] == pytest.approx(seconds, abs=0.2)
        assert bool(films.loc[fid, "has_video"]) == (ext != "mp3")
        assert films.loc[fid, "genres"] == "|".join(genres)
    assert (m[m.role == "track"].duration.round() == TRACK_SECONDS).all()


def test_filmscore_check_with_the_paper_genres_names_every_unknown_label(hand_corpus, tmp_path):
    r = filmscore(tmp_path, "check", str(hand_corpus), "--genres", "Action,Comedy,Drama,Horror,Romance,Sci-Fi",
                  check=False)
    assert r.returncode == 2
    for fid in FILMS:
        assert f"film {fid!r} has unknown genre(s)" in r.stderr
    assert "add them to corpus.genres in params.yaml" in r.stderr


# stage -> check of its outputs in the repository, for the hand-made corpus
def _check_validate(repo: Path) -> None:
    m = pd.read_parquet(repo / "data" / "manifest.parquet")
    assert sorted(m[m.role == "film"].film_id) == sorted(FILMS)
    assert len(m[m.role == "track"]) == 2 * len(FILMS)
    assert dict(zip(m[m.role == "film"].film_id, m[m.role == "film"].genres)) == {
        fid: "|".join(g) for fid, (g, *_) in FILMS.items()}


def _check_cues(repo: Path) -> None:
    """Each film's one cue is found where it was mixed in, from the right track and offset;
    the album track the films never use is not reported."""
    cues = pd.read_parquet(repo / "data" / "cues" / "cues.parquet")
    assert sorted(cues.film_id.unique()) == sorted(FILMS)
    for fid, (_, _, truth, _) in FILMS.items():
        found = cues[cues.film_id == fid]
        assert len(found) == len(truth), found
        for (track, track_start, film_start, dur), (_, row) in zip(truth, found.iterrows()):
            assert row.track == track
            assert row.start == pytest.approx(film_start, abs=0.5)
            assert row.end == pytest.approx(film_start + dur, abs=0.5)
            assert row.track_offset == pytest.approx(track_start, abs=0.5)
            assert row.cue_id == f"{fid}:0000"


def _check_cues_eval(repo: Path) -> None:
    m = json.loads((repo / "reports" / "cues" / "metrics.json").read_text())
    assert set(m) == {"cue_precision", "cue_recall", "cue_f1", "time_precision", "time_recall", "time_f1",
                      "exact_cue_precision", "exact_cue_recall", "exact_time_precision", "exact_time_recall"}
    assert m["cue_recall"] == 1.0 and m["cue_precision"] == 1.0
    assert m["exact_cue_recall"] == 1.0 and m["exact_cue_precision"] == 1.0  # the same album recordings
    assert m["time_f1"] > 0.9
    s = json.loads((repo / "reports" / "cues" / "summary.json").read_text())  # the whole evaluation
    assert s["n_films"] == len(FILMS) and s["n_true"] == len(FILMS) and s["time_f1"] == m["time_f1"]


def _check_features(repo: Path) -> None:
    """MIR and visual bags for the found cues; the networks without weights are skipped, saying why."""
    root = repo / "data" / "features"
    cue_ids = sorted(f"{fid}:0000" for fid in FILMS)
    mir = pd.read_parquet(root / "mir" / "cues.parquet")
    assert sorted(mir.cue_id) == cue_ids and mir.drop(columns=["film_id", "cue_id", "start", "end"]).notna().all().all()
    frames = pd.read_parquet(root / "mir" / "frames.parquet")
    for fid, (_, _, truth, _) in FILMS.items():  # 1 Hz frames over each cue
        assert abs((frames.film_id == fid).sum() - truth[0][3]) <= 1
    visual = pd.read_parquet(root / "visual" / "cues.parquet")
    assert sorted(visual.film_id) == sorted(f for f, (_, ext, _, _) in FILMS.items() if ext != "mp3")
    for net in ("vggish", "openl3"):
        status = json.loads((root / net / "status.json").read_text())
        if status["status"] == "skipped":
            assert status["reason"]
            assert len(pd.read_parquet(root / net / "cues.parquet")) == 0


CORPUS_STAGES = {"validate": _check_validate, "cues": _check_cues, "cues_eval": _check_cues_eval,
                 "features": _check_features}


@pytest.mark.slow
def test_dag_end_to_end_on_the_hand_made_corpus(hand_corpus, tmp_path):
    # as docs/corpus.md says: the corpus in the repository, versioned by DVC, named in params.yaml
    repo = project_repo(tmp_path / "project", {"corpus": {"path": "data/my_corpus", "genres": GENRES}})
    shutil.copytree(hand_corpus, repo / "data" / "my_corpus")
    dvc(repo, "add", "-q", "data/my_corpus")
    commit_all(repo, "our corpus")
    assert git(repo, "check-ignore", "-q", "data/my_corpus", check=False).returncode == 0  # media stay out of git

    dvc(repo, "repro", "-q", *CORPUS_STAGES)
    for stage, check in CORPUS_STAGES.items():
        check(repo)
    status = dvc(repo, "status", *CORPUS_STAGES).stdout
    assert "Data and pipelines are up to date" in status
    # a change to the corpus is seen: a re-labelled film makes validate stale again
    labels = repo / "data" / "my_corpus" / "labels.csv"
    labels.write_text(labels.read_text().replace("laura,Noir", "laura,Noir|Musical"))
    assert "validate" in dvc(repo, "status", "validate").stdout
