"""Reports: what the researcher reads at the end of `dvc repro`.

- `importance`: permutation feature importance of feature groups (the paper's Fig 3);
- `crossmodal`: brightness and contrast of clips with music by genre (Table 5);
- `timeline`: per-film cue timelines;
- `report`: reports/report.md and reports/report.html, with the paper's numbers
  (`paper`) beside the project's;
- `inputs`: where the reports find the other stages' outputs (the contracts).
"""
