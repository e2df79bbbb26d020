"""Generating the demo corpus: labels, per-film plans, rendering, files.

The corpus is a pure function of the params: the labels come from one
generator seeded with `seed`, and every film (its soundtrack, sound bed, cues
and picture) from its own generator seeded with (seed, film index), so a film
does not depend on the others nor on how many processes render them. ffmpeg
encodes with bitexact flags, so the same params give byte-identical files.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import GENRES_DEFAULT, __version__
from ..errors import FilmscoreError, Problem
from ..files import atomic_dir, write_text
from ..log import progress
from . import encode
from . import film as F
from . import synth as S
from .music import STYLES, TrackSpec, render_track

log = logging.getLogger(__name__)

MARKER = ".filmscore-demo"  # written in every folder this module generates
NOT_GENERATED = "NOT_GENERATED.txt"

# The paper's Table 1 (films per genre among 110): the label prior.
PAPER_GENRE_COUNTS = {"Action": 55, "Comedy": 37, "Drama": 44, "Horror": 11, "Romance": 13, "Sci-Fi": 36}
# Genres per film: 33 of the paper's 110 films had one; the 77 others split here 45/32.
N_GENRES_PRIOR = (33, 45, 32)

DIALOGUE_RMS = 0.1  # -20 dBFS while speaking: the reference the music level is set against
REUSE_PROB = 0.35  # chance a cue reuses a track already cued in the film (same style)
HARD_CUT_PROB = 0.2  # chance a cue starts or ends without a fade
EDGE_S, MIN_GAP_S, MAX_MUSIC_SHARE = 2.0, 3.0, 0.65


@dataclass
class CueSpec:
    track: str
    start: float
    end: float
    track_offset: float
    music_db: float
    fade_in: float
    fade_out: float
    style: str
    foreign: bool


# ------------------------------------------------------------------ planning


def plan_labels(rng: np.random.Generator, n_films: int, genres: list[str], max_genres: int,
                min_per_genre: int) -> list[list[str]]:
    """Multi-label genres with the paper's frequencies (Horror and Romance rare), then topped up
    so every genre labels at least `min_per_genre` films where room allows."""
    w = np.array([PAPER_GENRE_COUNTS[g] for g in genres], dtype=float)
    w /= w.sum()
    kmax = min(max_genres, len(genres))
    pk = np.array(N_GENRES_PRIOR[:kmax], dtype=float)
    pk /= pk.sum()
    labels = []
    for _ in range(n_films):
        k = int(rng.choice(np.arange(1, kmax + 1), p=pk))
        labels.append(set(rng.choice(len(genres), size=k, replace=False, p=w).tolist()))
    short = []
    for gi in np.argsort(w, kind="stable"):  # rarest first
        need = min(min_per_genre, n_films) - sum(gi in s for s in labels)
        for fi in rng.permutation(n_films):
            if need <= 0:
                break
            if gi not in labels[fi] and len(labels[fi]) < kmax:
                labels[fi].add(int(gi))
                need -= 1
        if need > 0:
            short.append(genres[gi])
    if short:
        log.warning("demo: %s label fewer than %d films each (too few films, or demo.max_genres too low)",
                    ", ".join(sorted(short)), min(min_per_genre, n_films))
    return [[genres[i] for i in sorted(s)] for s in labels]


def plan_film(rng: np.random.Generator, film_id: str, labels: list[str], all_genres: list[str],
              p: dict) -> tuple[list[TrackSpec], list[CueSpec]]:
    """Decide a film's soundtrack (track styles, lengths) and its cues (which track, when, how loud)."""
    seconds = float(p["film_seconds"])
    foreign_pool = [g for g in all_genres if g not in labels]
    n_cues = int(rng.integers(p["cues_per_film"][0], p["cues_per_film"][1] + 1))
    styles: list[tuple[str, bool]] = []
    cover = list(rng.permutation(labels))
    for _ in range(n_cues):
        if foreign_pool and rng.random() < p["foreign_cue_prob"]:
            styles.append((str(rng.choice(foreign_pool)), True))
        elif cover:
            styles.append((str(cover.pop()), False))
        else:
            styles.append((str(rng.choice(labels)), False))
    n_tracks = int(rng.integers(p["min_tracks"], p["max_tracks"] + 1))
    t_lo, t_hi = (float(x) for x in p["track_seconds"][:2])

    tracks: list[TrackSpec] = []

    def new_track(style: str, foreign: bool) -> int:
        tracks.append(TrackSpec(film_id, "", style, None, foreign, round(float(rng.uniform(t_lo, t_hi)), 2)))
        return len(tracks) - 1

    cue_track: list[int] = []
    for style, foreign in styles:
        same = [i for i, t in enumerate(tracks) if t.style == style]
        if same and (rng.random() < REUSE_PROB or len(tracks) >= n_tracks):
            cue_track.append(int(rng.choice(same)))
        elif len(tracks) < max(n_tracks, len(set(styles))):
            cue_track.append(new_track(style, foreign))
        else:
            cue_track.append(int(rng.choice(same)) if same else new_track(style, foreign))
    while len(tracks) < n_tracks:  # tracks the film never uses
        if foreign_pool and rng.random() < p["foreign_cue_prob"]:
            new_track(str(rng.choice(foreign_pool)), True)
        else:
            new_track(str(rng.choice(labels)), False)
    for t in tracks:  # a second style's part mixed in: multi-genre music
        others = [g for g in labels if g != t.style]
        if others and rng.random() < 0.5:
            t.layer = str(rng.choice(others))
        elif rng.random() < 0.2:
            t.layer = str(rng.choice([g for g in all_genres if g != t.style]))
    order = rng.permutation(len(tracks))  # names in random order: track numbers tell nothing
    for rank, i in enumerate(order):
        tracks[i].track = f"track{rank + 1:02d}"

    # cue lengths, fitted into the film without overlaps
    c_lo, c_hi = (float(x) for x in p["cue_seconds"][:2])
    durs = np.array([min(rng.uniform(c_lo, c_hi), tracks[i].seconds) for i in cue_track])

    def budget(k: int) -> float:
        return min(MAX_MUSIC_SHARE * seconds, seconds - 2 * EDGE_S - MIN_GAP_S * max(0, k - 1))

    while len(durs) and len(durs) * min(c_lo, durs.min()) > budget(len(durs)):  # too many cues for the film
        durs, cue_track, styles = durs[:-1], cue_track[:-1], styles[:-1]
    if len(durs) and durs.sum() > budget(len(durs)):  # shorten the longer cues, keep the shortest length
        m = min(c_lo, durs.min())
        durs = m + (durs - m) * (budget(len(durs)) - len(durs) * m) / (durs.sum() - len(durs) * m)
    durs = np.floor(durs * 100) / 100
    slack = seconds - 2 * EDGE_S - MIN_GAP_S * max(0, len(durs) - 1) - durs.sum()
    gaps = rng.dirichlet(np.ones(len(durs) + 1)) * max(0.0, slack)
    slot = rng.permutation(len(durs))  # which cue plays first
    cues: list[CueSpec] = []
    t = EDGE_S + gaps[0]
    for j, ci in enumerate(slot):
        d = float(durs[ci])
        tr = tracks[cue_track[ci]]
        start = np.floor(t * 100) / 100
        off = np.floor(rng.uniform(0, max(0.0, tr.seconds - d)) * 100) / 100
        fi = 0.02 if rng.random() < HARD_CUT_PROB else rng.uniform(0.3, min(4.0, d / 4))
        fo = 0.02 if rng.random() < HARD_CUT_PROB else rng.uniform(0.3, min(4.0, d / 4))
        cues.append(CueSpec(tr.track, round(float(start), 2), round(float(start + d), 2), round(float(off), 2),
                            round(float(rng.uniform(*p["music_db"][:2])), 1), round(float(fi), 2), round(float(fo), 2),
                            styles[ci][0], styles[ci][1]))
        t = start + d + MIN_GAP_S + gaps[j + 1]
    return sorted(tracks, key=lambda x: x.track), cues


# ------------------------------------------------------------------ rendering


def _film_rng(seed: int, index: int, part: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index), int(part)])


def render_film(out: str, index: int, film_id: str, labels: list[str], all_genres: list[str], p: dict,
                video: bool) -> dict:
    """Render and write one film, its soundtrack and its cue truth. Runs in a worker process."""
    out_dir = Path(out)
    sr = int(p["sample_rate"])
    seed = int(p["seed"])
    rng = _film_rng(seed, index, 0)
    tracks, cues = plan_film(rng, film_id, labels, all_genres, p)

    st_dir = out_dir / "soundtracks" / film_id
    st_dir.mkdir(parents=True, exist_ok=True)
    segments: list[np.ndarray | None] = [None] * len(cues)  # only the cued parts stay in memory
    for k, spec in enumerate(tracks):
        x = render_track(spec, _film_rng(seed, index, 100 + k), sr)
        encode.write_mp3(st_dir / f"{spec.track}.mp3", x, sr,
                         {"title": f"{spec.track}", "album": f"{film_id} (filmscore demo soundtrack)",
                          "artist": "filmscore demo", "track": str(k + 1)})
        for j, c in enumerate(cues):
            if c.track == spec.track:
                s0 = int(round(c.track_offset * sr))
                segments[j] = x[s0 : s0 + int(round((c.end - c.start) * sr))].copy()

    n = int(round(float(p["film_seconds"]) * sr))
    brng = _film_rng(seed, index, 1)
    scenes = F.plan_scenes(brng, float(p["film_seconds"]))
    dia = F.dialogue(brng, n, sr, scenes) * DIALOGUE_RMS
    ir = S.room_ir(brng, sr, rt60=brng.uniform(0.25, 0.6), damping_hz=brng.uniform(3000, 6000),
                   predelay=brng.uniform(0.003, 0.015))
    mix = dia[:, None] + brng.uniform(0.15, 0.35) * S.convolve_stereo(dia, ir)
    mix += DIALOGUE_RMS * F.ambience_and_whooshes(brng, n, sr, scenes)
    mix += F.effects(brng, n, sr, scenes)
    for c, seg in zip(cues, segments):
        core = seg[int(c.fade_in * sr) : len(seg) - int(c.fade_out * sr)]
        rms = float(np.sqrt(np.mean((core if len(core) > sr else seg) ** 2))) + 1e-9
        gain = DIALOGUE_RMS * 10 ** (c.music_db / 20) / rms
        seg = seg * (gain * S.fade(len(seg), int(c.fade_in * sr), int(c.fade_out * sr)))[:, None]
        a = int(round(c.start * sr))
        mix[a : a + len(seg)] += seg[: n - a]
    peak = float(np.abs(mix).max())
    if peak > 0.95:  # one linear gain for the whole film: every cue keeps its level against the bed
        mix *= 0.95 / peak
    mix = mix.astype(np.float32)

    films_dir = out_dir / "films"
    meta = {"title": film_id, "comment": "filmscore demo film"}
    if video:
        size = (int(p["video_size"][0]), int(p["video_size"][1]))
        frames = F.frame_chunks(_film_rng(seed, index, 2), float(p["film_seconds"]), int(p["video_fps"]), size,
                                labels, scenes)
        path = encode.write_mp4(films_dir / f"{film_id}.mp4", frames, size, int(p["video_fps"]), mix, sr, meta)
    else:
        path = encode.write_mp3(films_dir / f"{film_id}.mp3", mix, sr, meta)

    lines = ["track,start,end,track_offset"] + [f"{c.track},{c.start:.2f},{c.end:.2f},{c.track_offset:.2f}" for c in cues]
    write_text(out_dir / "cues_truth" / f"{film_id}.csv", "\n".join(lines) + "\n")
    return {
        "film_id": film_id,
        "file": path.name,
        "tracks": [t.row() for t in tracks],
        "cues": [{"film_id": film_id, **c.__dict__} for c in cues],
    }


# ------------------------------------------------------------------ the corpus


def _check(p: dict, genres: list[str]) -> None:
    probs = []
    unknown = [g for g in genres if g not in STYLES]
    if unknown:
        probs.append(Problem("params.yaml: corpus.genres", f"the demo has no music style for {unknown}",
                             f"generate the demo with genres from {list(STYLES)}, or point corpus.path at your own corpus"))
    w, h = (int(x) for x in p["video_size"][:2])
    if w % 2 or h % 2:
        probs.append(Problem("params.yaml: demo.video_size", f"{w}x{h} has an odd side", "use even width and height (H.264 4:2:0)"))
    if float(p["cue_seconds"][0]) > float(p["track_seconds"][1]):
        probs.append(Problem("params.yaml: demo.cue_seconds", "shortest cue is longer than the longest track",
                             "make cue_seconds[0] <= track_seconds[1]"))
    if probs:
        raise FilmscoreError(probs, headline="cannot generate the demo corpus")


def _guard(out: Path, force: bool) -> None:
    """Refuse to replace a non-empty folder this module did not generate, unless forced."""
    if out.exists() and not out.is_dir():
        raise FilmscoreError([Problem(str(out), "exists and is not a folder", "choose another output path")],
                             headline="cannot write the demo corpus")
    if force or not out.is_dir() or (out / MARKER).is_file() or not any(out.iterdir()):
        return
    raise FilmscoreError([Problem(str(out), "is not empty and was not generated by `filmscore demo`",
                                  "choose an empty or new folder, or pass --force to replace its contents")],
                         headline="refusing to overwrite")


def film_ids(n_films: int) -> list[str]:
    width = max(3, len(str(n_films - 1)))
    return [f"demo_{i:0{width}d}" for i in range(n_films)]


def audio_only(n_films: int, share: float) -> set[int]:
    """Films written as audio-only MP3s: `share` of them, spread evenly."""
    return {i for i in range(n_films) if int((i + 1) * share) > int(i * share)}


def generate_demo(out: str | Path, params: dict, genres=GENRES_DEFAULT, jobs: int | None = None,
                  force: bool = False) -> Path:
    """Generate the demo corpus into `out` (atomically: it appears complete or not at all).

    `params` is the `demo` section of params.yaml; `genres` the corpus genre set
    (a subset of the six styles). A non-empty `out` that this function did not
    generate is refused unless `force`.
    """
    out = Path(out)
    p = dict(params)
    genres = list(genres)
    _check(p, genres)
    _guard(out, force)
    jobs = int(jobs or p["jobs"])
    t0 = time.time()
    ids = film_ids(int(p["n_films"]))
    labels = plan_labels(np.random.default_rng(int(p["seed"])), len(ids), genres, int(p["max_genres"]),
                         int(p["min_films_per_genre"]))
    audio_idx = set(range(len(ids))) if not p["video"] else audio_only(len(ids), float(p["audio_only_share"]))
    log.info("generating the demo corpus in %s: %d films of %.0f s, seed %d, %d process(es)",
             out, len(ids), float(p["film_seconds"]), int(p["seed"]), jobs)
    with atomic_dir(out) as tmp:
        for d in ("films", "soundtracks", "cues_truth"):
            (tmp / d).mkdir()
        args = [(str(tmp), i, fid, labels[i], genres, p, i not in audio_idx) for i, fid in enumerate(ids)]
        results = _run_all(args, jobs)
        _write_tables(tmp, ids, labels, results, p, genres)
    log.info("demo corpus written to %s in %.1f s: %d films, %d tracks, %d cues", out, time.time() - t0, len(ids),
             sum(len(r["tracks"]) for r in results), sum(len(r["cues"]) for r in results))
    return out


def _run_all(args: list[tuple], jobs: int) -> list[dict]:
    results: dict[int, dict] = {}
    if jobs <= 1 or len(args) <= 1:
        for a in progress(args, desc="demo films", total=len(args), unit="film"):
            results[a[1]] = render_film(*a)
    else:
        # fork where there is one: works from any script (spawn would re-run an unguarded __main__);
        # the parent holds no threads yet (the progress bar starts after the workers)
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(args)), mp_context=ctx) as pool:
            futs = {pool.submit(render_film, *a): a[1] for a in args}  # starts the workers
            try:
                for f in progress(as_completed(futs), desc="demo films", total=len(futs), unit="film"):
                    results[futs[f]] = f.result()  # re-raises a worker's error
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # do not render the rest for nothing
                raise
    return [results[i] for i in sorted(results)]


def _write_tables(tmp: Path, ids: list[str], labels: list[list[str]], results: list[dict], p: dict,
                  genres: list[str]) -> None:
    write_text(tmp / "labels.csv", "film_id,genres\n" + "".join(f"{f},{'|'.join(g)}\n" for f, g in zip(ids, labels)))
    cols = ["film_id", "track", "style", "layer", "foreign", "seconds", "key", "mode", "tempo"]
    rows = [t for r in results for t in r["tracks"]]
    write_text(tmp / "tracks_truth.csv", _csv(cols, rows))
    ccols = ["film_id", "track", "start", "end", "track_offset", "music_db", "fade_in", "fade_out", "style", "foreign"]
    write_text(tmp / "cues_detail.csv", _csv(ccols, [c for r in results for c in r["cues"]]))
    write_text(tmp / "README.txt", readme(p, genres, labels, results))
    settings = {k: v for k, v in p.items() if k != "jobs"}  # the output does not depend on jobs
    write_text(tmp / MARKER, json.dumps({"generator": f"filmscore {__version__}", "params": settings, "genres": genres},
                                        sort_keys=True, indent=1) + "\n")


def _csv(cols: list[str], rows: list[dict]) -> str:
    def fmt(v):
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, float):
            return f"{v:g}" if v == int(v) else f"{v:.2f}".rstrip("0")
        return str(v)
    return ",".join(cols) + "\n" + "".join(",".join(fmt(r[c]) for c in cols) + "\n" for r in rows)


def readme(p: dict, genres: list[str], labels: list[list[str]], results: list[dict]) -> str:
    counts = {g: sum(g in ls for ls in labels) for g in genres}
    n_single = sum(len(ls) == 1 for ls in labels)
    n_cues = sum(len(r["cues"]) for r in results)
    n_foreign = sum(c["foreign"] for r in results for c in r["cues"])
    n_tracks = sum(len(r["tracks"]) for r in results)
    used = sum(len({c["track"] for c in r["cues"]}) for r in results)
    audio_only_films = [r["film_id"] for r in results if r["file"].endswith(".mp3")]
    return f"""filmscore demo corpus (generated; do not edit: re-run `dvc repro demo` or `filmscore demo`)

{len(labels)} synthetic films of {float(p['film_seconds']):.0f} s with multi-label genres, each with its own
procedurally synthesized soundtrack, generated from seed {p['seed']}. Same params, same bytes.

Layout (the filmscore corpus contract):
  films/<film_id>.mp4          H.264 {p['video_size'][0]}x{p['video_size'][1]} at {p['video_fps']} fps + AAC stereo 48 kHz
  films/<film_id>.mp3          audio-only films ({len(audio_only_films)}: {', '.join(audio_only_films) or 'none'})
  soundtracks/<film_id>/<track>.mp3   the film's soundtrack, MP3 44.1 kHz stereo
  labels.csv                   film_id,genres (genres joined by '|')
  cues_truth/<film_id>.csv     track,start,end,track_offset: where each cue really is (seconds)
Extra ground truth (not part of the contract):
  tracks_truth.csv             per track: style (the genre whose character it has), layer (a second
                               style mixed in), foreign (style not among the film's genres), key, mode, tempo
  cues_detail.csv              per cue: music level re dialogue (music_db), fades, style, foreign

Genres: {', '.join(f'{g} {counts[g]}' for g in genres)} films ({n_single} single-genre, {len(labels) - n_single} multi).
Tracks: {n_tracks}, of which {used} are cued in their film; cues: {n_cues}, {n_foreign} of another genre's character.

How it is made
- Music (synthesized at {p['sample_rate']} Hz, band-limited accordingly): each track has a style, one
  of the film's genres (or, now and then, a foreign one), and often a second style's part.
  Horror: low dissonant drones, semitone clusters, stingers, scrapes. Action: fast minor ostinati,
  drums, brass stabs. Romance: slow lush major string chords, legato melody, harp. Comedy:
  bouncy staccato major melodies, oom-pah bass, woodblocks. Drama: slow minor piano lines, dark
  string pads. Sci-Fi: synth pads, arpeggiators with echo, synth bass, FM bells. Keys, tempi,
  modes, instruments and arrangements are drawn per track, and the styles overlap.
- Film audio: a speech-like dialogue bed (formant-filtered voiced syllables and noise consonants,
  centred, with a short room reverb), scene ambiences, whooshes, impacts, footsteps, and the cues:
  segments of the film's soundtrack tracks (random offset, fades) mixed at {p['music_db'][0]} to
  {p['music_db'][1]} dB relative to the dialogue; cues never overlap; some tracks are cued twice,
  some never.
- Picture: smooth random luminance fields with grain, slow motion, cuts and scene changes; brightness
  and contrast lean by genre (horror dark, comedy and romance bright and contrasted, drama flat),
  after the signs of the paper's Table 5.
"""
