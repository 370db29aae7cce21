"""Broker files the broker's own user can read, rewritten without losing that.

Why: Mosquitto started as root (Debian's ``mosquitto.service``) drops to its
user (``user mosquitto`` in the generated config) *before* it reads the
password file and the ACL. A file written root-only 0600 makes it fail with
"Unable to open pwfile", and a rewrite that resets owner or mode after an
operator fixed them by hand locks every client out at the next reload. So:
a new file is ``<us>:<broker user's group>`` with mode 0640; an existing
file keeps its owner, group and mode across every atomic rewrite.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

#: the user Debian's mosquitto package creates and the broker drops to
DEFAULT_BROKER_USER = "mosquitto"


def broker_ids(user: str | None) -> tuple[int, int] | None:
    """(uid, gid) of ``user``, None when not given or unknown on this host."""
    if not user:
        return None
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


def write_broker_file(path: Path, text: str, *, user: str | None = None, mode: int = 0o640) -> None:
    """Replace ``path`` atomically. An existing file keeps owner, group and
    mode; a new one gets group ``user``'s primary group and ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    uid, gid = -1, -1
    try:
        st = path.stat()
        mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    except FileNotFoundError:
        ids = broker_ids(user)
        # only root, or a member of the broker's group, may hand the file to it
        if ids is not None and (os.geteuid() == 0 or ids[1] in os.getgroups()):
            gid = ids[1]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            if (uid, gid) != (-1, -1) and (uid, gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(f.fileno(), uid, gid)
                except PermissionError:
                    log.warning("cannot keep owner %s:%s of %s (not root): the broker's user may "
                                "no longer read it", uid, gid, path)
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _allows(st: os.stat_result, uid: int, gids: set[int], bits: int) -> bool:
    """Whether ``uid`` (in ``gids``) has ``bits`` (octal 4/2/1) on a file with ``st``."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool((st.st_mode >> 6) & bits == bits)
    if st.st_gid in gids:
        return bool((st.st_mode >> 3) & bits == bits)
    return bool(st.st_mode & bits == bits)


def unreadable_by(user: str, paths: list[Path]) -> list[Path]:
    """The paths ``user`` cannot read (a folder on the way it cannot enter,
    or the file itself). Unknown user: none can be checked, none returned."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return []
    gids = set(os.getgrouplist(user, pw.pw_gid))
    bad = []
    for p in paths:
        p = Path(p).absolute()
        try:
            ok = all(_allows(d.stat(), pw.pw_uid, gids, 1) for d in reversed(p.parents))
            ok = ok and _allows(p.stat(), pw.pw_uid, gids, 4)
        except OSError:
            ok = False
        if not ok:
            bad.append(p)
    return bad


def broker_tempdir(prefix: str = "siaga-broker-", user: str = DEFAULT_BROKER_USER) -> Path:
    """A new folder under the system temp dir that the broker's ``user`` can
    enter and read (root:<its group> 0750 when we are root), for the test
    suite, the benches and the demo: pytest's own tmp folders are 0700."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    ids = broker_ids(user)
    if os.geteuid() == 0 and ids is not None:
        os.chown(d, 0, ids[1])
        d.chmod(0o750)
    return d
