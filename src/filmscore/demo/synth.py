"""Vectorised numpy building blocks for the demo's procedural audio.

Oscillators read band-limited wavetables built from harmonic amplitudes, so a
note costs a few array operations whatever its length; envelopes, one-pole and
biquad filters, percussion, reverb and panning are whole-array operations too.
Everything takes an explicit `numpy.random.Generator`, so a seed fixes the
output exactly. Signals are float32, mono (n,) or stereo (n, 2).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import fft as sfft
from scipy import signal

TABLE_SIZE = 8192  # large enough to read without interpolation (noise floor about -70 dB)
_TABLE_BITS = 13
F32 = np.float32
_RAMP = np.arange(1 << 16, dtype=np.uint32)


# ------------------------------------------------------------------ wavetables


@lru_cache(maxsize=512)
def _table(shape: str, n_harm: int, rolloff: float) -> np.ndarray:
    """One period (TABLE_SIZE points) of a
    waveform with `n_harm` harmonics; `rolloff` > 0 darkens it (amplitude
    multiplied by exp(-rolloff * (k - 1)))."""
    k = np.arange(1, n_harm + 1, dtype=np.float64)
    if shape == "saw":
        amp = 1.0 / k
    elif shape == "square":
        amp = np.where(k % 2 == 1, 1.0 / k, 0.0)
    elif shape == "triangle":
        amp = np.where(k % 2 == 1, 1.0 / k**2, 0.0)
    elif shape == "organ":  # drawbar-like: strong low partials
        amp = np.array([1.0, 0.7, 0.45, 0.5, 0.2, 0.25, 0.1, 0.15][:n_harm] + [0.0] * max(0, n_harm - 8))
    elif shape == "reed":  # clarinet-like: odd partials strong, a little even
        amp = np.where(k % 2 == 1, 1.0 / k, 0.25 / k)
    elif shape == "sine":
        amp = np.zeros(n_harm)
        amp[0] = 1.0
    else:
        raise ValueError(f"unknown wave shape {shape!r}")
    amp = amp * np.exp(-rolloff * (k - 1))
    spec = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    m = min(n_harm, TABLE_SIZE // 2 - 1)
    spec[1 : m + 1] = -1j * amp[:m] * TABLE_SIZE / 2
    tab = np.fft.irfft(spec, TABLE_SIZE)
    tab /= max(1e-9, np.abs(tab).max())
    return tab.astype(F32)


def wavetable(shape: str, f0: float, sr: int, rolloff: float = 0.0, max_harm: int = 60) -> np.ndarray:
    """Band-limited table for fundamental `f0`: no harmonic above 0.45 * sr."""
    n = int(max(1, min(max_harm, 0.45 * sr / max(f0, 1.0))))
    return _table(shape, n, round(float(rolloff), 2))


def osc(tab: np.ndarray, freq, n: int, sr: int, phase: float = 0.0) -> np.ndarray:
    """Read a wavetable at frequency `freq` (Hz, scalar or (n,) array) for n samples.

    The phase is a 32-bit fixed-point accumulator that wraps by itself, so a
    sample costs one multiply-add and one table read.
    """
    scale = 2.0**32 / sr
    p0 = np.uint32(int((phase % 1.0) * 2.0**32) & 0xFFFFFFFF)
    if np.ndim(freq) == 0:
        inc = np.uint32(int(float(freq) * scale) & 0xFFFFFFFF)
        ph = _ramp(n) * inc
    else:
        ph = np.cumsum((np.asarray(freq[:n], dtype=np.float64) * scale).astype(np.uint32), dtype=np.uint32)
    ph += p0
    return tab[ph >> np.uint32(32 - _TABLE_BITS)]


def _ramp(n: int) -> np.ndarray:
    global _RAMP
    if n > len(_RAMP):
        _RAMP = np.arange(max(n, 2 * len(_RAMP)), dtype=np.uint32)
    return _RAMP[:n]


def midi_hz(m) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)


# ------------------------------------------------------------------ envelopes


def adsr(n: int, sr: int, a: float, d: float, s: float, r: float) -> np.ndarray:
    """Attack-decay-sustain-release envelope of n samples; the release ends the note."""
    na, nd, nr = int(a * sr), int(d * sr), int(r * sr)
    na = min(na, n)
    nr = min(nr, n - na)
    nd = min(nd, n - na - nr)
    ns = n - na - nd - nr
    parts = [
        np.linspace(0.0, 1.0, na, endpoint=False, dtype=F32),
        np.linspace(1.0, s, nd, endpoint=False, dtype=F32),
        np.full(ns, s, dtype=F32),
    ]
    level = parts[-1][-1] if ns else (parts[1][-1] if nd else (parts[0][-1] if na else s))
    parts.append(np.linspace(level, 0.0, nr, dtype=F32))
    return np.concatenate(parts)


def decay(n: int, sr: int, tau: float, attack: float = 0.002) -> np.ndarray:
    """Fast attack then exponential decay with time constant `tau` seconds."""
    t = np.arange(n, dtype=F32) / sr
    env = np.exp(-t / max(tau, 1e-4))
    na = min(n, max(1, int(attack * sr)))
    env[:na] *= np.linspace(0.0, 1.0, na, dtype=F32)
    return env


def fade(n: int, fade_in: int, fade_out: int) -> np.ndarray:
    """Raised-cosine fade-in and fade-out over n samples."""
    g = np.ones(n, dtype=F32)
    if fade_in > 0:
        fi = min(fade_in, n)
        g[:fi] = 0.5 - 0.5 * np.cos(np.pi * np.arange(fi, dtype=F32) / fi)
    if fade_out > 0:
        fo = min(fade_out, n)
        g[n - fo :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fo + 1, dtype=F32) / fo)
    return g


# ------------------------------------------------------------------ filters


def lowpass1(x: np.ndarray, fc: float, sr: int) -> np.ndarray:
    """One-pole low-pass (6 dB/octave) along axis 0."""
    a = float(np.exp(-2.0 * np.pi * min(fc, 0.49 * sr) / sr))
    return signal.lfilter([1.0 - a], [1.0, -a], x, axis=0).astype(F32)


def highpass1(x: np.ndarray, fc: float, sr: int) -> np.ndarray:
    return (x - lowpass1(x, fc, sr)).astype(F32)


@lru_cache(maxsize=256)
def _band_sos(lo: float, hi: float, sr: int, order: int) -> np.ndarray:
    nyq = 0.5 * sr
    lo = max(10.0, min(lo, 0.95 * nyq))
    hi = max(lo * 1.05, min(hi, 0.98 * nyq))
    return signal.butter(order, [lo / nyq, hi / nyq], btype="bandpass", output="sos")


def bandpass(x: np.ndarray, lo: float, hi: float, sr: int, order: int = 2) -> np.ndarray:
    return signal.sosfilt(_band_sos(round(lo, 1), round(hi, 1), sr, order), x, axis=0).astype(F32)


def shaped_noise(rng: np.random.Generator, n: int, sr: int, tilt_db_oct: float = -3.0,
                 lo: float = 20.0, hi: float | None = None) -> np.ndarray:
    """Gaussian noise with a spectral tilt (dB per octave; -3 pink, -6 brown) between lo and hi Hz."""
    m = sfft.next_fast_len(n, real=True)
    f = sfft.rfftfreq(m, 1.0 / sr)
    spec = (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))).astype(np.complex64)
    gain = np.where(f > 0, (np.maximum(f, 1.0) / 1000.0) ** (tilt_db_oct / 6.0206), 0.0)
    gain[(f < lo) | (f > (hi or sr / 2))] = 0.0
    y = sfft.irfft(spec * gain.astype(F32), m)[:n]
    return (y / max(1e-9, float(np.std(y)))).astype(F32)


# ------------------------------------------------------------------ short-time Fourier


@lru_cache(maxsize=8)
def _window(n: int) -> np.ndarray:
    """Sine window: its square overlap-adds to a constant at 50 % (and 75 %) overlap."""
    return np.sin(np.pi * (np.arange(n) + 0.5) / n).astype(F32)


def stft(x: np.ndarray, nperseg: int, hop: int) -> np.ndarray:
    """Frames (T, nperseg // 2 + 1) of a mono signal, padded so that every sample lies under
    nperseg / hop frames (exact inversion); frame t is centred on sample t * hop + hop - nperseg / 2."""
    pad = nperseg - hop
    xp = np.pad(x.astype(F32), (pad, pad + (-len(x)) % hop))
    frames = np.lib.stride_tricks.sliding_window_view(xp, nperseg)[::hop] * _window(nperseg)
    return sfft.rfft(frames, axis=1)


def n_frames(n: int, nperseg: int, hop: int) -> int:
    """How many frames `stft` gives for n samples."""
    return (n + 2 * (nperseg - hop) + (-n) % hop - nperseg) // hop + 1


def istft(X: np.ndarray, nperseg: int, hop: int, n: int) -> np.ndarray:
    """Weighted overlap-add inverse of `stft` (hop must divide nperseg); n samples out."""
    T = X.shape[0]
    r = nperseg // hop
    frames = (sfft.irfft(X, nperseg, axis=1) * _window(nperseg)).reshape(T, r, hop)
    acc = np.zeros((T + r - 1, hop), dtype=F32)
    for k in range(r):
        acc[k : k + T] += frames[:, k, :]
    y = acc.reshape(-1)[nperseg - hop : nperseg - hop + n] / F32(np.sum(_window(nperseg) ** 2) / hop)
    return np.pad(y, (0, n - len(y))) if len(y) < n else y


# ------------------------------------------------------------------ space


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power pan: -1 left, 0 centre, +1 right."""
    th = (float(np.clip(pan, -1, 1)) + 1.0) * np.pi / 4.0
    return float(np.cos(th)), float(np.sin(th))


def room_ir(rng: np.random.Generator, sr: int, rt60: float, damping_hz: float = 4000.0,
            predelay: float = 0.01) -> np.ndarray:
    """Stereo room impulse response (n, 2): exponentially decaying noise, independent per
    channel (which decorrelates L and R), low-passed so the tail is darker; unit energy."""
    n = max(8, int((predelay + rt60) * sr))
    t = np.arange(n, dtype=F32) / sr
    env = np.exp(-6.9078 * np.maximum(t - predelay, 0.0) / rt60).astype(F32)
    env[t < predelay] = 0.0
    ir = rng.standard_normal((n, 2), dtype=F32) * env[:, None]
    ir = lowpass1(ir, damping_hz, sr)
    ir /= np.sqrt(np.sum(ir**2, axis=0, keepdims=True)) + 1e-9
    return ir.astype(F32)


def convolve_stereo(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Convolve a mono signal (n,) with a stereo IR (m, 2); result (n, 2) (tail cut).

    Overlap-add for IRs much shorter than the signal; otherwise one FFT of the
    signal serves both channels.
    """
    n = len(x)
    x = x.astype(F32)
    if 8 * len(ir) < n:
        return signal.oaconvolve(x[:, None], ir, axes=0)[:n].astype(F32)
    m = sfft.next_fast_len(n + len(ir), real=True)
    X = sfft.rfft(x, m)
    out = np.empty((n, 2), dtype=F32)
    for c in range(2):
        out[:, c] = sfft.irfft(X * sfft.rfft(ir[:, c], m), m)[:n]
    return out


def soft_limit(x: np.ndarray, ceiling: float = 0.95) -> np.ndarray:
    """Leave samples below 0.7 * ceiling alone; bend louder ones smoothly under the ceiling."""
    knee = 0.7 * ceiling
    a = np.abs(x)
    over = a > knee
    if not over.any():
        return x.astype(F32)
    y = x.copy()
    room = ceiling - knee
    y[over] = np.sign(x[over]) * (knee + room * np.tanh((a[over] - knee) / room))
    return y.astype(F32)


# ------------------------------------------------------------------ percussion


def kick(rng: np.random.Generator, sr: int, f_hi: float = 110.0, f_lo: float = 45.0, tau: float = 0.18) -> np.ndarray:
    n = int(0.45 * sr)
    t = np.arange(n, dtype=np.float64) / sr
    f = f_lo + (f_hi - f_lo) * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(f) / sr).astype(F32) * decay(n, sr, tau)
    click = rng.standard_normal(n, dtype=F32) * decay(n, sr, 0.004)
    return body + 0.3 * lowpass1(click, 3000.0, sr)


def snare(rng: np.random.Generator, sr: int, tone: float = 190.0, tau: float = 0.12) -> np.ndarray:
    n = int(0.35 * sr)
    t = np.arange(n, dtype=F32) / sr
    body = np.sin(2 * np.pi * tone * t) * decay(n, sr, 0.05)
    rattle = bandpass(rng.standard_normal(n, dtype=F32), 1500.0, 8000.0, sr) * decay(n, sr, tau)
    return 0.5 * body + 1.2 * rattle


def hat(rng: np.random.Generator, sr: int, tau: float = 0.03) -> np.ndarray:
    n = int(max(0.06, 5 * tau) * sr)
    return 0.8 * highpass1(rng.standard_normal(n, dtype=F32), 6000.0, sr) * decay(n, sr, tau, 0.001)


def tom(rng: np.random.Generator, sr: int, f: float = 100.0, tau: float = 0.3) -> np.ndarray:
    n = int(min(1.2, 4 * tau) * sr)
    t = np.arange(n, dtype=np.float64) / sr
    fr = f * (1.0 + 0.6 * np.exp(-t / 0.02))
    body = np.sin(2 * np.pi * np.cumsum(fr) / sr).astype(F32) * decay(n, sr, tau)
    skin = lowpass1(rng.standard_normal(n, dtype=F32), 1200.0, sr) * decay(n, sr, 0.02)
    return body + 0.4 * skin


def click(rng: np.random.Generator, sr: int, f: float = 1800.0, tau: float = 0.015) -> np.ndarray:
    """Woodblock / rim click: a damped resonance."""
    n = int(0.12 * sr)
    t = np.arange(n, dtype=F32) / sr
    return (np.sin(2 * np.pi * f * t) * decay(n, sr, tau, 0.0005) + 0.2 * rng.standard_normal(n, dtype=F32) * decay(n, sr, 0.003)).astype(F32)


def shaker(rng: np.random.Generator, sr: int, tau: float = 0.04) -> np.ndarray:
    n = int(0.15 * sr)
    return 0.5 * bandpass(rng.standard_normal(n, dtype=F32), 4000.0, 10000.0, sr) * adsr(n, sr, 0.01, 0.02, 0.3, 0.1)


# ------------------------------------------------------------------ pitched voices


def piano(f: float, dur: float, sr: int, rng: np.random.Generator, vel: float = 0.8,
          inharm: float = 2e-4, tau: float = 1.5) -> np.ndarray:
    """Piano-like tone: slightly inharmonic partials, upper ones decaying faster, hammer thump."""
    tau0 = tau * (440.0 / max(f, 60.0)) ** 0.35
    n = int(min(dur + 0.4, 4.6 * tau0) * sr)  # stop at -60 dB
    t = np.arange(n, dtype=F32) / sr
    out = np.zeros(n, dtype=F32)
    step = np.exp(-t * (0.5 / tau0))  # each partial decays faster by this factor
    env = np.exp(-t * (1.0 / tau0)).astype(F32)
    for k in range(1, 9):
        fk = k * f * np.sqrt(1.0 + inharm * k * k)
        if fk > 0.45 * sr:
            break
        env *= step
        ak = (vel ** (0.5 * k)) / k**1.1
        out += (ak * np.sin(F32(2 * np.pi * fk) * t + F32(rng.uniform(0, 2 * np.pi)))) * env
    m = min(n, int(0.05 * sr))
    out[:m] += 0.15 * lowpass1(rng.standard_normal(m, dtype=F32), 800.0, sr) * decay(m, sr, 0.01)
    return (out * fade(n, int(0.003 * sr), int(min(0.35, 0.5 * n / sr) * sr))).astype(F32)


def pluck(f: float, dur: float, sr: int, rng: np.random.Generator, bright: float = 0.6,
          tau: float = 0.25, ratios=(1.0, 2.0, 3.0, 4.0, 5.0)) -> np.ndarray:
    """Plucked / struck tone (pizzicato, harp, marimba with ratios (1, 4, 10))."""
    n = int((min(dur, 4 * tau) + 0.05) * sr)
    t = np.arange(n, dtype=F32) / sr
    out = np.zeros(n, dtype=F32)
    for i, r in enumerate(ratios):
        fk = r * f
        if fk > 0.45 * sr:
            break
        out += (bright**i) * np.sin(2 * np.pi * fk * t).astype(F32) * np.exp(-t * (1.0 + i) / tau)
    return (out * fade(n, int(0.001 * sr), int(0.02 * sr))).astype(F32)


def fm(f: float, dur: float, sr: int, ratio: float = 1.0, index: float = 2.0, tau: float = 0.8,
       attack: float = 0.002, sustain: bool = False) -> np.ndarray:
    """Two-operator FM: bells (ratio 3.5, decaying index), e-piano (ratio 1), metallic scrapes."""
    n = int(dur * sr)
    t = np.arange(n, dtype=np.float64) / sr
    idx_env = np.exp(-t / (0.6 * tau)) if not sustain else np.ones(n)
    mod = index * idx_env * np.sin(2 * np.pi * ratio * f * t)
    car = np.sin(2 * np.pi * f * t + mod).astype(F32)
    env = adsr(n, sr, attack, 0.0, 1.0, min(0.3, dur / 3)) if sustain else decay(n, sr, tau, attack)
    return car * env


def voice(tab_shape: str, f: float, dur: float, sr: int, rng: np.random.Generator, *,
          attack: float = 0.05, decay_s: float = 0.1, sustain: float = 0.8, release: float = 0.2,
          rolloff: float = 0.15, detune_cents: float = 0.0, n_voices: int = 1,
          vib_rate: float = 0.0, vib_cents: float = 0.0, glide: float = 0.0, tremolo: float = 0.0,
          trem_rate: float = 0.0) -> np.ndarray:
    """A sustained wavetable voice (strings, brass, pads, leads, drones): detuned unison,
    vibrato, glide (semitones over the note), tremolo, ADSR. Length dur + release."""
    n = int((dur + release) * sr)
    tab = wavetable(tab_shape, f * 1.03, sr, rolloff)
    out = np.zeros(n, dtype=F32)
    t = np.arange(n, dtype=F32) / sr
    dyn = vib_cents > 0 or glide != 0
    for v in range(n_voices):
        cents = 0.0 if n_voices == 1 else detune_cents * (2.0 * v / (n_voices - 1) - 1.0)
        if dyn:
            c = cents + vib_cents * np.sin(2 * np.pi * vib_rate * t + rng.uniform(0, 2 * np.pi))
            if glide:
                c = c + 100.0 * glide * np.minimum(t / max(dur, 1e-3), 1.0)
            fr = f * 2.0 ** (c / 1200.0)
            out += osc(tab, fr, n, sr, rng.uniform())
        else:
            out += osc(tab, f * 2.0 ** (cents / 1200.0), n, sr, rng.uniform())
    out *= adsr(n, sr, attack, decay_s, sustain, release) / np.sqrt(n_voices)
    if tremolo > 0:
        out *= (1.0 - tremolo * (0.5 + 0.5 * np.sin(2 * np.pi * trem_rate * t))).astype(F32)
    return out
