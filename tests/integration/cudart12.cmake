# Integration tests of NVIDIA's CUDA 12 runtime on rgpu: programs in
# cudart12/*.cu (abi.cu: the CUDA 12 ABI) and every CUDA 13 runtime program of
# cudart/*.cu, compiled by the toolkit's nvcc (13) with the CUDA 12
# runtime headers and linked against the CUDA 12 runtime from PyPI
# (nvidia-cuda-runtime-cu12: libcudart.so.12 and libcudart_static.a), twice:
# shared and static. The CUDA 12 handshake with the driver differs from 13's
# in a few points: docs/cuda12-handshake.md.
#
# Where the runtime is: the cache variable RGPU_CUDART12_DIR (the directory
# holding lib/libcudart.so.12 and include/cuda_runtime_api.h), else the
# installed wheel's python package nvidia.cuda_runtime. Without it, nothing is
# registered.
# Tests: cudart12.<program>.<shared|static>.<unix|tcp>.
#
# cuBLAS 12 (nvidia-cublas-cu12; RGPU_CUBLAS12_DIR, else the python
# package nvidia.cublas): cublas/gemm.cu, the cuBLAS 13 test program, built
# against libcublas.so.12 and the shared CUDA 12 runtime.
# Tests: cudart12.cublas.<case>.<unix|tcp>.

if(NOT CUDAToolkit_NVCC_EXECUTABLE)
  message(STATUS "nvcc not found: the CUDA 12 runtime tests are not built")
  return()
endif()

# As in cudart.cmake: the helpers come from driver.cmake, which the glob
# includes after this file; read this file again at the end of the directory.
if(NOT COMMAND rgpu_it_test)
  if(CMAKE_VERSION VERSION_LESS 3.19)
    message(STATUS "CMake < 3.19: the CUDA 12 runtime tests are not registered")
  else()
    cmake_language(EVAL CODE "cmake_language(DEFER CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
  endif()
  return()
endif()

set(RGPU_CUDART12_DIR "" CACHE PATH
  "CUDA 12 runtime for the cudart12 tests (holds lib/libcudart.so.12 and include/); empty: the nvidia-cuda-runtime-cu12 wheel's, if python3 finds it")

set(RGPU_CUBLAS12_DIR "" CACHE PATH
  "cuBLAS 12 for the cudart12 tests (holds lib/libcublas.so.12 and include/); empty: the nvidia-cublas-cu12 wheel's, if python3 finds it")


set(cudart12_dir "${RGPU_CUDART12_DIR}")
if(NOT cudart12_dir)
  rgpu_wheel_dir(nvidia.cuda_runtime cudart12_dir)
endif()

if(NOT cudart12_dir OR NOT EXISTS "${cudart12_dir}/lib/libcudart.so.12"
   OR NOT EXISTS "${cudart12_dir}/include/cuda_runtime_api.h")
  message(STATUS "CUDA 12 runtime not found (set RGPU_CUDART12_DIR, or pip install nvidia-cuda-runtime-cu12): "
    "the cudart12 tests are not registered")
  return()
endif()
message(STATUS "CUDA 12 runtime for the cudart12 tests: ${cudart12_dir}")

set(RGPU_CUDART12_SRC_DIR ${RGPU_IT_DIR}/cudart12)
set(RGPU_CUDART12_BIN_DIR ${CMAKE_BINARY_DIR}/tests/integration/cudart12)
file(GLOB RGPU_CUDART12_SOURCES CONFIGURE_DEPENDS ${RGPU_CUDART12_SRC_DIR}/*.cu)

# The runtime flavours: the wheel has both. -cudart none keeps nvcc from
# adding the toolkit's (13) runtime; the CUDA 12 headers come first on the
# include path, so the program binds the 12 ABI (cudaGetDeviceProperties_v2,
# CUDA 12's cudaDeviceProp).
set(rts shared)
set(rtlink_shared -L${cudart12_dir}/lib -l:libcudart.so.12)
if(EXISTS "${cudart12_dir}/lib/libcudart_static.a")
  list(APPEND rts static)
  set(rtlink_static ${cudart12_dir}/lib/libcudart_static.a -ldl -lpthread -lrt)
endif()

set(outputs)
set(programs)
foreach(src ${RGPU_CUDART12_SOURCES})
  get_filename_component(prog ${src} NAME_WE)
  list(APPEND programs ${prog})
  foreach(rt ${rts})
    set(out ${RGPU_CUDART12_BIN_DIR}/${prog}_${rt})
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_CUDART12_BIN_DIR}
      # compute_75 PTX: the CPU device runs PTX
      COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -O2 -arch=compute_75 -cudart none
        -I${cudart12_dir}/include ${src} -o ${out} ${rtlink_${rt}}
      DEPENDS ${src}
      COMMENT "nvcc: cudart12 test ${prog} (CUDA 12 ${rt} runtime)"
      VERBATIM)
    list(APPEND outputs ${out})
  endforeach()
endforeach()
# The CUDA 13 runtime programs (cudart/*.cu, RGPU_CUDART_PROGRAMS of
# cudart.cmake) built again against the CUDA 12 runtime: the same checks, the
# other runtime. Tests: cudart12.<program>.<static|shared>.<unix|tcp>.
# coop.cu and asyncbar.cu include cooperative_groups / libcu++, which come
# only with the toolkit (13) and refuse to mix with the CUDA 12 runtime headers.
# rdc (two files, -rdc=true): with -cudart none nvcc 13 leaves the device link
# out (undefined __cudaRegisterLinkedBinary_*), so it is not built here.
set(RGPU_CUDART12_FROM_13 ${RGPU_CUDART_PROGRAMS})
list(REMOVE_ITEM RGPU_CUDART12_FROM_13 coop asyncbar rdc)
foreach(prog ${RGPU_CUDART12_FROM_13})
  if(DEFINED RGPU_CUDART_ARCH_${prog})
    set(arch ${RGPU_CUDART_ARCH_${prog}})
  else()
    set(arch -arch=compute_75)
  endif()
  list(APPEND programs ${prog})
  foreach(rt ${rts})
    if(rt STREQUAL "shared")
      set(rt_is_shared 1)
    else()
      set(rt_is_shared 0)
    endif()
    set(out ${RGPU_CUDART12_BIN_DIR}/${prog}_${rt})
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_CUDART12_BIN_DIR}
      COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -O2 ${arch} -cudart none -DCT_CUDART_SHARED=${rt_is_shared}
        -DCT_CUDART_SONAME="libcudart.so.12" -I${cudart12_dir}/include -I${RGPU_IT_DIR}/cudart
        ${RGPU_IT_DIR}/cudart/${prog}.cu -o ${out} ${rtlink_${rt}}
      DEPENDS ${RGPU_IT_DIR}/cudart/${prog}.cu ${RGPU_IT_DIR}/cudart/cudart_check.h
      COMMENT "nvcc: cudart test ${prog} (CUDA 12 ${rt} runtime)"
      VERBATIM)
    list(APPEND outputs ${out})
  endforeach()
endforeach()
add_custom_target(rgpu_it_cudart12 ALL DEPENDS ${outputs})

foreach(prog ${programs})
  foreach(tr ${RGPU_IT_TRANSPORTS})
    foreach(rt ${rts})
      rgpu_it_test(cudart12.${prog}.${rt} ${tr} ENV LD_LIBRARY_PATH=${cudart12_dir}/lib
        COMMAND ${RGPU_CUDART12_BIN_DIR}/${prog}_${rt})
    endforeach()
  endforeach()
endforeach()

# cuBLAS 12 with the CUDA 12 runtime. gemm.cu's library check is told "static
# cudart" (CT_CUDART_SHARED=0): it then asserts that no libcudart.so.13 is
# loaded, which is right here; the runtime it runs on is the 12 one it links.
# The CPU device's default capability, 13.0, makes cuBLAS load PTX instead
# of sm_120 SASS (see cublas.cmake).
set(cublas12_dir "${RGPU_CUBLAS12_DIR}")
if(NOT cublas12_dir)
  rgpu_wheel_dir(nvidia.cublas cublas12_dir)
endif()
if(NOT cublas12_dir OR NOT EXISTS "${cublas12_dir}/lib/libcublas.so.12"
   OR NOT EXISTS "${cublas12_dir}/include/cublas_v2.h")
  message(STATUS "cuBLAS 12 not found (set RGPU_CUBLAS12_DIR, or pip install nvidia-cublas-cu12): "
    "the cudart12.cublas tests are not registered")
  return()
endif()
message(STATUS "cuBLAS 12 for the cudart12 tests: ${cublas12_dir}")

set(out ${RGPU_CUDART12_BIN_DIR}/cublas_gemm)
add_custom_command(
  OUTPUT ${out}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_CUDART12_BIN_DIR}
  COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -O2 -cudart none -DCT_CUDART_SHARED=0
    -I${cudart12_dir}/include -I${cublas12_dir}/include -I${RGPU_IT_DIR}/cublas
    ${RGPU_IT_DIR}/cublas/gemm.cu -o ${out}
    -L${cublas12_dir}/lib -l:libcublas.so.12 -l:libcublasLt.so.12 ${rtlink_shared}
  DEPENDS ${RGPU_IT_DIR}/cublas/gemm.cu ${RGPU_IT_DIR}/cudart/cudart_check.h
  COMMENT "nvcc: cudart12 test cublas gemm (cuBLAS 12, CUDA 12 shared runtime)"
  VERBATIM)
add_custom_target(rgpu_it_cudart12_cublas ALL DEPENDS ${out})

foreach(case create sgemm dgemm gemmex_f16 gemmex_bf16 strided_batched batched lt_matmul)
  foreach(tr ${RGPU_IT_TRANSPORTS})
    rgpu_it_test(cudart12.cublas.${case} ${tr}
      ENV LD_LIBRARY_PATH=${cublas12_dir}/lib:${cudart12_dir}/lib
      COMMAND ${out} ${case})
  endforeach()
endforeach()
