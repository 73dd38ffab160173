// The score decay of soft-NMS, shared by the CPU and CUDA kernels of lab::soft_nms.
#pragma once

#include <cmath>

#include "ops/common/host_device.h"

namespace lab::soft {

enum Method : int64_t { kLinear = 0, kGaussian = 1 };

// Factor that multiplies a box's score after a box overlapping it by `iou` was kept.
template <typename T>
LAB_HOST_DEVICE T decay(T iou, T iou_threshold, T sigma, int64_t method) {
  if (method == kLinear) return iou > iou_threshold ? T(1) - iou : T(1);
  return iou > T(0) ? std::exp(-iou * iou / sigma) : T(1);
}

}  // namespace lab::soft
