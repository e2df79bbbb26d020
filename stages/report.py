"""Stage `report`: reports/report.md and reports/report.html (figures embedded), plus the cue timelines."""

from filmscore import paths
from filmscore.reports.report import build_report
from filmscore.stage import run_stage


def main(params: dict) -> None:
    build_report(params, paths.REPORT_MD, paths.REPORT_HTML, paths.TIMELINE)


if __name__ == "__main__":
    run_stage(main)
