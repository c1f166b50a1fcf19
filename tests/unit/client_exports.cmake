# client_exports: MD2 / HMAC-MD2 and the integrity-check answer (compiled in
# from client/, with RFC 1319 vectors, a second implementation and known
# answers), and the export tables of the built libcuda.so.1, dlopen()ed as
# cudart does.
get_filename_component(RGPU_EXPORTS_ROOT ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
add_executable(test_client_exports ${CMAKE_CURRENT_LIST_DIR}/test_client_exports.c
  ${RGPU_EXPORTS_ROOT}/client/md2.c ${RGPU_EXPORTS_ROOT}/client/integrity.c)
target_include_directories(test_client_exports PRIVATE ${RGPU_EXPORTS_ROOT}/client ${CUDAToolkit_INCLUDE_DIRS})
target_compile_definitions(test_client_exports PRIVATE RGPU_CUDA_LIB="$<TARGET_FILE:rgpu_cuda>")
target_link_libraries(test_client_exports PRIVATE ${CMOCKA_LIB} ${CMAKE_DL_LIBS})
add_dependencies(test_client_exports rgpu_cuda)
add_test(NAME unit.client_exports COMMAND test_client_exports)

# client/ranges.c: the range sets behind the allocation table, page-locked
# memory and VMM mappings (compiled in from client/).
add_executable(test_client_ranges ${CMAKE_CURRENT_LIST_DIR}/test_client_ranges.c ${RGPU_EXPORTS_ROOT}/client/ranges.c)
target_include_directories(test_client_ranges PRIVATE ${RGPU_EXPORTS_ROOT}/client)
target_link_libraries(test_client_ranges PRIVATE ${CMOCKA_LIB} Threads::Threads)
add_test(NAME unit.client_ranges COMMAND test_client_ranges)
