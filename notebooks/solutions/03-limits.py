# Notebook 03, exercise: a cgroup labkit/ex03 with 64 MiB of memory and 16 processes, a sleep inside it.
# Memory limits are bytes: 64 MiB is 64 * 1024 * 1024 = 64 << 20. setup=exercise.add moves the child into
# the group before it runs, so the sleep (and anything it starts) is limited from its first instruction.
exercise = cgroups.create("ex03", memory=64 << 20, pids=16)
sleeper = ns.spawn(lambda: os.execvp("sleep", ["sleep", "300"]), setup=exercise.add)
