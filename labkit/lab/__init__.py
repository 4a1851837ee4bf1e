"""The lab environment: its local registry, seed images, the host's tier, cleaning up.

- ``daemon``:   the lab's long-running processes (registry, fork server): start detached, find, stop.
- ``registry``: start, stop and inspect Debian's ``docker-registry`` on loopback.
- ``builder``:  build OCI images from files and push them (how the seed images are made).
- ``seed``:     the lab's seed images (``lab/busybox``, ``lab/layers``, ``lab/multiarch``).
- ``doctor``:   probe the host and decide its tier (full / rootless / inspect).
- ``clean``:    remove everything the lab made on the host.
- ``notebook``: the ``%%needs TIER`` cell magic the notebooks use.
- ``containerd``: the real containerd, run privately under the lab root, side by side with labkit.
- ``protos``:   containerd's gRPC stubs, generated at set-up time from Debian's ``.proto`` files.
- ``learners``:  run labkit as an ordinary system user (the rootless tier, in tests and workshops).
- ``nbstrip``:  strip widget state from executed notebooks before they are committed.
"""
