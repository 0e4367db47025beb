"""Write snakemake.params.content (JSON text) to snakemake.output[0] as JSON, atomically (the model config file)."""

import json
import os
import tempfile

target = snakemake.output[0]  # noqa: F821  (injected by Snakemake)
folder = os.path.dirname(os.path.abspath(target))
os.makedirs(folder, exist_ok=True)
fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
with os.fdopen(fd, "w") as f:
    json.dump(json.loads(snakemake.params.content), f, indent=2, sort_keys=True)  # noqa: F821
    f.write("\n")
os.chmod(tmp, 0o644)  # mkstemp makes it private; results are meant to be read
os.replace(tmp, target)
