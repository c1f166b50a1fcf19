# CPU device unit tests (cmocka). Each test program initialises the device
# once with its own configuration, hence one executable per area.
foreach(t heap device memory stream vmm graph)
  add_executable(test_cpudev_${t} ${CMAKE_CURRENT_LIST_DIR}/test_cpudev_${t}.c)
  target_link_libraries(test_cpudev_${t} PRIVATE rgpu_cpudev ${CMOCKA_LIB})
  add_test(NAME cpudev_${t} COMMAND test_cpudev_${t})
  set_tests_properties(cpudev_${t} PROPERTIES TIMEOUT 60)
endforeach()
