// Marks functions shared by the CPU and the CUDA kernels.
#pragma once

#if defined(__CUDACC__)
#define LAB_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define LAB_HOST_DEVICE inline
#endif
