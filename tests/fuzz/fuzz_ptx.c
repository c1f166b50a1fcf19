/*
 * fuzz_ptx.c — the PTX parser on hostile text.
 *
 * rgpud parses whatever PTX a client sends (cuModuleLoadData, the linker's
 * inputs), so the parser is the CPU device's widest door. This harness
 * parses one input and reads back everything a load reports (kernels, their
 * parameters, module variables). Built for libFuzzer with RGPU_FUZZ=ON
 * (clang); otherwise main() in replay.c runs it over the files it is given,
 * which is how ctest keeps the inputs that once failed from failing again.
 */
#include "guarded.h"
#include "ptx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct guarded g;
    char *text = guarded_copy(&g, data, size);
    if (!text)
        return 0;
    struct ptx_module *m = NULL;
    char err[256];
    if (ptx_module_parse(text, size, &m, err, sizeof err) == CUDA_SUCCESS) {
        for (int i = 0; i < ptx_module_kernel_count(m); i++) {
            const struct ptx_kernel *k = ptx_module_kernel(m, i);
            struct ptx_kernel_info info;
            ptx_kernel_get_info(k, &info);
            for (int p = 0; p < info.nparams; p++) {
                size_t off, sz;
                ptx_kernel_param(k, p, &off, &sz);
            }
            if (ptx_module_find_kernel(m, info.name) == NULL)
                abort(); /* a kernel the module lists must be found by its name */
        }
        int ng = ptx_module_global_count(m);
        uint64_t *addrs = calloc((size_t)ng + 1, sizeof *addrs);
        for (int i = 0; addrs && i < ng; i++) {
            struct ptx_global_info g;
            ptx_module_global(m, i, &g);
            if (g.init_len > g.size)
                abort();
            addrs[i] = 0x1000u * (uint64_t)(i + 1);
        }
        for (int i = 0; addrs && i < ng; i++) {
            struct ptx_global_info g;
            ptx_module_global(m, i, &g);
            void *bytes = g.size <= (1u << 20) ? calloc(1, g.size ? g.size : 1) : NULL;
            if (bytes) {
                if (g.init_len)
                    memcpy(bytes, g.init, g.init_len);
                ptx_module_global_relocate(m, i, addrs, bytes);
            }
            free(bytes);
        }
        free(addrs);
        ptx_module_free(m);
    }
    guarded_free(&g);
    return 0;
}
