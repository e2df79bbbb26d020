"""Visual features: brightness and contrast of the picture, per second of film.

After the paper (equations 1-2, following Chen et al.), for the picture at
time t with pixel luma ``Y_p`` in [0, 1]:

- brightness ``B_t = mean_p Y_p`` (eq. 1);
- contrast ``C_t = (B_max - B_min) (1 - |A_max - A_min|)`` (eq. 2), where the
  picture is cut into a bright and a dark region, ``B_max``/``B_min`` are the
  mean luma of the bright/dark region and ``A_max``/``A_min`` their shares of
  the picture (``A_max + A_min = 1``).

The paper leaves open how the regions are cut; ``region_cut`` chooses:

- ``otsu`` (default): the luma threshold that maximises the between-region
  variance (Otsu 1979), i.e. the best two-cluster (k-means, k = 2) split of
  the luma histogram: the regions are the picture's two brightness modes;
- ``mean``: threshold at the picture's mean luma.

Pixels above the threshold are bright, the others dark. A uniform picture
(one region empty) has contrast 0. Luma is BT.601 (``0.299 R + 0.587 G +
0.114 B``) of the decoded RGB, scaled to [0, 1].

Frames are read with decord at reduced size (``size``; brightness and region
shares are area averages, so scaling changes them only by resampling), only
at the times asked for (the seconds of the cues), in batches of
``batch_frames`` so memory stays bounded. Each second ``[t, t+1)`` is sampled
at ``samples_per_second`` evenly spaced instants ``t + (k + 0.5) / n`` and the
per-picture values averaged (a second cut by the end of the video is sampled
over the part of it before the end).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import schema_defaults, settings_from_section
from ..errors import MediaError

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
COLUMNS: tuple[str, ...] = ("brightness", "contrast")


@dataclass(frozen=True)
@schema_defaults("features.visual")
class VisualSettings:
    """The `features.visual` section of params.yaml (defaults: filmscore.config)."""

    size: tuple
    samples_per_second: int
    region_cut: str
    batch_frames: int

    @classmethod
    def from_params(cls, section: dict) -> "VisualSettings":
        return settings_from_section(cls, section, {"size": int})


def luma(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma in [0, 1] of RGB uint8 frames (b, h, w, 3) -> (b, h * w) float32."""
    frames = np.asarray(frames)
    y = frames.reshape(len(frames), -1, 3).astype(np.float32) @ LUMA_WEIGHTS
    return y / 255.0


def otsu_thresholds(y: np.ndarray, bins: int = 256) -> np.ndarray:
    """Otsu's threshold of each row of luma `y` (b, n) in [0, 1]; pixels > threshold are bright.

    Computed on a `bins`-level histogram; a row with a single level returns
    its value (no pixel is above it: one region).
    """
    b, n = y.shape
    q = np.clip((y * (bins - 1) + 0.5).astype(np.int64), 0, bins - 1)
    hist = np.bincount((q + np.arange(b)[:, None] * bins).ravel(), minlength=b * bins).reshape(b, bins)
    p = hist / n
    levels = np.arange(bins) / (bins - 1)
    omega = np.cumsum(p, axis=1)  # share of pixels at or below each level
    mu = np.cumsum(p * levels, axis=1)
    mu_t = mu[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        between = (mu_t * omega - mu) ** 2 / (omega * (1.0 - omega))
    between[~np.isfinite(between)] = -1.0
    k = np.argmax(between, axis=1)
    thr = levels[k]
    single = between.max(axis=1) < 0  # only one occupied level
    thr[single] = y[single].max(axis=1) if single.any() else thr[single]
    return thr


def brightness_contrast(y: np.ndarray, region_cut: str = "otsu") -> np.ndarray:
    """Brightness (eq. 1) and contrast (eq. 2) of each picture; y: (b, n) luma in [0, 1] -> (b, 2)."""
    y = np.asarray(y, dtype=np.float32)
    brightness = y.mean(axis=1, dtype=np.float64)
    if region_cut == "otsu":
        thr = otsu_thresholds(y)
    elif region_cut == "mean":
        thr = brightness
    else:
        raise ValueError(f"region_cut must be 'otsu' or 'mean', got {region_cut!r}")
    bright = y > thr[:, None].astype(np.float32)
    n = y.shape[1]
    n_bright = bright.sum(axis=1)
    n_dark = n - n_bright
    sum_bright = np.where(bright, y, 0.0).sum(axis=1, dtype=np.float64)
    sum_dark = y.sum(axis=1, dtype=np.float64) - sum_bright
    with np.errstate(invalid="ignore", divide="ignore"):
        b_max = sum_bright / n_bright
        b_min = sum_dark / n_dark
    area_max, area_min = n_bright / n, n_dark / n
    contrast = (b_max - b_min) * (1.0 - np.abs(area_max - area_min))
    contrast = np.where((n_bright == 0) | (n_dark == 0), 0.0, contrast)
    return np.stack([brightness, contrast], axis=1)


class Visual:
    """The visual feature set: `film(path, times)` -> per-second brightness and contrast."""

    name = "visual"
    columns: tuple[str, ...] = COLUMNS

    def __init__(self, settings: VisualSettings | None = None):
        self.settings = settings or VisualSettings()

    @classmethod
    def from_params(cls, section: dict) -> "Visual":
        return cls(VisualSettings.from_params(section))

    def sample_times(self, times: np.ndarray, end: float = np.inf) -> np.ndarray:
        """The instants sampled in each second [t, t+1) starting at `times`: (n, samples_per_second).

        A second cut by the end of the video at `end` is sampled over the part before it.
        """
        k = self.settings.samples_per_second
        times = np.asarray(times, dtype=np.float64)
        span = np.clip(np.minimum(times + 1.0, end) - times, 0.0, 1.0)
        return times[:, None] + span[:, None] * (np.arange(k) + 0.5) / k

    def film(self, path: str | Path, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Brightness and contrast for the seconds starting at `times` (film time, s).

        Returns (values (n, 2) float32, ok (n,) bool); a second with no frame of
        the video in it (past its end) is not ok and its values are NaN.
        """
        import decord

        path = Path(path)
        s = self.settings
        times = np.asarray(times, dtype=np.float64)
        if len(times) == 0:
            return np.zeros((0, 2), np.float32), np.zeros(0, bool)
        try:
            vr = decord.VideoReader(str(path), ctx=decord.cpu(0), width=int(s.size[0]), height=int(s.size[1]),
                                    num_threads=1)
        except Exception as e:  # decord raises its own DECORDError
            raise MediaError(path, f"video cannot be read by decord ({str(e).splitlines()[0][:200]})",
                             "re-encode the film (e.g. H.264 MP4), or set features.sets without 'visual'") from None
        fps = float(vr.get_avg_fps())
        n_video = len(vr)
        end = n_video / fps if fps > 0 else 0.0
        inst = self.sample_times(times, end)
        idx = np.floor(inst * fps + 1e-6).astype(np.int64)
        valid = (idx >= 0) & (idx < n_video) & (inst < end)
        wanted = np.unique(idx[valid])
        per_frame = np.full((len(wanted), 2), np.nan)
        bs = max(1, int(s.batch_frames))
        for a in range(0, len(wanted), bs):
            chunk = wanted[a: a + bs]
            try:
                frames = vr.get_batch(chunk.tolist()).asnumpy()
            except Exception as e:
                raise MediaError(path, f"video frames {chunk[0]}..{chunk[-1]} cannot be decoded "
                                       f"({str(e).splitlines()[0][:200]})",
                                 "re-encode or replace the film file") from None
            per_frame[a: a + len(chunk)] = brightness_contrast(luma(frames), s.region_cut)
            del frames
        del vr
        values = np.full(inst.shape + (2,), np.nan)
        pos = np.searchsorted(wanted, np.where(valid, idx, 0))
        values[valid] = per_frame[pos[valid]]
        count = valid.sum(axis=1)
        ok = count > 0
        out = np.where(valid[..., None], values, 0.0).sum(axis=1) / np.maximum(count, 1)[:, None]
        out[~ok] = np.nan
        return out.astype(np.float32), ok
