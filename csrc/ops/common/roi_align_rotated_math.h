// Sampling of lab::roi_align_rotated, shared by the CPU and CUDA kernels.
//
// A rotated RoI (batch, cx, cy, w, h, angle in radians) is scaled by spatial_scale and cut
// into pooled_height x pooled_width bins; each bin averages grid_h x grid_w bilinear samples
// at the centres of its sub-cells. The sample at local (u, v) (from the RoI centre along
// its own axes) lies at center + R(angle) (u, v), R = [[cos, -sin], [sin, cos]]: the corner
// formula of lab::box_iou_rotated. With aligned, the centre moves by -0.5 so that pixel
// (i, j) has its centre at (j + 0.5, i + 0.5) (detectron2's ROIAlignRotated, and mmcv's
// roi_align_rotated with clockwise=True).
#pragma once

#include <cmath>

#include "ops/common/host_device.h"

namespace lab::roi_rotated {

// Geometry of one RoI after scaling.
template <typename T>
struct RoiGeometry {
  T center_x, center_y, cos_a, sin_a, start_u, start_v, bin_w, bin_h;
  int grid_h, grid_w;
  T count;
};

template <typename T>
LAB_HOST_DEVICE RoiGeometry<T> roi_geometry(
    const T* roi, T spatial_scale, int pooled_height, int pooled_width, int sampling_ratio,
    bool aligned) {
  RoiGeometry<T> g;
  const T offset = aligned ? T(0.5) : T(0);
  g.center_x = roi[1] * spatial_scale - offset;
  g.center_y = roi[2] * spatial_scale - offset;
  T width = roi[3] * spatial_scale;
  T height = roi[4] * spatial_scale;
  if (!aligned) {  // legacy: force RoIs to be at least 1 x 1
    width = width > T(1) ? width : T(1);
    height = height > T(1) ? height : T(1);
  }
  g.cos_a = std::cos(roi[5]);
  g.sin_a = std::sin(roi[5]);
  g.bin_w = width / static_cast<T>(pooled_width);
  g.bin_h = height / static_cast<T>(pooled_height);
  g.grid_h = sampling_ratio > 0 ? sampling_ratio : static_cast<int>(std::ceil(height / pooled_height));
  g.grid_w = sampling_ratio > 0 ? sampling_ratio : static_cast<int>(std::ceil(width / pooled_width));
  g.start_u = -width / T(2);
  g.start_v = -height / T(2);
  const int samples = g.grid_h * g.grid_w;
  g.count = static_cast<T>(samples > 1 ? samples : 1);
  return g;
}

// Image position (x, y) of sample (iy, ix) of bin (ph, pw).
template <typename T>
LAB_HOST_DEVICE void sample_position(
    const RoiGeometry<T>& g, int ph, int pw, int iy, int ix, T& x, T& y) {
  const T v = g.start_v + ph * g.bin_h + (iy + T(0.5)) * g.bin_h / static_cast<T>(g.grid_h);
  const T u = g.start_u + pw * g.bin_w + (ix + T(0.5)) * g.bin_w / static_cast<T>(g.grid_w);
  x = u * g.cos_a - v * g.sin_a + g.center_x;
  y = u * g.sin_a + v * g.cos_a + g.center_y;
}

// Bilinear weights of (x, y) on a height x width map: the four pixels (y0|y1, x0|x1) and
// their weights w00, w01, w10, w11. Returns false (all weights 0) for a point more than
// one pixel outside the map; a point within that pixel is clamped to the border.
template <typename T>
LAB_HOST_DEVICE bool bilinear_weights(
    int height, int width, T y, T x, int& y0, int& x0, int& y1, int& x1, T& w00, T& w01,
    T& w10, T& w11) {
  if (y < T(-1) || y > static_cast<T>(height) || x < T(-1) || x > static_cast<T>(width)) {
    w00 = w01 = w10 = w11 = T(0);
    y0 = x0 = y1 = x1 = 0;
    return false;
  }
  if (y <= T(0)) y = T(0);
  if (x <= T(0)) x = T(0);
  y0 = static_cast<int>(y);
  x0 = static_cast<int>(x);
  if (y0 >= height - 1) {
    y0 = y1 = height - 1;
    y = static_cast<T>(y0);
  } else {
    y1 = y0 + 1;
  }
  if (x0 >= width - 1) {
    x0 = x1 = width - 1;
    x = static_cast<T>(x0);
  } else {
    x1 = x0 + 1;
  }
  const T ly = y - y0;
  const T lx = x - x0;
  const T hy = T(1) - ly;
  const T hx = T(1) - lx;
  w00 = hy * hx;
  w01 = hy * lx;
  w10 = ly * hx;
  w11 = ly * lx;
  return true;
}

}  // namespace lab::roi_rotated
