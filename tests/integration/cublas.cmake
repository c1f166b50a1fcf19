# Integration tests of NVIDIA's cuBLAS 13 (the toolkit's libcublas.so.13 and
# libcublasLt.so.13) on rgpu: cublas/gemm.cu, built by nvcc as a user would
# (static and shared cudart) and linked with the toolkit's cublas. Nothing
# links a driver: cudart (the program's and cuBLAS's own copies) dlopen()s
# libcuda.so.1, which run_with_server.sh points at rgpu's; the toolkit's
# library directory comes after rgpu's on LD_LIBRARY_PATH.
# Each case (create, sgemm, dgemm, gemmex_f16, gemmex_bf16, strided_batched,
# batched, lt_matmul) checks its GEMMs against a host reference in double precision.
# Tests: cublas.<case>.<static|shared>.<unix|tcp>, cublas.create_cc120.<...>
# (cublasCreate at capability 12.0) and cublas.clusters.<unix|tcp>.

if(NOT CUDAToolkit_NVCC_EXECUTABLE)
  message(WARNING "nvcc not found: the cublas integration tests are not built")
  return()
endif()
find_library(RGPU_CUBLAS_LIB NAMES cublas libcublas.so.13 PATHS ${CUDAToolkit_LIBRARY_DIR} NO_DEFAULT_PATH)
if(NOT RGPU_CUBLAS_LIB)
  message(WARNING "libcublas not found in ${CUDAToolkit_LIBRARY_DIR}: the cublas integration tests are not built")
  return()
endif()

# The helpers (rgpu_it_test, RGPU_IT_DIR, RGPU_IT_TRANSPORTS) come from
# driver.cmake, which the glob includes after this file: read this file
# again at the end of the directory, once they exist (see cudart.cmake).
if(NOT COMMAND rgpu_it_test)
  if(CMAKE_VERSION VERSION_LESS 3.19)
    message(WARNING "CMake < 3.19: the cublas integration tests are not registered")
  else()
    cmake_language(EVAL CODE "cmake_language(DEFER CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
  endif()
  return()
endif()

set(RGPU_CUBLAS_SRC_DIR ${RGPU_IT_DIR}/cublas)
set(RGPU_CUBLAS_BIN_DIR ${CMAKE_BINARY_DIR}/tests/integration/cublas)
set(RGPU_CUBLAS_CASES create sgemm dgemm gemmex_f16 gemmex_bf16 strided_batched batched lt_matmul)

set(RGPU_CUBLAS_OUTPUTS)
foreach(rt static shared)
  if(rt STREQUAL shared)
    set(rtflags -cudart shared -DCT_CUDART_SHARED=1)
  else()
    set(rtflags -cudart static -DCT_CUDART_SHARED=0)
  endif()
  set(out ${RGPU_CUBLAS_BIN_DIR}/gemm_${rt})
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_CUBLAS_BIN_DIR}
    COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -O2 ${RGPU_NVCC_DEFAULT_TARGETS} ${rtflags} -I${RGPU_CUBLAS_SRC_DIR}
      ${RGPU_CUBLAS_SRC_DIR}/gemm.cu -o ${out} -L${CUDAToolkit_LIBRARY_DIR} -lcublas -lcublasLt
    DEPENDS ${RGPU_CUBLAS_SRC_DIR}/gemm.cu ${RGPU_IT_DIR}/cudart/cudart_check.h
    COMMENT "nvcc: cublas test gemm (${rt} cudart)"
    VERBATIM)
  list(APPEND RGPU_CUBLAS_OUTPUTS ${out})
endforeach()
# clusters.cu: cuOccupancyMaxActiveClusters, a driver call of cuBLAS's,
# checked on its own (the GEMMs above never reach it); compute_120 PTX.
set(out ${RGPU_CUBLAS_BIN_DIR}/clusters)
add_custom_command(
  OUTPUT ${out}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_CUBLAS_BIN_DIR}
  COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -O2 -gencode arch=compute_120,code=compute_120 ${RGPU_NVCC_GPU_GENCODE} -cudart static
    -DCT_CUDART_SHARED=0 -I${RGPU_CUBLAS_SRC_DIR} ${RGPU_CUBLAS_SRC_DIR}/clusters.cu -o ${out}
  DEPENDS ${RGPU_CUBLAS_SRC_DIR}/clusters.cu ${RGPU_IT_DIR}/cudart/cudart_check.h
  COMMENT "nvcc: cublas driver-call test clusters"
  VERBATIM)
list(APPEND RGPU_CUBLAS_OUTPUTS ${out})
add_custom_target(rgpu_it_cublas ALL DEPENDS ${RGPU_CUBLAS_OUTPUTS})

# The compute capability the CPU device reports decides which kernels cuBLAS
# loads. For a capability whose machine code it has (any 12.x) it hands
# cuLibraryLoadData bare sm_120 cubins (SASS only, no PTX), which the CPU
# device cannot run: cublasCreate works, every GEMM fails with
# CUBLAS_STATUS_INTERNAL_ERROR. For a major it has no machine code for
# (13.0, rgpud's default) it takes its forward-compatibility path: fatbins
# with compute_120 PTX, which the PTX machine runs. The GEMM cases run at the
# default; create also runs at 12.0 (cublas.create_cc120).
foreach(case ${RGPU_CUBLAS_CASES})
  foreach(tr ${RGPU_IT_TRANSPORTS})
    foreach(rt static shared)
      rgpu_it_test(cublas.${case}.${rt} ${tr} ENV LD_LIBRARY_PATH=${CUDAToolkit_LIBRARY_DIR}
        COMMAND ${RGPU_CUBLAS_BIN_DIR}/gemm_${rt} ${case})
    endforeach()
  endforeach()
endforeach()
foreach(tr ${RGPU_IT_TRANSPORTS})
  foreach(rt static shared)
    rgpu_it_test(cublas.create_cc120.${rt} ${tr} ENV LD_LIBRARY_PATH=${CUDAToolkit_LIBRARY_DIR}
      "RGPU_TEST_SERVER_ARGS=--cpu-cc 12.0"
      COMMAND ${RGPU_CUBLAS_BIN_DIR}/gemm_${rt} create)
  endforeach()
endforeach()
foreach(tr ${RGPU_IT_TRANSPORTS})
  rgpu_it_test(cublas.clusters ${tr} COMMAND ${RGPU_CUBLAS_BIN_DIR}/clusters)
endforeach()
