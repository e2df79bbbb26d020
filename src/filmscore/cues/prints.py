"""What the matcher knows of a recording: Chromaprint raw fingerprints, band frames, PCM.

Everything is computed on mid (L+R)/2 and, for stereo input, side (L-R)/2: a
film mix puts dialogue in the centre, where it cancels in the side signal,
while music is usually wide. A mono recording (or one whose side carries
nothing) simply has no side channel, and matching falls back to mid.

* Chromaprint raw fingerprints come from libchromaprint through pyacoustid's
  ctypes module (`import chromaprint`), fed the decoder's PCM block by block, so
  they cover the whole recording (no 120 s limit). One 32-bit item every
  1365 samples at 11025 Hz (0.1238 s): libchromaprint's frame is 4096 samples
  with an overlap of 4096 - 4096/3 in integer arithmetic, so the hop is 1365,
  not 1365.33 (a difference that would shift a lag by 0.6 s after 40 minutes).
* Band frames are log energies in log-spaced bands, high-passed in time and
  normalised per frame, so that the dot product of two frames is a cosine
  similarity that degrades gracefully under dialogue where Chromaprint's bits
  do not. They feed the cross-correlation candidate search.
* Film PCM (mid and side, int16) is spooled to a temporary file while
  streaming and read back through a memory map, so a two-hour film is decoded
  once and never sits in memory whole; the phase check reads spans of it.
"""

from __future__ import annotations

import ctypes
import logging
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import numpy as np
from scipy.signal import resample_poly

from ..errors import MediaError
from ..media import decode_audio, stream_audio

log = logging.getLogger(__name__)

CHROMAPRINT_RATE = 11025  # libchromaprint resamples everything to this internally
CHROMAPRINT_HOP = (4096 - (4096 - 4096 // 3)) / CHROMAPRINT_RATE  # seconds per raw fingerprint item (1365 samples)
SIDE_MIN_RATIO = 0.01  # side RMS below this fraction of mid RMS: treat as mono
CHANNELS = ("mid", "side")


# ---------------------------------------------------------------- chromaprint


def _lib():
    import chromaprint  # pyacoustid's ctypes wrapper over libchromaprint

    lib = chromaprint._libchromaprint
    if not getattr(lib, "_filmscore_raw", False):
        lib.chromaprint_get_raw_fingerprint.argtypes = (
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.POINTER(ctypes.c_uint32)),
            ctypes.POINTER(ctypes.c_int),
        )
        lib.chromaprint_get_raw_fingerprint.restype = ctypes.c_int
        lib._filmscore_raw = True
    return lib


class RawFingerprinter:
    """Streaming raw Chromaprint fingerprint (algorithm TEST2, the library default)."""

    def __init__(self, sample_rate: int):
        self._lib = _lib()
        self._ctx = self._lib.chromaprint_new(1)
        if not self._lib.chromaprint_start(self._ctx, int(sample_rate), 1):
            raise RuntimeError("chromaprint_start failed")

    def feed(self, x: np.ndarray) -> None:
        """Feed float PCM in [-1, 1] (mono)."""
        if len(x) == 0:
            return
        pcm = np.clip(np.asarray(x, dtype=np.float32) * 32767.0, -32768, 32767).astype("<i2")
        buf = pcm.tobytes()
        if not self._lib.chromaprint_feed(self._ctx, buf, len(pcm)):
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
class BandSpec:
    sample_rate: int = CHROMAPRINT_RATE
    n_fft: int = 4096
    hop: int = 2048
    n_bands: int = 24
    fmin: float = 150.0
    fmax: float = 5000.0
    highpass_seconds: float = 3.0

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
    """Log band energies of a stream, frame by frame (keeps the tail between blocks)."""

    def __init__(self, spec: BandSpec):
        self.spec = spec
        self.window = np.hanning(spec.n_fft).astype(np.float32)
        self.bands = spec.band_matrix()
        self.tail = np.zeros(0, dtype=np.float32)
        self.out: list[np.ndarray] = []
        self.started = False

    def feed(self, x: np.ndarray) -> None:
        s = self.spec
        if not self.started:  # centre the first frame on t=0
            x = np.concatenate([np.zeros(s.n_fft // 2 - s.hop // 2, dtype=np.float32), x])
            self.started = True
        buf = np.concatenate([self.tail, np.asarray(x, dtype=np.float32)])
        n = 0 if len(buf) < s.n_fft else 1 + (len(buf) - s.n_fft) // s.hop
        if n:
            frames = np.lib.stride_tricks.sliding_window_view(buf, s.n_fft)[:: s.hop][:n]
            spec = np.abs(np.fft.rfft(frames * self.window, axis=1)).astype(np.float32) ** 2
            self.out.append(spec @ self.bands)
        self.tail = buf[n * s.hop:]

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


def mid_side(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if x.ndim == 1:
        return x.astype(np.float32), None
    mid = 0.5 * (x[:, 0] + x[:, 1])
    side = 0.5 * (x[:, 0] - x[:, 1])
    return mid.astype(np.float32), side.astype(np.float32)


def _has_side(mid_energy: float, side_energy: float) -> bool:
    return side_energy > (SIDE_MIN_RATIO ** 2) * max(mid_energy, 1e-20)


def prints_of(pcm: dict[str, np.ndarray], spec: BandSpec) -> Prints:
    """Prints of in-memory PCM channels (mid and optional side) at spec.sample_rate."""
    mid = pcm["mid"]
    p = Prints(duration=len(mid) / spec.sample_rate)
    for c, x in pcm.items():
        p.fp[c] = raw_fingerprint(x, spec.sample_rate)
        f = BandFramer(spec)
        f.feed(x)
        p.bands[c] = normalise_bands(f.finish(), spec)
    return p


# ---------------------------------------------------------------- tracks


def speed_ratio(speed: float) -> Fraction:
    return Fraction(speed).limit_denominator(200)


def load_track_pcm(path: str | Path, sample_rate: int, speed: float = 1.0, use_side: bool = True) -> dict[str, np.ndarray]:
    """Decode a track to mid (and side, when it carries signal) at `sample_rate`.

    `speed` > 1 renders the track faster with pitch raised, as a PAL transfer does
    (25/24): resampled to len/speed samples, played at the same rate.
    """
    x = decode_audio(path, sample_rate, channels=2)
    mid, side = mid_side(x)
    out = {"mid": mid}
    if use_side and side is not None and _has_side(float(np.mean(mid ** 2)) if len(mid) else 0.0,
                                                     float(np.mean(side ** 2)) if len(side) else 0.0):
        out["side"] = side
    if speed != 1.0:
        r = speed_ratio(speed)
        out = {c: resample_poly(v, r.denominator, r.numerator).astype(np.float32) for c, v in out.items()}
    return out


# ---------------------------------------------------------------- films


class FilmAudio:
    """A film decoded once by streaming: prints in memory, PCM spooled to a memory-mapped temp file."""

    def __init__(self, path: str | Path, spec: BandSpec, use_side: bool = True, block_seconds: float = 60.0,
                 tmpdir: str | None = None):
        self.path = Path(path)
        self.spec = spec
        sr = spec.sample_rate
        self._tmp = tempfile.TemporaryDirectory(prefix="filmscore-film-", dir=tmpdir)
        raw = Path(self._tmp.name) / "pcm.i2"
        fps = {c: RawFingerprinter(sr) for c in CHANNELS}
        framers = {c: BandFramer(spec) for c in CHANNELS}
        energy = {c: 0.0 for c in CHANNELS}
        n = 0
        with open(raw, "wb") as fh:
            for block in stream_audio(self.path, sr, channels=2, block_seconds=block_seconds):
                mid, side = mid_side(block)
                for c, v in (("mid", mid), ("side", side)):
                    fps[c].feed(v)
                    framers[c].feed(v)
                    energy[c] += float(np.dot(v, v))
                fh.write(np.clip(np.stack([mid, side], axis=1) * 32767.0, -32768, 32767).astype("<i2").tobytes())
                n += len(mid)
        self.n_samples = n
        self.prints = Prints(duration=n / sr)
        keep = ["mid"] + (["side"] if use_side and _has_side(energy["mid"], energy["side"]) else [])
        for c in CHANNELS:
            fp = fps[c].finish()
            bands = framers[c].finish()
            if c in keep:
                self.prints.fp[c] = fp
                self.prints.bands[c] = normalise_bands(bands, spec)
        self._pcm = np.memmap(raw, dtype="<i2", mode="r", shape=(n, 2)) if n else np.zeros((0, 2), dtype="<i2")
        log.debug("%s: %.1f s decoded, channels %s", self.path, n / sr, keep)

    @property
    def duration(self) -> float:
        return self.n_samples / self.spec.sample_rate

    @property
    def channels(self) -> list[str]:
        return self.prints.channels

    def pcm(self, channel: str, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) of one channel as float32, zero-padded outside the film."""
        col = CHANNELS.index(channel)
        out = np.zeros(max(0, stop - start), dtype=np.float32)
        a, b = max(0, start), min(self.n_samples, stop)
        if b > a:
            out[a - start:b - start] = self._pcm[a:b, col].astype(np.float32) / 32767.0
        return out

    def close(self) -> None:
        self._pcm = np.zeros((0, 2), dtype="<i2")
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
    "BandSpec", "Prints", "FilmAudio", "RawFingerprinter", "raw_fingerprint", "load_track_pcm", "prints_of",
    "CHROMAPRINT_HOP", "CHROMAPRINT_RATE", "speed_ratio", "Iterable",
]
