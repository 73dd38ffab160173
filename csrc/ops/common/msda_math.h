// Bilinear sampling of one level of lab::multi_scale_deformable_attention, shared by the
// CPU and CUDA kernels. Matches grid_sample(align_corners=False, padding_mode='zeros').
#pragma once

#include <cmath>

#include "ops/common/host_device.h"

namespace lab::msda {

// The four neighbours of a sampling point: offsets into the level (in pixels, -1 when
// outside) and their bilinear weights; lh/lw are the fractional parts for the gradient.
template <typename T>
struct Corners {
  int64_t offset[4];
  T weight[4];
  T lh;
  T lw;
  bool inside;
};

// loc_x, loc_y in [0, 1]; the level has height h and width w.
template <typename T>
LAB_HOST_DEVICE Corners<T> corners(T loc_x, T loc_y, int64_t h, int64_t w) {
  Corners<T> c;
  const T y = loc_y * static_cast<T>(h) - T(0.5);
  const T x = loc_x * static_cast<T>(w) - T(0.5);
  c.inside = y > T(-1) && x > T(-1) && y < static_cast<T>(h) && x < static_cast<T>(w);
  for (int k = 0; k < 4; ++k) {
    c.offset[k] = -1;
    c.weight[k] = T(0);
  }
  c.lh = T(0);
  c.lw = T(0);
  if (!c.inside) return c;
  const T y0f = std::floor(y);
  const T x0f = std::floor(x);
  const auto y0 = static_cast<int64_t>(y0f);
  const auto x0 = static_cast<int64_t>(x0f);
  c.lh = y - y0f;
  c.lw = x - x0f;
  const T hh = T(1) - c.lh;
  const T hw = T(1) - c.lw;
  const int64_t ys[4] = {y0, y0, y0 + 1, y0 + 1};
  const int64_t xs[4] = {x0, x0 + 1, x0, x0 + 1};
  const T ws[4] = {hh * hw, hh * c.lw, c.lh * hw, c.lh * c.lw};
  for (int k = 0; k < 4; ++k) {
    if (ys[k] >= 0 && ys[k] < h && xs[k] >= 0 && xs[k] < w) {
      c.offset[k] = ys[k] * w + xs[k];
      c.weight[k] = ws[k];
    }
  }
  return c;
}

// Derivatives of the sampled value with respect to the pixel coordinates (x, y), given the
// four neighbour values v (0 outside).
template <typename T>
LAB_HOST_DEVICE void coordinate_grads(const Corners<T>& c, const T* v, T* d_x, T* d_y) {
  const T hh = T(1) - c.lh;
  const T hw = T(1) - c.lw;
  *d_x = hh * (v[1] - v[0]) + c.lh * (v[3] - v[2]);
  *d_y = hw * (v[2] - v[0]) + c.lw * (v[3] - v[1]);
}

}  // namespace lab::msda
