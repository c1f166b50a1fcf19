/*
 * module.c — code images and modules: parsing an image for this device,
 * what is derived from it once, loading it into a context (globals in device
 * memory, function handles), unloading, and the cuModule* calls.
 *
 * An image is a fatbin (or, in-process, a wrapper of one), a cubin or PTX
 * text. The device runs PTX only: from a fatbin the PTX for the configured
 * compute capability is chosen (fatbin_pick_ptx_emulated: what the driver
 * would JIT, else family-, else arch-specific PTX); a cubin, or a fatbin
 * without usable PTX, is CUDA_ERROR_NO_BINARY_FOR_GPU, as for a GPU the
 * image was not built for.
 *
 * Module globals (.global and .const) share one device allocation owned by
 * the context activation, laid out at load and initialised from the PTX
 * initialisers (zero elsewhere); kernels see them at the same addresses as
 * cuModuleGetGlobal reports. An .extern global cannot be resolved (there is
 * no linker): CUDA_ERROR_NOT_FOUND.
 *
 * cuModuleUnload waits for all work queued in the module's context, as the
 * driver's does, so no launch still runs its code or uses its globals.
 */
#include "module.h"

#include "fatbin.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- logging each distinct load failure once ---- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static void warn_once(const char *msg)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t seen[64];
    static unsigned next;
    uint64_t h = fnv1a(msg) | 1;
    bool fresh = true;
    pthread_mutex_lock(&mu);
    for (unsigned i = 0; i < 64 && fresh; i++)
        fresh = seen[i] != h;
    if (fresh)
        seen[next++ % 64] = h;
    pthread_mutex_unlock(&mu);
    if (fresh)
        rgpu_warn("cpudev: %s", msg);
}

/* ---- derived kernel properties ---- */

static int attr_or(CUdevice_attribute a, int dflt)
{
    int v;
    return cpudev_attribute(a, &v) ? v : dflt;
}

static int round_up_i(int x, int m) { return (x + m - 1) / m * m; }

/* The most registers per thread (<= 255) with which `blocks` blocks of
 * `threads` threads fit the register file, by the occupancy calculator's
 * rules (256-register granules per warp, four sub-partitions). */
static int regs_that_fit(int threads, int blocks)
{
    int per_block = attr_or(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, 65536);
    int per_sm = attr_or(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR, 65536);
    int warps = (threads + 31) / 32;
    for (int r = 255; r > 0; r--) {
        long per_warp = round_up_i(r * 32, 256);
        if (per_warp * round_up_i(warps, 4) > per_block)
            continue;
        if ((long)warps * blocks > per_sm / 4 / per_warp * 4)
            continue;
        return r;
    }
    return 1;
}

static unsigned dim_product(const unsigned d[3])
{
    if (!d[0])
        return 0; /* absent */
    unsigned long p = 1;
    for (int i = 0; i < 3; i++)
        p *= d[i] ? d[i] : 1;
    return p > 0xffffffffu ? 0xffffffffu : (unsigned)p;
}

/*
 * Maximum threads per block: the device's, lowered by .maxntid/.reqntid.
 * Registers: the engine has no register file, so the estimate is capped so
 * that a block of that size (times .minnctapersm where it fits an SM) fits,
 * which is what ptxas guarantees under launch bounds. Launches that the
 * engine can run are therefore never refused for registers.
 */
static void derive(struct kdesc *d)
{
    const struct ptx_kernel_info *in = &d->info;
    unsigned t = (unsigned)attr_or(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1024);
    unsigned m = dim_product(in->maxntid), q = dim_product(in->reqntid);
    if (m && m < t)
        t = m;
    if (q && q < t)
        t = q;
    d->max_threads = (int)t;
    int blocks = 1, per_sm = attr_or(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, 1536);
    if (in->minnctapersm > 1 && (long)in->minnctapersm * t <= per_sm)
        blocks = (int)in->minnctapersm;
    int cap = regs_that_fit((int)t, blocks);
    d->num_regs = in->num_regs < 0 ? 0 : in->num_regs > cap ? cap : in->num_regs;
}

/* ---- code ---- */

void code_free(struct code *c)
{
    if (!c)
        return;
    if (c->pm)
        ptx_module_free(c->pm);
    free(c->text);
    free(c->kd);
    free(c->globals);
    free(c->global_off);
    free(c);
}

/* Fill c from its parsed module; NOT_FOUND for an .extern global. */
static CUresult derive_code(struct code *c, char *log, size_t loglen)
{
    int nk = ptx_module_kernel_count(c->pm), ng = ptx_module_global_count(c->pm);
    if (nk < 0 || ng < 0)
        return CUDA_ERROR_INVALID_PTX;
    c->nkernels = nk;
    c->nglobals = ng;
    c->kd = calloc((size_t)nk + 1, sizeof *c->kd);
    c->globals = calloc((size_t)ng + 1, sizeof *c->globals);
    c->global_off = calloc((size_t)ng + 1, sizeof *c->global_off);
    if (!c->kd || !c->globals || !c->global_off)
        return CUDA_ERROR_OUT_OF_MEMORY;
    /* managed variables get a block of their own: the host reaches it too */
    size_t off = 0, moff = 0, const_bytes = 0, align = 1, malign = 1;
    for (int i = 0; i < ng; i++) {
        struct ptx_global_info *g = &c->globals[i];
        ptx_module_global(c->pm, i, g);
        if (g->is_extern) {
            snprintf(log, loglen, "unresolved .extern global '%s'", g->name ? g->name : "?");
            return CUDA_ERROR_NOT_FOUND;
        }
        size_t a = g->align ? g->align : 1;
        if (a & (a - 1) || a > 4096 || g->size > FATBIN_MAX_SIZE || g->init_len > g->size) {
            snprintf(log, loglen, "global '%s': bad size or alignment", g->name ? g->name : "?");
            return CUDA_ERROR_INVALID_PTX;
        }
        size_t *o = g->is_managed ? &moff : &off, *al = g->is_managed ? &malign : &align;
        *o = (*o + a - 1) & ~(a - 1);
        c->global_off[i] = *o;
        *o += g->size;
        if (*o > FATBIN_MAX_SIZE)
            return CUDA_ERROR_OUT_OF_MEMORY;
        if (a > *al)
            *al = a;
        if (g->is_const)
            const_bytes += g->size;
    }
    c->globals_bytes = off;
    c->globals_align = align;
    c->managed_bytes = moff;
    c->managed_align = malign;
    for (int i = 0; i < nk; i++) {
        struct kdesc *d = &c->kd[i];
        d->k = ptx_module_kernel(c->pm, i);
        ptx_kernel_get_info(d->k, &d->info);
        d->const_bytes = const_bytes;
        derive(d);
    }
    return CUDA_SUCCESS;
}

static unsigned device_cc(void) { return (unsigned)(cpudev.cfg.cc_major * 10 + cpudev.cfg.cc_minor); }

/* The PTX text of an image for this device, malloc'd and NUL-terminated. */
CUresult code_image_ptx(const void *image, char **text, size_t *len, char *log, size_t loglen)
{
    char err[200] = "";
    const void *data;
    size_t n;
    int kind = fatbin_classify(image, FATBIN_LEN_UNKNOWN);
    if (kind == FATBIN_IMAGE_UNKNOWN || kind == FATBIN_IMAGE_ARCHIVE ||
        fatbin_span(image, FATBIN_LEN_UNKNOWN, &data, &n, err, sizeof err)) {
        snprintf(log, loglen, "image not loadable (%s): %s", fatbin_image_name(kind), err);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    kind = fatbin_classify(data, n);
    struct fatbin_entry *ents = NULL;
    size_t nents = 0;
    if (fatbin_parse(data, n, &ents, &nents, err, sizeof err)) {
        snprintf(log, loglen, "malformed %s image: %s", fatbin_image_name(kind), err);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    CUresult r = CUDA_SUCCESS;
    const struct fatbin_entry *e = fatbin_pick_ptx_emulated(ents, nents, device_cc());
    if (!e) {
        /* SASS cannot run here; PTX for a later or arch-specific target cannot
         * run either. */
        snprintf(log, loglen, "no PTX for compute capability %d.%d in the %s image", cpudev.cfg.cc_major,
                 cpudev.cfg.cc_minor, fatbin_image_name(kind));
        r = kind == FATBIN_IMAGE_PTX ? CUDA_ERROR_INVALID_PTX : CUDA_ERROR_NO_BINARY_FOR_GPU;
    } else {
        void *out;
        if (fatbin_extract(e, &out, len, err, sizeof err)) {
            snprintf(log, loglen, "cannot extract PTX: %s", err);
            r = CUDA_ERROR_INVALID_IMAGE;
        } else {
            *text = out;
        }
    }
    free(ents);
    return r;
}

CUresult code_load(const void *image, struct code **out, char *log, size_t loglen)
{
    log[0] = 0;
    struct code *c = calloc(1, sizeof *c);
    if (!c)
        return CUDA_ERROR_OUT_OF_MEMORY;
    size_t len = 0;
    CUresult r = code_image_ptx(image, &c->text, &len, log, loglen);
    if (r == CUDA_SUCCESS) {
        char err[512] = "";
        r = ptx_module_parse(c->text, len, &c->pm, err, sizeof err);
        if (r != CUDA_SUCCESS) {
            c->pm = NULL;
            snprintf(log, loglen, "PTX rejected: %s", err[0] ? err : "no reason given");
        }
    }
    if (r == CUDA_SUCCESS)
        r = derive_code(c, log, loglen);
    if (r != CUDA_SUCCESS) {
        if (!log[0])
            snprintf(log, loglen, "image load failed (error %d)", (int)r);
        warn_once(log);
        code_free(c);
        return r;
    }
    *out = c;
    return CUDA_SUCCESS;
}

int code_find_kernel(const struct code *c, const char *name)
{
    for (int i = 0; i < c->nkernels; i++)
        if (c->kd[i].info.name && !strcmp(c->kd[i].info.name, name))
            return i;
    return -1;
}

int code_find_global(const struct code *c, const char *name, size_t *size)
{
    for (int i = 0; i < c->nglobals; i++) {
        if (c->globals[i].name && !strcmp(c->globals[i].name, name)) {
            *size = c->globals[i].size;
            return i;
        }
    }
    return -1;
}

/* ---- modules ---- */

static void module_unregister_locked(struct module *m, int nfuncs)
{
    reg_del_locked(m);
    for (int i = 0; i < nfuncs; i++)
        reg_del_locked(&m->funcs[i]);
}

CUresult globals_alloc_locked(struct ctx *c, const struct code *code, bool managed, CUdeviceptr *block,
                              uint64_t *addrs)
{
    size_t bytes = managed ? code->managed_bytes : code->globals_bytes;
    size_t a = managed ? code->managed_align : code->globals_align;
    bool any = false;
    for (int i = 0; i < code->nglobals && !any; i++)
        any = code->globals[i].is_managed == managed;
    *block = 0;
    if (!any)
        return CUDA_SUCCESS;
    bytes += a > 256 ? a : 0; /* allocations are 256-aligned */
    if (!bytes)
        bytes = 1; /* zero-sized variables still have an address */
    CUresult r = managed ? mem_alloc_managed_locked(c, bytes, block) : mem_alloc_internal_locked(c, bytes, block);
    if (r != CUDA_SUCCESS)
        return r;
    memset((void *)(uintptr_t)*block, 0, bytes);
    uint64_t base = ((uint64_t)*block + a - 1) & ~(uint64_t)(a - 1);
    for (int i = 0; i < code->nglobals; i++)
        if (code->globals[i].is_managed == managed)
            addrs[i] = base + code->global_off[i];
    return CUDA_SUCCESS;
}

void globals_init(const struct code *code, bool managed, const uint64_t *addrs)
{
    for (int i = 0; i < code->nglobals; i++) {
        const struct ptx_global_info *g = &code->globals[i];
        if (g->is_managed != managed)
            continue;
        void *bytes = (void *)(uintptr_t)addrs[i];
        if (g->init && g->init_len)
            memcpy(bytes, g->init, g->init_len);
        ptx_module_global_relocate(code->pm, i, addrs, bytes);
    }
}

static void module_free_blocks(struct module *m)
{
    if (m->globals)
        mem_free_block(m->globals);
    if (m->managed)
        mem_free_block(m->managed);
}

static void module_release(struct module *m)
{
    free(m->funcs);
    free(m->global_addrs);
    free(m);
}

CUresult module_create_locked(struct ctx *c, struct code *code, struct library *lib, struct module **out)
{
    struct module *m = calloc(1, sizeof *m);
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    m->funcs = calloc((size_t)code->nkernels + 1, sizeof *m->funcs);
    m->global_addrs = calloc((size_t)code->nglobals + 1, sizeof *m->global_addrs);
    if (!m->funcs || !m->global_addrs) {
        module_release(m);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    CUresult r = globals_alloc_locked(c, code, false, &m->globals, m->global_addrs);
    if (r == CUDA_SUCCESS && lib) {
        for (int i = 0; i < code->nglobals; i++)
            if (code->globals[i].is_managed)
                m->global_addrs[i] = lib->managed_addrs[i];
    } else if (r == CUDA_SUCCESS) {
        r = globals_alloc_locked(c, code, true, &m->managed, m->global_addrs);
    }
    if (r != CUDA_SUCCESS) {
        if (m->globals)
            mem_free_block(m->globals);
        module_release(m);
        return r;
    }
    /* every address first: an initialiser may hold another global's */
    globals_init(code, false, m->global_addrs);
    if (!lib)
        globals_init(code, true, m->global_addrs);
    int n = 0;
    bool ok = reg_add_locked(m, H_MODULE);
    for (; ok && n < code->nkernels; n++) {
        struct func *f = &m->funcs[n];
        f->mod = m;
        f->kd = &code->kd[n];
        f->kern = lib ? &lib->kernels[n] : NULL;
        ok = reg_add_locked(f, H_FUNC);
    }
    if (!ok) {
        module_unregister_locked(m, n);
        module_free_blocks(m);
        module_release(m);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    m->id = cpudev_new_id_locked();
    m->ctx = c;
    m->ctx_serial = c->serial;
    m->ctx_id = c->id;
    m->lib = lib;
    m->code = code;
    m->next = c->modules;
    c->modules = m;
    if (lib) {
        m->lib_next = lib->mods;
        lib->mods = m;
    }
    *out = m;
    return CUDA_SUCCESS;
}

void module_detach_locked(struct module *m)
{
    module_unregister_locked(m, m->code->nkernels);
    for (struct module **pp = &m->ctx->modules; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    if (m->lib) {
        for (struct module **pp = &m->lib->mods; *pp; pp = &(*pp)->lib_next) {
            if (*pp == m) {
                *pp = m->lib_next;
                break;
            }
        }
    }
    m->next = m->lib_next = NULL;
}

/* Is the activation m was loaded in still alive? Its context may have been
 * destroyed and freed meanwhile: only the registry is trusted. */
static bool activation_alive_locked(const struct module *m)
{
    if (!reg_has_locked(m->ctx, H_CTX))
        return false;
    const struct ctx *c = m->ctx;
    return c->serial == m->ctx_serial && c->id == m->ctx_id && c->active;
}

void module_free_locked(struct module *m)
{
    if (activation_alive_locked(m))
        module_free_blocks(m);
    if (!m->lib)
        code_free(m->code);
    module_release(m);
}

void modules_teardown_locked(struct ctx *c)
{
    while (c->modules) {
        struct module *m = c->modules;
        module_detach_locked(m);
        module_free_locked(m); /* the activation is inactive: its memory goes with it */
    }
}

/* ---- driver calls ---- */

static CUresult module_lookup_locked(CUmodule h, struct module **out)
{
    if (!h || !reg_has_locked(h, H_MODULE))
        return CUDA_ERROR_INVALID_HANDLE;
    *out = (struct module *)h;
    return CUDA_SUCCESS;
}

CUresult cpudev_cuModuleLoadData(CUmodule *module, const void *image)
{
    CPUDEV_ENTER();
    if (!module || !image)
        return CUDA_ERROR_INVALID_VALUE;
    struct ctx *c;
    cpudev_lock();
    CUresult r = ctx_current_locked(&c);
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        return r;
    /* Parsing may take a while: no lock held. */
    struct code *code;
    char log[512];
    r = code_load(image, &code, log, sizeof log);
    if (r != CUDA_SUCCESS)
        return r;
    struct module *m;
    cpudev_lock();
    r = ctx_current_locked(&c);
    if (r == CUDA_SUCCESS)
        r = module_create_locked(c, code, NULL, &m);
    if (r == CUDA_SUCCESS)
        *module = (CUmodule)m;
    cpudev_unlock();
    if (r != CUDA_SUCCESS)
        code_free(code);
    return r;
}

CUresult cpudev_cuModuleUnload(CUmodule hmod)
{
    CPUDEV_ENTER();
    CUresult r = wait_permitted();
    if (r != CUDA_SUCCESS)
        return r;
    struct module *m;
    struct waitset ws;
    ws_init(&ws);
    cpudev_lock();
    r = module_lookup_locked(hmod, &m);
    if (r == CUDA_SUCCESS && m->lib)
        r = CUDA_ERROR_NOT_PERMITTED; /* a library's module goes with the library */
    if (r == CUDA_SUCCESS) {
        /* Nothing can name it from here; then the work that might use it drains. */
        if (!ws_add_ctx_locked(&ws, m->ctx)) {
            r = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            module_detach_locked(m);
            ws_wait_locked(&ws);
            module_free_locked(m);
        }
    }
    ws_release_locked(&ws);
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    CPUDEV_ENTER();
    if (!hfunc || !name)
        return CUDA_ERROR_INVALID_VALUE;
    struct module *m;
    cpudev_lock();
    CUresult r = module_lookup_locked(hmod, &m);
    if (r == CUDA_SUCCESS) {
        int i = code_find_kernel(m->code, name);
        if (i < 0)
            r = CUDA_ERROR_NOT_FOUND;
        else
            *hfunc = (CUfunction)&m->funcs[i];
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name)
{
    CPUDEV_ENTER();
    if ((!dptr && !bytes) || !name)
        return CUDA_ERROR_INVALID_VALUE;
    struct module *m;
    cpudev_lock();
    CUresult r = module_lookup_locked(hmod, &m);
    if (r == CUDA_SUCCESS) {
        size_t size;
        int i = code_find_global(m->code, name, &size);
        if (i < 0) {
            r = CUDA_ERROR_NOT_FOUND;
        } else {
            if (dptr)
                *dptr = (CUdeviceptr)m->global_addrs[i];
            if (bytes)
                *bytes = size;
        }
    }
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuModuleGetFunctionCount(unsigned int *count, CUmodule mod)
{
    CPUDEV_ENTER();
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    struct module *m;
    cpudev_lock();
    CUresult r = module_lookup_locked(mod, &m);
    if (r == CUDA_SUCCESS)
        *count = (unsigned)m->code->nkernels;
    cpudev_unlock();
    return r;
}

CUresult cpudev_cuModuleEnumerateFunctions(CUfunction *functions, unsigned int numFunctions, CUmodule mod)
{
    CPUDEV_ENTER();
    if (!functions)
        return CUDA_ERROR_INVALID_VALUE;
    struct module *m;
    cpudev_lock();
    CUresult r = module_lookup_locked(mod, &m);
    if (r == CUDA_SUCCESS) {
        /* Up to numFunctions handles; the rest of the buffer is cleared. */
        for (unsigned i = 0; i < numFunctions; i++)
            functions[i] = i < (unsigned)m->code->nkernels ? (CUfunction)&m->funcs[i] : NULL;
    }
    cpudev_unlock();
    return r;
}
