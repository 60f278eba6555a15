"""Read a definition file named by a user: a regular file, at most ``max_bytes``, never a hang.

A size check on ``stat()`` alone is not enough: ``/dev/zero`` and ``/dev/urandom`` report size
0 and never end, a FIFO blocks the ``open`` until a writer comes (forever, in a server's
start-up), and a file can grow or be swapped after it was checked. So the path is resolved
and checked to be a regular file before it is opened, it is opened non-blocking, checked
again through the open descriptor, and read ``max_bytes + 1`` bytes at most.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pystator.errors import ConfigurationError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_CHUNK = 1 << 16


def _not_regular(path: Path, mode: int) -> ConfigurationError:
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return ConfigurationError(
        f"{path} is {kind}, not a definition file (only regular files are read)",
        source=str(path),
    )


def _cannot_read(path: Path, exc: OSError) -> ConfigurationError:
    if isinstance(exc, FileNotFoundError):
        return ConfigurationError(f"file not found: {path}")
    return ConfigurationError(f"cannot read {path}: {exc.strerror or exc}", source=str(path))


def read_limited(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of the regular file at ``path`` (symbolic links followed), refusing anything
    else and anything over ``max_bytes`` with a ``ConfigurationError``."""
    p = Path(path)
    try:
        # ``os.stat`` follows links: a link to /dev/zero is refused as the device it is,
        # before any ``open`` that could block.
        mode = os.stat(p).st_mode
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        if isinstance(exc, ValueError):
            raise ConfigurationError(f"cannot read {p}: invalid file name") from None
        raise _cannot_read(p, exc) from None
    if not stat.S_ISREG(mode):
        raise _not_regular(p, mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(p, flags)
    except OSError as exc:
        raise _cannot_read(p, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped between the two checks
            raise _not_regular(p, info.st_mode)
        if info.st_size > max_bytes:
            raise ConfigurationError(
                f"{p} is {info.st_size} bytes, over the limit of {max_bytes} bytes",
                source=str(p),
            )
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise _cannot_read(p, exc) from None
    finally:
        os.close(fd)
    if left <= 0:  # it grew past the limit after it was checked
        raise ConfigurationError(
            f"{p} is larger than the limit of {max_bytes} bytes", source=str(p)
        )
    return b"".join(chunks)


def read_text(path: str | os.PathLike[str], max_bytes: int) -> str:
    """``read_limited``, decoded as UTF-8."""
    data = read_limited(path, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path} is not UTF-8 text", source=str(path)) from None
