# fatbin: the fat binary parser (fatbin/) against real nvcc output, made at
# build time from a tiny kernel written here (nothing built is committed):
#   multi  compute_75 PTX, sm_90 SASS + compute_90 PTX, compute_120 PTX (nvcc defaults:
#          zstd PTX, stored cubin)
#   zstd   the same, everything zstd   (-Xfatbin -compress-all)
#   lz4    the same, everything LZ4    (--compress-mode=speed -Xfatbin -compress-all)
#   raw    the same, nothing compressed (--compress-mode=none)
#   arch   -G; compute_89 PTX, sm_90a SASS + compute_90a PTX, compute_100f PTX
#   kernel.ptx  nvcc -ptx output (comment header), a bare PTX image
#   kernel.o    a host object: its __fatBinC_Wrapper_t reaches test_fatbin_wrapper
#               through a stub __cudaRegisterFatBinary, as cudart would see it
# If cuobjdump is found (RGPU_CUOBJDUMP), test_fatbin also checks entry lists
# and extracted PTX/cubins against it; otherwise those cases are skipped.
if(NOT CUDAToolkit_NVCC_EXECUTABLE OR NOT EXISTS "${CUDAToolkit_NVCC_EXECUTABLE}")
  message(WARNING "nvcc not found: fatbin unit tests are not built")
  return()
endif()

set(RGPU_FB_DATA ${CMAKE_CURRENT_BINARY_DIR}/fatbin_data)
set(RGPU_FB_CU ${RGPU_FB_DATA}/kernel.cu)
file(MAKE_DIRECTORY ${RGPU_FB_DATA})
file(CONFIGURE OUTPUT ${RGPU_FB_CU} @ONLY CONTENT [=[
// Test kernel for tests/unit/test_fatbin*.c (written by tests/unit/fatbin.cmake).
extern "C" __global__ void axpy(float a, const float *x, float *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = a * x[i] + y[i];
}
]=])

set(RGPU_FB_NVCC ${CUDAToolkit_NVCC_EXECUTABLE})
set(RGPU_FB_GENCODE -gencode arch=compute_75,code=compute_75 -gencode arch=compute_90,code=sm_90
  -gencode arch=compute_90,code=compute_90 -gencode arch=compute_120,code=compute_120)
set(RGPU_FB_OUTPUTS "")
function(rgpu_fatbin_nvcc out)
  add_custom_command(OUTPUT ${RGPU_FB_DATA}/${out}
    COMMAND ${RGPU_FB_NVCC} ${ARGN} -o ${out} kernel.cu
    DEPENDS ${RGPU_FB_CU}
    WORKING_DIRECTORY ${RGPU_FB_DATA}
    COMMENT "nvcc: fatbin test data ${out}" VERBATIM)
  set(RGPU_FB_OUTPUTS ${RGPU_FB_OUTPUTS} ${RGPU_FB_DATA}/${out} PARENT_SCOPE)
endfunction()
rgpu_fatbin_nvcc(multi.fatbin -fatbin ${RGPU_FB_GENCODE})
rgpu_fatbin_nvcc(zstd.fatbin -fatbin ${RGPU_FB_GENCODE} -Xfatbin -compress-all)
rgpu_fatbin_nvcc(lz4.fatbin -fatbin ${RGPU_FB_GENCODE} --compress-mode=speed -Xfatbin -compress-all)
rgpu_fatbin_nvcc(raw.fatbin -fatbin ${RGPU_FB_GENCODE} --compress-mode=none)
rgpu_fatbin_nvcc(arch.fatbin -fatbin -G -gencode arch=compute_89,code=compute_89
  -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_90a,code=compute_90a
  -gencode arch=compute_100f,code=compute_100f)
rgpu_fatbin_nvcc(kernel.ptx -ptx -arch=compute_75)
rgpu_fatbin_nvcc(kernel.o -c -Xcompiler -fPIC -gencode arch=compute_75,code=compute_75
  -gencode arch=compute_90,code=sm_90)
add_custom_target(rgpu_fatbin_data DEPENDS ${RGPU_FB_OUTPUTS})

find_program(RGPU_CUOBJDUMP cuobjdump HINTS ${CUDAToolkit_BIN_DIR})
set(RGPU_FB_CUOBJDUMP "")
if(RGPU_CUOBJDUMP)
  set(RGPU_FB_CUOBJDUMP ${RGPU_CUOBJDUMP})
endif()

add_executable(test_fatbin ${CMAKE_CURRENT_LIST_DIR}/test_fatbin.c)
target_link_libraries(test_fatbin PRIVATE rgpu_fatbin ${CMOCKA_LIB})
target_compile_definitions(test_fatbin PRIVATE RGPU_FB_DATA="${RGPU_FB_DATA}"
  RGPU_FB_CUOBJDUMP="${RGPU_FB_CUOBJDUMP}")
add_dependencies(test_fatbin rgpu_fatbin_data)
add_test(NAME unit.fatbin COMMAND test_fatbin)

# The host object is C++ (g++ compiled the stubs nvcc wrote): link its runtime.
add_executable(test_fatbin_wrapper ${CMAKE_CURRENT_LIST_DIR}/test_fatbin_wrapper.c
  ${RGPU_FB_DATA}/kernel.o)
set_source_files_properties(${RGPU_FB_DATA}/kernel.o PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
target_link_libraries(test_fatbin_wrapper PRIVATE rgpu_fatbin ${CMOCKA_LIB} stdc++)
add_test(NAME unit.fatbin_wrapper COMMAND test_fatbin_wrapper)
