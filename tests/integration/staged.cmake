# The NVIDIA backend's copy paths, run on the CPU device: with
# RGPU_STAGED_COPIES=1 the worker treats device memory as not its own, so
# copies go through page-locked staging buffers (server/bufpool.c pins them
# through the backend) and large host->device payloads are received chunk by
# chunk, each chunk's copy queued as it arrives (server/htod_chunked.c),
# instead of the CPU device's direct paths. The programs check every byte
# and the stream order around the copies (async: copies between kernels;
# graphs: a large copy refused inside a capture; memory: up to 1 GiB).
# Tests: driver.staged_<program>.<transport>.
foreach(prog memory streams)
  rgpu_it_test(driver.staged_${prog} unix ENV RGPU_STAGED_COPIES=1 COMMAND $<TARGET_FILE:rgpu_it_${prog}>)
endforeach()
set_property(TEST driver.staged_memory.unix APPEND PROPERTY RESOURCE_LOCK rgpu_it_big_memory)
foreach(tr unix shm)
  rgpu_it_test(driver.staged_async ${tr} ENV RGPU_STAGED_COPIES=1 RGPU_IT_KERNEL_DIR=${RGPU_IT_KERNEL_DIR}
    COMMAND $<TARGET_FILE:rgpu_it_async> ${RGPU_IT_KERNEL_DIR})
endforeach()
rgpu_it_test(driver.staged_graphs unix ENV RGPU_STAGED_COPIES=1
  COMMAND $<TARGET_FILE:rgpu_it_graphs> ${RGPU_IT_GRAPH_KERNEL_DIR})
