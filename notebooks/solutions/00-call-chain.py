# Notebook 00, exercise: the chain from Kubernetes to a container process.
# kubelet asks containerd (through CRI); containerd starts a shim; the shim runs runc; runc starts the process.
answer = ["kubelet", "containerd", "shim", "runc", "container"]
