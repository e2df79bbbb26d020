"""MIR features with Essentia: the paper's Table 2, texture-windowed, on the 1 Hz grid.

The paper computed these with MATLAB's MIRtoolbox (and Audio Toolbox for
flatness and crest); here each is computed with the Essentia algorithm closest
to it. `docs/features.md` lists, feature by feature, the Essentia algorithm,
its settings and where it departs from MIRtoolbox.

Four analysis grids, all from the mono cue audio at ``sample_rate``:

- **short** frames (``frame_size``/``hop_size``, Hann window; 1024/512 at
  22050 Hz is 46/23 ms, MIRtoolbox's 50/25 ms): RMS, zero-crossing rate, MFCCs
  and their deltas, the spectral moments, flatness, crest, entropy,
  brightness; and the onset curve used by the rhythm grid (the half-wave
  rectified difference of the RMS envelope, MIRtoolbox's 'Envelope' onsets);
- **tonal** frames (``tonal_frame_size``/``tonal_hop_size``, Blackman-Harris
  window, finer frequency resolution for peaks): chroma (HPCP), roughness
  (Sethares' model, MIRtoolbox's default, over Essentia's spectral peaks),
  inharmonicity;
- **key** frames (``key_frame``/``key_hop`` seconds of tonal frames, chroma
  averaged): key strength and key mode from Krumhansl-Kessler profiles;
- **rhythm** frames (``rhythm_frame``/``rhythm_hop`` seconds of the onset
  curve): tempo and pulse clarity from its autocorrelation.

Texture windows (``texture_window`` s, hop ``texture_hop`` s; 5 s and 3.35 s,
i.e. 33 % overlap, by default) summarise each frame-level feature by its mean
and standard deviation (population, ddof=0) over the frames whose centres fall
in the window. How windows meet the 1 Hz grid (``texture_align``):

- ``nearest`` (default): windows are laid from the cue start every
  ``texture_hop`` s, plus one window ending at the cue end when the last one
  falls short of it, so every second of the cue is in some window; each 1 Hz
  frame takes the statistics of the window whose centre is nearest its own
  centre (``t + 0.5``), the way VGGish's 0.96 s frames are resampled to 1 Hz;
- ``centred``: one window centred on each 1 Hz frame (``t + 0.5 ± window/2``,
  clipped to the cue); ``texture_hop`` is then unused.

A cue shorter than one texture window gives one window over all its audio; a
cue shorter than one analysis frame is zero-padded to one frame. Frames whose
RMS is below ``silence_db`` dBFS have no defined spectral shape, chroma, key,
roughness or inharmonicity: they are left out of the window statistics, and a
window with no defined frame gets 0 for those features (the stage warns about
silent cues). MFCCs, RMS and zero-crossing rate are defined on silence.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ..config import schema_defaults, settings_from_section
from .groups import FEATURE_GROUP
from .bags import n_frames

# Chroma bins named from C; HPCP with referenceFrequency=440 starts at A.
CHROMA_NAMES: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_HPCP_A_TO_C = 3  # roll HPCP (A, A#, B, C, ...) by -3 to get (C, C#, ...)

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first (as MIRtoolbox's mirkeystrength).
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

N_MFCC = 13
PEAK_RANGE_DB = 60.0  # tonal-frame spectral peaks kept: within this of the frame's strongest peak (drops side lobes)
DELTA_RADIUS = 2  # frames each side in the delta regression (MIRtoolbox's default radius)


@dataclass(frozen=True)
@schema_defaults("features.mir")
class MirSettings:
    """The `features.mir` section of params.yaml (defaults: filmscore.config)."""

    sample_rate: int
    frame_size: int
    hop_size: int
    tonal_frame_size: int
    tonal_hop_size: int
    texture_window: float
    texture_hop: float
    texture_align: str
    key_frame: float
    key_hop: float
    rhythm_frame: float
    rhythm_hop: float
    tempo_range: tuple
    brightness_cutoff: float
    silence_db: float

    @classmethod
    def from_params(cls, section: dict) -> "MirSettings":
        return settings_from_section(cls, section, {"tempo_range": float})


def _frame_names() -> list[str]:
    """Frame-level feature names in Table 2 order (the order of the output columns)."""
    names: list[str] = []
    for base in FEATURE_GROUP:
        if base == "chroma":
            names += [f"chroma_{c}" for c in CHROMA_NAMES]
        elif base in ("mfcc", "d_mfcc", "dd_mfcc"):
            names += [f"{base}_{i:02d}" for i in range(1, N_MFCC + 1)]
        else:
            names.append(base)
    return names


FRAME_NAMES: tuple[str, ...] = tuple(_frame_names())
COLUMNS: tuple[str, ...] = tuple(f"{n}_{s}" for n in FRAME_NAMES for s in ("mean", "std"))

SHORT_NAMES = (
    ["rms", "zero_crossing_rate"]
    + [f"mfcc_{i:02d}" for i in range(1, N_MFCC + 1)]
    + ["spectral_centroid", "spectral_spread", "spectral_skewness", "spectral_kurtosis",
       "spectral_flatness", "spectral_crest", "spectral_entropy", "spectral_brightness"]
)
TONAL_NAMES = [f"chroma_{c}" for c in CHROMA_NAMES] + ["roughness", "inharmonicity"]
KEY_NAMES = ["key_strength", "key_mode"]
RHYTHM_NAMES = ["tempo", "pulse_clarity"]
DELTA_NAMES = [f"d_mfcc_{i:02d}" for i in range(1, N_MFCC + 1)] + [f"dd_mfcc_{i:02d}" for i in range(1, N_MFCC + 1)]


@dataclass
class Grid:
    """Frame-level features on one analysis grid."""

    times: np.ndarray  # (n,) frame centres, seconds from the start of the audio
    values: np.ndarray  # (n, d) float64; NaN where the feature is undefined (silence)
    names: list[str]


def frame_signal(x: np.ndarray, size: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut `x` into full frames (a signal shorter than one frame is zero-padded to one).

    Returns (frames (n, size) float32, a read-only view on `x`, no copy; centre
    times in samples (n,)).
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) < size:
        x = np.pad(x, (0, size - len(x)))
    n = 1 + (len(x) - size) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, size)[::hop][:n]
    centres = np.arange(n) * hop + size / 2.0
    return frames, centres


def deltas(c: np.ndarray, radius: int = DELTA_RADIUS) -> np.ndarray:
    """Regression deltas over +-radius frames (edges replicated): sum n (c[t+n] - c[t-n]) / (2 sum n^2)."""
    if len(c) == 0:
        return c.copy()
    pad = np.pad(c, ((radius, radius), (0, 0)), mode="edge")
    num = np.zeros_like(c, dtype=np.float64)
    T = len(c)
    for k in range(1, radius + 1):
        num += k * (pad[radius + k: radius + k + T] - pad[radius - k: radius - k + T])
    return num / (2.0 * sum(k * k for k in range(1, radius + 1)))


def pool_frames(values: np.ndarray, times: np.ndarray, length: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of `values` over sliding groups of `length` frames every `hop` frames (NaN rows ignored).

    At least one group (all frames) when there are fewer frames than `length`.
    """
    n = len(values)
    length = max(1, min(length, n))
    starts = np.arange(0, n - length + 1, max(1, hop))
    pooled = np.empty((len(starts), values.shape[1]))
    centres = np.empty(len(starts))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for j, s in enumerate(starts):
            pooled[j] = np.nanmean(values[s: s + length], axis=0)
            centres[j] = times[s: s + length].mean()
    return pooled, centres


def key_profiles_correlation(chroma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of each C-first chroma row with the 12 major and 12 minor K-K key profiles.

    Returns (major (n, 12), minor (n, 12)); column k is the key whose tonic is
    pitch class k (0 = C). Rows with a flat chroma (silence) are NaN.
    """
    chroma = np.atleast_2d(np.asarray(chroma, dtype=np.float64))
    # profile of key k: the tonic-first profile rotated so that its tonic sits at pitch class k
    maj = np.stack([np.roll(KK_MAJOR, k) for k in range(12)])
    mnr = np.stack([np.roll(KK_MINOR, k) for k in range(12)])

    def z(a: np.ndarray) -> np.ndarray:
        sd = a.std(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(sd > 1e-12, (a - a.mean(axis=-1, keepdims=True)) / sd, np.nan)

    zc = z(chroma)
    return zc @ z(maj).T / 12.0, zc @ z(mnr).T / 12.0


def key_strength_and_mode(chroma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MIRtoolbox's key strength (best correlation over the 24 keys) and mode (best major - best minor)."""
    major, minor = key_profiles_correlation(chroma)
    best_major, best_minor = major.max(axis=1), minor.max(axis=1)
    return np.maximum(best_major, best_minor), best_major - best_minor


ODF_SMOOTHING = 0.1  # seconds: Hann low-pass of the onset curve before autocorrelation


def smooth_onsets(odf: np.ndarray, rate: float, seconds: float = ODF_SMOOTHING) -> np.ndarray:
    """Low-pass the onset curve with a unit-sum Hann window of `seconds`.

    Onsets land on a frame grid that does not divide the beat period (a 0.5 s
    beat is 21.5 frames at 23.2 ms), so an unsmoothed curve splits each lag's
    peak between two neighbouring lags; MIRtoolbox low-passes its envelope too.
    """
    n = max(3, int(round(seconds * rate)) | 1)
    w = np.hanning(n + 2)[1:-1]
    return np.convolve(odf, w / w.sum(), mode="same")


# Sethares (1998) dissonance curve, as in MIRtoolbox's mirroughness (default method)
_SETHARES_B1, _SETHARES_B2 = 3.5, 5.75
_SETHARES_S1, _SETHARES_S2, _SETHARES_DSTAR = 0.0207, 18.96, 0.24


def sethares_roughness(freqs: np.ndarray, mags: np.ndarray) -> float:
    """Roughness of a set of partials: Sethares' pair model, normalised by the partials' energy.

    ``sum_{i<j} a_i a_j (exp(-3.5 s df) - exp(-5.75 s df)) / sum_i a_i^2`` with
    ``s = 0.24 / (0.0207 min(f_i, f_j) + 18.96)``. 0 for one partial or
    intervals beyond the critical band; about 0.09 at most for two equal partials.
    """
    f = np.asarray(freqs, dtype=np.float64)
    a = np.asarray(mags, dtype=np.float64)
    energy = float(np.dot(a, a))
    if len(f) < 2 or energy <= 0:
        return 0.0
    i, j = np.triu_indices(len(f), 1)
    df = np.abs(f[i] - f[j])
    s = _SETHARES_DSTAR / (_SETHARES_S1 * np.minimum(f[i], f[j]) + _SETHARES_S2)
    curve = np.exp(-_SETHARES_B1 * s * df) - np.exp(-_SETHARES_B2 * s * df)
    return float(np.dot(a[i] * a[j], curve) / energy)


def tempo_and_clarity(odf: np.ndarray, rate: float, tempo_range: tuple) -> tuple[float, float]:
    """Tempo (BPM) and pulse clarity of one onset-curve frame, from its autocorrelation.

    The onset curve's mean is removed, its autocorrelation normalised to 1 at
    lag 0; pulse clarity is the highest autocorrelation peak at lags inside
    the tempo range (MIRtoolbox's 'MaxAutocor'), tempo is 60 / that lag, refined
    by parabolic interpolation. No peak (or a flat curve): NaN, NaN.
    """
    x = np.asarray(odf, dtype=np.float64)
    x = x - x.mean()
    n = len(x)
    energy = float(np.dot(x, x))
    if n < 3 or energy <= 1e-20:
        return math.nan, math.nan
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    spec = np.fft.rfft(x, nfft)
    acf = np.fft.irfft(spec * np.conj(spec), nfft)[:n] / energy
    lo = max(1, int(math.floor(rate * 60.0 / tempo_range[1])))
    hi = min(n - 2, int(math.ceil(rate * 60.0 / tempo_range[0])))
    if hi <= lo:
        return math.nan, math.nan
    k = np.arange(lo, hi + 1)
    peaks = k[(acf[k] >= acf[k - 1]) & (acf[k] > acf[k + 1])]
    lag_min, lag_max = rate * 60.0 / tempo_range[1], rate * 60.0 / tempo_range[0]
    peaks = peaks[(peaks >= lag_min - 0.5) & (peaks <= lag_max + 0.5)]
    if len(peaks) == 0:
        return math.nan, math.nan
    best = int(peaks[np.argmax(acf[peaks])])
    a, b, c = acf[best - 1], acf[best], acf[best + 1]
    den = a - 2 * b + c
    shift = 0.5 * (a - c) / den if den < 0 else 0.0
    lag = best + float(np.clip(shift, -0.5, 0.5))
    return 60.0 * rate / lag, float(b)


class MIR:
    """The MIR feature set: `embed(audio, sr)` -> (n_seconds, len(COLUMNS)) float32 at 1 Hz."""

    name = "mir"
    columns: tuple[str, ...] = COLUMNS

    def __init__(self, settings: MirSettings | None = None):
        import essentia

        essentia.log.infoActive = False  # before essentia.standard, which logs on import
        essentia.log.warningActive = False
        import essentia.standard as es
        self.settings = s = settings or MirSettings()
        self.sample_rate = sr = int(s.sample_rate)
        nyq = sr / 2.0
        N, NT = int(s.frame_size), int(s.tonal_frame_size)
        self._silence = 10.0 ** (s.silence_db / 20.0)
        self._peak_floor = 10.0 ** (-PEAK_RANGE_DB / 20.0)
        # short frames
        self._window = es.Windowing(type="hann", size=N)
        self._spectrum = es.Spectrum(size=N)
        self._rms = es.RMS()
        self._zcr = es.ZeroCrossingRate()
        self._mfcc = es.MFCC(inputSize=N // 2 + 1, sampleRate=sr, numberBands=40, numberCoefficients=N_MFCC + 1,
                             lowFrequencyBound=0, highFrequencyBound=min(11000.0, nyq))
        self._centroid = es.Centroid(range=nyq)
        self._moments = es.CentralMoments(range=nyq)
        self._shape = es.DistributionShape()
        self._flatness = es.Flatness()
        self._crest = es.Crest()
        self._entropy = es.Entropy()
        self._bright = es.EnergyBandRatio(sampleRate=sr, startFrequency=min(float(s.brightness_cutoff), nyq),
                                          stopFrequency=nyq)
        self._log2_bins = math.log2(N // 2 + 1)
        # tonal frames
        self._twindow = es.Windowing(type="blackmanharris62", size=NT)
        self._tspectrum = es.Spectrum(size=NT)
        fmax = min(5000.0, nyq - 1.0)
        self._peaks = es.SpectralPeaks(sampleRate=sr, minFrequency=40, maxFrequency=fmax, maxPeaks=100,
                                       magnitudeThreshold=0, orderBy="frequency")
        self._hpcp = es.HPCP(size=12, referenceFrequency=440, sampleRate=sr, minFrequency=40, maxFrequency=fmax,
                             harmonics=0, nonLinear=False, normalized="unitMax")
        self._pitch = es.PitchYinFFT(frameSize=NT, sampleRate=sr, minFrequency=40, maxFrequency=fmax)
        self._harmonic = es.HarmonicPeaks()
        self._inharm = es.Inharmonicity()

    @classmethod
    def from_params(cls, section: dict) -> "MIR":
        return cls(MirSettings.from_params(section))

    # ------------------------------------------------------------ frame level

    def _short_frames(self, x: np.ndarray) -> tuple[Grid, np.ndarray]:
        s = self.settings
        frames, centres = frame_signal(x, s.frame_size, s.hop_size)
        out = np.full((len(frames), len(SHORT_NAMES)), np.nan)
        sr = self.sample_rate
        for i, fr in enumerate(frames):
            rms = self._rms(fr)
            out[i, 0] = rms
            out[i, 1] = self._zcr(fr) * sr / 2.0  # one-way crossings per second (MIRtoolbox's unit)
            spec = self._spectrum(self._window(fr))
            out[i, 2:15] = self._mfcc(spec)[1][1:]
            if rms < self._silence:
                continue
            spread, skew, kurt = self._shape(self._moments(spec))
            power = spec * spec
            out[i, 15] = self._centroid(spec)
            out[i, 16] = math.sqrt(max(spread, 0.0))
            out[i, 17] = skew
            out[i, 18] = kurt
            out[i, 19] = self._flatness(power)
            out[i, 20] = self._crest(power)
            out[i, 21] = self._entropy(spec) / self._log2_bins
            out[i, 22] = self._bright(spec)
        odf = np.maximum(0.0, np.diff(out[:, 0], prepend=out[0, 0]))
        return Grid(centres / sr, out, list(SHORT_NAMES)), odf

    def _tonal_frames(self, x: np.ndarray) -> Grid:
        s = self.settings
        frames, centres = frame_signal(x, s.tonal_frame_size, s.tonal_hop_size)
        out = np.full((len(frames), len(TONAL_NAMES)), np.nan)
        for i, fr in enumerate(frames):
            if self._rms(fr) < self._silence:
                continue
            spec = self._tspectrum(self._twindow(fr))
            freqs, mags = self._peaks(spec)
            if len(mags):  # drop window side lobes and noise-floor ripples far below the partials
                keep = mags >= mags.max() * self._peak_floor
                freqs, mags = freqs[keep], mags[keep]
            out[i, :12] = np.roll(self._hpcp(freqs, mags), -_HPCP_A_TO_C)
            out[i, 12] = sethares_roughness(freqs, mags)
            f0, _conf = self._pitch(spec)
            if f0 > 0 and len(freqs):
                try:
                    hf, hm = self._harmonic(freqs, mags, f0)
                    out[i, 13] = self._inharm(hf, hm)
                except RuntimeError:  # no usable harmonic peak: undefined
                    pass
        return Grid(centres / self.sample_rate, out, list(TONAL_NAMES))

    def _key_frames(self, tonal: Grid) -> Grid:
        s = self.settings
        step = s.tonal_hop_size / self.sample_rate
        chroma, times = pool_frames(tonal.values[:, :12], tonal.times,
                                    max(1, round(s.key_frame / step)), max(1, round(s.key_hop / step)))
        strength, mode = key_strength_and_mode(np.nan_to_num(chroma, nan=0.0))
        return Grid(times, np.stack([strength, mode], axis=1), list(KEY_NAMES))

    def _rhythm_frames(self, odf: np.ndarray, short_times: np.ndarray) -> Grid:
        s = self.settings
        rate = self.sample_rate / s.hop_size
        odf = smooth_onsets(odf, rate)
        length = max(1, min(len(odf), round(s.rhythm_frame * rate)))
        hop = max(1, round(s.rhythm_hop * rate))
        starts = np.arange(0, len(odf) - length + 1, hop)
        out = np.empty((len(starts), 2))
        times = np.empty(len(starts))
        for j, st in enumerate(starts):
            out[j] = tempo_and_clarity(odf[st: st + length], rate, s.tempo_range)
            times[j] = short_times[st: st + length].mean()
        return Grid(times, out, list(RHYTHM_NAMES))

    def frame_features(self, audio: np.ndarray) -> list[Grid]:
        """Every frame-level feature of mono `audio` (at `sample_rate`), grid by grid."""
        x = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        if len(x) == 0:
            raise ValueError("no audio samples")
        short, odf = self._short_frames(x)
        mf = short.values[:, 2:15]
        d = deltas(mf)
        short_all = Grid(short.times, np.concatenate([short.values, d, deltas(d)], axis=1),
                         short.names + DELTA_NAMES)
        tonal = self._tonal_frames(x)
        return [short_all, tonal, self._key_frames(tonal), self._rhythm_frames(odf, short.times)]

    # ------------------------------------------------------------ texture windows

    def texture_windows(self, duration: float, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Texture windows of a cue: (starts, ends, window index of each of the n_out 1 Hz frames)."""
        return texture_windows(duration, n_out, self.settings.texture_window, self.settings.texture_hop,
                               self.settings.texture_align)

    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """Texture-windowed MIR features of one cue at 1 Hz: (max(1, floor(seconds)), len(COLUMNS)) float32."""
        if int(sr) != self.sample_rate:
            raise ValueError(f"MIR expects audio at {self.sample_rate} Hz (features.mir.sample_rate), got {sr} Hz")
        x = np.asarray(audio, dtype=np.float32).reshape(-1)
        duration = len(x) / self.sample_rate
        n_out = n_frames(duration)
        starts, ends, assign = self.texture_windows(duration, n_out)
        stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for grid in self.frame_features(x):
            mean, std = texture_stats(grid.times, grid.values, starts, ends)
            for j, name in enumerate(grid.names):
                stats[name] = (mean[:, j], std[:, j])
        out = np.empty((len(starts), len(COLUMNS)))
        for j, name in enumerate(FRAME_NAMES):
            out[:, 2 * j], out[:, 2 * j + 1] = stats[name]
        out = np.nan_to_num(out[assign], nan=0.0, posinf=0.0, neginf=0.0)
        return out.astype(np.float32)


def texture_windows(duration: float, n_out: int, window: float, hop: float, align: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Texture windows over a cue of `duration` s and the window each of its `n_out` 1 Hz frames takes.

    See the module docstring for the two alignments.
    """
    eps = 1e-9
    centres_1hz = np.arange(n_out) + 0.5
    if align == "centred":
        starts = np.clip(centres_1hz - window / 2.0, 0.0, duration)
        ends = np.clip(centres_1hz + window / 2.0, 0.0, duration)
        return starts, np.maximum(ends, starts), np.arange(n_out)
    if align != "nearest":
        raise ValueError(f"texture_align must be 'nearest' or 'centred', got {align!r}")
    if duration <= window + eps:
        starts, ends = np.array([0.0]), np.array([duration])
    else:
        k = int(math.floor((duration - window) / hop + eps)) + 1
        starts = np.arange(k) * hop
        ends = starts + window
        if ends[-1] < duration - 1e-3:
            starts = np.append(starts, duration - window)
            ends = np.append(ends, duration)
    centres = (starts + ends) / 2.0
    assign = np.argmin(np.abs(centres[None, :] - centres_1hz[:, None]), axis=1)
    return starts, ends, assign


def texture_stats(times: np.ndarray, values: np.ndarray, starts: Iterable[float], ends: Iterable[float]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (ddof=0, NaN frames ignored) of the frames whose centre lies in [start, end).

    A window that holds no frame centre takes the frame nearest its centre.
    """
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    lo = np.searchsorted(times, starts, side="left")
    hi = np.searchsorted(times, ends, side="left")
    mean = np.empty((len(starts), values.shape[1]))
    std = np.empty_like(mean)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for w in range(len(starts)):
            a, b = int(lo[w]), int(hi[w])
            if b <= a:
                a = int(np.argmin(np.abs(times - (starts[w] + ends[w]) / 2.0)))
                b = a + 1
            block = values[a:b]
            mean[w] = np.nanmean(block, axis=0)
            std[w] = np.nanstd(block, axis=0)
    return mean, std
