"""A lab's shared DVC cache and remote: `filmscore lab setup` and `filmscore lab check`.

`setup` runs the DVC commands a lab needs on each machine and prints every one
(so nothing is hidden; docs/lab.md explains each choice):

- a shared cache: ``dvc cache dir --local DIR``, ``cache.shared group``, a
  link type (``reflink,symlink`` by default: see :data:`CACHE_TYPES`), the
  objects of the clone's old cache copied in (the old cache is left alone),
  then ``dvc checkout --relink``. All per machine, in ``.dvc/config.local``,
  which DVC keeps out of git.
- a remote: ``dvc remote add -d NAME URL`` in ``.dvc/config`` (commit it: the
  whole lab shares it); where the remote already exists with another URL
  (the same shared drive mounted elsewhere on this machine), the URL is
  overridden in ``.dvc/config.local`` only. Credentials (SSH user, key file,
  S3 profile) always go to ``.dvc/config.local``. A local-drive remote must
  already exist (an unmounted drive would otherwise silently become a local
  folder) and is marked with :data:`MARKER`.

`check` says, with the fix for each, what is wrong: a cache folder that is
missing or not writable, credentials in the committed config, a remote that
cannot be reached, is not the lab's (an unmounted drive), or is read-only.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FilmscoreError, Problem

log = logging.getLogger(__name__)

MARKER = "FILMSCORE_REMOTE.txt"
MARKER_TEXT = (
    "This folder is a DVC remote of a filmscore lab (set up by `filmscore lab setup`).\n"
    "DVC stores the pipeline's data and outputs here under files/md5/. Do not edit or move files by hand;\n"
    "`filmscore lab check` looks for this file to tell the remote from an empty mount point.\n"
)
# Link types by choice; "auto" is the safe default for a cache shared by several people.
CACHE_TYPES = {
    # reflink (copy-on-write: btrfs, XFS, APFS) where the cache and the clone share a file system,
    # else a symlink: works across file systems (a network drive) and across users.
    "auto": "reflink,symlink",
    "reflink": "reflink,copy",
    "symlink": "symlink",
    # hardlinks need the cache on the clone's file system, and Linux's fs.protected_hardlinks
    # refuses links to a colleague's read-only cache files: one person per cache only.
    "hardlink": "hardlink",
    "copy": "copy",
}
# Never in the committed config: secrets (an error) and one person's settings (a note).
SECRET_KEYS = ("password", "passphrase", "secret_access_key", "access_key_id", "session_token",
               "gdrive_client_secret", "token", "sas_token", "account_key", "connection_string")
PERSONAL_KEYS = ("user", "keyfile", "profile", "credentialpath")


def _dvc_cmd() -> list[str]:
    return [sys.executable, "-m", "dvc"]


def dvc(repo: Path, *args: str, check: bool = True, show: bool = True) -> subprocess.CompletedProcess:
    """Run one DVC command in `repo`, printing it first; raise with DVC's message when it fails."""
    if show:
        print("$ dvc " + " ".join(_quote(a) for a in args), flush=True)
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    res = subprocess.run(_dvc_cmd() + list(args), cwd=repo, env=env, capture_output=True, text=True)
    if check and res.returncode != 0:
        msg = (res.stderr or res.stdout).strip().splitlines()
        raise FilmscoreError([Problem(f"dvc {' '.join(args)}", " / ".join(msg[-3:]) or f"exit status {res.returncode}",
                                      "see the message above; `filmscore lab check` diagnoses the cache and remotes")])
    return res


def _quote(a: str) -> str:
    return a if re.fullmatch(r"[\w@%+=:,./-]+", a) else "'" + a.replace("'", "'\\''") + "'"


def remote_kind(url: str) -> str:
    """'local' for a folder (a shared drive), else the URL scheme (ssh, s3, gs, azure, http, ...)."""
    m = re.match(r"^([a-z][a-z0-9+.-]*)://", url)
    if not m or m.group(1) == "file":
        return "local"
    return m.group(1)


def _local_path(url: str) -> Path:
    return Path(url[len("file://"):] if url.startswith("file://") else url).expanduser()


def find_repo(start: str | Path = ".") -> Path:
    p = Path(start).resolve()
    for d in (p, *p.parents):
        if (d / ".dvc").is_dir():
            return d
    raise FilmscoreError([Problem(str(p), "is not inside a DVC repository",
                                  "run this in your clone of the filmscore repository (where dvc.yaml is)")])


def _config(repo: Path):
    from dvc.config import Config

    return Config(dvc_dir=str(repo / ".dvc"), validate=False)


def _writable_probe(path: Path) -> str | None:
    """None when a file can be created and removed in `path`, else why not."""
    probe = path / f".filmscore-probe-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"probe")
        probe.unlink()
        return None
    except OSError as e:
        return e.strerror or str(e)


# ---------------------------------------------------------------------------- setup


@dataclass
class Setup:
    cache: str | None = None
    cache_type: str = "auto"
    group: str | None = None
    remote: str | None = None
    remote_name: str = "lab"
    user: str | None = None
    keyfile: str | None = None
    ask_password: bool = False
    profile: str | None = None
    endpoint_url: str | None = None
    notes: list[str] = field(default_factory=list)


def setup(repo: str | Path, s: Setup) -> list[str]:
    """Configure `repo` for the lab; return notes for the user (what to commit, what was left alone)."""
    repo = find_repo(repo)
    if s.cache_type not in CACHE_TYPES:
        raise FilmscoreError([Problem("--cache-type", f"is {s.cache_type!r}", f"use one of {list(CACHE_TYPES)}")])
    if not (s.cache or s.remote or s.user or s.keyfile or s.ask_password or s.profile):
        raise FilmscoreError([Problem("filmscore lab setup", "nothing to set up",
                                      "give --cache DIR and/or --remote URL (see docs/lab.md)")])
    notes: list[str] = []
    if s.cache:
        notes += _setup_cache(repo, s)
    if s.remote or s.user or s.keyfile or s.ask_password or s.profile:
        notes += _setup_remote(repo, s)
    return notes


def _group_share(path: Path, group: str) -> None:
    """Give `path` to `group`, group-writable, new entries inheriting the group (setgid)."""
    try:
        shutil.chown(path, group=group)
        path.chmod(path.stat().st_mode | stat.S_IRWXG | stat.S_ISGID)
    except (LookupError, PermissionError) as e:
        raise FilmscoreError([Problem(str(path), f"cannot hand it to group {group!r} ({e})",
                                      f"ask its owner to run: chgrp {group} {path} && chmod 2775 {path}")]) from None
    if shutil.which("setfacl"):
        # default ACL: files and folders colleagues create stay writable by the group whatever their umask
        subprocess.run(["setfacl", "-d", "-m", f"g:{group}:rwX", str(path)], capture_output=True)


def _shared_folder(path: Path, what: str, group: str | None) -> None:
    """A lab folder (the cache or a local remote) on the shared drive: it must exist, and
    with ``group`` it is shared with that group."""
    if not path.is_dir():
        raise FilmscoreError([Problem(str(path), f"{what} folder not found",
                                      "check that the shared drive is mounted here; create the folder once for the "
                                      f"lab: mkdir -p {path} && chgrp LAB_GROUP {path} && chmod 2775 {path}")])
    if group:
        _group_share(path, group)


def _setup_cache(repo: Path, s: Setup) -> list[str]:
    cache = Path(s.cache).expanduser().resolve()
    _shared_folder(cache, "cache", s.group)
    why = _writable_probe(cache)
    if why:
        raise FilmscoreError([Problem(str(cache), f"is not writable ({why})",
                                      "ask the lab admin to add you to the cache folder's group (it needs g+rwx)")])
    conf = _config(repo)
    old = Path(conf.read().get("cache", {}).get("dir") or repo / ".dvc" / "cache").resolve()
    dvc(repo, "cache", "dir", "--local", str(cache))
    dvc(repo, "config", "--local", "cache.shared", "group")
    dvc(repo, "config", "--local", "cache.type", CACHE_TYPES[s.cache_type])
    notes = []
    if old != cache and old.is_dir():
        n = copy_cache_objects(old, cache)
        if n:
            notes.append(f"copied {n} object(s) from the old cache {old} into {cache}; the old cache is left "
                         f"in place: delete it yourself once you are sure (rm -rf {old})")
    if (repo / "dvc.lock").is_file() or any(repo.rglob("*.dvc")):
        res = dvc(repo, "checkout", "--relink", check=False)
        if res.returncode != 0:
            notes.append("`dvc checkout --relink` could not link every output (objects missing from the cache): "
                         "run `dvc pull` to fetch them, then `dvc checkout --relink`")
    return notes


def copy_cache_objects(src: Path, dst: Path) -> int:
    """Copy DVC cache objects (files/<hash>/xx/...) from `src` into `dst`, skipping those present.

    Each copy is written beside its target and renamed, read-only as DVC keeps
    its objects; folders are group-writable as DVC makes them in a shared cache.
    """
    n = 0
    root = src / "files"
    if not root.is_dir():
        return 0
    for path in sorted(root.rglob("*")):
        if not path.is_file() or (path.name.startswith(".") and path.name.endswith(".tmp")):
            continue
        target = dst / path.relative_to(src)
        if target.exists():
            continue
        folder = dst
        for part in target.parent.relative_to(dst).parts:
            folder = folder / part
            if not folder.is_dir():
                folder.mkdir()
                folder.chmod(0o2775)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        shutil.copyfile(path, tmp)
        tmp.chmod(0o444)
        os.replace(tmp, target)
        n += 1
    return n


def _setup_remote(repo: Path, s: Setup) -> list[str]:
    notes: list[str] = []
    name = s.remote_name
    conf = _config(repo)
    committed = conf.read("repo").get("remote", {})
    merged = conf.read().get("remote", {})
    url = s.remote
    if url is None:
        if name not in merged:
            raise FilmscoreError([Problem(f"remote {name!r}", "is not configured",
                                          f"give its URL: filmscore lab setup --remote URL --remote-name {name}")])
        url = merged[name]["url"]
    kind = remote_kind(url)
    if kind == "local":
        path = _local_path(url).resolve()
        _shared_folder(path, "remote", s.group)
        url = str(path)
    if s.remote is not None:
        if name not in committed:
            dvc(repo, "remote", "add", "-d", name, url)
            notes.append(f"remote {name!r} added to .dvc/config: commit it so the lab shares it "
                         "(git add .dvc/config && git commit -m 'DVC remote')")
        elif committed[name].get("url") != url:
            dvc(repo, "remote", "modify", "--local", name, "url", url)
            notes.append(f"remote {name!r} is {committed[name].get('url')} in .dvc/config; on this machine it is "
                         f"{url} (in .dvc/config.local)")
        if conf.read().get("core", {}).get("remote") != name:
            dvc(repo, "remote", "default", "--local", name)
        if kind == "local":
            dvc(repo, "remote", "modify", name, "shared", "group")
        if kind == "s3" and s.endpoint_url:
            dvc(repo, "remote", "modify", name, "endpointurl", s.endpoint_url)
    for key, value in (("user", s.user), ("keyfile", s.keyfile and str(Path(s.keyfile).expanduser().resolve())),
                       ("profile", s.profile)):
        if value:
            dvc(repo, "remote", "modify", "--local", name, key, value)
    if s.ask_password:
        dvc(repo, "remote", "modify", "--local", name, "ask_password", "true")
    # mark the remote, so that `check` can tell it from an empty mount point
    fs, path = _remote_fs(repo, name)
    marker = fs.join(path, MARKER)
    try:
        if not fs.exists(marker):
            fs.makedirs(path)
            fs.pipe_file(marker, MARKER_TEXT.encode())
    except Exception as e:  # any backend's error: the remote is not usable yet
        raise FilmscoreError([_remote_problem(name, url, e)]) from None
    return notes


# ---------------------------------------------------------------------------- check


def _remote_fs(repo: Path, name: str):
    from dvc.fs import get_cloud_fs

    cls, conf, path = get_cloud_fs(_config(repo).read(), name=name)
    return cls(**conf), path


def _remote_problem(name: str, url: str, e: BaseException) -> Problem:
    text = f"{type(e).__name__}: {e}".strip()
    if isinstance(e, PermissionError) or "permission denied" in text.lower() or "errno 13" in text.lower():
        return Problem(f"remote {name!r} ({url})", f"is read-only for you ({text})",
                       "ask the lab admin for write access to it (group-writable, your user in the group); "
                       "you can still `dvc pull` from it")
    kind = remote_kind(url)
    fix = {
        "ssh": f"check that the host is up and that `ssh` reaches it with the same user, port and key "
               f"(`dvc remote modify --local {name} user NAME` / `keyfile PATH`); a host key must be in ~/.ssh/known_hosts",
        "s3": f"check the endpoint, bucket and credentials (`dvc remote modify --local {name} profile NAME`)",
        "local": "check that the shared drive is mounted and the path is right",
    }.get(kind, "check the URL and your credentials in .dvc/config.local")
    return Problem(f"remote {name!r} ({url})", f"cannot be reached ({text})", fix)


def check(repo: str | Path = ".", remote: str | None = None) -> list[str]:
    """Diagnose the cache and remote(s); return report lines, raise FilmscoreError listing every problem."""
    lines, probs = diagnose(repo, remote)
    if probs:
        raise FilmscoreError(probs, headline=f"lab set-up of {find_repo(repo)}: {len(probs)} problem(s)")
    return lines


def diagnose(repo: str | Path = ".", remote: str | None = None) -> tuple[list[str], list[Problem]]:
    """What `check` finds: report lines (what is configured) and problems (each with its fix)."""
    repo = find_repo(repo)
    conf = _config(repo)
    merged, committed = conf.read(), conf.read("repo")
    lines: list[str] = []
    probs: list[Problem] = []

    tracked = subprocess.run(["git", "ls-files", ".dvc/config.local"], cwd=repo, capture_output=True, text=True)
    if tracked.returncode == 0 and tracked.stdout.strip():
        probs.append(Problem(".dvc/config.local", "is committed to git (it holds per-machine paths and credentials)",
                             "git rm --cached .dvc/config.local && git commit (DVC's .dvc/.gitignore keeps it out)"))
    for rname, rconf in committed.get("remote", {}).items():
        leaked = [k for k in rconf if k in SECRET_KEYS]
        if leaked:
            probs.append(Problem(".dvc/config", f"remote {rname!r} has {leaked} in the committed config",
                                 f"move them: dvc remote modify --local {rname} KEY VALUE, then "
                                 f"dvc remote modify --unset {rname} KEY"))
        personal = [k for k in rconf if k in PERSONAL_KEYS]
        if personal:
            lines.append(f"  note: remote {rname!r} has {personal} in the committed .dvc/config: every clone gets "
                         f"them; per person they belong in .dvc/config.local (dvc remote modify --local)")

    cache_conf = merged.get("cache", {})
    cache = Path(cache_conf.get("dir") or repo / ".dvc" / "cache")
    ctype = cache_conf.get("type") or "reflink,copy (DVC default)"
    shared = cache_conf.get("shared")
    lines.append(f"cache: {cache} (type {ctype}{', shared by group' if shared else ''})")
    outside = repo not in cache.resolve().parents
    if not cache.is_dir():
        if outside:
            probs.append(Problem(str(cache), "cache folder not found", "check that the shared drive is mounted"))
    else:
        why = _writable_probe(cache)
        if why:
            probs.append(Problem(str(cache), f"cache folder is not writable ({why})",
                                 "ask the lab admin to add you to its group (it needs g+rwx and the setgid bit)"))
    if outside and not shared:
        lines.append("  note: a cache outside the clone is usually shared: `dvc config --local cache.shared group`")
    if outside and ctype.split(",")[0] == "copy":
        lines.append("  note: cache.type copy duplicates every output in each clone: see docs/lab.md (symlink)")

    remotes = merged.get("remote", {})
    default = merged.get("core", {}).get("remote")
    names = [remote] if remote else sorted(remotes)
    if remote and remote not in remotes:
        probs.append(Problem(f"remote {remote!r}", "is not configured",
                             f"known remotes: {sorted(remotes) or 'none'}; add one with filmscore lab setup --remote URL"))
        names = []
    if not remotes:
        lines.append("remotes: none (`filmscore lab setup --remote URL` adds the lab's)")
    for rname in names:
        url = remotes[rname].get("url", "")
        lines.append(f"remote {rname}{' (default)' if rname == default else ''}: {url}")
        probs += _check_remote(repo, rname, url, lines)
    if not probs:
        lines.append("ok")
    return lines, probs


def _check_remote(repo: Path, name: str, url: str, lines: list[str]) -> list[Problem]:
    kind = remote_kind(url)
    where = f"remote {name!r} ({url})"
    if kind == "local":
        path = _local_path(url)
        if not path.is_dir():
            return [Problem(where, "folder not found", "check that the shared drive is mounted and the path is right "
                            f"(per machine: dvc remote modify --local {name} url PATH)")]
    try:
        fs, path = _remote_fs(repo, name)
        if not fs.exists(path):
            return [Problem(where, "does not exist", f"create it, or set it up: filmscore lab setup --remote {url}")]
        if not fs.exists(fs.join(path, MARKER)):
            return [Problem(where, f"holds no {MARKER}: it is not the lab's remote, or the drive is not mounted "
                            "(DVC would push into the empty mount point)",
                            f"mount the drive; for a new remote mark it once: filmscore lab setup --remote {url}")]
        lines.append("  reachable")
        probe = fs.join(path, f".filmscore-probe-{uuid.uuid4().hex}")
        fs.pipe_file(probe, b"probe")
        fs.rm_file(probe)
        lines.append("  writable")
    except Exception as e:
        return [_remote_problem(name, url, e)]
    return _check_remote_outputs(repo, name, url, lines)


def missing_outputs(repo: Path, name: str) -> tuple[int, list[tuple[str, str]]]:
    """The cached outputs of this commit's dvc.lock that remote `name` does not hold, whole.

    Returns (outputs checked, [(producing stage, output path)]): an output is
    missing when its object (a file's, or a folder's listing and every file in
    it) is not in the remote. Outputs with ``cache: false`` live in git and are
    not checked; outputs not yet in dvc.lock (never run) neither.
    """
    import json

    from dvc.repo import Repo

    fs, root = _remote_fs(repo, name)

    def obj(md5: str) -> str:
        return fs.join(root, "files", "md5", md5[:2], md5[2:])

    checked, missing = 0, []
    with Repo(str(repo)) as dvc_repo:
        for out in dvc_repo.index.outs:
            value = getattr(out.hash_info, "value", None) if out.use_cache else None
            if not value:
                continue
            checked += 1
            stage = getattr(out.stage, "addressing", str(out.stage))
            where = str(out.fs_path if not hasattr(out, "def_path") else out.def_path)
            if not fs.exists(obj(value)):
                missing.append((stage, where))
            elif value.endswith(".dir"):
                entries = json.loads(fs.cat_file(obj(value)))
                if not all(fs.exists(obj(e["md5"])) for e in entries):
                    missing.append((stage, where))
    return checked, missing


def _check_remote_outputs(repo: Path, name: str, url: str, lines: list[str]) -> list[Problem]:
    """Does the remote hold this commit's outputs? Each missing one is named with the stage that produces it."""
    if not (repo / "dvc.lock").is_file():
        lines.append("  outputs: no dvc.lock in this commit (nothing computed yet)")
        return []
    try:
        checked, missing = missing_outputs(repo, name)
    except Exception as e:  # an unreadable dvc.yaml/dvc.lock is DVC's to report: say so, do not hide it
        return [Problem("dvc.lock", f"cannot be compared with remote {name!r} ({type(e).__name__}: {e})",
                        "run `dvc status -c` for DVC's own message")]
    if not missing:
        lines.append(f"  holds all {checked} output(s) of this commit's dvc.lock: `dvc pull` gives an up-to-date clone")
        return []
    stages = sorted({st for st, _ in missing})
    shown = "; ".join(f"{path} (stage {st})" for st, path in missing[:12]) + (" ..." if len(missing) > 12 else "")
    if len(missing) == checked:
        what = (f"holds none of the {checked} output(s) of this commit's dvc.lock: it holds another dvc.lock's "
                f"outputs, or this commit's were never pushed. Missing: {shown}")
    else:
        what = f"lacks {len(missing)} of the {checked} output(s) of this commit's dvc.lock: {shown}"
    fix = (f"in the clone that computed this commit, `dvc push -r {name}`; or check out the commit whose dvc.lock "
           f"the remote holds; or recompute here: dvc repro {' '.join(stages[:6])}{' ...' if len(stages) > 6 else ''} "
           f"(a `dvc pull` would fail on these, and the stages would otherwise re-run)")
    return [Problem(f"remote {name!r} ({url})", what, fix)]


# ---------------------------------------------------------------------------- CLI


def _cmd_setup(args: argparse.Namespace) -> int:
    s = Setup(cache=args.cache, cache_type=args.cache_type, group=args.group, remote=args.remote,
              remote_name=args.remote_name, user=args.user, keyfile=args.keyfile, ask_password=args.ask_password,
              profile=args.profile, endpoint_url=args.endpoint_url)
    for note in setup(args.repo, s):
        print("note: " + note)
    print("done: `filmscore lab check` verifies it")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    lines, probs = diagnose(args.repo, args.remote)
    for line in lines:
        print(line)
    if probs:
        raise FilmscoreError(probs, headline=f"lab set-up of {find_repo(args.repo)}: {len(probs)} problem(s)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("lab", help="set up and check a lab's shared DVC cache and remote",
                       description="A lab's shared DVC cache and remote (docs/lab.md).")
    lab = p.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    s = lab.add_parser("setup", help="configure the shared cache and/or remote of this clone (prints each dvc command)",
                       description="Per-machine settings go to .dvc/config.local (never committed); a new remote's URL "
                       "goes to .dvc/config, to be committed once for the lab.")
    s.add_argument("--cache", metavar="DIR", help="shared cache folder (must exist: a shared drive or a local disk)")
    s.add_argument("--cache-type", default="auto", choices=list(CACHE_TYPES),
                   help="how outputs link to the cache (auto: reflink, else symlink; see docs/lab.md)")
    s.add_argument("--group", help="Unix group of the lab: the cache (and a folder remote) become group-writable")
    s.add_argument("--remote", metavar="URL", help="remote: a folder on a shared drive, ssh://host[:port]/path, s3://bucket/path, ...")
    s.add_argument("--remote-name", default="lab", help="name of the remote (default: lab)")
    s.add_argument("--user", help="SSH user for this machine (stored in .dvc/config.local)")
    s.add_argument("--keyfile", help="SSH private key for this machine (stored in .dvc/config.local)")
    s.add_argument("--ask-password", action="store_true", help="ask for the SSH password at each push/pull")
    s.add_argument("--profile", help="AWS profile holding the S3 credentials (stored in .dvc/config.local)")
    s.add_argument("--endpoint-url", help="S3-compatible endpoint (MinIO, Ceph): shared by the lab")
    s.add_argument("--repo", default=".", help="the clone to configure (default: here)")
    s.set_defaults(func=_cmd_setup)
    c = lab.add_parser("check", help="diagnose the cache and remotes: reachable, writable, credentials kept local",
                       description="Exit status 2 with every problem and its fix when something is wrong.")
    c.add_argument("-r", "--remote", help="check only this remote (default: all)")
    c.add_argument("--repo", default=".", help="the clone to check (default: here)")
    c.set_defaults(func=_cmd_check)
