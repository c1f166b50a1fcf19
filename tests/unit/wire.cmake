add_executable(test_wire ${CMAKE_CURRENT_LIST_DIR}/test_wire.c)
target_link_libraries(test_wire PRIVATE rgpu_wire ${CMOCKA_LIB})
add_test(NAME unit.wire COMMAND test_wire)
