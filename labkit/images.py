"""Images: a name that points at content, and the pull that fills the content store.

An image, for containerd, is only a record: a *name* (a normalised reference) and a
*target* descriptor, the index or manifest the name resolved to. Everything else is
content found by digest: the platform's manifest, its config and its layers
(OCI image spec, manifest.md and config.md). ``pull`` is the whole fetch, step by step:

1. resolve the reference to a descriptor (``remotes.Registry.resolve``);
2. fetch that manifest; if it is an index, pick the platform's manifest and fetch it;
3. fetch the config, then the layers, concurrently, each streamed into the content
   store and verified; a blob already in the store is not fetched again;
4. write the image record under ``<root>/images/``.

An index, a manifest and a config come from the registry, so each is checked before
it is committed (its digest proves only that it is what the registry meant to send):
a JSON object with the fields labkit reads, of the types the image spec gives them
(image-index.md, manifest.md, config.md). Nothing is recorded until all three pass.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from .content import Store
from .descriptor import INDEX_TYPES, MANIFEST_TYPES, Descriptor, check_document, descriptors, load_json
from .errors import InvalidArgument, LabkitError, NotFound, disk_error
from .events import Publisher
from .paths import default_root
from .platforms import Platform
from .reference import Reference
from .timestamps import now, rfc3339

if TYPE_CHECKING:  # the registry client, and httpx with it, is imported by pull() only: see there
    from .remotes import Registry, Transcript

__all__ = ["Image", "ImageStore", "pull", "select_manifest"]

_CONCURRENT_FETCHES = 4
_NAME_MAX = 255  # bytes in a file name (Linux NAME_MAX): an image record's file name must fit


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
    entries = descriptors(index, "manifests", "the index")
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

    def document(self, desc: Descriptor, kind: str) -> dict:
        """An index or a manifest, fetched unless already in the store (``_document``), and published if new."""
        document, new = self._document(desc, kind)
        self._committed(new, desc)
        return document

    def _document(self, desc: Descriptor, kind: str) -> tuple[dict, bool]:
        """An index, manifest or config: unless in the store, fetched, verified, checked, committed; and if new."""
        if self.store.exists(desc.digest):
            return check_document(self.store.read(desc.digest), kind, desc.digest), False
        fetch = self.registry.fetch_config if kind == "config" else self.registry.fetch_manifest
        data = fetch(self.repository, desc)
        document = check_document(data, kind, desc.digest)
        with self.store.writer(desc.digest, desc.size) as writer:
            writer.write(data[writer.offset :])  # after what a killed pull left, if it left any
            return document, writer.commit()

    def blob(self, desc: Descriptor, progress: Callable[[int], None]) -> bool:
        """Stream one blob into the store; the writer verifies it before it is committed. ``True`` if new."""
        with self.store.writer(desc.digest, desc.size) as writer:
            progress(writer.offset)  # what a killed pull left: fetch_blob asks only for the rest
            self.registry.fetch_blob(self.repository, desc, writer, progress)
            return writer.commit()

    def blobs(self, config: Descriptor, layers: list[Descriptor], *, progress: bool, label: str) -> None:
        """Fetch the config and the layers the store lacks, several at a time, with one progress bar for the layers.

        The config is read whole, and checked before it is committed (``_document``).
        Events are published from this thread, in the manifest's order, as the fetches complete.
        """
        missing = [desc for desc in dict.fromkeys(layers) if not self.store.exists(desc.digest)]
        with (_progress_bar(sum(desc.size for desc in missing), label, progress) as update,
              ThreadPoolExecutor(max_workers=_CONCURRENT_FETCHES) as pool):
            futures = [(config, pool.submit(lambda: self._document(config, "config")[1]))]
            futures += [(desc, pool.submit(self.blob, desc, update)) for desc in missing]
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
    trusted_realms: Iterable[str] = (),
) -> Image:
    """Fetch ``ref`` into the content store and record it as an image (the module docstring's four steps).

    ``user`` is ``USER:PASSWORD``; ``platform`` is ``OS/ARCH[/VARIANT]`` (default: the host's);
    ``transcript`` records every HTTP exchange; ``publish(topic, payload)`` receives
    ``/content/create`` for each new blob and ``/images/create`` or ``/images/update``;
    ``trusted_realms`` names token servers on other hosts that may receive the credentials. The content
    and the record go under the lab root ``root`` (default: :func:`labkit.paths.default_root`).
    """
    from .remotes import Registry  # here: httpx is needed only to fetch, not to run an image already pulled

    reference = Reference.parse(ref)
    want = Platform.parse(platform) if platform else Platform.host()
    images = ImageStore(root)
    credentials = _credentials(user)
    with Registry(reference.api_host, plain_http=plain_http, credentials=credentials, transcript=transcript,
                  trusted_realms=trusted_realms) as registry:  # fmt: skip
        fetcher = _Fetcher(registry, reference.path, images.content, publish)
        target = registry.resolve(reference)
        manifest_desc = target
        if target.media_type in INDEX_TYPES:
            manifest_desc = select_manifest(fetcher.document(target, "index"), want)
        if manifest_desc.media_type not in MANIFEST_TYPES:
            raise InvalidArgument(f"{reference}: {manifest_desc.media_type[:100]!r} is not an image manifest")
        manifest = fetcher.document(manifest_desc, "manifest")
        config, layers = Descriptor.from_dict(manifest["config"]), descriptors(manifest, "layers", "the manifest")
        fetcher.blobs(config, layers, progress=progress, label=str(reference))
    images.save(str(reference), target, manifest_desc, publish)
    return images.get(str(reference))


def _created_at(path: Path) -> str | None:
    """When the record at ``path`` was first made, if there is one that says so."""
    try:
        created = load_json(path.read_bytes(), str(path)).get("created_at")
    except (FileNotFoundError, LabkitError):
        return None
    return created if isinstance(created, str) else None


def _warn(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


class ImageStore:
    """Image records, one JSON file each under ``<root>/images/`` (``root``: the lab root)."""

    def __init__(self, root: Path | None = None) -> None:
        self.lab_root = root or default_root()
        self.root = self.lab_root / "images"
        self.content = Store(self.lab_root)

    def _path(self, name: str) -> Path:
        """The record's file: the name, %-quoted; a name too long for a file name, by its sha256."""
        quoted = quote(name, safe="") + ".json"
        if len(quoted) > _NAME_MAX:
            quoted = "sha256-" + hashlib.sha256(name.encode()).hexdigest() + ".json"
        return self.root / quoted

    def get(self, name: str) -> Image:
        """The image ``name`` (normalised first: ``busybox`` is ``docker.io/library/busybox:latest``)."""
        name = str(Reference.parse(name))
        try:
            data = self._path(name).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"image {name} not found (pull it first)") from None
        return self._image(name, load_json(data, f"the record of image {name}"))

    def _image(self, name: str, record: dict) -> Image:
        """The image a record describes, its manifest and config read from the content store and checked again."""
        if not isinstance(record.get("manifest"), dict) or not isinstance(record.get("labels", {}), dict):
            raise InvalidArgument(f"the record of image {name} lacks its manifest descriptor")
        manifest_desc = Descriptor.from_dict(record["manifest"])
        manifest = check_document(self.content.read(manifest_desc.digest), "manifest", manifest_desc.digest)
        config_desc = Descriptor.from_dict(manifest["config"])
        return Image(
            name=name,
            target=Descriptor.from_dict(record.get("target")),
            manifest_descriptor=manifest_desc,
            manifest=manifest,
            config=check_document(self.content.read(config_desc.digest), "config", config_desc.digest),
            layers=descriptors(manifest, "layers", f"manifest {manifest_desc.digest}"),
            store=self.content,
            labels=record.get("labels", {}),
        )

    def images(self, on_bad_record: Callable[[str], None] | None = None) -> list[Image]:
        """Every image, sorted by name; a record that cannot be read is left out, and said once.

        One bad record (a config that is no object, a blob deleted by hand) must not hide
        every other image: it goes to ``on_bad_record`` as one line naming the file and
        what is wrong with it (by default, a ``warnings.warn``).
        """
        if not self.root.is_dir():
            return []
        images = []
        for path in sorted(self.root.glob("*.json")):
            try:
                record = load_json(path.read_bytes(), f"image record {path.name}")
                name = record.get("name")
                if not isinstance(name, str):
                    raise InvalidArgument(f"image record {path.name} has no name")
                images.append(self._image(str(Reference.parse(name)), record))
            except LabkitError as err:
                (on_bad_record or _warn)(f"image record {path} is left out: {err}")
        return sorted(images, key=lambda image: image.name)

    def save(self, name: str, target: Descriptor, manifest: Descriptor, publish: Publisher | None = None) -> None:
        """Write (or overwrite) the record ``name → target``; publish ``/images/create`` or ``/images/update``."""
        path = self._path(name)
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # of two pulls saving one name at once, one creates, one updates
            updated = rfc3339(now())
            created = _created_at(path) or updated
            record = {"name": name, "target": target.to_dict(), "manifest": manifest.to_dict(),
                      "labels": {}, "created_at": created, "updated_at": updated}  # fmt: skip
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as file:
                    json.dump(record, file, indent=2)
                os.replace(tmp, path)
            except OSError as err:
                os.unlink(tmp)
                raise disk_error(err, f"saving the record of image {name} in {self.root}") from None
            topic = "/images/update" if created != updated else "/images/create"
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
