"""filmscore: how film music differs across film genres.

A reproducible pipeline (DVC stages over this library): Score Stamper cue
matching, MIR / VGGish / visual features, multiple-instance genre models and
the reports of the study.
"""

__version__ = "0.1.0"

GENRES_DEFAULT = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi")
