"""The eight feature groups of the permutation feature importance (PFI) analysis.

Declared once, here: every MIR base feature maps to exactly one group. The
groups follow the feature types of the paper's Table 2, with MFCCs, delta MFCCs
and delta-delta MFCCs split out of Timbre into their own groups (as the paper
does, so that no single group holds most of the features).

A column of the MIR tables is named ``<base>_<stat>`` where ``stat`` is the
texture-window statistic (``mean`` or ``std``) and ``base`` is a base feature,
possibly with an index (``mfcc_03``, ``d_mfcc_03``, ``chroma_C#``).
`group_of` turns any such column into its group.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

GROUPS: tuple[str, ...] = ("MFCC", "dMFCC", "ddMFCC", "Dynamics", "Pitch", "Rhythm", "Timbre", "Tone")

# Base feature (without index or statistic) -> group. Order follows Table 2.
FEATURE_GROUP: "OrderedDict[str, str]" = OrderedDict(
    [
        ("rms", "Dynamics"),
        ("chroma", "Pitch"),
        ("pulse_clarity", "Rhythm"),
        ("tempo", "Rhythm"),
        ("mfcc", "MFCC"),
        ("d_mfcc", "dMFCC"),
        ("dd_mfcc", "ddMFCC"),
        ("roughness", "Timbre"),
        ("spectral_centroid", "Timbre"),
        ("spectral_crest", "Timbre"),
        ("spectral_flatness", "Timbre"),
        ("spectral_kurtosis", "Timbre"),
        ("spectral_skewness", "Timbre"),
        ("spectral_spread", "Timbre"),
        ("zero_crossing_rate", "Timbre"),
        ("key_mode", "Tone"),
        ("key_strength", "Tone"),
        ("spectral_brightness", "Tone"),
        ("spectral_entropy", "Tone"),
        ("inharmonicity", "Tone"),
    ]
)

# Bases that carry an index after them (mfcc_03, chroma_C#).
INDEXED = ("chroma", "mfcc", "d_mfcc", "dd_mfcc")
STATS = ("mean", "std")


def base_of(column: str) -> str:
    """The base feature of a MIR column: 'd_mfcc_03_std' -> 'd_mfcc', 'chroma_C#_mean' -> 'chroma'."""
    name = column
    for stat in STATS:
        if name.endswith("_" + stat):
            name = name[: -len(stat) - 1]
            break
    if name in FEATURE_GROUP:
        return name
    head, sep, _ = name.rpartition("_")
    if sep and head in INDEXED:
        return head
    raise KeyError(f"{column!r} is not a MIR feature column (known bases: {', '.join(FEATURE_GROUP)})")


def group_of(column: str) -> str:
    """The PFI group of a MIR column, e.g. 'mfcc_03_mean' -> 'MFCC', 'tempo_std' -> 'Rhythm'."""
    return FEATURE_GROUP[base_of(column)]


def columns_by_group(columns: Iterable[str]) -> "OrderedDict[str, list[str]]":
    """Group MIR columns, in GROUPS order; every column lands in exactly one group."""
    out: "OrderedDict[str, list[str]]" = OrderedDict((g, []) for g in GROUPS)
    for c in columns:
        out[group_of(c)].append(c)
    return out
