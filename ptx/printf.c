/*
 * printf.c — device printf: `call (r), vprintf, (fmt, args)`.
 *
 * fmt is a generic address of the format string (in device memory), args a
 * generic address of the argument buffer the kernel built (usually in local
 * memory), where each argument is stored at its natural alignment: 4 bytes
 * for %d %i %u %x %X %o %c without a length modifier, 8 bytes for l/ll/z/j/t
 * integers, doubles (%f %e %g %a: floats are promoted), %s and %p pointers.
 * Each executing lane's text is formatted on the host with snprintf, one
 * conversion at a time, and handed to launch->print. Strings are read
 * through the same checks as loads; an unreadable one prints "(null)" like
 * the CUDA runtime rather than failing the launch. The return value is the
 * number of arguments consumed (the CUDA convention), -1 if fmt is bad.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

#define OUT_MAX 4096

static bool read_mem(struct xctx *x, const struct ins *i, int l, uint64_t addr, void *dst, unsigned n)
{
    uint64_t tag = addr & PTX_WIN_MASK;
    if (tag == PTX_SHARED_WIN || tag == PTX_LOCAL_WIN || tag == PTX_PARAM_WIN) {
        uint8_t *p = x_addr(x, i, l, addr, SP_GENERIC, 1);
        if (!p) return false;
        /* bounds for the whole range */
        uint8_t *q = x_addr(x, i, l, addr + n - 1, SP_GENERIC, 1);
        if (!q) return false;
        memcpy(dst, p, n);
        return true;
    }
    const struct ptx_memory *mem = &x->L->mem;
    if (addr + n < addr || !mem->valid(mem->ctx, addr, n)) return false;
    memcpy(dst, (const void *)(uintptr_t)addr, n);
    return true;
}

/* read a NUL-terminated device string into buf (truncated); false if unreadable */
static bool read_str(struct xctx *x, const struct ins *i, int l, uint64_t addr, char *buf, size_t cap)
{
    size_t k = 0;
    for (; k + 1 < cap; k++) {
        char c;
        if (!read_mem(x, i, l, addr + k, &c, 1)) return false;
        buf[k] = c;
        if (!c) return true;
    }
    buf[k] = 0;
    return true;
}

int x_vprintf(struct xctx *x, const struct ins *i, uint32_t m)
{
    struct warp *w = x->w;
    const struct launch_state *L = x->L;
    uint32_t base = w->frames[w->nframes - 1].local_base;
    char fmt[OUT_MAX], out[OUT_MAX], spec[64], sarg[OUT_MAX];
    for (uint32_t mm = m; mm; mm &= mm - 1) {
        int l = __builtin_ctz(mm);
        uint8_t *lm = w->local + (size_t)l * L->local_size + base;
        uint64_t fa, aa;
        memcpy(&fa, lm + i->o[1], 8);
        memcpy(&aa, lm + i->o[2], 8);
        int32_t ret = -1;
        if (read_str(x, i, l, fa, fmt, sizeof fmt)) {
            size_t o = 0, ap = 0;
            int nargs = 0;
            for (const char *f = fmt; *f && o < sizeof out - 1;) {
                if (*f != '%') { out[o++] = *f++; continue; }
                if (f[1] == '%') { out[o++] = '%'; f += 2; continue; }
                const char *s = f++;
                while (*f && strchr("-+ #0123456789.*", *f)) f++;
                int lng = 0;
                while (*f && strchr("hlLqjzt", *f)) { if (*f == 'l' || *f == 'L' || *f == 'q' || *f == 'j' || *f == 'z' || *f == 't') lng++; f++; }
                char conv = *f ? *f++ : 0;
                size_t sl = (size_t)(f - s);
                if (sl >= sizeof spec - 4 || !conv) break;
                int n = 0;
                if (strchr("diuxXoc", conv)) {
                    unsigned sz = lng ? 8 : 4;
                    ap = (ap + sz - 1) / sz * sz;
                    uint64_t v = 0;
                    if (!read_mem(x, i, l, aa + ap, &v, sz)) break;
                    ap += sz;
                    /* normalise the length modifier to ll */
                    size_t k = 0;
                    for (const char *q = s; q < f - 1; q++)
                        if (!strchr("hlLqjzt", *q)) spec[k++] = *q;
                    spec[k++] = 'l'; spec[k++] = 'l'; spec[k++] = conv; spec[k] = 0;
                    long long sv = sz == 4 ? (long long)(int32_t)v : (long long)v;
                    unsigned long long uv = sz == 4 ? (unsigned long long)(uint32_t)v : (unsigned long long)v;
                    if (conv == 'c') { spec[k - 3] = 'c'; spec[k - 2] = 0; n = snprintf(out + o, sizeof out - o, spec, (int)sv); }
                    else if (conv == 'd' || conv == 'i') n = snprintf(out + o, sizeof out - o, spec, sv);
                    else n = snprintf(out + o, sizeof out - o, spec, uv);
                } else if (strchr("fFeEgGaA", conv)) {
                    ap = (ap + 7) / 8 * 8;
                    double v;
                    if (!read_mem(x, i, l, aa + ap, &v, 8)) break;
                    ap += 8;
                    size_t k = 0;
                    for (const char *q = s; q < f - 1; q++)
                        if (!strchr("hlLqjzt", *q)) spec[k++] = *q;
                    spec[k++] = conv; spec[k] = 0;
                    n = snprintf(out + o, sizeof out - o, spec, v);
                } else if (conv == 's' || conv == 'p') {
                    ap = (ap + 7) / 8 * 8;
                    uint64_t v;
                    if (!read_mem(x, i, l, aa + ap, &v, 8)) break;
                    ap += 8;
                    memcpy(spec, s, sl);
                    spec[sl] = 0;
                    if (conv == 'p') n = snprintf(out + o, sizeof out - o, "%#llx", (unsigned long long)v);
                    else {
                        if (!v || !read_str(x, i, l, v, sarg, sizeof sarg)) strcpy(sarg, "(null)");
                        n = snprintf(out + o, sizeof out - o, spec, sarg);
                    }
                } else {
                    break;
                }
                if (n > 0) o += (size_t)n < sizeof out - o ? (size_t)n : sizeof out - o - 1;
                nargs++;
            }
            out[o] = 0;
            ret = nargs;
            if (L->l->print) L->l->print(L->l->print_ctx, out, o);
        }
        if (i->o[0] != REF_NONE) memcpy(lm + i->o[0], &ret, 4);
    }
    /* an unreadable string is not a launch failure: clear any error read_mem's checks raised */
    return xfailed(L) ? -1 : 0;
}
