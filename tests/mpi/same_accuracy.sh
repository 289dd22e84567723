#!/usr/bin/env bash
# Trains the letter CNN on 2000 Fashion-MNIST images for one epoch in one process (train_fashion_mnist)
# and on 2 and 4 ranks of one thread (train_distributed; the gradients through shared memory on 2, as
# messages on 4), and fails unless all three report the same test accuracy, to the last digit: the same
# weights give the same predictions.
#   same_accuracy.sh MPIEXEC TRAIN_DISTRIBUTED TRAIN_FASHION_MNIST
set -euo pipefail
mpiexec=$1 distributed=$2 single=$3
accuracy() { sed -n 's/.*"test_accuracy":\([0-9.]*\).*/\1/p' | tail -n 1; }
one=$("$single" --limit 2000 --epochs 1 --threads 2 | accuracy)
two=$("$mpiexec" -np 2 "$distributed" --limit 2000 --threads 1 | accuracy)
four=$("$mpiexec" -np 4 "$distributed" --limit 2000 --threads 1 --transport messages | accuracy)
echo "test accuracy: one process $one, 2 ranks $two, 4 ranks $four"
[ -n "$one" ] && [ "$one" = "$two" ] && [ "$one" = "$four" ]
