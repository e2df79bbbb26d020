"""What the matcher knows of a recording: Chromaprint raw fingerprints, band frames, PCM.

Everything is computed on mid (L+R)/2 and, for stereo input, side (L-R)/2: a
film mix puts dialogue in the centre, where it cancels in the side signal,
while music is usually wide. A mono recording (or one whose side carries
nothing) simply has no side channel, and matching falls back to mid.

* Chromaprint raw fingerprints come from libchromaprint through the project's
  ctypes binding (`filmscore.cues.libchromaprint`), fed the decoder's PCM block by block, so
  they cover the whole recording (no 120 s limit). One 32-bit item every
  1365 samples at 11025 Hz (0.1238 s): libchromaprint's frame is 4096 samples
  with an overlap of 4096 - 4096/3 in integer arithmetic, so the hop is 1365,
  not 1365.33 (a difference that would shift a lag by 0.6 s after 40 minutes).
* Band frames are log energies in log-spaced bands, high-passed in time and
  normalised per frame, so that the dot product of two frames is a cosine
  similarity that degrades gracefully under dialogue where Chromaprint's bits
  do not. They feed the cross-correlation candidate search.
* PCM is decoded as int16 and kept as int16 mid/side (the film spooled to a
  temporary file while streaming, each track in the cache or a temporary
  folder) and read back span by span (`PcmFile`), so a two-hour film or a long
  soundtrack is decoded once and never sits in memory whole; the phase check
  reads spans of it. A track at another speed (PAL) is resampled span by span.
"""

from __future__ import annotations

import ctypes
import logging
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.fft as sfft
from scipy.signal import resample_poly

from ..config import schema_defaults
from ..errors import MediaError
from ..media import decode_audio, probe, stream_audio
from . import libchromaprint

log = logging.getLogger(__name__)

CHROMAPRINT_RATE = 11025  # libchromaprint resamples everything to this internally
CHROMAPRINT_HOP = (4096 - (4096 - 4096 // 3)) / CHROMAPRINT_RATE  # seconds per raw fingerprint item (1365 samples)
SIDE_MIN_RATIO = 0.01  # side RMS below this fraction of mid RMS: treat as mono
#: a film whose side (L-R) carries this many times the energy of its mid (L+R) over its whole length (6 dB) has
#: one channel's polarity inverted (a faulty transfer): its L and R correlate at -0.6 or below. A mix with its
#: dialogue centred correlates positively; of 104 real game-music tracks (bench/cues material) the widest stereo
#: (ambient pads) reached side/mid 1.47 and the median 0.22. Its mid and side are swapped back.
POLARITY_SIDE_RATIO = 4.0
CHANNELS = ("mid", "side")


# ---------------------------------------------------------------- chromaprint


class RawFingerprinter:
    """Streaming raw Chromaprint fingerprint (algorithm TEST2, the library default)."""

    def __init__(self, sample_rate: int):
        self._lib = libchromaprint.library()
        self._ctx = self._lib.chromaprint_new(libchromaprint.ALGORITHM_TEST2)
        if not self._lib.chromaprint_start(self._ctx, int(sample_rate), 1):
            raise RuntimeError("chromaprint_start failed")

    def feed(self, x: np.ndarray) -> None:
        """Feed mono PCM: int16 as is, float in [-1, 1] scaled to int16."""
        if len(x) == 0:
            return
        if x.dtype != np.int16:
            x = np.clip(np.asarray(x, dtype=np.float32) * 32768.0, -32768, 32767).astype(np.int16)
        x = np.ascontiguousarray(x)
        if not self._lib.chromaprint_feed(self._ctx, x.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), len(x)):
            raise RuntimeError("chromaprint_feed failed")

    def finish(self) -> np.ndarray:
        lib = self._lib
        try:
            if not lib.chromaprint_finish(self._ctx):
                raise RuntimeError("chromaprint_finish failed")
            ptr = ctypes.POINTER(ctypes.c_uint32)()
            n = ctypes.c_int()
            if not lib.chromaprint_get_raw_fingerprint(self._ctx, ctypes.byref(ptr), ctypes.byref(n)):
                return np.zeros(0, dtype=np.uint32)
            out = np.ctypeslib.as_array(ptr, shape=(n.value,)).copy() if n.value else np.zeros(0, dtype=np.uint32)
            lib.chromaprint_dealloc(ptr)
            return out.astype(np.uint32)
        finally:
            lib.chromaprint_free(self._ctx)
            self._ctx = None


def raw_fingerprint(x: np.ndarray, sample_rate: int) -> np.ndarray:
    fp = RawFingerprinter(sample_rate)
    fp.feed(x)
    return fp.finish()


# ---------------------------------------------------------------- band frames


@dataclass(frozen=True)
@schema_defaults("cues.bands")
class BandSpec:
    sample_rate: int = CHROMAPRINT_RATE  # not a key of cues.bands: StampSettings sets it to cues.sample_rate
    n_fft: int
    hop: int
    n_bands: int
    fmin: float
    fmax: float
    highpass_seconds: float

    @property
    def frame_seconds(self) -> float:
        return self.hop / self.sample_rate

    def band_matrix(self) -> np.ndarray:
        freqs = np.fft.rfftfreq(self.n_fft, 1.0 / self.sample_rate)
        edges = np.geomspace(self.fmin, min(self.fmax, self.sample_rate / 2 * 0.95), self.n_bands + 1)
        m = np.zeros((len(freqs), self.n_bands), dtype=np.float32)
        for b in range(self.n_bands):
            sel = (freqs >= edges[b]) & (freqs < edges[b + 1])
            if not sel.any():  # narrow low band: take the nearest bin
                sel = np.abs(freqs - np.sqrt(edges[b] * edges[b + 1])) == np.min(np.abs(freqs - np.sqrt(edges[b] * edges[b + 1])))
            m[sel, b] = 1.0 / sel.sum()
        return m


class BandFramer:
    """Log band energies of a stream, frame by frame (keeps the tail between blocks).

    Takes float PCM or int16 (scaled by 1/32768). Only the FFT bins some band
    uses are squared and summed (scipy's single-precision FFT: several times
    numpy's on batches of frames).
    """

    def __init__(self, spec: BandSpec):
        self.spec = spec
        self.window = np.hanning(spec.n_fft).astype(np.float32)
        m = spec.band_matrix()
        used = np.nonzero(m.any(axis=1))[0]
        self.lo, self.hi = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 1)
        self.bands = np.ascontiguousarray(m[self.lo:self.hi])
        self.tail = np.zeros(0, dtype=np.float32)
        self.out: list[np.ndarray] = []
        self.started = False

    def feed(self, x: np.ndarray) -> None:
        s = self.spec
        x = x.astype(np.float32) * np.float32(1 / 32768) if x.dtype == np.int16 else np.asarray(x, dtype=np.float32)
        if not self.started:  # centre the first frame on t=0
            x = np.concatenate([np.zeros(s.n_fft // 2 - s.hop // 2, dtype=np.float32), x])
            self.started = True
        buf = np.concatenate([self.tail, x]) if len(self.tail) else x
        n = 0 if len(buf) < s.n_fft else 1 + (len(buf) - s.n_fft) // s.hop
        if n:
            frames = np.lib.stride_tricks.sliding_window_view(buf, s.n_fft)[:: s.hop][:n]
            spec = sfft.rfft(frames * self.window, axis=1, overwrite_x=True)[:, self.lo:self.hi]
            power = spec.real ** 2
            power += spec.imag ** 2
            self.out.append(power @ self.bands)
        self.tail = buf[n * s.hop:].copy()

    def finish(self) -> np.ndarray:
        if len(self.tail):
            self.feed(np.zeros(self.spec.n_fft, dtype=np.float32))
            self.tail = np.zeros(0, dtype=np.float32)
        if not self.out:
            return np.zeros((0, self.spec.n_bands), dtype=np.float32)
        return np.concatenate(self.out)


def normalise_bands(energy: np.ndarray, spec: BandSpec) -> np.ndarray:
    """Log, temporal high-pass, per-frame zero mean and unit norm (float32)."""
    if len(energy) == 0:
        return energy.astype(np.float32)
    floor = max(float(np.percentile(energy, 99)) * 1e-6, 1e-12)
    x = np.log(energy + floor).astype(np.float32)
    k = max(1, int(round(spec.highpass_seconds / spec.frame_seconds)))
    if k > 1 and len(x) > 1:
        c = np.cumsum(np.vstack([np.zeros((1, x.shape[1]), np.float32), x]), axis=0)
        idx = np.arange(len(x))
        lo = np.clip(idx - k // 2, 0, len(x))
        hi = np.clip(idx + k // 2 + 1, 0, len(x))
        x = x - (c[hi] - c[lo]) / (hi - lo)[:, None]
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.where(norm > 1e-6, x / np.maximum(norm, 1e-6), 0.0).astype(np.float32)
    return x


# ---------------------------------------------------------------- prints


@dataclass
class Prints:
    """Fingerprints and band frames per channel ("mid", "side" when stereo)."""

    duration: float
    fp: dict[str, np.ndarray] = field(default_factory=dict)
    bands: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def channels(self) -> list[str]:
        return [c for c in CHANNELS if c in self.bands]

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        out = {f"{prefix}duration": np.array([self.duration])}
        for c in self.channels:
            out[f"{prefix}fp_{c}"] = self.fp[c]
            out[f"{prefix}bands_{c}"] = self.bands[c].astype(np.float16)
        return out

    @classmethod
    def from_arrays(cls, arrs, prefix: str = "") -> "Prints":
        p = cls(duration=float(arrs[f"{prefix}duration"][0]))
        for c in CHANNELS:
            if f"{prefix}bands_{c}" in arrs:
                p.fp[c] = np.asarray(arrs[f"{prefix}fp_{c}"], dtype=np.uint32)
                p.bands[c] = np.asarray(arrs[f"{prefix}bands_{c}"], dtype=np.float32)
        return p


def mid_side_int16(x: np.ndarray) -> np.ndarray:
    """int16 L/R (n, 2) -> int16 (n, 2): mid (L+R)/2 and side (L-R)/2, rounded down. Mono (n,): side 0."""
    out = np.empty((len(x), 2), dtype=np.int16)
    if x.ndim == 1:
        out[:, 0] = x
        out[:, 1] = 0
        return out
    left = x[:, 0].astype(np.int32)
    right = x[:, 1].astype(np.int32)
    out[:, 0] = (left + right) >> 1
    out[:, 1] = (left - right) >> 1
    return out


def _has_side(mid_energy: float, side_energy: float) -> bool:
    return side_energy > (SIDE_MIN_RATIO ** 2) * max(mid_energy, 1e-20)


def out_of_phase(mid_energy: float, side_energy: float) -> bool:
    """Whether a stereo signal's channels are out of phase (one channel's polarity inverted), from the energies of
    its mid (L+R)/2 and side (L-R)/2: side `POLARITY_SIDE_RATIO` times mid or more."""
    return side_energy > POLARITY_SIDE_RATIO * max(mid_energy, 1e-20)


def _energy(x: np.ndarray, block: int = 1 << 20) -> float:
    """Sum of squares of int16 or float samples (float64, in blocks: no int overflow, bounded memory)."""
    return float(sum(np.dot(v, v) for v in (x[i:i + block].astype(np.float64) for i in range(0, len(x), block))))


def prints_of(pcm: dict[str, np.ndarray], spec: BandSpec) -> Prints:
    """Prints of in-memory PCM channels (mid and optional side) at spec.sample_rate (float or int16)."""
    mid = pcm["mid"]
    p = Prints(duration=len(mid) / spec.sample_rate)
    for c, x in pcm.items():
        p.fp[c] = raw_fingerprint(x, spec.sample_rate)
        f = BandFramer(spec)
        f.feed(x)
        p.bands[c] = normalise_bands(f.finish(), spec)
    return p


# ---------------------------------------------------------------- tracks


def speed_ratio(speed: float) -> Fraction | None:
    """`speed` as a ratio of small integers (24/25, 51/50, ...), or None when it is not one (1000/1001 is not).

    Small ratios are rendered by polyphase resampling; any other speed by
    windowed-sinc interpolation at the exact fractional positions.
    """
    r = Fraction(speed).limit_denominator(200)
    return r if abs(float(r) - speed) < 1e-12 else None


SINC_HALF = 16        # interpolation taps either side of a fractional position
SINC_PHASES = 2048    # fractional positions tabulated (1/2048 sample: phase error < 0.0015 rad at 5 kHz, 11025 Hz)
SINC_BETA = 8.0       # Kaiser window


@lru_cache(maxsize=16)
def _sinc_table(cutoff: float) -> np.ndarray:
    """Kaiser-windowed sinc weights (2 * SINC_HALF, SINC_PHASES + 1): column p for a position p / SINC_PHASES past a sample."""
    frac = np.arange(SINC_PHASES + 1)[:, None] / SINC_PHASES
    k = np.arange(-SINC_HALF + 1, SINC_HALF + 1)[None, :]
    t = frac - k  # distance from each tap to the position
    w = np.i0(SINC_BETA * np.sqrt(np.clip(1 - (t / SINC_HALF) ** 2, 0, None))) / np.i0(SINC_BETA)
    return np.ascontiguousarray((cutoff * np.sinc(cutoff * t) * w).T.astype(np.float32))  # (taps, phases)


def sinc_resample(x: np.ndarray, x0: int, positions: np.ndarray) -> np.ndarray:
    """x (samples x0, x0 + 1, ...) read at fractional `positions` (absolute sample numbers), zero outside x.

    A low-pass at min(1, 1 / step) of Nyquist (step: the spacing of the
    positions) keeps a sped-up rendering free of aliasing. Each output depends
    only on its own position, so any span of a rendering equals the same
    samples of the whole rendered at once.
    """
    if len(positions) == 0:
        return np.zeros(0, np.float32)
    step = float(positions[-1] - positions[0]) / max(1, len(positions) - 1) if len(positions) > 1 else 1.0
    table = _sinc_table(round(0.97 * min(1.0, 1.0 / max(step, 1e-9)), 4))
    base = np.floor(positions).astype(np.int64)
    phase = np.rint((positions - base) * SINC_PHASES).astype(np.int64)
    pad = np.concatenate([np.zeros(SINC_HALF + 1, np.float32), np.asarray(x, np.float32), np.zeros(SINC_HALF + 1, np.float32)])
    b = base - x0 + SINC_HALF + 1
    lo, hi = int(b.min()) - SINC_HALF + 1, int(b.max()) + SINC_HALF
    if lo < 0 or hi >= len(pad):  # positions past the padding: more zeros, so that no tap index needs clipping
        pad = np.concatenate([np.zeros(max(0, -lo), np.float32), pad, np.zeros(max(0, hi + 1 - len(pad)), np.float32)])
        b = b + max(0, -lo)
    out = np.zeros(len(positions), np.float32)
    for i, k in enumerate(range(-SINC_HALF + 1, SINC_HALF + 1)):  # a tap at a time: 1-D gathers, no (n, taps) temporaries
        out += pad[b + k] * table[i][phase]
    return out


def render_span(read, a: int, b: int, speed: float, n_samples: int | None = None) -> np.ndarray:
    """Samples [a, b) of a signal played at `speed`: output sample j sits at input sample j * speed.

    `read(i0, i1)` gives the input's float32 samples [i0, i1) (zeros past its
    end); `n_samples` (the input's length, None: unknown) bounds what is read.
    Speed 1 reads [a, b) as is; a ratio of small integers (25/24) is rendered
    by polyphase resampling of just the samples the span needs, starting on a
    multiple of the resampler's period; any other speed (1000/1001) by
    windowed-sinc interpolation at the exact positions. Either way any span
    equals the same samples of the whole signal rendered at once. The one
    renderer of a track at a film's speed: the matcher's `TrackAudio.span` and
    the features' `filmscore.features.source` both use it.
    """
    end = np.iinfo(np.int64).max if n_samples is None else int(n_samples)
    if speed == 1.0:
        return read(a, b)
    r = speed_ratio(speed)
    if r is None:  # any other speed: output sample j sits at input j * speed
        pos = np.arange(a, b, dtype=np.float64) * speed
        i0 = max(0, int(pos[0]) - SINC_HALF - 1)
        i1 = min(end, int(pos[-1]) + SINC_HALF + 2)
        return sinc_resample(read(i0, i1), i0, pos)
    up, down = r.denominator, r.numerator  # output sample j sits at input j * down / up
    pad = 10 * max(up, down) // up + 4      # resample_poly's filter half-length, in input samples
    i0 = max(0, (a * down // up - pad) // down * down)
    i1 = min(end, b * down // up + pad + 1)
    y = resample_poly(read(i0, i1), up, down)
    j0 = i0 * up // down
    return y[a - j0:b - j0]


class PcmFile:
    """An int16 (n, k) array in a file (raw at `offset`, or a .npy), read by rows with pread.

    Nothing is memory-mapped, so what the matcher has read does not stay
    resident: memory holds only the spans in use. Indexing as `f[a:b, col]`
    or `f[a:b]` reads those rows.
    """

    def __init__(self, path: str | Path, shape: tuple[int, int] | None = None, offset: int = 0):
        self.path = Path(path)
        if shape is None:  # a .npy file: its header tells shape and where the data start
            with open(self.path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read(fh)
                offset = fh.tell()
            if np.dtype(dtype) != np.dtype("<i2") or fortran or len(shape) != 2 or shape[1] not in (1, 2):
                raise ValueError(f"{self.path}: not an int16 (n, 1|2) array ({dtype}, {shape})")
        self.shape = (int(shape[0]), int(shape[1]))
        self.offset = int(offset)
        self._fd: int | None = os.open(self.path, os.O_RDONLY)
        if os.fstat(self._fd).st_size < self.offset + 2 * self.shape[0] * self.shape[1]:
            self.close()
            raise ValueError(f"{self.path}: truncated")

    def rows(self, a: int, b: int) -> np.ndarray:
        a, b = max(0, a), min(self.shape[0], b)
        k = self.shape[1]
        if b <= a or self._fd is None:
            return np.zeros((0, k), dtype=np.int16)
        buf = os.pread(self._fd, 2 * k * (b - a), self.offset + 2 * k * a)
        return np.frombuffer(buf, dtype="<i2").reshape(-1, k)

    def __getitem__(self, key):
        rows, col = (key if isinstance(key, tuple) else (key, slice(None)))
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("PcmFile reads contiguous rows: f[a:b] or f[a:b, col]")
        a, b, _ = rows.indices(self.shape[0])
        return self.rows(a, b)[:, col]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


class TrackAudio:
    """A track's PCM at the matcher rate, as released (speed 1): int16 mid and, when it carries signal, side.

    `data` (n, len(channels)) is an array or, usually, a `PcmFile` (in the
    cache, or a temporary file), so only the spans the matcher reads are in memory.
    `span` gives float32 samples of the track at any playback speed: a speed
    above 1 renders it faster with the pitch raised, as a PAL transfer does
    (25/24), by polyphase resampling of just the samples the span needs (a
    ratio of small integers) or windowed-sinc interpolation (any other speed,
    1000/1001 among them). The
    span starts on a multiple of the resampler's period, so any span equals
    the same samples of the whole track resampled at once.
    """

    def __init__(self, data: "np.ndarray | PcmFile", channels: tuple[str, ...], sample_rate: int):
        self.data = data
        self.channels = tuple(channels)
        self.sample_rate = sample_rate

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])

    def length(self, speed: float = 1.0) -> int:
        """Samples of the track played at `speed`."""
        if speed == 1.0:
            return self.n_samples
        r = speed_ratio(speed)
        if r is None:
            return int(np.ceil(self.n_samples / speed))
        return -(-self.n_samples * r.denominator // r.numerator)

    def span(self, channel: str, start: int, stop: int, speed: float = 1.0) -> np.ndarray:
        """Samples [start, stop) of one channel at `speed` as float32, zero outside the track."""
        out = np.zeros(max(0, stop - start), dtype=np.float32)
        if channel not in self.channels:
            return out
        col = self.channels.index(channel)
        a, b = max(0, start), min(self.length(speed), stop)
        if b <= a:
            return out
        out[a - start:b - start] = render_span(lambda i0, i1: self.data[i0:i1, col] * np.float32(1 / 32768),
                                               a, b, speed, self.n_samples)
        return out

    def whole(self, channel: str, speed: float = 1.0) -> np.ndarray:
        return self.span(channel, 0, self.length(speed), speed)


def load_track_audio(path: str | Path, sample_rate: int, use_side: bool = True) -> TrackAudio:
    """Decode a track (int16) to mid and, when it carries signal, side at `sample_rate`."""
    ms = mid_side_int16(decode_audio(path, sample_rate, channels=2, dtype="int16"))
    if use_side and _has_side(_energy(ms[:, 0]), _energy(ms[:, 1])):
        return TrackAudio(ms, CHANNELS, sample_rate)
    return TrackAudio(np.ascontiguousarray(ms[:, :1]), ("mid",), sample_rate)


def track_prints(audio: TrackAudio, spec: BandSpec, speed: float = 1.0) -> Prints:
    """Prints of a track played at `speed`."""
    return prints_of({c: audio.whole(c, speed) for c in audio.channels}, spec)


# ---------------------------------------------------------------- films


class FilmAudio:
    """A film decoded once by streaming: prints in memory, int16 mid/side spooled to a memory-mapped temp file.

    `audio_stream` picks the film's audio stream (an index or a language tag,
    see `filmscore.media.select_audio_stream`; None: the first). A surround
    stream (3 channels or more: 5.1, 7.1, ...) is read as laid out, not
    downmixed: mid and side come from its front left and right channels
    (ffmpeg's first two in every layout), leaving out the centre, which
    carries the dialogue; a stereo downmix would fold the dialogue into mid.

    A film whose two channels are out of phase over its whole length (one
    channel's polarity inverted: its side carries `POLARITY_SIDE_RATIO` times
    the energy of its mid) is read with that channel inverted back: its side
    serves as mid and its mid as side (`inverted`), and the log says so.
    """

    def __init__(self, path: str | Path, spec: BandSpec, use_side: bool = True, block_seconds: float = 60.0,
                 tmpdir: str | None = None, audio_stream: int | str | None = None):
        self.path = Path(path)
        self.spec = spec
        sr = spec.sample_rate
        info = probe(self.path)
        self.stream = info.audio_stream(audio_stream) if info.audio is not None else 0
        a = info.audio_streams[self.stream] if info.audio_streams else None
        n_in = a.channels if a is not None and a.channels >= 3 else 2
        self.layout = (a.channel_layout or f"{a.channels} ch") if a is not None else ""
        self._tmp = tempfile.TemporaryDirectory(prefix="filmscore-film-", dir=tmpdir)
        raw = Path(self._tmp.name) / "pcm.i2"
        fps = {c: RawFingerprinter(sr) for c in CHANNELS}
        framers = {c: BandFramer(spec) for c in CHANNELS}
        energy = {c: 0.0 for c in CHANNELS}
        scale = np.float32(1 / 32768)
        n = 0
        with open(raw, "wb") as fh:
            for block in stream_audio(self.path, sr, channels=n_in, block_seconds=block_seconds, dtype="int16",
                                      stream=self.stream):
                ms = mid_side_int16(block[:, :2])  # stereo, or a surround stream's front left and right
                ms.tofile(fh)
                for k, c in enumerate(CHANNELS):
                    v = np.ascontiguousarray(ms[:, k])
                    fps[c].feed(v)
                    f = v.astype(np.float32)
                    f *= scale
                    energy[c] += float(np.dot(f, f))
                    framers[c].feed(f)
                n += len(ms)
        self.n_samples = n
        self.prints = Prints(duration=n / sr)
        self.inverted = out_of_phase(energy["mid"], energy["side"])
        # what each channel name reads: the stream decoded as mid or side, swapped where the polarity is inverted
        self._source = dict(zip(CHANNELS, CHANNELS[::-1] if self.inverted else CHANNELS))
        if self.inverted:
            log.warning("%s: its left and right channels are out of phase (L-R carries %.1f dB more than L+R): one "
                        "channel's polarity looks inverted (a faulty transfer); matched with it inverted back",
                        self.path, 10 * np.log10(energy["side"] / max(energy["mid"], 1e-20)))
        mid, side = self._source["mid"], self._source["side"]
        keep = ["mid"] + (["side"] if use_side and _has_side(energy[mid], energy[side]) else [])
        done = {c: (fps[c].finish(), framers[c].finish()) for c in CHANNELS}
        for c in keep:
            fp, bands = done[self._source[c]]
            self.prints.fp[c] = fp
            self.prints.bands[c] = normalise_bands(bands, spec)
        self._pcm: PcmFile | np.ndarray = PcmFile(raw, shape=(n, 2)) if n else np.zeros((0, 2), dtype=np.int16)
        log.debug("%s: %.1f s decoded (audio stream %d, %s), channels %s%s", self.path, n / sr, self.stream,
                  self.layout, keep, " (polarity inverted back)" if self.inverted else "")

    @property
    def duration(self) -> float:
        return self.n_samples / self.spec.sample_rate

    @property
    def channels(self) -> list[str]:
        return self.prints.channels

    def pcm(self, channel: str, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) of one channel as float32, zero-padded outside the film."""
        col = CHANNELS.index(self._source[channel])
        out = np.zeros(max(0, stop - start), dtype=np.float32)
        a, b = max(0, start), min(self.n_samples, stop)
        if b > a:
            out[a - start:b - start] = self._pcm[a:b, col] * np.float32(1 / 32768)
        return out

    def close(self) -> None:
        if isinstance(self._pcm, PcmFile):
            self._pcm.close()
        self._pcm = np.zeros((0, 2), dtype=np.int16)
        self._tmp.cleanup()

    def __enter__(self) -> "FilmAudio":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_decodable(path: Path, exc: Exception) -> MediaError:
    """A MediaError naming `path` for any failure while decoding it."""
    if isinstance(exc, MediaError):
        return exc
    return MediaError(path, f"cannot be decoded ({exc})", "replace it with a valid audio or video file")


__all__ = [
    "BandSpec", "Prints", "FilmAudio", "TrackAudio", "PcmFile", "RawFingerprinter", "raw_fingerprint", "load_track_audio",
    "track_prints", "prints_of", "mid_side_int16", "CHROMAPRINT_HOP", "CHROMAPRINT_RATE", "speed_ratio",
    "render_span", "out_of_phase",
]
