#!/usr/bin/env bash
# A separate virtual environment with the authors' package (astromer 0.1.8) for the side-by-side benchmark.
# It is installed with --no-deps (its pinned requirements do not resolve on Python 3.11 / TF 2.21) plus
# exactly what it imports, under TF_USE_LEGACY_KERAS=1 (Keras 2 via tf-keras). Idempotent.
set -euo pipefail
env_dir="${1:-$(dirname "$0")/../.bench-env}"
if [ -x "$env_dir/bin/python" ] && TF_USE_LEGACY_KERAS=1 "$env_dir/bin/python" -c "import ASTROMER, tf_keras" 2>/dev/null; then
  echo "reference env ready: $env_dir"; exit 0
fi
python3.11 -m venv "$env_dir"
"$env_dir/bin/pip" install -q tensorflow-cpu==2.21.0 tf-keras==2.21.0 tensorboard==2.21.0 requests==2.34.2 \
  pandas==3.1.1 numpy==2.4.6 tqdm==4.70.1 joblib==1.6.0
"$env_dir/bin/pip" install -q --no-deps astromer==0.1.8
TF_USE_LEGACY_KERAS=1 "$env_dir/bin/python" -c "import ASTROMER.models" >/dev/null
echo "reference env ready: $env_dir"
