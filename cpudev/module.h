/*
 * module.h — what the code-related files of the CPU device share: parsed
 * images, modules, libraries, functions and kernels, their attributes, and
 * the launch operation. Nothing here is visible to the server.
 *
 * Objects.
 *  - struct code: one image parsed into a PTX module, with what is derived
 *    from it once (per-kernel descriptions, the layout of module globals).
 *    Immutable after code_load(); owned by a module (cuModuleLoadData) or by
 *    a library (cuLibraryLoadData), which shares it with its modules.
 *  - struct module (CUmodule): code loaded into one context activation: its
 *    globals allocated in device memory, one struct func per kernel.
 *  - struct func (CUfunction): a kernel of a module, with the attributes set
 *    on it (cuFuncSetAttribute).
 *  - struct library (CUlibrary): context-independent code. It materialises a
 *    module in a context the first time it is used there (lazy loading).
 *  - struct kernel (CUkernel): a kernel of a library, with the attributes set
 *    by cuKernelSetAttribute. Wherever a CUfunction is taken, a CUkernel is
 *    accepted too and stands for its function in the context concerned.
 * Every one of these is a handle in the registry (H_MODULE, H_FUNC,
 * H_LIBRARY, H_KERNEL) and is looked up there before it is dereferenced.
 *
 * Lifetimes. A module lives until cuModuleUnload, cuLibraryUnload (for a
 * library's module) or the teardown of its context activation; the handles
 * of its functions go with it. Unloading waits for the work queued in the
 * module's context, so no launch still uses its code or globals. All fields
 * are guarded by cpudev.mu, except what is immutable after creation.
 */
#ifndef RGPU_CPUDEV_MODULE_H
#define RGPU_CPUDEV_MODULE_H

#include "internal.h"
#include "ptx.h"

/* ---- code (module.c) ---- */

/* One kernel, as far as launches and attribute queries need it. */
struct kdesc {
    const struct ptx_kernel *k;
    struct ptx_kernel_info info;
    int num_regs;       /* reported registers per thread: the estimate, capped so
                           that a block of max_threads always fits (as ptxas does) */
    int max_threads;    /* CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK */
    size_t const_bytes; /* .const bytes of the module (CONST_SIZE_BYTES) */
};

struct code {
    struct ptx_module *pm;
    char *text;             /* the PTX parsed (kept while pm lives) */
    int nkernels;
    struct kdesc *kd;       /* nkernels */
    int nglobals;
    struct ptx_global_info *globals; /* nglobals; names and initialisers point into pm */
    size_t *global_off;     /* offset of each global in its block */
    size_t globals_bytes;   /* size of the block holding every global but the managed ones */
    size_t globals_align;   /* its alignment */
    size_t managed_bytes;   /* the same for the __managed__ variables' block */
    size_t managed_align;
};

/* Parse an image (fatbin, cubin, PTX text; a wrapper when called in-process)
 * for this device. No lock needed. On failure returns the driver's error and
 * leaves a message in log (logged at warn level once per distinct message). */
CUresult code_load(const void *image, struct code **out, char *log, size_t loglen);
void code_free(struct code *c);
/* The PTX this device would run from an image (PTX text, or a fatbin's
 * choice), malloc'd and NUL-terminated; CUDA_ERROR_NO_BINARY_FOR_GPU when
 * there is none, with the reason in log. */
CUresult code_image_ptx(const void *image, char **text, size_t *len, char *log, size_t loglen);
/* Kernel or global i by name; -1 if none. */
int code_find_kernel(const struct code *c, const char *name);
int code_find_global(const struct code *c, const char *name, size_t *size);

/* ---- attributes a caller may set (function.c) ---- */

struct fattrs {
    unsigned set;                   /* bit a: v[a] was set explicitly */
    int v[CU_FUNC_ATTRIBUTE_MAX];
    bool cache_set;
    CUfunc_cache cache;
};

/* The value of attribute a: own setting, else base's (may be NULL), else the
 * default for kd. INVALID_VALUE for an unknown attribute. */
CUresult fattr_get(const struct kdesc *kd, const struct fattrs *own, const struct fattrs *base,
                   CUfunction_attribute a, int *out);
/* Validate and set attribute a in own, as cuFuncSetAttribute does. */
CUresult fattr_set(const struct kdesc *kd, struct fattrs *own, CUfunction_attribute a, int value);
bool cache_config_valid(CUfunc_cache c);
/* cuFuncGetParamInfo for kd. */
CUresult param_info(const struct kdesc *kd, size_t index, size_t *offset, size_t *size);

/* ---- modules, functions, libraries, kernels (module.c, library.c) ---- */

struct module {
    uint64_t id;            /* unique */
    struct ctx *ctx;
    uint64_t ctx_serial, ctx_id; /* the context struct and activation it lives in */
    struct library *lib;    /* the library it materialises, or NULL */
    struct code *code;      /* owned unless lib */
    CUdeviceptr globals;    /* the block holding every global but the managed ones; 0 if none */
    CUdeviceptr managed;    /* the managed variables' block, unless lib holds it; 0 if none */
    uint64_t *global_addrs; /* device address of each global */
    struct func *funcs;     /* one per kernel, each a registered handle */
    struct module *next;    /* ctx->modules */
    struct module *lib_next; /* lib->mods */
};

struct func {
    struct module *mod;
    struct kernel *kern;    /* the library kernel it stands for in mod's context, or NULL */
    const struct kdesc *kd;
    struct fattrs a;
};

struct kernel {
    struct library *lib;
    const struct kdesc *kd;
    struct fattrs a;
};

struct library {
    struct code *code;
    /* Its __managed__ variables: one block for every context, as managed
     * memory is the device's and the host's at one address (0 if none). */
    CUdeviceptr managed;
    uint64_t *managed_addrs; /* code->nglobals; an address for the managed ones only */
    struct kernel *kernels; /* code->nkernels, each a registered handle */
    struct module *mods;    /* its modules, one per context activation it is used in */
};

/* A module of code in context c (current activation): globals allocated and
 * initialised, module and function handles registered, linked into c. */
CUresult module_create_locked(struct ctx *c, struct code *code, struct library *lib, struct module **out);
/* Unregister m and its functions and unlink it from its context and library:
 * no new work can name it. */
void module_detach_locked(struct module *m);
/* Free a detached module, and its globals if its activation is still alive
 * (else the activation's teardown frees them). Its code too unless lib. */
void module_free_locked(struct module *m);

/* A zeroed block for code's managed (or other) globals in context c (NULL:
 * no context owns it), their addresses written into addrs; *block is 0 when
 * there are none. */
CUresult globals_alloc_locked(struct ctx *c, const struct code *code, bool managed, CUdeviceptr *block,
                              uint64_t *addrs);
/* Their initial bytes, addresses of globals in them taken from addrs (0
 * where it has none). */
void globals_init(const struct code *code, bool managed, const uint64_t *addrs);

/* The module of lib in context c, materialised on first use. */
CUresult library_module_locked(struct library *lib, struct ctx *c, struct module **out);

/* Resolve a CUfunction argument: a function, or a kernel (then *kn is set
 * and *fn NULL). INVALID_HANDLE for anything else. */
CUresult func_lookup_locked(CUfunction f, struct func **fn, struct kernel **kn);
/* A CUfunction argument as a function of context c (NULL: the current
 * context); a kernel is materialised in it. A function must belong to c. */
CUresult func_in_ctx_locked(CUfunction f, struct ctx *c, struct func **out);
/* The attributes that apply to a function: its own over its kernel's. */
static inline const struct fattrs *func_base(const struct func *f) { return f->kern ? &f->kern->a : NULL; }

/* ---- launches (launch.c) ---- */

/* A launch of f (a function or kernel, in context c) with packed parameters
 * (len at least the kernel's parameter bytes), validated as cuLaunchKernel
 * validates; for graph launches. */
CUresult launch_new_locked(CUfunction f, struct ctx *c, const unsigned grid[3], const unsigned block[3],
                           unsigned shmem, const void *params, size_t len, struct launch **out);
/* Make l a cooperative launch in context c: every block resident at once,
 * COOPERATIVE_LAUNCH_TOO_LARGE if the grid cannot be. */
CUresult launch_cooperative_locked(struct launch *l, struct ctx *c);
/* What a launch was made from (a captured launch becomes a kernel node);
 * *params points into l. */
void launch_describe(const struct launch *l, CUfunction *f, unsigned grid[3], unsigned block[3], unsigned *shmem,
                     const void **params, size_t *len);
/* f's parameters from kernelParams or extra, packed (*out malloc'd, *len
 * the kernel's parameter bytes). */
CUresult launch_pack_params_locked(CUfunction f, struct ctx *c, void **kernelParams, void **extra, void **out,
                                   size_t *len);

/* ---- occupancy (occupancy.c) ---- */

/* Resident blocks per multiprocessor for f in context c with blockSize
 * threads and dyn bytes of dynamic shared memory. */
int occupancy_blocks(const struct func *f, const struct ctx *c, int block, size_t dyn);

#endif
