#!/usr/bin/env bash
# .ci/check-includes passes on the library and fails, naming the file, on a copy with one include
# planted against the direction (a core header including a layer), and on one with a layer including oneTBB.
set -euo pipefail
repo=$1
bash "$repo/.ci/check-includes" "$repo/include/parcnn"
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp -r "$repo/include/parcnn" "$copy/"
echo '#include "parcnn/layers/layer.hpp"' >> "$copy/parcnn/core/range.hpp"
if out=$(bash "$repo/.ci/check-includes" "$copy/parcnn"); then
  echo "check-includes accepted core/range.hpp including parcnn/layers/"
  exit 1
fi
grep -q "core/range.hpp:.* includes parcnn/layers/ from core/" <<<"$out" || { echo "unexpected report: $out"; exit 1; }
echo "planted include rejected: $out"
# and a layer including oneTBB itself
rm -rf "$copy/parcnn" && cp -r "$repo/include/parcnn" "$copy/"
echo '#include <oneapi/tbb/task_arena.h>' >> "$copy/parcnn/layers/gelu.hpp"
if out=$(bash "$repo/.ci/check-includes" "$copy/parcnn"); then
  echo "check-includes accepted layers/gelu.hpp including oneTBB"
  exit 1
fi
grep -q "layers/gelu.hpp:.* includes oneTBB from layers/" <<<"$out" || { echo "unexpected report: $out"; exit 1; }
echo "planted oneTBB include rejected: $out"
