# Notebook 09, exercise: a PID 1 that stops on SIGTERM.
# PID 1 gets only the signals it handles, so the shell installs a handler with `trap`.
# A shell runs traps between commands: with `sleep 1000` in the foreground the trap would wait for it,
# so sleep in the background and `wait`, which a trapped signal interrupts at once.
answer = ["sh", "-c", "trap 'exit 143' TERM; sleep 1000 & wait"]
