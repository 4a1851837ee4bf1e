"""The lab environment: its local registry, seed images, the host's tier, cleaning up.

- ``daemon``:     the lab's long-running processes (the registry, containerd): start detached, find, stop.
- ``registry``:   start, stop and inspect Debian's ``docker-registry`` on loopback.
- ``seed``:       the lab's seed images (``lab/busybox``, ``lab/layers``, ``lab/multiarch``).
- ``doctor``:     probe the host and decide its tier (full / rootless / inspect).
- ``clean``:      remove everything the lab made on the host.
- ``notebook``:   the ``%%needs TIER`` cell magic the notebooks use.
- ``containerd``: the real containerd, run privately under the lab root, side by side with labkit.
- ``learners``:   the lab's ordinary users: run labkit as one (the rootless tier, from a root session).
"""
