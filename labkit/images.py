"""Images: a name that points at content, and the pull that fills the content store.

An image, for containerd, is only a record: a *name* (a normalised reference) and a
*target* descriptor, the index or manifest the name resolved to. Everything else is
content found by digest: the platform's manifest, its config and its layers
(OCI image spec, manifest.md and config.md). ``pull`` is the whole fetch, step by step:

1. resolve the reference to a descriptor (``remotes.Registry.resolve``);
2. fetch that manifest; if it is an index, pick the platform's manifest and fetch it;
3. fetch the config and the layers, concurrently, each streamed into the content
   store and verified; a blob already in the store is not fetched again;
4. write the image record under ``<root>/images/``.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from .content import Store
from .descriptor import INDEX_TYPES, MANIFEST_TYPES, Descriptor
from .errors import InvalidArgument, NotFound
from .events import Publisher
from .paths import default_root
from .platforms import Platform
from .reference import Reference
from .timestamps import now, rfc3339

if TYPE_CHECKING:  # the registry client, and httpx with it, is imported by pull() only: see there
    from .remotes import Registry, Transcript

__all__ = ["Image", "ImageStore", "pull", "select_manifest"]

_CONCURRENT_FETCHES = 4


@dataclass(frozen=True)
class Image:
    """A pulled image: its record, plus the platform's manifest and config read from the content store."""

    name: str
    target: Descriptor
    manifest_descriptor: Descriptor
    manifest: dict
    config: dict
    layers: list[Descriptor]
    store: Store
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes of content this platform's image uses: manifest, config and layers (``ctr images ls``'s SIZE)."""
        return self.manifest_descriptor.size + self.manifest["config"]["size"] + sum(layer.size for layer in self.layers)


def select_manifest(index: dict, platform: Platform) -> Descriptor:
    """The first index entry for ``platform`` (image-index.md, "manifests"); ``NotFound`` naming what there is."""
    entries = [Descriptor.from_dict(entry) for entry in index.get("manifests", [])]
    for desc in entries:
        if desc.platform == platform:
            return desc
    offered = ", ".join(str(desc.platform) for desc in entries) or "no platforms"
    raise NotFound(f"no manifest for {platform} in the index (it has {offered})")


class _Fetcher:
    """Fetches one repository's content into the store, skipping what is already there."""

    def __init__(self, registry: Registry, repository: str, store: Store, publish: Publisher | None) -> None:
        self.registry, self.repository, self.store, self.publish = registry, repository, store, publish

    def _committed(self, new: bool, desc: Descriptor) -> None:
        if new and self.publish:
            self.publish("/content/create", {"digest": desc.digest, "size": desc.size})

    def json(self, desc: Descriptor) -> dict:
        """A manifest or index: fetched and verified unless already in the store, then parsed."""
        if not self.store.exists(desc.digest):
            data = self.registry.fetch_manifest(self.repository, desc)
            with self.store.writer(desc.digest, desc.size) as writer:
                writer.write(data)
                self._committed(writer.commit(), desc)
        return json.loads(self.store.read(desc.digest))

    def blob(self, desc: Descriptor, progress: Callable[[int], None]) -> bool:
        """Stream one blob into the store; the writer verifies it before it is committed. ``True`` if new."""
        with self.store.writer(desc.digest, desc.size) as writer:
            self.registry.fetch_blob(self.repository, desc, writer, progress)
            return writer.commit()

    def blobs(self, descs: list[Descriptor], *, progress: bool, label: str) -> None:
        """Fetch the blobs the store lacks, several at a time, with one progress bar for all of them.

        Events are published from this thread, in the manifest's order, as the fetches complete.
        """
        missing = [desc for desc in dict.fromkeys(descs) if not self.store.exists(desc.digest)]
        with (_progress_bar(sum(desc.size for desc in missing), label, progress) as update,
              ThreadPoolExecutor(max_workers=_CONCURRENT_FETCHES) as pool):
            futures = [(desc, pool.submit(self.blob, desc, update)) for desc in missing]
            try:
                for desc, future in futures:
                    self._committed(future.result(), desc)
            finally:
                pool.shutdown(cancel_futures=True)


@contextmanager
def _progress_bar(total: int, label: str, shown: bool) -> Iterator[Callable[[int], None]]:
    """A ``tqdm.auto`` bar (a widget in Jupyter, text in a terminal), imported only when shown: it is slow to load."""
    if not shown:
        yield lambda n: None
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, unit="B", unit_scale=True, desc=label) as bar:
        yield bar.update


def _credentials(user: str | None) -> tuple[str, str] | None:
    if user is None:
        return None
    name, sep, password = user.partition(":")
    if not sep or not name:
        raise InvalidArgument("--user must be USER:PASSWORD")
    return name, password


def pull(
    ref: str,
    *,
    plain_http: bool = False,
    user: str | None = None,
    platform: str | None = None,
    progress: bool = False,
    transcript: Transcript | None = None,
    publish: Publisher | None = None,
    root: Path | None = None,
) -> Image:
    """Fetch ``ref`` into the content store and record it as an image (the module docstring's four steps).

    ``user`` is ``USER:PASSWORD``; ``platform`` is ``OS/ARCH[/VARIANT]`` (default: the host's);
    ``transcript`` records every HTTP exchange; ``publish(topic, payload)`` receives
    ``/content/create`` for each new blob and ``/images/create`` or ``/images/update``. The content
    and the record go under the lab root ``root`` (default: :func:`labkit.paths.default_root`).
    """
    from .remotes import Registry  # here: httpx is needed only to fetch, not to run an image already pulled

    reference = Reference.parse(ref)
    want = Platform.parse(platform) if platform else Platform.host()
    images = ImageStore(root)
    credentials = _credentials(user)
    with Registry(reference.api_host, plain_http=plain_http, credentials=credentials, transcript=transcript) as registry:
        fetcher = _Fetcher(registry, reference.path, images.content, publish)
        target = registry.resolve(reference)
        manifest_desc = target
        if target.media_type in INDEX_TYPES:
            manifest_desc = select_manifest(fetcher.json(target), want)
        if manifest_desc.media_type not in MANIFEST_TYPES:
            raise InvalidArgument(f"{reference}: {manifest_desc.media_type!r} is not an image manifest")
        manifest = fetcher.json(manifest_desc)
        blobs = [Descriptor.from_dict(manifest["config"]), *map(Descriptor.from_dict, manifest["layers"])]
        fetcher.blobs(blobs, progress=progress, label=str(reference))
    images.save(str(reference), target, manifest_desc, publish)
    return images.get(str(reference))


class ImageStore:
    """Image records, one JSON file each under ``<root>/images/`` (``root``: the lab root)."""

    def __init__(self, root: Path | None = None) -> None:
        self.lab_root = root or default_root()
        self.root = self.lab_root / "images"
        self.content = Store(self.lab_root)

    def _path(self, name: str) -> Path:
        return self.root / (quote(name, safe="") + ".json")

    def get(self, name: str) -> Image:
        """The image ``name`` (normalised first: ``busybox`` is ``docker.io/library/busybox:latest``)."""
        name = str(Reference.parse(name))
        try:
            record = json.loads(self._path(name).read_text())
        except FileNotFoundError:
            raise NotFound(f"image {name} not found (pull it first)") from None
        manifest_desc = Descriptor.from_dict(record["manifest"])
        manifest = json.loads(self.content.read(manifest_desc.digest))
        config = json.loads(self.content.read(manifest["config"]["digest"]))
        return Image(
            name=name,
            target=Descriptor.from_dict(record["target"]),
            manifest_descriptor=manifest_desc,
            manifest=manifest,
            config=config,
            layers=[Descriptor.from_dict(layer) for layer in manifest["layers"]],
            store=self.content,
            labels=record.get("labels", {}),
        )

    def images(self) -> list[Image]:
        """Every image, sorted by name."""
        if not self.root.is_dir():
            return []
        names = sorted(json.loads(path.read_text())["name"] for path in self.root.glob("*.json"))
        return [self.get(name) for name in names]

    def save(self, name: str, target: Descriptor, manifest: Descriptor, publish: Publisher | None = None) -> None:
        """Write (or overwrite) the record ``name → target``; publish ``/images/create`` or ``/images/update``."""
        path = self._path(name)
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # of two pulls saving one name at once, one creates, one updates
            updated = rfc3339(now())
            created = json.loads(path.read_text())["created_at"] if path.exists() else updated
            record = {"name": name, "target": target.to_dict(), "manifest": manifest.to_dict(),
                      "labels": {}, "created_at": created, "updated_at": updated}  # fmt: skip
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "w") as file:
                json.dump(record, file, indent=2)
            topic = "/images/update" if created != updated else "/images/create"
            os.replace(tmp, path)
            if publish:
                publish(topic, {"name": name, "labels": {}})

    def remove(self, name: str, publish: Publisher | None = None) -> None:
        """Delete the record ``name`` (its blobs stay in the content store); publish ``/images/delete``."""
        name = str(Reference.parse(name))
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            raise NotFound(f"image {name} not found") from None
        if publish:
            publish("/images/delete", {"name": name})
