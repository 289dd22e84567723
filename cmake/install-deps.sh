#!/usr/bin/env bash
# Installs the Debian 12 packages parcnn's build, tests, benchmarks and examples need, if any is
# missing. Runs apt-get as root, or through sudo; does nothing when everything is installed.
set -euo pipefail

# dataset-fashion-mnist: the training example and its CI run.
# --bench adds what bench/compare_pytorch.py and bench/train_vs_pytorch.py need: Debian's PyTorch and
# OpenBLAS (python3-torch depends only on the generic libblas3, which alone is the slow reference BLAS;
# libopenblas0-pthread takes over libblas.so.3 through the alternatives system), matplotlib for the plots.
# --mpi adds Open MPI for parcnn::mpi (PARCNN_WITH_MPI) and .ci/mpi: its headers and library, and mpirun.
# --sanitizers adds what .ci/sanitizers and .ci/fuzz need: clang with its sanitizer and libFuzzer
# runtimes, and llvm-symbolizer for readable reports (GCC's own sanitizer runtimes come with g++).
packages=(g++ cmake make libeigen3-dev libtbb-dev zlib1g-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev
          libcli11-dev dataset-fashion-mnist)
for option in "$@"; do
  case "$option" in
    --bench) packages+=(python3-torch libopenblas0-pthread python3-matplotlib) ;;
    --mpi) packages+=(libopenmpi-dev openmpi-bin) ;;
    --sanitizers) packages+=(clang-14 libclang-rt-14-dev llvm-14) ;;
    *) echo "install-deps: unknown option '$option' (known: --bench, --mpi, --sanitizers)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and neither root nor sudo is available" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
