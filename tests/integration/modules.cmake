# Module loading and kernel launch tests (driver API through rgpud): the test
# kernels (kernels/it_kernels.cu) are compiled by nvcc at build time into
#   it_kernels.compute_75.ptx   PTX text for compute_75
#   it_kernels.compute_120.ptx  PTX text for compute_120
#   it_kernels.fatbin           fatbin with compute_75 and compute_120 PTX
#   it_kernels.sm_90.fatbin     fatbin with only an sm_90 cubin
# in RGPU_IT_KERNEL_DIR, which every program here takes as its argument.
# Tests: driver.modules, driver.launch_fault, driver.library, driver.launch_ex, driver.coop, driver.async, driver.nvrtc
# and driver.link (when the toolkit has NVRTC), each over unix and tcp.

if(NOT CUDAToolkit_NVCC_EXECUTABLE)
  message(WARNING "nvcc not found: the module/launch integration tests are not built")
  return()
endif()

set(RGPU_IT_KERNEL_DIR ${CMAKE_BINARY_DIR}/tests/integration/kernels)
set(RGPU_IT_KERNEL_SRC ${RGPU_IT_DIR}/kernels/it_kernels.cu)
set(RGPU_IT_KERNEL_DEPS ${RGPU_IT_KERNEL_SRC} ${RGPU_IT_DIR}/kernels/it_kernels.h)

# rgpu_it_nvcc(output-name nvcc-args...)
set(RGPU_IT_KERNEL_OUTPUTS)
function(rgpu_it_nvcc out)
  add_custom_command(
    OUTPUT ${RGPU_IT_KERNEL_DIR}/${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_IT_KERNEL_DIR}
    COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} ${ARGN} ${RGPU_IT_KERNEL_SRC} -o ${RGPU_IT_KERNEL_DIR}/${out}
    DEPENDS ${RGPU_IT_KERNEL_DEPS}
    COMMENT "nvcc: test kernels -> ${out}"
    VERBATIM)
  set(RGPU_IT_KERNEL_OUTPUTS ${RGPU_IT_KERNEL_OUTPUTS} ${RGPU_IT_KERNEL_DIR}/${out} PARENT_SCOPE)
endfunction()

rgpu_it_nvcc(it_kernels.compute_75.ptx -ptx -arch=compute_75)
rgpu_it_nvcc(it_kernels.compute_120.ptx -ptx -arch=compute_120)
rgpu_it_nvcc(it_kernels.fatbin -fatbin
  -gencode arch=compute_75,code=compute_75 -gencode arch=compute_120,code=compute_120)
rgpu_it_nvcc(it_kernels.sm_90.fatbin -fatbin -gencode arch=compute_90,code=sm_90)
# grid-wide sync (cooperative_groups) for driver.coop, apart from the kernel
# set above that other tests enumerate
add_custom_command(
  OUTPUT ${RGPU_IT_KERNEL_DIR}/it_coop.compute_75.ptx
  COMMAND ${CMAKE_COMMAND} -E make_directory ${RGPU_IT_KERNEL_DIR}
  COMMAND ${CUDAToolkit_NVCC_EXECUTABLE} -ptx -arch=compute_75 ${RGPU_IT_DIR}/kernels/it_coop.cu
    -o ${RGPU_IT_KERNEL_DIR}/it_coop.compute_75.ptx
  DEPENDS ${RGPU_IT_DIR}/kernels/it_coop.cu
  COMMENT "nvcc: test kernels -> it_coop.compute_75.ptx"
  VERBATIM)
list(APPEND RGPU_IT_KERNEL_OUTPUTS ${RGPU_IT_KERNEL_DIR}/it_coop.compute_75.ptx)
add_custom_target(rgpu_it_kernels ALL DEPENDS ${RGPU_IT_KERNEL_OUTPUTS})

rgpu_it_program(modules ${RGPU_IT_DIR}/modules.c)
# rgpu_client_info: the occupancy checks count requests
target_include_directories(rgpu_it_modules PRIVATE ${PROJECT_SOURCE_DIR}/client)
rgpu_it_program(launch_fault ${RGPU_IT_DIR}/launch_fault.c)
rgpu_it_program(library ${RGPU_IT_DIR}/library.c)
target_include_directories(rgpu_it_library PRIVATE ${PROJECT_SOURCE_DIR}/client) # rgpu_client.h
rgpu_it_program(launch_ex ${RGPU_IT_DIR}/launch_ex.c)
rgpu_it_program(async ${RGPU_IT_DIR}/async.c)
rgpu_it_program(coop ${RGPU_IT_DIR}/coop.c)
set(RGPU_IT_MODULE_PROGRAMS modules launch_fault library launch_ex async coop)

# NVRTC compiles on the client (no GPU needed); only this program links it.
find_library(RGPU_IT_NVRTC_LIBRARY nvrtc HINTS ${CUDAToolkit_LIBRARY_DIR} NO_DEFAULT_PATH)
find_path(RGPU_IT_NVRTC_INCLUDE nvrtc.h HINTS ${CUDAToolkit_INCLUDE_DIRS} NO_DEFAULT_PATH)
if(RGPU_IT_NVRTC_LIBRARY AND RGPU_IT_NVRTC_INCLUDE)
  rgpu_it_program(nvrtc ${RGPU_IT_DIR}/nvrtc.c)
  target_include_directories(rgpu_it_nvrtc PRIVATE ${RGPU_IT_NVRTC_INCLUDE})
  target_link_libraries(rgpu_it_nvrtc PRIVATE ${RGPU_IT_NVRTC_LIBRARY})
  list(APPEND RGPU_IT_MODULE_PROGRAMS nvrtc)
  # cuLink* of NVRTC's relocatable PTX (-rdc=true), fatbins and files
  rgpu_it_program(link ${RGPU_IT_DIR}/link.c)
  target_include_directories(rgpu_it_link PRIVATE ${RGPU_IT_NVRTC_INCLUDE})
  target_link_libraries(rgpu_it_link PRIVATE ${RGPU_IT_NVRTC_LIBRARY})
  list(APPEND RGPU_IT_MODULE_PROGRAMS link)
else()
  message(STATUS "NVRTC not found in the CUDA toolkit: driver.nvrtc is not built")
endif()

foreach(prog ${RGPU_IT_MODULE_PROGRAMS})
  add_dependencies(rgpu_it_${prog} rgpu_it_kernels)
  foreach(tr ${RGPU_IT_DRIVER_TRANSPORTS})
    rgpu_it_test(driver.${prog} ${tr} ENV RGPU_IT_KERNEL_DIR=${RGPU_IT_KERNEL_DIR}
      COMMAND $<TARGET_FILE:rgpu_it_${prog}> ${RGPU_IT_KERNEL_DIR})
  endforeach()
endforeach()
# queued work, then exit() without synchronising: exits normally (async.c)
foreach(tr ${RGPU_IT_DRIVER_TRANSPORTS})
  rgpu_it_test(driver.async_exit ${tr} ENV RGPU_IT_KERNEL_DIR=${RGPU_IT_KERNEL_DIR}
    COMMAND $<TARGET_FILE:rgpu_it_async> ${RGPU_IT_KERNEL_DIR} exit)
endforeach()
