"""The feature groups of the permutation feature importance (PFI) analysis: MIR's eight, musicnn's five.

Declared once, here: every MIR base feature maps to exactly one group, and so
does every tag of the musicnn taggers (`TAG_GROUP`, below). The
groups follow the feature types of the paper's Table 2, with MFCCs, delta MFCCs
and delta-delta MFCCs split out of Timbre into their own groups (as the paper
does, so that no single group holds most of the features).

A column of the MIR tables is named ``<base>_<stat>`` where ``stat`` is the
texture-window statistic (``mean`` or ``std``) and ``base`` is a base feature,
possibly with an index (``mfcc_03``, ``d_mfcc_03``, ``chroma_C#``).
`group_of` turns any such column into its group.

The musicnn feature set with ``output: taggram`` (or ``both``) has one column
per tag, ``musicnn_tag_<tag>`` (`filmscore.features.musicnn.params.tag_column`);
`group_of` puts it in one of five named groups of musical attributes
(`TAG_GROUPS`: Genre, Mood, Instrument, Era, Voice), so the importance stage
(``reports.importance.features: musicnn``) says which *named* attributes carry
each film genre. The penultimate columns (``musicnn_000`` ...) have no group:
with ``output: both`` they are never permuted and, since the tags are computed
from them, still carry what a permuted tag group held: analyse a model trained
on ``output: taggram``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

from .musicnn.params import MSD_LABELS, MTT_LABELS, TAG_PREFIX, tag_column

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


# musicnn's tags (both taggers' 50) -> group. Genre: styles and scenes; Mood: affect, energy and
# tempo words; Instrument: instruments and instrumentation; Era: decades; Voice: singing or its absence.
TAG_GROUPS: tuple[str, ...] = ("Genre", "Mood", "Instrument", "Era", "Voice")
_TAGS_BY_GROUP = {
    "Genre": (  # MSD
              "rock", "pop", "alternative", "indie", "electronic", "dance", "alternative rock", "jazz", "metal",
              "chillout", "classic rock", "soul", "indie rock", "electronica", "folk", "punk", "blues", "hard rock",
              "ambient", "experimental", "Hip-Hop", "country", "easy listening", "funk", "electro", "heavy metal",
              "Progressive rock", "rnb", "indie pop", "House",
              # MTT
              "classical", "techno", "indian", "opera", "classic", "new age"),
    "Mood": ("beautiful", "Mellow", "chill", "party", "sexy", "catchy", "sad", "happy",  # MSD
             "slow", "fast", "loud", "quiet", "soft", "weird"),  # MTT
    "Instrument": ("acoustic", "guitar",  # MSD (guitar: both)
                   "strings", "drums", "piano", "beat", "violin", "synth", "harpsichord", "flute", "sitar", "solo",
                   "beats", "harp", "cello"),
    "Era": ("00s", "80s", "90s", "oldies", "70s", "60s"),  # MSD only
    "Voice": ("female vocalists", "male vocalists", "instrumental", "female vocalist",  # MSD
              "vocal", "female", "male", "singing", "vocals", "no vocals", "woman", "male vocal", "no vocal", "man",
              "choir", "voice", "male voice", "female vocal", "no voice", "female voice", "choral"),
}
TAG_GROUP: dict[str, str] = {t: g for g, tags in _TAGS_BY_GROUP.items() for t in tags}
_TAG_COLUMN_GROUP = {tag_column(t): g for t, g in TAG_GROUP.items()}


def group_of(column: str) -> str:
    """The PFI group of a MIR column ('mfcc_03_mean' -> 'MFCC', 'tempo_std' -> 'Rhythm') or of a musicnn
    tag column ('musicnn_tag_piano' -> 'Instrument'); KeyError for any other column."""
    if column.startswith(TAG_PREFIX):
        try:
            return _TAG_COLUMN_GROUP[column]
        except KeyError:
            raise KeyError(f"{column!r} is not a tag of the musicnn taggers") from None
    return FEATURE_GROUP[base_of(column)]


def tag_groups(model_tags: Iterable[str] = MSD_LABELS + MTT_LABELS) -> "OrderedDict[str, list[str]]":
    """Tags per group, in TAG_GROUPS order (the tags of one tagger: `params.labels(model)`)."""
    out: "OrderedDict[str, list[str]]" = OrderedDict((g, []) for g in TAG_GROUPS)
    for t in dict.fromkeys(model_tags):
        out[TAG_GROUP[t]].append(t)
    return out


def columns_by_group(columns: Iterable[str]) -> "OrderedDict[str, list[str]]":
    """Group MIR columns, in GROUPS order; every column lands in exactly one group."""
    out: "OrderedDict[str, list[str]]" = OrderedDict((g, []) for g in GROUPS)
    for c in columns:
        out[group_of(c)].append(c)
    return out
