// CPU kernel of lab::soft_nms. The next box to keep comes from a max-heap of scores with
// lazy deletion (a decayed box is pushed again with its new score; outdated entries are
// skipped when they surface). Boxes are sorted by x1, so a kept box decays only the boxes
// whose x1 lies in [x1 - widest box, x2]: found by binary search, and the rest of the set
// is never visited. Far fewer overlap tests than a pass over all alive boxes per step.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <algorithm>
#include <numeric>
#include <queue>

#include "ops/common/box_math.h"
#include "ops/common/checks.h"
#include "ops/common/soft_nms_math.h"

namespace lab {
namespace {

std::tuple<at::Tensor, at::Tensor> soft_nms_cpu(
    const at::Tensor& boxes_in, const at::Tensor& scores_in, double iou_threshold, double sigma,
    double min_score, int64_t method) {
  check_scored_boxes(boxes_in, scores_in, 4, "soft_nms");
  TORCH_CHECK(method == soft::kLinear || method == soft::kGaussian,
              "soft_nms: method must be 0 (linear) or 1 (gaussian), got ", method);
  TORCH_CHECK(method != soft::kGaussian || sigma > 0, "soft_nms: sigma must be > 0, got ", sigma);
  const int64_t n = boxes_in.size(0);
  at::Tensor keep;
  at::Tensor kept_scores;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, boxes_in.scalar_type(), "soft_nms_cpu", [&] {
    using T = at::opmath_type<scalar_t>;
    const at::Tensor boxes = boxes_in.to(c10::CppTypeToScalarType<T>()).contiguous();
    const at::Tensor scores0 = scores_in.to(c10::CppTypeToScalarType<T>()).contiguous();
    const T* pb = boxes.const_data_ptr<T>();
    std::vector<T> score(scores0.const_data_ptr<T>(), scores0.const_data_ptr<T>() + n);
    std::vector<T> area(n);
    const T lo = static_cast<T>(min_score);
    const T thr = static_cast<T>(iou_threshold);
    const T sig = static_cast<T>(sigma);
    // Boxes sorted by x1; `sorted_x1` holds the sorted values for the binary search.
    std::vector<int64_t> by_x1(n);
    std::iota(by_x1.begin(), by_x1.end(), int64_t{0});
    std::stable_sort(by_x1.begin(), by_x1.end(),
                     [&](int64_t i, int64_t j) { return pb[4 * i] < pb[4 * j]; });
    std::vector<T> sorted_x1(n);
    T widest = 0;
    for (int64_t k = 0; k < n; ++k) {
      const T* box = pb + 4 * by_x1[k];
      sorted_x1[k] = box[0];
      widest = std::max(widest, box[2] - box[0]);
    }
    struct Entry {
      T score;
      int64_t index;
      bool operator<(const Entry& other) const {  // the top is the highest score, lowest index
        return score < other.score || (score == other.score && index > other.index);
      }
    };
    std::priority_queue<Entry> heap;
    std::vector<uint8_t> alive(n, 0);
    for (int64_t i = 0; i < n; ++i) {
      area[i] = boxes::area(pb + 4 * i);
      if (score[i] >= lo) {
        alive[i] = 1;
        heap.push({score[i], i});
      }
    }
    std::vector<int64_t> out_index;
    std::vector<T> out_score;
    while (!heap.empty()) {
      const Entry top = heap.top();
      heap.pop();
      const int64_t i = top.index;
      if (!alive[i] || top.score != score[i]) continue;  // dropped, or decayed since pushed
      alive[i] = 0;
      out_index.push_back(i);
      out_score.push_back(score[i]);
      const T* bi = pb + 4 * i;
      const auto first = std::lower_bound(sorted_x1.begin(), sorted_x1.end(), bi[0] - widest);
      for (auto k = static_cast<int64_t>(first - sorted_x1.begin()); k < n && sorted_x1[k] <= bi[2];
           ++k) {
        const int64_t j = by_x1[k];
        if (!alive[j]) continue;
        const T iou = boxes::iou(bi, pb + 4 * j, area[i], area[j]);
        if (iou <= T(0)) continue;
        const T decayed = score[j] * soft::decay(iou, thr, sig, method);
        if (decayed == score[j]) continue;
        score[j] = decayed;
        if (decayed < lo) {
          alive[j] = 0;
        } else {
          heap.push({decayed, j});
        }
      }
    }
    const auto count = static_cast<int64_t>(out_index.size());
    keep = at::tensor(out_index, boxes_in.options().dtype(at::kLong));
    kept_scores = at::empty({count}, scores_in.options());
    scalar_t* ps = kept_scores.mutable_data_ptr<scalar_t>();
    for (int64_t k = 0; k < count; ++k) ps[k] = static_cast<scalar_t>(out_score[k]);
  });
  return {keep.reshape({-1}), kept_scores};
}

}  // namespace

TORCH_LIBRARY_IMPL(lab, CPU, m) {
  m.impl("soft_nms", &soft_nms_cpu);
}

}  // namespace lab
