# Notebook 07, exercise: a config.json that runs `hostname` as lab07, 10 pids at most, cgroup /labkit/ex07.
# spec_from_image keeps runc's defaults (their uts namespace lets the container have its own hostname)
# and the image's environment; process.terminal stays False, so `runc create` can run it detached.
answer = oci.spec_from_image(image.config, args=["hostname"], hostname="lab07", pids=10, cgroups_path="/labkit/ex07")
