// CUDA kernels of lab::sigmoid_focal_loss: one grid-stride pass over the elements; the
// mean and sum reductions sum per block and add the block sums atomically.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/focal_loss_math.h"
#include "ops/cuda/cuda_helpers.cuh"

namespace lab {
namespace {

template <typename scalar_t, typename opmath_t>
__global__ void focal_loss_forward_kernel(
    int64_t n, const scalar_t* x, const scalar_t* t, const scalar_t* w, opmath_t alpha,
    opmath_t gamma, scalar_t* out, opmath_t* total) {
  opmath_t acc = 0;
  LAB_GRID_STRIDE_LOOP(i, n) {
    opmath_t v = focal::loss<opmath_t>(x[i], t[i], alpha, gamma);
    if (w) v *= static_cast<opmath_t>(w[i]);
    if (out) {
      out[i] = static_cast<scalar_t>(v);
    } else {
      acc += v;
    }
  }
  if (total) {
    acc = cuda::block_sum(acc);
    if (threadIdx.x == 0) atomicAdd(total, acc);
  }
}

// Loss (per element into out, or summed into total) and the gradient scaled by *scale.
template <typename scalar_t, typename opmath_t>
__global__ void focal_loss_with_grad_kernel(
    int64_t n, const scalar_t* x, const scalar_t* t, const scalar_t* w, opmath_t alpha,
    opmath_t gamma, opmath_t scale, scalar_t* out, opmath_t* total, scalar_t* gx) {
  opmath_t acc = 0;
  LAB_GRID_STRIDE_LOOP(i, n) {
    opmath_t v;
    opmath_t d;
    focal::loss_and_grad<opmath_t>(x[i], t[i], alpha, gamma, &v, &d);
    if (w) {
      v *= static_cast<opmath_t>(w[i]);
      d *= static_cast<opmath_t>(w[i]);
    }
    gx[i] = static_cast<scalar_t>(d * scale);
    if (out) {
      out[i] = static_cast<scalar_t>(v);
    } else {
      acc += v;
    }
  }
  if (total) {
    acc = cuda::block_sum(acc);
    if (threadIdx.x == 0) atomicAdd(total, acc);
  }
}

template <typename scalar_t, typename opmath_t>
__global__ void focal_loss_backward_kernel(
    int64_t n, const scalar_t* x, const scalar_t* t, const scalar_t* w, const scalar_t* go,
    const opmath_t* scale, opmath_t alpha, opmath_t gamma, scalar_t* gx) {
  LAB_GRID_STRIDE_LOOP(i, n) {
    opmath_t v = focal::grad<opmath_t>(x[i], t[i], alpha, gamma);
    if (w) v *= static_cast<opmath_t>(w[i]);
    v *= go ? static_cast<opmath_t>(go[i]) : *scale;
    gx[i] = static_cast<scalar_t>(v);
  }
}

at::Tensor focal_loss_forward_cuda(
    const at::Tensor& logits_in,
    const at::Tensor& targets_in,
    const std::optional<at::Tensor>& weight_in,
    double alpha,
    double gamma,
    int64_t reduction) {
  check_focal_args(logits_in, targets_in, weight_in, reduction);
  const c10::cuda::CUDAGuard guard(logits_in.device());
  const at::Tensor logits = logits_in.contiguous();
  const at::Tensor targets = targets_in.contiguous();
  const at::Tensor weight = weight_in.has_value() ? weight_in->contiguous() : at::Tensor();
  const int64_t n = logits.numel();
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, logits.scalar_type(), "sigmoid_focal_loss_cuda", [&] {
        using opmath_t = at::opmath_type<scalar_t>;
        at::Tensor total;
        if (reduction == kNone) {
          out = at::empty_like(logits);
        } else {
          total = at::zeros({}, logits.options().dtype(c10::CppTypeToScalarType<opmath_t>()));
        }
        if (n > 0) {
          focal_loss_forward_kernel<scalar_t, opmath_t>
              <<<cuda::blocks_for(n), cuda::kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
                  n, logits.const_data_ptr<scalar_t>(), targets.const_data_ptr<scalar_t>(),
                  weight.defined() ? weight.const_data_ptr<scalar_t>() : nullptr,
                  static_cast<opmath_t>(alpha), static_cast<opmath_t>(gamma),
                  out.defined() ? out.mutable_data_ptr<scalar_t>() : nullptr,
                  total.defined() ? total.mutable_data_ptr<opmath_t>() : nullptr);
          C10_CUDA_KERNEL_LAUNCH_CHECK();
        }
        if (reduction == kMean) total = total / static_cast<double>(n);  // n == 0 gives nan
        if (reduction != kNone) out = total.to(logits.scalar_type());
      });
  return out;
}

std::tuple<at::Tensor, at::Tensor> focal_loss_with_grad_cuda(
    const at::Tensor& logits_in,
    const at::Tensor& targets_in,
    const std::optional<at::Tensor>& weight_in,
    double alpha,
    double gamma,
    int64_t reduction) {
  check_focal_args(logits_in, targets_in, weight_in, reduction);
  const c10::cuda::CUDAGuard guard(logits_in.device());
  const at::Tensor logits = logits_in.contiguous();
  const at::Tensor targets = targets_in.contiguous();
  const at::Tensor weight = weight_in.has_value() ? weight_in->contiguous() : at::Tensor();
  const int64_t n = logits.numel();
  at::Tensor out;
  at::Tensor grad_logits = at::empty_like(logits);
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, logits.scalar_type(), "sigmoid_focal_loss_with_grad_cuda", [&] {
        using opmath_t = at::opmath_type<scalar_t>;
        at::Tensor total;
        if (reduction == kNone) {
          out = at::empty_like(logits);
        } else {
          total = at::zeros({}, logits.options().dtype(c10::CppTypeToScalarType<opmath_t>()));
        }
        const double scale = reduction == kMean ? 1.0 / std::max<int64_t>(n, 1) : 1.0;
        if (n > 0) {
          focal_loss_with_grad_kernel<scalar_t, opmath_t>
              <<<cuda::blocks_for(n), cuda::kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
                  n, logits.const_data_ptr<scalar_t>(), targets.const_data_ptr<scalar_t>(),
                  weight.defined() ? weight.const_data_ptr<scalar_t>() : nullptr,
                  static_cast<opmath_t>(alpha), static_cast<opmath_t>(gamma),
                  static_cast<opmath_t>(scale),
                  out.defined() ? out.mutable_data_ptr<scalar_t>() : nullptr,
                  total.defined() ? total.mutable_data_ptr<opmath_t>() : nullptr,
                  grad_logits.mutable_data_ptr<scalar_t>());
          C10_CUDA_KERNEL_LAUNCH_CHECK();
        }
        if (reduction == kMean) total = total / static_cast<double>(n);  // n == 0 gives nan
        if (reduction != kNone) out = total.to(logits.scalar_type());
      });
  return {out, grad_logits};
}

at::Tensor focal_loss_backward_cuda(
    const at::Tensor& grad_in,
    const at::Tensor& logits_in,
    const at::Tensor& targets_in,
    const std::optional<at::Tensor>& weight_in,
    double alpha,
    double gamma,
    int64_t reduction) {
  check_focal_args(logits_in, targets_in, weight_in, reduction);
  const c10::cuda::CUDAGuard guard(logits_in.device());
  const at::Tensor logits = logits_in.contiguous();
  const at::Tensor targets = targets_in.contiguous();
  const at::Tensor weight = weight_in.has_value() ? weight_in->contiguous() : at::Tensor();
  const int64_t n = logits.numel();
  at::Tensor grad_logits = at::empty_like(logits);
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, logits.scalar_type(), "sigmoid_focal_loss_backward_cuda", [&] {
        using opmath_t = at::opmath_type<scalar_t>;
        at::Tensor grad_out;
        at::Tensor scale;
        if (reduction == kNone) {
          grad_out = grad_in.expand(logits.sizes()).contiguous();
        } else {
          scale = grad_in.reshape({}).to(c10::CppTypeToScalarType<opmath_t>());
          if (reduction == kMean) scale = scale / static_cast<double>(std::max<int64_t>(n, 1));
        }
        if (n > 0) {
          focal_loss_backward_kernel<scalar_t, opmath_t>
              <<<cuda::blocks_for(n), cuda::kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
                  n, logits.const_data_ptr<scalar_t>(), targets.const_data_ptr<scalar_t>(),
                  weight.defined() ? weight.const_data_ptr<scalar_t>() : nullptr,
                  grad_out.defined() ? grad_out.const_data_ptr<scalar_t>() : nullptr,
                  scale.defined() ? scale.const_data_ptr<opmath_t>() : nullptr,
                  static_cast<opmath_t>(alpha), static_cast<opmath_t>(gamma),
                  grad_logits.mutable_data_ptr<scalar_t>());
          C10_CUDA_KERNEL_LAUNCH_CHECK();
        }
      });
  return grad_logits;
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CUDA, m) {
  m.impl("sigmoid_focal_loss", &focal_loss_forward_cuda);
  m.impl("sigmoid_focal_loss_with_grad", &focal_loss_with_grad_cuda);
  m.impl("sigmoid_focal_loss_backward", &focal_loss_backward_cuda);
}

}  // namespace lab
