"""Load: many containers and pulls at once, and not one event lost, doubled or out of order.

Fifty containers are run to completion from fifty threads through one ``Supervisor``;
every task's exit is reported exactly once (to its waiter and in the journal), and the
event journal holds, for every container, containerd's sequence exactly once and in
order — and a live subscriber saw the same. Then several pulls and unpacks of one
image race into a fresh root: the content store and the snapshotter end as one clean
pull would leave them.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labkit import images, snapshots
from labkit.content import Store
from labkit.descriptor import Descriptor
from labkit.events.journal import Journal
from labkit.supervisor import Supervisor

pytestmark = [pytest.mark.root, pytest.mark.registry, pytest.mark.tool("runc")]

CONTAINERS = 50
IMAGE = "127.0.0.1:5000/lab/busybox:latest"
SEQUENCE = ["/snapshot/prepare", "/containers/create", "/tasks/create", "/tasks/start",
            "/tasks/exit", "/tasks/delete", "/snapshot/remove", "/containers/delete"]


def _key(topic: str, event: dict) -> str:
    """The container an event is about (snapshot events name it by their key)."""
    return event.get("container_id") or event.get("id") or event.get("key", "")


@pytest.mark.usefixtures("lab_clean_here")  # after a failure, whatever is left
def test_fifty_containers_at_once_each_exit_reported_once(lab_root: Path, registry: str) -> None:
    snapshots.unpack(images.pull(f"{registry}/lab/busybox:latest", plain_http=True), snapshots.get("overlay"))
    sup = Supervisor()
    sub = sup.subscribe()
    prefix = f"load-{uuid.uuid4().hex[:6]}"
    start = threading.Barrier(CONTAINERS, timeout=60)  # a failure breaks it instead of hanging the rest

    def run(n: int) -> int:
        container = sup.create_container(f"{prefix}-{n}", IMAGE, ["sh", "-c", f"exit {n}"])
        start.wait()  # all fifty tasks are created and started together
        task = container.new_task()
        task.start()
        status = task.wait()
        assert task.delete()["exit_status"] == status
        container.delete()
        return status

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONTAINERS) as pool:
        statuses = list(pool.map(run, range(CONTAINERS)))
    elapsed = time.monotonic() - began
    assert statuses == list(range(CONTAINERS))
    assert sup.containers() == []

    journal = [(e.topic, _key(e.topic, e.event), e.event) for e in Journal(lab_root / "events.jsonl").read()]
    by_container: dict[str, list[str]] = defaultdict(list)
    for topic, key, _ in journal:
        by_container[key].append(topic)
    assert {key for key in by_container if key.startswith(prefix)} == {f"{prefix}-{n}" for n in range(CONTAINERS)}
    for n in range(CONTAINERS):
        assert by_container[f"{prefix}-{n}"] == SEQUENCE, n
    exits = {key: event["exit_status"] for topic, key, event in journal if topic == "/tasks/exit"}
    assert exits == {f"{prefix}-{n}": n for n in range(CONTAINERS)}
    live = [(e.topic, _key(e.topic, e.event)) for e in iter(lambda: sub.recv(timeout=1.0), None)]
    assert live == [(topic, key) for topic, key, _ in journal][-len(live):] and len(live) == len(SEQUENCE) * CONTAINERS
    assert elapsed < 60, f"{CONTAINERS} containers took {elapsed:.1f} s"


def test_of_writers_racing_to_commit_one_blob_exactly_one_is_told_it_is_new(tmp_path: Path) -> None:
    """What makes ``/content/create`` once per blob: only one commit may report the blob as new."""
    store, data = Store(tmp_path), b"the same bytes from eight downloads\n"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    together = threading.Barrier(8, timeout=30)

    def commit(_: int) -> bool:
        with store.writer(digest, len(data)) as writer:
            writer.write(data)
            together.wait()
            return writer.commit()

    for _ in range(10):
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert sorted(pool.map(commit, range(8))) == [False] * 7 + [True]
        assert store.read(digest) == data and list(store.ingest_dir.iterdir()) == []
        store.delete(digest)


def test_of_pulls_racing_to_save_one_image_one_creates_it(tmp_path: Path) -> None:
    store, topics = images.ImageStore(tmp_path), []
    target = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "0" * 64, 1)
    together = threading.Barrier(6, timeout=30)

    def save(_: int) -> None:
        together.wait()
        store.save("127.0.0.1:5000/race/image:latest", target, target, lambda topic, _: topics.append(topic))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(save, range(6)))
    assert topics == ["/images/create"] + ["/images/update"] * 5


def test_concurrent_pulls_and_unpacks_of_one_image(lab_root: Path, registry: str) -> None:
    events: list[tuple[str, dict]] = []
    lock = threading.Lock()

    def publish(topic: str, payload: dict) -> None:
        with lock:
            events.append((topic, payload))

    def pull_and_unpack(_: int) -> str:
        image = images.pull(f"{registry}/lab/layers:latest", plain_http=True, publish=publish)
        return snapshots.unpack(image, snapshots.get("overlay", publish=publish))

    with ThreadPoolExecutor(max_workers=6) as pool:
        tops = set(pool.map(pull_and_unpack, range(6)))
    image = images.ImageStore().get(f"{registry}/lab/layers:latest")
    chain = snapshots.chain_ids(image.config["rootfs"]["diff_ids"])
    assert tops == {chain[-1]}

    blobs = lab_root / "content/blobs/sha256"
    assert sorted(p.name for p in blobs.iterdir()) == sorted(
        d.split(":")[1] for d in (image.manifest_descriptor.digest, image.manifest["config"]["digest"],
                                  *(layer.digest for layer in image.layers)))
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == p.name for p in blobs.iterdir())
    assert list((lab_root / "content/ingest").iterdir()) == []
    created = [payload["digest"] for topic, payload in events if topic == "/content/create"]
    assert sorted(created) == sorted(set(created)) and len(created) == len(list(blobs.iterdir()))
    image_topics = sorted(topic for topic, _ in events if topic.startswith("/images/"))
    assert image_topics == ["/images/create"] + ["/images/update"] * 5

    infos = snapshots.get("overlay").walk()
    assert [(info.name, info.kind) for info in infos] == [(name, "committed") for name in chain]
    assert [info.parent for info in infos] == [None, *chain[:-1]]
    committed = [payload["name"] for topic, payload in events if topic == "/snapshot/commit"]
    assert sorted(committed) == sorted(chain)
    directories = sorted(int(p.name) for p in (lab_root / "snapshots/overlay/snapshots").iterdir())
    assert directories == sorted(info.id for info in infos)  # no directory of a lost race left behind
