"""The OCI rules for applying one layer's entries to a root (image spec, layer.md, "Changesets").

An entry for a directory over a directory keeps it and replaces its attributes; any
other entry first removes what is there, then creates. ``.wh.NAME`` deletes NAME and
``.wh..wh..opq`` hides the lower contents of its directory — or, into an overlayfs
upper directory, both are written in overlay's own form instead. Names are resolved
by ``Root``; this module never hands the kernel a path it could follow out.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from pathlib import Path

from ..errors import InvalidArgument
from ._bound import Bound
from ._root import Root, lstat, split

__all__ = ["Applier", "WHITEOUT_PREFIX", "OPAQUE"]

#: ``.wh.NAME`` deletes NAME from the layers below (layer.md, "Whiteouts").
WHITEOUT_PREFIX = ".wh."
#: ``.wh..wh..opq`` hides everything lower layers put in its directory (layer.md, "Opaque Whiteout").
OPAQUE = ".wh..wh..opq"

_BUFFER = 1 << 20
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _in_user_namespace() -> bool:
    """Whether this process runs in a user namespace (its uid map is not the identity of the host)."""
    return Path("/proc/self/uid_map").read_text().split() != ["0", "0", "4294967295"]


class Applier(Root):
    """One layer being applied: the root, the lower layers (overlay only), and what this layer wrote."""

    def __init__(self, target: Path, lowers: list[Path] | None, bound: Bound) -> None:
        super().__init__(str(target))
        self.bound = bound
        self.file_bytes = 0  # bytes of regular files this layer wrote: held to ``bound``
        self.overlay = lowers is not None
        self.lowers = [str(lower) for lower in lowers or []]
        self.is_root = os.geteuid() == 0
        self.can_mknod = self.is_root and not _in_user_namespace()  # device nodes: never in a user namespace
        self.written: set[tuple[str, ...]] = set()  # paths this layer made: an opaque whiteout keeps them
        self.dir_times: list[tuple[tuple[str, ...], str, int]] = []  # set last: children change a dir's mtime

    def finish(self) -> None:
        """Set the directories' times, now that nothing more is created in them."""
        for parent, leaf, mtime in self.dir_times:
            try:
                os.utime(leaf, ns=(mtime, mtime), dir_fd=self.open_dir(parent), follow_symlinks=False)
            except OSError:  # a later entry of this layer removed or replaced it (or a directory above it)
                pass

    def apply(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        """Apply one tar entry (an ``OSError`` on the way means the archive cannot be applied here)."""
        *dirs, leaf = split(member.name) or ["."]
        if leaf == "..":
            raise InvalidArgument(f"layer entry {member.name!r} names a parent directory")
        if leaf == "." and not member.isdir():
            raise InvalidArgument(f"layer entry {member.name!r} would replace the root directory")
        try:
            if leaf.startswith(WHITEOUT_PREFIX):
                self.whiteout(dirs, leaf.removeprefix(WHITEOUT_PREFIX), member)
                return
            parent = self.resolve(dirs, create=True)
            assert parent is not None
            self.written.add((*parent, leaf))
            if member.islnk():
                self.hardlink(parent, leaf, member)
                return
            fd = self.open_dir(parent)
            existing = lstat(leaf, fd)
            if existing and not (stat.S_ISDIR(existing.st_mode) and member.isdir()):
                self.remove(fd, leaf, existing)
            if self.create(fd, leaf, member, tar):
                self.set_attributes(fd, parent, leaf, member)
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise  # the disk, not the archive: apply_layer says so, naming the layer
            raise InvalidArgument(f"cannot apply layer entry {member.name!r}: {err.strerror}") from None

    def create(self, fd: int, leaf: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> bool:
        """Make what an entry describes; False when it is skipped (a device node we may not make)."""
        if member.isdir():
            if leaf != "." and lstat(leaf, fd) is None:
                os.mkdir(leaf, 0o700, dir_fd=fd)
        elif member.isreg():
            self.charge(member.size)  # by what the header declares: a sparse terabyte is refused before a byte
            with open(os.open(leaf, _NEW_FILE, 0o600, dir_fd=fd), "wb", buffering=0) as out:
                source = tar.extractfile(member)
                assert source is not None, "a regular member has contents"
                shutil.copyfileobj(source, out, _BUFFER)
        elif member.issym():
            os.symlink(member.linkname, leaf, dir_fd=fd)  # stored verbatim: a symlink is only dangerous when followed
        elif member.isfifo():
            os.mkfifo(leaf, 0o600, dir_fd=fd)
        elif member.ischr() or member.isblk():
            if not self.can_mknod:
                return False
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(leaf, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=fd)
        else:
            raise InvalidArgument(f"layer entry {member.name!r} has an unsupported type {member.type!r}")
        return True

    def charge(self, size: int) -> None:
        """Count ``size`` more bytes of files against the layer's expansion bound (``_bound``)."""
        self.file_bytes += size
        self.bound.check(self.file_bytes, "files")

    def set_attributes(self, fd: int, parent: tuple[str, ...], leaf: str, member: tarfile.TarInfo) -> None:
        """Owner, mode (setuid included: chmod after chown, which clears it), xattrs and times."""
        if self.is_root:
            os.chown(leaf, member.uid, member.gid, dir_fd=fd, follow_symlinks=False)
        if not member.issym():  # a symlink has no mode of its own on Linux
            os.chmod(leaf, member.mode & 0o7777, dir_fd=fd, follow_symlinks=False)
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                try:
                    os.setxattr(f"/proc/self/fd/{fd}/{leaf}", key.removeprefix("SCHILY.xattr."),
                                value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
                except OSError as err:  # as containerd and Docker do: a filesystem or a user that cannot keep
                    if err.errno not in (errno.ENOTSUP, errno.EPERM):  # trusted.* or security.* goes on without
                        raise
        mtime = int(member.mtime * 1_000_000_000)
        if member.isdir():
            self.dir_times.append((parent, leaf, mtime))
        else:
            os.utime(leaf, ns=(mtime, mtime), dir_fd=fd, follow_symlinks=False)

    def hardlink(self, parent: tuple[str, ...], leaf: str, member: tarfile.TarInfo) -> None:
        """A hard link to a file already in the root; its target is resolved inside the root too."""
        *dirs, target_leaf = split(member.linkname) or [".."]
        target_parent = self.resolve(dirs, create=self.overlay)  # in overlay, the directory may be a lower one
        missing = InvalidArgument(f"hardlink {member.name!r} -> {member.linkname!r}: no such file in the root")
        if target_leaf == ".." or target_parent is None:
            raise missing
        target_fd = self.walk(target_parent)
        try:
            if lstat(target_leaf, target_fd) is None:
                self.copy_up(target_fd, target_parent, target_leaf)
            if (target := lstat(target_leaf, target_fd)) is None:
                raise missing
            fd = self.open_dir(parent)
            if (existing := lstat(leaf, fd)) is not None:
                if os.path.samestat(existing, target):
                    return
                self.remove(fd, leaf, existing)
            os.link(target_leaf, leaf, src_dir_fd=target_fd, dst_dir_fd=fd, follow_symlinks=False)
        finally:
            os.close(target_fd)

    # -- overlay: this layer only holds its own files; the lower ones are read-only ----------
    def copy_up(self, fd: int, parent: tuple[str, ...], leaf: str) -> None:
        """Copy a lower layer's regular file into this layer, for a hardlink to it (containerd's WithParents)."""
        for lower in self.lowers:
            try:
                lower_fd = self.walk(parent, start=lower)
            except OSError:  # not a directory in that layer
                continue
            try:
                src = os.open(leaf, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=lower_fd)
            except OSError:
                continue
            finally:
                os.close(lower_fd)
            with open(src, "rb") as reader:
                st = os.fstat(src)
                if not stat.S_ISREG(st.st_mode):
                    return
                self.charge(st.st_size)
                with open(os.open(leaf, _NEW_FILE, 0o600, dir_fd=fd), "wb", buffering=0) as writer:
                    shutil.copyfileobj(reader, writer, _BUFFER)
                    if self.is_root:
                        os.fchown(writer.fileno(), st.st_uid, st.st_gid)
                    os.fchmod(writer.fileno(), stat.S_IMODE(st.st_mode))
                    os.utime(writer.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))
            return

    def make_dir(self, parent: tuple[str, ...], name: str) -> None:
        """As ``Root.make_dir``; in an overlay upper, with the lower directory's owner and mode, not to mask them."""
        super().make_dir(parent, name)
        for lower in self.lowers:
            try:
                lower_fd = self.walk((*parent, name), start=lower)
            except OSError:  # not a directory in that layer
                continue
            st = os.fstat(lower_fd)
            os.close(lower_fd)
            fd = self.open_dir(parent)
            if self.is_root:
                os.chown(name, st.st_uid, st.st_gid, dir_fd=fd, follow_symlinks=False)
            os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=fd, follow_symlinks=False)
            return

    # -- whiteouts --------------------------------------------------------------------------
    def whiteout(self, dirs: list[str], name: str, member: tarfile.TarInfo) -> None:
        """``.wh.NAME``: delete NAME below, or (overlay) mark it deleted with a 0/0 character device."""
        if name in ("", ".", ".."):
            raise InvalidArgument(f"whiteout {member.name!r} would leave its directory")
        if name.startswith(WHITEOUT_PREFIX) and WHITEOUT_PREFIX + name != OPAQUE:
            return  # other .wh..wh. names are AUFS bookkeeping (layer.md): ignored
        parent = self.resolve(dirs, create=self.overlay)
        if parent is None:  # the directory is not there: nothing below to delete
            return
        fd = self.open_dir(parent)
        if WHITEOUT_PREFIX + name == OPAQUE:
            self.opaque(fd, parent)
            return
        if (existing := lstat(name, fd)) is not None:
            self.remove(fd, name, existing)
        if self.overlay:
            os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=fd)

    def opaque(self, fd: int, parent: tuple[str, ...]) -> None:
        """``.wh..wh..opq``: hide what lower layers put here, keep what this layer wrote (before or after)."""
        if self.overlay:
            os.setxattr(fd, "trusted.overlay.opaque", b"y")
            return
        for child in os.listdir(fd):
            if (*parent, child) not in self.written and (st := lstat(child, fd)) is not None:
                self.remove(fd, child, st)
