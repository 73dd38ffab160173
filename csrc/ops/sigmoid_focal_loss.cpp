// Schema of the fused sigmoid focal loss (Lin et al., "Focal Loss for Dense Object
// Detection"). reduction: 0 = none, 1 = mean, 2 = sum. weight (optional) has the shape
// of logits and multiplies each element's loss. Kernels: cpu/ and cuda/; autograd and
// fake kernels: labcore/ops/focal_loss.py.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(lab, m) {
  m.def(
      "sigmoid_focal_loss(Tensor logits, Tensor targets, Tensor? weight, float alpha, "
      "float gamma, int reduction) -> Tensor");
  // The loss and its gradient with respect to logits in one pass (the reduction's 1/N
  // included), for training: the backward is then one multiplication.
  m.def(
      "sigmoid_focal_loss_with_grad(Tensor logits, Tensor targets, Tensor? weight, float alpha, "
      "float gamma, int reduction) -> (Tensor, Tensor)");
  m.def(
      "sigmoid_focal_loss_backward(Tensor grad, Tensor logits, Tensor targets, Tensor? weight, "
      "float alpha, float gamma, int reduction) -> Tensor");
}
