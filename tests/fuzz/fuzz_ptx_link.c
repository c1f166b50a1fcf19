/*
 * fuzz_ptx_link.c — the CPU device's PTX linker on hostile inputs.
 *
 * cuLinkAddData hands rgpud several PTX texts (NVRTC -rdc output, the PTX of
 * fatbins) that the CPU device links into one module (ptx_link). This
 * harness splits one input into up to four texts at each "\n//@@\n" (the
 * last two as archive members), links them, and parses what the linker
 * wrote, as the load that follows a link does.
 */
#define _GNU_SOURCE /* memmem */
#include "guarded.h"
#include "ptx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "\n//@@\n";
    struct guarded g[4];
    struct ptx_link_input in[4];
    int n = 0;
    size_t pos = 0;
    while (n < 4 && pos <= size) {
        const uint8_t *at = n < 3 ? memmem(data + pos, size - pos, sep, sizeof sep - 1) : NULL;
        size_t len = at ? (size_t)(at - (data + pos)) : size - pos;
        char *text = guarded_copy(&g[n], data + pos, len);
        if (!text)
            break;
        in[n] = (struct ptx_link_input){.text = text, .len = len, .name = "input", .member = n >= 2};
        n++;
        if (!at)
            break;
        pos += len + sizeof sep - 1;
    }
    char *out = NULL;
    size_t out_len = 0;
    char log[512];
    if (n && ptx_link(in, n, &out, &out_len, log, sizeof log) == CUDA_SUCCESS) {
        struct ptx_module *m = NULL;
        char err[256];
        if (ptx_module_parse(out, out_len, &m, err, sizeof err) == CUDA_SUCCESS)
            ptx_module_free(m);
        free(out);
    }
    for (int i = 0; i < n; i++)
        guarded_free(&g[i]);
    return 0;
}
