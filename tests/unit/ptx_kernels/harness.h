/*
 * harness.h — shared by the tests/unit/test_ptx_*.c programs: load a PTX
 * file that nvcc produced at build time (PTX_DIR), treat malloc'd buffers as
 * device memory (the memory.valid callback accepts exactly the registered
 * buffers), pack kernel parameters and launch with ptx_launch_run.
 */
#ifndef RGPU_PTX_TEST_HARNESS_H
#define RGPU_PTX_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ptx.h"

__attribute__((unused)) static char *h_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); fclose(f); return NULL; }
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

__attribute__((unused)) static struct ptx_module *h_load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", PTX_DIR, name);
    size_t len = 0;
    char *text = h_read_file(path, &len);
    if (!text) fail_msg("cannot read %s", path);
    struct ptx_module *m = NULL;
    char err[512];
    CUresult rc = ptx_module_parse(text, len, &m, err, sizeof err);
    free(text);
    if (rc != CUDA_SUCCESS) fail_msg("parse %s: %d %s", name, rc, err);
    return m;
}

/* device memory: registered buffers */
#define H_MAXBUF 64
static struct { uint64_t lo, hi; void *mem; } h_bufs[H_MAXBUF];
static int h_nbufs;
static bool h_valid(void *ctx, uint64_t addr, uint64_t n)
{
    (void)ctx;
    for (int i = 0; i < h_nbufs; i++)
        if (addr >= h_bufs[i].lo && addr + n <= h_bufs[i].hi && addr + n >= addr) return true;
    return false;
}
__attribute__((unused)) static void *h_dev(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (h_nbufs < H_MAXBUF) {
        h_bufs[h_nbufs].lo = (uint64_t)(uintptr_t)p;
        h_bufs[h_nbufs].hi = (uint64_t)(uintptr_t)p + n;
        h_bufs[h_nbufs].mem = p;
        h_nbufs++;
    }
    return p;
}
__attribute__((unused)) static void h_dev_free_all(void)
{
    for (int i = 0; i < h_nbufs; i++) free(h_bufs[i].mem);
    h_nbufs = 0;
}

/* parameters */
struct h_params { uint8_t buf[4096]; };
__attribute__((unused)) static void h_param(const struct ptx_kernel *k, struct h_params *p, int i, const void *v, size_t n)
{
    size_t off, sz;
    ptx_kernel_param(k, i, &off, &sz);
    assert_int_equal(sz, n);
    memcpy(p->buf + off, v, n);
}
#define H_P(k, p, i, v) do { __typeof__(v) v_ = (v); h_param((k), (p), (i), &v_, sizeof v_); } while (0)

static char h_printed[65536];
static size_t h_nprinted;
static void h_print(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    if (h_nprinted + len < sizeof h_printed) { memcpy(h_printed + h_nprinted, text, len); h_nprinted += len; h_printed[h_nprinted] = 0; }
}

static char h_err[512];
static bool h_cooperative; /* the next launches are cooperative (grid-wide sync) */
/* the texture objects of the next launches (ptx_launch.texture), if any */
static bool (*h_texture)(void *ctx, uint64_t handle, struct ptx_texture *out);
__attribute__((unused)) static CUresult h_launch_ex(struct ptx_module *m, const char *kernel, unsigned gx, unsigned gy, unsigned bx, unsigned by,
                            unsigned bz, size_t dyn, const struct h_params *p, int threads, const uint64_t *gaddrs)
{
    const struct ptx_kernel *k = ptx_module_find_kernel(m, kernel);
    if (!k) fail_msg("no kernel %s", kernel);
    static uint64_t auto_addrs[64];
    int ng = ptx_module_global_count(m);
    if (!gaddrs && ng > 0) { /* module variables (printf strings, ...) in fresh device memory */
        if (ng > 64) fail_msg("too many module variables");
        for (int i = 0; i < ng; i++) {
            struct ptx_global_info gi;
            ptx_module_global(m, i, &gi);
            void *mem = h_dev(gi.size);
            if (gi.init_len) memcpy(mem, gi.init, gi.init_len);
            auto_addrs[i] = (uint64_t)(uintptr_t)mem;
        }
        for (int i = 0; i < ng; i++) ptx_module_global_relocate(m, i, auto_addrs, (void *)(uintptr_t)auto_addrs[i]);
        gaddrs = auto_addrs;
    }
    struct ptx_launch l;
    memset(&l, 0, sizeof l);
    l.kernel = k;
    l.grid[0] = gx; l.grid[1] = gy; l.grid[2] = 1;
    l.block[0] = bx; l.block[1] = by; l.block[2] = bz;
    l.dynamic_shared = dyn;
    l.params = p ? p->buf : NULL;
    l.global_addrs = gaddrs;
    l.memory.valid = h_valid;
    l.host_threads = threads;
    l.cooperative = h_cooperative;
    l.texture = h_texture;
    l.print = h_print;
    l.errbuf = h_err;
    l.errlen = sizeof h_err;
    return ptx_launch_run(&l);
}
__attribute__((unused)) static void h_launch(struct ptx_module *m, const char *kernel, unsigned gx, unsigned bx, const struct h_params *p)
{
    CUresult rc = h_launch_ex(m, kernel, gx, 1, bx, 1, 1, 0, p, 2, NULL);
    if (rc != CUDA_SUCCESS) fail_msg("launch %s: %d %s", kernel, rc, h_err);
}
#endif
