#!/usr/bin/env bash
# Reproduce the default checkpoints in checkpoints/ from scratch (CPU: about 35 minutes on 2 cores).
# Needs Fashion-MNIST: `apt-get install dataset-fashion-mnist`, or it is downloaded on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-checkpoints}

train() {  # name, then flags
  local name=$1; shift
  rm -rf "$OUT/$name"
  python -m vae_core.train --data fashion-mnist --seed 0 --out "$OUT/$name" "$@"
  rm -f "$OUT/$name/training_state.safetensors"   # resume state: not shipped, keeps the folder small
  python -m vae_core.evaluate "$OUT/$name" --json > "$OUT/$name/eval.json"
}

train fashion-vae     --model vae   --latent-dim 16 --epochs 30
train fashion-vqvae   --model vqvae --num-codes 512 --code-dim 64 --epochs 20
train fashion-vae-2d  --model vae   --latent-dim 2 --epochs 20
python -m explorer.precompute "$OUT"   # projection caches, so the app starts with nothing to fit
