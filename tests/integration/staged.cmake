# The NVIDIA backend's copy paths, run on the CPU device: with
# RGPU_STAGED_COPIES=1 the worker treats device memory as not its own, so
# copies go through page-locked staging buffers (server/bufpool.c pins them
# through the backend) and large host->device payloads are received chunk by
# chunk, each chunk's copy queued as it arrives (server/htod_chunked.c), and
# large device->host copies are copied in chunks, each sent as it completes
# (server/dtoh_chunked.c), instead of the CPU device's direct paths. The programs check every byte
# and the stream order around the copies (async: copies between kernels;
# graphs: a large copy refused inside a capture; memory: up to 1 GiB), and
# that a client or server killed mid-copy costs nothing but that connection.
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
# a client killed in the middle of a chunked 1 GiB host->device copy, and a
# server killed while chunks of a device->host copy are on their way
rgpu_it_test(robust.staged_kill_client unix ENV RGPU_STAGED_COPIES=1
  COMMAND $<TARGET_FILE:rgpu_it_robust_kill_client>)
rgpu_it_test(robust.staged_kill_server_dtoh unix ENV RGPU_STAGED_COPIES=1 RGPU_TEST_SERVER_MAY_DIE=1
  COMMAND $<TARGET_FILE:rgpu_it_robust_kill_server> dtoh)
set_property(TEST robust.staged_kill_client.unix robust.staged_kill_server_dtoh.unix
  APPEND PROPERTY RESOURCE_LOCK rgpu_it_big_memory)
# hostile requests against the staged paths (robust_wire.c's cases)
rgpu_it_test(robust.staged_wire unix ENV RGPU_STAGED_COPIES=1
  COMMAND $<TARGET_FILE:rgpu_it_robust_wire> $<TARGET_FILE:rgpu_it_devices>)
