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
if(NOT COMMAND rgpu_it_library_suite)
  cmake_language(EVAL CODE "cmake_language(DEFER CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
  return()
endif()

rgpu_it_library_suite(linalg COMMENT "cuSPARSE/cuSOLVER test" LIBS -lcusparse -lcusolver -lcublas
  CASES spmv spmm potrf getrs)
