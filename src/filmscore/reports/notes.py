"""Text shared by the Table 4 note (`filmscore.mil.report`, evaluate stage) and the report (`report`)."""

from __future__ import annotations


def schedule_note(t4) -> str:
    """The neural rows' training schedules in one line: each distinct schedule once, without the epochs each
    model's folds chose under ``nested`` (they differ by model; the ``schedule`` column of table4.csv has them)."""
    vals = [v for v in (t4["schedule"] if "schedule" in t4 else []) if isinstance(v, str) and v]
    kinds = sorted({v.split("]: ", 1)[0] + "]" if v.startswith("nested:") and "]: " in v else v for v in vals})
    detail = any(v.startswith("nested:") and "]: " in v for v in vals)
    return "; ".join(kinds) + (" (the epochs each model's folds chose: column `schedule` of table4.csv)"
                               if detail else "")
