"""Procedural soundtrack tracks with a genre character.

A track has one *style* (the genre whose character it has) and optionally a
*layer* style that adds one of its characteristic parts at a lower level (a
multi-genre film's music mixes its genres). The styles, after common film
music practice:

- Horror: low dissonant drones, semitone/tritone clusters swelling with
  tremolo, stingers, metallic scrapes, heartbeat pulses, noise textures.
- Action: fast (115-170 BPM) minor or phrygian ostinati in 16ths, driving drums
  with fills, brass stabs, risers.
- Romance: slow (55-90 BPM) lush major chords on detuned, vibrato strings, a
  legato solo line, harp arpeggios.
- Comedy: bouncy (100-150 BPM) staccato major melodies on pizzicato, marimba,
  clarinet or glockenspiel, oom-pah bass, woodblocks, slide whistles.
- Drama: slow (55-95 BPM) minor piano lines and broken chords, dark cello pads.
- Sci-Fi: detuned synth pads with moving brightness, arpeggiators with
  ping-pong delay, synth bass pulses, FM bells, noise sweeps.

Tempo ranges, modes and instruments overlap between styles, every track draws
its own key, tempo, timbres, arrangement and dynamics, and layers mix styles, so
genres are learnable from the music without being trivially separable.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from . import synth as S

log = logging.getLogger(__name__)

F32 = np.float32
STYLES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi")

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "whole_tone": (0, 2, 4, 6, 8, 10),
}
MAJORISH = {"major", "lydian", "mixolydian"}

# Per style: tempo range (BPM), modes with weights, reverb time range (s),
# loudness target range (dBFS RMS), chance of 3/4 time.
STYLE_FRAME = {
    "Action": dict(tempo=(115, 170), modes={"harmonic_minor": 3, "minor": 3, "phrygian": 2, "dorian": 1}, rt60=(0.8, 1.8), loud=(-17, -13), waltz=0.0),
    "Comedy": dict(tempo=(100, 150), modes={"major": 5, "mixolydian": 2, "lydian": 1}, rt60=(0.4, 1.0), loud=(-20, -16), waltz=0.25),
    "Drama": dict(tempo=(55, 95), modes={"minor": 5, "dorian": 2, "harmonic_minor": 2, "major": 1}, rt60=(1.2, 2.2), loud=(-23, -18), waltz=0.2),
    "Horror": dict(tempo=(50, 100), modes={"phrygian": 2, "harmonic_minor": 2, "whole_tone": 1, "minor": 1}, rt60=(1.8, 3.0), loud=(-25, -19), waltz=0.0),
    "Romance": dict(tempo=(55, 90), modes={"major": 5, "lydian": 2, "mixolydian": 1, "minor": 1}, rt60=(1.6, 2.6), loud=(-21, -17), waltz=0.3),
    "Sci-Fi": dict(tempo=(85, 135), modes={"minor": 3, "lydian": 2, "dorian": 2, "whole_tone": 1, "major": 1}, rt60=(1.5, 3.0), loud=(-19, -15), waltz=0.0),
}

PROGRESSIONS_MAJOR = ((0, 5, 3, 4), (0, 4, 5, 3), (0, 3, 0, 4), (0, 2, 3, 4), (3, 4, 0, 5), (0, 5, 1, 4), (0, 3, 4, 3))
PROGRESSIONS_MINOR = ((0, 5, 6, 0), (0, 3, 4, 0), (0, 5, 2, 6), (0, 6, 5, 4), (0, 3, 5, 4), (0, 0, 5, 5), (0, 1, 0, 6))


@dataclass
class TrackSpec:
    """What a track is (written to tracks_truth.csv)."""

    film_id: str
    track: str
    style: str
    layer: str | None
    foreign: bool
    seconds: float
    key: int = 0
    mode: str = ""
    tempo: float = 0.0

    def row(self) -> dict:
        d = asdict(self)
        d["layer"] = d["layer"] or ""
        return d


@dataclass
class Bar:
    t: float  # start, s
    chord: list[int]  # MIDI notes of the chord, root first, close position around C4
    root: int  # MIDI root (octave 3)
    intensity: float
    section: int
    last_in_section: bool


class Mix:
    """A stereo bus (2, n) with a mono reverb send; parts are added at times in seconds."""

    def __init__(self, n: int, sr: int):
        self.n, self.sr = n, sr
        self.dry = np.zeros((2, n), dtype=F32)
        self.send = np.zeros(n, dtype=F32)

    def add(self, sig: np.ndarray, t: float, gain: float, pan: float = 0.0, send: float = 0.3) -> None:
        """Add a mono (m,) signal panned to `pan`, or a stereo (m, 2) one as it is."""
        s = int(round(t * self.sr))
        if s >= self.n or gain == 0.0:
            return
        if s < 0:
            sig, s = sig[-s:], 0
        e = min(self.n, s + len(sig))
        seg = sig[: e - s]
        if seg.ndim == 1:
            gl, gr = S.pan_gains(pan)
            self.dry[0, s:e] += (gain * gl) * seg
            self.dry[1, s:e] += (gain * gr) * seg
            if send:
                self.send[s:e] += (gain * send) * seg
        else:
            self.dry[:, s:e] += gain * seg.T
            if send:
                self.send[s:e] += (gain * send * 0.5) * (seg[:, 0] + seg[:, 1])


class Ctx:
    """The musical frame of one track: key, scale, tempo, bars and their chords."""

    def __init__(self, rng: np.random.Generator, sr: int, seconds: float, style: str):
        self.rng, self.sr, self.seconds, self.style = rng, sr, seconds, style
        fr = STYLE_FRAME[style]
        self.tempo = float(rng.uniform(*fr["tempo"]))
        modes = list(fr["modes"])
        w = np.array([fr["modes"][m] for m in modes], dtype=float)
        self.mode = modes[int(rng.choice(len(modes), p=w / w.sum()))]
        self.scale = SCALES[self.mode]
        self.key = int(rng.integers(12))
        self.meter = 3 if rng.random() < fr["waltz"] else 4
        self.beat = 60.0 / self.tempo
        self.bar_s = self.beat * self.meter
        self.n = int(round(seconds * sr))
        self.bars = self._bars()

    def _bars(self) -> list[Bar]:
        rng = self.rng
        n_bars = int(np.ceil(self.seconds / self.bar_s)) + 1
        progs = PROGRESSIONS_MAJOR if self.mode in MAJORISH else PROGRESSIONS_MINOR
        bars: list[Bar] = []
        section, b = 0, 0
        shift = 0
        while b < n_bars:
            length = int(rng.choice([4, 8, 8, 12, 16])) if self.style != "Horror" else int(rng.choice([2, 3, 4, 6]))
            prog = progs[int(rng.integers(len(progs)))]
            per_chord = int(rng.choice([1, 1, 2])) if self.tempo < 100 else int(rng.choice([1, 2, 2]))
            intensity = float(np.clip(rng.uniform(0.35, 1.0) if section else rng.uniform(0.25, 0.6), 0, 1))
            if section and rng.random() < 0.15:  # a modulation now and then
                shift = int(rng.choice([-2, 2, 3, 5]))
            for i in range(length):
                if b >= n_bars:
                    break
                deg = prog[(i // per_chord) % len(prog)]
                chord = self.triad(deg, shift, seventh=rng.random() < 0.3)
                bars.append(Bar(t=b * self.bar_s, chord=chord, root=chord[0] - 12, intensity=intensity,
                                section=section, last_in_section=(i == length - 1)))
                b += 1
            section += 1
        return bars

    def triad(self, degree: int, shift: int = 0, seventh: bool = False) -> list[int]:
        sc = self.scale
        notes = []
        for step in (0, 2, 4, 6) if seventh else (0, 2, 4):
            d = degree + step
            notes.append(60 + self.key + shift + sc[d % len(sc)] + 12 * (d // len(sc)))
        while notes[0] > 66:
            notes = [m - 12 for m in notes]
        return notes

    def scale_notes(self, lo: int, hi: int, shift: int = 0) -> np.ndarray:
        pcs = {(self.key + shift + p) % 12 for p in self.scale}
        return np.array([m for m in range(lo, hi + 1) if m % 12 in pcs])


# ------------------------------------------------------------------ instruments


Instrument = Callable[[float, float, float], np.ndarray]  # (midi, seconds, velocity) -> mono


def instrument(name: str, rng: np.random.Generator, sr: int) -> Instrument:
    """A playable instrument with randomised timbre.

    Rendered notes are cached by (pitch, length, velocity step): music repeats
    notes, and a cached one costs a multiply. Velocity is quantised to steps of
    0.1 for the timbre, the exact velocity still scales the level.
    """
    play = _instrument(name, rng, sr)
    cache: dict[tuple, np.ndarray] = {}

    def cached(m: float, d: float, v: float) -> np.ndarray:
        vq = max(0.1, round(v * 10) / 10)
        key = (round(m, 2), round(d, 3), vq)
        sig = cache.get(key)
        if sig is None:
            sig = cache[key] = play(m, d, vq)
        return sig * F32(v / vq)
    return cached


def _instrument(name: str, rng: np.random.Generator, sr: int) -> Instrument:
    u = rng.uniform
    if name in ("strings", "lush_strings", "dark_strings"):
        roll = {"strings": u(0.08, 0.2), "lush_strings": u(0.12, 0.25), "dark_strings": u(0.25, 0.45)}[name]
        nv = 3 if name == "lush_strings" else 2
        det, vr, vc = u(6, 16), u(4.8, 6.2), u(6, 14)
        att, rel = u(0.15, 0.6) if name != "strings" else u(0.05, 0.2), u(0.3, 0.9)

        def play(m, d, v):
            return S.voice("saw", S.midi_hz(m), d, sr, rng, attack=min(att, d / 2), decay_s=0.2, sustain=0.85,
                           release=rel, rolloff=roll, detune_cents=det, n_voices=nv, vib_rate=vr, vib_cents=vc) * v
        return play
    if name in ("violin", "cello", "flute", "clarinet", "oboe"):
        shape = {"violin": "saw", "cello": "saw", "flute": "triangle", "clarinet": "reed", "oboe": "reed"}[name]
        roll = {"violin": u(0.1, 0.2), "cello": u(0.2, 0.35), "flute": 0.0, "clarinet": u(0.05, 0.2), "oboe": u(0.0, 0.08)}[name]
        vc = u(8, 22) if name in ("violin", "cello") else u(3, 10)

        def play(m, d, v):
            return S.voice(shape, S.midi_hz(m), d, sr, rng, attack=min(0.08, d / 3), decay_s=0.1, sustain=0.9,
                           release=0.15, rolloff=roll, vib_rate=u(4.8, 6.0), vib_cents=vc) * v
        return play
    if name == "brass":
        roll = u(0.06, 0.16)

        def play(m, d, v):
            return S.voice("saw", S.midi_hz(m), d, sr, rng, attack=0.03, decay_s=0.15, sustain=0.55, release=0.12,
                           rolloff=roll * (1.4 - 0.6 * v), n_voices=2, detune_cents=5) * v
        return play
    if name == "staccato_strings":
        roll = u(0.08, 0.2)

        def play(m, d, v):
            return S.voice("saw", S.midi_hz(m), min(d, 0.12), sr, rng, attack=0.008, decay_s=0.05, sustain=0.6,
                           release=0.06, rolloff=roll, n_voices=2, detune_cents=7) * v
        return play
    if name in ("pad", "bright_pad"):
        roll = u(0.2, 0.4) if name == "pad" else u(0.05, 0.15)
        nv, det = int(rng.integers(3, 5)), u(10, 25)

        def play(m, d, v):
            return S.voice("saw", S.midi_hz(m), d, sr, rng, attack=min(u(0.4, 1.5), d / 2), decay_s=0.3, sustain=0.9,
                           release=u(0.8, 1.6), rolloff=roll, n_voices=nv, detune_cents=det) * v
        return play
    if name in ("lead", "arp"):
        shape = str(rng.choice(["square", "saw"]))
        roll = u(0.05, 0.25)
        rel = 0.05 if name == "arp" else 0.15

        def play(m, d, v):
            return S.voice(shape, S.midi_hz(m), d, sr, rng, attack=0.005, decay_s=u(0.05, 0.2), sustain=0.5,
                           release=rel, rolloff=roll) * v
        return play
    if name in ("synth_bass", "bass"):
        roll = u(0.15, 0.35)

        def play(m, d, v):
            return S.voice("saw" if name == "synth_bass" else "triangle", S.midi_hz(m), d, sr, rng, attack=0.005,
                           decay_s=0.12, sustain=0.6, release=0.05, rolloff=roll) * v
        return play
    if name == "tuba":
        def play(m, d, v):
            return S.voice("reed", S.midi_hz(m), min(d, 0.25), sr, rng, attack=0.02, decay_s=0.1, sustain=0.6,
                           release=0.08, rolloff=0.35) * v
        return play
    if name == "piano":
        inh, tau = u(1e-4, 4e-4), u(1.0, 2.5)

        def play(m, d, v):
            return S.piano(S.midi_hz(m), d, sr, rng, vel=v, inharm=inh, tau=tau) * v
        return play
    if name == "epiano":
        idx = u(0.8, 2.0)

        def play(m, d, v):
            return S.fm(S.midi_hz(m), d + 0.5, sr, ratio=1.0, index=idx * v, tau=u(0.8, 1.5)) * v
        return play
    if name in ("pizz", "harp", "marimba", "bass_pluck"):
        kw = {"pizz": dict(bright=u(0.4, 0.6), tau=u(0.1, 0.2)),
              "harp": dict(bright=u(0.4, 0.6), tau=u(0.5, 1.0)),
              "marimba": dict(bright=u(0.3, 0.5), tau=u(0.2, 0.35), ratios=(1.0, 3.9, 9.2)),
              "bass_pluck": dict(bright=u(0.3, 0.5), tau=u(0.3, 0.5))}[name]

        def play(m, d, v):
            return S.pluck(S.midi_hz(m), d, sr, rng, **kw) * v
        return play
    if name in ("glock", "bell", "music_box"):
        ratio = {"glock": 3.5, "bell": u(1.4, 3.7), "music_box": 4.0}[name]
        idx = u(0.8, 2.5)

        def play(m, d, v):
            return S.fm(S.midi_hz(m), max(d, 1.2), sr, ratio=ratio, index=idx, tau=u(0.6, 1.6)) * v
        return play
    if name == "organ":
        def play(m, d, v):
            return S.voice("organ", S.midi_hz(m), d, sr, rng, attack=0.02, decay_s=0.0, sustain=1.0, release=0.1) * v
        return play
    raise ValueError(f"unknown instrument {name!r}")


class Drums:
    """A bank of pre-rendered hits per drum, each hit drawn from its variants
    (fresh noise per variant), with its own gain: never exactly periodic."""

    def __init__(self, rng: np.random.Generator, sr: int, kind: str):
        self.rng = rng
        u = rng.uniform
        if kind == "electronic":
            self.bank = {
                "kick": [S.kick(rng, sr, f_hi=u(140, 200), f_lo=u(40, 55), tau=u(0.2, 0.35)) for _ in range(3)],
                "snare": [S.snare(rng, sr, tone=u(180, 240), tau=u(0.08, 0.15)) for _ in range(4)],
                "hat": [S.hat(rng, sr, tau=u(0.015, 0.04)) for _ in range(6)],
            }
        else:
            self.bank = {
                "kick": [S.kick(rng, sr, f_hi=u(90, 130), f_lo=u(40, 55), tau=u(0.12, 0.25)) for _ in range(3)],
                "snare": [S.snare(rng, sr, tone=u(170, 220), tau=u(0.1, 0.18)) for _ in range(4)],
                "hat": [S.hat(rng, sr, tau=u(0.02, 0.05)) for _ in range(6)],
                "tom_lo": [S.tom(rng, sr, f=u(70, 90), tau=0.35) for _ in range(2)],
                "tom_hi": [S.tom(rng, sr, f=u(120, 160), tau=0.25) for _ in range(2)],
                "taiko": [S.tom(rng, sr, f=u(45, 60), tau=0.6) for _ in range(2)],
                "block": [S.click(rng, sr, f=u(1200, 2200)) for _ in range(3)],
                "shaker": [S.shaker(rng, sr) for _ in range(4)],
            }

    def hit(self, mix: Mix, name: str, t: float, gain: float, pan: float = 0.0, send: float = 0.15) -> None:
        bank = self.bank[name]
        sig = bank[int(self.rng.integers(len(bank)))]
        mix.add(sig, t + self.rng.normal(0, 0.003), gain * self.rng.uniform(0.8, 1.1), pan, send)


# ------------------------------------------------------------------ parts

RHYTHMS_LONG = (((0, 4),), ((0, 2), (2, 2)), ((0, 3), (3, 1)), ((0, 1.5), (1.5, 0.5), (2, 2)), ((0, 2), (2, 1), (3, 1)))
RHYTHMS_BOUNCY = (
    ((0, 0.5), (0.5, 0.5), (1, 0.5), (2, 0.5), (2.5, 0.5), (3, 1)),
    ((0, 0.75), (0.75, 0.25), (1, 0.5), (1.5, 0.5), (2, 0.75), (2.75, 0.25), (3, 0.5)),
    ((0, 0.5), (1, 0.5), (1.5, 0.5), (2, 0.5), (3, 0.5), (3.5, 0.5)),
    ((0, 0.25), (0.25, 0.25), (0.5, 0.5), (1.5, 0.5), (2, 1), (3, 0.5), (3.5, 0.5)),
    ((0, 1), (1, 0.5), (1.5, 0.5), (2.5, 0.5), (3, 0.5)),
)


def _rhythm(ctx: Ctx, bank) -> tuple:
    r = bank[int(ctx.rng.integers(len(bank)))]
    if ctx.meter == 3:
        r = tuple((o * 0.75, d * 0.75) for o, d in r)
    return r


def melody(ctx: Ctx, mix: Mix, play: Instrument, level: float, lo: int, hi: int, bank, *,
           articulation: float = 1.0, pan: float = 0.0, send: float = 0.3, rest_prob: float = 0.1,
           bars: list[Bar] | None = None, leap: int = 2) -> None:
    """A random-walk melody on the scale, landing on chord tones on strong beats."""
    rng = ctx.rng
    notes = ctx.scale_notes(lo, hi)
    if len(notes) == 0:
        return
    i = len(notes) // 2
    motif = None
    for bi, bar in enumerate(bars if bars is not None else ctx.bars):
        # repeat the previous bar's rhythm half the time: phrases, not noise
        rhythm = motif if motif is not None and rng.random() < 0.5 else _rhythm(ctx, bank)
        motif = rhythm
        pcs = {m % 12 for m in bar.chord}
        for onset, dur in rhythm:
            if rng.random() < rest_prob:
                continue
            i = int(np.clip(i + rng.integers(-leap, leap + 1), 0, len(notes) - 1))
            if onset == int(onset):  # strong beat: nearest chord tone
                cands = [k for k in range(max(0, i - 2), min(len(notes), i + 3)) if notes[k] % 12 in pcs]
                if cands:
                    i = min(cands, key=lambda k: abs(k - i))
            d = dur * ctx.beat * articulation
            v = float(np.clip(0.55 + 0.45 * bar.intensity + rng.normal(0, 0.08), 0.2, 1.0))
            mix.add(play(float(notes[i]), d, v), bar.t + onset * ctx.beat + rng.normal(0, 0.006), level, pan, send)


def chords(ctx: Ctx, mix: Mix, play: Instrument, level: float, *, octave: int = 0, spread: bool = True,
           pan_width: float = 0.6, send: float = 0.5, hold_bars: int = 1) -> None:
    """Sustained chords, one per bar (or held over `hold_bars`), voices spread across the stereo field."""
    rng = ctx.rng
    bars = ctx.bars
    for k in range(0, len(bars), hold_bars):
        bar = bars[k]
        notes = list(bar.chord)
        if spread:
            notes = [bar.root + 12 * octave] + [m + 12 * octave for m in notes] + [notes[1] + 12 * (octave + 1)]
        else:
            notes = [m + 12 * octave for m in notes]
        d = ctx.bar_s * hold_bars
        for j, m in enumerate(notes):
            pan = pan_width * (2.0 * j / max(1, len(notes) - 1) - 1.0)
            v = 0.5 + 0.5 * bar.intensity
            mix.add(play(float(m), d, v), bar.t + rng.normal(0, 0.01), level / np.sqrt(len(notes)), pan, send)


def arpeggio(ctx: Ctx, mix: Mix, play: Instrument, level: float, *, step_beats: float = 0.25,
             octaves: int = 2, base: int = 0, pattern: str = "up", articulation: float = 0.8,
             pan: float = 0.0, send: float = 0.3, delay: bool = False) -> None:
    """Broken chords: up, down or up-down over the chord tones across octaves.
    With `delay`, a ping-pong echo (3/16 of a bar apart, L then R)."""
    rng = ctx.rng
    steps = int(round(ctx.meter / step_beats))
    echo = Mix(mix.n, mix.sr) if delay else None
    target = echo or mix
    for bar in ctx.bars:
        tones = sorted({m + base + 12 * o for o in range(octaves) for m in bar.chord})
        seq = tones if pattern == "up" else tones[::-1] if pattern == "down" else tones + tones[-2:0:-1]
        for s in range(steps):
            m = seq[s % len(seq)]
            v = float(np.clip(0.6 + 0.3 * bar.intensity + rng.normal(0, 0.07) + (0.15 if s % 4 == 0 else 0), 0.2, 1))
            target.add(play(float(m), step_beats * ctx.beat * articulation, v), bar.t + s * step_beats * ctx.beat, level, pan, send)
    if echo is not None:
        mix.dry += echo.dry
        mix.send += echo.send
        d = int(round(0.75 * ctx.beat * mix.sr))
        mono = echo.dry.mean(axis=0)
        for rep, (ch, g) in enumerate(((0, 0.45), (1, 0.3), (0, 0.2), (1, 0.13))):
            lag = d * (rep + 1)
            if lag < mix.n:
                mix.dry[ch, lag:] += g * mono[: mix.n - lag]


def ostinato(ctx: Ctx, mix: Mix, play: Instrument, level: float, *, sixteenths: bool = True, pan: float = 0.0) -> None:
    """A driving figure on the chord root: root, octave, fifth and the flat sixth / second of minor."""
    rng = ctx.rng
    step = 0.25 if sixteenths else 0.5
    steps = int(round(ctx.meter / step))
    figures = ((0, 0, 12, 0, 7, 0, 12, 0), (0, 0, 0, 7, 0, 0, 8, 7), (0, 12, 0, 7, 0, 12, 1, 0), (0, 3, 0, 7, 0, 3, 8, 7))
    fig = figures[int(rng.integers(len(figures)))]
    for bar in ctx.bars:
        if rng.random() < 0.2:
            fig = figures[int(rng.integers(len(figures)))]
        root = bar.root - 12 if bar.root > 50 else bar.root
        for s in range(steps):
            accent = 1.0 if s % 4 == 0 else 0.7
            v = float(np.clip(accent * (0.6 + 0.4 * bar.intensity) + rng.normal(0, 0.05), 0.2, 1))
            mix.add(play(float(root + fig[s % len(fig)]), step * ctx.beat, v), bar.t + s * step * ctx.beat, level, pan, 0.2)


def groove(ctx: Ctx, mix: Mix, drums: Drums, level: float, kind: str) -> None:
    """Drum patterns: 'action' (driving, fills, taiko), 'electronic', 'light' (blocks, shaker), 'half'."""
    rng = ctx.rng
    b = ctx.beat
    kicks = {"action": (0, 1.5, 2, 2.75), "electronic": (0, 1, 2, 3), "half": (0, 2.5), "light": ()}[kind]
    section = ctx.bars[0].section
    for bar in ctx.bars:
        new_section = bar.section != section
        section = bar.section
        if kind == "action" and new_section:
            drums.hit(mix, "taiko", bar.t, 1.2 * level, 0.0, 0.5)
        g = level * (0.6 + 0.4 * bar.intensity)
        if bar.intensity < 0.4 and kind != "light" and rng.random() < 0.6:
            continue  # drums drop out in quiet sections
        for k in kicks:
            if k < ctx.meter:
                drums.hit(mix, "kick", bar.t + k * b, g, 0.0, 0.05)
        if kind in ("action", "electronic", "half"):
            for k in ((1, 3) if kind != "half" else (2,)):
                if k < ctx.meter:
                    drums.hit(mix, "snare", bar.t + k * b, 0.8 * g, 0.1, 0.2)
            sub = 0.25 if (kind == "action" and bar.intensity > 0.6) or kind == "electronic" else 0.5
            for s in range(int(ctx.meter / sub)):
                drums.hit(mix, "hat", bar.t + s * sub * b, (0.35 if s % 2 else 0.5) * g, 0.35, 0.05)
        if kind == "light":
            for s in range(ctx.meter * 2):
                if s % 2 == 1 or rng.random() < 0.3:
                    drums.hit(mix, "block" if rng.random() < 0.6 else "shaker", bar.t + s * 0.5 * b, 0.4 * g, -0.3, 0.1)
        if kind == "action" and bar.last_in_section:
            for s in range(8):  # tom fill over the last two beats
                drums.hit(mix, "tom_hi" if s < 4 else "tom_lo", bar.t + (ctx.meter - 2) * b + s * 0.25 * b, 0.7 * g, 0.4 - 0.1 * s, 0.25)


def brass_stabs(ctx: Ctx, mix: Mix, play: Instrument, level: float) -> None:
    rng = ctx.rng
    for bar in ctx.bars:
        if bar.intensity < 0.5 or rng.random() < 0.3:
            continue
        hits = (0,) if rng.random() < 0.5 else (0, 1.5)
        for h in hits:
            for m in (bar.root, bar.root + 7, bar.root + 12):
                mix.add(play(float(m), 0.35 * ctx.beat + 0.15, 0.9), bar.t + h * ctx.beat, level / 1.7, rng.uniform(-0.3, 0.3), 0.4)


def riser(ctx: Ctx, mix: Mix, level: float) -> None:
    """Noise swells into section changes (band-passed, rising)."""
    rng, sr = ctx.rng, ctx.sr
    for bar in ctx.bars:
        if not bar.last_in_section or rng.random() < 0.4:
            continue
        d = ctx.bar_s
        n = int(d * sr)
        x = S.bandpass(rng.standard_normal(n, dtype=F32), rng.uniform(800, 2000), rng.uniform(4000, 9000), sr)
        env = np.linspace(0, 1, n, dtype=F32) ** 2
        mix.add(np.stack([x * env, np.roll(x, 97) * env], axis=1), bar.t, level * 0.5, send=0.4)


# ------------------------------------------------------------------ horror parts


def drone(ctx: Ctx, mix: Mix, level: float) -> None:
    """Low sustained dissonance (root + semitone or tritone) with slow beating and drift."""
    rng, sr = ctx.rng, ctx.sr
    base = 24 + ctx.key % 12 + int(rng.choice([0, 12]))
    n = ctx.n
    t = np.arange(n, dtype=F32) / sr
    out = np.zeros((n, 2), dtype=F32)
    interval = int(rng.choice([1, 6, 11, 13]))
    for j, m in enumerate((base, base + interval, base + 12 + int(rng.choice([0, 1, 6])))):
        f = float(S.midi_hz(m))
        drift = (1.0 + 0.004 * np.sin(2 * np.pi * rng.uniform(0.02, 0.07) * t + rng.uniform(0, 6))).astype(np.float64)
        tab = S.wavetable("saw", f, sr, rolloff=rng.uniform(0.3, 0.6), max_harm=20)
        x = S.osc(tab, f * drift, n, sr, rng.uniform())
        am = (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 6))).astype(F32)
        gl, gr = S.pan_gains((-0.5, 0.5, 0.0)[j])
        out[:, 0] += gl * x * am
        out[:, 1] += gr * x * am
    mix.add(out * S.fade(n, int(2 * sr), int(2 * sr))[:, None], 0.0, level / 2, send=0.5)


def cluster_swells(ctx: Ctx, mix: Mix, level: float) -> None:
    """High string clusters (semitone-packed), swelling with tremolo and cut off."""
    rng, sr = ctx.rng, ctx.sr
    t = rng.uniform(0.5, 4.0)
    while t < ctx.seconds:
        d = rng.uniform(3.0, 9.0)
        top = int(rng.integers(70, 88))
        notes = [top - k for k in range(int(rng.integers(3, 6)))]
        for j, m in enumerate(notes):
            x = S.voice("saw", float(S.midi_hz(m)), d, sr, rng, attack=d * rng.uniform(0.6, 0.95), decay_s=0.0,
                        sustain=1.0, release=rng.choice([0.05, 0.8]), rolloff=rng.uniform(0.1, 0.25),
                        vib_rate=rng.uniform(5, 7), vib_cents=rng.uniform(10, 30),
                        tremolo=rng.uniform(0.3, 0.8), trem_rate=rng.uniform(8, 13))
            mix.add(x, t, level / len(notes) * 1.5, rng.uniform(-0.8, 0.8), 0.6)
        t += d + rng.uniform(1.0, 8.0)


def stingers(ctx: Ctx, mix: Mix, drums: Drums, brass: Instrument, level: float) -> None:
    rng = ctx.rng
    t = rng.uniform(4.0, 15.0)
    while t < ctx.seconds - 1:
        drums.hit(mix, "taiko", t, level * 1.5, 0.0, 0.6)
        root = 36 + int(rng.integers(12))
        for m in (root, root + 1, root + 6, root + 13):
            mix.add(brass(float(m), rng.uniform(0.5, 1.5), 1.0), t, level / 2.5, rng.uniform(-0.5, 0.5), 0.6)
        t += rng.uniform(8.0, 25.0)


def scrapes(ctx: Ctx, mix: Mix, level: float) -> None:
    """Metallic, inharmonic FM scrapes and bowed-cymbal-like squeals."""
    rng, sr = ctx.rng, ctx.sr
    t = rng.uniform(1.0, 8.0)
    while t < ctx.seconds:
        d = rng.uniform(1.5, 5.0)
        x = S.fm(rng.uniform(300, 1500), d, sr, ratio=rng.uniform(1.3, 3.9), index=rng.uniform(2, 6), tau=d, attack=d * 0.4, sustain=True)
        mix.add(x, t, level * 0.35, rng.uniform(-0.9, 0.9), 0.7)
        t += d + rng.uniform(3.0, 12.0)


def heartbeat(ctx: Ctx, mix: Mix, drums: Drums, level: float) -> None:
    rng = ctx.rng
    bpm = rng.uniform(55, 85)
    t = rng.uniform(0, 5)
    while t < ctx.seconds:
        if rng.random() < 0.85:
            drums.hit(mix, "kick", t, level, 0.0, 0.1)
            drums.hit(mix, "kick", t + 0.22, 0.6 * level, 0.0, 0.1)
        t += 60.0 / bpm * rng.uniform(0.97, 1.03)


def noise_texture(ctx: Ctx, mix: Mix, level: float) -> None:
    """Slowly breathing dark noise (wind, rumble) across the track."""
    rng, sr, n = ctx.rng, ctx.sr, ctx.n
    t = np.arange(n, dtype=F32) / sr
    out = np.stack([S.shaped_noise(rng, n, sr, -6.0, 30.0, rng.uniform(800, 3000)) for _ in range(2)], axis=1)
    am = (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.03, 0.15) * t + rng.uniform(0, 6))) ** 2
    mix.add(out * am[:, None], 0.0, level * 0.3, send=0.2)


def slide_whistle(ctx: Ctx, mix: Mix, level: float) -> None:
    rng, sr = ctx.rng, ctx.sr
    for bar in ctx.bars:
        if not bar.last_in_section or rng.random() < 0.5:
            continue
        d = rng.uniform(0.4, 0.9)
        f0 = float(S.midi_hz(rng.integers(72, 84)))
        x = S.voice("sine", f0, d, sr, rng, attack=0.02, sustain=1.0, release=0.05, glide=float(rng.choice([-7, 7, 12])))
        mix.add(x, bar.t + (ctx.meter - 1) * ctx.beat, level * 0.5, rng.uniform(-0.5, 0.5), 0.2)


# ------------------------------------------------------------------ styles


def _octave_for(ctx: Ctx) -> int:
    return int(ctx.rng.choice([0, 12]))


def render_style(ctx: Ctx, mix: Mix, style: str, level: float, role: str) -> list[str]:
    """Add the parts of `style` to `mix`. role 'full' plays the whole arrangement,
    'layer' one or two characteristic parts. Returns the part names (for logs)."""
    rng, sr = ctx.rng, ctx.sr
    parts: list[str] = []
    full = role == "full"

    def p(x):
        return full and rng.random() < x

    if style == "Action":
        ostinato(ctx, mix, instrument("staccato_strings" if rng.random() < 0.75 else "synth_bass", rng, sr), level * 0.8,
                 sixteenths=rng.random() < 0.75)
        parts.append("ostinato")
        if full or rng.random() < 0.5:
            groove(ctx, mix, Drums(rng, sr, "acoustic"), level * (0.9 if full else 0.5), "action")
            parts.append("drums")
        if p(0.7):
            brass_stabs(ctx, mix, instrument("brass", rng, sr), level * 0.7)
            parts.append("brass")
        if p(0.5):
            chords(ctx, mix, instrument("strings", rng, sr), level * 0.35, octave=1, hold_bars=2)
            parts.append("high strings")
        if p(0.4):
            melody(ctx, mix, instrument(str(rng.choice(["brass", "violin"])), rng, sr), level * 0.5, 55, 74, RHYTHMS_LONG)
            parts.append("theme")
        if p(0.5):
            riser(ctx, mix, level * 0.5)
            parts.append("risers")
    elif style == "Comedy":
        lead = str(rng.choice(["pizz", "marimba", "clarinet", "glock", "piano", "oboe"]))
        melody(ctx, mix, instrument(lead, rng, sr), level * 0.8, 65, 86, RHYTHMS_BOUNCY,
               articulation=rng.uniform(0.3, 0.55), leap=3, pan=rng.uniform(-0.3, 0.3), send=0.15)
        parts.append(f"staccato {lead}")
        if p(0.8):
            bass = instrument(str(rng.choice(["tuba", "bass_pluck"])), rng, sr)
            stab = instrument(str(rng.choice(["pizz", "piano", "staccato_strings"])), rng, sr)
            _oompah(ctx, mix, bass, stab, level * 0.6)
            parts.append("oom-pah")
        if p(0.7):
            groove(ctx, mix, Drums(rng, sr, "acoustic"), level * 0.5, "light")
            parts.append("blocks")
        if p(0.35):
            melody(ctx, mix, instrument(str(rng.choice(["clarinet", "pizz", "flute"])), rng, sr), level * 0.4, 58, 76,
                   RHYTHMS_BOUNCY, articulation=0.4, pan=0.5, rest_prob=0.4, send=0.2)
            parts.append("counter-melody")
        if p(0.35):
            slide_whistle(ctx, mix, level)
            parts.append("slide whistle")
    elif style == "Drama":
        lead = "piano" if rng.random() < 0.75 else str(rng.choice(["cello", "strings"]))
        if lead == "piano":
            arpeggio(ctx, mix, instrument("piano", rng, sr), level * 0.6, step_beats=float(rng.choice([0.5, 1.0])),
                     octaves=1, base=-12, pattern=str(rng.choice(["up", "updown"])), articulation=1.5, pan=-0.15, send=0.4)
            parts.append("piano broken chords")
        if full or lead != "piano":
            melody(ctx, mix, instrument(lead, rng, sr), level * 0.7, 60, 79, RHYTHMS_LONG, pan=0.1, send=0.45, rest_prob=0.2)
            parts.append(f"{lead} line")
        if p(0.6):
            chords(ctx, mix, instrument("dark_strings", rng, sr), level * 0.4, octave=-1, spread=False, hold_bars=2)
            parts.append("cello pad")
    elif style == "Romance":
        chords(ctx, mix, instrument("lush_strings", rng, sr), level * (0.8 if full else 0.6), octave=0, pan_width=0.8,
               send=0.6, hold_bars=int(rng.choice([1, 2])))
        parts.append("lush strings")
        if p(0.85):
            lead = str(rng.choice(["violin", "flute", "oboe", "violin", "piano"]))
            melody(ctx, mix, instrument(lead, rng, sr), level * 0.6, 67, 88, RHYTHMS_LONG, pan=0.15, send=0.5, rest_prob=0.15)
            parts.append(f"{lead} melody")
        if p(0.5):
            arpeggio(ctx, mix, instrument("harp", rng, sr), level * 0.4, step_beats=0.5, octaves=2, pattern="updown",
                     articulation=2.0, pan=-0.4, send=0.5)
            parts.append("harp")
    elif style == "Sci-Fi":
        if full or rng.random() < 0.4:
            chords(ctx, mix, instrument(str(rng.choice(["pad", "bright_pad"])), rng, sr), level * 0.6, octave=0,
                   pan_width=0.9, send=0.7, hold_bars=int(rng.choice([1, 2, 4])))
            parts.append("synth pad")
        if not full or rng.random() < 0.85:
            arpeggio(ctx, mix, instrument("arp", rng, sr), level * 0.45, step_beats=float(rng.choice([0.25, 0.25, 0.5])),
                     octaves=2, base=int(rng.choice([0, 12])), pattern=str(rng.choice(["up", "down", "updown"])),
                     articulation=0.6, send=0.3, delay=True)
            parts.append("arpeggiator")
        if p(0.6):
            _pulse_bass(ctx, mix, instrument("synth_bass", rng, sr), level * 0.5)
            parts.append("synth bass")
        if p(0.5):
            melody(ctx, mix, instrument("bell", rng, sr), level * 0.35, 72, 96, RHYTHMS_LONG, send=0.7, rest_prob=0.4)
            parts.append("FM bells")
        if p(0.4):
            groove(ctx, mix, Drums(rng, sr, "electronic"), level * 0.5, str(rng.choice(["electronic", "half"])))
            parts.append("electronic drums")
        if p(0.4):
            riser(ctx, mix, level * 0.6)
            parts.append("sweeps")
    elif style == "Horror":
        drone(ctx, mix, level * (1.0 if full else 0.7))
        parts.append("drone")
        if full or rng.random() < 0.5:
            cluster_swells(ctx, mix, level * 0.6)
            parts.append("cluster swells")
        drums = Drums(rng, sr, "acoustic")
        if p(0.6):
            stingers(ctx, mix, drums, instrument("brass", rng, sr), level)
            parts.append("stingers")
        if p(0.5):
            scrapes(ctx, mix, level)
            parts.append("scrapes")
        if p(0.3):
            heartbeat(ctx, mix, drums, level * 0.7)
            parts.append("heartbeat")
        if p(0.5):
            noise_texture(ctx, mix, level)
            parts.append("noise")
        if p(0.25):
            melody(ctx, mix, instrument("music_box", rng, sr), level * 0.3, 76, 96, RHYTHMS_LONG, rest_prob=0.3, send=0.6)
            parts.append("music box")
    else:
        raise ValueError(f"no demo style for genre {style!r}; known: {', '.join(STYLES)}")
    return parts


def _oompah(ctx: Ctx, mix: Mix, bass: Instrument, stab: Instrument, level: float) -> None:
    rng = ctx.rng
    for bar in ctx.bars:
        root = bar.root - 12
        beats = range(ctx.meter)
        for k in beats:
            t = bar.t + k * ctx.beat
            if k == 0 or (ctx.meter == 4 and k == 2):
                m = root if k == 0 else root + 7
                mix.add(bass(float(m), 0.5 * ctx.beat, 0.9), t, level, 0.0, 0.1)
            else:
                for m in bar.chord:
                    mix.add(stab(float(m), 0.25 * ctx.beat, 0.7 + rng.normal(0, 0.05)), t, level / 2.5, 0.3, 0.15)


def _pulse_bass(ctx: Ctx, mix: Mix, play: Instrument, level: float) -> None:
    rng = ctx.rng
    for bar in ctx.bars:
        root = bar.root - 12
        for s in range(ctx.meter * 2):
            if rng.random() < 0.1:
                continue
            mix.add(play(float(root + (12 if s % 4 == 3 else 0)), 0.45 * ctx.beat, 0.8), bar.t + s * 0.5 * ctx.beat, level, 0.0, 0.05)


def render_track(spec: TrackSpec, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Synthesize one track: (n, 2) float32, peak below 0.95, loudness set by style."""
    ctx = Ctx(rng, sr, spec.seconds, spec.style)
    spec.key, spec.mode, spec.tempo = ctx.key, ctx.mode, round(ctx.tempo, 1)
    mix = Mix(ctx.n, sr)
    parts = render_style(ctx, mix, spec.style, 1.0, "full")
    if spec.layer:
        parts += [f"{spec.layer}: {x}" for x in render_style(ctx, mix, spec.layer, rng.uniform(0.35, 0.6), "layer")]
    log.debug("%s/%s: %s %s at %.0f BPM in %s: %s", spec.film_id, spec.track, spec.style, ctx.mode, ctx.tempo,
              ctx.key, ", ".join(parts))
    fr = STYLE_FRAME[spec.style]
    ir = S.room_ir(rng, sr, rt60=rng.uniform(*fr["rt60"]), damping_hz=rng.uniform(2500, 6000), predelay=rng.uniform(0.01, 0.04))
    wet = S.convolve_stereo(mix.send, ir)
    out = mix.dry.T + rng.uniform(0.25, 0.45) * wet
    out *= S.fade(ctx.n, int(rng.uniform(0.05, 2.0) * sr), int(rng.uniform(1.0, 5.0) * sr))[:, None]
    rms = float(np.sqrt(np.mean(out**2))) + 1e-9
    target = 10 ** (rng.uniform(*fr["loud"]) / 20.0)
    return S.soft_limit(out * (target / rms), 0.95)
