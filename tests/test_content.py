"""The content store: verified ingest, atomic commit, nothing corrupt ever committed."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.content import Store
from labkit.errors import DataCorrupted, InvalidArgument, NotFound

DATA = b"a blob of content\n" * 1000
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


def _ingest(store: Store, data: bytes, digest: str = DIGEST, size: int = len(DATA)) -> bool:
    with store.writer(digest, size) as writer:
        for start in range(0, len(data), 4096):
            writer.write(data[start : start + 4096])
        return writer.commit()


def test_commit_places_the_blob_under_its_digest(lab_root: Path) -> None:
    store = Store()
    assert not store.exists(DIGEST)
    assert _ingest(store, DATA) is True
    assert store.path(DIGEST) == lab_root / "content/blobs/sha256" / DIGEST.split(":")[1]
    assert store.exists(DIGEST) and store.read(DIGEST) == DATA
    with store.open(DIGEST) as blob:
        assert blob.read(6) == b"a blob"
    assert list(store.ingest_dir.iterdir()) == []


def test_committing_again_changes_nothing(lab_root: Path) -> None:
    store = Store()
    assert _ingest(store, DATA) and _ingest(store, DATA) is False


def test_a_blob_past_several_writeback_steps_is_committed_whole(lab_root: Path) -> None:
    """Writeback is started every few MiB, mid-piece and from a buffered file: no byte is lost or reordered."""
    data = os.urandom(10 * 1024 * 1024 + 4097)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    store = Store()
    assert _ingest(store, data, digest, len(data)) and store.read(digest) == data


def test_wrong_bytes_are_never_committed(lab_root: Path) -> None:
    store = Store()
    with pytest.raises(DataCorrupted, match=f"blob {DIGEST} is corrupt"):
        _ingest(store, DATA.replace(b"a", b"b", 1))
    assert not store.exists(DIGEST) and list(store.ingest_dir.iterdir()) == []


def test_short_or_long_content_is_corruption(lab_root: Path) -> None:
    store = Store()
    with pytest.raises(DataCorrupted, match="expected 18000 bytes"):
        _ingest(store, DATA[:-1])
    with pytest.raises(DataCorrupted, match="more than its 17999 bytes"):
        _ingest(store, DATA, size=len(DATA) - 1)
    assert list(store.ingest_dir.iterdir()) == []


def test_an_exception_while_writing_aborts(lab_root: Path) -> None:
    store = Store()
    with pytest.raises(RuntimeError), store.writer(DIGEST, len(DATA)) as writer:
        writer.write(DATA[:10])
        raise RuntimeError("connection lost for good")
    assert list(store.ingest_dir.iterdir()) == [] and not store.exists(DIGEST)


def test_delete_and_missing_blobs(lab_root: Path) -> None:
    store = Store()
    _ingest(store, DATA)
    store.delete(DIGEST)
    assert not store.exists(DIGEST)
    with pytest.raises(NotFound, match=DIGEST):
        store.open(DIGEST)
    with pytest.raises(NotFound):
        store.delete(DIGEST)


def test_bad_digests_are_invalid(lab_root: Path) -> None:
    with pytest.raises(InvalidArgument, match="md5"):
        Store().path("md5:" + "0" * 32)
    with pytest.raises(InvalidArgument, match="64 lowercase hex"):
        Store().path("sha256:ABC")


def _killed_writer(root: Path, data: bytes, digest: str = DIGEST, size: int = len(DATA)) -> None:
    """A writer in another process that writes ``data`` and is killed (SIGKILL) before it commits."""
    code = ("import os, signal, sys; from pathlib import Path; from labkit.content import Store\n"
            f"w = Store(Path({str(root)!r})).writer({digest!r}, {size}); w.write(sys.stdin.buffer.read())\n"
            "w._file.flush(); os.kill(os.getpid(), signal.SIGKILL)")  # fmt: skip
    killed = subprocess.run([sys.executable, "-c", code], input=data)
    assert killed.returncode == -signal.SIGKILL


def test_a_killed_writers_ingest_is_resumed_by_the_next(lab_root: Path) -> None:
    """containerd's local store resumes an ingest (content/local/store.go): the bytes there are hashed, not fetched."""
    _killed_writer(lab_root, DATA[:5000])
    (ingest,) = Store().ingest_dir.iterdir()
    assert ingest.name == f"sha256-{DIGEST.split(':')[1]}-{len(DATA)}" and ingest.stat().st_size == 5000
    with Store().writer(DIGEST, len(DATA)) as writer:
        assert writer.offset == writer.resumed == 5000
        writer.write(DATA[5000:])
        assert writer.commit() is True
    assert Store().read(DIGEST) == DATA and list(Store().ingest_dir.iterdir()) == []


def test_a_resumed_ingest_that_was_wrong_is_said_and_removed(lab_root: Path) -> None:
    _killed_writer(lab_root, b"X" * 5000)
    with pytest.raises(DataCorrupted, match="5000 of them left by an earlier pull"), Store().writer(DIGEST, len(DATA)) as writer:
        writer.write(DATA[writer.offset :])
        writer.commit()
    assert list(Store().ingest_dir.iterdir()) == []
    assert _ingest(Store(), DATA) is True  # the next try starts afresh


def test_an_ingest_longer_than_its_blob_starts_over(lab_root: Path) -> None:
    Store().ingest_dir.mkdir(parents=True)
    (Store().ingest_dir / f"sha256-{DIGEST.split(':')[1]}-{len(DATA)}").write_bytes(DATA + b"more")
    with Store().writer(DIGEST, len(DATA)) as writer:
        assert writer.offset == 0


def test_two_living_writers_of_one_blob_write_apart_and_a_dead_ones_copy_is_removed(lab_root: Path) -> None:
    store = Store()
    with store.writer(DIGEST, len(DATA)) as first, store.writer(DIGEST, len(DATA)) as second:
        assert first.path != second.path and second.path.name.startswith(first.path.name + ".")
        for writer in (first, second):
            writer.write(DATA)
        assert [second.commit(), first.commit()] == [True, False]
    assert list(store.ingest_dir.iterdir()) == []
    copy = store.ingest_dir / f"sha256-{'0' * 64}-5.abc123"  # what a killed second writer leaves: no lock on it
    copy.write_bytes(b"12")
    with store.writer("sha256:" + "0" * 64, 5):
        assert not copy.exists()
