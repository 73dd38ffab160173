// CUDA kernels of lab::bbox_overlaps, one thread per output element, and of
// lab::bbox_overlaps_backward: one thread per pair when aligned; for pairwise overlaps one
// block per box, whose threads split the boxes of the other set and whose sum is written
// once, so the gradients need no atomics and are the same from run to run.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "ops/common/box_math.h"
#include "ops/common/checks.h"
#include "ops/cuda/cuda_helpers.cuh"

namespace lab {
namespace {

template <typename scalar_t, typename T>
__device__ void load_box(const scalar_t* box, T* out) {
  for (int c = 0; c < 4; ++c) out[c] = static_cast<T>(box[c]);
}

template <typename scalar_t, typename T>
__global__ void bbox_overlaps_kernel(
    int64_t n, int64_t m, bool aligned, const scalar_t* a, const scalar_t* b, int64_t mode, T eps,
    scalar_t* out) {
  const int64_t total = aligned ? n : n * m;
  LAB_GRID_STRIDE_LOOP(k, total) {
    const int64_t i = aligned ? k : k / m;
    const int64_t j = aligned ? k : k % m;
    T x[4];
    T y[4];
    load_box(a + 4 * i, x);
    load_box(b + 4 * j, y);
    out[k] = static_cast<scalar_t>(boxes::overlap(x, y, boxes::area(x), boxes::area(y), mode, eps));
  }
}

template <typename scalar_t, typename T>
__global__ void bbox_overlaps_backward_aligned_kernel(
    int64_t n, const T* grad, const scalar_t* a, const scalar_t* b, int64_t mode, T eps,
    scalar_t* grad1, scalar_t* grad2) {
  LAB_GRID_STRIDE_LOOP(i, n) {
    T x[4];
    T y[4];
    load_box(a + 4 * i, x);
    load_box(b + 4 * i, y);
    T gx[4] = {0, 0, 0, 0};
    T gy[4] = {0, 0, 0, 0};
    boxes::overlap_backward(x, y, mode, eps, grad[i], gx, gy);
    for (int c = 0; c < 4; ++c) {
      grad1[4 * i + c] = static_cast<scalar_t>(gx[c]);
      grad2[4 * i + c] = static_cast<scalar_t>(gy[c]);
    }
  }
}

// Gradient of the boxes of one set (boxes1 when of_first, else boxes2) from the [n, m]
// grad of the pairwise overlaps: block k owns box k of that set and sums over the other.
// Launched with cuda::kThreads threads per block.
template <typename scalar_t, typename T>
__global__ void bbox_overlaps_backward_pairwise_kernel(
    int64_t n, int64_t m, bool of_first, const T* grad, const scalar_t* a, const scalar_t* b,
    int64_t mode, T eps, scalar_t* out) {
  const int64_t count = of_first ? n : m;
  const int64_t others = of_first ? m : n;
  for (int64_t k = blockIdx.x; k < count; k += gridDim.x) {
    T own[4];
    load_box((of_first ? a : b) + 4 * k, own);
    T acc[4] = {0, 0, 0, 0};
    T unused[4] = {0, 0, 0, 0};
    for (int64_t t = threadIdx.x; t < others; t += blockDim.x) {
      T other[4];
      load_box((of_first ? b : a) + 4 * t, other);
      if (of_first) {
        boxes::overlap_backward(own, other, mode, eps, grad[k * m + t], acc, unused);
      } else {
        boxes::overlap_backward(other, own, mode, eps, grad[t * m + k], unused, acc);
      }
    }
    for (int c = 0; c < 4; ++c) {
      const T total = cuda::block_sum(acc[c]);
      if (threadIdx.x == 0) out[4 * k + c] = static_cast<scalar_t>(total);
      __syncthreads();  // block_sum's shared memory is reused by the next sum
    }
  }
}

at::Tensor bbox_overlaps_cuda(
    const at::Tensor& boxes1_in, const at::Tensor& boxes2_in, int64_t mode, bool aligned,
    double eps) {
  check_box_pair(boxes1_in, boxes2_in, 4, aligned, "bbox_overlaps");
  check_overlap_mode(mode, "bbox_overlaps");
  const c10::cuda::CUDAGuard guard(boxes1_in.device());
  const at::Tensor a = boxes1_in.contiguous();
  const at::Tensor b = boxes2_in.contiguous();
  const int64_t n = a.size(0);
  const int64_t m = b.size(0);
  at::Tensor out = aligned ? at::empty({n}, a.options()) : at::empty({n, m}, a.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "bbox_overlaps_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    bbox_overlaps_kernel<scalar_t, T>
        <<<cuda::blocks_for(out.numel()), cuda::kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
            n, m, aligned, a.const_data_ptr<scalar_t>(), b.const_data_ptr<scalar_t>(), mode,
            static_cast<T>(eps), out.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> bbox_overlaps_backward_cuda(
    const at::Tensor& grad_in, const at::Tensor& boxes1_in, const at::Tensor& boxes2_in,
    int64_t mode, bool aligned, double eps) {
  check_box_pair(boxes1_in, boxes2_in, 4, aligned, "bbox_overlaps_backward");
  check_overlaps_grad(grad_in, boxes1_in, boxes2_in, aligned);
  check_overlap_mode(mode, "bbox_overlaps_backward");
  const c10::cuda::CUDAGuard guard(boxes1_in.device());
  const at::Tensor a = boxes1_in.contiguous();
  const at::Tensor b = boxes2_in.contiguous();
  const int64_t n = a.size(0);
  const int64_t m = b.size(0);
  // Zeros: a box of one set gets no gradient when the other set is empty.
  at::Tensor grad1 = at::zeros({n, 4}, a.options());
  at::Tensor grad2 = at::zeros({m, 4}, b.options());
  if (grad_in.numel() == 0) return {grad1, grad2};
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, a.scalar_type(), "bbox_overlaps_backward_cuda", [&] {
        using T = at::opmath_type<scalar_t>;
        const at::Tensor grad = grad_in.to(c10::CppTypeToScalarType<T>()).contiguous();
        const T* pg = grad.const_data_ptr<T>();
        const scalar_t* pa = a.const_data_ptr<scalar_t>();
        const scalar_t* pb = b.const_data_ptr<scalar_t>();
        const T e = static_cast<T>(eps);
        if (aligned) {
          bbox_overlaps_backward_aligned_kernel<scalar_t, T>
              <<<cuda::blocks_for(n), cuda::kThreads, 0, stream>>>(
                  n, pg, pa, pb, mode, e, grad1.mutable_data_ptr<scalar_t>(),
                  grad2.mutable_data_ptr<scalar_t>());
          C10_CUDA_KERNEL_LAUNCH_CHECK();
          return;
        }
        for (const bool of_first : {true, false}) {
          const int64_t count = of_first ? n : m;
          const auto blocks = static_cast<unsigned int>(std::min<int64_t>(count, 65535));
          bbox_overlaps_backward_pairwise_kernel<scalar_t, T>
              <<<blocks, cuda::kThreads, 0, stream>>>(
                  n, m, of_first, pg, pa, pb, mode, e,
                  (of_first ? grad1 : grad2).mutable_data_ptr<scalar_t>());
          C10_CUDA_KERNEL_LAUNCH_CHECK();
        }
      });
  return {grad1, grad2};
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CUDA, m) {
  m.impl("bbox_overlaps", &bbox_overlaps_cuda);
  m.impl("bbox_overlaps_backward", &bbox_overlaps_backward_cuda);
}

}  // namespace lab
