/*
 * stubs.c — NVML entry points generated from the NVML rows of calls.def:
 * check initialisation, the device handle and output pointers, remote the
 * call, store the outputs.
 */
#include "nvml_client.h"

static nvmlReturn_t wire_dev(nvmlDevice_t *d) { return rgpu_nvml_wire_dev(d) ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT; }
static nvmlReturn_t wire_none(const void *p) { return NVML_SUCCESS; }
#define WIRE_ARG(x) _Generic((x), nvmlDevice_t: wire_dev, default: wire_none)(&(x))

#define FILL_IN(T, x) a.x = x; if ((r = WIRE_ARG(a.x)) != NVML_SUCCESS) return r;
#define FILL_OUT(T, x) if (!x) return NVML_ERROR_INVALID_ARGUMENT;
#define FILL_OUTBUF(T, x, len) if (!x) return NVML_ERROR_INVALID_ARGUMENT; a.x = x;
#define FILL(t) RGPU_DIR(FILL_, t)

#define STORE_IN(T, x)
#define STORE_OUT(T, x) *x = a.x;
#define STORE_OUTBUF(T, x, len)
#define STORE(t) RGPU_DIR(STORE_, t)

#define GEN_STUB(name, ...)                                                                        \
    RGPU_NVML_API nvmlReturn_t name(RGPU_PARAMS(__VA_ARGS__))                                      \
    {                                                                                              \
        nvmlReturn_t r = rgpu_nvml_ready();                                                        \
        if (r != NVML_SUCCESS)                                                                     \
            return r;                                                                              \
        struct rgpu_args_##name a = {0};                                                           \
        RGPU_EACH(FILL, __VA_ARGS__)                                                               \
        r = rgpu_nvml_remote(RGPU_ID_##name, &a);                                                  \
        if (r == NVML_SUCCESS) {                                                                   \
            RGPU_EACH(STORE, __VA_ARGS__)                                                          \
        }                                                                                          \
        return r;                                                                                  \
    }
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(NSTUB, kind))(GEN_STUB(name, __VA_ARGS__))
#include "calls.def"
#undef RGPU_CALL
