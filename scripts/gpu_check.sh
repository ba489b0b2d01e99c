#!/usr/bin/env bash
# The GPU figures of docs/performance.md in one call, on a machine with an NVIDIA GPU:
#   1. the bench's 2-D cases at batch 512, bf16, channels_last: project/raw, both arms;
#   2. seed-parallel: one train.parallel_seeds=16 job at width 8 vs 16 single runs (goal >= 6x);
#   3. `python train.py trainer=gpu` end to end.
# Writes gpu_check.json and gpu_check.md (with the card's name) in the checkout; ~6-8 min.
#
#   scripts/gpu_check.sh [--out PATH] [--rounds N] [--k K] [--skip throughput seeds default]
#   scripts/gpu_check.sh --dry-run      # CPU, a few steps each: tests the script, measures nothing
#
# A GPU machine without Hydra, W&B or mnist1d: first, on a machine with network, run
# ../shared/gpu/fetch-wheels.sh [--wandb] in the checkout (it fills .whl/), and bring .whl/
# along (and data/ for the MNIST-1D cache, if mnist1d's wheel is not there); this script
# installs them into /tmp/site. Without W&B the runs log to CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:src${PYTHONPATH:+:$PYTHONPATH}
export WANDB_MODE=${WANDB_MODE:-offline} WANDB_SILENT=${WANDB_SILENT:-true}
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
exec python3 -m biaslab.bench.gpu_check "$@"
