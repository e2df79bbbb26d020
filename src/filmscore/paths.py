"""Every artifact path of the pipeline, declared once (relative to the repository root).

The stages import these and hand them to the library as arguments; dvc.yaml writes
the same paths as the stages' deps and outs (DVC needs them there), and
tests/test_paths.py holds the two together: every data path dvc.yaml names is one of
these (or a file under one, named by a template), and each of these is in dvc.yaml.
The corpus itself is a parameter (``corpus.path``), not an artifact.
"""

from __future__ import annotations

from pathlib import Path

DEMO = Path("data/demo")  # stage demo: the generated corpus (corpus.path's default)
MANIFEST = Path("data/manifest.parquet")  # stage validate: every corpus file, its hash, duration, labels
CUES_TRUTH = Path("data/cues_truth")  # stage validate: the corpus's cues_truth/<film_id>.csv, checked (may be empty)
CUES = Path("data/cues/cues.parquet")  # stage cues: the cue table
CUES_EVAL = Path("reports/cues")  # stage cues_eval: metrics.json, per_film.csv, figures/
FEATURES = Path("data/features")  # stage features: <set>/{frames,cues}.parquet, status.json
MODELS = Path("data/models")  # stages train, classical: <set>-<level>-<method>-<size>/
REPORTS = Path("reports")  # stage evaluate: table4.{md,csv,json}, table4_all.csv, figures/, plots/
TABLE4 = REPORTS / "table4.csv"  # stage evaluate
TABLE4_METRICS = REPORTS / "table4.json"  # stage evaluate: the DVC metrics (cells, headline, interval level)
S2_FIGURE = REPORTS / "figures" / "s2_pr_curves.png"  # stage evaluate (precision-recall curves)
S3_FIGURE = REPORTS / "figures" / "s3_film_pr.png"  # stage evaluate (per-film precision vs recall)
TABLE4_FIGURE = REPORTS / "figures" / "table4.png"  # stage evaluate (macro F1 and mAP with intervals over films)
IMPORTANCE = Path("reports/importance")  # stage importance
CROSSMODAL = Path("reports/crossmodal")  # stage crossmodal
REPORT_MD = Path("reports/report.md")  # stage report
REPORT_HTML = Path("reports/report.html")  # stage report
TIMELINE = Path("reports/timeline")  # stage report: per-film cue timelines

__all__ = ["DEMO", "MANIFEST", "CUES_TRUTH", "CUES", "CUES_EVAL", "FEATURES", "MODELS", "REPORTS", "TABLE4", "TABLE4_METRICS",
           "S2_FIGURE", "S3_FIGURE", "TABLE4_FIGURE", "IMPORTANCE", "CROSSMODAL", "REPORT_MD", "REPORT_HTML", "TIMELINE"]
