"""What the neural audio embedders (VGGish, OpenL3) share.

- `resample`: the one audio resampler of the embedders (polyphase, scipy).
- `n_seconds` and `to_seconds`: the 1 Hz grid. Row i of every embedding covers
  seconds [i, i+1) of the audio it was given; the row count is the duration
  rounded to whole seconds (at least 1), unless the caller passes its own.
- `resolve_device`: the `device` param. The `threads` param is applied by the
  entry points (the `features` stage, its worker processes) through
  `set_threads`; an embedder never changes torch's process-wide thread count.
- `run_batches`: batched, gradient-free inference.

The features stage may decode audio straight at a model's `sample_rate`
(`filmscore.media.decode_audio(path, sr=model.sample_rate, ...)`), which skips
`resample` altogether.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from typing import Callable

import numpy as np

from ..errors import FilmscoreError, Problem

log = logging.getLogger(__name__)

DEVICES_DOC = "cpu, auto (the first CUDA GPU if there is one, else cpu), cuda or cuda:N"


def as_mono(audio: np.ndarray, what: str = "audio") -> np.ndarray:
    """A float32 mono signal; (n, channels) input is averaged over channels."""
    x = np.asarray(audio)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1:
        raise ValueError(f"{what}: expected a mono (n,) or (n, channels) array, got shape {x.shape}")
    x = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what}: holds NaN or infinite samples")
    return x


def resample(audio: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Resample mono audio from `sr` to `target_sr` Hz (float32).

    Polyphase filtering (scipy.signal.resample_poly, Kaiser-windowed FIR,
    anti-aliased): the reference implementations use resampy's Kaiser filters,
    to the same effect. Audio already at `target_sr` is returned unchanged.
    """
    if sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive (got {sr} -> {target_sr})")
    x = np.asarray(audio, dtype=np.float32)
    if int(sr) == int(target_sr) or x.size == 0:
        return x
    from scipy.signal import resample_poly

    ratio = Fraction(int(target_sr), int(sr))
    y = resample_poly(x.astype(np.float64), ratio.numerator, ratio.denominator)
    return y.astype(np.float32)


def n_seconds(n_samples: int, sr: int) -> int:
    """Rows of the 1 Hz grid for `n_samples` at `sr`: the duration rounded to whole seconds, at least 1.

    A final partial second gets its own row when it holds at least half a
    second of audio (OpenL3 zero-pads it; VGGish's nearest example covers it),
    and is dropped otherwise; so a cut a few samples longer or shorter than a
    whole number of seconds (decoders and seeking are not sample-exact) keeps
    its row count. Empty audio has no rows.
    """
    if n_samples <= 0:
        return 0
    return max(1, math.floor(n_samples / sr + 0.5))


def to_seconds(values: np.ndarray, centres: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of per-example rows onto the 1 Hz grid.

    `values` (k, d) are embeddings whose analysis windows are centred at
    `centres` (k,) seconds; row i of the result is their linear interpolation
    at the centre of second i, i + 0.5 s. Beyond the first or last centre
    the nearest example is repeated (no extrapolation).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or len(values) != len(centres) or len(values) == 0:
        raise ValueError(f"need (k, d) values with k = len(centres) >= 1, got {values.shape} and {len(centres)}")
    t = np.arange(n, dtype=np.float64) + 0.5
    if len(values) == 1:
        return np.repeat(values.astype(np.float32), n, axis=0)
    centres = np.asarray(centres, dtype=np.float64)
    # np.interp per column, vectorised: locate each t between two centres.
    j = np.clip(np.searchsorted(centres, t, side="right") - 1, 0, len(centres) - 2)
    w = np.clip((t - centres[j]) / (centres[j + 1] - centres[j]), 0.0, 1.0)[:, None]
    out = (1.0 - w) * values[j] + w * values[j + 1]
    return out.astype(np.float32)


def resolve_device(name: str, where: str):
    """A torch.device for the `device` param; unusable requests are errors naming the param."""
    import torch

    name = str(name).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise FilmscoreError([Problem(f"params.yaml: {where}", f"{name!r} is not a device", f"use {DEVICES_DOC}")]) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise FilmscoreError([Problem(f"params.yaml: {where}", f"is {name!r} but this machine has no usable CUDA GPU "
                                      "(or torch was installed without CUDA)", "set it to cpu or auto")])
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise FilmscoreError([Problem(f"params.yaml: {where}", f"is {name!r} but only {torch.cuda.device_count()} GPU(s) exist",
                                      "use cuda:0 .. cuda:N-1, or auto")])
    if dev.type not in ("cpu", "cuda"):
        raise FilmscoreError([Problem(f"params.yaml: {where}", f"device type {dev.type!r} is not supported",
                                      f"use {DEVICES_DOC}")])
    return dev


def set_threads(threads: int) -> None:
    """Set torch's intra-op threads, process-wide, when `threads` > 0 (0 leaves torch's default).

    For entry points and worker initialisers only (a process-wide setting). With
    films extracted in parallel processes, 1 thread per process avoids
    oversubscribing the cores.
    """
    if threads and threads > 0:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(int(threads))


def run_batches(forward: Callable, x: np.ndarray, batch_size: int, device) -> np.ndarray:
    """Apply `forward` (a torch module) to `x` in batches on `device`; float32 numpy out."""
    import torch

    outs = []
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size], dtype=np.float32)).to(device)
            if xb.dim() == 4:  # the networks are kept channels_last: ~25 % faster convolutions on CPU
                xb = xb.contiguous(memory_format=torch.channels_last)
            outs.append(forward(xb).float().cpu().numpy())
    return np.concatenate(outs, axis=0)
