#!/usr/bin/env bash
# A user's program (bench/forward_median.cpp: the letter CNN forward, batch 64, 2 threads) compiled as
# CMake's Release build does (-O3, no architecture flag) and with -march=native, both with -Wall -Wextra
# (any warning is printed), then run alternately ROUNDS times; prints each run's median ms and the
# instruction set the kernels chose.   bash bench/flags_compare.sh [ROUNDS] [BATCH] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5} batch=${2:-64} threads=${3:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for build in default native; do
  flags=(-std=c++17 -O3 -DNDEBUG -Wall -Wextra)
  [ "$build" = native ] && flags+=(-march=native)
  g++ "${flags[@]}" -Iinclude -isystem /usr/include/eigen3 bench/forward_median.cpp -o "$out/$build" -ltbb
done
echo "round default native   (ms, median of 200 forwards; batch $batch, $threads threads)"
for r in $(seq "$rounds"); do
  echo "$r $("$out/default" "$batch" "$threads") $("$out/native" "$batch" "$threads")"
done
