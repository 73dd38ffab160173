#!/usr/bin/env bash
# Prints the CUDA toolkit folder (the parent of the bin/ that holds the real nvcc), or
# nothing when no nvcc is installed. Sourced by .ci/run so CI compiles the CUDA kernels.
nvcc=$(command -v nvcc 2>/dev/null) || exit 0
# /usr/local/bin/nvcc may be a wrapper script: ask nvcc itself where it lives.
for candidate in "${CUDA_HOME:-}" /usr/local/cuda /usr/local/cuda-*; do
  if [ -n "$candidate" ] && [ -x "$candidate/bin/nvcc" ] && [ -f "$candidate/include/cuda_runtime.h" ]; then
    echo "$candidate"; exit 0
  fi
done
dirname "$(dirname "$(readlink -f "$nvcc")")"
