"""The supervisor: containers and the records behind them — the miniature containerd.

containerd keeps two kinds of object apart (containerd docs, "Containers and tasks"):

- a **container** is metadata only: an id, the image it came from, labels,
  *extensions* (typed data a client attaches under its own key), the runtime to use,
  the snapshot that will be its root filesystem, and the runtime spec. Creating one
  starts nothing.
- a **task** is the running process of a container (:mod:`labkit.task`): created
  from the container, then started, waited for, killed, paused, deleted.

Every milestone is published on the events exchange with containerd's topics, so
that ``labkit run --rm`` publishes what ``ctr run --rm`` does::

    /snapshot/prepare  /containers/create  /tasks/create  /tasks/start
    /tasks/exit  /tasks/delete  /snapshot/remove  /containers/delete

All state is on disk under ``<root>/containers/<id>/`` (``container.json``, the
``bundle/`` given to the runtime, the task's records), so a new ``Supervisor`` in
another process — the command line, a notebook kernel — finds the same containers
and their running tasks again.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from . import cgroups, images, oci, snapshots
from .errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from .events import CONTAINER_CREATE, CONTAINER_DELETE, Envelope, Exchange, Subscription
from .identifiers import validate
from .paths import default_root
from .runtime import Runtime
from .shim import Network
from .task import Output, Task, TaskOptions
from .timestamps import now, rfc3339

__all__ = ["Container", "Supervisor"]


class Container:
    """One container record (``<root>/containers/<id>/container.json``) and the way to its task."""

    def __init__(self, supervisor: Supervisor, record: dict[str, Any]) -> None:
        self.supervisor = supervisor
        self.id: str = record["id"]
        self.image: str = record["image"]
        self.labels: dict[str, str] = record["labels"]
        self.extensions: dict[str, Any] = record["extensions"]
        self.runtime: str = record["runtime"]
        self.snapshotter: str = record["snapshotter"]
        self.snapshot_key: str = record["snapshot_key"]
        self.created_at: str = record["created_at"]
        self.network: Network | None = record.get("network")

    def __repr__(self) -> str:
        return f"<Container {self.id} image={self.image} runtime={self.runtime}>"

    @property
    def dir(self) -> Path:
        return self.supervisor.root / "containers" / self.id

    @property
    def bundle(self) -> Path:
        """The OCI bundle handed to the runtime: ``config.json`` and ``rootfs/`` (runtime-spec, bundle.md)."""
        return self.dir / "bundle"

    @property
    def spec(self) -> dict[str, Any]:
        """The runtime spec (``config.json``) the task will run with."""
        return json.loads((self.bundle / "config.json").read_text())

    def info(self) -> dict[str, Any]:
        """The record as ``ctr containers info`` shows it, spec included."""
        return {**json.loads((self.dir / "container.json").read_text()), "spec": self.spec}

    def new_task(self, *, stdout: Output = None, stderr: Output = None) -> Task:
        """Mount the root filesystem, ``runc create`` through a shim, publish ``/tasks/create``.

        The process's stdout and stderr go to files in the container's directory, or to
        the given path or open file descriptor (``labkit run`` passes its own terminal).
        """
        return Task.create(self.supervisor.task_options(self), stdout=stdout, stderr=stderr)

    def run_task(self, *, stdout: Output = None, stderr: Output = None) -> Task:
        """:meth:`new_task` and ``start()`` at once, with one ``runc run`` as this process's child.

        ``/tasks/create`` and ``/tasks/start`` are published once the runtime has started the
        process. For a caller that waits for the task (a foreground ``labkit run``): no shim,
        and one runtime command where ``new_task``, ``start`` and ``delete`` run three. The exit
        is recorded when this process waits for it (``task.wait()``), so it must outlive the task.
        """
        if self.network is not None:  # connected between create and start: runc run leaves no moment for it
            task = self.new_task(stdout=stdout, stderr=stderr)
            task.start()
            return task
        return Task.create(self.supervisor.task_options(self), stdout=stdout, stderr=stderr, start=True)

    def task(self) -> Task:
        """The container's task, found again from its record (``NotFound`` if there is none)."""
        if not (self.dir / "task.json").exists():
            raise NotFound(f"container {self.id} has no task")
        return Task(self.supervisor.task_options(self))

    def delete(self) -> None:
        """Remove the container: its snapshot and its records (``/snapshot/remove``, ``/containers/delete``)."""
        if (self.dir / "task.json").exists():
            raise FailedPrecondition(f"cannot delete container {self.id}: it has a task (delete the task first)")
        self.supervisor.snapshots(self.snapshotter).remove(self.snapshot_key)
        shutil.rmtree(self.dir)
        self.supervisor.publish(CONTAINER_DELETE, {"id": self.id})


class Supervisor:
    """The containers under one lab root, and the events exchange they publish on.

    ``shim=True`` (the default) gives each process a shim (:mod:`labkit.shim`): tasks
    outlive this process and their exits are still recorded. ``shim=False`` makes this
    process their subreaper instead (:class:`labkit.shim.Reaper`): no shim to start per
    process, for a caller that outlives its tasks and waits for them (notebook 13, the bench).
    ``root`` is the lab root (default: :func:`labkit.paths.default_root`); everything this
    supervisor reads and writes is under it, so ``labkit.pull(ref, root=R)`` and
    ``Supervisor(root=R)`` share their images whatever ``$LABKIT_ROOT`` says.
    """

    def __init__(self, root: Path | None = None, *, shim: bool = True) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.shim = shim
        self.events = Exchange(self.root)

    def __repr__(self) -> str:
        return f"Supervisor(root={str(self.root)!r})"

    def publish(self, topic: str, event: dict[str, Any]) -> Envelope:
        """Publish one milestone on the lab's exchange."""
        return self.events.publish(topic, event)

    def subscribe(self, *filters: str) -> Subscription:
        """Events from now on that match any of ``filters`` (containerd's filter syntax)."""
        return self.events.subscribe(*filters)

    def task_options(self, container: Container) -> TaskOptions:
        """What the task of ``container`` works with: its runtime, this exchange, its root filesystem's mounts."""
        mounts = self.snapshots(container.snapshotter).mounts(container.snapshot_key)
        return TaskOptions(container_id=container.id, directory=container.dir, bundle=container.bundle,
                           runtime=self.runtime(container.runtime), events=self.events, mounts=tuple(mounts),
                           reaper=not self.shim, network=container.network)

    def runtime(self, name: str) -> Runtime:
        """The OCI runtime ``name`` with its state under ``<root>/<name>``."""
        return Runtime(name, self.root / name)

    def snapshots(self, name: str) -> snapshots.Snapshotter:
        """The snapshotter ``name`` (``overlay`` or ``native``), publishing on this exchange."""
        return snapshots.get(name, self.root, publish=self.publish)

    def image(self, name: str) -> images.Image:
        """The pulled image ``name`` from the image store (``NotFound`` if it has not been pulled)."""
        return images.ImageStore(self.root).get(name)

    def create_container(self, container_id: str, image: images.Image | str, args: list[str] | None = None, *,
                         runtime: str = "runc", snapshotter: str | None = None, labels: dict[str, str] | None = None,
                         extensions: dict[str, Any] | None = None, network: Network | None = None,
                         **spec_options: Any) -> Container:
        """Record a container: unpack the image, prepare its snapshot, write its bundle's ``config.json``.

        ``args`` replaces the image's Entrypoint + Cmd; ``spec_options`` go to
        :func:`labkit.oci.spec_from_image` (hostname, memory, pids, netns_path, ...).
        The spec's cgroup is ``labkit/<id>`` under the lab's cgroup parent (:func:`labkit.cgroups.parent`).
        ``network="slirp4netns"`` gives the container a network namespace of its own, connected to the
        outside by user-mode networking (:func:`labkit.net.slirp4netns`) once its task is created: what
        a rootless container has instead of the bridge. Nothing runs yet.

        Without root the container is *rootless* (runc's README, "Rootless containers"): a user namespace maps
        root inside to the caller; it gets a cgroup only where one is delegated to the caller (cgroup v2,
        :func:`labkit.cgroups.delegated`; else ``cgroupsPath`` is unset: an ordinary user may not
        create one on cgroup v1, nor outside a delegated subtree), and the snapshotter is ``native`` — an
        ordinary user cannot mount, so ``root.path`` names the snapshot's directory and runc bind-mounts it
        in the container's namespace.
        """
        validate(container_id)
        directory = self.root / "containers" / container_id
        if directory.exists():
            raise AlreadyExists(f"container {container_id} already exists")
        self.runtime(runtime)  # fail now, not at the first task, if it is unknown or missing
        if isinstance(image, str):
            image = self.image(image)
        rootless = os.geteuid() != 0
        snapshotter = snapshotter or ("native" if rootless else "overlay")
        if rootless and snapshotter != "native":
            raise InvalidArgument(f"a rootless container cannot use the {snapshotter} snapshotter: only native "
                                  "needs no mount by the caller")
        cgroups_path = None if rootless and cgroups.delegated() is None else cgroups.Cgroup(container_id).path
        if cgroups_path is not None:
            cgroups.prepare()
        spec = oci.spec_from_image(image.config, args=args, rootless=rootless, own_network=network is not None,
                                   cgroups_path=None if cgroups_path is None else str(cgroups_path), **spec_options)
        snapshotter_ = self.snapshots(snapshotter)
        parent = snapshots.unpack(image, snapshotter_)
        directory.mkdir(parents=True)
        try:
            mounts = snapshotter_.prepare(container_id, parent)
            if rootless:  # native's one bind mount, made by runc itself inside the user namespace
                spec["root"]["path"] = mounts[0].source
            oci.write_bundle(directory / "bundle", spec)
        except BaseException:
            shutil.rmtree(directory)
            raise
        record = {"id": container_id, "image": image.name, "labels": dict(labels or {}),
                  "extensions": dict(extensions or {}), "runtime": runtime, "snapshotter": snapshotter,
                  "snapshot_key": container_id, "created_at": rfc3339(now()), "network": network}
        (directory / "container.json").write_text(json.dumps(record, indent=2))
        self.publish(CONTAINER_CREATE, {"id": container_id, "image": image.name, "runtime": {"name": runtime}})
        return Container(self, record)

    def container(self, container_id: str) -> Container:
        """The container ``container_id`` (``NotFound`` if there is none)."""
        try:
            record = json.loads((self.root / "containers" / container_id / "container.json").read_text())
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"container {container_id} not found") from None
        return Container(self, record)

    def containers(self) -> list[Container]:
        """Every container, sorted by id."""
        directory = self.root / "containers"
        ids = sorted(path.parent.name for path in directory.glob("*/container.json"))
        return [self.container(container_id) for container_id in ids]
