"""The cost model calculator (bench/cost_model.py) on a corpus small enough to work out by hand."""

import subprocess
import sys

import pandas as pd
import pytest

from bench.cost_model import Corpus, corpus_from_tables, stage_hours
from dvcrepo import ROOT, env


@pytest.fixture
def tables():
    manifest = pd.DataFrame([
        ("a", "film", None, 3600.0), ("a", "track", "t1", 600.0), ("a", "track", "t2", 1200.0),
        ("b", "film", None, 1800.0), ("b", "track", "t1", 900.0),
    ], columns=["film_id", "role", "track", "duration"])
    cues = pd.DataFrame([("a", 50.0, 150.0), ("a", 0.0, 100.0), ("a", 1000.0, 1100.0), ("b", 10.0, 60.0)],
                        columns=["film_id", "start", "end"])
    return manifest, cues


def test_corpus_durations_and_music_share(tables):
    c = corpus_from_tables(*tables)
    assert c.film_s == 2700.0                  # (3600 + 1800) / 2
    assert c.soundtrack_s == 1350.0            # (600 + 1200 + 900) / 2
    assert c.music_share == pytest.approx(300 / 5400)  # a: [0,150] + [1000,1100] = 250 (overlap once), b: 50


def test_stage_hours_by_hand(tables):
    c = corpus_from_tables(*tables)
    core, wall = stage_hours(40000, c, "film", 300.0, cores=64, efficiency=0.8, dispatch_s=0.01)
    assert core == pytest.approx(100.0)        # 40000 x 2700 s / 300 / 3600
    assert wall == pytest.approx(100.0 / 51.2 + 40000 * 0.01 / 3600 / 64)
    assert stage_hours(40000, c, "music", 50.0)[0] == pytest.approx(40000 * 150 / 50 / 3600)
    assert stage_hours(40000, c, "soundtrack", 900.0)[0] == pytest.approx(40000 * 1.5 / 3600)
    assert stage_hours(40000, c, "fixed", 0.9)[0] == pytest.approx(10.0)


def test_command_prints_the_table(tables, tmp_path):
    manifest, cues = tables
    manifest.to_csv(tmp_path / "m.csv", index=False)
    cues.to_parquet(tmp_path / "c.parquet")
    r = subprocess.run([sys.executable, "bench/cost_model.py", "--films", "40000", "--cores", "64",
                        "--manifest", str(tmp_path / "m.csv"), "--cues", str(tmp_path / "c.parquet"),
                        "--stage", "cues:film:300", "--stage", "validate:fixed:0.9"],
                       cwd=ROOT, env=env(), capture_output=True, text=True, check=True)
    assert "| cues | film | 300x real time | 100.0 | 1.56 |" in r.stdout
    assert "| validate | fixed | 0.9 core-s/film | 10.0 | 0.16 |" in r.stdout
