# rgpud --memory-limit (server/quota.h): tests/integration/quota.c, linked
# against both rgpu libraries, against an rgpud that limits its clients to
# 64 MiB of the CPU device's memory. Tests: driver.quota.<transport>.

# the helpers come from driver.cmake, which the glob includes after this file
if(NOT COMMAND rgpu_it_test)
  cmake_language(EVAL CODE "cmake_language(DEFER CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
  return()
endif()

rgpu_it_program(quota ${RGPU_IT_DIR}/quota.c)
target_include_directories(rgpu_it_quota PRIVATE ${RGPU_NVML_INCLUDE})
target_link_libraries(rgpu_it_quota PRIVATE rgpu_nvml)
foreach(tr ${RGPU_IT_DRIVER_TRANSPORTS})
  rgpu_it_test(driver.quota ${tr} ENV "RGPU_TEST_SERVER_ARGS=--memory-limit 64M"
    COMMAND $<TARGET_FILE:rgpu_it_quota> 64)
endforeach()

# The fuzzer's random requests of every call against a limited rgpud: the
# quota's records and counts see every hostile size, pointer and handle too.
rgpu_it_test(robust.fuzz_quota unix ENV "RGPU_TEST_SERVER_ARGS=--memory-limit 1G"
  COMMAND $<TARGET_FILE:rgpu_it_robust_fuzz> $<TARGET_FILE:rgpu_it_devices>)
