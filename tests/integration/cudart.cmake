# Integration tests of NVIDIA's CUDA runtime (cudart 13) on rgpu: ordinary
# runtime-API programs (<<<>>> launches, cudaMemcpy, symbols, streams,
# events, reset, errors) in cudart/*.cu, built by nvcc exactly as a user
# would, twice: with the default static cudart and with -cudart shared.
# Neither links any driver: cudart dlopen()s libcuda.so.1, which
# run_with_server.sh points at rgpu's; for the shared runtime the toolkit's
# library directory comes after rgpu's on LD_LIBRARY_PATH.
# Tests: cudart.<program>.<static|shared>.<unix|tcp>.

if(NOT CUDAToolkit_NVCC_EXECUTABLE)
  message(WARNING "nvcc not found: the cudart integration tests are not built")
  return()
endif()

# The helpers (rgpu_it_test, RGPU_IT_DIR, RGPU_IT_TRANSPORTS) come from
# driver.cmake, which the glob includes after this file: read this file
# again at the end of the directory, once they exist.
if(NOT COMMAND rgpu_it_test)
  if(CMAKE_VERSION VERSION_LESS 3.19)
    message(WARNING "CMake < 3.19: the cudart integration tests are not registered")
  else()
    # (EVAL: a deferred call expands its arguments when it runs, when
    # CMAKE_CURRENT_LIST_FILE names another file)
    cmake_language(EVAL CODE "cmake_language(DEFER CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
  endif()
  return()
endif()

set(RGPU_CUDART_SRC_DIR ${RGPU_IT_DIR}/cudart)
set(RGPU_CUDART_BIN_DIR ${CMAKE_BINARY_DIR}/tests/integration/cudart)

# The PTX each program carries (the CPU device runs PTX; it reports cc 12.0):
# compute_120 for basic, the oldest PTX nvcc 13 emits for the others.
set(RGPU_CUDART_ARCH_basic -gencode arch=compute_120,code=compute_120)
# asyncbar: sm_90 forms (cp.async.bulk, mbarrier tx-counts)
set(RGPU_CUDART_ARCH_asyncbar -gencode arch=compute_90,code=compute_90)
# rdc: two translation units compiled separately (-rdc=true), PTX only: the
# driver links their relocatable PTX (and libcudadevrt's object) at load
set(RGPU_CUDART_ARCH_rdc -rdc=true -arch=compute_75)
set(RGPU_CUDART_SOURCES_rdc rdc_a.cu rdc_b.cu)
set(RGPU_CUDART_PROGRAMS basic streams reset errors launch_config printf threads graphs graph_mem graph_cond coop asyncbar rdc mallocasync managed texture)

set(RGPU_CUDART_OUTPUTS)
foreach(prog ${RGPU_CUDART_PROGRAMS})
  if(DEFINED RGPU_CUDART_ARCH_${prog})
    set(arch ${RGPU_CUDART_ARCH_${prog}})
  else()
    set(arch -arch=compute_75)
  endif()
  set(srcs)
  if(DEFINED RGPU_CUDART_SOURCES_${prog})
    foreach(f ${RGPU_CUDART_SOURCES_${prog}})
      list(APPEND srcs ${RGPU_CUDART_SRC_DIR}/${f})
    endforeach()
  else()
    set(srcs ${RGPU_CUDART_SRC_DIR}/${prog}.cu)
  endif()
  foreach(rt static shared)
    if(rt STREQUAL shared)
      set(rtflags -cudart shared -DCT_CUDART_SHARED=1)
    else()
      set(rtflags -cudart static -DCT_CUDART_SHARED=0)
    endif()
    set(out ${RGPU_CUDART_BIN_DIR}/${prog}_${rt})
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_CUDART_BIN_DIR}
      COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -O2 ${arch} ${RGPU_NVCC_GPU_GENCODE} ${rtflags} -I${RGPU_CUDART_SRC_DIR}
        ${srcs} -o ${out}
      DEPENDS ${srcs} ${RGPU_CUDART_SRC_DIR}/cudart_check.h
      COMMENT "nvcc: cudart test ${prog} (${rt} cudart)"
      VERBATIM)
    list(APPEND RGPU_CUDART_OUTPUTS ${out})
  endforeach()
endforeach()
add_custom_target(rgpu_it_cudart ALL DEPENDS ${RGPU_CUDART_OUTPUTS})

foreach(prog ${RGPU_CUDART_PROGRAMS})
  foreach(tr ${RGPU_IT_TRANSPORTS})
    rgpu_it_test(cudart.${prog}.static ${tr} COMMAND ${RGPU_CUDART_BIN_DIR}/${prog}_static)
    rgpu_it_test(cudart.${prog}.shared ${tr} ENV LD_LIBRARY_PATH=${CUDAToolkit_LIBRARY_DIR}
      COMMAND ${RGPU_CUDART_BIN_DIR}/${prog}_shared)
  endforeach()
endforeach()
