/*
 * link.c — cuLink*: the JIT linker, on the client and the server.
 *
 * Linking happens where the real linker is: the inputs (type, name, bytes)
 * collect in the CUlinkState on the client, and cuLinkComplete sends them
 * all, with the link options whose values are numbers (wire/linkopts.h), in
 * one rgpu_link request. rgpud runs cuLinkCreate/AddData/Complete/Destroy on
 * its backend: NVIDIA's driver (PTX, cubins, fatbins, archives such as
 * libcudadevrt.a, LTO IR as it allows), or the CPU device's PTX-level linker
 * (cpudev/link.c, ptx/link.c). The reply carries the link's result, its
 * error and info logs (copied into the caller's CU_JIT_*_LOG_BUFFERs, their
 * _SIZE_BYTES values updated, as the driver does at completion) and the
 * image's hash and size; a second request fetches the bytes, which the state
 * owns until cuLinkDestroy. Even one input goes to the server: a link checks
 * that every extern is resolved, which returning the input unlinked would
 * not. The input types are checked by the backend, not here, so that each
 * backend gives its own answer (the CPU device: NOT_SUPPORTED for archives and
 * LTO IR, NO_BINARY_FOR_GPU for cubins).
 *
 * rgpu_link_wrapper serves module loading: a fatbin wrapper of version 2
 * (nvcc -rdc=true) names the prelinked fatbin of every translation unit,
 * which the driver links itself when the wrapper's own (device-linked) fatbin
 * has no code for the device — the case of PTX-only builds. libcudadevrt's
 * object among them goes as an archive member (RGPU_LINK_OPTIONAL).
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "context.h"
#include "fatbin.h"
#include "linkopts.h"

#define MAX_OPTIONS 32
#define MAX_LOG (64u << 10)

struct link_state {
    unsigned nopts;
    struct rgpu_link_option opts[MAX_OPTIONS];
    char *elog, *ilog;
    size_t elog_cap, ilog_cap;
    void **elog_size, **ilog_size, **wall; /* the caller's option values, written at completion */
    uint8_t *packed;                       /* rgpu_link_input records */
    size_t packed_len, packed_cap;
    uint32_t ninputs;
    void *image; /* the linked image, owned by the state */
    size_t image_size;
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
    for (unsigned i = 0; i < n; i++) {
        switch (opts[i]) {
        case CU_JIT_ERROR_LOG_BUFFER: ls->elog = vals[i]; break;
        case CU_JIT_INFO_LOG_BUFFER: ls->ilog = vals[i]; break;
        case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
            ls->elog_cap = (size_t)(uintptr_t)vals[i];
            ls->elog_size = &vals[i];
            break;
        case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
            ls->ilog_cap = (size_t)(uintptr_t)vals[i];
            ls->ilog_size = &vals[i];
            break;
        case CU_JIT_WALL_TIME: ls->wall = &vals[i]; break;
        default:
            if (rgpu_link_scalar_option(opts[i]) && ls->nopts < MAX_OPTIONS)
                ls->opts[ls->nopts++] = (struct rgpu_link_option){(uint32_t)opts[i], 0, (uint64_t)(uintptr_t)vals[i]};
            else
                rgpu_warn("cuLinkCreate: JIT option %d is not passed to the linker", (int)opts[i]);
            break;
        }
    }
    if (ls->elog && ls->elog_cap)
        ls->elog[0] = 0;
    if (ls->ilog && ls->ilog_cap)
        ls->ilog[0] = 0;
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

static CUresult add(struct link_state *ls, CUjitInputType type, const void *data, size_t size, const char *name,
                    uint32_t flags)
{
    if (!ls)
        return CUDA_ERROR_INVALID_HANDLE;
    if (!data || !size || (unsigned)type >= CU_JIT_NUM_INPUT_TYPES)
        return CUDA_ERROR_INVALID_VALUE;
    size_t nlen = name ? strnlen(name, RGPU_MAX_STRING - 1) : 0;
    size_t need = sizeof(struct rgpu_link_input) + nlen + size;
    if (ls->packed_len + need > ls->packed_cap) {
        size_t cap = (ls->packed_len + need) * 2;
        uint8_t *p = realloc(ls->packed, cap);
        if (!p)
            return CUDA_ERROR_OUT_OF_MEMORY;
        ls->packed = p;
        ls->packed_cap = cap;
    }
    struct rgpu_link_input h = {(uint32_t)type, flags, (uint32_t)nlen, 0, size};
    uint8_t *p = ls->packed + ls->packed_len;
    memcpy(p, &h, sizeof h);
    memcpy(p + sizeof h, name, nlen);
    memcpy(p + sizeof h + nlen, data, size);
    ls->packed_len += need;
    ls->ninputs++;
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
                                   unsigned int numOptions, CUjit_option *options, void **optionValues)
{
    CUresult r = rgpu_check_init();
    if (r == CUDA_SUCCESS)
        r = add((struct link_state *)state, type, data, size, name, 0);
    if (r == CUDA_SUCCESS)
        answer_logs(numOptions, options, optionValues); /* per-input options are not passed on */
    return r;
}
RGPU_API CUresult cuLinkAddData(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
                                unsigned int numOptions, CUjit_option *options, void **optionValues)
{
    return cuLinkAddData_v2(state, type, data, size, name, numOptions, options, optionValues);
}

static CUresult add_file(CUlinkState state, CUjitInputType type, const char *path)
{
    CUresult r = rgpu_check_init();
    if (r)
        return r;
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
    /* the driver names an input from a file by its path */
    r = add((struct link_state *)state, type, buf, len, path, 0);
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

static void give_log(char *buf, size_t cap, void **size_slot, const char *text)
{
    if (!buf || !cap)
        return;
    snprintf(buf, cap, "%s", text);
    if (size_slot)
        *size_slot = (void *)(uintptr_t)(strlen(buf) + 1);
}

static CUresult complete(struct link_state *ls)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t cap = ls->elog_cap > ls->ilog_cap ? ls->elog_cap : ls->ilog_cap;
    if (cap > MAX_LOG)
        cap = MAX_LOG;
    char *elog = cap ? calloc(1, cap) : NULL, *ilog = cap ? calloc(1, cap) : NULL;
    if (cap && (!elog || !ilog)) {
        free(elog);
        free(ilog);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    struct rgpu_args_rgpu_link a = {.opts = ls->opts, .nopts = ls->nopts, .inputs = ls->packed,
                                    .inputs_len = ls->packed_len, .ninputs = ls->ninputs,
                                    .log_cap = (uint32_t)cap, .error_log = elog, .info_log = ilog};
    CUresult r = rgpu_remote(RGPU_ID_rgpu_link, &a);
    if (r == CUDA_SUCCESS) {
        if (cap) {
            elog[cap - 1] = ilog[cap - 1] = 0;
            give_log(ls->elog, ls->elog_cap, ls->elog_size, elog);
            give_log(ls->ilog, ls->ilog_cap, ls->ilog_size, ilog);
        }
        r = a.result;
    }
    free(elog);
    free(ilog);
    if (r == CUDA_SUCCESS) {
        void *img = malloc(a.image.size ? a.image.size : 1);
        struct rgpu_args_rgpu_link_image b = {.ref = a.image, .image = img};
        r = img ? rgpu_remote(RGPU_ID_rgpu_link_image, &b) : CUDA_ERROR_OUT_OF_MEMORY;
        if (r == CUDA_SUCCESS) {
            free(ls->image);
            ls->image = img;
            ls->image_size = a.image.size;
        } else {
            free(img);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ls->wall) {
        float ms = (float)((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
        memcpy(ls->wall, &ms, sizeof ms);
    }
    return r;
}

RGPU_API CUresult cuLinkComplete(CUlinkState state, void **cubinOut, size_t *sizeOut)
{
    CUresult r = rgpu_check_init();
    struct link_state *ls = (struct link_state *)state;
    if (r)
        return r;
    if (!ls)
        return CUDA_ERROR_INVALID_HANDLE;
    if (!cubinOut)
        return CUDA_ERROR_INVALID_VALUE;
    if (!ls->ninputs)
        return CUDA_ERROR_INVALID_VALUE; /* nothing to link */
    if ((r = complete(ls)) != CUDA_SUCCESS)
        return r;
    *cubinOut = ls->image; /* owned by the state, as with the driver */
    if (sizeOut)
        *sizeOut = ls->image_size;
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
    free(ls->packed);
    free(ls->image);
    free(ls);
    return CUDA_SUCCESS;
}

/* Whether a prelinked fatbin is libcudadevrt's cuda_device_runtime.o, which
 * crt/link.stub always lists and which nvlink links as a library member
 * (only when something references it). Known by its content: its PTX
 * defines __CNPRT_VERSION_NUMBER__, the device runtime's version, a name no
 * program defines (nvlink would find it defined twice). The list's order is
 * the order of the objects' host constructors, so position says nothing. */
static bool device_runtime_object(const void *fatbin, size_t len)
{
    static const char marker[] = "__CNPRT_VERSION_NUMBER__";
    struct fatbin_entry *e = NULL;
    size_t n = 0;
    char err[160];
    bool found = false;
    if (fatbin_parse(fatbin, len, &e, &n, err, sizeof err) != 0)
        return false;
    for (size_t i = 0; i < n && !found; i++) {
        void *text;
        size_t tlen;
        if (e[i].kind != FATBIN_KIND_PTX || fatbin_extract(&e[i], &text, &tlen, err, sizeof err) != 0)
            continue;
        /* a definition: the name on a line that is not an .extern declaration */
        for (const char *p = text; !found && (p = strstr(p, marker)); p += sizeof marker - 1) {
            const char *line = p;
            while (line > (const char *)text && line[-1] != '\n')
                line--;
            const char *ext = strstr(line, ".extern");
            found = !ext || ext > p;
        }
        free(text);
        break; /* every PTX entry of an object defines the same names */
    }
    free(e);
    return found;
}

CUresult rgpu_link_wrapper(const void *const *fatbins, CUresult (*load)(const void *image, void *arg), void *arg)
{
    struct link_state ls = {0};
    CUresult r = CUDA_SUCCESS;
    char err[160];
    unsigned n = 0;
    for (; fatbins[n] && r == CUDA_SUCCESS; n++) {
        const void *data;
        size_t len;
        char name[48];
        if (n == 4096 || fatbin_span(fatbins[n], FATBIN_LEN_UNKNOWN, &data, &len, err, sizeof err) != 0) {
            rgpu_warn("prelinked fatbin %u of a fatbin wrapper: %s", n, n == 4096 ? "too many" : err);
            r = CUDA_ERROR_INVALID_IMAGE;
            break;
        }
        bool member = device_runtime_object(data, len);
        snprintf(name, sizeof name, member ? "prelinked object %u (libcudadevrt)" : "prelinked object %u", n);
        r = add(&ls, CU_JIT_INPUT_FATBINARY, data, len, name, member ? RGPU_LINK_OPTIONAL : 0);
    }
    char elog[2048] = "";
    ls.elog = elog;
    ls.elog_cap = sizeof elog;
    if (r == CUDA_SUCCESS && n)
        r = complete(&ls);
    else if (r == CUDA_SUCCESS)
        r = CUDA_ERROR_NO_BINARY_FOR_GPU; /* nothing to link */
    if (r == CUDA_SUCCESS)
        r = load(ls.image, arg);
    else if (elog[0])
        rgpu_warn("linking the relocatable device code of a fatbin wrapper failed: %s", elog);
    free(ls.packed);
    free(ls.image);
    return r;
}
