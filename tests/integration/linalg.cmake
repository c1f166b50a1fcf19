# NVIDIA's cuSPARSE 12 and cuSOLVER 12 (the toolkit's libraries) on rgpu:
# linalg/linalg.cu, built by nvcc as a user would (shared cudart), each case
# checked on the host (products against a double-precision reference,
# factorisations multiplied back, a solve by its residual).
# Tests: linalg.<spmv|spmm|potrf|getrs>.<unix|tcp>.

if(NOT CUDAToolkit_NVCC_EXECUTABLE)
  message(WARNING "nvcc not found: the cuSPARSE/cuSOLVER integration tests are not built")
  return()
endif()
find_library(RGPU_CUSPARSE_LIB NAMES cusparse libcusparse.so.12 PATHS ${CUDAToolkit_LIBRARY_DIR} NO_DEFAULT_PATH)
find_library(RGPU_CUSOLVER_LIB NAMES cusolver libcusolver.so.12 PATHS ${CUDAToolkit_LIBRARY_DIR} NO_DEFAULT_PATH)
if(NOT RGPU_CUSPARSE_LIB OR NOT RGPU_CUSOLVER_LIB)
  message(WARNING "libcusparse or libcusolver not found in ${CUDAToolkit_LIBRARY_DIR}: the linalg tests are not built")
  return()
endif()

# the helpers come from driver.cmake, which the glob includes after this file
if(NOT COMMAND rgpu_it_test)
  cmake_language(EVAL CODE "cmake_language(DEFER CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
  return()
endif()

set(RGPU_LINALG_BIN_DIR ${CMAKE_BINARY_DIR}/tests/integration/linalg)
set(out ${RGPU_LINALG_BIN_DIR}/linalg)
add_custom_command(
  OUTPUT ${out}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_LINALG_BIN_DIR}
  COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -O2 -cudart shared -DCT_CUDART_SHARED=1 ${RGPU_IT_DIR}/linalg/linalg.cu
    -o ${out} -L${CUDAToolkit_LIBRARY_DIR} -lcusparse -lcusolver -lcublas
  DEPENDS ${RGPU_IT_DIR}/linalg/linalg.cu ${RGPU_IT_DIR}/cudart/cudart_check.h
  COMMENT "nvcc: cuSPARSE/cuSOLVER test"
  VERBATIM)
add_custom_target(rgpu_it_linalg ALL DEPENDS ${out})
foreach(case spmv spmm potrf getrs)
  foreach(tr ${RGPU_IT_TRANSPORTS})
    rgpu_it_test(linalg.${case} ${tr} ENV LD_LIBRARY_PATH=${CUDAToolkit_LIBRARY_DIR} COMMAND ${out} ${case})
  endforeach()
endforeach()
