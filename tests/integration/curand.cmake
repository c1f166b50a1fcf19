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
if(NOT COMMAND rgpu_it_test)
  cmake_language(EVAL CODE "cmake_language(DEFER CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
  return()
endif()

set(RGPU_CURAND_BIN_DIR ${CMAKE_BINARY_DIR}/tests/integration/curand)
set(out ${RGPU_CURAND_BIN_DIR}/curand)
add_custom_command(
  OUTPUT ${out}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_CURAND_BIN_DIR}
  COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -O2 -cudart shared -DCT_CUDART_SHARED=1 ${RGPU_IT_DIR}/curand/curand.cu
    -o ${out} -L${CUDAToolkit_LIBRARY_DIR} -lcurand
  DEPENDS ${RGPU_IT_DIR}/curand/curand.cu ${RGPU_IT_DIR}/cudart/cudart_check.h
  COMMENT "nvcc: curand test"
  VERBATIM)
add_custom_target(rgpu_it_curand ALL DEPENDS ${out})
foreach(gen xorwow philox mrg32k3a mtgp32 sobol32 scrambled_sobol64)
  foreach(tr ${RGPU_IT_TRANSPORTS})
    rgpu_it_test(curand.${gen} ${tr} ENV LD_LIBRARY_PATH=${CUDAToolkit_LIBRARY_DIR} COMMAND ${out} ${gen})
  endforeach()
endforeach()
