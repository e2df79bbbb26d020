"""The `filmscore` command: help, exit codes, and `check` on good and bad corpora."""

import subprocess
import sys

import pandas as pd
import pytest

from filmscore.cli import main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "filmscore", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_subcommands():
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("check", "demo"):
        assert cmd in r.stdout


def test_no_subcommand_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: filmscore" in capsys.readouterr().out


def test_unknown_subcommand_is_usage_error():
    r = run_cli("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_check_valid_corpus_writes_manifest(tiny_corpus, tmp_path):
    out = tmp_path / "m.parquet"
    assert main(["check", str(tiny_corpus), "-o", str(out), "--genres", "Action,Sci-Fi,Romance"]) == 0
    m = pd.read_parquet(out)
    assert set(m.film_id) == {"alpha", "beta"} and len(m) == 6


def test_check_bad_corpus_exit_2_lists_problems_writes_nothing(tiny_corpus, tmp_path):
    (tiny_corpus / "labels.csv").write_text("film_id,genres\nalpha,Western\n")
    out = tmp_path / "m.parquet"
    r = run_cli("check", str(tiny_corpus), "-o", str(out), cwd=tmp_path)
    assert r.returncode == 2
    assert "unknown genre(s) ['Western']" in r.stderr
    assert "no label row for film 'beta'" in r.stderr
    assert "fix:" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".m.parquet*"))
