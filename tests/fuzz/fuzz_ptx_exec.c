/*
 * fuzz_ptx_exec.c — the PTX machine running hostile kernels.
 *
 * A client chooses both the kernels rgpud's CPU device runs and their
 * arguments. This harness parses one input like fuzz_ptx.c, then runs up to
 * two of its kernels (two blocks of 33 threads, or the block the kernel
 * requires) with every pointer-sized parameter pointing into a small device
 * buffer: computed addresses, registers, shared and local memory, barriers
 * and calls must all end in a result, never in a stray access. The launch
 * is bounded by max_instructions, so a kernel that loops forever ends with
 * CUDA_ERROR_LAUNCH_TIMEOUT rather than a libFuzzer timeout.
 */
#include "guarded.h"
#include "ptx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEV_BYTES 65536u
#define MAX_GLOBAL 65536u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct memmap {
    uint64_t lo[65], hi[65];
    int n;
};

static bool valid(void *ctx, uint64_t addr, uint64_t n)
{
    const struct memmap *mm = ctx;
    for (int i = 0; i < mm->n; i++)
        if (addr >= mm->lo[i] && n <= mm->hi[i] - mm->lo[i] && addr - mm->lo[i] <= mm->hi[i] - mm->lo[i] - n)
            return true;
    return false;
}

static void run_kernel(const struct ptx_kernel *k, const uint64_t *gaddrs, struct memmap *mm, uint8_t *dev)
{
    struct ptx_kernel_info info;
    ptx_kernel_get_info(k, &info);
    if (info.param_bytes > 4096)
        return;
    uint8_t params[4096];
    memset(params, 0, sizeof params);
    for (int i = 0; i < info.nparams; i++) {
        size_t off, sz;
        ptx_kernel_param(k, i, &off, &sz);
        if (off + sz > info.param_bytes)
            abort(); /* the layout the loader reports must fit the buffer it sizes */
        uint64_t v = sz == 8 ? (uint64_t)(uintptr_t)(dev + (unsigned)i * 256u % DEV_BYTES) : 16u * (unsigned)i + 1;
        memcpy(params + off, &v, sz < 8 ? sz : 8);
    }
    unsigned block[3] = {33, 1, 1};
    if (info.reqntid[0])
        memcpy(block, info.reqntid, sizeof block);
    else if (info.maxntid[0] && (uint64_t)info.maxntid[0] * info.maxntid[1] * info.maxntid[2] < 33)
        memcpy(block, info.maxntid, sizeof block);
    struct ptx_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = k;
    l.grid[0] = 2;
    l.grid[1] = l.grid[2] = 1;
    memcpy(l.block, block, sizeof block);
    l.dynamic_shared = 256;
    l.params = params;
    l.global_addrs = gaddrs;
    l.memory.valid = valid;
    l.memory.ctx = mm;
    l.host_threads = 1;
    l.max_instructions = 1u << 18;
    char err[256];
    l.errbuf = err;
    l.errlen = sizeof err;
    ptx_launch_run(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct guarded g;
    char *text = guarded_copy(&g, data, size);
    if (!text)
        return 0;
    struct ptx_module *m = NULL;
    char err[256];
    if (ptx_module_parse(text, size, &m, err, sizeof err) != CUDA_SUCCESS) {
        guarded_free(&g);
        return 0;
    }
    int ng = ptx_module_global_count(m);
    struct memmap mm = {.n = 0};
    uint8_t *dev = calloc(1, DEV_BYTES);
    uint64_t *gaddrs = calloc((size_t)ng + 1, sizeof *gaddrs);
    void **gmem = calloc((size_t)ng + 1, sizeof *gmem);
    bool ok = dev && gaddrs && gmem && ng < 64;
    if (ok) {
        mm.lo[mm.n] = (uint64_t)(uintptr_t)dev;
        mm.hi[mm.n++] = (uint64_t)(uintptr_t)dev + DEV_BYTES;
    }
    for (int i = 0; ok && i < ng; i++) {
        struct ptx_global_info gi;
        ptx_module_global(m, i, &gi);
        if (gi.size > MAX_GLOBAL || !(gmem[i] = calloc(1, gi.size ? gi.size : 1))) {
            ok = false;
            break;
        }
        if (gi.init_len)
            memcpy(gmem[i], gi.init, gi.init_len);
        gaddrs[i] = (uint64_t)(uintptr_t)gmem[i];
        mm.lo[mm.n] = gaddrs[i];
        mm.hi[mm.n++] = gaddrs[i] + gi.size;
    }
    for (int i = 0; ok && i < ng; i++)
        ptx_module_global_relocate(m, i, gaddrs, gmem[i]);
    for (int i = 0; ok && i < ptx_module_kernel_count(m) && i < 2; i++)
        run_kernel(ptx_module_kernel(m, i), gaddrs, &mm, dev);
    for (int i = 0; gmem && i < ng; i++)
        free(gmem[i]);
    free(gmem);
    free(gaddrs);
    free(dev);
    ptx_module_free(m);
    guarded_free(&g);
    return 0;
}
