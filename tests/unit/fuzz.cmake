# Fuzz harnesses of the parsers rgpud runs on what clients send (tests/fuzz/):
# the PTX parser and the fat binary reader. Here each is built with
# tests/fuzz/replay.c as its main() and ctest replays the inputs that once
# failed (tests/fuzz/corpus/) and the PTX the unit tests compile. To fuzz,
# configure a separate build with clang and -DRGPU_FUZZ=ON: the harnesses are
# then libFuzzer programs (see tests/fuzz/README.md).
set(RGPU_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
foreach(h ptx ptx_exec fatbin)
  if(RGPU_FUZZ)
    add_executable(fuzz_${h} ${RGPU_FUZZ_DIR}/fuzz_${h}.c)
    target_link_options(fuzz_${h} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(fuzz_${h} ${RGPU_FUZZ_DIR}/fuzz_${h}.c ${RGPU_FUZZ_DIR}/replay.c)
  endif()
endforeach()
target_link_libraries(fuzz_ptx PRIVATE rgpu_ptx)
target_link_libraries(fuzz_ptx_exec PRIVATE rgpu_ptx)
target_link_libraries(fuzz_fatbin PRIVATE rgpu_fatbin)
target_include_directories(fuzz_ptx PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
target_include_directories(fuzz_ptx_exec PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
if(NOT RGPU_FUZZ)
  add_test(NAME unit.fuzz_fatbin_replay COMMAND fuzz_fatbin ${RGPU_FUZZ_DIR}/corpus/fatbin ${RGPU_FUZZ_DIR}/corpus/ptx)
  if(CUDAToolkit_NVCC_EXECUTABLE AND EXISTS "${CUDAToolkit_NVCC_EXECUTABLE}")
    set(ptx_inputs ${RGPU_FUZZ_DIR}/corpus/ptx ${CMAKE_CURRENT_BINARY_DIR}/ptx_data)
    add_dependencies(fuzz_ptx rgpu_ptx_data)
    add_dependencies(fuzz_ptx_exec rgpu_ptx_data)
  else()
    set(ptx_inputs ${RGPU_FUZZ_DIR}/corpus/ptx)
  endif()
  add_test(NAME unit.fuzz_ptx_replay COMMAND fuzz_ptx ${ptx_inputs})
  add_test(NAME unit.fuzz_ptx_exec_replay COMMAND fuzz_ptx_exec ${ptx_inputs})
endif()
