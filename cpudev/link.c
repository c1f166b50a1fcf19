/*
 * link.c — cuLink* on the CPU device: a PTX-level link.
 *
 * The device runs PTX, so linking means making one PTX module of the inputs
 * (ptx_link: externs resolved against the other inputs' definitions).
 * Inputs: PTX text, or a fatbin whose PTX this device would pick (as
 * cuModuleLoadData would). A cubin, or a fatbin with no PTX for this device,
 * is CUDA_ERROR_NO_BINARY_FOR_GPU as for a load. Archives (in practice
 * libcudadevrt.a, whose members are cubins serving dynamic parallelism, which
 * this device does not provide), host objects and NVVM (LTO) input are
 * CUDA_ERROR_NOT_SUPPORTED. The PTX of each input is extracted when it is
 * added, so an unusable input fails there, as with the driver.
 * cpudev_link_add_member (not a driver call: the server's link handler uses
 * it for inputs the client marks as archive members, RGPU_LINK_OPTIONAL)
 * adds an input that ptx_link includes only when it defines something the
 * link references, as nvlink does with a library's objects.
 * Log buffers: CU_JIT_ERROR_LOG_BUFFER / CU_JIT_INFO_LOG_BUFFER of
 * cuLinkCreate receive ptx_link's lines at cuLinkComplete, and their _SIZE_BYTES
 * values the bytes written (optionValues stays valid for the life of the
 * state, cuda.h). The state is a plain pointer: only the server's link
 * handler, which creates and destroys it within one request, ever holds one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

#include "fatbin.h"

struct link_in {
    char *text;
    size_t len;
    char name[64];
    bool member; /* an archive member: linked only when needed (ptx_link) */
};

struct cpudev_link {
    struct link_in *in;
    int n, cap;
    char *elog, *ilog;
    size_t elog_cap, ilog_cap;
    void **elog_size, **ilog_size; /* the option values to write back */
    char *image;
    size_t image_len;
    char addlog[512]; /* why an input was refused, for the error log */
};

CUresult cpudev_cuLinkCreate_v2(unsigned int numOptions, CUjit_option *options, void **optionValues,
                                CUlinkState *stateOut)
{
    CPUDEV_ENTER();
    if (!stateOut || (numOptions && (!options || !optionValues)))
        return CUDA_ERROR_INVALID_VALUE;
    struct cpudev_link *l = calloc(1, sizeof *l);
    if (!l)
        return CUDA_ERROR_OUT_OF_MEMORY;
    for (unsigned i = 0; i < numOptions; i++) {
        switch (options[i]) {
        case CU_JIT_ERROR_LOG_BUFFER: l->elog = optionValues[i]; break;
        case CU_JIT_INFO_LOG_BUFFER: l->ilog = optionValues[i]; break;
        case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
            l->elog_cap = (size_t)(uintptr_t)optionValues[i];
            l->elog_size = &optionValues[i];
            break;
        case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
            l->ilog_cap = (size_t)(uintptr_t)optionValues[i];
            l->ilog_size = &optionValues[i];
            break;
        default: break; /* code generation options: nothing to generate */
        }
    }
    *stateOut = (CUlinkState)l;
    return CUDA_SUCCESS;
}

static void put_log(char *buf, size_t cap, void **size_slot, const char *text)
{
    if (!buf || !cap)
        return;
    snprintf(buf, cap, "%s", text);
    if (size_slot)
        *size_slot = (void *)(uintptr_t)(strlen(buf) + 1);
}

static CUresult add(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name, bool member)
{
    struct cpudev_link *l = (struct cpudev_link *)state;
    if (!l)
        return CUDA_ERROR_INVALID_HANDLE;
    if (!data || !size)
        return CUDA_ERROR_INVALID_VALUE;
    const char *nm = name && name[0] ? name : "<input>";
    char why[256] = "";
    CUresult r;
    char *text = NULL;
    size_t len = 0;
    switch (type) {
    case CU_JIT_INPUT_PTX:
    case CU_JIT_INPUT_FATBINARY:
    case CU_JIT_INPUT_CUBIN: {
        /* the server gives every input a NUL after it */
        r = code_image_ptx(data, &text, &len, why, sizeof why);
        if (r == CUDA_SUCCESS && type == CU_JIT_INPUT_PTX && fatbin_classify(data, size) != FATBIN_IMAGE_PTX) {
            free(text);
            snprintf(why, sizeof why, "not PTX text");
            r = CUDA_ERROR_INVALID_PTX;
        }
        break;
    }
    case CU_JIT_INPUT_LIBRARY:
        snprintf(why, sizeof why, "archives are not supported on the CPU device (libcudadevrt.a serves dynamic "
                                  "parallelism, which it does not provide)");
        r = CUDA_ERROR_NOT_SUPPORTED;
        break;
    default:
        snprintf(why, sizeof why, "input type %d (host object, NVVM/LTO IR) is not supported on the CPU device",
                 (int)type);
        r = CUDA_ERROR_NOT_SUPPORTED;
        break;
    }
    if (r != CUDA_SUCCESS) {
        snprintf(l->addlog, sizeof l->addlog, "error   : '%s': %s\n", nm, why);
        put_log(l->elog, l->elog_cap, l->elog_size, l->addlog);
        return r;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        struct link_in *p = realloc(l->in, (size_t)cap * sizeof *p);
        if (!p) {
            free(text);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        l->in = p;
        l->cap = cap;
    }
    struct link_in *in = &l->in[l->n++];
    in->text = text;
    in->len = len;
    in->member = member;
    snprintf(in->name, sizeof in->name, "%s", nm);
    return CUDA_SUCCESS;
}

CUresult cpudev_cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
                                 unsigned int numOptions, CUjit_option *options, void **optionValues)
{
    (void)numOptions, (void)options, (void)optionValues;
    CPUDEV_ENTER();
    return add(state, type, data, size, name, false);
}

CUresult cpudev_link_add_member(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name)
{
    CPUDEV_ENTER();
    return add(state, type, data, size, name, true);
}

CUresult cpudev_cuLinkComplete(CUlinkState state, void **cubinOut, size_t *sizeOut)
{
    CPUDEV_ENTER();
    struct cpudev_link *l = (struct cpudev_link *)state;
    if (!l)
        return CUDA_ERROR_INVALID_HANDLE;
    if (!cubinOut)
        return CUDA_ERROR_INVALID_VALUE;
    if (!l->n)
        return CUDA_ERROR_INVALID_VALUE; /* nothing to link */
    struct ptx_link_input *pi = calloc((size_t)l->n, sizeof *pi);
    if (!pi)
        return CUDA_ERROR_OUT_OF_MEMORY;
    for (int i = 0; i < l->n; i++)
        pi[i] = (struct ptx_link_input){l->in[i].text, l->in[i].len, l->in[i].name, l->in[i].member};
    char log[4096];
    free(l->image);
    l->image = NULL;
    CUresult r = ptx_link(pi, l->n, &l->image, &l->image_len, log, sizeof log);
    free(pi);
    if (r == CUDA_SUCCESS) {
        /* check it as a load would, so that cuLinkComplete, not the load,
         * reports what the device cannot run */
        struct ptx_module *m = NULL;
        char err[512] = "";
        r = ptx_module_parse(l->image, l->image_len, &m, err, sizeof err);
        if (r == CUDA_SUCCESS)
            ptx_module_free(m);
        else
            snprintf(log, sizeof log, "error   : the linked PTX is rejected: %s\n", err);
    }
    if (r != CUDA_SUCCESS) {
        put_log(l->elog, l->elog_cap, l->elog_size, log);
        free(l->image);
        l->image = NULL;
        return r;
    }
    put_log(l->ilog, l->ilog_cap, l->ilog_size, log);
    put_log(l->elog, l->elog_cap, l->elog_size, "");
    *cubinOut = l->image;
    if (sizeOut)
        *sizeOut = l->image_len + 1; /* with its NUL, as PTX images are loaded */
    return CUDA_SUCCESS;
}

CUresult cpudev_cuLinkDestroy(CUlinkState state)
{
    CPUDEV_ENTER();
    struct cpudev_link *l = (struct cpudev_link *)state;
    if (!l)
        return CUDA_ERROR_INVALID_HANDLE;
    for (int i = 0; i < l->n; i++)
        free(l->in[i].text);
    free(l->in);
    free(l->image);
    free(l);
    return CUDA_SUCCESS;
}
