// CPU kernels of lab::multi_scale_deformable_attention. The forward is parallel over
// (batch, query); the backward over (batch, head), whose gradients of value touch
// disjoint memory, so no atomics are needed. Neither materialises the sampled values.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/msda_math.h"

namespace lab {
namespace {

struct Sizes {
  int64_t batch, keys, heads, channels, queries, levels, points;
};

Sizes sizes_of(const at::Tensor& value, const at::Tensor& sampling_locations) {
  return {value.size(0), value.size(1), value.size(2), value.size(3), sampling_locations.size(1),
          sampling_locations.size(3), sampling_locations.size(4)};
}

at::Tensor msda_forward_cpu(
    const at::Tensor& value_in, const at::Tensor& spatial_shapes_in,
    const at::Tensor& level_start_index_in, const at::Tensor& sampling_locations_in,
    const at::Tensor& attention_weights_in) {
  check_msda_args(value_in, spatial_shapes_in, level_start_index_in, sampling_locations_in,
                  attention_weights_in);
  const at::Tensor value = value_in.contiguous();
  const at::Tensor shapes = spatial_shapes_in.contiguous();
  const at::Tensor starts = level_start_index_in.contiguous();
  const at::Tensor loc = sampling_locations_in.contiguous();
  const at::Tensor attn = attention_weights_in.contiguous();
  const Sizes s = sizes_of(value, loc);
  at::Tensor out = at::zeros({s.batch, s.queries, s.heads * s.channels}, value.options());
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "msda_forward_cpu", [&] {
    const scalar_t* pv = value.const_data_ptr<scalar_t>();
    const scalar_t* pl = loc.const_data_ptr<scalar_t>();
    const scalar_t* pa = attn.const_data_ptr<scalar_t>();
    const int64_t* ps = shapes.const_data_ptr<int64_t>();
    const int64_t* pst = starts.const_data_ptr<int64_t>();
    scalar_t* po = out.mutable_data_ptr<scalar_t>();
    const int64_t hd = s.heads * s.channels;
    at::parallel_for(0, s.batch * s.queries, 16, [&](int64_t begin, int64_t end) {
      for (int64_t bq = begin; bq < end; ++bq) {
        const int64_t b = bq / s.queries;
        scalar_t* row = po + bq * hd;
        for (int64_t h = 0; h < s.heads; ++h) {
          scalar_t* acc = row + h * s.channels;
          for (int64_t l = 0; l < s.levels; ++l) {
            const scalar_t* level = pv + ((b * s.keys + pst[l]) * s.heads + h) * s.channels;
            for (int64_t p = 0; p < s.points; ++p) {
              const int64_t sample = ((bq * s.heads + h) * s.levels + l) * s.points + p;
              const auto c = msda::corners<scalar_t>(pl[2 * sample], pl[2 * sample + 1],
                                                     ps[2 * l], ps[2 * l + 1]);
              if (!c.inside) continue;
              const scalar_t a = pa[sample];
              for (int k = 0; k < 4; ++k) {
                if (c.offset[k] < 0) continue;
                const scalar_t wk = a * c.weight[k];
                const scalar_t* v = level + c.offset[k] * hd;
                for (int64_t d = 0; d < s.channels; ++d) acc[d] += wk * v[d];
              }
            }
          }
        }
      }
    });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> msda_backward_cpu(
    const at::Tensor& grad_output_in, const at::Tensor& value_in,
    const at::Tensor& spatial_shapes_in, const at::Tensor& level_start_index_in,
    const at::Tensor& sampling_locations_in, const at::Tensor& attention_weights_in) {
  check_msda_args(value_in, spatial_shapes_in, level_start_index_in, sampling_locations_in,
                  attention_weights_in);
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
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "msda_backward_cpu", [&] {
    const scalar_t* pv = value.const_data_ptr<scalar_t>();
    const scalar_t* pl = loc.const_data_ptr<scalar_t>();
    const scalar_t* pa = attn.const_data_ptr<scalar_t>();
    const scalar_t* pg = grad_output.const_data_ptr<scalar_t>();
    const int64_t* ps = shapes.const_data_ptr<int64_t>();
    const int64_t* pst = starts.const_data_ptr<int64_t>();
    scalar_t* gv = grad_value.mutable_data_ptr<scalar_t>();
    scalar_t* gl = grad_loc.mutable_data_ptr<scalar_t>();
    scalar_t* ga = grad_attn.mutable_data_ptr<scalar_t>();
    const int64_t hd = s.heads * s.channels;
    at::parallel_for(0, s.batch * s.heads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / s.heads;
        const int64_t h = bh % s.heads;
        for (int64_t q = 0; q < s.queries; ++q) {
          const int64_t bq = b * s.queries + q;
          const scalar_t* top = pg + bq * hd + h * s.channels;
          for (int64_t l = 0; l < s.levels; ++l) {
            const int64_t level_offset = ((b * s.keys + pst[l]) * s.heads + h) * s.channels;
            const int64_t lh = ps[2 * l];
            const int64_t lw = ps[2 * l + 1];
            for (int64_t p = 0; p < s.points; ++p) {
              const int64_t sample = ((bq * s.heads + h) * s.levels + l) * s.points + p;
              const auto c = msda::corners<scalar_t>(pl[2 * sample], pl[2 * sample + 1], lh, lw);
              if (!c.inside) continue;
              const scalar_t a = pa[sample];
              // dot[k] = <grad_output, value at corner k>; the gradients of the attention
              // weight and of the location are bilinear combinations of these four dots.
              scalar_t dot[4] = {0, 0, 0, 0};
              for (int k = 0; k < 4; ++k) {
                if (c.offset[k] < 0) continue;
                const int64_t at = level_offset + c.offset[k] * hd;
                const scalar_t* v = pv + at;
                scalar_t* g = gv + at;
                const scalar_t scale = a * c.weight[k];
                scalar_t acc = 0;
                for (int64_t d = 0; d < s.channels; ++d) {
                  acc += top[d] * v[d];
                  g[d] += top[d] * scale;
                }
                dot[k] = acc;
              }
              scalar_t g_attn = 0;
              for (int k = 0; k < 4; ++k) g_attn += c.weight[k] * dot[k];
              scalar_t g_x;
              scalar_t g_y;
              msda::coordinate_grads(c, dot, &g_x, &g_y);
              ga[sample] = g_attn;
              gl[2 * sample] = g_x * a * static_cast<scalar_t>(lw);
              gl[2 * sample + 1] = g_y * a * static_cast<scalar_t>(lh);
            }
          }
        }
      }
    });
  });
  return {grad_value, grad_loc, grad_attn};
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CPU, m) {
  m.impl("multi_scale_deformable_attention", &msda_forward_cpu);
  m.impl("multi_scale_deformable_attention_backward", &msda_backward_cpu);
}

}  // namespace lab
