# Notebook 05, exercise: lab/multiarch's linux/arm64 config, by hand.
# tag → index (resolve) → the arm64 entry → its manifest → the config blob it names, each fetched by digest.
head = httpx.head(f"{BASE}/lab/multiarch/manifests/latest", headers={"Accept": ACCEPT})
index = httpx.get(f"{BASE}/lab/multiarch/manifests/{head.headers['docker-content-digest']}", headers={"Accept": ACCEPT}).json()
entry = next(e for e in index["manifests"] if e["platform"]["os"] == "linux" and e["platform"]["architecture"] == "arm64")
arm64_manifest = httpx.get(f"{BASE}/lab/multiarch/manifests/{entry['digest']}", headers={"Accept": ACCEPT}).json()
answer = httpx.get(f"{BASE}/lab/multiarch/blobs/{arm64_manifest['config']['digest']}").json()
