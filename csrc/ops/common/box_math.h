// Axis-aligned box overlaps (x1, y1, x2, y2) and their gradient, shared by the CPU and
// CUDA kernels of lab::bbox_overlaps, lab::bbox_overlaps_backward and lab::soft_nms.
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

// Adds g to the gradients of the arguments of min2(p, q): all to the smaller one, half
// to each on a tie (as torch.minimum).
template <typename T>
LAB_HOST_DEVICE void min2_backward(T p, T q, T g, T& grad_p, T& grad_q) {
  if (p < q) {
    grad_p += g;
  } else if (q < p) {
    grad_q += g;
  } else {
    grad_p += g / 2;
    grad_q += g / 2;
  }
}

// The same for max2(p, q): all to the larger one, half to each on a tie (torch.maximum).
template <typename T>
LAB_HOST_DEVICE void max2_backward(T p, T q, T g, T& grad_p, T& grad_q) {
  min2_backward(-p, -q, g, grad_p, grad_q);
}

// Adds g times the gradient of area(b) to grad_b[4].
template <typename T>
LAB_HOST_DEVICE void area_backward(const T* b, T g, T* grad_b) {
  const T gw = g * (b[3] - b[1]);
  const T gh = g * (b[2] - b[0]);
  grad_b[0] -= gw;
  grad_b[2] += gw;
  grad_b[1] -= gh;
  grad_b[3] += gh;
}

// Adds g times the gradient of overlap(a, b, area(a), area(b), mode, eps) with respect to
// the coordinates of a and b to grad_a[4] and grad_b[4]. The gradient is the one autograd
// gives for the same formula written in torch ops: a clamp (max2 with a bound) passes it
// only where its input is above the bound, so the clamped terms of disjoint boxes and of
// zero-area unions get none; min2 and max2 pass it to the selected argument and split it
// on a tie.
template <typename T>
LAB_HOST_DEVICE void overlap_backward(
    const T* a, const T* b, int64_t mode, T eps, T g, T* grad_a, T* grad_b) {
  const T w_raw = min2(a[2], b[2]) - max2(a[0], b[0]);
  const T h_raw = min2(a[3], b[3]) - max2(a[1], b[1]);
  const T w = max2(w_raw, T(0));
  const T h = max2(h_raw, T(0));
  const T inter = w * h;
  const T denom_raw = mode == kIoF ? area(a) : area(a) + area(b) - inter;
  const T denom = max2(denom_raw, eps);
  // ratio = inter / denom
  T g_inter = g / denom;
  T g_denom = -g * inter / (denom * denom);
  if (mode == kGIoU) {
    // giou = ratio - (enclose - denom) / enclose
    const T ew_raw = max2(a[2], b[2]) - min2(a[0], b[0]);
    const T eh_raw = max2(a[3], b[3]) - min2(a[1], b[1]);
    const T ew = max2(ew_raw, T(0));
    const T eh = max2(eh_raw, T(0));
    const T enclose_raw = ew * eh;
    const T enclose = max2(enclose_raw, eps);
    g_denom += g / enclose;
    const T g_enclose = enclose_raw > eps ? -g * denom / (enclose * enclose) : T(0);
    const T g_ew = ew_raw > T(0) ? g_enclose * eh : T(0);
    const T g_eh = eh_raw > T(0) ? g_enclose * ew : T(0);
    max2_backward(a[2], b[2], g_ew, grad_a[2], grad_b[2]);
    min2_backward(a[0], b[0], -g_ew, grad_a[0], grad_b[0]);
    max2_backward(a[3], b[3], g_eh, grad_a[3], grad_b[3]);
    min2_backward(a[1], b[1], -g_eh, grad_a[1], grad_b[1]);
  }
  if (denom_raw > eps) {
    area_backward(a, g_denom, grad_a);
    if (mode != kIoF) {
      area_backward(b, g_denom, grad_b);
      g_inter -= g_denom;
    }
  }
  const T g_w = w_raw > T(0) ? g_inter * h : T(0);
  const T g_h = h_raw > T(0) ? g_inter * w : T(0);
  min2_backward(a[2], b[2], g_w, grad_a[2], grad_b[2]);
  max2_backward(a[0], b[0], -g_w, grad_a[0], grad_b[0]);
  min2_backward(a[3], b[3], g_h, grad_a[3], grad_b[3]);
  max2_backward(a[1], b[1], -g_h, grad_a[1], grad_b[1]);
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
