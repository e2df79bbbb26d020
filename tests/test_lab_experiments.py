"""Queued sweeps with real DVC commands: three experiments queued with -S (one through the grid
syntax), one of them failing on a bad param; the others still run; `dvc queue status` and
`dvc queue logs` report the failure; `dvc exp show` lists the metrics; `dvc plots diff` compares.

The toy stage validates its params with filmscore's own schema machinery, so the failure in the
log is the project's message (the key, the nearest valid value).
"""

from __future__ import annotations

import json
import time

import pytest

from dvcrepo import commit_all, dvc, init_repo, write

pytestmark = pytest.mark.slow

POOLS = {"max": 1.0, "avg": 2.0, "linear_softmax": 3.0}

TRAIN = """
    import json, os, sys

    import yaml

    from filmscore.config import Int, Str, validate
    from filmscore.errors import ParamsError

    SCHEMA = {"model": {"pool": Str(choices=["max", "avg", "linear_softmax"]), "hidden": Int(min=1)}}
    params = yaml.safe_load(open("params.yaml"))
    problems = validate(params, schema=SCHEMA)
    if problems:
        print(ParamsError(problems).render(), file=sys.stderr)
        sys.exit(2)
    m = params["model"]
    f1 = {"max": 1.0, "avg": 2.0, "linear_softmax": 3.0}[m["pool"]] / 10 + m["hidden"] / 1000
    os.makedirs("reports", exist_ok=True)
    json.dump({"macro_f1": round(f1, 6)}, open("reports/metrics.json", "w"))
    with open("reports/pr.csv", "w") as f:
        f.write("recall,precision\\n")
        for i in range(5):
            f.write(f"{i / 4},{1 - i / 4 * (1 - f1):.6f}\\n")
"""
DVC_YAML = """
    stages:
      train:
        cmd: python train.py
        deps: [train.py]
        params: [model]
        metrics:
          - reports/metrics.json:
              cache: false
        plots:
          - reports/pr.csv:
              cache: false
              x: recall
              y: precision
"""


def queue_table(repo) -> dict[str, str]:
    """name -> status, from `dvc queue status`."""
    out = {}
    for line in dvc(repo, "queue", "status").stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[-1] in ("Queued", "Running", "Success", "Failed"):
            out[parts[1]] = parts[-1]
    return out


def exp_metrics(repo) -> dict[str, tuple[dict, dict | None, str]]:
    """experiment name -> (params.model, metrics, executor state), from `dvc exp show --json`."""
    out = {}
    for row in json.loads(dvc(repo, "exp", "show", "--json").stdout):
        for group in row.get("experiments") or []:
            for rev in group["revs"]:
                data = rev.get("data") or {}
                params = data.get("params", {}).get("params.yaml", {}).get("data", {}).get("model")
                metrics = data.get("metrics", {}).get("reports/metrics.json", {}).get("data")
                out[rev["name"]] = (params, metrics, (group.get("executor") or {}).get("state"))
    return out


def test_queued_sweep_one_failure_others_run_and_compare(tmp_path):
    repo = init_repo(tmp_path / "sweep")
    write(repo, "train.py", TRAIN)
    write(repo, "params.yaml", "model:\n  pool: avg\n  hidden: 64\n")
    write(repo, "dvc.yaml", DVC_YAML)
    dvc(repo, "repro", "-q")
    commit_all(repo, "baseline")

    # two cells of the grid in one command (comma lists sweep), and one typo
    r = dvc(repo, "exp", "run", "--queue", "-S", "model.pool=max,linear_softmax", "-S", "model.hidden=128")
    assert r.stdout.count("Queued experiment") == 2
    dvc(repo, "exp", "run", "--queue", "-S", "model.pool=maxx", "-n", "typo")
    assert sorted(queue_table(repo).values()) == ["Queued"] * 3
    try:
        dvc(repo, "queue", "start", "-j", "2")
        deadline = time.time() + 240
        while time.time() < deadline:
            table = queue_table(repo)
            if table and all(s in ("Success", "Failed") for s in table.values()):
                break
            time.sleep(1)
        else:
            pytest.fail(f"queue not finished after 240 s: {table}")
    finally:
        dvc(repo, "queue", "stop", "--kill", check=False)

    assert table["typo"] == "Failed"
    assert sorted(s for n, s in table.items() if n != "typo") == ["Success", "Success"]
    log = dvc(repo, "queue", "logs", "typo").stdout
    assert "params.yaml: model.pool" in log and "did you mean 'max'?" in log

    exps = exp_metrics(repo)
    good = {n: v for n, v in exps.items() if n != "typo"}
    assert sorted(p["pool"] for p, _, _ in good.values()) == ["linear_softmax", "max"]
    for params, metrics, state in good.values():
        assert params["hidden"] == 128 and state == "success"
        assert metrics == {"macro_f1": pytest.approx(POOLS[params["pool"]] / 10 + 0.128)}
    # the failed one is listed as failed (its metric columns are the baseline's: it wrote none)
    assert exps["typo"][0]["pool"] == "maxx" and exps["typo"][2] == "failed"
    # the workspace is untouched by queued runs
    assert (repo / "params.yaml").read_text() == "model:\n  pool: avg\n  hidden: 64\n"

    # best first, as in the guide
    csv = dvc(repo, "exp", "show", "--csv", "--sort-by", "macro_f1", "--sort-order", "desc").stdout.splitlines()
    names = [line.split(",")[0] for line in csv[1:]]
    best = max(good, key=lambda n: good[n][1]["macro_f1"])
    assert names.index(best) < names.index(min(good, key=lambda n: good[n][1]["macro_f1"]))

    a, b = sorted(good)
    plots = json.loads(dvc(repo, "plots", "diff", a, b, "--json").stdout)
    revs = {pt["rev"] for spec in plots["data"]["reports/pr.csv"] for pt in spec["content"]["data"]["values"]}
    assert revs == {a, b}
