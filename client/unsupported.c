/*
 * unsupported.c — a weak fallback for every driver entry point.
 *
 * libcuda.so.1 must export every function NVIDIA's stub driver exports
 * (programs link against them, and cuGetProcAddress hands out their
 * addresses), but rgpu implements only part of the API. Each symbol of the
 * RGPU_UNSUPPORTED section of driver_tables.inc is defined here as a WEAK
 * function that warns once and returns CUDA_ERROR_NOT_SUPPORTED. A real
 * implementation anywhere else in client/ is a strong definition of the same
 * name and replaces the fallback at link time, with no list to keep in sync.
 *
 * Rules for those strong definitions: they must live in a .c file of client/
 * (the linker does not pull an archive member to override a weak symbol it
 * already has), be RGPU_API (ELF keeps the most restrictive visibility of all
 * definitions, so a hidden strong definition would silently drop the export)
 * and match cuda.h's prototype for that exact symbol name.
 *
 * This file deliberately does not see cuda.h: the fallbacks are declared
 * `int name(void)`, which would conflict with the real prototypes. That is
 * ABI-safe on the SysV x86-64 and AAPCS64 (aarch64) C ABIs rgpu targets:
 * arguments travel in registers or in the caller's stack frame and the caller
 * removes them, so a callee that ignores them leaves nothing behind; and the
 * int result is returned in the same register (eax / w0) as CUresult, a
 * 32-bit enum. Do not build client/ with LTO, which would compare the types.
 */
#include "log.h"

#include <stdatomic.h>

/* As in client.h, which cannot be included here: it pulls in cuda.h. */
#define RGPU_API __attribute__((visibility("default")))

#define RGPU_CUDA_ERROR_NOT_SUPPORTED 801 /* CUDA_ERROR_NOT_SUPPORTED */

/* Shared body, kept out of line so each fallback is a few instructions. */
__attribute__((noinline)) static int unsupported(const char *name, atomic_flag *warned)
{
    if (!atomic_flag_test_and_set_explicit(warned, memory_order_relaxed))
        rgpu_warn("%s is not supported by rgpu; returning CUDA_ERROR_NOT_SUPPORTED", name);
    return RGPU_CUDA_ERROR_NOT_SUPPORTED;
}

#define RGPU_UNSUPPORTED(sym)                                                                      \
    RGPU_API __attribute__((weak)) int sym(void);                                                  \
    RGPU_API __attribute__((weak)) int sym(void)                                                   \
    {                                                                                              \
        static atomic_flag warned = ATOMIC_FLAG_INIT;                                              \
        return unsupported(#sym, &warned);                                                         \
    }
#include "driver_tables.inc"
#undef RGPU_UNSUPPORTED
