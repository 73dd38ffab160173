// CUDA kernel of lab::nms_rotated, the bit-mask scheme of torchvision's nms: blocks of 64
// boxes (sorted by score) compare against blocks of 64 and write a 64-bit mask of the
// boxes each one suppresses; the greedy pass over the masks runs on the host.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/rotated_box_math.h"
#include "ops/cuda/cuda_helpers.cuh"

namespace lab {
namespace {

constexpr int kBoxesPerBlock = 64;

template <typename T>
__global__ void nms_rotated_mask_kernel(
    int64_t n, T iou_threshold, const T* boxes, unsigned long long* mask) {
  const int row_block = blockIdx.y;
  const int col_block = blockIdx.x;
  if (row_block > col_block) return;
  const int rows = min(static_cast<int64_t>(kBoxesPerBlock), n - row_block * kBoxesPerBlock);
  const int cols = min(static_cast<int64_t>(kBoxesPerBlock), n - col_block * kBoxesPerBlock);
  __shared__ T block_boxes[kBoxesPerBlock * 5];
  if (threadIdx.x < cols) {
    for (int c = 0; c < 5; ++c) {
      block_boxes[threadIdx.x * 5 + c] = boxes[(kBoxesPerBlock * col_block + threadIdx.x) * 5 + c];
    }
  }
  __syncthreads();
  if (threadIdx.x >= rows) return;
  const int64_t i = kBoxesPerBlock * row_block + threadIdx.x;
  const T* box = boxes + i * 5;
  unsigned long long bits = 0;
  const int start = row_block == col_block ? threadIdx.x + 1 : 0;
  for (int c = start; c < cols; ++c) {
    if (rotated::iou(box, block_boxes + c * 5) > iou_threshold) bits |= 1ULL << c;
  }
  const int64_t col_blocks = (n + kBoxesPerBlock - 1) / kBoxesPerBlock;
  mask[i * col_blocks + col_block] = bits;
}

at::Tensor nms_rotated_cuda(const at::Tensor& boxes_in, const at::Tensor& scores, double iou_threshold) {
  check_scored_boxes(boxes_in, scores, 5, "nms_rotated");
  const c10::cuda::CUDAGuard guard(boxes_in.device());
  const int64_t n = boxes_in.size(0);
  if (n == 0) return at::empty({0}, boxes_in.options().dtype(at::kLong));
  const at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const int64_t col_blocks = (n + kBoxesPerBlock - 1) / kBoxesPerBlock;
  at::Tensor mask = at::empty({n * col_blocks}, boxes_in.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, boxes_in.scalar_type(), "nms_rotated_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const at::Tensor sorted = boxes_in.index_select(0, order).to(c10::CppTypeToScalarType<T>()).contiguous();
    const dim3 blocks(col_blocks, col_blocks);
    nms_rotated_mask_kernel<T><<<blocks, kBoxesPerBlock, 0, c10::cuda::getCurrentCUDAStream()>>>(
        n, static_cast<T>(iou_threshold), sorted.const_data_ptr<T>(),
        reinterpret_cast<unsigned long long*>(mask.mutable_data_ptr<int64_t>()));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  const at::Tensor mask_cpu = mask.cpu();
  const auto* bits = reinterpret_cast<const unsigned long long*>(mask_cpu.const_data_ptr<int64_t>());
  std::vector<unsigned long long> removed(col_blocks, 0);
  at::Tensor keep_sorted = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  int64_t* pk = keep_sorted.mutable_data_ptr<int64_t>();
  int64_t num_kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t block = i / kBoxesPerBlock;
    const int64_t bit = i % kBoxesPerBlock;
    if (removed[block] & (1ULL << bit)) continue;
    pk[num_kept++] = i;
    const unsigned long long* row = bits + i * col_blocks;
    for (int64_t j = block; j < col_blocks; ++j) removed[j] |= row[j];
  }
  const at::Tensor kept = keep_sorted.narrow(0, 0, num_kept).to(order.device(), /*non_blocking=*/false);
  return order.index_select(0, kept);
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CUDA, m) {
  m.impl("nms_rotated", &nms_rotated_cuda);
}

}  // namespace lab
