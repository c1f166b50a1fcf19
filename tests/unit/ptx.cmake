# PTX machine (ptx/) unit tests. The kernels in ptx_kernels/*.cu are compiled
# to PTX by nvcc at build time, one nvcc call per file and architecture
# (compute_75 for all; compute_80 / compute_90 / compute_120 for some; compute_120a
# for the forms CUDA's headers emit only for arch-specific targets), into
# ${RGPU_PTX_DATA}; each test program loads its PTX from there, runs it on
# the CPU and compares with results computed on the host.
if(NOT CUDAToolkit_NVCC_EXECUTABLE OR NOT EXISTS "${CUDAToolkit_NVCC_EXECUTABLE}")
  message(WARNING "nvcc not found: PTX unit tests are not built")
  return()
endif()
if(NOT TARGET rgpu_ptx)
  return()
endif()

set(RGPU_PTX_DATA ${CMAKE_CURRENT_BINARY_DIR}/ptx_data)
set(RGPU_PTX_SRC ${CMAKE_CURRENT_LIST_DIR}/ptx_kernels)
file(MAKE_DIRECTORY ${RGPU_PTX_DATA})
set(RGPU_PTX_OUTPUTS "")
function(rgpu_ptx_kernel name arch)
  set(out ${RGPU_PTX_DATA}/${name}_${arch}.ptx)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -ptx -arch=compute_${arch} -o ${out} ${RGPU_PTX_SRC}/${name}.cu
    DEPENDS ${RGPU_PTX_SRC}/${name}.cu
    COMMENT "nvcc: PTX test kernels ${name} (compute_${arch})" VERBATIM)
  set(RGPU_PTX_OUTPUTS ${RGPU_PTX_OUTPUTS} ${out} PARENT_SCOPE)
endfunction()
rgpu_ptx_kernel(control 75)
rgpu_ptx_kernel(control 90)
rgpu_ptx_kernel(control 120)
rgpu_ptx_kernel(arith 75)
rgpu_ptx_kernel(arith 90)
rgpu_ptx_kernel(arith 120)
rgpu_ptx_kernel(warp 75)
rgpu_ptx_kernel(warp 90)
rgpu_ptx_kernel(warp 120)
rgpu_ptx_kernel(mma 75)
rgpu_ptx_kernel(mma 80)
rgpu_ptx_kernel(mma 90)
rgpu_ptx_kernel(mma 120)
rgpu_ptx_kernel(coop 75)
rgpu_ptx_kernel(coop 120)
rgpu_ptx_kernel(narrow 120a)
rgpu_ptx_kernel(async 90)
rgpu_ptx_kernel(async 120)
rgpu_ptx_kernel(indirect 75)
rgpu_ptx_kernel(indirect 120)
rgpu_ptx_kernel(tex 75)
rgpu_ptx_kernel(tex 120)
add_custom_target(rgpu_ptx_data DEPENDS ${RGPU_PTX_OUTPUTS})

foreach(t control arith warp safety mma coop narrow async indirect link fp tex)
  add_executable(test_ptx_${t} ${CMAKE_CURRENT_LIST_DIR}/test_ptx_${t}.c)
  target_include_directories(test_ptx_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(test_ptx_${t} PRIVATE rgpu_ptx ${CMOCKA_LIB})
  target_compile_definitions(test_ptx_${t} PRIVATE PTX_DIR="${RGPU_PTX_DATA}")
  add_dependencies(test_ptx_${t} rgpu_ptx_data)
  # references computed in non-default rounding modes must not be folded or moved
  target_compile_options(test_ptx_${t} PRIVATE -frounding-math)
  add_test(NAME unit.ptx_${t} COMMAND test_ptx_${t})
  set_tests_properties(unit.ptx_${t} PROPERTIES TIMEOUT 120)
endforeach()

# throughput benchmark (not a test): build with `make bench_ptx`, run bench_ptx [host_threads]
add_executable(bench_ptx EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/bench_ptx.c)
target_link_libraries(bench_ptx PRIVATE rgpu_ptx)
