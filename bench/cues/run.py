"""Benchmark of the Score Stamper against the peer audfprint on film-like mixtures.

    PYTHONPATH=src:. python bench/cues/run.py            # a few minutes
    PYTHONPATH=src:. python bench/cues/run.py --full     # + the 2-hour film speed test (builds it once)

Material (fetched once with `apt-get download` + `dpkg -x` into .bench/, which
git ignores): real game music (Debian flare-game, naev-data), real speech
(hedgewars-data voice clips and espeak-ng sentences), sound effects
(hedgewars-data). Each film has a dialogue bed (centred, with a stereo room
reverb) and effects; cues from its soundtrack, one track used twice; distractor
music that is not in the soundtrack. One film per condition of issue 13
(`CONDITIONS`, `--films-per-condition`, `--conditions`): plain (music 0 to -15
dB under the dialogue), NTSC pull-down (1000/1001), PAL (25/24, pitch up), PAL
pitch-corrected (25/24 time-stretched by ffmpeg's atempo), edited cues (2-3
pieces of at least 2 s, 3-12 s of the track skipped), renditions (every other cue another
rendition of its track, 2-4 % faster or slower with its pitch kept and remixed:
bench/cues/remix.py, so it shares no waveform with the album), heavy dialogue (music 8-12 dB under continuous speech, mono,
low-passed at 3-5 kHz, cues 8-28 s), moderate dialogue (4-10 dB under, low-passed
at 4-12 kHz, cues 10-47 s; stereo and mono) and a 5.1 film (dialogue dry in the
centre, its room in the surrounds, music in the front pair and surrounds).
Not a row of the issue, `film_mix` is a film mixed as films are: the music
ducked 6-12 dB under the dialogue by a side-chain, each cue faded in and out
over 0.5-4 s, the music sent to a 1.2 s room, the mix through a bus
compressor. `in_scene` plays every cue inside the scene, from a small
loudspeaker (mono, 250-4000 Hz, driven into soft clipping, in a room,
panned off centre). Films are AAC-encoded (as a film would be); tracks stay the original Ogg Vorbis
files. Everything is generated at run time.

Printed side by side for both systems, per condition: time-level precision,
recall, cue level, median boundary error, the share of cues that name another
part of their track than the film plays (`off bad`: offset error over 0.5 s,
`evaluate.OFFSET_WRONG_SECONDS`), x real time (CPU) and the median
error of the estimated playback speed; overall: F1, offsets, and speed as x real time, both wall-clock and
CPU (this process and its ffmpeg children, user + system: the figure that holds
on a shared machine), one core: BLAS threads are pinned to 1 before numpy
loads. filmscore is timed with its soundtrack prints cached (a first pass fills
the cache), audfprint with its database built.

`--full` also builds (once) a 2-hour stereo film over a 1-hour soundtrack, made
like the bench films with a truth table, and times it in a fresh process, with
the tracks' PCM cached and without (decoded again): wall, CPU, peak RSS, and
the accuracy on it.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import soundfile as sf  # noqa: E402
from scipy.signal import fftconvolve, resample  # noqa: E402

from filmscore.cues.cache import PrintCache  # noqa: E402
from filmscore.cues.evaluate import evaluate  # noqa: E402
from filmscore.cues.settings import StampSettings  # noqa: E402
from filmscore.cues.stamp import stamp_film  # noqa: E402
from filmscore.errors import FilmscoreError  # noqa: E402
from filmscore.media import decode_audio, probe  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: bench.material
from bench.material import audible_span, espeak_wav, fetch_packages  # noqa: E402

try:  # run as a script (python bench/cues/run.py) or imported as bench.cues.run
    from remix import rendition as other_rendition  # noqa: E402
except ImportError:
    from bench.cues.remix import rendition as other_rendition  # noqa: E402

ROOT = Path(".bench")
PKGS = ["flare-game", "naev-data", "hedgewars-data", "espeak-ng", "libespeak-ng1", "espeak-ng-data",
        "libpcaudio0", "libsonic0"]
SR = 22050
SENTENCES = [
    "I told you we should never have come back to this place.", "Where were you last night when the lights went out?",
    "Keep your voice down, they can hear everything we say.", "The ship leaves at dawn, with or without you.",
    "Do you remember the summer we spent by the lake?", "Nobody walks away from this, not this time.",
    "We have three minutes before the doors seal for good.", "She said she would wait, but that was years ago.",
    "Give me the map and nobody gets hurt.", "I am not asking you, I am telling you.",
    "It was never about the money, it was about the family.", "Listen to me, the signal is coming from inside.",
    "Captain, the engines will not hold much longer.", "You always know exactly what to say, don't you?",
    "There is something in the water, I saw it move.", "Let us go home, it is getting late and cold.",
]


# ---------------------------------------------------------------- material


def fetch() -> Path:
    if any(not (ROOT / "pkgs" / p).is_dir() for p in PKGS):
        print("fetching the Debian packages (apt-get download)...", file=sys.stderr)
    return fetch_packages(PKGS, ROOT)


def music_files(pk: Path) -> list[Path]:
    files = sorted((pk / "flare-game").rglob("music/*.ogg")) + sorted((pk / "naev-data").rglob("music/*.ogg"))
    listing = ROOT / "music_ok.json"
    if listing.is_file():
        return [Path(p) for p in json.loads(listing.read_text())]
    ok = []
    for f in files:
        if "ambient" in f.name:
            continue
        try:  # a few files carry timestamps ffmpeg complains about: leave them out
            decode_audio(f, 8000)
            ok.append(f)
        except FilmscoreError:
            pass
    listing.write_text(json.dumps([str(p) for p in ok]))
    return ok


def load(path: Path, channels: int = 2) -> np.ndarray:
    return decode_audio(path, SR, channels=channels)


def espeak(pk: Path, text: str, voice: str, pitch: int, speed: int, out: Path) -> np.ndarray:
    return load(espeak_wav(pk, text, out, voice, pitch, speed), 1)


def speech_pool(pk: Path, rng: np.random.Generator) -> list[np.ndarray]:
    cache = ROOT / "speech"
    cache.mkdir(parents=True, exist_ok=True)
    pool = []
    voices = ["en", "en-us", "en-gb-x-rp", "en+f3", "en+m3", "en+f2"]
    for i, text in enumerate(SENTENCES):
        for j, v in enumerate(voices[:3] if i % 2 else voices[3:]):
            out = cache / f"s{i}_{j}.wav"
            try:
                pool.append(load(out, 1) if out.is_file() else espeak(pk, text, v, 30 + 10 * j, 150 + 10 * j, out))
            except (subprocess.CalledProcessError, StopIteration, OSError):
                pass
    voices_dir = next((pk / "hedgewars-data").rglob("Sounds/voices"))
    clips = sorted(voices_dir.rglob("*.ogg"))
    for f in rng.choice(clips, size=min(150, len(clips)), replace=False):
        pool.append(load(Path(f), 1))
    return [p / (np.sqrt(np.mean(p ** 2)) + 1e-9) * 0.1 for p in pool if len(p) > SR // 4]


def effects_pool(pk: Path) -> list[np.ndarray]:
    d = next((pk / "hedgewars-data").rglob("Data/Sounds"))
    files = sorted(f for f in d.glob("*.ogg"))[:60]
    return [load(f, 1) for f in files]


def rir(rng: np.random.Generator, rt60: float = 0.45) -> np.ndarray:
    n = int(rt60 * SR)
    t = np.arange(n) / SR
    env = np.exp(-6.9 * t / rt60)
    h = rng.standard_normal((n, 2)) * env[:, None]
    h[: int(0.01 * SR)] = 0  # pre-delay
    return (h / np.sqrt((h ** 2).sum(axis=0))).astype(np.float32)


# ---------------------------------------------------------------- films


def dialogue(n: int, speech: list[np.ndarray], rng: np.random.Generator, pause=(0.15, 1.2)) -> np.ndarray:
    out = np.zeros(n, np.float32)
    t = int(rng.uniform(0, 1) * SR)
    while t < n:
        s = speech[rng.integers(len(speech))]
        m = min(len(s), n - t)
        out[t:t + m] += s[:m]
        t += m + int(rng.uniform(*pause) * SR)
    return out


def stretch(x: np.ndarray, tempo: float) -> np.ndarray:
    """x played `tempo` times as fast with its pitch kept (ffmpeg's atempo, a WSOLA time-stretcher)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        a, b = Path(d) / "a.wav", Path(d) / "b.wav"
        sf.write(a, x, SR)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(a), "-af", f"atempo={tempo:.9f}", str(b)], check=True)
        return sf.read(b, dtype="float32", always_2d=True)[0]


def play_at(x: np.ndarray, speed: float, pitch_kept: bool) -> np.ndarray:
    """x played `speed` times as fast: resampled (pitch moves) or time-stretched (pitch kept)."""
    if speed == 1.0:
        return x
    if pitch_kept:
        return stretch(x, speed)
    return resample(x, int(round(len(x) / speed)), axis=0).astype(np.float32)


def lowpass(x: np.ndarray, hz: float) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    if hz >= 0.99 * SR / 2:  # a cut-off at or above Nyquist (moderate conditions draw up to 12 kHz): nothing to cut
        return x
    return sosfiltfilt(butter(8, hz, fs=SR, output="sos"), x, axis=0).astype(np.float32)


CONTROL_SECONDS = 0.005  # control rate of the mixing automation below (ducking, compression)


def _follow(level_db: np.ndarray, attack_s: float, release_s: float) -> np.ndarray:
    """A one-pole follower of a control signal (dB, one value per CONTROL_SECONDS): it falls with `attack_s` and
    rises with `release_s` (a gain that dips fast and recovers slowly), as a mixer's dynamics do."""
    a_att, a_rel = (float(np.exp(-CONTROL_SECONDS / t)) for t in (attack_s, release_s))
    out = np.empty_like(level_db)
    g = float(level_db[0]) if len(level_db) else 0.0
    for i, v in enumerate(level_db):
        a = a_att if v < g else a_rel
        g = a * g + (1 - a) * float(v)
        out[i] = g
    return out


def _to_samples(ctrl: np.ndarray, n: int) -> np.ndarray:
    """A control signal (one value per CONTROL_SECONDS) at every one of n samples, linearly interpolated."""
    step = int(CONTROL_SECONDS * SR)
    return np.interp(np.arange(n), np.arange(len(ctrl)) * step + step / 2, ctrl).astype(np.float32)


def _block_db(x: np.ndarray, peak: bool = False) -> np.ndarray:
    """Level (dB) of x (samples, or samples x channels) per CONTROL_SECONDS block: RMS, or peak."""
    step = int(CONTROL_SECONDS * SR)
    m = len(x) // step
    b = np.abs(x[:m * step]).reshape(m, step, -1)
    v = b.max(axis=(1, 2)) if peak else np.sqrt((b ** 2).mean(axis=(1, 2)))
    return 20 * np.log10(v + 1e-9)


def duck(dialogue_dry: np.ndarray, depth_db: float, rng: np.random.Generator) -> np.ndarray:
    """A music gain (per sample) ducked by `depth_db` while the dialogue speaks: a side-chain from the dry dialogue's
    level (speaking: within 30 dB of its loudest 20 ms), attack 50-120 ms, release 300-800 ms."""
    lev = _block_db(dialogue_dry)
    smooth = np.convolve(lev, np.ones(4) / 4, mode="same")  # 20 ms
    speaking = smooth > float(np.percentile(smooth, 99)) - 30
    target = np.where(speaking, -depth_db, 0.0)
    g = _follow(target, rng.uniform(0.05, 0.12), rng.uniform(0.3, 0.8))
    return 10 ** (_to_samples(g, len(dialogue_dry)) / 20)


def compress(x: np.ndarray, threshold_db: float = -18.0, ratio: float = 4.0) -> np.ndarray:
    """A mix-bus compressor: peak level above `threshold_db` (re the mix's loudest block) reduced by `ratio`,
    attack 5 ms, release 150 ms, both channels by one gain."""
    lev = _block_db(x, peak=True)
    over = np.maximum(lev - (float(lev.max()) + threshold_db), 0.0)
    g = _follow(-over * (1 - 1 / ratio), 0.005, 0.15)
    return (x * 10 ** (_to_samples(g, len(x)) / 20)[:, None]).astype(np.float32)


def loudspeaker(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """x (samples x 2) as music playing inside the scene: a small loudspeaker (mono, 250-4000 Hz, driven into soft
    clipping) in a room (0.6 s), panned off centre; at x's RMS, so that the cue's level is the one drawn."""
    from scipy.signal import butter, sosfilt

    y = sosfilt(butter(4, (250, 4000), btype="bandpass", fs=SR, output="sos"), x.mean(axis=1))
    y = np.tanh(3 * y / (np.abs(y).max() + 1e-9))  # driven to its limit
    pan = rng.uniform(0.15, 0.35) if rng.uniform() < 0.5 else rng.uniform(0.65, 0.85)
    dry = y[:, None] * np.array([pan, 1 - pan])
    out = dry + fftconvolve(dry, rir(rng, 0.6), axes=0)[:len(y)] * 0.5
    return (out * np.sqrt(np.mean(x ** 2) / (np.mean(out ** 2) + 1e-20))).astype(np.float32)


MIN_PIECE_SECONDS = 2.0  # an edited cue's pieces last at least this long (a cue is: cues.extent.min_cue_seconds)


def edit_pieces(dur: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An edited cue of `dur` seconds (over 2 * MIN_PIECE_SECONDS): the lengths of its 2-3 pieces and the track
    seconds skipped between them (3-12 s each).

    The cuts are drawn at least MIN_PIECE_SECONDS from the cue's ends; a cut
    closer than that to the one before it is dropped with a skip, so that no
    piece is shorter (two cuts drawn 0.1 s apart made a truth row of 0.1 s
    that no matcher reports). The draws are the same whatever is dropped: the
    films drawn after are the same."""
    k = int(rng.integers(2, 4))
    cuts = np.sort(rng.uniform(MIN_PIECE_SECONDS, dur - MIN_PIECE_SECONDS, k - 1))
    skips = rng.uniform(3, 12, k - 1)
    kept = []
    for c in cuts:
        if c - (kept[-1] if kept else 0.0) >= MIN_PIECE_SECONDS:
            kept.append(c)
    return np.diff(np.concatenate([[0.0], kept, [dur]])), skips[:len(kept)]


def make_film(name: str, tracks: dict[str, np.ndarray], distractors: list[np.ndarray], speech, effects,
              rng: np.random.Generator, seconds: float, music_db=(-15.0, 0.0), mono: bool = False,
              speed: float = 1.0, pitch_kept: bool = False, edited: bool = False, rendition: bool = False,
              lowpass_hz=None, cue_seconds=(8.0, 60.0), pause=(0.15, 1.2), surround: bool = False,
              n_cues: int = 6, duck_db=None, fade_seconds=None, music_room: bool = False, bus_compress: bool = False,
              in_scene: bool = False, **_) -> tuple[np.ndarray, pd.DataFrame]:
    """A film of dialogue, effects and cues of its soundtrack (plus distractor music), and its truth table.

    Every cue's music level is drawn from `music_db` (dB re the dialogue).
    `speed`/`pitch_kept`: the whole film plays its music that fast (a
    transfer). `edited`: each cue is 2-3 pieces of its track with 3-12 s of the
    track skipped between (one truth row per piece). `rendition`: every other
    cue is another rendition of the track (`remix.rendition`: 2-4 % faster or
    slower with its pitch kept, re-synthesised and remixed; truth column
    `rendition` true). `lowpass_hz`:
    the mix is low-passed at a frequency drawn from this range. `surround`:
    5.1 (FL FR FC LFE BL BR), the dialogue dry in the centre and its room in
    the surrounds, music and effects in the front pair and (at -6 dB) the
    surrounds. A film mixed as films are (`film_mix`): `duck_db`, the
    music ducked by a depth drawn from this range while the dialogue speaks
    (`duck`); `fade_seconds`, each cue faded in and out over lengths drawn from
    this range (equal-power; the truth spans the whole fade); `music_room`, the
    music sent to a long room reverb (1.2 s, at -10 dB); `bus_compress`, the
    whole mix through a bus compressor (`compress`). `in_scene`: every cue
    (and distractor) played from a small loudspeaker in the scene
    (`loudspeaker`).
    """
    n = int(seconds * SR)
    film = np.zeros((n, 2), np.float32)
    dry = dialogue(n, speech, rng, pause)
    wet = fftconvolve(dry[:, None], rir(rng), axes=0)[:n]
    centre = np.zeros(n, np.float32)
    if surround:
        centre += dry
    else:
        film += dry[:, None] * 0.8 + wet * 0.35  # centred dialogue + stereo room
    for _ in range(int(seconds / 20)):
        e = effects[rng.integers(len(effects))]
        p = int(rng.uniform(0, max(1, n - len(e))))
        pan = rng.uniform(0.2, 0.8)
        m = min(len(e), n - p)
        film[p:p + m] += e[:m, None] * np.array([pan, 1 - pan]) * 0.5
    dial_rms = float(np.sqrt(np.mean(dry[dry != 0] ** 2)))
    mixed = duck_db is not None or music_room
    bus = np.zeros((n, 2), np.float32) if mixed else film  # music on a bus of its own where it is ducked or sent
    names = list(tracks)
    played = {nm: play_at(x, speed, pitch_kept) for nm, x in tracks.items()}
    t = rng.uniform(3, 10)
    rows = []
    plan = [names[i % len(names)] for i in range(n_cues)]
    plan[-1] = plan[0]  # a track used twice
    items = [(nm, False) for nm in plan] + [(None, True) for _ in range(max(1, n_cues // 3))]
    rng.shuffle(items)
    k_cue = 0
    for nm, is_distractor in items:
        cue_speed = speed
        if is_distractor:
            src = distractors[rng.integers(len(distractors))]
        elif rendition and k_cue % 2 == 1:
            cue_speed = float(rng.choice([-1, 1]) * rng.uniform(0.02, 0.04) + 1.0)
            src = other_rendition(tracks[nm], SR, cue_speed, seed=int(rng.integers(1 << 30)))
        else:
            src = played[nm]
        k_cue += 0 if is_distractor else 1
        lo, hi = audible_span(src, SR)  # cues are drawn inside the audible music
        dur = min(rng.uniform(*cue_seconds), hi - lo - 1)
        if t + dur > seconds - 2:
            break
        a = int(t * SR)
        gain = dial_rms * 10 ** (rng.uniform(*music_db) / 20)
        # pieces: (film start, source start, length) in samples
        if edited and not is_distractor and dur > 6:
            lens, skips = edit_pieces(dur, rng)
            k, need = len(lens), dur + skips.sum()
            if need > hi - lo - 1:
                k, lens, skips, need = 1, np.array([dur]), np.zeros(0), dur
            off = rng.uniform(lo, hi - need)
            pieces, o, f = [], off, 0.0
            for i, ln in enumerate(lens):
                pieces.append((a + int(f * SR), int(o * SR), int(ln * SR)))
                f += ln
                o += ln + (skips[i] if i < len(skips) else 0)
        else:
            off = rng.uniform(lo, hi - dur)
            pieces = [(a, int(off * SR), int(dur * SR))]
        seg_all = np.concatenate([src[s0:s0 + m] for _, s0, m in pieces])
        rms = float(np.sqrt(np.mean(seg_all ** 2))) + 1e-9
        if fade_seconds is None:
            fade = int(0.3 * SR)
            ramp = ramp_out = np.linspace(0, 1, fade, dtype=np.float32)[:, None]
        else:  # equal-power fades, each at most a third of the cue
            fin, fout = (int(min(rng.uniform(*fade_seconds), dur / 3) * SR) for _ in range(2))
            ramp, ramp_out = (np.sin(np.linspace(0, np.pi / 2, k, dtype=np.float32))[:, None] for k in (fin, fout))
        for j, (f0, s0, m) in enumerate(pieces):
            seg = loudspeaker(src[s0:s0 + m], rng) if in_scene else src[s0:s0 + m].copy()
            if j == 0:
                seg[:len(ramp)] *= ramp[:len(seg)]
            if j == len(pieces) - 1:
                seg[len(seg) - len(ramp_out):] *= ramp_out[::-1][-len(seg):]
            bus[f0:f0 + len(seg)] += seg * (gain / rms)
            if not is_distractor:
                rows.append({"track": nm, "start": f0 / SR, "end": (f0 + len(seg)) / SR,
                             "track_offset": s0 / SR * cue_speed, "speed": cue_speed,
                             "rendition": bool(cue_speed != speed)})
        t += dur + rng.uniform(3, 15)
    if mixed:
        if duck_db is not None:
            bus *= duck(dry, float(rng.uniform(*duck_db)), rng)[:, None]
        if music_room:
            bus += fftconvolve(bus, rir(rng, 1.2), axes=0)[:n] * 0.3
        film += bus
    if surround:
        rear = film * 0.5 + wet * 0.35
        x = np.stack([film[:, 0], film[:, 1], centre * 0.8, np.zeros(n, np.float32), rear[:, 0], rear[:, 1]], axis=1)
    else:
        x = np.repeat(film.mean(axis=1, keepdims=True), 2, axis=1) if mono else film
    if lowpass_hz:
        x = lowpass(x, float(rng.uniform(*lowpass_hz)))
    if bus_compress:
        x = compress(x)
    x /= max(1.0, float(np.abs(x).max()) / 0.95)
    return (x[:, :1] if mono else x), pd.DataFrame(rows)


# the conditions of issue 13, one film each (more with --films-per-condition); music level dB re the dialogue
CONDITIONS = {
    "plain": dict(music_db=(-15, 0)),
    "ntsc": dict(music_db=(-10, 0), speed=1000 / 1001),
    "pal": dict(music_db=(-10, 0), speed=25 / 24),
    "pal_pitch_kept": dict(music_db=(-10, 0), speed=25 / 24, pitch_kept=True),
    "edited": dict(music_db=(-10, 0), edited=True),
    "rendition": dict(music_db=(-10, 0), rendition=True),
    "heavy_mono": dict(music_db=(-12, -8), mono=True, lowpass_hz=(3000, 5000), cue_seconds=(8, 28), pause=(0.05, 0.3)),
    "moderate": dict(music_db=(-10, -4), lowpass_hz=(4000, 12000), cue_seconds=(10, 47), pause=(0.05, 0.4)),
    "moderate_mono": dict(music_db=(-10, -4), mono=True, lowpass_hz=(4000, 12000), cue_seconds=(10, 47),
                          pause=(0.05, 0.4)),
    "surround_5.1": dict(music_db=(-12, -4), surround=True),
    # not a row of issue 13: a film mixed as films are, music ducked under the dialogue, long fades, a room, a bus
    # compressor
    "film_mix": dict(music_db=(-10, 0), duck_db=(6, 12), fade_seconds=(0.5, 4.0), music_room=True,
                     bus_compress=True),
    # not a row of issue 13: music playing inside the scene, from a small loudspeaker
    "in_scene": dict(music_db=(-10, 0), in_scene=True),
}


def encode(x: np.ndarray, out: Path) -> None:
    wav = out.with_suffix(".wav")
    sf.write(wav, x, SR)
    layout = ["-af", "aformat=channel_layouts=5.1"] if x.ndim == 2 and x.shape[1] == 6 else []
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), *layout, "-c:a", "aac",
                    "-b:a", "384k" if layout else "160k", str(out)], check=True)
    wav.unlink()


def build(args, pk: Path) -> list[dict]:
    out = ROOT / "films"
    conds = [c for c in CONDITIONS if not args.conditions or c in args.conditions]
    spec = json.dumps({"seed": args.seed, "per": args.films_per_condition, "seconds": args.seconds, "conds": conds,
                       "v": 8})
    if (out / "spec.json").is_file() and (out / "spec.json").read_text() == spec:
        return json.loads((out / "films.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(args.seed)
    music = music_files(pk)
    speech = speech_pool(pk, rng)
    effects = effects_pool(pk)
    rng.shuffle(music)
    films = []
    pos = 0
    for cond in conds:
        for i in range(args.films_per_condition):
            v = CONDITIONS[cond]
            fid = f"{cond}_{i}"
            chosen = music[pos:pos + 5]
            distract = music[pos + 5:pos + 7]
            pos = (pos + 7) % max(1, len(music) - 7)
            tdir = out / "soundtracks" / fid
            tdir.mkdir(parents=True)
            tracks = {}
            for f in chosen:
                dst = tdir / f.name
                shutil.copy(f, dst)
                tracks[dst.stem] = load(dst)
            dists = [load(f) for f in distract]
            x, truth = make_film(fid, tracks, dists, speech, effects, rng, args.seconds, **v)
            (out / "films").mkdir(exist_ok=True)
            encode(x, out / "films" / f"{fid}.m4a")
            (out / "truth").mkdir(exist_ok=True)
            truth.to_csv(out / "truth" / f"{fid}.csv", index=False)
            films.append({"film_id": fid, "condition": cond, "music_db": list(v.get("music_db", (-15, 0)))})
            print(f"built {fid}: {len(truth)} true cue rows", file=sys.stderr)
    (out / "films.json").write_text(json.dumps(films))
    (out / "spec.json").write_text(spec)
    return films


# ---------------------------------------------------------------- systems


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (ffmpeg decoders), user + system."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


FILM_CPU: dict = {}  # (system, film) -> (seconds, film seconds): per-condition speed


def run_filmscore(films, s: StampSettings, label: str) -> tuple[pd.DataFrame, float, float, float]:
    """Cues of every bench film, prints of the tracks cached; (cues, wall s, CPU s, audio s)."""
    from filmscore.cues.stamp import TrackSet, soundtrack_files

    out = ROOT / "films"
    cache = PrintCache(ROOT / f"cache-{label}")
    tables, secs, cpu, audio = [], 0.0, 0.0, 0.0
    for f in films:
        fid = f["film_id"]
        film = out / "films" / f"{fid}.m4a"
        st = out / "soundtracks" / fid
        # prints of the tracks cached (first call fills the cache), the film itself always matched afresh
        TrackSet(soundtrack_files(st, fid), s, cache, speeds=s.grid_speeds() if s.mode == "chromaprint" else (1.0,))
        t0, c0 = time.perf_counter(), _cpu()
        df = stamp_film(film, st, s, cache=_TracksOnly(cache), film_id=fid)
        secs += time.perf_counter() - t0
        cpu += _cpu() - c0
        FILM_CPU[(label, fid)] = (_cpu() - c0, _dur(film))
        audio += _dur(film)
        tables.append(df)
    return pd.concat(tables, ignore_index=True), secs, cpu, audio


class _TracksOnly(PrintCache):
    """The print cache for tracks, never the per-film result cache (we time the matching)."""

    def __init__(self, inner: PrintCache):
        super().__init__(inner.root, audio=inner.audio)

    def load_film(self, key):
        return None

    def save_film(self, key, df):
        return None


def _dur(path: Path) -> float:
    from filmscore.media import probe

    return probe(path).duration


def run_audfprint(films, maxtimebits: int) -> tuple[pd.DataFrame, float, float]:
    exe = shutil.which("audfprint") or str(Path(sys.executable).with_name("audfprint"))
    out = ROOT / "films"
    rows, secs, cpu = [], 0.0, 0.0
    pat = re.compile(r"Matched\s+([\d.]+) s starting at\s+([\d.]+) s in (.+?) to time\s+([-\d.]+) s in (.+?) with")
    for f in films:
        fid = f["film_id"]
        db = ROOT / "audfprint" / f"{fid}.pklz"
        db.parent.mkdir(parents=True, exist_ok=True)
        tracks = sorted(str(p) for p in (out / "soundtracks" / fid).iterdir())
        if not db.is_file():
            subprocess.run([exe, "--dbase", str(db), "--maxtimebits", str(maxtimebits), "new", *tracks],
                           check=True, capture_output=True)
        t0, c0 = time.perf_counter(), _cpu()
        r = subprocess.run([exe, "--dbase", str(db), "--maxtimebits", str(maxtimebits), "--find-time-range",
                            "--max-matches", "40", "-v", "match", str(out / "films" / f"{fid}.m4a")],
                           capture_output=True, text=True)
        wall = time.perf_counter() - t0
        cpu += _cpu() - c0  # includes its Python start-up
        own = re.search(r"Processed 1 files .* in ([\d.]+) s", r.stdout + r.stderr)
        secs += float(own[1]) if own else wall  # its own timing: analysis + match, without Python start-up
        FILM_CPU[("audfprint", fid)] = (float(own[1]) if own else wall, _dur(out / "films" / f"{fid}.m4a"))
        for line in (r.stdout + r.stderr).splitlines():
            m = pat.search(line)
            if m:
                dur, start, _, toff, track = float(m[1]), float(m[2]), m[3], float(m[4]), m[5]
                if dur > 0:
                    rows.append({"film_id": fid, "track": Path(track).stem, "start": start, "end": start + dur,
                                 "track_offset": toff})
    return pd.DataFrame(rows, columns=["film_id", "track", "start", "end", "track_offset"]), secs, cpu


# ---------------------------------------------------------------- report


def report(name: str, found: pd.DataFrame, truth: dict, secs: float, audio: float, films, cpu: float | None = None,
           system: str = "") -> dict:
    per, ov = evaluate(found, truth)
    print(f"\n== {name}")
    meta = {f["film_id"]: f for f in films}
    print(f"{'condition':<16}{'films':>6}{'time P':>8}{'time R':>8}{'cue P':>7}{'cue R':>7}{'bound s':>8}{'off bad':>8}"
          f"{'x rt':>7}{'speed err %':>12}{'exact P':>9}{'exact R':>9}{'rend. P':>9}{'rend. R':>9}")
    conds = list(dict.fromkeys(f["condition"] for f in films))
    for cond in conds:
        fids = [f["film_id"] for f in films if f["condition"] == cond]
        sub = found[found["film_id"].isin(fids)] if len(found) else found
        _, o = evaluate(sub, {k: truth[k] for k in fids})
        t = [FILM_CPU.get((system, k)) for k in fids]
        xrt = sum(v[1] for v in t if v) / max(1e-9, sum(v[0] for v in t if v)) if all(t) else float("nan")
        err = _speed_errors(sub, {k: truth[k] for k in fids})
        print(f"{cond:<16}{len(fids):>6}{o['time_precision']:>8.3f}{o['time_recall']:>8.3f}{o['cue_precision']:>7.2f}"
              f"{o['cue_recall']:>7.2f}{o['median_boundary_error']:>8.2f}{o['offset_wrong']:>8.2f}{xrt:>7.0f}"
              f"{(np.median(err) * 100 if len(err) else float('nan')):>12.3f}"
              + "".join(f"{v:>9.2f}" for v in _tiers(sub, {k: truth[k] for k in fids})))
    ov["x_realtime"] = audio / secs if secs > 0 else float("nan")
    ov["x_realtime_cpu"] = audio / cpu if cpu else float("nan")
    print(f"time: {audio:.0f} s of film in {secs:.1f} s wall = {ov['x_realtime']:.0f}x real time"
          + (f", {cpu:.1f} CPU s (this process + its ffmpeg children) = {ov['x_realtime_cpu']:.0f}x" if cpu else ""))
    return ov


def _tiers(found: pd.DataFrame, truth: dict) -> tuple[float, float, float, float]:
    """Cue-level (exact P, exact R, rendition P, rendition R).

    Exact rows against the truth's exact cues (truth column `rendition` false);
    rendition rows (`match: rendition`) against every true cue for their
    precision, and the rendition truth rows for the recall (found by a cue of
    either tier: what a researcher keeping both gets).
    """
    nan = float("nan")
    if "match" not in found.columns:
        found = found.assign(match="exact")
    is_r = {k: (t["rendition"].astype(bool) if "rendition" in t.columns else pd.Series(False, index=t.index))
            for k, t in truth.items()}
    ex = found[found["match"] == "exact"]
    _, oe = evaluate(ex, {k: t[~is_r[k]] for k, t in truth.items()})
    rn = found[found["match"] == "rendition"]
    _, orp = evaluate(rn, truth)
    rt = {k: t[is_r[k]] for k, t in truth.items()}
    _, orr = evaluate(found, rt) if any(len(t) for t in rt.values()) else (None, {"cue_recall": nan})
    return oe["cue_precision"], oe["cue_recall"], orp["cue_precision"] if len(rn) else nan, orr["cue_recall"]


def _speed_errors(found: pd.DataFrame, truth: dict) -> np.ndarray:
    """|found speed / true speed - 1| of found cues that overlap a true cue of the same track by half their length."""
    if "speed" not in found.columns or not len(found):
        return np.zeros(0)
    out = []
    for r in found.itertuples():
        tr = truth.get(r.film_id)
        if tr is None or "speed" not in tr.columns:
            continue
        for q in tr[tr.track == r.track].itertuples():
            if min(r.end, q.end) - max(r.start, q.start) >= 0.5 * (r.end - r.start):
                out.append(abs(r.speed / q.speed - 1))
                break
    return np.asarray(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--films-per-condition", type=int, default=1, help="films per condition (CONDITIONS)")
    ap.add_argument("--conditions", nargs="*", help=f"only these conditions (of {', '.join(CONDITIONS)})")
    ap.add_argument("--seconds", type=float, default=240.0, help="length of each film")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--maxtimebits", type=int, default=18, help="audfprint time bits (2^18 frames = 3 h at 23 ms)")
    ap.add_argument("--no-peer", action="store_true", help="skip audfprint")
    ap.add_argument("--windows", action="store_true", help="also run mode windows (the paper)")
    ap.add_argument("--renditions", action="store_true", help="run the tolerant tier too (cues.renditions: true; "
                    "off by default, as in params.yaml)")
    ap.add_argument("--full", action="store_true", help="also time a 2-hour film against a 1-hour soundtrack")
    ap.add_argument("--full-only", action="store_true", help="only the 2-hour film speed test")
    ap.add_argument("--time-one", nargs=4, metavar=("FILM", "SOUNDTRACK", "CACHE", "OUT_CSV"), help=argparse.SUPPRESS)
    ap.add_argument("--no-track-audio", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.time_one:
        print(json.dumps(time_one(*(Path(a) for a in args.time_one), audio=not args.no_track_audio)))
        return 0
    pk = fetch()
    if args.full_only:
        full_speed(pk, StampSettings())
        return 0
    films = build(args, pk)
    truth = {f["film_id"]: pd.read_csv(ROOT / "films" / "truth" / f"{f['film_id']}.csv") for f in films}
    results = {}
    s = replace(StampSettings(), renditions=args.renditions or StampSettings().renditions)
    found, secs, cpu, audio = run_filmscore(films, s, "chromaprint")
    results["filmscore"] = report("filmscore (chromaprint mode)", found, truth, secs, audio, films, cpu, "chromaprint")
    found.to_csv(ROOT / "found_filmscore.csv", index=False)
    if args.windows:
        fw, sw, cw, aw = run_filmscore(films, replace(s, mode="windows"), "windows")
        results["filmscore windows"] = report("filmscore (windows mode, the paper)", fw, truth, sw, aw, films, cw, "windows")
    if not args.no_peer:
        fa, sa, ca = run_audfprint(films, args.maxtimebits)
        results["audfprint"] = report(f"audfprint (--maxtimebits {args.maxtimebits})", fa, truth, sa, audio, films, ca,
                                      "audfprint")
        fa.to_csv(ROOT / "found_audfprint.csv", index=False)
    print("\n== overall (time level pooled over films; boundary = median |start/end error| of cue pairs, IoU >= 0.5)")
    keys = [("time_precision", "time P"), ("time_recall", "time R"), ("time_f1", "time F1"), ("cue_precision", "cue P"),
            ("cue_recall", "cue R"), ("cue_f1", "cue F1"), ("median_boundary_error", "bound s"),
            ("median_offset_error", "offset s"), ("offset_wrong", "off bad"), ("x_realtime", "x rt wall"),
            ("x_realtime_cpu", "x rt CPU")]
    print(f"{'system':<20}" + "".join(f"{h:>11}" for _, h in keys))
    for name, ov in results.items():
        print(f"{name:<20}" + "".join(f"{ov.get(k, float('nan')):>11.3f}" for k, _ in keys))
    if args.full:
        full_speed(pk, s)
    return 0


def build_full(pk: Path, seed: int = 1) -> tuple[Path, Path, pd.DataFrame]:
    """A 2-hour stereo film over a 1-hour soundtrack, made like the bench films, 10 minutes at a time.

    Each 10-minute block: dialogue (centred, room reverb) and effects, 8 cues of
    8 to 60 s from random tracks at random offsets, music 0 to -15 dB under the
    dialogue, and 2 pieces of distractor music not in the soundtrack.
    """
    out = ROOT / "full"
    out.mkdir(exist_ok=True)
    music = music_files(pk)
    st = out / "soundtrack"
    film, truth_csv, spec = out / "film.m4a", out / "truth.csv", out / "spec.json"
    made = json.dumps({"seed": seed, "v": 2})  # v: the recipe (2: cues drawn inside the tracks' audible span)
    if film.is_file() and truth_csv.is_file() and st.is_dir() and spec.is_file() and spec.read_text() == made:
        return film, st, pd.read_csv(truth_csv)
    shutil.rmtree(st, ignore_errors=True)
    st.mkdir()
    total, chosen = 0.0, []
    for f in music:
        if total >= 3600:
            break
        shutil.copy(f, st / f.name)
        chosen.append(st / f.name)
        total += _dur(f)
    others = [f for f in music if f.name not in {c.name for c in chosen}]
    rng = np.random.default_rng(seed)
    speech = speech_pool(pk, rng)
    effects = effects_pool(pk)
    rows = []
    wav = out / "film.wav"
    block_s = 600
    with sf.SoundFile(wav, "w", SR, 2) as fh:
        for b in range(12):
            n = block_s * SR
            x = np.zeros((n, 2), np.float32)
            dry = dialogue(n, speech, rng)
            x += dry[:, None] * 0.8 + fftconvolve(dry[:, None], rir(rng), axes=0)[:n] * 0.35
            for _ in range(block_s // 20):
                e = effects[rng.integers(len(effects))]
                p = int(rng.uniform(0, n - len(e)))
                pan = rng.uniform(0.2, 0.8)
                x[p:p + len(e)] += e[:, None] * np.array([pan, 1 - pan]) * 0.5
            dial_rms = float(np.sqrt(np.mean(dry[dry != 0] ** 2)))
            t = rng.uniform(3, 10)
            items = [(chosen[rng.integers(len(chosen))], False) for _ in range(8)] + \
                    [(others[rng.integers(len(others))], True) for _ in range(2)]
            rng.shuffle(items)
            for path, distractor in items:
                src = load(path)
                lo, hi = audible_span(src, SR)  # cues are drawn inside the audible music
                dur = min(rng.uniform(8, 60), hi - lo - 1)
                if t + dur > block_s - 2:
                    break
                off = rng.uniform(lo, hi - dur)
                a, m = int(t * SR), int(dur * SR)
                seg = src[int(off * SR):int(off * SR) + m].copy()
                ramp = np.linspace(0, 1, int(0.3 * SR), dtype=np.float32)[:, None]
                seg[:len(ramp)] *= ramp
                seg[-len(ramp):] *= ramp[::-1]
                g = dial_rms * 10 ** (rng.choice([0, -5, -10, -15]) / 20) / (float(np.sqrt(np.mean(seg ** 2))) + 1e-9)
                x[a:a + m] += seg * g
                if not distractor:
                    rows.append({"track": path.stem, "start": b * block_s + a / SR, "end": b * block_s + (a + m) / SR,
                                 "track_offset": off})
                t += dur + rng.uniform(3, 15)
            x /= max(1.0, float(np.abs(x).max()) / 0.95)
            fh.write(x)
            print(f"full film: block {b + 1}/12", file=sys.stderr)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "160k", str(film)], check=True)
    wav.unlink()
    truth = pd.DataFrame(rows)
    truth.to_csv(truth_csv, index=False)
    spec.write_text(made)
    return film, st, truth


def time_one(film: Path, st: Path, cache_root: Path, out_csv: Path, audio: bool = True) -> dict:
    """Stamp one film (track prints cached; their PCM too if `audio`) in this process; wall, CPU, peak memory."""
    import resource

    s = StampSettings()
    t0, c0 = time.perf_counter(), _cpu()
    df = stamp_film(film, st, s, cache=_TracksOnly(PrintCache(cache_root, audio=audio)), film_id="full")
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    df.to_csv(out_csv, index=False)
    return {"wall": wall, "cpu": cpu, "cues": len(df), "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def full_speed(pk: Path, s: StampSettings) -> None:
    """A 2-hour film against a 1-hour soundtrack: decode + fingerprint + match, prints cached.

    Timed in a fresh process (so its peak memory is the matcher's own), after a
    first pass has filled the track print cache.
    """
    from filmscore.cues.stamp import TrackSet, soundtrack_files

    film, st, truth = build_full(pk)
    cache = ROOT / "cache-full"
    TrackSet(soundtrack_files(st, "full"), s, PrintCache(cache))
    found_csv = {True: ROOT / "full" / "found.csv", False: ROOT / "full" / "found_no_track_audio.csv"}
    dur = _dur(film)
    sdur = sum(_dur(p) for p in st.iterdir())
    print(f"\n== full: {dur / 3600:.2f} h film vs {sdur / 3600:.2f} h soundtrack ({len(list(st.iterdir()))} tracks), "
          f"prints cached, one core:")
    for audio in (True, False):
        r = subprocess.run([sys.executable, __file__, "--time-one", str(film), str(st), str(cache), str(found_csv[audio])]
                           + ([] if audio else ["--no-track-audio"]),
                           check=True, capture_output=True, text=True, env=dict(os.environ))
        m = json.loads(r.stdout.strip().splitlines()[-1])
        print(("tracks' PCM cached:     " if audio else "tracks decoded (no PCM): ")
              + f"wall {m['wall']:.1f} s = {dur / m['wall']:.0f}x real time; CPU {m['cpu']:.1f} s (matcher + its "
              f"ffmpeg) = {dur / m['cpu']:.0f}x real time; {m['cues']} cues; peak RSS {m['rss_mib']:.0f} MiB")
    found = pd.read_csv(found_csv[True])
    same = found.equals(pd.read_csv(found_csv[False]))
    print(f"the same cues either way: {'yes' if same else 'NO'}")
    found["film_id"] = "full"
    _, ov = evaluate(found, {"full": truth})
    print("accuracy: " + ", ".join(f"{k} {ov[k]:.3f}" for k in ("time_precision", "time_recall", "cue_precision",
                                                                 "cue_recall", "median_boundary_error",
                                                                 "offset_wrong")))


if __name__ == "__main__":
    sys.exit(main())
