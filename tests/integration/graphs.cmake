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

# A graph's nodes after they are made: queries, edits, parameters of graphs
# and executable graphs, clones, cuGraphAddNode (graph_nodes.c).
rgpu_it_program(graph_nodes ${RGPU_IT_DIR}/graph_nodes.c)
target_include_directories(rgpu_it_graph_nodes PRIVATE ${PROJECT_SOURCE_DIR}/client) # rgpu_client.h
add_dependencies(rgpu_it_graph_nodes rgpu_it_kernels)
foreach(tr ${RGPU_IT_DRIVER_TRANSPORTS})
  rgpu_it_test(driver.graph_nodes ${tr} COMMAND $<TARGET_FILE:rgpu_it_graph_nodes> ${RGPU_IT_GRAPH_KERNEL_DIR})
endforeach()
