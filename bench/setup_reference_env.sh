#!/usr/bin/env bash
# Build the separate environment holding the authors' package (astromer 0.1.8) for bench/bench_vs_reference.py.
# Usage: bash bench/setup_reference_env.sh [DIR]   (default: .bench-env/ in the repo root, git-ignored)
# The package is installed with --no-deps: its declared requirements (sphinx, pytest, unpinned tensorflow ...)
# are not what it imports. We install exactly what `import ASTROMER.models, ASTROMER.preprocessing` needs,
# pinned through bench/reference-constraints.txt (a freeze of a working env). Run it with TF_USE_LEGACY_KERAS=1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
env_dir="${1:-$root/.bench-env}"
python="${PYTHON:-python3.11}"
stamp="$env_dir/.astromer-reference-ok"

if [ -f "$stamp" ] && cmp -s "$stamp" "$here/reference-constraints.txt"; then
    echo "reference env already set up: $env_dir"
    exit 0
fi
start=$(date +%s)
[ -x "$env_dir/bin/python" ] || "$python" -m venv "$env_dir"
pip=("$env_dir/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --no-deps astromer==0.1.8
# What the package imports at `import ASTROMER.models` (found by importing it): tensorflow (+ tf-keras under
# TF_USE_LEGACY_KERAS=1), tqdm, pandas, tensorboard, joblib, requests.
"${pip[@]}" -c "$here/reference-constraints.txt" \
    tensorflow-cpu==2.21.0 tf-keras==2.21.0 tensorboard==2.21.0 tqdm==4.70.1 pandas==3.1.1 joblib==1.6.0 \
    requests==2.34.2 numpy==2.4.6
# Import check; TERM=dumb keeps the package's os.system('clear') at import from wiping the terminal.
TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 TERM=dumb "$env_dir/bin/python" -c \
    "import ASTROMER.models, ASTROMER.preprocessing, tf_keras, tensorflow as tf; print('reference env OK: tensorflow', tf.__version__, 'tf-keras', tf_keras.__version__)"
cp "$here/reference-constraints.txt" "$stamp"
echo "reference env set up in $(( $(date +%s) - start )) s: $env_dir"
