/*
 * ptx.h — the PTX machine of the CPU device: parse PTX text once into a
 * decoded module, then run kernels of it on host threads.
 *
 * A module is immutable after ptx_module_parse() and may be used by several
 * launches at once. A launch executes a grid of blocks; blocks run in
 * parallel on host threads, the threads of a block run as warps of 32 lanes
 * with divergence and reconvergence. Device memory is identity-mapped in the
 * calling process (a device address is the host address of its bytes); every
 * global or generic access is checked against the valid ranges the caller
 * provides, and a bad access ends the launch with CUDA_ERROR_ILLEGAL_ADDRESS
 * instead of touching memory.
 *
 * The API speaks CUresult so the CPU device can return results unchanged.
 */
#ifndef RGPU_PTX_H
#define RGPU_PTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda_api.h"

struct ptx_module;
struct ptx_kernel;

/* ---- loading ---- */

/* Parse and decode PTX text (len bytes, NUL not required). On failure returns
 * CUDA_ERROR_INVALID_PTX (syntax, unknown instruction, undefined symbol) or
 * CUDA_ERROR_UNSUPPORTED_PTX_VERSION, with a message naming line and reason in
 * err. Debug sections and directives that do not affect execution are
 * ignored. */
CUresult ptx_module_parse(const char *text, size_t len, struct ptx_module **out, char *err, size_t errlen);
void ptx_module_free(struct ptx_module *m);

/* ---- kernels (.entry) ---- */
int ptx_module_kernel_count(const struct ptx_module *m);
const struct ptx_kernel *ptx_module_kernel(const struct ptx_module *m, int i);
const struct ptx_kernel *ptx_module_find_kernel(const struct ptx_module *m, const char *name);

struct ptx_kernel_info {
    const char *name;
    int nparams;
    size_t param_bytes;       /* size of the packed parameter buffer */
    size_t static_shared;     /* bytes of .shared declared in the kernel and functions it calls */
    size_t local_per_thread;  /* bytes of .local per thread */
    int num_regs;             /* an estimate reported as CU_FUNC_ATTRIBUTE_NUM_REGS */
    unsigned maxntid[3];      /* .maxntid, 0 if absent */
    unsigned reqntid[3];      /* .reqntid, 0 if absent */
    unsigned minnctapersm;    /* .minnctapersm, 0 if absent */
    unsigned reqnctapercluster[3]; /* .reqnctapercluster (__cluster_dims__), 0 if absent */
    bool explicitcluster;     /* .explicitcluster: a launch must give the cluster size */
    int ptx_version;          /* e.g. 90 for .version 9.0 */
    int target_sm;            /* e.g. 120 for .target sm_120 */
};
void ptx_kernel_get_info(const struct ptx_kernel *k, struct ptx_kernel_info *info);

/* Parameter i: its offset and size in the packed buffer (as the driver's
 * cuFuncGetParamInfo reports them: natural alignment, .align honoured). */
void ptx_kernel_param(const struct ptx_kernel *k, int i, size_t *offset, size_t *size);

/* ---- module-scope variables (.global and .const, with initialisers) ---- */
struct ptx_global_info {
    const char *name;
    size_t size, align;
    const void *init;   /* initial bytes (init_len <= size; the rest is zero) */
    size_t init_len;
    bool is_const;      /* .const, else .global */
    bool is_extern;     /* declared .extern: must be resolved by the loader */
    bool is_managed;    /* .attribute(.managed): a __managed__ variable, which the host reaches too */
};
int ptx_module_global_count(const struct ptx_module *m);
void ptx_module_global(const struct ptx_module *m, int i, struct ptx_global_info *info);

/* Initialisers may hold addresses of module variables (`.u64 p = generic(x)`,
 * `{sym, sym+8}`): after copying `init` into the variable's memory at
 * `bytes`, call this with every variable's device address to patch them in. */
void ptx_module_global_relocate(const struct ptx_module *m, int i, const uint64_t *global_addrs, void *bytes);

/* ---- running ---- */
struct ptx_memory {
    /* Is [addr, addr+n) valid device memory? Called for accesses that the
     * engine cannot prove valid from its own cache of ranges; must be
     * thread-safe and cheap. */
    bool (*valid)(void *ctx, uint64_t addr, uint64_t n);
    void *ctx;
};

/* What a texture object names, as the tex instruction samples it. */
enum ptx_tex_format { PTX_TEX_U8 = 1, PTX_TEX_S8, PTX_TEX_U16, PTX_TEX_S16, PTX_TEX_U32, PTX_TEX_S32, PTX_TEX_F16, PTX_TEX_F32 };
enum ptx_tex_address { PTX_TEX_WRAP, PTX_TEX_CLAMP, PTX_TEX_MIRROR, PTX_TEX_BORDER }; /* CUaddress_mode's order */
struct ptx_texture {
    const uint8_t *base;       /* element (0, 0, 0), identity-mapped device memory */
    uint64_t width, height, depth; /* elements; 1 in the dimensions it lacks */
    uint64_t pitch, slice;     /* bytes from a row to the next, a slice to the next */
    unsigned dims;             /* 1, 2 or 3 (a layer's, for a layered texture) */
    bool layered;              /* depth layers of dims dimensions, sampled one at a time */
    bool linear;               /* a linear resource: integer coordinates only (tex1Dfetch) */
    enum ptx_tex_format format;
    unsigned channels;         /* 1, 2 or 4 */
    bool normalized_coords, linear_filter, read_normalized;
    enum ptx_tex_address address[3];
    float border[4];
};

struct ptx_launch {
    const struct ptx_kernel *kernel;
    unsigned grid[3], block[3];
    size_t dynamic_shared;          /* bytes of .extern .shared */
    const void *params;             /* packed as ptx_kernel_param describes */
    const uint64_t *global_addrs;   /* device address of each module global, by index */
    struct ptx_memory memory;
    int host_threads;               /* blocks run on this many threads; 0 = online cores */
    /* A cooperative launch (cuLaunchCooperativeKernel): every block of the
     * grid is resident and makes progress at once, whatever host_threads, so
     * blocks may wait for each other (grid-wide sync); the grid workspace
     * that cooperative_groups reads from %envreg1/%envreg2 is provided. The
     * caller bounds the grid (COOPERATIVE_LAUNCH_TOO_LARGE): every block's
     * state is allocated for the whole launch. */
    bool cooperative;
    /* Texture objects (the 64-bit handles kernels are given): what a handle
     * names, false if nothing (the launch then fails with
     * CUDA_ERROR_ILLEGAL_ADDRESS). Thread-safe; may be NULL: no textures.
     * An answer holds for the whole launch (objects do not change). */
    bool (*texture)(void *ctx, uint64_t handle, struct ptx_texture *out);
    void *texture_ctx;
    /* Device printf (vprintf): formatted text is handed here (may be NULL: dropped). */
    void (*print)(void *ctx, const char *text, size_t len);
    void *print_ctx;
    /* Optional (may be NULL): on failure, a description of the first error
     * (PTX line, instruction, faulting address or reason). */
    char *errbuf;
    size_t errlen;
    /* Warp-instructions the whole launch may run (0: no limit; counted per
     * slice, so it may run a slice over) before it fails with
     * CUDA_ERROR_LAUNCH_TIMEOUT: a watchdog for callers that run kernels they
     * did not write and must get control back (the fuzz harness). */
    uint64_t max_instructions;
};

/* Run the whole grid; returns when every block has finished. CUDA_SUCCESS,
 * CUDA_ERROR_ILLEGAL_ADDRESS (bad global/generic/shared/local access),
 * CUDA_ERROR_LAUNCH_FAILED (trap), CUDA_ERROR_ILLEGAL_INSTRUCTION,
 * CUDA_ERROR_MISALIGNED_ADDRESS, CUDA_ERROR_INVALID_VALUE (bad launch),
 * CUDA_ERROR_LAUNCH_TIMEOUT (max_instructions). */
CUresult ptx_launch_run(const struct ptx_launch *l);


/* ---- linking ---- */
struct ptx_link_input {
    const char *text; /* PTX text, len bytes (NUL not required) */
    size_t len;
    const char *name; /* for messages */
    bool member;      /* an archive member: linked only when needed (below) */
};
/* Link PTX modules into one PTX module (malloc'd, NUL-terminated, *out_len
 * without the NUL), with nvlink's archive semantics for members: an input
 * that is not a member is always linked; a member only when it defines (strong
 * or weak) a name that an input already linked references with `.extern` and
 * no linked input defines, repeated until nothing more is pulled in; the
 * members left out are noted in log ("info    : ..."). Then: declarations merged, `.extern` functions and variables
 * resolved against `.visible` (or `.weak`) definitions of the other inputs,
 * internal names kept apart, `.version` and `.target` the highest of the
 * inputs, `.address_size 64`. Multiple strong definitions and references
 * nothing defines (other than functions the device provides, vprintf) fail
 * with CUDA_ERROR_INVALID_PTX; the reasons, one line each in nvlink's style
 * ("error   : Undefined reference to 'f' in 'a.ptx'"), go to log. */
CUresult ptx_link(const struct ptx_link_input *in, int n, char **out, size_t *out_len, char *log, size_t loglen);

#endif
