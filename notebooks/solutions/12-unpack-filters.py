# Notebook 12, exercise: containerd pulling and unpacking an image, and nothing else.
# Image records publish on /images/...; unpacking prepares and commits snapshots whose keys start with
# "extract-" (the container's own snapshot is keyed by its id). Several filters match when any one does;
# ~= searches anywhere, so anchor the key's expression with ^.
answer = ['topic~="^/images/"', 'topic~="^/snapshot/",event.key~="^extract-"']
