# CPU device modules, libraries, functions, launches and occupancy (cmocka).
# Kernels come from a small CUDA file written here and compiled by nvcc at
# build time (nothing built is committed):
#   kernels.ptx     nvcc -ptx, compute_75: a bare PTX image
#   kernels.fatbin  compute_75 and compute_120 PTX (the device picks 12.0's)
#   sm90.fatbin     an sm_90 cubin only: no PTX, so NO_BINARY_FOR_GPU
#   sm90.cubin      a bare sm_90 cubin: NO_BINARY_FOR_GPU
# Two programs, as cpudev_init runs once per process: test_cpudev_module
# (loading, queries, attributes, occupancy, unloading) and
# test_cpudev_module_launch (running kernels, launch errors, sticky faults).
if(NOT CUDAToolkit_NVCC_EXECUTABLE OR NOT EXISTS "${CUDAToolkit_NVCC_EXECUTABLE}")
  message(WARNING "nvcc not found: cpudev module unit tests are not built")
  return()
endif()

set(RGPU_MOD_DATA ${CMAKE_CURRENT_BINARY_DIR}/cpudev_module_data)
set(RGPU_MOD_CU ${RGPU_MOD_DATA}/kernels.cu)
file(MAKE_DIRECTORY ${RGPU_MOD_DATA})
file(CONFIGURE OUTPUT ${RGPU_MOD_CU} @ONLY CONTENT [=[
// Test kernels for tests/unit/test_cpudev_module*.c (written by tests/unit/cpudev_module.cmake).
#include <cstdio>
struct S12 { int a, b, c; };
__device__ int counter = 7;
__device__ float table[4] = {1.0f, 2.0f, 3.0f, 4.0f};
__constant__ float scale = 2.5f;

extern "C" __global__ void vadd(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i];
}

extern "C" __global__ void mixed(float f, float *out, char ch, double d, S12 s)
{
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        out[0] = f;
        out[1] = (float)ch;
        out[2] = (float)d;
        out[3] = (float)(s.a + s.b + s.c);
    }
}

extern "C" __global__ void use_globals(float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = table[i % 4] * scale + (float)counter;
}

extern "C" __global__ void __launch_bounds__(128) bounded(int *p)
{
    p[threadIdx.x] = threadIdx.x;
}

extern "C" __global__ void oob(int *p, long long off)
{
    p[off + threadIdx.x] = 1;
}

extern "C" __global__ void reverse_shared(float *out)
{
    __shared__ float s[1024];
    s[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = s[blockDim.x - 1 - threadIdx.x];
}

extern "C" __global__ void say(int v)
{
    printf("hello %d\n", v);
}
]=])

set(RGPU_MOD_OUTPUTS "")
function(rgpu_mod_nvcc out)
  add_custom_command(OUTPUT ${RGPU_MOD_DATA}/${out}
    COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} ${ARGN} -o ${out} kernels.cu
    DEPENDS ${RGPU_MOD_CU}
    WORKING_DIRECTORY ${RGPU_MOD_DATA}
    COMMENT "nvcc: cpudev module test data ${out}" VERBATIM)
  set(RGPU_MOD_OUTPUTS ${RGPU_MOD_OUTPUTS} ${RGPU_MOD_DATA}/${out} PARENT_SCOPE)
endfunction()
rgpu_mod_nvcc(kernels.ptx -ptx -arch=compute_75)
rgpu_mod_nvcc(kernels.fatbin -fatbin -gencode arch=compute_75,code=compute_75
  -gencode arch=compute_120,code=compute_120)
rgpu_mod_nvcc(sm90.fatbin -fatbin -gencode arch=compute_90,code=sm_90)
rgpu_mod_nvcc(sm90.cubin -cubin -arch=sm_90)
add_custom_target(rgpu_cpudev_module_data DEPENDS ${RGPU_MOD_OUTPUTS})

foreach(t module module_launch)
  add_executable(test_cpudev_${t} ${CMAKE_CURRENT_LIST_DIR}/test_cpudev_${t}.c)
  target_link_libraries(test_cpudev_${t} PRIVATE rgpu_cpudev ${CMOCKA_LIB})
  target_compile_definitions(test_cpudev_${t} PRIVATE RGPU_MOD_DATA="${RGPU_MOD_DATA}")
  add_dependencies(test_cpudev_${t} rgpu_cpudev_module_data)
  add_test(NAME cpudev_${t} COMMAND test_cpudev_${t})
  set_tests_properties(cpudev_${t} PROPERTIES TIMEOUT 120)
endforeach()
