# Notebook 04, exercise: a container whose host name is ex04 and which may have at most 10 processes.
# The command itself is sh, so sh is PID 1 and $$ is 1; hostname= sets the UTS namespace's name,
# pids= becomes the cgroup's pids limit, which the Result's stats report.
answer = scratch.run(rootfs, ["sh", "-c", "hostname; echo $$"], hostname="ex04", pids=10)
