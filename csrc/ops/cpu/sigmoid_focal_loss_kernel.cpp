// CPU kernels of lab::sigmoid_focal_loss, parallel over elements with at::parallel_for.
// The mean and sum reductions accumulate in double without materialising per-element
// losses, and the backward writes only the gradient.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/focal_loss_math.h"

namespace lab {
namespace {

constexpr int64_t kGrain = 16384;

at::Tensor focal_loss_forward_cpu(
    const at::Tensor& logits_in,
    const at::Tensor& targets_in,
    const std::optional<at::Tensor>& weight_in,
    double alpha,
    double gamma,
    int64_t reduction) {
  check_focal_args(logits_in, targets_in, weight_in, reduction);
  const at::Tensor logits = logits_in.contiguous();
  const at::Tensor targets = targets_in.contiguous();
  const at::Tensor weight = weight_in.has_value() ? weight_in->contiguous() : at::Tensor();
  const int64_t n = logits.numel();
  at::Tensor out = reduction == kNone ? at::empty_like(logits) : at::empty({}, logits.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, logits.scalar_type(), "sigmoid_focal_loss_cpu", [&] {
        using opmath_t = at::opmath_type<scalar_t>;
        const scalar_t* x = logits.const_data_ptr<scalar_t>();
        const scalar_t* t = targets.const_data_ptr<scalar_t>();
        const scalar_t* w = weight.defined() ? weight.const_data_ptr<scalar_t>() : nullptr;
        const auto a = static_cast<opmath_t>(alpha);
        const auto g = static_cast<opmath_t>(gamma);
        auto element = [&](int64_t i) {
          opmath_t v = focal::loss<opmath_t>(x[i], t[i], a, g);
          return w ? v * static_cast<opmath_t>(w[i]) : v;
        };
        if (reduction == kNone) {
          scalar_t* y = out.mutable_data_ptr<scalar_t>();
          at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) y[i] = static_cast<scalar_t>(element(i));
          });
          return;
        }
        double total = at::parallel_reduce(
            0, n, kGrain, 0.0,
            [&](int64_t begin, int64_t end, double acc) {
              for (int64_t i = begin; i < end; ++i) acc += element(i);
              return acc;
            },
            std::plus<double>());
        if (reduction == kMean) total = n > 0 ? total / n : std::nan("");
        out.fill_(total);
      });
  return out;
}

std::tuple<at::Tensor, at::Tensor> focal_loss_with_grad_cpu(
    const at::Tensor& logits_in,
    const at::Tensor& targets_in,
    const std::optional<at::Tensor>& weight_in,
    double alpha,
    double gamma,
    int64_t reduction) {
  check_focal_args(logits_in, targets_in, weight_in, reduction);
  const at::Tensor logits = logits_in.contiguous();
  const at::Tensor targets = targets_in.contiguous();
  const at::Tensor weight = weight_in.has_value() ? weight_in->contiguous() : at::Tensor();
  const int64_t n = logits.numel();
  at::Tensor out = reduction == kNone ? at::empty_like(logits) : at::empty({}, logits.options());
  at::Tensor grad_logits = at::empty_like(logits);
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, logits.scalar_type(), "sigmoid_focal_loss_with_grad_cpu", [&] {
        using opmath_t = at::opmath_type<scalar_t>;
        const scalar_t* x = logits.const_data_ptr<scalar_t>();
        const scalar_t* t = targets.const_data_ptr<scalar_t>();
        const scalar_t* w = weight.defined() ? weight.const_data_ptr<scalar_t>() : nullptr;
        scalar_t* gx = grad_logits.mutable_data_ptr<scalar_t>();
        const auto a = static_cast<opmath_t>(alpha);
        const auto g = static_cast<opmath_t>(gamma);
        const auto scale =
            static_cast<opmath_t>(reduction == kMean ? 1.0 / std::max<int64_t>(n, 1) : 1.0);
        // Writes the scaled gradient of element i and returns its loss.
        auto element = [&](int64_t i) {
          opmath_t v;
          opmath_t d;
          focal::loss_and_grad<opmath_t>(x[i], t[i], a, g, &v, &d);
          if (w) {
            v *= static_cast<opmath_t>(w[i]);
            d *= static_cast<opmath_t>(w[i]);
          }
          gx[i] = static_cast<scalar_t>(d * scale);
          return v;
        };
        if (reduction == kNone) {
          scalar_t* y = out.mutable_data_ptr<scalar_t>();
          at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) y[i] = static_cast<scalar_t>(element(i));
          });
          return;
        }
        double total = at::parallel_reduce(
            0, n, kGrain, 0.0,
            [&](int64_t begin, int64_t end, double acc) {
              for (int64_t i = begin; i < end; ++i) acc += element(i);
              return acc;
            },
            std::plus<double>());
        if (reduction == kMean) total = n > 0 ? total / n : std::nan("");
        out.fill_(total);
      });
  return {out, grad_logits};
}

at::Tensor focal_loss_backward_cpu(
    const at::Tensor& grad_in,
    const at::Tensor& logits_in,
    const at::Tensor& targets_in,
    const std::optional<at::Tensor>& weight_in,
    double alpha,
    double gamma,
    int64_t reduction) {
  check_focal_args(logits_in, targets_in, weight_in, reduction);
  const at::Tensor logits = logits_in.contiguous();
  const at::Tensor targets = targets_in.contiguous();
  const at::Tensor weight = weight_in.has_value() ? weight_in->contiguous() : at::Tensor();
  const int64_t n = logits.numel();
  at::Tensor grad_out = reduction == kNone ? grad_in.expand(logits.sizes()).contiguous()
                                           : grad_in.reshape({}).to(at::kDouble);
  at::Tensor grad_logits = at::empty_like(logits);
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, logits.scalar_type(), "sigmoid_focal_loss_backward_cpu", [&] {
        using opmath_t = at::opmath_type<scalar_t>;
        const scalar_t* x = logits.const_data_ptr<scalar_t>();
        const scalar_t* t = targets.const_data_ptr<scalar_t>();
        const scalar_t* w = weight.defined() ? weight.const_data_ptr<scalar_t>() : nullptr;
        const scalar_t* go = reduction == kNone ? grad_out.const_data_ptr<scalar_t>() : nullptr;
        opmath_t scale = 1;
        if (reduction != kNone) {
          double s = grad_out.item<double>();
          scale = static_cast<opmath_t>(reduction == kMean ? s / std::max<int64_t>(n, 1) : s);
        }
        const auto a = static_cast<opmath_t>(alpha);
        const auto g = static_cast<opmath_t>(gamma);
        scalar_t* gx = grad_logits.mutable_data_ptr<scalar_t>();
        at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            opmath_t v = focal::grad<opmath_t>(x[i], t[i], a, g);
            if (w) v *= static_cast<opmath_t>(w[i]);
            v *= go ? static_cast<opmath_t>(go[i]) : scale;
            gx[i] = static_cast<scalar_t>(v);
          }
        });
      });
  return grad_logits;
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CPU, m) {
  m.impl("sigmoid_focal_loss", &focal_loss_forward_cpu);
  m.impl("sigmoid_focal_loss_with_grad", &focal_loss_with_grad_cpu);
  m.impl("sigmoid_focal_loss_backward", &focal_loss_backward_cpu);
}

}  // namespace lab
