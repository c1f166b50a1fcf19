/*
 * it_kernels.h — types shared by the test kernels (it_kernels.cu, compiled by
 * nvcc) and the host programs that launch them (modules.c, library.c, ...,
 * compiled as C11). Both compilers lay these out by the same x86-64 / CUDA
 * ABI, so the host can compute parameter offsets with offsetof/alignof and
 * read back what a kernel wrote field by field.
 */
#ifndef RGPU_IT_KERNELS_H
#define RGPU_IT_KERNELS_H

#ifdef __CUDACC__
#define IT_ALIGNAS(n) alignas(n)
#else
#include <stdalign.h>
#define IT_ALIGNAS(n) _Alignas(n)
#endif

/* a struct of odd size: 3 bytes, alignment 1 */
struct it_tiny3 {
    char a, b, c;
};
/* inner padding on both sides of a double: 24 bytes, alignment 8 */
struct it_odd {
    char c;
    double d;
    int i;
};
/* over-aligned: 16 bytes, alignment 16 */
struct it_al16 {
    IT_ALIGNAS(16) long long a;
    int b;
};
/* an array inside a struct: 12 bytes, alignment 2 */
struct it_arr {
    short v[5];
    char tag;
};

/* The parameter list of all_kinds as a C struct: the CUDA ABI lays kernel
 * parameters out like the members of this struct (natural alignment), so
 * offsetof() gives what cuFuncGetParamInfo must report, and the struct
 * itself is a valid CU_LAUNCH_PARAM_BUFFER_POINTER buffer. */
struct it_all_params {
    signed char c;
    short s;
    int i;
    long long ll;
    float f;
    double d;
    const int *p;
    struct it_tiny3 t3;
    struct it_odd o;
    char c2;
    struct it_al16 a16;
    struct it_arr arr;
    void *out; /* struct it_all_out * */
};
#define IT_ALL_NPARAMS 13

/* what all_kinds writes back: every parameter it received */
struct it_all_out {
    signed char c;
    long long c_ext; /* c sign-extended by the kernel */
    short s;
    long long s_ext;
    int i;
    long long ll;
    float f;
    double d;
    unsigned long long p; /* the pointer's value */
    int p_val;            /* *p */
    struct it_tiny3 t3;
    struct it_odd o;
    char c2;
    struct it_al16 a16;
    struct it_arr arr;
    unsigned long long out; /* the out pointer's own value */
};

#ifndef __CUDACC__
#include <stddef.h>
/* offsets and sizes of all_kinds' parameters as the ABI lays them out:
 * what cuFuncGetParamInfo / cuKernelGetParamInfo must report */
static inline void it_all_param_layout(size_t off[IT_ALL_NPARAMS], size_t size[IT_ALL_NPARAMS])
{
#define IT_P_(k, m)                                                                                                \
    do {                                                                                                           \
        off[k] = offsetof(struct it_all_params, m);                                                                \
        size[k] = sizeof(((struct it_all_params *)0)->m);                                                          \
    } while (0)
    IT_P_(0, c);
    IT_P_(1, s);
    IT_P_(2, i);
    IT_P_(3, ll);
    IT_P_(4, f);
    IT_P_(5, d);
    IT_P_(6, p);
    IT_P_(7, t3);
    IT_P_(8, o);
    IT_P_(9, c2);
    IT_P_(10, a16);
    IT_P_(11, arr);
    IT_P_(12, out);
#undef IT_P_
}
#endif

#define IT_CONST_TABLE_LEN 16
#define IT_DEV_INIT_LEN 4
#define IT_SHARED_TILE 64 /* ints in shared_reverse's static __shared__ tile */
#define IT_BOUNDS 128     /* __launch_bounds__ of the bounded kernel */

#endif
