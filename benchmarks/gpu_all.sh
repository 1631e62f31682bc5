#!/usr/bin/env bash
# Every GPU measurement of the project in one run, for a machine with one CUDA device:
#   bash benchmarks/gpu_all.sh [OUTPUT_DIR]     (default benchmarks/results)
# Needs torch with CUDA and the package importable (pip install -e .). Writes gpu.md
# (training throughput per backbone-free architecture, batch and precision: gpu.py) and
# gpu_check.md (estimator checks, every backbone on CUDA, domain scaling: gpu_check.py).
set -euo pipefail
out="${1:-benchmarks/results}"
mkdir -p "$out"
cd "$(dirname "$0")/.."
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name())"
PYTHONPATH=. python benchmarks/gpu.py --output "$out/gpu.md"
PYTHONPATH=. python benchmarks/gpu_check.py --output "$out/gpu_check.md"
