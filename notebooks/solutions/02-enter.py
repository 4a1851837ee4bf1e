# Notebook 02, exercise: make `root` the root of the current (new, private) mount namespace, for good.
# pivot_root wants a mount point, so bind-mount the directory onto itself; then, from inside it,
# pivot_root(".", ".") puts the old root on top of the new one, and unmounting "." uncovers the new
# root alone (runc does the same, libcontainer/rootfs_linux.go). chdir("/") to stand in it.
def enter(root: str) -> None:
    ns.mount(root, root, None, ns.MS_BIND | ns.MS_REC)
    os.chdir(root)
    ns.pivot_root(".", ".")
    ns.umount(".", ns.MNT_DETACH)
    os.chdir("/")
