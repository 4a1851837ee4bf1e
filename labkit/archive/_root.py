"""A directory whose names are resolved inside it, and never through a symlink by the kernel.

This is the safety half of unpacking (reference.md, "Unpacking safely"), the rule that
Go's ``securejoin`` and containerd's ``fs.RootPath`` implement: a name is resolved here,
component by component; ``..`` stops at the root; a symlink met on the way is
*re-rooted* — an absolute target starts again at the root, a relative one goes on
from where it is — so no name, however it is written, leads outside. Then the kernel
is only ever given a directory descriptor opened one ``O_NOFOLLOW`` step at a time
and a single final name: if anything swapped a symlink in meanwhile, the call fails
instead of following it.
"""

from __future__ import annotations

import os
import shutil
import stat

from ..errors import InvalidArgument

__all__ = ["Root", "DIR_FLAGS", "split", "lstat"]

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_SYMLINKS = 40  # as the kernel's own limit (path_resolution(7))


def split(name: str) -> list[str]:
    """The components of a tar name, without empty ones and ``.``."""
    return [part for part in name.split("/") if part not in ("", ".")]


def lstat(name: str, dir_fd: int) -> os.stat_result | None:
    """``lstat`` of one name in a directory, or None if there is nothing by that name."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


class Root:
    """Resolve names and open directories inside ``path``; the last directory opened is kept open."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, DIR_FLAGS)
        self._cached: tuple[tuple[str, ...], int] | None = None

    def close(self) -> None:
        self.forget()
        os.close(self.fd)

    def resolve(self, parts: list[str], create: bool) -> tuple[str, ...] | None:
        """The real directory named by ``parts``: its components under the root, none a symlink.

        A missing directory is made (``make_dir``) when ``create``; otherwise the answer is None.
        """
        todo, done, links = list(reversed(parts)), list[str](), 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                done = done[:-1]  # never above the root
                continue
            path = os.path.join(self.path, *done, part)  # every component of ``done`` is a real directory
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                if not create:
                    return None
                self.make_dir(tuple(done), part)
                st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > _MAX_SYMLINKS:
                    raise InvalidArgument(f"too many levels of symbolic links in {'/'.join(parts)!r}")
                link = os.readlink(path)
                done = [] if link.startswith("/") else done  # re-rooted: "/" is the root, not the host's
                todo.extend(reversed(link.split("/")))
            elif stat.S_ISDIR(st.st_mode):
                done.append(part)
            else:
                raise InvalidArgument(f"{'/'.join(parts)!r}: {part!r} is not a directory")
        return tuple(done)

    def make_dir(self, parent: tuple[str, ...], name: str) -> None:
        """Make a directory that a name needs but the archive does not list: 0755, as containerd does."""
        os.mkdir(name, 0o755, dir_fd=self.open_dir(parent))

    def open_dir(self, parts: tuple[str, ...]) -> int:
        """A descriptor for a resolved directory, kept open for the next call (entries come grouped)."""
        if self._cached and self._cached[0] == parts:
            return self._cached[1]
        self.forget()
        self._cached = (parts, self.walk(parts))
        return self._cached[1]

    def walk(self, parts: tuple[str, ...], start: str | None = None) -> int:
        """A new descriptor for ``parts`` under the root (or under ``start``), opened step by step."""
        fd = os.dup(self.fd) if start is None else os.open(start, DIR_FLAGS)
        try:
            for part in parts:
                next_fd = os.open(part, DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = next_fd
        except OSError:
            os.close(fd)
            raise
        return fd

    def forget(self) -> None:
        """Close the kept directory (after a removal that may have taken it away)."""
        if self._cached:
            os.close(self._cached[1])
            self._cached = None

    def remove(self, fd: int, name: str, st: os.stat_result) -> None:
        """Delete one name in a directory; a directory goes with all it holds (fd-relative, never followed)."""
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=fd)
            if self._cached and self._cached[1] != fd:
                self.forget()  # the kept directory may have been inside it
        else:
            os.unlink(name, dir_fd=fd)
