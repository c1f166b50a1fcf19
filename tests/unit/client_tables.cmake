# client_tables: the driver entry-point table (cuGetProcAddress), the weak
# CUDA_ERROR_NOT_SUPPORTED fallbacks and the CUresult strings of libcuda.so.1,
# plus the generator that writes client/driver_tables.inc.
get_filename_component(RGPU_TABLES_ROOT ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)

# test_procaddr dlopen()s the real library, as cudart does, so it links none
# of it; it only needs the headers and the generated table.
add_executable(test_procaddr ${CMAKE_CURRENT_LIST_DIR}/test_procaddr.c)
target_include_directories(test_procaddr PRIVATE ${RGPU_TABLES_ROOT}/client ${RGPU_TABLES_ROOT}/wire
  ${CUDAToolkit_INCLUDE_DIRS})
target_compile_definitions(test_procaddr PRIVATE RGPU_CUDA_LIB="$<TARGET_FILE:rgpu_cuda>")
target_link_libraries(test_procaddr PRIVATE ${CMOCKA_LIB} ${CMAKE_DL_LIBS})
add_dependencies(test_procaddr rgpu_cuda)
add_test(NAME unit.client_procaddr COMMAND test_procaddr)

# The committed client/driver_tables.inc must be what the generator makes from
# the installed toolkit: regenerate into the build tree and diff. Exit 77
# (skipped) where the toolkit's headers or stub driver are absent.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  set(RGPU_STUB_LIBCUDA "")
  foreach(dir ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib64 ${CUDAToolkit_TARGET_DIR}/lib)
    if(NOT RGPU_STUB_LIBCUDA AND EXISTS ${dir}/stubs/libcuda.so)
      set(RGPU_STUB_LIBCUDA ${dir}/stubs/libcuda.so)
    endif()
  endforeach()
  if(NOT RGPU_STUB_LIBCUDA)
    set(RGPU_STUB_LIBCUDA ${CUDAToolkit_LIBRARY_DIR}/stubs/libcuda.so) # absent: the test skips
  endif()
  set(RGPU_TABLES_NM nm)
  if(CMAKE_NM)
    set(RGPU_TABLES_NM ${CMAKE_NM})
  endif()
  set(RGPU_TABLES_INCLUDES "")
  foreach(dir ${CUDAToolkit_INCLUDE_DIRS})
    list(APPEND RGPU_TABLES_INCLUDES --cuda-include ${dir})
  endforeach()
  add_test(NAME unit.driver_tables_fresh
    COMMAND Python3::Interpreter ${RGPU_TABLES_ROOT}/tools/gen_driver_tables.py
      ${RGPU_TABLES_INCLUDES} --stub-lib ${RGPU_STUB_LIBCUDA} --nm ${RGPU_TABLES_NM}
      -o ${CMAKE_CURRENT_BINARY_DIR}/driver_tables.inc
      --check ${RGPU_TABLES_ROOT}/client/driver_tables.inc --skip-missing)
  set_tests_properties(unit.driver_tables_fresh PROPERTIES SKIP_RETURN_CODE 77)
  add_test(NAME unit.driver_tables_generator
    COMMAND Python3::Interpreter ${RGPU_TABLES_ROOT}/tools/gen_driver_tables.py --self-test)
else()
  add_test(NAME unit.driver_tables_fresh COMMAND ${CMAKE_COMMAND} -E echo "python3 not found; skipping")
  set_tests_properties(unit.driver_tables_fresh PROPERTIES SKIP_REGULAR_EXPRESSION "skipping")
endif()
