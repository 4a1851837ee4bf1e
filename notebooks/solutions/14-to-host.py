# Notebook 14, exercise: which host uid a uid inside a user namespace is.
# Each line of uid_map is "inside outside count": inside .. inside+count-1 map to outside .. outside+count-1.
# An id in no range is unmapped (the kernel shows it as the overflow uid 65534).
def to_host(uid_map: str, uid: int) -> int | None:
    for line in uid_map.splitlines():
        inside, outside, count = (int(field) for field in line.split())
        if inside <= uid < inside + count:
            return outside + (uid - inside)
    return None
