"""A lab's shared cache and remotes, for real: temporary git + DVC repositories, real dvc commands.

- (a push, a fresh clone and a pull that recompute nothing: on the project's real dvc.yaml,
  tests/test_lab_pull.py; the toy pipeline here tests what that one cannot cheaply:)
- a shared cache: two clones on one machine share objects through symlinks, per-machine
  settings stay in .dvc/config.local (never committed), a clone's old cache is copied in;
- an unreachable remote, an unmounted drive and a read-only remote: a clear error from
  `filmscore lab check`, and nothing lost locally;
- an SSH remote on loopback (sshd started by the test; skipped with the reason when it cannot be).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from dvcrepo import (clone, commit_all, dvc, filmscore, git, init_repo, toy_pipeline, tree_hashes, up_to_date)

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> Path:
    """The lab's repository: the toy pipeline run and committed (dvc.lock, metrics) with a local cache."""
    repo = toy_pipeline(init_repo(tmp_path_factory.mktemp("lab") / "origin"))
    dvc(repo, "repro", "-q")
    commit_all(repo, "pipeline run")
    return repo


@pytest.fixture
def repo(origin, tmp_path) -> Path:
    """A private copy of the lab's repository (its own git history and local cache)."""
    dst = tmp_path / "repo"
    shutil.copytree(origin, dst, symlinks=True)
    return dst


def outputs(repo: Path) -> dict[str, str]:
    return {str(Path(k).relative_to(repo)): v for k, v in tree_hashes(repo / "data", repo / "metrics.json").items()}


def cache_objects(cache: Path) -> dict[str, str]:
    return {str(Path(k).relative_to(cache)): v for k, v in tree_hashes(cache / "files").items()}


def runlog(tmp_path: Path) -> dict:
    return {"RUNLOG": str(tmp_path / "runs.log")}


def runs(tmp_path: Path) -> list[str]:
    p = tmp_path / "runs.log"
    return p.read_text().split() if p.exists() else []


# ---------------------------------------------------------------- a remote on a shared drive


# A push, a fresh clone and a pull that recompute nothing: on the real dvc.yaml, tests/test_lab_pull.py.


# ---------------------------------------------------------------- a shared cache


def test_shared_cache_two_clones_links_and_local_config(repo, tmp_path):
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    before = outputs(repo)
    old_cache = cache_objects(repo / ".dvc" / "cache")
    group = __import__("grp").getgrgid(os.getgid()).gr_name

    r = filmscore(repo, "lab", "setup", "--cache", str(shared), "--group", group)
    for line in (f"$ dvc cache dir --local {shared}", "$ dvc config --local cache.shared group",
                 "$ dvc config --local cache.type reflink,symlink", "$ dvc checkout --relink"):
        assert line in r.stdout
    # the clone's objects were copied in (old cache left alone), outputs now link into the shared cache
    assert cache_objects(shared) == old_cache
    assert cache_objects(repo / ".dvc" / "cache") == old_cache
    assert "left in place" in r.stdout
    sample = repo / "data" / "sample.txt"
    assert sample.is_symlink() and shared in sample.resolve().parents  # this file system has no reflinks
    assert outputs(repo) == before and up_to_date(repo)
    assert stat.S_IMODE(shared.stat().st_mode) & 0o2070 == 0o2070  # group-writable, setgid
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o222 == 0 for p in (shared / "files").rglob("*") if p.is_file())
    # per-machine settings are in config.local, which git never sees
    assert "dir = " in (repo / ".dvc" / "config.local").read_text()
    assert "cache" not in (repo / ".dvc" / "config").read_text()
    assert git(repo, "status", "--porcelain").stdout == ""

    # a colleague on the same machine: no remote at all, the shared cache is enough
    colleague = clone(repo, tmp_path / "colleague")
    filmscore(colleague, "lab", "setup", "--cache", str(shared))
    dvc(colleague, "checkout")
    assert (colleague / "data" / "sample.txt").resolve() == sample.resolve()  # one copy on disk
    assert outputs(colleague) == before and up_to_date(colleague)
    r = dvc(colleague, "repro", extra_env=runlog(tmp_path))
    assert runs(tmp_path) == []
    assert "ok" in filmscore(colleague, "lab", "check").stdout

    # a re-run in one clone replaces its links (atomic writes), never the shared objects
    (repo / "params.yaml").write_text("seed: 8\n")
    dvc(repo, "repro", "-q")
    assert cache_objects(shared).items() >= old_cache.items()
    assert outputs(colleague) == before


def test_setup_refuses_missing_folders_and_check_reports_credentials_in_git(repo, tmp_path):
    r = filmscore(repo, "lab", "setup", "--cache", str(tmp_path / "not-mounted" / "cache"), check=False)
    assert r.returncode == 2 and "cache folder not found" in r.stderr and "mounted" in r.stderr
    r = filmscore(repo, "lab", "setup", "--remote", str(tmp_path / "not-mounted" / "store"), check=False)
    assert r.returncode == 2 and "remote folder not found" in r.stderr
    assert not (tmp_path / "not-mounted").exists()
    assert (repo / ".dvc" / "config").read_text() == "[core]\n    analytics = false\n"
    # a password committed to .dvc/config is flagged with the fix
    dvc(repo, "remote", "add", "srv", "ssh://lab.invalid/store")
    dvc(repo, "remote", "modify", "srv", "password", "hunter2")
    dvc(repo, "remote", "modify", "srv", "user", "alice")
    r = filmscore(repo, "lab", "check", "-r", "srv", check=False)
    assert r.returncode == 2
    assert "remote 'srv' has ['password'] in the committed config" in r.stderr
    assert "dvc remote modify --local srv" in r.stderr
    # one person's user name committed is a note, not an error
    assert "note: remote 'srv' has ['user'] in the committed .dvc/config" in r.stdout


# ---------------------------------------------------------------- bad remotes


def test_unreachable_remote_and_unmounted_drive_lose_nothing(repo, tmp_path):
    store = tmp_path / "drive" / "store"
    store.mkdir(parents=True)
    filmscore(repo, "lab", "setup", "--remote", str(store))
    dvc(repo, "push")
    (repo / "params.yaml").write_text("seed: 11\n")
    dvc(repo, "repro", "-q")  # new outputs, not pushed yet
    keep = outputs(repo), cache_objects(repo / ".dvc" / "cache")

    # a server that does not answer
    dead = f"ssh://127.0.0.1:{free_port()}/srv/dvc"
    dvc(repo, "remote", "add", "dead", dead)
    for cmd in (("push", "-r", "dead"), ("pull", "-r", "dead")):
        r = dvc(repo, *cmd, check=False)
        assert r.returncode != 0 and "Connect call failed" in r.stderr + r.stdout
        assert (outputs(repo), cache_objects(repo / ".dvc" / "cache")) == keep
    r = filmscore(repo, "lab", "check", "-r", "dead", check=False)
    assert r.returncode == 2
    assert f"remote 'dead' ({dead}): cannot be reached" in r.stderr and "known_hosts" in r.stderr

    # the shared drive not mounted: its mount point is an empty folder
    shutil.move(store, tmp_path / "elsewhere")
    store.mkdir()
    r = filmscore(repo, "lab", "check", "-r", "lab", check=False)
    assert r.returncode == 2 and "holds no FILMSCORE_REMOTE.txt" in r.stderr and "mount" in r.stderr
    # and with the mount point gone too
    store.rmdir()
    r = filmscore(repo, "lab", "check", "-r", "lab", check=False)
    assert r.returncode == 2 and "folder not found" in r.stderr and "mounted" in r.stderr
    assert (outputs(repo), cache_objects(repo / ".dvc" / "cache")) == keep


def _without_write_rights() -> list[str]:
    """A command prefix that makes the file permission bits bind (root ignores them otherwise)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv (util-linux): cannot make a folder read-only for root")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


def test_read_only_remote_push_fails_clearly_pull_still_works(repo, tmp_path):
    store = tmp_path / "drive" / "store"
    store.mkdir(parents=True)
    filmscore(repo, "lab", "setup", "--remote", str(store))
    commit_all(repo, "lab remote")
    dvc(repo, "push")
    for p in [store, *store.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    ro = _without_write_rights()
    probe = subprocess.run([*ro, "touch", str(store / "x")], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("cannot make a folder read-only here (file system ignores permission bits)")
    try:
        (repo / "params.yaml").write_text("seed: 12\n")
        dvc(repo, "repro", "-q")
        keep = outputs(repo), cache_objects(repo / ".dvc" / "cache")
        r = dvc(repo, "push", check=False, prefix=ro)
        assert r.returncode != 0 and "Permission denied" in r.stderr + r.stdout
        assert (outputs(repo), cache_objects(repo / ".dvc" / "cache")) == keep
        r = filmscore(repo, "lab", "check", check=False, prefix=ro)
        assert r.returncode == 2 and "is read-only for you" in r.stderr and "you can still `dvc pull`" in r.stderr
        # read-only is enough to pull what the lab pushed before
        git(repo, "stash", "-q")
        colleague = clone(repo, tmp_path / "colleague")
        dvc(colleague, "pull", prefix=ro)
        assert up_to_date(colleague)
    finally:
        for p in [store, *store.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)


# ---------------------------------------------------------------- SSH on loopback


def _ensure_sshd() -> str:
    for cand in ("/usr/sbin/sshd", shutil.which("sshd")):
        if cand and Path(cand).exists():
            return cand
    if os.geteuid() != 0:
        pytest.skip("openssh-server is not installed and the tests are not running as root to install it "
                    "(apt-get install openssh-server)")
    apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    quick = ["-o", "Acquire::http::Timeout=20", "-o", "Acquire::Retries=0", "-o", "DPkg::Lock::Timeout=60"]
    cmd = ["apt-get", *quick, "install", "-y", "-q", "--no-install-recommends", "openssh-server"]

    def apt(args):
        try:
            return subprocess.run(args, capture_output=True, text=True, env=apt_env, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip("installing openssh-server with apt-get took over 5 minutes (no package mirror?)")

    r = apt(cmd)
    if r.returncode != 0:
        apt(["apt-get", *quick, "update", "-q"])
        r = apt(cmd)
    if r.returncode != 0 or not Path("/usr/sbin/sshd").exists():
        pytest.skip(f"could not install openssh-server with apt-get: {(r.stderr or r.stdout).strip()[-300:]}")
    return "/usr/sbin/sshd"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """sshd on a free loopback port with a throwaway host key; yields (port, client key, HOME with known_hosts)."""
    if os.geteuid() != 0:
        pytest.skip("the SSH remote test logs in as root through a throwaway sshd: run the tests as root to include it")
    sshd_bin = _ensure_sshd()
    d = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
        f"AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        "Subsystem sftp internal-sftp\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder
    test = subprocess.run([sshd_bin, "-t", "-f", str(d / "sshd_config")], capture_output=True, text=True)
    if test.returncode != 0:
        pytest.skip(f"sshd rejects its test configuration: {test.stderr.strip()[-300:]}")
    proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 15
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.skip(f"sshd could not start: {proc.stderr.read().strip()[-300:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.skip("sshd did not listen within 15 s")
    home = d / "home"
    (home / ".ssh").mkdir(parents=True)
    host_type, host_key = (d / "host_key.pub").read_text().split()[:2]
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_type} {host_key}\n")
    try:
        yield port, d / "client_key", home
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_ssh_remote_on_loopback(sshd, repo, tmp_path):
    port, key, home = sshd
    ssh_env = {"HOME": str(home)}
    store = tmp_path / "ssh-store"
    url = f"ssh://127.0.0.1:{port}{store}"
    r = filmscore(repo, "lab", "setup", "--remote", url, "--user", "root", "--keyfile", str(key), extra_env=ssh_env)
    assert f"$ dvc remote modify --local lab keyfile {key}" in r.stdout
    committed = (repo / ".dvc" / "config").read_text()
    assert url in committed and "keyfile" not in committed and "user" not in committed
    commit_all(repo, "lab remote over ssh")
    dvc(repo, "push", extra_env=ssh_env)
    assert (store / "FILMSCORE_REMOTE.txt").is_file() and list((store / "files" / "md5").rglob("*"))
    assert "writable" in filmscore(repo, "lab", "check", extra_env=ssh_env).stdout

    colleague = clone(repo, tmp_path / "colleague")
    r = dvc(colleague, "pull", check=False, extra_env=ssh_env)
    assert r.returncode != 0  # no credentials on this machine yet
    r = filmscore(colleague, "lab", "setup", "--user", "root", "--keyfile", str(key), extra_env=ssh_env)
    assert "remote add" not in r.stdout  # the URL came with the clone; only the credentials are set
    dvc(colleague, "pull", extra_env=ssh_env)
    assert outputs(colleague) == outputs(repo) and up_to_date(colleague)
    dvc(colleague, "repro", extra_env={**ssh_env, **runlog(tmp_path)})
    assert runs(tmp_path) == []
    assert git(colleague, "status", "--porcelain").stdout == ""
