"""User-facing errors: rendering, and surviving the trip through a process pool."""

import pickle

from filmscore.errors import FilmscoreError, MediaError, ParamsError, Problem


def test_render_lists_every_problem_with_fix():
    e = FilmscoreError([Problem("a.mp3", "truncated", "re-export it"), Problem("labels.csv", "bad column")])
    text = e.render()
    assert text.splitlines()[0] == "2 problem(s) found:"
    assert "a.mp3: truncated" in text and "fix: re-export it" in text and "labels.csv: bad column" in text


def test_errors_pickle_roundtrip():
    for err in (MediaError("/x/film.mp4", "cannot be decoded", "replace it"),
                ParamsError([Problem("params.yaml: model.pol", "unknown key", "did you mean 'model.pool'?")]),
                FilmscoreError("plain message")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert back.problems == err.problems and back.render() == err.render()
    assert pickle.loads(pickle.dumps(MediaError("/x/f.mp4", "bad"))).path == "/x/f.mp4"
