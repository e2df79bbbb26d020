"""map_films: local processes and a real Dask cluster, resume after failures, a scheduler killed mid-run."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from filmscore.config import validate
from filmscore.errors import FilmscoreError, MediaError
from filmscore.files import write_text
from filmscore.parallel import SchedulerLostError, map_films, run_options

# ---------------------------------------------------------------- the per-film work of these tests


def expected(name: str) -> int:
    """What the work computes for a film, worked out independently: the sum of its characters' codes."""
    return sum(ord(c) for c in name)


def work(item):
    """One film: record the call, wait, write the per-film output atomically, return a small summary."""
    name, out_dir, seconds, mode = item
    out = Path(out_dir)
    (out / "calls").mkdir(exist_ok=True)
    (out / "calls" / f"{name}.{uuid.uuid4().hex}").touch()
    time.sleep(seconds)
    if mode == "corrupt":
        raise MediaError(out / f"{name}.mp4", "is not a media file", "re-export it")
    if mode == "bug":
        raise ValueError("a bug")
    if mode == "die":
        os._exit(9)  # what the kernel's OOM killer does to a worker
    value = sum(ord(c) for c in name)
    write_text(out / f"{name}.txt", str(value))
    return value


def outputs(out: Path) -> set[str]:
    return {p.stem for p in out.glob("*.txt")}


def calls(out: Path) -> list[str]:
    return sorted(p.name.split(".")[0] for p in (out / "calls").glob("*")) if (out / "calls").is_dir() else []


def items_for(out: Path, names, seconds=0.0, modes=None):
    modes = modes or {}
    return [(n, str(out), seconds, modes.get(n, "ok")) for n in names]


def done(item) -> bool:
    return (Path(item[1]) / f"{item[0]}.txt").exists()


_STATE = {"inits": 0}


def init_worker(marker_dir: str) -> None:
    """A per-process set-up (say, torch threads): counts itself and leaves a marker per process."""
    _STATE["inits"] += 1
    (Path(marker_dir) / f"init.{os.getpid()}").touch()


def pid_work(item):
    time.sleep(0.05)
    return os.getpid(), _STATE["inits"]


NAMES = ["alien", "brazil", "casablanca", "dune", "heat", "psycho"]


# ---------------------------------------------------------------- local


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_results_failures_collected_and_rerun_does_the_rest(tmp_path, jobs):
    its = items_for(tmp_path, NAMES, modes={"dune": "corrupt", "heat": "corrupt"})
    got = {}
    with pytest.raises(FilmscoreError) as e:
        for item, value in map_films(work, its, jobs=jobs, desc="test work", done=done):
            got[item[0]] = value
    # every good film ran, gave the right value and left its output; both bad ones are named at once
    assert got == {n: expected(n) for n in NAMES if n not in ("dune", "heat")}
    assert outputs(tmp_path) == set(got)
    text = e.value.render()
    assert "2 of 6 film(s) failed" in text and "dune.mp4" in text and "heat.mp4" in text and "re-export it" in text
    assert not isinstance(e.value, SchedulerLostError)
    # the bad films fixed, a re-run does only them
    its = items_for(tmp_path, NAMES)
    got2 = dict(map_films(work, its, jobs=jobs, desc="test work", done=done))
    assert {i[0]: v for i, v in got2.items()} == {"dune": expected("dune"), "heat": expected("heat")}
    assert calls(tmp_path) == sorted(NAMES + ["dune", "heat"])
    # everything done: nothing runs
    assert list(map_films(work, its, jobs=jobs, done=done)) == []
    assert len(calls(tmp_path)) == 8


def check_initializer_ran_once_per_process(tmp_path, **where):
    from functools import partial

    got = list(map_films(pid_work, list(range(8)), initializer=partial(init_worker, str(tmp_path)), **where))
    pids = {pid for _, (pid, _) in got}
    assert len(got) == 8 and all(inits == 1 for _, (_, inits) in got)
    assert {int(p.suffix[1:]) for p in tmp_path.glob("init.*")} == pids and os.getpid() not in pids


def test_initializer_runs_once_in_each_local_worker(tmp_path):
    check_initializer_ran_once_per_process(tmp_path, jobs=2)


def test_a_bug_stops_the_run_and_names_the_film(tmp_path):
    its = items_for(tmp_path, ["alien", "brazil"], modes={"brazil": "bug"})
    with pytest.raises(ValueError) as e:
        list(map_films(work, its, jobs=2))
    assert any("brazil" in n for n in getattr(e.value, "__notes__", []))


def test_local_worker_killed_keeps_finished_films(tmp_path):
    names = ["a1", "a2", "a3", "zz"]
    its = items_for(tmp_path, names[:3], 0.0) + items_for(tmp_path, ["zz"], 0.5, {"zz": "die"})
    with pytest.raises(SchedulerLostError) as e:
        list(map_films(work, its, jobs=2, desc="test work", done=done))
    text = e.value.render()
    assert "worker process died" in text and "run.jobs" in text and "only the remaining" in text
    assert outputs(tmp_path) == {"a1", "a2", "a3"}
    # the film that killed its worker is the one a re-run does (here it behaves)
    its = items_for(tmp_path, names)
    assert [i[0] for i, _ in map_films(work, its, jobs=2, done=done)] == ["zz"]


def test_run_params_section_and_scheduler_validation():
    import yaml

    params = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    assert run_options(params) == {"jobs": params["run"]["jobs"], "scheduler": None, "wait_s": params["run"]["wait_s"]}
    assert run_options(params, jobs=1)["jobs"] == 1
    params["run"]["scheduler"] = "localhost:8786"  # no scheme: Client would guess; we ask for it
    probs = validate(params)
    assert [p.where for p in probs] == ["params.yaml: run.scheduler"] and "tcp://" in probs[0].fix
    for ok in ("tcp://10.0.0.5:8786", "tls://sched.lab:8786", "/shared/dask/scheduler.json", None):
        params["run"]["scheduler"] = ok
        assert validate(params) == []


# ---------------------------------------------------------------- Dask


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    # the workers import this test module by name to unpickle `work`
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as c:
        yield c


def test_dask_cluster_same_results_and_resume(tmp_path, cluster):
    its = items_for(tmp_path, NAMES, modes={"heat": "corrupt"})
    addr = cluster.scheduler_address
    got = {}
    with pytest.raises(FilmscoreError) as e:
        for item, value in map_films(work, its, scheduler=addr, desc="test work", done=done, wait_s=20):
            got[item[0]] = value
    assert got == {n: expected(n) for n in NAMES if n != "heat"}
    assert "heat.mp4" in e.value.render() and "1 of 6" in e.value.render()
    its = items_for(tmp_path, NAMES)
    assert [i[0] for i, _ in map_films(work, its, scheduler=addr, done=done, wait_s=20)] == ["heat"]
    assert calls(tmp_path) == sorted(NAMES + ["heat"])


def test_initializer_runs_once_in_each_dask_worker(tmp_path, cluster):
    check_initializer_ran_once_per_process(tmp_path, scheduler=cluster.scheduler_address, wait_s=20)


def test_dask_workers_that_cannot_see_the_files_are_refused(tmp_path, cluster):
    its = items_for(tmp_path, ["alien"])
    with pytest.raises(FilmscoreError) as e:
        list(map_films(work, its, scheduler=cluster.scheduler_address, wait_s=20,
                       shared_paths=[tmp_path / "not-on-this-drive"]))
    text = e.value.render()
    assert "cannot see" in text and "not-on-this-drive" in text and "same paths" in text
    assert calls(tmp_path) == []  # nothing was sent


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    pytest.importorskip("distributed")
    addr = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(FilmscoreError) as e:
        list(map_films(work, items_for(tmp_path, ["alien"]), scheduler=addr, wait_s=2))
    text = e.value.render()
    assert f"cannot reach the Dask scheduler at {addr}" in text and "run.scheduler: null" in text
    assert calls(tmp_path) == []


class ProcessCluster:
    """`dask scheduler` and `dask worker` as processes of their own (so the scheduler can be killed)."""

    def __init__(self, pythonpath: list[str]):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(pythonpath))
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
        self.scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                           "--port", str(self.port), "--no-dashboard"], **quiet)
        self.workers = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                                         "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
                                         "--death-timeout", "5"], **quiet)

    def close(self):
        for p in (self.scheduler, self.workers):
            if p.poll() is None:
                p.kill()
            p.wait(10)


def test_dask_workers_running_other_code_are_refused(tmp_path):
    pytest.importorskip("distributed")
    import filmscore

    other = tmp_path / "other-checkout" / "src"
    shutil.copytree(Path(filmscore.__file__).parent, other / "filmscore")
    with open(other / "filmscore" / "media.py", "a") as f:
        f.write("\n# a colleague's local change\n")
    cluster = ProcessCluster([str(other), str(Path(__file__).parent), *sys.path])
    try:
        with pytest.raises(FilmscoreError) as e:
            list(map_films(work, items_for(tmp_path, ["alien"]), scheduler=cluster.address, wait_s=30))
    finally:
        cluster.close()
    text = e.value.render()
    assert "runs other filmscore code" in text and "same filmscore checkout" in text
    assert calls(tmp_path) == []


def test_scheduler_killed_mid_run_keeps_done_films_and_rerun_does_the_rest(tmp_path):
    pytest.importorskip("distributed")
    cluster = ProcessCluster([str(Path(__file__).parent), *sys.path])
    sched, addr = cluster.scheduler, cluster.address
    names = [f"film{i:02d}" for i in range(12)]
    its = items_for(tmp_path, names, seconds=0.4)
    killed_after: list[int] = []

    def kill_when_three_are_done():
        deadline = time.time() + 60
        while time.time() < deadline and len(outputs(tmp_path)) < 3:
            time.sleep(0.02)
        killed_after.append(len(outputs(tmp_path)))
        sched.send_signal(signal.SIGKILL)

    try:
        killer = threading.Thread(target=kill_when_three_are_done, daemon=True)
        killer.start()
        got = {}
        with pytest.raises(SchedulerLostError) as e:
            for item, value in map_films(work, its, scheduler=addr, desc="test work", done=done, wait_s=30):
                got[item[0]] = value
        killer.join()
        assert sched.wait(10) == -signal.SIGKILL
    finally:
        cluster.close()
    text = e.value.render()
    assert f"the Dask scheduler {addr} went away" in text
    assert f"after {len(got)} of the 12 film(s) to do had finished" in text and "outputs are kept" in text
    assert killed_after[0] >= 3
    first_run_outputs = outputs(tmp_path)
    # what the caller received is on disk, complete (atomic writes); workers may have finished a few
    # more before they stopped
    assert set(got) <= first_run_outputs and len(first_run_outputs) < 12
    assert all(int((tmp_path / f"{n}.txt").read_text()) == expected(n) for n in first_run_outputs)
    first_calls = calls(tmp_path)

    # the re-run (here on local processes: the scheduler is gone) does exactly the films without output
    its = items_for(tmp_path, names, seconds=0.0)
    again = {i[0]: v for i, v in map_films(work, its, jobs=2, desc="test work", done=done)}
    assert set(again) == set(names) - first_run_outputs
    assert outputs(tmp_path) == set(names)
    new_calls = list(calls(tmp_path))
    for c in first_calls:
        new_calls.remove(c)
    assert sorted(new_calls) == sorted(again)
    assert {n: int((tmp_path / f"{n}.txt").read_text()) for n in names} == {n: expected(n) for n in names}
