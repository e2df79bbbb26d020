"""A track that repeats itself: the cue names the part of the track the film plays, whichever the search ranks first.

Looped music and recapitulated themes recur in a track closely enough for
the phase check to accept the recurrence: a cue matched there names another
part of the track (its track_offset, from which the features are read).
Made at run time from real music (Debian flare-game) under espeak-ng speech:
a track whose second statement of a passage carries another layer, and a
film that plays the first statement.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from filmscore.cues import match, stamp_film
from filmscore.media import decode_audio
from tests.test_cues_quiet import SETTINGS, SR, add_cue, continuous_dialogue, encode, material  # noqa: F401

FIRST, SECOND, LENGTH, FILM_AT = 12.0, 38.0, 16.0, 10.0  # the passage's two statements in the track; where the film
# plays the first


@pytest.fixture(scope="module")
def repeat_film(material, tmp_path_factory):  # noqa: F811
    """(film, soundtrack folder, track name): a track of real music (one recording's passage in another's) whose
    passage at FIRST recurs at SECOND with another layer over it (0.75 of the passage and 0.6 of other music: a
    correlation of about 0.8 with the first statement), and a 40 s film playing the first statement from FILM_AT
    under continuous speech, as loud as the speech."""
    return _looped_film(material, tmp_path_factory.mktemp("repeat"), lambda passage, part: 0.75 * passage + 0.6 * part(
        60, 60 + LENGTH), film_plays_second=False, seed=5)


def _looped_film(material, root, second, film_plays_second: bool, seed: int):  # noqa: F811
    """(film, soundtrack folder, track name) under `root`: a track of real music stating a passage (one recording's)
    at FIRST and `second(passage, part)` at SECOND (`part(a, b)`: seconds a-b of another recording, which makes the
    rest of the track), another track, and a 40 s film playing the first statement (or the second) from FILM_AT
    under continuous speech, as loud as the speech."""
    music, speech = material
    st = root / "soundtrack"
    st.mkdir()
    passage = decode_audio(music[0], SR, channels=2)[int(20 * SR):int((20 + LENGTH) * SR)]
    y = decode_audio(music[1], SR, channels=2)  # everything else of the track: another recording's music
    assert len(y) >= 100 * SR and len(passage) == int(LENGTH * SR), "the test needs 100 s of the second track"

    def part(a: float, b: float) -> np.ndarray:
        return y[int(a * SR):int(b * SR)]

    other = second(passage, part)
    track = np.concatenate([part(0, FIRST), passage, part(30, 30 + SECOND - FIRST - LENGTH), other, part(80, 100)])
    sf.write(st / "looped.wav", track, SR)
    sf.write(st / "other.wav", decode_audio(music[2], SR, channels=2)[:int(60 * SR)], SR)
    talk = continuous_dialogue(speech, 40.0, np.random.default_rng(seed))
    mix = talk.copy()
    add_cue(mix, (other if film_plays_second else passage).mean(axis=1), FILM_AT, 0.0, talk)
    return encode(mix * 0.8, root / "looped.m4a"), st, "looped"


def _repeat_first(monkeypatch) -> None:
    """The search's candidates at the second statement's lag (FILM_AT - SECOND) moved to the front, the others in
    the order the search gave them."""
    merge = match.merge_candidates
    monkeypatch.setattr(match, "merge_candidates", lambda cands, tol=0.5, free=None: sorted(
        merge(cands, tol, free), key=lambda c: abs(c.lag - (FILM_AT - SECOND)) > 1.0))


def test_a_cue_of_a_repeating_track_names_the_statement_the_film_plays_whichever_is_ranked_first(repeat_film,
                                                                                                  monkeypatch):
    film, st, name = repeat_film
    for ranked in ("as searched", "repeat first"):
        if ranked == "repeat first":
            _repeat_first(monkeypatch)
        df = stamp_film(film, st, SETTINGS)
        r = df[df.track == name]
        assert len(r) == 1, (ranked, df)
        r = r.iloc[0]
        assert abs(r.start - FILM_AT) <= 0.5 and abs(r.end - (FILM_AT + LENGTH)) <= 0.5, (ranked, r)
        assert abs(r.track_offset - (FIRST + r.start - FILM_AT)) <= 0.1, (ranked, r)


def test_without_the_rival_check_the_repeat_ranked_first_names_the_wrong_statement(repeat_film, monkeypatch):
    """The negative control: the film above does put the second statement through the phase check first."""
    film, st, name = repeat_film
    _repeat_first(monkeypatch)
    monkeypatch.setattr(match, "REPEAT_RIVAL", np.inf)
    monkeypatch.setattr(match, "RIVAL_SPAN_SECONDS", 0.0)
    df = stamp_film(film, st, SETTINGS)
    r = df[df.track == name]
    assert len(r) >= 1, df
    assert abs(r.iloc[0].track_offset - (SECOND + r.iloc[0].start - FILM_AT)) <= 0.1, df


def _repeat_in_first_pass_truth_in_fine_pass(monkeypatch) -> None:
    """The first pass given a band-frame candidate at the repeat (lag FILM_AT - SECOND; on this film the first pass
    finds nothing of its own), which it accepts; the fine pass's candidates led by one at the first statement (a 5 s
    segment of it), as that pass finds a loop's true statement where the first pass took a repeat."""
    xcorr, fine_search = match.xcorr_candidates, match.fine_candidates

    def looped(tracks) -> int:
        return min((g for g, t in enumerate(tracks) if t.name == "looped"), key=lambda g: abs(tracks[g].speed - 1))

    monkeypatch.setattr(match, "xcorr_candidates", lambda prints, tracks, s: xcorr(prints, tracks, s) + [
        match.Candidate(looped(tracks), "mid", FILM_AT - SECOND, SECOND + 4.0, SECOND + 9.0, 6.0, "xcorr")])
    monkeypatch.setattr(match, "fine_candidates", lambda film, tracks, s, speed, *a, **kw: [
        match.Candidate(looped(tracks), "mid", FILM_AT - FIRST, FIRST + 4.0, FIRST + 9.0, 6.0, "fine")]
        + fine_search(film, tracks, s, speed, *a, **kw))


def test_a_fine_candidate_of_the_true_statement_contends_for_a_cue_the_first_pass_took_at_a_repeat(repeat_film,
                                                                                                   monkeypatch):
    """Scores of two searches are not comparable, yet a candidate of the fine pass at the statement the film plays,
    inside a cue the first pass accepted at the repeat, is read against it: the cue names the statement the film
    plays. With the rival check off (the control), the repeat stays."""
    film, st, name = repeat_film
    _repeat_in_first_pass_truth_in_fine_pass(monkeypatch)
    margin, span = match.REPEAT_RIVAL, match.RIVAL_SPAN_SECONDS
    for rival in (True, False):
        monkeypatch.setattr(match, "REPEAT_RIVAL", margin if rival else np.inf)
        monkeypatch.setattr(match, "RIVAL_SPAN_SECONDS", span if rival else 0.0)
        df = stamp_film(film, st, SETTINGS)
        r = df[df.track == name]
        assert len(r) >= 1, (rival, df)
        statement = FIRST if rival else SECOND
        assert abs(r.iloc[0].track_offset - (statement + r.iloc[0].start - FILM_AT)) <= 0.1, (rival, df)


@pytest.fixture(scope="module")
def varied_film(material, tmp_path_factory):  # noqa: F811
    """(film, soundtrack folder, track name): a loop whose repeats vary, made of real music: the passage at FIRST
    recurs at SECOND the same for its first half and with another layer over its second half (0.75 of the passage
    and 0.6 of other music there), and a 40 s film playing the second statement from FILM_AT under continuous
    speech, as loud as the speech."""
    half = int(LENGTH / 2 * SR)

    def second(passage: np.ndarray, part) -> np.ndarray:
        out = passage.copy()
        out[half:] = 0.75 * passage[half:] + 0.6 * part(60 + LENGTH / 2, 60 + LENGTH)
        return out

    return _looped_film(material, tmp_path_factory.mktemp("varied"), second, film_plays_second=True, seed=6)


def test_a_repeat_that_differs_only_outside_the_candidates_window_is_read_over_the_cue(varied_film, monkeypatch):
    """The first pass accepts the first statement (a band-frame candidate there, in the half the two statements
    share); the fine pass offers the second statement, the one the film plays, by a candidate in the same shared
    half: over its 8 s window the two alignments read alike, over the cue the second reads higher. The cue names
    the second statement; read over the window only (RIVAL_SPAN_SECONDS 0, the control), the first."""
    film, st, name = varied_film

    def looped(tracks) -> int:
        return min((g for g, t in enumerate(tracks) if t.name == name), key=lambda g: abs(tracks[g].speed - 1))

    monkeypatch.setattr(match, "hash_candidates", lambda prints, tracks, s: [])
    monkeypatch.setattr(match, "xcorr_candidates", lambda prints, tracks, s: [
        match.Candidate(looped(tracks), "mid", FILM_AT - FIRST, FIRST + 1.0, FIRST + 6.0, 6.0, "xcorr")])
    monkeypatch.setattr(match, "fine_candidates", lambda film, tracks, s, speed, *a, **kw: [
        match.Candidate(looped(tracks), "mid", FILM_AT - SECOND, SECOND + 1.0, SECOND + 6.0, 6.0, "fine")])
    span = match.RIVAL_SPAN_SECONDS
    for over_cue in (True, False):
        monkeypatch.setattr(match, "RIVAL_SPAN_SECONDS", span if over_cue else 0.0)
        df = stamp_film(film, st, SETTINGS)
        r = df[df.track == name]
        assert len(r) == 1, (over_cue, df)
        r = r.iloc[0]
        assert abs(r.start - FILM_AT) <= 0.5 and abs(r.end - (FILM_AT + LENGTH)) <= 0.5, (over_cue, r)
        statement = SECOND if over_cue else FIRST
        assert abs(r.track_offset - (statement + r.start - FILM_AT)) <= 0.1, (over_cue, df)
