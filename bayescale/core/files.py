"""Writing files safely: refuse unwritable paths early, write through a temporary name."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bayescale.errors import OutputError


def check_writable(path, what: str = "") -> Path:
    """Refuse early an output path that cannot be written: a missing or read-only folder, a folder.

    The folder is tried with a probe file (removed at once), so special file systems such as
    ``/proc`` and running as root are judged by what the system does, not by permission bits.
    ``what`` names the output in the message (``cannot write plot '/proc/f.png': ...``).
    """
    path = Path(path)
    name = f"{what} {str(path)!r}" if what else repr(str(path))
    folder = path.parent

    def refuse(reason: str):
        raise OutputError(f"cannot write {name}: {reason}")

    if path.is_dir():
        refuse("it is a folder")
    if not folder.is_dir():
        refuse(f"{str(folder)!r} is not a folder" if folder.exists() else f"folder {str(folder)!r} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        refuse(f"folder {str(folder)!r} does not accept new files ({exc.strerror or exc})")
    os.close(fd)
    os.unlink(probe)
    return path


def atomic_write(path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``; remove the temp file on failure."""
    path = check_writable(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
