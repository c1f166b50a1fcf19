# Stream capture and CUDA graphs through rgpud (driver API): graphs.c, run
# with the test kernels that modules.cmake builds. The cudart form (what
# ggml does) is cudart/graphs.cu, registered by cudart.cmake.
# Tests: driver.graphs.<unix|tcp>.

set(RGPU_IT_GRAPH_KERNEL_DIR ${CMAKE_BINARY_DIR}/tests/integration/kernels)
rgpu_it_program(graphs ${RGPU_IT_DIR}/graphs.c)
# the kernels' target is defined by modules.cmake, read after this file
add_dependencies(rgpu_it_graphs rgpu_it_kernels)
foreach(tr ${RGPU_IT_DRIVER_TRANSPORTS})
  rgpu_it_test(driver.graphs ${tr} COMMAND $<TARGET_FILE:rgpu_it_graphs> ${RGPU_IT_GRAPH_KERNEL_DIR})
endforeach()
