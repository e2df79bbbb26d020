"""Feature extraction: MIR (Essentia), musicnn, VGGish, OpenL3 and visual features, as frame- and cue-level bags.

- `sets`: the feature-set registry, the one list of the sets (the params schema imports it,
  so this package's ``__init__`` imports nothing);
- `mir`: the paper's Table 2 with Essentia, texture-windowed, at 1 Hz;
- `visual`: per-second brightness and contrast (decord);
- `musicnn`, `vggish`, `openl3`: the pretrained audio embeddings (torch); `embedding`: what they share;
  `weights`: the safe weight-file readers; `tfcheckpoint`: TensorFlow checkpoints read with numpy;
- `groups`: the feature groups of the importance analysis (MIR's eight, musicnn's tag groups);
- `bags`: the table layout every set writes (data/features/<set>/);
- `film`: one set over one film's cues (the per-film work);
- `cache`: the per-film cache, keyed on everything that produced a result;
- `assemble`: a set's tables from its per-film results;
- `extract`: the stage's work: which sets run, what is computed, in parallel.
"""
