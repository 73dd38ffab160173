// CUDA kernel of lab::soft_nms. Soft-NMS is sequential over the kept boxes, so one block
// runs it: each step the threads find the best alive box (block-wide arg-max), then decay
// the scores of the others in parallel.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "ops/common/box_math.h"
#include "ops/common/checks.h"
#include "ops/common/soft_nms_math.h"
#include "ops/cuda/cuda_helpers.cuh"

namespace lab {
namespace {

constexpr int kSoftNmsThreads = 1024;

// Is (score a, index i) ahead of (score b, index j)? Higher score, then lower index.
template <typename T>
__device__ bool ahead(T a, int64_t i, T b, int64_t j) {
  return j < 0 || (i >= 0 && (a > b || (a == b && i < j)));
}

template <typename T>
__global__ void soft_nms_kernel(
    int64_t n, const T* boxes, T* score, uint8_t* alive, T iou_threshold, T sigma, T min_score,
    int64_t method, int64_t* keep, T* kept_score, int64_t* num_kept) {
  __shared__ T best_score[kSoftNmsThreads];
  __shared__ int64_t best_index[kSoftNmsThreads];
  const int tid = threadIdx.x;
  for (int64_t i = tid; i < n; i += blockDim.x) alive[i] = score[i] >= min_score;
  __syncthreads();
  int64_t count = 0;
  while (true) {
    T s = 0;
    int64_t idx = -1;
    for (int64_t i = tid; i < n; i += blockDim.x) {
      if (alive[i] && ahead(score[i], i, s, idx)) {
        s = score[i];
        idx = i;
      }
    }
    best_score[tid] = s;
    best_index[tid] = idx;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
      if (tid < stride &&
          ahead(best_score[tid + stride], best_index[tid + stride], best_score[tid], best_index[tid])) {
        best_score[tid] = best_score[tid + stride];
        best_index[tid] = best_index[tid + stride];
      }
      __syncthreads();
    }
    const int64_t best = best_index[0];
    const T top = best_score[0];
    __syncthreads();  // everyone has read the winner before the next step overwrites it
    if (best < 0) break;
    if (tid == 0) {
      keep[count] = best;
      kept_score[count] = top;
      alive[best] = 0;
    }
    ++count;
    const T* b = boxes + 4 * best;
    const T area_b = boxes::area(b);
    for (int64_t j = tid; j < n; j += blockDim.x) {
      if (!alive[j] || j == best) continue;
      const T* c = boxes + 4 * j;
      const T iou = boxes::iou(b, c, area_b, boxes::area(c));
      if (iou > T(0)) {
        score[j] *= soft::decay(iou, iou_threshold, sigma, method);
        if (score[j] < min_score) alive[j] = 0;
      }
    }
    __syncthreads();
  }
  if (tid == 0) *num_kept = count;
}

std::tuple<at::Tensor, at::Tensor> soft_nms_cuda(
    const at::Tensor& boxes_in, const at::Tensor& scores_in, double iou_threshold, double sigma,
    double min_score, int64_t method) {
  check_scored_boxes(boxes_in, scores_in, 4, "soft_nms");
  TORCH_CHECK(method == soft::kLinear || method == soft::kGaussian,
              "soft_nms: method must be 0 (linear) or 1 (gaussian), got ", method);
  TORCH_CHECK(method != soft::kGaussian || sigma > 0, "soft_nms: sigma must be > 0, got ", sigma);
  const c10::cuda::CUDAGuard guard(boxes_in.device());
  const int64_t n = boxes_in.size(0);
  at::Tensor keep = at::empty({n}, boxes_in.options().dtype(at::kLong));
  at::Tensor kept_scores;
  at::Tensor num_kept = at::zeros({1}, boxes_in.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, boxes_in.scalar_type(), "soft_nms_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const auto wide = c10::CppTypeToScalarType<T>();
    const at::Tensor boxes = boxes_in.to(wide).contiguous();
    at::Tensor score = scores_in.to(wide).contiguous().clone();
    at::Tensor alive = at::empty({n}, boxes_in.options().dtype(at::kByte));
    at::Tensor kept = at::empty({n}, score.options());
    if (n > 0) {
      soft_nms_kernel<T><<<1, kSoftNmsThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
          n, boxes.const_data_ptr<T>(), score.mutable_data_ptr<T>(),
          alive.mutable_data_ptr<uint8_t>(), static_cast<T>(iou_threshold), static_cast<T>(sigma),
          static_cast<T>(min_score), method, keep.mutable_data_ptr<int64_t>(),
          kept.mutable_data_ptr<T>(), num_kept.mutable_data_ptr<int64_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    kept_scores = kept.to(scores_in.scalar_type());
  });
  const int64_t count = num_kept.item<int64_t>();
  return {keep.narrow(0, 0, count), kept_scores.narrow(0, 0, count)};
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CUDA, m) {
  m.impl("soft_nms", &soft_nms_cuda);
}

}  // namespace lab
