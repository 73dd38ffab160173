// The Python module labcore._C. Importing it loads this library, whose static
// TORCH_LIBRARY / TORCH_LIBRARY_IMPL blocks (one per op and backend, in csrc/ops/)
// register the ops under torch.ops.lab. The module itself only reports how it was built;
// the list of ops is read from the dispatcher (labcore.ops.build_info()).
#include <pybind11/pybind11.h>
#include <torch/headeronly/version.h>

#ifdef WITH_CUDA
#include <cuda.h>
#endif

#define OPENLAB_STRINGIFY(...) #__VA_ARGS__
#define OPENLAB_XSTRINGIFY(...) OPENLAB_STRINGIFY(__VA_ARGS__)

namespace py = pybind11;

static py::dict build_info() {
  py::dict info;
  info["torch_version"] = TORCH_VERSION;
#ifdef WITH_CUDA
  info["with_cuda"] = true;
  info["cuda_version"] =
      std::to_string(CUDA_VERSION / 1000) + "." + std::to_string((CUDA_VERSION % 1000) / 10);
  info["cuda_arch_list"] = OPENLAB_XSTRINGIFY(OPENLAB_CUDA_ARCHS);
#else
  info["with_cuda"] = false;
  info["cuda_version"] = py::none();
  info["cuda_arch_list"] = "";
#endif
#ifdef _OPENMP
  info["openmp"] = true;
#else
  info["openmp"] = false;
#endif
  info["compiler"] = __VERSION__;
  return info;
}

PYBIND11_MODULE(_C, m) {
  m.doc() = "OpenLab's compiled ops; they register under torch.ops.lab when this module loads.";
  m.def("build_info", &build_info, "How this extension was built: torch, CUDA, arch list.");
}
