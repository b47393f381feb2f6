#!/usr/bin/env bash
# Reproduce the default checkpoints in checkpoints/ from scratch (CPU, 2 cores: about 100 minutes idle).
# Needs Fashion-MNIST: `apt-get install dataset-fashion-mnist`, or it is downloaded on first use.
# Training is deterministic on a given CPU; CPUs with native bf16 (AMX, AVX512-BF16) train the conv models in
# bf16 (vae_core/training/precision.py), others in float32, so the weights differ between the two kinds of CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-checkpoints}

train() {  # name, then flags
  local name=$1; shift
  python -m vae_core.train --data fashion-mnist --seed 0 --out "$OUT/$name" "$@"
}
# Each run holds out 5,000 training images (--validation) for its per-epoch figures; eval.json is the test split.
finish() {  # drop the resume state (not shipped: keeps the folder small), record test metrics and sample figures
  rm -f "$OUT/$1/training_state.safetensors" "$OUT/$1/prior/training_state.safetensors"
  python -m vae_core.evaluate "$OUT/$1" --json > "$OUT/$1/eval.json"
}

rm -rf "$OUT/fashion-vae" "$OUT/fashion-vqvae" "$OUT/fashion-vae-2d"
train fashion-vae     --model vae   --latent-dim 64 --width 64 --epochs 30  # beat latent 16, 32 and width 32 on the validation split
train fashion-vqvae   --model vqvae --num-codes 512 --code-dim 64 --epochs 12 --time-budget 1260 \
  --vq-likelihood discretized_logistic  # 10 epochs in the shipped run
train fashion-vae-2d  --model vae   --latent-dim 2 --epochs 20
python -m vae_core.train_prior "$OUT/fashion-vqvae" --layers 4 --dropout 0.1 --epochs 18 --time-budget 1800 \
  # its code grids: fashion-vqvae/prior/ (15 epochs in the shipped run)
for m in fashion-vae fashion-vae-2d; do python -m vae_core.fit_prior "$OUT/$m"; done  # a prior over z: <ckpt>/prior/
# the classifier whose features score the samples (evaluate's sample_fd, sample_precision, sample_recall)
[ -f classifiers/fashion-mnist/model.safetensors ] ||
  python -m vae_core.train_classifier --data fashion-mnist --out classifiers/fashion-mnist
for m in fashion-vae fashion-vqvae fashion-vae-2d; do finish $m; done
python -m explorer.precompute "$OUT"   # projection caches, so the app starts with nothing to fit
[ "$OUT" = checkpoints ] && python scripts/samples.py   # docs/samples-*.png for the README
