"""Library objects leave the process as they found it: torch's thread count and glibc's malloc settings.

Process-wide settings belong to entry points (stages, worker initialisers); a
`MILClassifier` fitted in a notebook, or a VGGish embedder built and used there,
must not change them. Run in a fresh interpreter so no earlier test has changed
the process already.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mallinfo import require_mallinfo2, run_probe

import filmscore

PROBE = r"""
import sys, tempfile
from pathlib import Path
import numpy as np
import torch

sys.path.insert(0, sys.argv[1])
import embed_fixtures as fx

BLOCK = 64 << 20  # above glibc's largest adaptive mmap threshold (32 MiB): mmapped unless mallopt raised it

def report(what):
    print(what, torch.get_num_threads(), int(mapped_by(BLOCK) >= BLOCK), flush=True)

torch.set_num_threads(3)
report("start")

from filmscore.mil import MILClassifier
rng = np.random.default_rng(0)
Y = (rng.random((8, 2)) < 0.5).astype(int)
bags = [rng.normal(size=(int(rng.integers(1, 12)), 4)) for _ in range(8)]
kw = dict(pool="avg", hidden=8, epochs=2, batch_size=4, show_progress=False)
MILClassifier(**kw).fit(bags, Y)
report("fit")
MILClassifier(**kw).cross_validate(bags, Y, np.arange(8) % 4)
report("cross_validate")

from filmscore.features.vggish import VGGish
from filmscore.features.vggish.convert import tf_to_torch
d = Path(tempfile.mkdtemp())
torch.save({k: torch.from_numpy(v) for k, v in tf_to_torch(fx.vggish_tf_variables()).items()}, d / "vggish.pth")
model = VGGish.from_params({"weights": str(d / "vggish.pth"), "postprocess": False, "threads": 1, "device": "cpu"})
emb = model.embed(np.random.default_rng(1).standard_normal(2 * 16000).astype(np.float32), 16000)
assert emb.shape == (2, 128)
report("vggish")

from filmscore.features.musicnn import Musicnn
from filmscore.features.musicnn.network import tf_variables
v = {k: (1.0 + rng.random(shape) if k.endswith("variance") else 0.05 * rng.standard_normal(shape)).astype(np.float32)
     for k, shape in tf_variables("musicnn").items()}
np.savez(d / "MSD_musicnn.npz", **v)
model = Musicnn.from_params({"weights": str(d), "model": "MSD_musicnn", "threads": 1, "device": "cpu"})
assert model.embed(np.random.default_rng(1).standard_normal(4 * 16000).astype(np.float32), 16000).shape == (4, 200)
report("musicnn")
"""


@pytest.mark.slow
def test_fit_and_embed_leave_threads_and_malloc_as_they_were():
    require_mallinfo2()
    out = run_probe(PROBE, str(Path(__file__).parent))
    lines = dict((w, (int(t), int(m))) for w, t, m in (l.split() for l in out.stdout.splitlines() if l.strip()))
    # torch kept the 3 threads it was given; a 64 MiB block is still mmapped (glibc's defaults: not kept)
    assert lines == {k: (3, 1) for k in ("start", "fit", "cross_validate", "vggish", "musicnn")}


def test_the_training_worker_initialiser_sets_its_own_process():
    """What the library no longer does in the caller's process, its worker processes' initialiser does."""
    src = str(Path(filmscore.__file__).resolve().parents[1])
    code = ("import torch, filmscore.malloc as m; from filmscore.mil.estimators import _init_share_worker; "
            "torch.set_num_threads(3); _init_share_worker(); print(torch.get_num_threads(), m._done)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])})
    threads, done = out.stdout.split()
    assert threads == "1" and done != "None"  # keep_freed_memory ran (False only where libc has no mallopt)
