# Server parts that stand alone (compiled from server/ directly: rgpud is an
# executable, not a library).
add_executable(test_bufpool ${CMAKE_CURRENT_LIST_DIR}/test_bufpool.c ${PROJECT_SOURCE_DIR}/server/bufpool.c)
target_include_directories(test_bufpool PRIVATE ${PROJECT_SOURCE_DIR}/server)
target_link_libraries(test_bufpool PRIVATE rgpu_common ${CMOCKA_LIB} Threads::Threads)
add_test(NAME unit.bufpool COMMAND test_bufpool)

add_executable(test_devprint ${CMAKE_CURRENT_LIST_DIR}/test_devprint.c ${PROJECT_SOURCE_DIR}/server/devprint.c)
target_include_directories(test_devprint PRIVATE ${PROJECT_SOURCE_DIR}/server ${PROJECT_SOURCE_DIR}/cpudev
  ${CUDAToolkit_INCLUDE_DIRS})
target_link_libraries(test_devprint PRIVATE rgpu_wire rgpu_common ${CMOCKA_LIB} Threads::Threads)
add_test(NAME unit.devprint COMMAND test_devprint)

add_executable(test_handles ${CMAKE_CURRENT_LIST_DIR}/test_handles.c ${PROJECT_SOURCE_DIR}/server/handles.c)
target_include_directories(test_handles PRIVATE ${PROJECT_SOURCE_DIR}/server ${PROJECT_SOURCE_DIR}/wire
  ${CUDAToolkit_INCLUDE_DIRS})
target_link_libraries(test_handles PRIVATE rgpu_common ${CMOCKA_LIB} Threads::Threads)
add_test(NAME unit.handles COMMAND test_handles)
