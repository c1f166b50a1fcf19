# Integration tests of NVIDIA's cuDNN 9 for CUDA 13 (the nvidia-cudnn-cu13
# wheel, a test dependency like the CUDA 12 wheels) on rgpu: cudnn/cudnn.cu,
# built by nvcc as a user would (static cudart), linked with the wheel's
# libcudnn.so.9, which loads its engine libraries from its own directory.
# cuDNN needs what few programs do: mapped host memory (cudnnCreate takes a
# mapped status word) and family-specific PTX (its kernels ship as sm_XY
# SASS and compute_120f PTX), both of which rgpu provides.
# Tests: cudnn.<create|activation|conv>.<unix|tcp>.

if(NOT CUDAToolkit_NVCC_EXECUTABLE)
  message(STATUS "nvcc not found: the cudnn tests are not built")
  return()
endif()

# As in cudart.cmake: the helpers come from driver.cmake, which the glob
# includes after this file; read this file again at the end of the directory.
if(NOT COMMAND rgpu_it_test)
  if(CMAKE_VERSION VERSION_LESS 3.19)
    message(STATUS "CMake < 3.19: the cudnn tests are not registered")
  else()
    cmake_language(EVAL CODE "cmake_language(DEFER CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
  endif()
  return()
endif()

set(RGPU_CUDNN_DIR "" CACHE PATH
  "cuDNN 9 for CUDA 13 for the cudnn tests (holds lib/libcudnn.so.9 and include/cudnn.h); empty: the nvidia-cudnn-cu13 wheel's, if python3 finds it")
set(cudnn_dir "${RGPU_CUDNN_DIR}")
if(NOT cudnn_dir)
  rgpu_wheel_dir(nvidia.cudnn cudnn_dir)
endif()
if(NOT cudnn_dir OR NOT EXISTS "${cudnn_dir}/lib/libcudnn.so.9" OR NOT EXISTS "${cudnn_dir}/include/cudnn.h")
  message(STATUS "cuDNN 9 not found (set RGPU_CUDNN_DIR, or pip install nvidia-cudnn-cu13): "
    "the cudnn tests are not registered")
  return()
endif()
message(STATUS "cuDNN for the cudnn tests: ${cudnn_dir}")

set(RGPU_CUDNN_BIN_DIR ${CMAKE_BINARY_DIR}/tests/integration/cudnn)
set(out ${RGPU_CUDNN_BIN_DIR}/cudnn)
add_custom_command(
  OUTPUT ${out}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_CUDNN_BIN_DIR}
  COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -O2 ${RGPU_NVCC_DEFAULT_TARGETS} -cudart static -DCT_CUDART_SHARED=0 -I${cudnn_dir}/include
    ${RGPU_IT_DIR}/cudnn/cudnn.cu -o ${out} -L${cudnn_dir}/lib -l:libcudnn.so.9
  DEPENDS ${RGPU_IT_DIR}/cudnn/cudnn.cu ${RGPU_IT_DIR}/cudart/cudart_check.h
  COMMENT "nvcc: cudnn test (cuDNN 9, static cudart)"
  VERBATIM)
add_custom_target(rgpu_it_cudnn ALL DEPENDS ${out})
# where the library lies, for tests/gpu/run (which runs the program outside ctest)
file(WRITE ${RGPU_CUDNN_BIN_DIR}/lib_dir "${cudnn_dir}/lib")

foreach(case create activation conv)
  foreach(tr ${RGPU_IT_TRANSPORTS})
    rgpu_it_test(cudnn.${case} ${tr}
      ENV LD_LIBRARY_PATH=${cudnn_dir}/lib:${CUDAToolkit_LIBRARY_DIR}
      COMMAND ${out} ${case})
  endforeach()
endforeach()
