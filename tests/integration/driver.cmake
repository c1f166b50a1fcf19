# Integration tests of the driver API through rgpud: ordinary CUDA driver-API
# programs linked against rgpu's libcuda.so.1 (target rgpu_cuda), each run by
# run_with_server.sh against a private rgpud (--backend cpu) over a unix
# socket, over loopback TCP and over shared memory. Test names: driver.<program>.<transport>,
# robust.<case>.<transport>, demo.unix.

set(RGPU_IT_DIR ${CMAKE_CURRENT_LIST_DIR})
set(RGPU_IT_RUNNER ${RGPU_IT_DIR}/run_with_server.sh)
# also for the deferred demo registration, which runs in another directory scope
set_property(GLOBAL PROPERTY RGPU_IT_RUNNER ${RGPU_IT_RUNNER})
set(RGPU_IT_TRANSPORTS unix tcp)
# The driver-API programs also run over shared memory (shm:, a third of the
# time again); the big library suites (cuBLAS, cuDNN, cudart) keep to
# RGPU_IT_TRANSPORTS, which is enough to cover their calls on the wire.
set(RGPU_IT_DRIVER_TRANSPORTS ${RGPU_IT_TRANSPORTS} shm)

# rgpu_it_program(name sources...): a test program built like any CUDA
# application: toolkit headers, our libcuda.so.1, never the toolkit's.
function(rgpu_it_program name)
  add_executable(rgpu_it_${name} ${ARGN})
  set_target_properties(rgpu_it_${name} PROPERTIES OUTPUT_NAME ${name}
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/integration)
  target_include_directories(rgpu_it_${name} PRIVATE ${RGPU_IT_DIR} ${CUDAToolkit_INCLUDE_DIRS})
  target_link_libraries(rgpu_it_${name} PRIVATE rgpu_cuda Threads::Threads ${CMAKE_DL_LIBS})
endfunction()

# rgpu_it_test(name transport [ENV var=value...] COMMAND program args...)
function(rgpu_it_test name transport)
  cmake_parse_arguments(T "" "" "ENV;COMMAND" ${ARGN})
  get_property(runner GLOBAL PROPERTY RGPU_IT_RUNNER)
  add_test(NAME ${name}.${transport} COMMAND ${runner} ${transport} ${T_COMMAND})
  set_tests_properties(${name}.${transport} PROPERTIES
    TIMEOUT 300
    LABELS "integration"
    ENVIRONMENT "RGPU_RGPUD=$<TARGET_FILE:rgpud>;RGPU_LIB_DIR=$<TARGET_FILE_DIR:rgpu_cuda>;RGPU_BUILD_DIR=${CMAKE_BINARY_DIR};RGPU_TEST_TIMEOUT=280;${T_ENV}")
endfunction()

# rgpu_it_library_suite(name COMMENT text LIBS -lfoo... CASES case...): a
# program of NVIDIA's libraries, <name>/<name>.cu, built by nvcc as a user
# would (shared cudart) and linked with the toolkit's libraries; one test per
# case and transport, <name>.<case>.<transport>, the program run with the case.
function(rgpu_it_library_suite name)
  cmake_parse_arguments(S "" "COMMENT" "LIBS;CASES" ${ARGN})
  set(dir ${CMAKE_BINARY_DIR}/tests/integration/${name})
  set(src ${RGPU_IT_DIR}/${name}/${name}.cu)
  add_custom_command(
    OUTPUT ${dir}/${name}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -O2 -cudart shared -DCT_CUDART_SHARED=1 ${src}
      -o ${dir}/${name} -L${CUDAToolkit_LIBRARY_DIR} ${S_LIBS}
    DEPENDS ${src} ${RGPU_IT_DIR}/cudart/cudart_check.h
    COMMENT "nvcc: ${S_COMMENT}"
    VERBATIM)
  add_custom_target(rgpu_it_${name} ALL DEPENDS ${dir}/${name})
  foreach(case ${S_CASES})
    foreach(tr ${RGPU_IT_TRANSPORTS})
      rgpu_it_test(${name}.${case} ${tr} ENV LD_LIBRARY_PATH=${CUDAToolkit_LIBRARY_DIR} COMMAND ${dir}/${name} ${case})
    endforeach()
  endforeach()
endfunction()

rgpu_it_program(devices ${RGPU_IT_DIR}/devices.c)
rgpu_it_program(contexts ${RGPU_IT_DIR}/contexts.c)
target_include_directories(rgpu_it_contexts PRIVATE ${PROJECT_SOURCE_DIR}/client) # rgpu_client.h
rgpu_it_program(memory ${RGPU_IT_DIR}/memory.c)
rgpu_it_program(errors ${RGPU_IT_DIR}/errors.c)
rgpu_it_program(vmm ${RGPU_IT_DIR}/vmm.c)
target_include_directories(rgpu_it_errors PRIVATE ${PROJECT_SOURCE_DIR}/client) # rgpu_client.h
target_include_directories(rgpu_it_vmm PRIVATE ${PROJECT_SOURCE_DIR}/client)
rgpu_it_program(mempool ${RGPU_IT_DIR}/mempool.c)
target_include_directories(rgpu_it_mempool PRIVATE ${PROJECT_SOURCE_DIR}/client) # rgpu_client.h
rgpu_it_program(managed ${RGPU_IT_DIR}/managed.c)
target_include_directories(rgpu_it_managed PRIVATE ${PROJECT_SOURCE_DIR}/client)
rgpu_it_program(streams ${RGPU_IT_DIR}/streams.c ${RGPU_IT_DIR}/streams_ptds.c)
target_include_directories(rgpu_it_streams PRIVATE ${PROJECT_SOURCE_DIR}/client) # rgpu_client.h
rgpu_it_program(visible ${RGPU_IT_DIR}/visible.c)
rgpu_it_program(hostpool ${RGPU_IT_DIR}/hostpool.c)
rgpu_it_program(arrays ${RGPU_IT_DIR}/arrays.c)
rgpu_it_program(memops ${RGPU_IT_DIR}/memops.c)
target_include_directories(rgpu_it_memops PRIVATE ${PROJECT_SOURCE_DIR}/client) # rgpu_client.h
target_include_directories(rgpu_it_arrays PRIVATE ${PROJECT_SOURCE_DIR}/client) # rgpu_client.h
rgpu_it_program(robust_kill_client ${RGPU_IT_DIR}/robust_kill_client.c)
rgpu_it_program(robust_kill_server ${RGPU_IT_DIR}/robust_kill_server.c)

# The raw-protocol clients speak wire/proto.h themselves: they take the call
# ids and codecs from wire/calls.h and link only rgpu_wire (also for the call
# table's fingerprint, which a HELLO must carry), not libcuda. Each runs the
# devices program as "a normal client" between its cases.
function(rgpu_it_raw_program name)
  add_executable(rgpu_it_${name} ${RGPU_IT_DIR}/${name}.c)
  set_target_properties(rgpu_it_${name} PROPERTIES OUTPUT_NAME ${name}
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/integration)
  target_include_directories(rgpu_it_${name} PRIVATE ${RGPU_IT_DIR} ${PROJECT_SOURCE_DIR}/wire
    ${CUDAToolkit_INCLUDE_DIRS} ${RGPU_NVML_INCLUDE})
  target_link_libraries(rgpu_it_${name} PRIVATE rgpu_wire)
  add_dependencies(rgpu_it_${name} rgpu_it_devices)
endfunction()
rgpu_it_raw_program(robust_wire)  # malformed and hostile messages, case by case
rgpu_it_raw_program(robust_fuzz)  # random requests of every call
rgpu_it_raw_program(robust_shm)   # hostile ring indices and sizes on shm: connections (maps the rings by hand)

foreach(tr ${RGPU_IT_DRIVER_TRANSPORTS})
  foreach(prog devices contexts memory errors streams vmm mempool managed visible hostpool arrays memops)
    rgpu_it_test(driver.${prog} ${tr} COMMAND $<TARGET_FILE:rgpu_it_${prog}>)
  endforeach()
  # robust_wire speaks the socket protocol by hand; robust_shm is its
  # counterpart for the rings (the fuzzer's random requests go everywhere)
  if(tr STREQUAL "shm")
    rgpu_it_test(robust.shm ${tr}
      COMMAND $<TARGET_FILE:rgpu_it_robust_shm> $<TARGET_FILE:rgpu_it_devices>)
  else()
    rgpu_it_test(robust.wire ${tr}
      COMMAND $<TARGET_FILE:rgpu_it_robust_wire> $<TARGET_FILE:rgpu_it_devices>)
  endif()
  rgpu_it_test(robust.fuzz ${tr}
    COMMAND $<TARGET_FILE:rgpu_it_robust_fuzz> $<TARGET_FILE:rgpu_it_devices>)
  # rgpud --token-file: its own script around the runner (it makes the secrets)
  add_test(NAME robust.auth.${tr} COMMAND ${RGPU_IT_DIR}/auth.sh ${tr} $<TARGET_FILE:rgpu_it_devices>)
  set_tests_properties(robust.auth.${tr} PROPERTIES TIMEOUT 120 LABELS "integration"
    ENVIRONMENT "RGPU_RGPUD=$<TARGET_FILE:rgpud>;RGPU_LIB_DIR=$<TARGET_FILE_DIR:rgpu_cuda>;RGPU_BUILD_DIR=${CMAKE_BINARY_DIR};RGPU_TEST_TIMEOUT=100")
  rgpu_it_test(robust.kill_client ${tr} COMMAND $<TARGET_FILE:rgpu_it_robust_kill_client>)
  rgpu_it_test(robust.kill_server_hostfn ${tr} ENV RGPU_TEST_SERVER_MAY_DIE=1
    COMMAND $<TARGET_FILE:rgpu_it_robust_kill_server> hostfn)
  foreach(mode htod dtoh)
    rgpu_it_test(robust.kill_server_${mode} ${tr} ENV RGPU_TEST_SERVER_MAY_DIE=1
      COMMAND $<TARGET_FILE:rgpu_it_robust_kill_server> ${mode})
  endforeach()
endforeach()

# The shm: host-memory pool's other shapes (hostpool.c): a pool too small for
# the larger buffers (those fall back to ordinary memory whose bytes travel), a
# client that leaves it unused, and the NVIDIA backend's copy paths around it
# (the server page-locks each allocation through the backend).
rgpu_it_test(driver.hostpool_small shm ENV RGPU_SHM_POOL_MIB=4 COMMAND $<TARGET_FILE:rgpu_it_hostpool>)
rgpu_it_test(driver.hostpool_unused shm ENV RGPU_SHM_POOL=0 COMMAND $<TARGET_FILE:rgpu_it_hostpool>)
rgpu_it_test(driver.staged_hostpool shm ENV RGPU_STAGED_COPIES=1 COMMAND $<TARGET_FILE:rgpu_it_hostpool>)

# The tests that move 1 GiB each way keep ~2-3 GiB of host memory busy (client
# buffer + device memory in the server): never run more than one at a time.
foreach(tr ${RGPU_IT_DRIVER_TRANSPORTS})
  set_property(TEST driver.memory.${tr} robust.kill_client.${tr} robust.kill_server_htod.${tr}
    robust.kill_server_dtoh.${tr} APPEND PROPERTY RESOURCE_LOCK rgpu_it_big_memory)
endforeach()

# bench/cudabench.c runs (its figures are the GPU suite's, not checked here):
# every call it makes works through rgpu, and it finishes
if(TARGET rgpu-cudabench)
  rgpu_it_test(bench.cudabench unix COMMAND $<TARGET_FILE:rgpu-cudabench> --quick)
endif()

# demo/ (an nvcc-built program) is wired into the build by the top-level
# CMakeLists; it publishes its executable in the global property
# RGPU_DEMO_EXE. Register its test once every directory has been processed.
function(rgpu_it_register_demo)
  get_property(exe GLOBAL PROPERTY RGPU_DEMO_EXE)
  if(exe)
    rgpu_it_test(demo unix COMMAND ${exe})
  else()
    get_property(runner GLOBAL PROPERTY RGPU_IT_RUNNER)
    add_test(NAME demo.unix COMMAND ${runner} unix demo-not-built)
    set_tests_properties(demo.unix PROPERTIES DISABLED TRUE LABELS "integration")
  endif()
endfunction()
if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.19)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL rgpu_it_register_demo)
else()
  rgpu_it_register_demo()
endif()
