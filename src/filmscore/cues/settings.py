"""The matcher's settings: the `cues` section of params.yaml as a typed object.

The schema of the section lives in `filmscore.config` (CUES); the defaults here
are the same values as the project's params.yaml, so the CLI and the tests run
without a params file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .prints import BandSpec


@dataclass(frozen=True)
class HashSettings:
    enabled: bool = True
    key_bits: int = 16          # items are indexed by parts of this many bits (32: whole items)
    min_votes: int = 8          # aligned Chromaprint item parts for a candidate
    max_bucket: int = 64        # ignore hash values this common (silence, drones)


@dataclass(frozen=True)
class XcorrSettings:
    enabled: bool = True
    segment_seconds: float = 5.0
    hop_seconds: float = 2.5
    min_z: float = 5.0          # candidate: z-score of the band-frame cross-correlation
    peaks_per_segment: int = 8
    max_candidates_per_minute: float = 12.0


@dataclass(frozen=True)
class VerifySettings:
    n_fft: int = 16384          # STFT-GCC-PHAT frame
    window_seconds: float = 8.0
    search_seconds: float = 0.4  # lag searched either side of the candidate's
    fmin: float = 100.0
    fmax: float = 5000.0
    min_z: float = 9.0          # GCC-PHAT peak z-score to accept an alignment


@dataclass(frozen=True)
class ExtentSettings:
    n_fft: int = 1024           # phase-coherence frames at the verified lag
    smooth_seconds: float = 0.5
    min_z: float = 4.0          # coherence above the null (off-lag) spread
    merge_gap_seconds: float = 2.0
    min_cue_seconds: float = 2.0
    grow_seconds: float = 16.0  # coherence computed this far either side of the checked window, then chunks as long


@dataclass(frozen=True)
class WindowSettings:
    seconds: float = 5.0
    min_votes: int = 4
    max_gap: int = 1            # windows without a hit allowed inside a cue


@dataclass(frozen=True)
class StampSettings:
    mode: str = "chromaprint"   # chromaprint | windows
    sample_rate: int = 11025
    use_side: bool = True
    speeds: tuple = (0.95, 1.05)  # [slowest, fastest] playback speed of a film relative to its tracks
    speed_step: float = 0.02      # spacing of the speeds the tracks are printed at for the candidate search
    min_track_seconds: float = 3.0
    bands: BandSpec = field(default_factory=BandSpec)
    hash: HashSettings = field(default_factory=HashSettings)
    xcorr: XcorrSettings = field(default_factory=XcorrSettings)
    verify: VerifySettings = field(default_factory=VerifySettings)
    extent: ExtentSettings = field(default_factory=ExtentSettings)
    windows: WindowSettings = field(default_factory=WindowSettings)

    @classmethod
    def from_params(cls, cues: dict | None) -> "StampSettings":
        """Build from a (validated) `cues` params section; missing keys keep defaults."""
        cues = dict(cues or {})
        subs = {"bands": BandSpec, "hash": HashSettings, "xcorr": XcorrSettings, "verify": VerifySettings,
                "extent": ExtentSettings, "windows": WindowSettings}
        kw = {}
        for f in fields(cls):
            if f.name not in cues:
                continue
            v = cues[f.name]
            if f.name in subs:
                v = subs[f.name](**{k: (tuple(x) if isinstance(x, list) else x) for k, x in v.items()})
            elif f.name == "speeds":
                v = tuple(float(s) for s in v)
                if len(v) == 1:
                    v = (v[0], v[0])
            kw[f.name] = v
        s = cls(**kw)
        if s.bands.sample_rate != s.sample_rate:
            s = _replace(s, bands=_replace(s.bands, sample_rate=s.sample_rate))
        return s

    def grid_speeds(self) -> tuple[float, ...]:
        """The speeds the tracks are printed at: 1 and steps of `speed_step` out to within half a step of the range.

        Every speed in `speeds` lies within half a step of one of them: close
        enough for the band-frame and Chromaprint candidates; the speed itself
        is then estimated per alignment (`match.estimate`).
        """
        lo, hi = min(self.speeds), max(self.speeds)
        st = self.speed_step
        out = [1.0] if lo - st / 2 <= 1.0 <= hi + st / 2 else []
        k = 1
        while 1.0 + (k - 0.5) * st < hi:
            out.append(round(1.0 + k * st, 10))
            k += 1
        k = 1
        while 1.0 - (k - 0.5) * st > lo:
            out.append(round(1.0 - k * st, 10))
            k += 1
        if not out:  # a range that leaves out 1: its middle, then steps
            mid = 0.5 * (lo + hi)
            n = max(1, int(np.ceil((hi - lo) / st)))
            out = [round(lo + (i + 0.5) * (hi - lo) / n, 10) for i in range(n)] if n > 1 else [mid]
        return tuple(sorted(out))

    def as_dict(self) -> dict:
        return asdict(self)

    def digest(self, *parts: str) -> str:
        """A short hash of these settings (and `parts`), for cache keys."""
        text = json.dumps(self.as_dict(), sort_keys=True, default=str) + "|" + "|".join(parts)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _replace(obj, **kw):
    from dataclasses import replace

    return replace(obj, **kw)
