"""Feature extraction: MIR (Essentia), VGGish, OpenL3 and visual features, as frame- and cue-level bags.

- `mir`: the paper's Table 2 with Essentia, texture-windowed, at 1 Hz;
- `visual`: per-second brightness and contrast (decord);
- `vggish`, `openl3`: the pretrained audio embeddings (torch);
- `groups`: the eight feature groups of the importance analysis;
- `bags`: the table layout every set writes (data/features/<set>/);
- `extract`: the per-film, content-cached, parallel extraction the stage runs.
"""

from .bags import CUE_KEYS, FRAME_KEYS, SETS, feature_columns, read_set
from .groups import GROUPS, columns_by_group, group_of

__all__ = ["SETS", "FRAME_KEYS", "CUE_KEYS", "feature_columns", "read_set", "GROUPS", "group_of", "columns_by_group"]
