/*
 * procaddr.c — cuGetProcAddress_v2 and the legacy cuGetProcAddress.
 *
 * cudart 13 dlsym()s only cuGetProcAddress_v2 and asks it for everything else,
 * about 440 (name, cudaVersion, flags) requests at startup, old ABI variants
 * included (shared/reference/cuda-driver-interface.md, section 1). The answer
 * must be the exact variant whose ABI matches the caller's version: handing
 * cuCtxSynchronize_v2 to a caller that passes no context, or cuMemcpyHtoD (32-bit
 * sizes) to one that passes size_t, corrupts the call.
 *
 * The table is driver_tables.inc, generated from the toolkit's PFN typedefs and
 * checked against the stub driver's exports (tools/gen_driver_tables.py). Each
 * row takes the address of its symbol directly, so a request resolves to the
 * strong definition elsewhere in client/ when there is one and to the weak
 * CUDA_ERROR_NOT_SUPPORTED fallback of unsupported.c otherwise; no dlsym.
 *
 * Everything here is read-only constant data: it needs no cuInit and no lock.
 */
#include "client.h"

#include <stdlib.h>
#include <string.h>

/* One ABI variant of an API. version/pt_version are CUDA versions (1000 *
 * major + 10 * minor) from the PFN_<api>_v<version> typedef names. */
struct proc_variant {
    int version;     /* oldest cudaVersion this variant answers */
    int pt_version;  /* oldest cudaVersion its per-thread form answers; 0: none */
    void *fn;        /* the variant, e.g. cuMemcpyHtoD_v2 */
    void *pt_fn;     /* its _ptds/_ptsz form, e.g. cuMemcpyHtoD_v2_ptds; or NULL */
    const char *sym; /* symbol names, for the debug trace */
    const char *pt_sym;
};

struct proc_api {
    const char *name;     /* base name as cudart asks for it, e.g. "cuMemcpyHtoD" */
    unsigned short first; /* its variants: proc_variants[first .. first+count-1], */
    unsigned short count; /* in ascending version order */
};

/* Function addresses as void *: what cuGetProcAddress hands out, and what
 * POSIX (dlsym) guarantees to be lossless. */
#define FN(sym) ((void *)&(sym))

static const struct proc_variant proc_variants[] = {
#define RGPU_PROC_VARIANT(api, ver, sym) {ver, 0, FN(sym), NULL, #sym, NULL},
#define RGPU_PROC_VARIANT_PT(api, ver, sym, ptver, ptsym)                                          \
    {ver, ptver, FN(sym), FN(ptsym), #sym, #ptsym},
#include "driver_tables.inc"
#undef RGPU_PROC_VARIANT
#undef RGPU_PROC_VARIANT_PT
};

static const struct proc_api proc_apis[] = {
#define RGPU_PROC_API(api, first, count) {#api, first, count},
#include "driver_tables.inc"
#undef RGPU_PROC_API
};

/* Names we know but do not provide: only to say why a lookup failed. */
static const char *const proc_not_provided[] = {
#define RGPU_NOT_PROVIDED(api) #api,
#include "driver_tables.inc"
#undef RGPU_NOT_PROVIDED
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(ARRAY_LEN(proc_variants) <= 0xffff, "proc_api.first is an unsigned short");

static int cmp_api(const void *key, const void *elem)
{
    return strcmp(key, ((const struct proc_api *)elem)->name);
}

static int cmp_name(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

/* The lookup both entry points share. symbolStatus may be NULL. */
static CUresult proc_lookup(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                            CUdriverProcAddressQueryResult *symbolStatus)
{
    if (symbol == NULL || pfn == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *pfn = NULL;

    /* DEFAULT (0) means "per-thread if the caller was compiled for it", which
     * only the caller knows: cuda.h's per-thread build wraps this call and adds
     * the PER_THREAD flag itself. So here 0 and LEGACY_STREAM both mean legacy.
     * PER_THREAD with LEGACY as well is contradictory; PER_THREAD wins because
     * the documented search "including the per-thread versions" is the wider
     * one. Unknown bits are ignored rather than failing every lookup of a
     * newer cudart. */
    int per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
    if (flags & ~(cuuint64_t)(CU_GET_PROC_ADDRESS_LEGACY_STREAM |
                              CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM))
        rgpu_debug("cuGetProcAddress(%s): ignoring unknown flags %#llx", symbol,
                   (unsigned long long)flags);

    const struct proc_api *api =
        bsearch(symbol, proc_apis, ARRAY_LEN(proc_apis), sizeof proc_apis[0], cmp_api);
    if (api == NULL) {
        /* cudart's first request is "" at version 0; graphics interop is
         * requested too and tolerated as missing. */
        if (symbol[0] != '\0')
            rgpu_debug("cuGetProcAddress(%s, %d): %s", symbol, cudaVersion,
                       bsearch(symbol, proc_not_provided, ARRAY_LEN(proc_not_provided),
                               sizeof proc_not_provided[0], cmp_name)
                           ? "graphics interop, not provided by rgpu"
                           : "unknown symbol");
        if (symbolStatus)
            *symbolStatus = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        return CUDA_ERROR_NOT_FOUND;
    }

    /* Newest variant the caller's version knows: variants are few (at most 4). */
    const struct proc_variant *v = NULL;
    for (unsigned i = api->count; i-- > 0;) {
        if (proc_variants[api->first + i].version <= cudaVersion) {
            v = &proc_variants[api->first + i];
            break;
        }
    }
    if (v == NULL) {
        rgpu_debug("cuGetProcAddress(%s, %d): needs version >= %d", symbol, cudaVersion,
                   proc_variants[api->first].version);
        if (symbolStatus)
            *symbolStatus = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
        return CUDA_ERROR_NOT_FOUND;
    }

    /* A per-thread form exists only from its own version on (mostly 7000);
     * below that, or when there is none, the legacy variant is the answer, as
     * the flag's documentation says. */
    int use_pt = per_thread && v->pt_fn != NULL && v->pt_version <= cudaVersion;
    *pfn = use_pt ? v->pt_fn : v->fn;
    if (symbolStatus)
        *symbolStatus = CU_GET_PROC_ADDRESS_SUCCESS;
    rgpu_debug("cuGetProcAddress(%s, %d, %#llx) -> %s", symbol, cudaVersion,
               (unsigned long long)flags, use_pt ? v->pt_sym : v->sym);
    return CUDA_SUCCESS;
}

RGPU_API CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
                                      cuuint64_t flags,
                                      CUdriverProcAddressQueryResult *symbolStatus)
{
    return proc_lookup(symbol, pfn, cudaVersion, flags, symbolStatus);
}

/* The CUDA 11.3 form, without symbolStatus; cudart still requests it (11030). */
RGPU_API CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
                                   cuuint64_t flags)
{
    return proc_lookup(symbol, pfn, cudaVersion, flags, NULL);
}
