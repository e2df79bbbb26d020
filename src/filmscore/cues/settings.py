"""The matcher's settings: the `cues` section of params.yaml as a typed object.

Each parameter (type, range, default, doc) is declared once, in `filmscore.config`
(CUES); the fields here take their defaults from there (`schema_defaults`), so
the CLI and the tests run without a params file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ..config import leaf_specs, schema_defaults
from ..errors import ParamsError, Problem
from .prints import BandSpec


@dataclass(frozen=True)
@schema_defaults("cues.hash")
class HashSettings:
    enabled: bool
    key_bits: int
    min_votes: int
    max_bucket: int


@dataclass(frozen=True)
@schema_defaults("cues.xcorr")
class XcorrSettings:
    enabled: bool
    segment_seconds: float
    hop_seconds: float
    min_z: float
    peaks_per_segment: int
    max_candidates_per_minute: float


@dataclass(frozen=True)
@schema_defaults("cues.fine")
class FineSettings:
    enabled: bool
    n_fft: int
    fmin: float
    fmax: float
    segment_seconds: float
    hop_seconds: float
    track_stride: int
    min_z: float
    max_candidates_per_minute: float


@dataclass(frozen=True)
@schema_defaults("cues.verify")
class VerifySettings:
    n_fft: int
    window_seconds: float
    search_seconds: float
    fmin: float
    fmax: float
    min_z: float
    stretch_min_z: float
    spectrum_min_z: float


@dataclass(frozen=True)
@schema_defaults("cues.extent")
class ExtentSettings:
    n_fft: int
    smooth_seconds: float
    min_z: float
    merge_gap_seconds: float
    min_cue_seconds: float
    grow_seconds: float


@dataclass(frozen=True)
@schema_defaults("cues.tolerant")
class TolerantSettings:
    features: str
    tempos: tuple
    tempo_step: float
    min_z: float
    min_similarity: float
    false_alarms: float
    min_cue_seconds: float


@dataclass(frozen=True)
@schema_defaults("cues.windows")
class WindowSettings:
    seconds: float
    min_votes: int
    max_gap: int


@dataclass(frozen=True)
@schema_defaults("cues")
class StampSettings:
    mode: str
    sample_rate: int
    use_side: bool
    speeds: tuple
    speed_step: float
    min_track_seconds: float
    renditions: bool
    bands: BandSpec = field(default_factory=BandSpec)
    hash: HashSettings = field(default_factory=HashSettings)
    xcorr: XcorrSettings = field(default_factory=XcorrSettings)
    fine: FineSettings = field(default_factory=FineSettings)
    verify: VerifySettings = field(default_factory=VerifySettings)
    extent: ExtentSettings = field(default_factory=ExtentSettings)
    windows: WindowSettings = field(default_factory=WindowSettings)
    tolerant: TolerantSettings = field(default_factory=TolerantSettings)

    def __post_init__(self):
        spec = leaf_specs()["cues.speeds"].of  # the range params.yaml allows, for settings made in code as well
        if not self.speeds or any(not spec.min <= float(x) <= spec.max for x in self.speeds):
            raise ParamsError([Problem("cues.speeds", f"{tuple(self.speeds)!r}: each speed must lie from {spec.min} "
                                       f"to {spec.max}", "give [slowest, fastest] playback speeds, e.g. [0.95, 1.05]")])

    @classmethod
    def from_params(cls, cues: dict | None) -> "StampSettings":
        """Build from a (validated) `cues` params section; missing keys keep defaults."""
        cues = dict(cues or {})
        subs = {"bands": BandSpec, "hash": HashSettings, "xcorr": XcorrSettings, "fine": FineSettings, "verify": VerifySettings,
                "extent": ExtentSettings, "windows": WindowSettings, "tolerant": TolerantSettings}
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
        return _digest(self.as_dict(), parts)

    def prints_digest(self, *parts: str, keys: tuple[str, ...] = ()) -> str:
        """A short hash of the settings that shape a track's prints and PCM (and `parts`), for their cache keys.

        Only `PRINT_FIELDS` (the rate, whether side is kept, the band frames):
        the candidate search, the phase check and the extent read prints but
        do not change them, so tuning those reuses every printed track.
        `keys`: a subset of them (a track's PCM does not depend on the bands).
        """
        d = self.as_dict()
        return _digest({k: d[k] for k in (keys or PRINT_FIELDS)}, parts)


#: the StampSettings fields a track's prints and PCM depend on (everything else is read by the matcher only)
PRINT_FIELDS = ("sample_rate", "use_side", "bands")


def _digest(d: dict, parts) -> str:
    text = json.dumps(d, sort_keys=True, default=str) + "|" + "|".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _replace(obj, **kw):
    from dataclasses import replace

    return replace(obj, **kw)
