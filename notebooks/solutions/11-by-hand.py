# Notebook 11, exercise: labkit-ex11 on labkit0 by hand, as labkit.net.attach does it.
# The namespace, then the pair with its peer born inside as eth0, the lease (the alias) on the host end,
# the host end plugged into the bridge, then the address, lo and eth0 up, and the default route inside.
commands = [
    "ip netns add labkit-ex11",
    "ip link add lkex11 type veth peer name eth0 netns labkit-ex11",
    "ip link set lkex11 alias 'ex11 10.88.0.99/16'",
    "ip link set lkex11 master labkit0 up",
    "ip -n labkit-ex11 addr add 10.88.0.99/16 dev eth0",
    "ip -n labkit-ex11 link set lo up",
    "ip -n labkit-ex11 link set eth0 up",
    "ip -n labkit-ex11 route add default via 10.88.0.1",
]
for command in commands:
    sh(command)
