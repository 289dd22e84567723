#!/usr/bin/env bash
# Trains the letter CNN on 1000 Fashion-MNIST images on 2 ranks for two epochs straight, and for one
# epoch with a checkpoint then one more resumed from it on every rank (train_distributed --resume), and
# fails unless both write the same weights, byte for byte.
#   resume.sh MPIEXEC TRAIN_DISTRIBUTED
set -euo pipefail
mpiexec=$1 distributed=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() { "$mpiexec" -np 2 "$distributed" --limit 1000 --threads 1 "$@" > /dev/null; }
run --epochs 2 --save "$dir/straight.safetensors"
run --epochs 1 --checkpoint "$dir/epoch1.checkpoint"
run --epochs 1 --resume "$dir/epoch1.checkpoint" --save "$dir/resumed.safetensors"
cmp "$dir/straight.safetensors" "$dir/resumed.safetensors"
echo "2 ranks: two epochs straight and one resumed from a checkpoint give the same weights"
