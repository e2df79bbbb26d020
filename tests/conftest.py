"""Shared test fixtures: tiny, valid corpora made with ffmpeg at test time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def make_tone(path: Path, freq: float = 440.0, seconds: float = 6.0, stereo: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", f"sine=f={freq}:d={seconds}:r=22050", "-ac", "2" if stereo else "1", str(path))
    return path


def make_video(path: Path, seconds: float = 6.0, freq: float = 300.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", f"testsrc=d={seconds}:s=64x36:r=4", "-f", "lavfi", "-i", f"sine=f={freq}:d={seconds}",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path))
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """A few reusable media files, made once per test session."""
    d = tmp_path_factory.mktemp("media")
    make_video(d / "film.mp4")
    make_tone(d / "tone440.mp3", 440.0)
    make_tone(d / "tone660.mp3", 660.0)
    make_tone(d / "film_audio.mp3", 330.0, seconds=8.0)
    return d


@pytest.fixture
def tiny_corpus(tmp_path, media_dir) -> Path:
    """A valid two-film corpus: one video film, one audio-only film."""
    import shutil

    root = tmp_path / "corpus"
    (root / "films").mkdir(parents=True)
    shutil.copy(media_dir / "film.mp4", root / "films" / "alpha.mp4")
    shutil.copy(media_dir / "film_audio.mp3", root / "films" / "beta.mp3")
    for fid in ("alpha", "beta"):
        st = root / "soundtracks" / fid
        st.mkdir(parents=True)
        shutil.copy(media_dir / "tone440.mp3", st / "theme.mp3")
        shutil.copy(media_dir / "tone660.mp3", st / "chase.mp3")
    (root / "labels.csv").write_text("film_id,genres\nalpha,Action|Sci-Fi\nbeta,Romance\n")
    (root / "cues_truth").mkdir()
    (root / "cues_truth" / "alpha.csv").write_text("track,start,end,track_offset\ntheme,1.0,4.0,0.5\n")
    return root


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """The project's real dvc.yaml run once, end to end, on the tiny generated demo (tests/dvcrepo.py:
    TINY_DEMO_PARAMS): a git + DVC repository whose first commit is the pipeline alone and whose
    second holds the results (dvc.lock and the outputs kept in git). Each stage's run is in `runlog`."""
    from types import SimpleNamespace

    from dvcrepo import TINY_DEMO_PARAMS, commit_all, dvc, git, project_repo

    from filmscore.stage import TRACE_ENV

    root = tmp_path_factory.mktemp("tiny_demo")
    origin = project_repo(root / "origin", TINY_DEMO_PARAMS)
    commit_all(origin, "filmscore pipeline, no results")
    pipeline_commit = git(origin, "rev-parse", "HEAD").stdout.strip()
    runlog = root / "origin.runlog"
    trace = root / "params-read"  # the params keys each stage read (filmscore.stage.TRACE_ENV)
    dvc(origin, "repro", extra_env={"FILMSCORE_RUNLOG": str(runlog), TRACE_ENV: str(trace)}, timeout=1500)
    commit_all(origin, "results of dvc repro")
    return SimpleNamespace(origin=origin, runlog=runlog, pipeline_commit=pipeline_commit, root=root, trace=trace)
