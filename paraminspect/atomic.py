"""Every file paraminspect writes for the user (`-o`, `--mapping`, `check --fix`, the result
cache) is written here, all or nothing: the new content goes to a temporary file in the same
folder, is flushed to disk, and is renamed over the old file. A full disk, a killed process
or an error while rendering leaves the old file as it was (and no temporary file behind).

- The new file gets the old one's permission bits and, where the process may set them, its
  owner and group; a new file gets the usual `0666 & ~umask`.
- A path that is a symbolic link is written at the link's target (the link stays a link);
  `follow_symlinks=False` (the cache's own files) refuses a link instead.
- A path that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) has no
  "all or nothing": it is opened and written as a stream.
- A file with no write permission bit at all is refused (renaming over it would succeed
  where `open(path, "w")` fails, and ignore what the read-only mark says).
- `expected`: the bytes the caller read earlier; when the file holds something else by the
  time the new content is ready (edited meanwhile), nothing is replaced (FileChanged).
- Replacing the file gives it a new inode: other hard links keep the old content.

Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from typing import IO


class WriteRefused(OSError):
    """A path the caller must not write (a link where none may be, a read-only file); its
    message is the whole reason."""


class FileChanged(OSError):
    """The file no longer holds what the caller read (`expected`): it was left as it is."""


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it the only portable way, and put it back
    os.umask(mask)
    return mask


def target_of(path: str | os.PathLike[str], follow_symlinks: bool = True) -> str:
    """The path that will be replaced: `path`, or the file its symbolic links lead to."""
    name = os.fspath(path)
    try:
        is_link = stat.S_ISLNK(os.lstat(name).st_mode)
    except OSError:
        return name
    if not is_link:
        return name
    if not follow_symlinks:
        raise WriteRefused(errno.ELOOP, f"{name} is a symbolic link: refused")
    return os.path.realpath(name)


def read_bytes(path: str | os.PathLike[str], limit: int | None = None, follow_symlinks: bool = True) -> bytes:
    """The content of a regular file, without ever blocking (a FIFO) or reading without end
    (`/dev/zero`): anything that is not a regular file, or is larger than `limit`, raises
    OSError."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(os.fspath(path), flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"{os.fspath(path)} is not a regular file")
        if limit is not None and st.st_size > limit:
            raise OSError(errno.EFBIG, f"{os.fspath(path)} is larger than {limit:,} bytes")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if limit is not None and total > limit:  # grew since the fstat
                raise OSError(errno.EFBIG, f"{os.fspath(path)} is larger than {limit:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _refuse_read_only(name: str, st: os.stat_result) -> None:
    if stat.S_ISREG(st.st_mode) and not st.st_mode & 0o222:
        raise WriteRefused(errno.EACCES, f"{name} is read-only (no write permission): refused")


@contextlib.contextmanager
def atomic_binary(
    path: str | os.PathLike[str], follow_symlinks: bool = True, expected: bytes | None = None
) -> Iterator[IO[bytes]]:
    """A binary stream whose content replaces `path` when the block ends without an
    exception (see the module docstring); on an exception `path` is untouched."""
    target = target_of(path, follow_symlinks)
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        if expected is not None or not follow_symlinks:
            raise WriteRefused(errno.EINVAL, f"{target} is not a regular file: refused")
        with open(target, "wb") as stream:  # a device or a pipe: written as a stream
            yield stream
        return
    if old is not None:
        _refuse_read_only(target, old)
    folder, base = os.path.split(os.path.abspath(target))
    with _Folder(folder, follow_symlinks) as where:
        tmp, fd = where.create_temporary(base)
        try:
            with os.fdopen(fd, "wb") as stream:
                yield stream
                stream.flush()
                _copy_metadata(stream.fileno(), old)
                os.fsync(stream.fileno())
            if expected is not None and _current(target) != expected:
                raise FileChanged(errno.EAGAIN, f"{target} changed while paraminspect worked on it: left as it is")
            if not follow_symlinks and where.is_link(base):
                raise WriteRefused(errno.ELOOP, f"{target} is a symbolic link: refused")
            where.replace(tmp, base)
        except BaseException:
            where.remove(tmp)
            raise
        where.sync()


class _Folder:
    """A folder, held open (where the platform allows it) so that a temporary file is made,
    renamed and removed in this very folder, even if its path is changed meanwhile;
    `follow_symlinks=False`: a folder that is a symbolic link is refused."""

    def __init__(self, path: str, follow_symlinks: bool) -> None:
        self.path, self.fd = path, None
        self.follow = follow_symlinks

    def __enter__(self) -> _Folder:
        if os.open in os.supports_dir_fd and os.replace in os.supports_dir_fd:
            flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
            if not self.follow:
                flags |= getattr(os, "O_NOFOLLOW", 0)
            self.fd = os.open(self.path, flags)
        elif not self.follow and os.path.islink(self.path):
            raise WriteRefused(errno.ELOOP, f"{self.path} is a symbolic link: refused")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)

    def _name(self, name: str) -> str:
        return name if self.fd is not None else os.path.join(self.path, name)

    def create_temporary(self, base: str) -> tuple[str, int]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        for _ in range(100):
            name = f".{base}.{secrets.token_hex(4)}.tmp"
            try:
                return name, os.open(self._name(name), flags, 0o600, dir_fd=self.fd)
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, f"no temporary file could be made in {self.path}")

    def is_link(self, name: str) -> bool:
        try:
            return stat.S_ISLNK(os.stat(self._name(name), dir_fd=self.fd, follow_symlinks=False).st_mode)
        except OSError:
            return False

    def replace(self, tmp: str, name: str) -> None:
        os.replace(self._name(tmp), self._name(name), src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def remove(self, tmp: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._name(tmp), dir_fd=self.fd)

    def sync(self) -> None:
        """The rename itself on disk."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self.fd)


def _current(target: str) -> bytes | None:
    try:
        return read_bytes(target)
    except OSError:
        return None


def _copy_metadata(fd: int, old: os.stat_result | None) -> None:
    """The old file's permission bits and owner (a new file: 0666 & ~umask)."""
    mode = stat.S_IMODE(old.st_mode) if old is not None else 0o666 & ~_umask()
    os.fchmod(fd, mode)
    if old is not None and hasattr(os, "fchown"):
        with contextlib.suppress(OSError):  # only root (or the owner, for a group it is in) may
            os.fchown(fd, old.st_uid, old.st_gid)
        with contextlib.suppress(OSError):  # chown clears set-id bits: set them again
            os.fchmod(fd, mode)


@contextlib.contextmanager
def atomic_text(
    path: str | os.PathLike[str], encoding: str = "utf-8", newline: str | None = None, follow_symlinks: bool = True
) -> Iterator[IO[str]]:
    """atomic_binary as a text stream."""
    import io

    with atomic_binary(path, follow_symlinks) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline=newline, write_through=True)
        try:
            yield text
            text.flush()
        finally:
            text.detach()


def write_bytes(
    path: str | os.PathLike[str], data: bytes, follow_symlinks: bool = True, expected: bytes | None = None
) -> None:
    """Replace `path` with `data`, all or nothing."""
    with atomic_binary(path, follow_symlinks, expected) as stream:
        stream.write(data)


def write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8", follow_symlinks: bool = True) -> None:
    write_bytes(path, text.encode(encoding), follow_symlinks)


def describe(exc: BaseException) -> str:
    """Why a write failed, in a few words."""
    if isinstance(exc, (WriteRefused, FileChanged)):
        return str(exc.strerror)
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    return str(exc)


__all__ = [
    "FileChanged",
    "WriteRefused",
    "atomic_binary",
    "atomic_text",
    "describe",
    "read_bytes",
    "target_of",
    "write_bytes",
    "write_text",
]
