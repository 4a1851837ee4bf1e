"""The content store: verified ingest, atomic commit, nothing corrupt ever committed."""

from __future__ import annotations

import hashlib
import os
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
