// CPU kernels of lab::roi_align_rotated, parallel over (RoI, channel) planes, and of
// lab::roi_align_rotated_backward, parallel over channels so that no two threads add into
// the same input pixel.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/roi_align_rotated_math.h"

namespace lab {
namespace {

using roi_rotated::bilinear_weights;
using roi_rotated::roi_geometry;
using roi_rotated::sample_position;

at::Tensor roi_align_rotated_cpu(
    const at::Tensor& input_in, const at::Tensor& rois_in, double spatial_scale,
    int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio, bool aligned) {
  check_roi_align_rotated_args(input_in, rois_in, pooled_height, pooled_width, sampling_ratio);
  const at::Tensor input = input_in.contiguous();
  const at::Tensor rois = rois_in.contiguous();
  const int64_t num_rois = rois.size(0);
  const int64_t batch = input.size(0);
  const int64_t channels = input.size(1);
  const int height = static_cast<int>(input.size(2));
  const int width = static_cast<int>(input.size(3));
  const int ph_count = static_cast<int>(pooled_height);
  const int pw_count = static_cast<int>(pooled_width);
  at::Tensor out = at::zeros({num_rois, channels, pooled_height, pooled_width}, input.options());
  if (out.numel() == 0 || height == 0 || width == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_align_rotated_cpu", [&] {
    const scalar_t* pi = input.const_data_ptr<scalar_t>();
    const scalar_t* pr = rois.const_data_ptr<scalar_t>();
    scalar_t* po = out.mutable_data_ptr<scalar_t>();
    const int64_t plane = static_cast<int64_t>(ph_count) * pw_count;
    at::parallel_for(0, num_rois * channels, 16, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        const int64_t r = k / channels;
        const int64_t c = k % channels;
        const scalar_t* roi = pr + 6 * r;
        const int64_t b = static_cast<int64_t>(roi[0]);
        if (b < 0 || b >= batch) continue;  // no such image: zeros
        const auto g = roi_geometry<scalar_t>(
            roi, static_cast<scalar_t>(spatial_scale), ph_count, pw_count,
            static_cast<int>(sampling_ratio), aligned);
        const scalar_t* map = pi + (b * channels + c) * height * width;
        scalar_t* dst = po + k * plane;
        for (int ph = 0; ph < ph_count; ++ph) {
          for (int pw = 0; pw < pw_count; ++pw) {
            scalar_t sum = 0;
            for (int iy = 0; iy < g.grid_h; ++iy) {
              for (int ix = 0; ix < g.grid_w; ++ix) {
                scalar_t x, y, w00, w01, w10, w11;
                int y0, x0, y1, x1;
                sample_position(g, ph, pw, iy, ix, x, y);
                if (!bilinear_weights(height, width, y, x, y0, x0, y1, x1, w00, w01, w10, w11)) {
                  continue;
                }
                sum += w00 * map[y0 * width + x0] + w01 * map[y0 * width + x1] +
                       w10 * map[y1 * width + x0] + w11 * map[y1 * width + x1];
              }
            }
            dst[ph * pw_count + pw] = sum / g.count;
          }
        }
      }
    });
  });
  return out;
}

at::Tensor roi_align_rotated_backward_cpu(
    const at::Tensor& grad_in, const at::Tensor& rois_in, double spatial_scale,
    int64_t pooled_height, int64_t pooled_width, int64_t batch, int64_t channels, int64_t height,
    int64_t width, int64_t sampling_ratio, bool aligned) {
  check_roi_align_rotated_grad(
      grad_in, rois_in, channels, pooled_height, pooled_width, batch, height, width);
  const at::Tensor grad = grad_in.contiguous();
  const at::Tensor rois = rois_in.contiguous();
  at::Tensor grad_input = at::zeros({batch, channels, height, width}, grad.options());
  if (grad.numel() == 0 || height == 0 || width == 0) return grad_input;
  const int64_t num_rois = rois.size(0);
  const int h = static_cast<int>(height);
  const int w = static_cast<int>(width);
  const int ph_count = static_cast<int>(pooled_height);
  const int pw_count = static_cast<int>(pooled_width);
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "roi_align_rotated_backward_cpu", [&] {
    const scalar_t* pg = grad.const_data_ptr<scalar_t>();
    const scalar_t* pr = rois.const_data_ptr<scalar_t>();
    scalar_t* pi = grad_input.mutable_data_ptr<scalar_t>();
    const int64_t plane = static_cast<int64_t>(ph_count) * pw_count;
    at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = 0; r < num_rois; ++r) {
        const scalar_t* roi = pr + 6 * r;
        const int64_t b = static_cast<int64_t>(roi[0]);
        if (b < 0 || b >= batch) continue;
        const auto g = roi_geometry<scalar_t>(
            roi, static_cast<scalar_t>(spatial_scale), ph_count, pw_count,
            static_cast<int>(sampling_ratio), aligned);
        for (int64_t c = begin; c < end; ++c) {
          const scalar_t* src = pg + (r * channels + c) * plane;
          scalar_t* map = pi + (b * channels + c) * h * w;
          for (int ph = 0; ph < ph_count; ++ph) {
            for (int pw = 0; pw < pw_count; ++pw) {
              const scalar_t top = src[ph * pw_count + pw] / g.count;
              for (int iy = 0; iy < g.grid_h; ++iy) {
                for (int ix = 0; ix < g.grid_w; ++ix) {
                  scalar_t x, y, w00, w01, w10, w11;
                  int y0, x0, y1, x1;
                  sample_position(g, ph, pw, iy, ix, x, y);
                  if (!bilinear_weights(h, w, y, x, y0, x0, y1, x1, w00, w01, w10, w11)) {
                    continue;
                  }
                  map[y0 * w + x0] += top * w00;
                  map[y0 * w + x1] += top * w01;
                  map[y1 * w + x0] += top * w10;
                  map[y1 * w + x1] += top * w11;
                }
              }
            }
          }
        }
      }
    });
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CPU, m) {
  m.impl("roi_align_rotated", &roi_align_rotated_cpu);
  m.impl("roi_align_rotated_backward", &roi_align_rotated_backward_cpu);
}

}  // namespace lab
