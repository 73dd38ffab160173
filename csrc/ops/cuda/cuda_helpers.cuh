// Launch and reduction helpers shared by the CUDA kernels.
#pragma once

// c10's CUDA headers only: ATen/cuda/CUDAContext.h would pull in cuBLAS and cuSPARSE
// headers, which a bare CUDA toolkit lacks, and slows every compile.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace lab::cuda {

constexpr int kThreads = 256;

inline unsigned int blocks_for(int64_t n, int threads = kThreads) {
  const int64_t max_blocks = 65535;
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min((n + threads - 1) / threads,
                                                                 max_blocks)));
}

// Sum of v over the block (kThreads threads); the result is valid in thread 0.
template <typename T>
__device__ T block_sum(T v) {
  __shared__ T partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffff, v, offset);
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = threadIdx.x < kThreads / 32 ? partial[lane] : T(0);
  if (warp == 0) {
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffff, v, offset);
  }
  return v;
}

}  // namespace lab::cuda

#define LAB_GRID_STRIDE_LOOP(i, n)                                                   \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)
