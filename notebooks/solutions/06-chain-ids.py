# Notebook 06, exercise: ChainIDs from DiffIDs (OCI image spec, config.md, "Layer ChainID").
# The base layer's ChainID is its DiffID; each next one hashes "<previous ChainID> <DiffID>", prefixes included.
import hashlib


def answer(diff_ids):
    chain = []
    for diff_id in diff_ids:
        if not chain:
            chain.append(diff_id)
        else:
            chain.append("sha256:" + hashlib.sha256(f"{chain[-1]} {diff_id}".encode()).hexdigest())
    return chain


print("matches the unpacked image:", answer(image.config["rootfs"]["diff_ids"])[-1] == top)
