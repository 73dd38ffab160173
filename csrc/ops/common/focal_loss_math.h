// Per-element sigmoid focal loss and its derivative, shared by the CPU and CUDA kernels.
//
//   p = sigmoid(x), ce = -(t log p + (1 - t) log(1 - p)), 1 - p_t = p + t - 2 p t,
//   a_t = alpha t + (1 - alpha)(1 - t)  (1 when alpha < 0)
//   loss = a_t * ce * (1 - p_t)^gamma
//   dloss/dx = a_t * [(p - t)(1 - p_t)^gamma + gamma ce (1 - p_t)^(gamma - 1) p (1 - p)(1 - 2t)]
#pragma once

#include <cmath>

#include "ops/common/host_device.h"

namespace lab::focal {

// base^gamma with the common exponents as plain products.
template <typename T>
LAB_HOST_DEVICE T power(T base, T gamma) {
  if (gamma == T(2)) return base * base;
  if (gamma == T(1)) return base;
  if (gamma == T(0)) return T(1);
  return std::pow(base, gamma);
}

template <typename T>
struct Terms {
  T p;              // sigmoid(x)
  T ce;             // binary cross-entropy with logits
  T one_minus_pt;   // 1 - p_t
  T alpha_t;        // class balance factor
};

template <typename T>
LAB_HOST_DEVICE Terms<T> terms(T x, T t, T alpha) {
  const T e = std::exp(-std::abs(x));  // exp(-|x|) never overflows
  const T inv = T(1) / (T(1) + e);
  Terms<T> r;
  r.p = x >= T(0) ? inv : e * inv;
  r.ce = (x > T(0) ? x : T(0)) - x * t + std::log1p(e);
  r.one_minus_pt = r.p + t - T(2) * r.p * t;
  r.alpha_t = alpha >= T(0) ? alpha * t + (T(1) - alpha) * (T(1) - t) : T(1);
  return r;
}

template <typename T>
LAB_HOST_DEVICE T loss(T x, T t, T alpha, T gamma) {
  const Terms<T> r = terms(x, t, alpha);
  return r.alpha_t * r.ce * power(r.one_minus_pt, gamma);
}

template <typename T>
LAB_HOST_DEVICE T grad_from(const Terms<T>& r, T t, T gamma) {
  T g = (r.p - t) * power(r.one_minus_pt, gamma);
  // At 1 - p_t == 0 the modulating factor's slope is 0 for gamma >= 1; take it as 0 for all
  // gamma so that saturated logits never produce inf * 0.
  if (gamma != T(0) && r.one_minus_pt > T(0)) {
    g += gamma * r.ce * power(r.one_minus_pt, gamma - T(1)) * r.p * (T(1) - r.p) *
         (T(1) - T(2) * t);
  }
  return r.alpha_t * g;
}

template <typename T>
LAB_HOST_DEVICE T grad(T x, T t, T alpha, T gamma) {
  return grad_from(terms(x, t, alpha), t, gamma);
}

// The loss and its derivative from one evaluation of the shared terms.
template <typename T>
LAB_HOST_DEVICE void loss_and_grad(T x, T t, T alpha, T gamma, T* loss, T* grad) {
  const Terms<T> r = terms(x, t, alpha);
  *loss = r.alpha_t * r.ce * power(r.one_minus_pt, gamma);
  *grad = grad_from(r, t, gamma);
}

}  // namespace lab::focal
