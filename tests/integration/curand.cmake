# NVIDIA's cuRAND (the toolkit's libcurand.so.10) on rgpu: curand/curand.cu,
# built by nvcc as a user would (shared cudart) and linked with the
# toolkit's cuRAND. Each generator's device numbers are checked against the
# same generator on the host (curandCreateGeneratorHost), which needs no
# driver. mt19937 also passes but takes two minutes on the CPU device (its
# setup runs long sequential kernels): it is left out of the suite.
# Tests: curand.<generator>.<unix|tcp>.

if(NOT CUDAToolkit_NVCC_EXECUTABLE)
  message(WARNING "nvcc not found: the curand integration tests are not built")
  return()
endif()
find_library(RGPU_CURAND_LIB NAMES curand libcurand.so.10 PATHS ${CUDAToolkit_LIBRARY_DIR} NO_DEFAULT_PATH)
if(NOT RGPU_CURAND_LIB)
  message(WARNING "libcurand not found in ${CUDAToolkit_LIBRARY_DIR}: the curand integration tests are not built")
  return()
endif()

# the helpers come from driver.cmake, which the glob includes after this file
if(NOT COMMAND rgpu_it_library_suite)
  cmake_language(EVAL CODE "cmake_language(DEFER CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
  return()
endif()

rgpu_it_library_suite(curand COMMENT "curand test" LIBS -lcurand
  CASES xorwow philox mrg32k3a mtgp32 sobol32 scrambled_sobol64)
