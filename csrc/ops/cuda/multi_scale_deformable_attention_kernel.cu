// CUDA kernels of lab::multi_scale_deformable_attention. Forward: one thread per output
// element (b, q, h, d), so neighbouring threads read neighbouring channels. Backward: one
// thread per sample (b, q, h, l, p), looping over the channels; it owns the sample's
// location and weight gradients and adds into grad_value atomically.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/msda_math.h"
#include "ops/cuda/cuda_helpers.cuh"

namespace lab {
namespace {

struct Sizes {
  int64_t batch, keys, heads, channels, queries, levels, points;
};

Sizes sizes_of(const at::Tensor& value, const at::Tensor& sampling_locations) {
  return {value.size(0), value.size(1), value.size(2), value.size(3), sampling_locations.size(1),
          sampling_locations.size(3), sampling_locations.size(4)};
}

template <typename T>
__global__ void msda_forward_kernel(
    Sizes s, const T* value, const int64_t* shapes, const int64_t* starts, const T* loc,
    const T* attn, T* out) {
  const int64_t total = s.batch * s.queries * s.heads * s.channels;
  const int64_t hd = s.heads * s.channels;
  LAB_GRID_STRIDE_LOOP(k, total) {
    const int64_t d = k % s.channels;
    const int64_t h = (k / s.channels) % s.heads;
    const int64_t bq = k / hd;
    const int64_t b = bq / s.queries;
    T acc = 0;
    for (int64_t l = 0; l < s.levels; ++l) {
      const T* level = value + ((b * s.keys + starts[l]) * s.heads + h) * s.channels + d;
      for (int64_t p = 0; p < s.points; ++p) {
        const int64_t sample = ((bq * s.heads + h) * s.levels + l) * s.points + p;
        const auto c = msda::corners<T>(loc[2 * sample], loc[2 * sample + 1], shapes[2 * l],
                                        shapes[2 * l + 1]);
        if (!c.inside) continue;
        T sampled = 0;
        for (int j = 0; j < 4; ++j) {
          if (c.offset[j] >= 0) sampled += c.weight[j] * level[c.offset[j] * hd];
        }
        acc += attn[sample] * sampled;
      }
    }
    out[k] = acc;
  }
}

template <typename T>
__global__ void msda_backward_kernel(
    Sizes s, const T* grad_output, const T* value, const int64_t* shapes, const int64_t* starts,
    const T* loc, const T* attn, T* grad_value, T* grad_loc, T* grad_attn) {
  const int64_t total = s.batch * s.queries * s.heads * s.levels * s.points;
  const int64_t hd = s.heads * s.channels;
  LAB_GRID_STRIDE_LOOP(sample, total) {
    const int64_t l = (sample / s.points) % s.levels;
    const int64_t h = (sample / (s.points * s.levels)) % s.heads;
    const int64_t bq = sample / (s.points * s.levels * s.heads);
    const int64_t b = bq / s.queries;
    const int64_t lh = shapes[2 * l];
    const int64_t lw = shapes[2 * l + 1];
    const auto c = msda::corners<T>(loc[2 * sample], loc[2 * sample + 1], lh, lw);
    T g_attn = 0;
    T g_x = 0;
    T g_y = 0;
    if (c.inside) {
      const int64_t level_offset = ((b * s.keys + starts[l]) * s.heads + h) * s.channels;
      const T a = attn[sample];
      const T* top = grad_output + bq * hd + h * s.channels;
      for (int64_t d = 0; d < s.channels; ++d) {
        T v[4];
        T sampled = 0;
        for (int j = 0; j < 4; ++j) {
          v[j] = 0;
          if (c.offset[j] < 0) continue;
          const int64_t at = level_offset + c.offset[j] * hd + d;
          v[j] = value[at];
          sampled += c.weight[j] * v[j];
          atomicAdd(grad_value + at, top[d] * a * c.weight[j]);
        }
        T dx;
        T dy;
        msda::coordinate_grads(c, v, &dx, &dy);
        g_attn += top[d] * sampled;
        g_x += top[d] * dx;
        g_y += top[d] * dy;
      }
      g_x *= a * static_cast<T>(lw);
      g_y *= a * static_cast<T>(lh);
    }
    grad_attn[sample] = g_attn;
    grad_loc[2 * sample] = g_x;
    grad_loc[2 * sample + 1] = g_y;
  }
}

at::Tensor msda_forward_cuda(
    const at::Tensor& value_in, const at::Tensor& spatial_shapes_in,
    const at::Tensor& level_start_index_in, const at::Tensor& sampling_locations_in,
    const at::Tensor& attention_weights_in) {
  check_msda_args(value_in, spatial_shapes_in, level_start_index_in, sampling_locations_in,
                  attention_weights_in);
  const c10::cuda::CUDAGuard guard(value_in.device());
  const at::Tensor value = value_in.contiguous();
  const at::Tensor shapes = spatial_shapes_in.contiguous();
  const at::Tensor starts = level_start_index_in.contiguous();
  const at::Tensor loc = sampling_locations_in.contiguous();
  const at::Tensor attn = attention_weights_in.contiguous();
  const Sizes s = sizes_of(value, loc);
  at::Tensor out = at::empty({s.batch, s.queries, s.heads * s.channels}, value.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "msda_forward_cuda", [&] {
    msda_forward_kernel<scalar_t>
        <<<cuda::blocks_for(out.numel()), cuda::kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
            s, value.const_data_ptr<scalar_t>(), shapes.const_data_ptr<int64_t>(),
            starts.const_data_ptr<int64_t>(), loc.const_data_ptr<scalar_t>(),
            attn.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> msda_backward_cuda(
    const at::Tensor& grad_output_in, const at::Tensor& value_in,
    const at::Tensor& spatial_shapes_in, const at::Tensor& level_start_index_in,
    const at::Tensor& sampling_locations_in, const at::Tensor& attention_weights_in) {
  check_msda_args(value_in, spatial_shapes_in, level_start_index_in, sampling_locations_in,
                  attention_weights_in);
  const c10::cuda::CUDAGuard guard(value_in.device());
  const at::Tensor value = value_in.contiguous();
  const at::Tensor shapes = spatial_shapes_in.contiguous();
  const at::Tensor starts = level_start_index_in.contiguous();
  const at::Tensor loc = sampling_locations_in.contiguous();
  const at::Tensor attn = attention_weights_in.contiguous();
  const Sizes s = sizes_of(value, loc);
  const at::Tensor grad_output =
      grad_output_in.expand({s.batch, s.queries, s.heads * s.channels}).contiguous();
  at::Tensor grad_value = at::zeros_like(value);
  at::Tensor grad_loc = at::zeros_like(loc);
  at::Tensor grad_attn = at::zeros_like(attn);
  if (attn.numel() == 0) return {grad_value, grad_loc, grad_attn};
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "msda_backward_cuda", [&] {
    msda_backward_kernel<scalar_t>
        <<<cuda::blocks_for(attn.numel()), cuda::kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
            s, grad_output.const_data_ptr<scalar_t>(), value.const_data_ptr<scalar_t>(),
            shapes.const_data_ptr<int64_t>(), starts.const_data_ptr<int64_t>(),
            loc.const_data_ptr<scalar_t>(), attn.const_data_ptr<scalar_t>(),
            grad_value.mutable_data_ptr<scalar_t>(), grad_loc.mutable_data_ptr<scalar_t>(),
            grad_attn.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {grad_value, grad_loc, grad_attn};
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CUDA, m) {
  m.impl("multi_scale_deformable_attention", &msda_forward_cuda);
  m.impl("multi_scale_deformable_attention_backward", &msda_backward_cuda);
}

}  // namespace lab
