# JupyterHub for a Runtime Lab workshop: one shared Linux server, every attendee an ordinary system user.
#
# Each attendee logs in with a system account (PAM) and gets their own single-user Jupyter server,
# started by the hub *as that user* (LocalProcessSpawner). Their kernels are ordinary processes, so
# `labkit doctor` puts them in the rootless tier: user namespaces, rootless runc, fetch, unpack, the
# supervisor and its events, each under the attendee's own lab root (~/.local/share/labkit, runc's
# state in its runc/). The lab registry runs once, for everyone, on loopback. See docs/workshops.md.
#
#   sudo /opt/runtime-lab/venv/bin/jupyterhub -f /opt/runtime-lab/jupyterhub_config.py
#
# `c` is the configuration object JupyterHub hands to this file.

import shutil
from pathlib import Path

LAB = Path("/opt/runtime-lab")          # a clone of the repository, readable by all
VENV = LAB / "venv"                     # python3 -m venv; pip install jupyterhub jupyterlab -e LAB

c = get_config()  # noqa: F821 - provided by JupyterHub

c.JupyterHub.bind_url = "http://:8000"  # put a TLS-terminating proxy in front for anything but a closed room
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = {f"attendee{n:02d}" for n in range(1, 13)}  # the accounts made for the room
c.Authenticator.admin_users = {"trainer"}

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(VENV / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab/tree/runtime-lab/notebooks/index.ipynb"
c.Spawner.environment = {
    "LABKIT_REGISTRY": "127.0.0.1:5000",   # the shared lab registry (plain HTTP on loopback)
    "PATH": f"{VENV / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin",
}
# No LABKIT_ROOT: as an ordinary user labkit keeps everything under ~/.local/share/labkit.
# Nothing here can cap an attendee's memory or CPU: LocalProcessSpawner does not enforce
# mem_limit/cpu_limit, and ordinary users get no cgroups on a cgroup v1 host. Size the room instead.
c.Spawner.start_timeout = 60


def _copy_notebooks(spawner) -> None:
    """Give each attendee their own copy of the notebooks to write in, once."""
    import pwd

    user = pwd.getpwnam(spawner.user.name)
    target = Path(user.pw_dir) / "runtime-lab" / "notebooks"
    if not target.exists():
        shutil.copytree(LAB / "notebooks", target)
        for path in [target.parent, target, *target.rglob("*")]:
            shutil.chown(path, user.pw_uid, user.pw_gid)


c.Spawner.pre_spawn_hook = _copy_notebooks

# Stop servers idle for 30 minutes (pip install jupyterhub-idle-culler).
c.JupyterHub.load_roles = [{"name": "idle-culler",
                            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
                            "services": ["idle-culler"]}]
c.JupyterHub.services = [{"name": "idle-culler",
                          "command": [str(VENV / "bin" / "python3"), "-m", "jupyterhub_idle_culler", "--timeout=1800"]}]
