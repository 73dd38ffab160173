// Intersection-over-union of rotated boxes (cx, cy, w, h, angle in radians), shared by
// the CPU and CUDA kernels of lab::box_iou_rotated and lab::nms_rotated.
//
// A box's corners are center + R(angle) (+-w/2, +-h/2) with R = [[cos, -sin], [sin, cos]].
// The intersection of two convex boxes is found by clipping one box's corner polygon by
// the four edges of the other (Sutherland-Hodgman); its area comes from the shoelace
// formula. Both boxes are shifted so that the midpoint of their centers is the origin,
// which keeps float precision for boxes far from the origin.
#pragma once

#include <cmath>

#include "ops/common/host_device.h"

namespace lab::rotated {

template <typename T>
struct Point {
  T x;
  T y;
};

template <typename T>
LAB_HOST_DEVICE T cross(Point<T> o, Point<T> a, Point<T> b) {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

// Corners in counter-clockwise order (for w, h > 0), relative to (dx, dy).
template <typename T>
LAB_HOST_DEVICE void corners(const T* box, T dx, T dy, Point<T>* out) {
  const T c = std::cos(box[4]);
  const T s = std::sin(box[4]);
  const T hw = box[2] / T(2);
  const T hh = box[3] / T(2);
  const T sx[4] = {-hw, hw, hw, -hw};
  const T sy[4] = {-hh, -hh, hh, hh};
  for (int i = 0; i < 4; ++i) {
    out[i].x = box[0] - dx + c * sx[i] - s * sy[i];
    out[i].y = box[1] - dy + s * sx[i] + c * sy[i];
  }
}

// Keeps the part of polygon `in` (n vertices) left of the directed line a -> b.
template <typename T>
LAB_HOST_DEVICE int clip(const Point<T>* in, int n, Point<T> a, Point<T> b, Point<T>* out) {
  int m = 0;
  for (int i = 0; i < n; ++i) {
    const Point<T> cur = in[i];
    const Point<T> prev = in[(i + n - 1) % n];
    const T dc = cross(a, b, cur);
    const T dp = cross(a, b, prev);
    if ((dc >= T(0)) != (dp >= T(0))) {
      const T t = dp / (dp - dc);
      out[m].x = prev.x + t * (cur.x - prev.x);
      out[m].y = prev.y + t * (cur.y - prev.y);
      ++m;
    }
    if (dc >= T(0)) out[m++] = cur;
  }
  return m;
}

template <typename T>
LAB_HOST_DEVICE T polygon_area(const Point<T>* p, int n) {
  T twice = 0;
  for (int i = 0; i < n; ++i) {
    const Point<T> a = p[i];
    const Point<T> b = p[(i + 1) % n];
    twice += a.x * b.y - a.y * b.x;
  }
  return std::abs(twice) / T(2);
}

template <typename T>
LAB_HOST_DEVICE T intersection_area(const T* a, const T* b) {
  const T dx = (a[0] + b[0]) / T(2);
  const T dy = (a[1] + b[1]) / T(2);
  Point<T> pa[4];
  Point<T> pb[4];
  corners(a, dx, dy, pa);
  corners(b, dx, dy, pb);
  // Clipping a 4-gon by 4 half-planes adds at most one vertex per clip.
  Point<T> buf0[9];
  Point<T> buf1[9];
  for (int i = 0; i < 4; ++i) buf0[i] = pa[i];
  int n = 4;
  Point<T>* src = buf0;
  Point<T>* dst = buf1;
  for (int e = 0; e < 4 && n > 0; ++e) {
    n = clip(src, n, pb[e], pb[(e + 1) % 4], dst);
    Point<T>* tmp = src;
    src = dst;
    dst = tmp;
  }
  return n >= 3 ? polygon_area(src, n) : T(0);
}

// IoU of two rotated boxes; 0 when either box has no area.
template <typename T>
LAB_HOST_DEVICE T iou(const T* a, const T* b) {
  const T area_a = a[2] * a[3];
  const T area_b = b[2] * b[3];
  if (!(a[2] > T(0) && a[3] > T(0) && b[2] > T(0) && b[3] > T(0))) return T(0);
  const T inter = intersection_area(a, b);
  const T uni = area_a + area_b - inter;
  return uni > T(0) ? inter / uni : T(0);
}

}  // namespace lab::rotated
