# rgpu's NVML (libnvidia-ml.so.1) through rgpud: tests/integration/nvml.c,
# linked against both rgpu libraries. Tests: driver.nvml.<unix|tcp>.

# the helpers come from driver.cmake, which the glob includes after this file
if(NOT COMMAND rgpu_it_test)
  cmake_language(EVAL CODE "cmake_language(DEFER CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
  return()
endif()

rgpu_it_program(nvml ${RGPU_IT_DIR}/nvml.c)
target_include_directories(rgpu_it_nvml PRIVATE ${RGPU_NVML_INCLUDE} ${PROJECT_SOURCE_DIR}/client)
target_link_libraries(rgpu_it_nvml PRIVATE rgpu_nvml)
foreach(tr ${RGPU_IT_DRIVER_TRANSPORTS})
  rgpu_it_test(driver.nvml ${tr} COMMAND $<TARGET_FILE:rgpu_it_nvml>)
endforeach()

# The installed layout (`cmake --install`): `rgpu run` from the prefix makes
# a program load the installed libcuda.so.1 and libnvidia-ml.so.1 (install.sh).
foreach(tr ${RGPU_IT_TRANSPORTS})
  rgpu_it_test(tools.install ${tr} COMMAND ${RGPU_IT_DIR}/install.sh ${CMAKE_BINARY_DIR})
endforeach()
