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

# rgpud's nvidia backend against stand-ins for NVIDIA's driver.
foreach(ver 12_4 12_2)
  add_library(fake_nvidia_driver_${ver} MODULE ${CMAKE_CURRENT_LIST_DIR}/fake_nvidia_driver.c)
  target_include_directories(fake_nvidia_driver_${ver} PRIVATE $<TARGET_PROPERTY:rgpu_wire,INTERFACE_INCLUDE_DIRECTORIES>)
  set_target_properties(fake_nvidia_driver_${ver} PROPERTIES C_VISIBILITY_PRESET hidden)
endforeach()
target_compile_definitions(fake_nvidia_driver_12_2 PRIVATE FAKE_CUDA_12_2)
add_executable(test_backend_nvidia ${CMAKE_CURRENT_LIST_DIR}/test_backend_nvidia.c
  ${PROJECT_SOURCE_DIR}/server/backend_nvidia.c)
target_include_directories(test_backend_nvidia PRIVATE ${PROJECT_SOURCE_DIR}/server
  $<TARGET_PROPERTY:rgpu_wire,INTERFACE_INCLUDE_DIRECTORIES>)
target_compile_definitions(test_backend_nvidia PRIVATE
  FAKE_DRIVER_12_4="$<TARGET_FILE:fake_nvidia_driver_12_4>" FAKE_DRIVER_12_2="$<TARGET_FILE:fake_nvidia_driver_12_2>")
add_dependencies(test_backend_nvidia fake_nvidia_driver_12_4 fake_nvidia_driver_12_2)
target_link_libraries(test_backend_nvidia PRIVATE rgpu_common ${CMOCKA_LIB} ${CMAKE_DL_LIBS})
add_test(NAME unit.backend_nvidia COMMAND test_backend_nvidia)
