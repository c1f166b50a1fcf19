/*
 * link.c — cuLink*: the JIT linker, on the client.
 *
 * rgpu's backends load PTX, fatbins and cubins themselves, so a link of ONE
 * input is that input: cuLinkComplete returns its bytes, which cuModuleLoadData
 * accepts (PTX text stays PTX; the server's driver or the CPU device compiles
 * it). Resolving symbols across several inputs (and device-runtime archives)
 * needs a real linker, which rgpu does not have yet: a second input makes
 * cuLinkAddData fail with CUDA_ERROR_NOT_SUPPORTED rather than produce a
 * module that would miss symbols.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "context.h"

struct link_state {
    void *data; /* the one input, with a NUL after it */
    size_t size;
};

static void answer_logs(unsigned n, CUjit_option *opts, void **vals)
{
    for (unsigned i = 0; opts && vals && i < n; i++) {
        if ((opts[i] == CU_JIT_INFO_LOG_BUFFER || opts[i] == CU_JIT_ERROR_LOG_BUFFER) && vals[i])
            *(char *)vals[i] = 0;
        else if (opts[i] == CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES || opts[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
            vals[i] = (void *)(uintptr_t)0;
    }
}

static CUresult create(unsigned n, CUjit_option *opts, void **vals, CUlinkState *out)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
    if (!out || (n && (!opts || !vals)))
        return CUDA_ERROR_INVALID_VALUE;
    struct link_state *ls = calloc(1, sizeof *ls);
    if (!ls)
        return CUDA_ERROR_OUT_OF_MEMORY;
    answer_logs(n, opts, vals);
    *out = (CUlinkState)ls;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuLinkCreate_v2(unsigned int numOptions, CUjit_option *options, void **optionValues,
                                  CUlinkState *stateOut)
{
    return create(numOptions, options, optionValues, stateOut);
}
RGPU_API CUresult cuLinkCreate(unsigned int numOptions, CUjit_option *options, void **optionValues,
                               CUlinkState *stateOut)
{
    return create(numOptions, options, optionValues, stateOut);
}

static CUresult add_data(CUlinkState state, CUjitInputType type, const void *data, size_t size)
{
    CUresult r = rgpu_check_init();
    struct link_state *ls = (struct link_state *)state;
    if (r)
        return r;
    if (!ls || !data || !size)
        return CUDA_ERROR_INVALID_VALUE;
    switch (type) {
    case CU_JIT_INPUT_PTX:
    case CU_JIT_INPUT_CUBIN:
    case CU_JIT_INPUT_FATBINARY:
        break;
    case CU_JIT_INPUT_LIBRARY:
    case CU_JIT_INPUT_OBJECT:
    case CU_JIT_INPUT_NVVM:
    default:
        rgpu_warn("cuLinkAddData: input type %d needs a linker rgpu does not have yet", (int)type);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    if (ls->data) {
        rgpu_warn("cuLinkAddData: linking several inputs needs a linker rgpu does not have yet");
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    if (!(ls->data = malloc(size + 1)))
        return CUDA_ERROR_OUT_OF_MEMORY;
    memcpy(ls->data, data, size);
    ((char *)ls->data)[size] = 0; /* PTX given without its NUL still loads */
    ls->size = size;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
                                   unsigned int numOptions, CUjit_option *options, void **optionValues)
{
    CUresult r = add_data(state, type, data, size);
    if (r == CUDA_SUCCESS)
        answer_logs(numOptions, options, optionValues);
    return r;
}
RGPU_API CUresult cuLinkAddData(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
                                unsigned int numOptions, CUjit_option *options, void **optionValues)
{
    return cuLinkAddData_v2(state, type, data, size, name, numOptions, options, optionValues);
}

static CUresult add_file(CUlinkState state, CUjitInputType type, const char *path)
{
    if (!path)
        return CUDA_ERROR_INVALID_VALUE;
    FILE *f = fopen(path, "rb");
    if (!f)
        return CUDA_ERROR_FILE_NOT_FOUND;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[65536];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n > cap) {
            cap = (len + n) * 2;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return CUDA_ERROR_OUT_OF_MEMORY;
            }
            buf = b;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    CUresult r = add_data(state, type, buf, len);
    free(buf);
    return r;
}

RGPU_API CUresult cuLinkAddFile_v2(CUlinkState state, CUjitInputType type, const char *path, unsigned int numOptions,
                                   CUjit_option *options, void **optionValues)
{
    CUresult r = add_file(state, type, path);
    if (r == CUDA_SUCCESS)
        answer_logs(numOptions, options, optionValues);
    return r;
}
RGPU_API CUresult cuLinkAddFile(CUlinkState state, CUjitInputType type, const char *path, unsigned int numOptions,
                                CUjit_option *options, void **optionValues)
{
    return cuLinkAddFile_v2(state, type, path, numOptions, options, optionValues);
}

RGPU_API CUresult cuLinkComplete(CUlinkState state, void **cubinOut, size_t *sizeOut)
{
    CUresult r = rgpu_check_init();
    struct link_state *ls = (struct link_state *)state;
    if (r)
        return r;
    if (!ls || !cubinOut || !sizeOut)
        return CUDA_ERROR_INVALID_VALUE;
    if (!ls->data)
        return CUDA_ERROR_INVALID_VALUE; /* nothing to link */
    *cubinOut = ls->data; /* owned by the state, as with the driver */
    *sizeOut = ls->size;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuLinkDestroy(CUlinkState state)
{
    CUresult r = rgpu_check_init();
    struct link_state *ls = (struct link_state *)state;
    if (r)
        return r;
    if (!ls)
        return CUDA_ERROR_INVALID_HANDLE;
    free(ls->data);
    free(ls);
    return CUDA_SUCCESS;
}
