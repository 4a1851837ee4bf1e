"""Apply one layer tar to a directory, safely, with the OCI rules.

A layer is a tar of *changes* (OCI image spec, layer.md, "Change Types"): entries add
or replace paths, and whiteouts delete what lower layers made. Applying it is where
container tools have had their worst bugs (CVE-2018-15664, CVE-2019-14271,
CVE-2021-30465, CVE-2024-21626 among them), so this module follows a few rules
strictly (reference.md, "Unpacking safely"):

* Every entry's parent directory is resolved here, component by component, inside
  the root. A symlink met on the way is re-rooted: an absolute target starts again at
  the root and ``..`` stops at the root, so no name can leave it.
* The kernel never follows a symlink for us: files are created with ``O_EXCL |
  O_NOFOLLOW`` relative to a directory descriptor opened with ``O_NOFOLLOW``, and
  ``chown``/``chmod``/``utime`` are the ``AT_SYMLINK_NOFOLLOW`` variants.
* Symlinks are stored verbatim (they only hurt when followed); hardlink targets are
  resolved inside the root like any other name.
* Device nodes are created only by real root, never inside a user namespace.

While the tar streams through, its bytes are hashed: the sha256 of the uncompressed
tar is the layer's DiffID (image spec, config.md, ``rootfs.diff_ids``), checked
against the one the image config promised.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import tarfile
import zlib
from pathlib import Path
from typing import BinaryIO

import zstandard

from .errors import DataCorrupted, InvalidArgument

__all__ = ["LAYER_MEDIA_TYPES", "WHITEOUT_PREFIX", "OPAQUE", "open_layer", "apply_layer"]

#: layer media type -> compression (image spec, media-types.md; Docker's image manifest v2 schema 2)
LAYER_MEDIA_TYPES: dict[str, str | None] = {
    "application/vnd.oci.image.layer.v1.tar": None,
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
}
#: ``.wh.NAME`` deletes NAME from the layers below (layer.md, "Whiteouts").
WHITEOUT_PREFIX = ".wh."
#: ``.wh..wh..opq`` hides everything lower layers put in its directory (layer.md, "Opaque Whiteout").
OPAQUE = ".wh..wh..opq"

_BUFFER = 1 << 20  # read and write a megabyte at a time: a layer is streamed, never held in memory
_MAX_SYMLINKS = 40  # as the kernel's own limit (path_resolution(7))
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, zstandard.ZstdError)


def open_layer(blob: Path, media_type: str) -> BinaryIO:
    """The uncompressed tar stream of a layer blob, read lazily from the file."""
    if media_type not in LAYER_MEDIA_TYPES:
        raise InvalidArgument(f"unsupported layer media type {media_type!r}")
    compression = LAYER_MEDIA_TYPES[media_type]
    raw = open(blob, "rb", buffering=_BUFFER)
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(raw, read_size=_BUFFER)  # type: ignore[return-value]
    return raw


class _Digester:
    """A reader that hashes every byte that passes through it."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._sha.update(data)
        return data

    def digest(self) -> str:
        """The digest of the whole stream: whatever tarfile left unread (end padding) is read first."""
        while self.read(_BUFFER):
            pass
        return "sha256:" + self._sha.hexdigest()


def apply_layer(target: Path, blob: Path, media_type: str, diff_id: str | None = None, *,
                lowers: list[Path] | None = None) -> str:
    """Apply the layer in ``blob`` to the directory ``target`` and return its DiffID.

    With ``lowers`` (the directories of the layers below, nearest first; maybe none)
    the target is an overlayfs upper directory: whiteouts are not carried out but
    written in overlay's own form (a 0/0 character device for ``.wh.NAME``, the
    ``trusted.overlay.opaque=y`` xattr for an opaque directory; kernel docs,
    filesystems/overlayfs.rst, "whiteouts and opaque directories"), and a hardlink to
    a lower layer's file first copies that file up (containerd, archive ``WithParents``).
    Raises InvalidArgument for a malformed or hostile archive and DataCorrupted when
    the DiffID is not ``diff_id``.
    """
    with open_layer(blob, media_type) as stream:
        digester = _Digester(stream)
        with _Applier(target, lowers) as applier:
            try:
                with tarfile.open(fileobj=digester, mode="r|", bufsize=_BUFFER) as tar:  # type: ignore[call-overload]
                    for member in tar:
                        applier.apply(member, tar)
                actual = digester.digest()
            except _READ_ERRORS as err:
                raise InvalidArgument(f"layer {blob.name} is not a valid {media_type} archive: {err}") from None
    if diff_id is not None and actual != diff_id:
        raise DataCorrupted(f"layer {blob.name} has DiffID {actual}, the image config says {diff_id}")
    return actual


def _in_user_namespace() -> bool:
    """Whether this process runs in a user namespace (its uid map is not the identity of the host)."""
    return Path("/proc/self/uid_map").read_text().split() != ["0", "0", "4294967295"]


class _Applier:
    """The state of one layer application: the root descriptor and what this layer wrote."""

    def __init__(self, target: Path, lowers: list[Path] | None) -> None:
        self.root = str(target)
        self.overlay = lowers is not None
        self.lowers = lowers or []
        self.is_root = os.geteuid() == 0
        self.can_mknod = self.is_root and not _in_user_namespace()
        self.root_fd = os.open(self.root, _DIR_FLAGS)
        self.written: set[tuple[str, ...]] = set()  # paths this layer made: an opaque whiteout keeps them
        self.dir_times: list[tuple[tuple[str, ...], str, int]] = []  # set last: children change a dir's mtime
        self._cached: tuple[tuple[str, ...], int] | None = None  # the last parent directory opened

    def __enter__(self) -> _Applier:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            for parent, leaf, mtime in self.dir_times:
                self._set_time(parent, leaf, mtime)
        self._forget()
        os.close(self.root_fd)

    # -- names -------------------------------------------------------------------------
    def resolve(self, parts: list[str], create: bool) -> tuple[str, ...] | None:
        """The real directory named by ``parts``, as components under the root, no symlink among them.

        Symlinks are re-rooted (securejoin's rule): an absolute target restarts at the
        root, ``..`` never goes above it. A missing directory is made (0755, as
        containerd does) when ``create``, else the answer is None.
        """
        todo, done, links = list(reversed(parts)), [], 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                done = done[:-1]
                continue
            try:
                st = os.lstat(os.path.join(self.root, *done, part))
            except FileNotFoundError:
                if not create:
                    return None
                self.make_dir(tuple(done), part)
                st = os.lstat(os.path.join(self.root, *done, part))
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > _MAX_SYMLINKS:
                    raise InvalidArgument(f"too many levels of symbolic links in {'/'.join(parts)!r}")
                link = os.readlink(os.path.join(self.root, *done, part))
                done = [] if link.startswith("/") else done
                todo.extend(reversed(link.split("/")))
            elif stat.S_ISDIR(st.st_mode):
                done.append(part)
            else:
                raise InvalidArgument(f"{'/'.join(parts)!r}: {part!r} is not a directory")
        return tuple(done)

    def make_dir(self, parent: tuple[str, ...], name: str) -> None:
        """A directory a name needs but the layer does not list: 0755 (as containerd), or in an overlay
        upper a copy of the lower one's owner and mode, so as not to mask them (overlayfs's copy-up)."""
        fd = self.open_dir(parent)
        os.mkdir(name, 0o755, dir_fd=fd)
        for lower in self.lowers:
            try:
                lower_fd = self.walk(parent + (name,), str(lower))
            except OSError:  # not a directory in that layer
                continue
            st = os.fstat(lower_fd)
            os.close(lower_fd)
            if self.is_root:
                os.chown(name, st.st_uid, st.st_gid, dir_fd=fd, follow_symlinks=False)
            os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=fd, follow_symlinks=False)
            return

    def open_dir(self, parts: tuple[str, ...]) -> int:
        """A descriptor for a resolved directory; the last one is kept open for the next entry."""
        if self._cached and self._cached[0] == parts:
            return self._cached[1]
        self._forget()
        self._cached = (parts, self.walk(parts))
        return self._cached[1]

    def walk(self, parts: tuple[str, ...], root: str | None = None) -> int:
        """Open a resolved directory one ``O_NOFOLLOW`` step at a time: a symlink swapped in fails, never leads out."""
        fd = os.dup(self.root_fd) if root is None else os.open(root, _DIR_FLAGS)
        for part in parts:
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        return fd

    def _forget(self) -> None:
        if self._cached:
            os.close(self._cached[1])
            self._cached = None

    # -- entries -----------------------------------------------------------------------
    def apply(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        """Apply one tar entry: directory over directory keeps it, anything else replaces."""
        *dirs, leaf = _split(member.name) or ["."]
        if leaf == "..":
            raise InvalidArgument(f"layer entry {member.name!r} names a parent directory")
        try:
            if leaf.startswith(WHITEOUT_PREFIX):
                self.whiteout(dirs, leaf[len(WHITEOUT_PREFIX) :], member)
                return
            parent = self.resolve(dirs, create=True)
            assert parent is not None
            if leaf == "." and not member.isdir():
                raise InvalidArgument(f"layer entry {member.name!r} would replace the root directory")
            self.written.add(parent + (leaf,))
            fd = self.open_dir(parent)
            if member.islnk():
                self.hardlink(fd, leaf, member)
                return
            existing = _lstat(leaf, fd)
            if existing and not (stat.S_ISDIR(existing.st_mode) and member.isdir()):
                self.remove(fd, leaf, existing)
            if self.create(fd, leaf, member, tar):
                self.set_attributes(fd, parent, leaf, member)
        except OSError as err:
            raise InvalidArgument(f"cannot apply layer entry {member.name!r}: {err.strerror}") from None

    def create(self, fd: int, leaf: str, member: tarfile.TarInfo, tar: tarfile.TarFile) -> bool:
        """Make the file an entry describes; False when it is skipped (a device node we may not make)."""
        if member.isdir():
            if leaf != "." and _lstat(leaf, fd) is None:
                os.mkdir(leaf, 0o700, dir_fd=fd)
        elif member.isreg():
            out = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=fd)
            with open(out, "wb", buffering=0) as dst:
                shutil.copyfileobj(tar.extractfile(member), dst, _BUFFER)  # type: ignore[misc]
        elif member.issym():
            os.symlink(member.linkname, leaf, dir_fd=fd)
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

    def hardlink(self, fd: int, leaf: str, member: tarfile.TarInfo) -> None:
        """A hard link to a file already in the root; the target is resolved inside the root too."""
        *dirs, target_leaf = _split(member.linkname) or [".."]
        target_parent = self.resolve(dirs, create=self.overlay)  # in overlay, the directory may be a lower one
        if target_leaf == ".." or target_parent is None:
            raise InvalidArgument(f"hardlink {member.name!r} -> {member.linkname!r}: no such file in the root")
        target_fd = self.walk(target_parent)
        try:
            if _lstat(target_leaf, target_fd) is None:
                self.copy_up(target_fd, target_parent, target_leaf)
            if (target := _lstat(target_leaf, target_fd)) is None:
                raise InvalidArgument(f"hardlink {member.name!r} -> {member.linkname!r}: no such file in the root")
            if (existing := _lstat(leaf, fd)) is not None:
                if os.path.samestat(existing, target):
                    return
                self.remove(fd, leaf, existing)
            os.link(target_leaf, leaf, src_dir_fd=target_fd, dst_dir_fd=fd, follow_symlinks=False)
        finally:
            os.close(target_fd)

    def copy_up(self, fd: int, parent: tuple[str, ...], leaf: str) -> None:
        """Copy a lower layer's regular file into this (upper) layer, the way overlayfs copies up on write."""
        for lower in self.lowers:
            try:
                lower_fd = self.walk(parent, str(lower))
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
                out = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=fd)
                with open(out, "wb", buffering=0) as writer:
                    shutil.copyfileobj(reader, writer, _BUFFER)
                    if self.is_root:
                        os.fchown(out, st.st_uid, st.st_gid)
                    os.fchmod(out, stat.S_IMODE(st.st_mode))
                    os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
            return

    def set_attributes(self, fd: int, parent: tuple[str, ...], leaf: str, member: tarfile.TarInfo) -> None:
        """Owner, mode (setuid included: chmod after chown, which clears it), xattrs and times."""
        if self.is_root:
            os.chown(leaf, member.uid, member.gid, dir_fd=fd, follow_symlinks=False)
        if not member.issym():  # a symlink has no mode of its own on Linux
            os.chmod(leaf, member.mode & 0o7777, dir_fd=fd, follow_symlinks=False)
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                name = key.removeprefix("SCHILY.xattr.")
                path = f"/proc/self/fd/{fd}/{leaf}"
                os.setxattr(path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
        mtime = int(member.mtime * 1_000_000_000)
        if member.isdir():
            self.dir_times.append((parent, leaf, mtime))
        else:
            os.utime(leaf, ns=(mtime, mtime), dir_fd=fd, follow_symlinks=False)

    def _set_time(self, parent: tuple[str, ...], leaf: str, mtime: int) -> None:
        try:
            os.utime(leaf, ns=(mtime, mtime), dir_fd=self.open_dir(parent), follow_symlinks=False)
        except OSError:  # a later entry of this layer removed or replaced it (or a directory above it)
            pass

    # -- deletions ---------------------------------------------------------------------
    def remove(self, fd: int, leaf: str, st: os.stat_result) -> None:
        """Delete one name in a directory; a directory goes with all it holds (fd-relative, never followed)."""
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(leaf, dir_fd=fd)
            if self._cached and self._cached[1] != fd:
                self._forget()  # the cached directory may have been inside it
        else:
            os.unlink(leaf, dir_fd=fd)

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
        if (existing := _lstat(name, fd)) is not None:
            self.remove(fd, name, existing)
        if self.overlay:
            os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=fd)

    def opaque(self, fd: int, parent: tuple[str, ...]) -> None:
        """``.wh..wh..opq``: hide what lower layers put here, but keep what this layer wrote (before or after)."""
        if self.overlay:
            os.setxattr(fd, "trusted.overlay.opaque", b"y")
            return
        for child in os.listdir(fd):
            if parent + (child,) not in self.written and (st := _lstat(child, fd)) is not None:
                self.remove(fd, child, st)


def _split(name: str) -> list[str]:
    """The components of a tar name, without empty ones and ``.``."""
    return [part for part in name.split("/") if part not in ("", ".")]


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
