# Notebook 01, exercise: the namespace types in which process `pid` is not with this notebook.
# Compare the inodes entry by entry, and report each differing entry by its *type*:
# pid_for_children is a link to a pid namespace, so it counts as "pid".
def isolated(pid: int) -> set[str]:
    mine, theirs = ns.namespaces(), ns.namespaces(pid)
    return {namespace.type for entry, namespace in theirs.items() if namespace != mine.get(entry)}
