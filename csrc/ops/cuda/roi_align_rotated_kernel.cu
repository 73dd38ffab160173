// CUDA kernels of lab::roi_align_rotated, one thread per output element, and of
// lab::roi_align_rotated_backward, one thread per element of grad, adding into the input's
// gradient with atomicAdd (so the order of the additions, and the last bits of the result,
// may differ from run to run).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/roi_align_rotated_math.h"
#include "ops/cuda/cuda_helpers.cuh"

namespace lab {
namespace {

using roi_rotated::bilinear_weights;
using roi_rotated::roi_geometry;
using roi_rotated::sample_position;

template <typename T>
__global__ void roi_align_rotated_kernel(
    int64_t total, const T* input, const T* rois, T spatial_scale, int64_t batch,
    int64_t channels, int height, int width, int pooled_height, int pooled_width,
    int sampling_ratio, bool aligned, T* out) {
  LAB_GRID_STRIDE_LOOP(index, total) {
    const int pw = static_cast<int>(index % pooled_width);
    const int ph = static_cast<int>((index / pooled_width) % pooled_height);
    const int64_t c = (index / pooled_width / pooled_height) % channels;
    const int64_t r = index / pooled_width / pooled_height / channels;
    const T* roi = rois + 6 * r;
    const int64_t b = static_cast<int64_t>(roi[0]);
    if (b < 0 || b >= batch) {
      out[index] = T(0);
      continue;
    }
    const auto g = roi_geometry<T>(
        roi, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned);
    const T* map = input + (b * channels + c) * height * width;
    T sum = 0;
    for (int iy = 0; iy < g.grid_h; ++iy) {
      for (int ix = 0; ix < g.grid_w; ++ix) {
        T x, y, w00, w01, w10, w11;
        int y0, x0, y1, x1;
        sample_position(g, ph, pw, iy, ix, x, y);
        if (!bilinear_weights(height, width, y, x, y0, x0, y1, x1, w00, w01, w10, w11)) continue;
        sum += w00 * map[y0 * width + x0] + w01 * map[y0 * width + x1] +
               w10 * map[y1 * width + x0] + w11 * map[y1 * width + x1];
      }
    }
    out[index] = sum / g.count;
  }
}

template <typename T>
__global__ void roi_align_rotated_backward_kernel(
    int64_t total, const T* grad, const T* rois, T spatial_scale, int64_t batch,
    int64_t channels, int height, int width, int pooled_height, int pooled_width,
    int sampling_ratio, bool aligned, T* grad_input) {
  LAB_GRID_STRIDE_LOOP(index, total) {
    const int pw = static_cast<int>(index % pooled_width);
    const int ph = static_cast<int>((index / pooled_width) % pooled_height);
    const int64_t c = (index / pooled_width / pooled_height) % channels;
    const int64_t r = index / pooled_width / pooled_height / channels;
    const T* roi = rois + 6 * r;
    const int64_t b = static_cast<int64_t>(roi[0]);
    if (b < 0 || b >= batch) continue;
    const auto g = roi_geometry<T>(
        roi, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned);
    T* map = grad_input + (b * channels + c) * height * width;
    const T top = grad[index] / g.count;
    for (int iy = 0; iy < g.grid_h; ++iy) {
      for (int ix = 0; ix < g.grid_w; ++ix) {
        T x, y, w00, w01, w10, w11;
        int y0, x0, y1, x1;
        sample_position(g, ph, pw, iy, ix, x, y);
        if (!bilinear_weights(height, width, y, x, y0, x0, y1, x1, w00, w01, w10, w11)) continue;
        atomicAdd(map + y0 * width + x0, top * w00);
        atomicAdd(map + y0 * width + x1, top * w01);
        atomicAdd(map + y1 * width + x0, top * w10);
        atomicAdd(map + y1 * width + x1, top * w11);
      }
    }
  }
}

at::Tensor roi_align_rotated_cuda(
    const at::Tensor& input_in, const at::Tensor& rois_in, double spatial_scale,
    int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio, bool aligned) {
  check_roi_align_rotated_args(input_in, rois_in, pooled_height, pooled_width, sampling_ratio);
  const c10::cuda::CUDAGuard guard(input_in.device());
  const at::Tensor input = input_in.contiguous();
  const at::Tensor rois = rois_in.contiguous();
  const int64_t channels = input.size(1);
  at::Tensor out =
      at::zeros({rois.size(0), channels, pooled_height, pooled_width}, input.options());
  if (out.numel() == 0 || input.size(2) == 0 || input.size(3) == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_align_rotated_cuda", [&] {
    roi_align_rotated_kernel<scalar_t>
        <<<cuda::blocks_for(out.numel()), cuda::kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
            out.numel(), input.const_data_ptr<scalar_t>(), rois.const_data_ptr<scalar_t>(),
            static_cast<scalar_t>(spatial_scale), input.size(0), channels,
            static_cast<int>(input.size(2)), static_cast<int>(input.size(3)),
            static_cast<int>(pooled_height), static_cast<int>(pooled_width),
            static_cast<int>(sampling_ratio), aligned, out.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

at::Tensor roi_align_rotated_backward_cuda(
    const at::Tensor& grad_in, const at::Tensor& rois_in, double spatial_scale,
    int64_t pooled_height, int64_t pooled_width, int64_t batch, int64_t channels, int64_t height,
    int64_t width, int64_t sampling_ratio, bool aligned) {
  check_roi_align_rotated_grad(
      grad_in, rois_in, channels, pooled_height, pooled_width, batch, height, width);
  const c10::cuda::CUDAGuard guard(grad_in.device());
  const at::Tensor grad = grad_in.contiguous();
  const at::Tensor rois = rois_in.contiguous();
  at::Tensor grad_input = at::zeros({batch, channels, height, width}, grad.options());
  if (grad.numel() == 0 || height == 0 || width == 0) return grad_input;
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "roi_align_rotated_backward_cuda", [&] {
    roi_align_rotated_backward_kernel<scalar_t>
        <<<cuda::blocks_for(grad.numel()), cuda::kThreads, 0,
           c10::cuda::getCurrentCUDAStream()>>>(
            grad.numel(), grad.const_data_ptr<scalar_t>(), rois.const_data_ptr<scalar_t>(),
            static_cast<scalar_t>(spatial_scale), batch, channels, static_cast<int>(height),
            static_cast<int>(width), static_cast<int>(pooled_height),
            static_cast<int>(pooled_width), static_cast<int>(sampling_ratio), aligned,
            grad_input.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CUDA, m) {
  m.impl("roi_align_rotated", &roi_align_rotated_cuda);
  m.impl("roi_align_rotated_backward", &roi_align_rotated_backward_cuda);
}

}  // namespace lab
