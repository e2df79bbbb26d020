"""A demo film: dialogue-like bed, effects, ambience, music cues, and video frames.

The sound bed is built in the short-time Fourier domain, which keeps it fast
and vectorised:

- dialogue: a band-limited glottal source (sawtooth with a wandering pitch,
  per-speaker register) shaped frame by frame by three formant resonances that
  move from vowel to vowel, with noise consonants between syllables; phrases,
  speaker turns and pauses. It is mono and centred (identical in L and R); a
  short room reverb, independent per channel, decorrelates the channels a bit.
- ambience per scene (room tone, wind, rumble, hiss) and whooshes, from
  independent noise per channel; impacts and footsteps in the time domain.

Music cues are the film's own soundtrack tracks (the very samples written to
the MP3s), cut at a track offset, faded, scaled relative to the dialogue and
added in stereo. Video frames are smooth random luminance fields whose
brightness and contrast lean by genre (after the paper's Table 5: horror dark,
comedy and romance bright and contrasted, drama flat), with grain, slow motion,
cuts and scene changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import synth as S

F32 = np.float32
NPERSEG, HOP = 1024, 512

VOWELS = np.array([
    (730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410),
    (300, 870, 2240), (660, 1720, 2410), (490, 1350, 1690), (440, 1020, 2240),
], dtype=np.float64)

# Genre leans of the picture: (brightness, contrast) in [0, 1] units, and a
# (U, V) chroma tint in [-1, 1]. Brightness/contrast follow the signs and
# rough sizes of the paper's Table 5 (Actual), exaggerated so a small corpus
# shows them.
VIDEO_LEAN = {
    "Action": (0.47, 0.50, (-0.05, 0.08)),
    "Comedy": (0.56, 0.68, (-0.06, 0.06)),
    "Drama": (0.43, 0.40, (0.00, 0.02)),
    "Horror": (0.26, 0.42, (0.06, -0.06)),
    "Romance": (0.52, 0.62, (-0.08, 0.10)),
    "Sci-Fi": (0.44, 0.60, (0.12, -0.06)),
}


@dataclass
class Scene:
    start: float
    end: float
    ambience: str
    dialogue: float  # share of the scene with speech
    speakers: list[tuple[float, float]] = field(default_factory=list)  # (f0, formant scale)


def plan_scenes(rng: np.random.Generator, seconds: float) -> list[Scene]:
    scenes, t = [], 0.0
    while t < seconds:
        d = float(rng.uniform(8.0, 35.0))
        if seconds - (t + d) < 6.0:
            d = seconds - t
        n_spk = int(rng.integers(1, 4))
        spk = []
        for _ in range(n_spk):
            if rng.random() < 0.5:
                spk.append((float(rng.uniform(85, 140)), float(rng.uniform(0.95, 1.05))))
            else:
                spk.append((float(rng.uniform(165, 250)), float(rng.uniform(1.1, 1.2))))
        amb = str(rng.choice(["room", "wind", "rumble", "hiss", "city"]))
        dia = float(rng.choice([0.0, 0.35, 0.6, 0.8], p=[0.12, 0.28, 0.35, 0.25]))
        scenes.append(Scene(t, min(seconds, t + d), amb, dia, spk))
        t += d
    return scenes


# ------------------------------------------------------------------ dialogue


def dialogue(rng: np.random.Generator, n: int, sr: int, scenes: list[Scene]) -> np.ndarray:
    """Speech-like mono signal of n samples (unit RMS while speaking), rendered scene by
    scene so memory stays bounded by the longest scene."""
    out = np.zeros(n, dtype=F32)
    power, count = 0.0, 0
    for sc in scenes:
        if sc.dialogue <= 0:
            continue
        a, b = int(sc.start * sr), min(n, int(sc.end * sr))
        y, speaking = _scene_dialogue(rng, b - a, sr, sc)
        out[a:b] = y
        power += float(np.sum(y[speaking] ** 2))
        count += int(speaking.sum())
    return out / F32(np.sqrt(power / count) if count else 1.0)


def _scene_dialogue(rng: np.random.Generator, n: int, sr: int, sc: Scene) -> tuple[np.ndarray, np.ndarray]:
    """One scene's conversation (n samples from the scene start) and its speaking mask."""
    T = S.n_frames(n, NPERSEG, HOP)
    fr_t = (np.arange(T) * HOP + HOP - NPERSEG / 2) / sr
    v_amp = np.zeros(T, dtype=F32)
    u_amp = np.zeros(T, dtype=F32)
    formants = np.tile(VOWELS[0], (T, 1)).astype(F32)
    f0_fr = np.full(T, 120.0)
    fric = np.full(T, 4000.0, dtype=F32)

    def fi(t: float) -> int:
        return int(min(T, max(0, round((t * sr - HOP + NPERSEG / 2) / HOP))))

    end = n / sr
    t = rng.uniform(0.3, 2.0)
    turn = int(rng.integers(len(sc.speakers)))
    while t < end - 0.5:
        f0, fscale = sc.speakers[turn]
        t_end = min(end - 0.2, t + rng.uniform(0.8, 4.0))
        n_syl = max(1, int((t_end - t) * rng.uniform(3.5, 6.0)))
        syl_t = t + np.cumsum(np.r_[0, rng.uniform(0.7, 1.3, n_syl)]) * (t_end - t) / n_syl
        contour = np.linspace(1.15, 0.88, n_syl) * f0  # declination over the phrase
        for k in range(n_syl):
            a, b = syl_t[k], min(syl_t[k + 1], t_end)
            if b - a < 0.06:
                continue
            cons = rng.uniform(0.02, 0.07) if rng.random() < 0.7 else 0.0
            ia, ic, ib = fi(a), fi(a + cons), fi(b)
            if cons:
                u_amp[ia:ic] = rng.uniform(0.2, 0.6)
                fric[ia:ic] = rng.uniform(2500, 7000)
            v_amp[ic:ib] = rng.uniform(0.6, 1.0)
            formants[ic:ib] = VOWELS[int(rng.integers(len(VOWELS)))] * fscale * rng.uniform(0.95, 1.05, 3)
            f0_fr[ia:ib] = contour[k] * rng.uniform(0.92, 1.12)
        t = t_end + rng.uniform(0.15, 0.8)
        if rng.random() < 0.45 and len(sc.speakers) > 1:
            turn = (turn + int(rng.integers(1, len(sc.speakers)))) % len(sc.speakers)
        if rng.random() > sc.dialogue:  # a silence in the conversation
            t += rng.uniform(1.5, 6.0)

    # smooth the frame tracks: syllables glide into each other, no clicks
    k5 = np.ones(5, dtype=F32) / 5
    v_amp = np.convolve(v_amp, k5, "same")
    u_amp = np.convolve(u_amp, np.ones(3, dtype=F32) / 3, "same")
    for j in range(3):
        formants[:, j] = np.convolve(formants[:, j], k5, "same")
    f0_fr = np.convolve(np.pad(f0_fr, 4, mode="edge"), np.ones(9) / 9, "valid")

    # source: band-limited sawtooth along the pitch contour, shaped by the formants frame by frame
    f0 = np.interp(np.arange(n) / sr, fr_t, f0_fr)
    src = S.osc(S.wavetable("saw", 260.0, sr, rolloff=0.05, max_harm=60), f0, n, sr)
    Z = S.stft(src, NPERSEG, HOP)  # (T, F)
    f = np.fft.rfftfreq(NPERSEG, 1.0 / sr).astype(F32)[None, :]
    voiced = v_amp > 0.01
    env = np.zeros((int(voiced.sum()), f.shape[1]), dtype=F32)
    fv = formants[voiced]
    for j, (gain, bw) in enumerate(((1.0, 90.0), (0.6, 110.0), (0.3, 160.0))):
        env += gain / (1.0 + ((f - fv[:, j : j + 1]) / F32(0.5 * bw)) ** 2)
    env *= 1.0 / (1.0 + (f / F32(3000.0)) ** 2)  # lip radiation / roll-off
    X = np.zeros_like(Z)
    X[voiced] = Z[voiced] * env * v_amp[voiced, None]
    unv = u_amp > 0.01
    m = int(unv.sum())
    noise = (rng.standard_normal((m, f.shape[1]), dtype=F32) + 1j * rng.standard_normal((m, f.shape[1]), dtype=F32))
    X[unv] += noise * F32(0.02) * (u_amp[unv, None] / (1.0 + ((f - fric[unv, None]) / F32(1500.0)) ** 2))
    y = S.istft(X, NPERSEG, HOP, n)
    speaking = np.repeat(v_amp > 0.3, HOP)
    speaking = np.pad(speaking, (0, max(0, n - len(speaking))))[:n]
    return y, speaking


# ------------------------------------------------------------------ ambience and effects

AMBIENCE = {  # spectral tilt dB/oct, low cut, high cut, level dB re dialogue, wobble
    "room": (-4.5, 40, 6000, -34, 0.1),
    "wind": (-6.0, 30, 3000, -26, 0.6),
    "rumble": (-9.0, 20, 800, -24, 0.3),
    "hiss": (-1.0, 1000, 10000, -36, 0.05),
    "city": (-3.0, 60, 8000, -28, 0.3),
}


def ambience_and_whooshes(rng: np.random.Generator, n: int, sr: int, scenes: list[Scene]) -> np.ndarray:
    """Stereo (n, 2) scene ambiences (crossfaded at scene changes) and whooshes, from partly
    independent noise per channel (L and R correlate about 0.3); level relative to dialogue."""
    out = np.zeros((n, 2), dtype=F32)
    xf = int(0.5 * sr)
    for sc in scenes:
        tilt, lo, hi, db, wob = AMBIENCE[sc.ambience]
        a, b = max(0, int(sc.start * sr) - xf), min(n, int(sc.end * sr) + xf)
        m = b - a
        left = S.shaped_noise(rng, m, sr, tilt, lo, hi)
        other = S.shaped_noise(rng, m, sr, tilt, lo, hi)
        t = np.arange(m, dtype=F32) / sr
        mod = 1.0 + wob * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 6))
        g = (10 ** ((db + rng.uniform(-3, 3)) / 20) * mod * S.fade(m, xf if a > 0 else 0, xf if b < n else 0)).astype(F32)
        out[a:b, 0] += g * left
        out[a:b, 1] += g * (F32(0.3) * left + F32(0.954) * other)  # correlation 0.3, same power
    # whooshes: a band of noise sweeping in frequency and across the stereo field
    f = np.fft.rfftfreq(NPERSEG, 1.0 / sr)
    fpos = np.maximum(f, 1.0)[None, :]
    t = rng.uniform(2, 12)
    while t < n / sr - 2:
        m = int(rng.uniform(0.4, 1.5) * sr)
        T = S.n_frames(m, NPERSEG, HOP)
        fc = np.geomspace(rng.uniform(200, 800), rng.uniform(1500, 6000), T)[:, None]
        if rng.random() < 0.5:
            fc = fc[::-1]
        bell = (np.sin(np.linspace(0, np.pi, T)) ** 2)[:, None]
        band = (np.exp(-0.5 * (np.log2(fpos / fc) / 0.6) ** 2) * bell).astype(F32)
        level = 10 ** (rng.uniform(-8, 4) / 20)  # loudest moment, relative to the dialogue
        a = int(t * sr)
        m = min(m, n - a)
        p = np.linspace(-1, 1, m) * (1 if rng.random() < 0.5 else -1)
        noise = rng.standard_normal(band.shape, dtype=F32) + 1j * rng.standard_normal(band.shape, dtype=F32)
        y = S.istft(noise * band, NPERSEG, HOP, m)
        y *= F32(level / (np.sqrt(np.mean(y**2) * 8 / 3) + 1e-9))  # sin^4 power bell: mean is 3/8 of the peak
        for c, gain in enumerate((np.cos((p + 1) * np.pi / 4), np.sin((p + 1) * np.pi / 4))):
            out[a : a + m, c] += y * gain.astype(F32)
        t += m / sr + rng.uniform(3, 25)
    return out


def effects(rng: np.random.Generator, n: int, sr: int, scenes: list[Scene]) -> np.ndarray:
    """Stereo (n, 2) impacts, door thumps and footsteps, placed at random."""
    out = np.zeros((2, n), dtype=F32)

    def put(sig: np.ndarray, t: float, gain: float, pan: float) -> None:
        s = int(t * sr)
        e = min(n, s + len(sig))
        if s >= n:
            return
        gl, gr = S.pan_gains(pan)
        out[0, s:e] += gain * gl * sig[: e - s]
        out[1, s:e] += gain * gr * sig[: e - s]

    t = rng.uniform(1, 10)
    while t < n / sr - 1:
        kind = rng.choice(["impact", "door", "steps", "crash"], p=[0.35, 0.2, 0.3, 0.15])
        pan = rng.uniform(-0.8, 0.8)
        if kind == "impact":
            boom = S.tom(rng, sr, f=rng.uniform(40, 80), tau=rng.uniform(0.25, 0.7))
            crack = S.bandpass(rng.standard_normal(int(0.4 * sr), dtype=F32), 500, 6000, sr) * S.decay(int(0.4 * sr), sr, 0.05)
            put(boom, t, 10 ** (rng.uniform(-22, -12) / 20), pan)
            put(crack, t, 10 ** (rng.uniform(-24, -14) / 20), pan)
        elif kind == "door":
            put(S.kick(rng, sr, f_hi=rng.uniform(80, 140), f_lo=50, tau=0.12), t, 10 ** (rng.uniform(-26, -16) / 20), pan)
        elif kind == "steps":
            rate, k = rng.uniform(1.6, 2.3), int(rng.integers(4, 14))
            g = 10 ** (rng.uniform(-30, -22) / 20)
            for j in range(k):
                step = S.lowpass1(rng.standard_normal(int(0.05 * sr), dtype=F32), rng.uniform(1500, 4000), sr)
                put(step * S.decay(len(step), sr, 0.012), t + j / rate + rng.normal(0, 0.01), g, pan + 0.05 * j)
        else:
            d = int(rng.uniform(0.8, 2.0) * sr)
            debris = S.bandpass(rng.standard_normal(d, dtype=F32), 300, 9000, sr) * S.decay(d, sr, rng.uniform(0.2, 0.5))
            put(debris, t, 10 ** (rng.uniform(-24, -14) / 20), pan)
        t += rng.uniform(4, 20)
    return out.T.copy()


# ------------------------------------------------------------------ video


def frame_chunks(rng: np.random.Generator, seconds: float, fps: int, size: tuple[int, int],
                 genres: list[str], scenes: list[Scene]):
    """Yield raw yuv420p bytes scene by scene (bounded memory whatever the length).

    Each shot is a smooth random field drifting slowly; brightness and contrast
    are the mean of the film's genre leans, plus film-, scene- and shot-level
    variation; grain is added per frame.
    """
    w, h = size
    gh, gw = 5, 8
    Ry = _interp_matrix(h, gh).astype(F32)  # (h, gh)
    RxT = _interp_matrix(w, gw).T.astype(F32)  # (gw, w)
    Ryc, Rxc = _interp_matrix(h // 2, gh), _interp_matrix(w // 2, gw)
    grain = rng.standard_normal((24, h, w), dtype=F32) * F32(0.02)  # film grain, a bank drawn per frame
    lean = np.array([VIDEO_LEAN[g][:2] for g in genres]).mean(axis=0)
    tint = np.array([VIDEO_LEAN[g][2] for g in genres]).mean(axis=0)
    film_b = lean[0] + rng.normal(0, 0.05)
    film_c = lean[1] * np.exp(rng.normal(0, 0.12))
    n_total = int(round(seconds * fps))
    done = 0
    for sc in scenes:
        end_frame = n_total if sc is scenes[-1] else int(round(sc.end * fps))
        scene_b = film_b + rng.normal(0, 0.05)
        scene_c = film_c * np.exp(rng.normal(0, 0.15))
        while done < end_frame:
            shot = min(end_frame - done, int(rng.uniform(2, 9) * fps))
            b = np.clip(scene_b + rng.normal(0, 0.02), 0.05, 0.9)
            c = np.clip(scene_c * np.exp(rng.normal(0, 0.05)), 0.1, 1.2)
            g0, g1 = rng.standard_normal((2, gh, gw))
            th = rng.uniform(0.05, 0.4) * np.arange(shot) / fps  # slow drift of the picture
            grid = (np.cos(th)[:, None, None] * g0 + np.sin(th)[:, None, None] * g1).astype(F32)  # unit variance
            field = Ry @ grid @ RxT  # (shot, h, w)
            field /= field.std(axis=(1, 2), keepdims=True) + F32(1e-6)
            y = np.tanh(field)
            y *= F32(0.5 * c)
            y += F32(b)
            y += grain[rng.integers(len(grain), size=shot)]
            Y = np.clip(y * F32(219) + F32(16), 0, 255).astype(np.uint8)
            cg = np.einsum("hi,ij,wj->hw", Ryc, rng.standard_normal((gh, gw)), Rxc, optimize=True)
            U = np.clip(128 + 112 * (tint[0] + 0.04 * cg), 0, 255).astype(np.uint8)
            V = np.clip(128 + 112 * (tint[1] - 0.04 * cg), 0, 255).astype(np.uint8)
            uv = np.concatenate([U.ravel(), V.ravel()])
            buf = np.empty((shot, Y[0].size + uv.size), dtype=np.uint8)
            buf[:, : Y[0].size] = Y.reshape(shot, -1)
            buf[:, Y[0].size :] = uv
            yield buf.tobytes()
            done += shot


def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Linear interpolation from n_in grid points to n_out pixels: (n_out, n_in)."""
    x = np.linspace(0, n_in - 1, n_out)
    M = np.zeros((n_out, n_in))
    i = np.minimum(np.floor(x).astype(int), n_in - 2)
    fr = x - i
    M[np.arange(n_out), i] = 1 - fr
    M[np.arange(n_out), i + 1] = fr
    return M
