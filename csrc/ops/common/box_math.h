// Axis-aligned box overlaps (x1, y1, x2, y2), shared by the CPU and CUDA kernels of
// lab::bbox_overlaps and lab::soft_nms.
#pragma once

#include "ops/common/host_device.h"

namespace lab::boxes {

enum OverlapMode : int64_t { kIoU = 0, kIoF = 1, kGIoU = 2 };

template <typename T>
LAB_HOST_DEVICE T max2(T a, T b) {
  return a > b ? a : b;
}

template <typename T>
LAB_HOST_DEVICE T min2(T a, T b) {
  return a < b ? a : b;
}

template <typename T>
LAB_HOST_DEVICE T area(const T* b) {
  return (b[2] - b[0]) * (b[3] - b[1]);
}

// Overlap of boxes a and b by mode; union and enclosing area are clamped to eps
// (a degenerate box gives 0 rather than nan).
template <typename T>
LAB_HOST_DEVICE T overlap(const T* a, const T* b, T area_a, T area_b, int64_t mode, T eps) {
  const T w = max2(min2(a[2], b[2]) - max2(a[0], b[0]), T(0));
  const T h = max2(min2(a[3], b[3]) - max2(a[1], b[1]), T(0));
  const T inter = w * h;
  const T denom = max2(mode == kIoF ? area_a : area_a + area_b - inter, eps);
  const T ratio = inter / denom;
  if (mode != kGIoU) return ratio;
  const T ew = max2(max2(a[2], b[2]) - min2(a[0], b[0]), T(0));
  const T eh = max2(max2(a[3], b[3]) - min2(a[1], b[1]), T(0));
  const T enclose = max2(ew * eh, eps);
  return ratio - (enclose - denom) / enclose;
}

// Plain IoU for NMS: 0 when the union is empty.
template <typename T>
LAB_HOST_DEVICE T iou(const T* a, const T* b, T area_a, T area_b) {
  const T w = max2(min2(a[2], b[2]) - max2(a[0], b[0]), T(0));
  const T h = max2(min2(a[3], b[3]) - max2(a[1], b[1]), T(0));
  const T inter = w * h;
  const T uni = area_a + area_b - inter;
  return uni > T(0) ? inter / uni : T(0);
}

}  // namespace lab::boxes
