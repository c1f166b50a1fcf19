// Integer, bit, float and conversion instructions (tests/unit/test_ptx_arith.c).
// Each thread applies every operation to its inputs and writes the results
// in a fixed order; the host recomputes them.
#include <cuda_fp16.h>
#include <cuda_bf16.h>
extern "C" {

#define NI 24
__global__ void int_ops(const int *A, const int *B, unsigned *out)
{
    int t = threadIdx.x + blockIdx.x * blockDim.x;
    int a = A[t], b = B[t];
    unsigned ua = a, ub = b;
    unsigned *o = out + t * NI;
    o[0] = a + b;
    o[1] = a - b;
    o[2] = a * b;
    o[3] = __mulhi(a, b);
    o[4] = __umulhi(ua, ub);
    long long w = (long long)a * b;
    o[5] = (unsigned)w; o[6] = (unsigned)(w >> 32);
    o[7] = b ? a / b : 7;
    o[8] = b ? a % b : 8;
    o[9] = ub ? ua / ub : 9;
    o[10] = ub ? ua % ub : 10;
    o[11] = abs(a);
    o[12] = min(a, b);
    o[13] = max(ua, ub);
    o[14] = a >> (b & 31);
    o[15] = ua >> (ub & 31);
    o[16] = ua << (ub & 31);
    o[17] = __sad(a, b, 5u);
    o[18] = __mul24(a, b);
    o[19] = __umul24(ua, ub);
    unsigned long long uw = (unsigned long long)ua * ub;
    o[20] = (unsigned)(uw >> 32);
    o[21] = (a < b) + 2 * (ua < ub) + 4 * (a == b);
    long long la = (long long)a << 20, lb = (long long)b | 1;
    o[22] = (unsigned)(la / lb);
    o[23] = (unsigned)(la % lb);
}

#define NB 20
__global__ void bit_ops(const unsigned *A, const unsigned *B, const unsigned *C, unsigned *out)
{
    int t = threadIdx.x + blockIdx.x * blockDim.x;
    unsigned a = A[t], b = B[t], c = C[t], r;
    unsigned *o = out + t * NB;
    o[0] = __brev(a);
    o[1] = __clz(a);
    o[2] = __popc(a);
    o[3] = __ffs(a);
    o[4] = __byte_perm(a, b, c);
    o[5] = __funnelshift_l(a, b, c);
    o[6] = __funnelshift_r(a, b, c);
    o[7] = __funnelshift_lc(a, b, c);
    o[8] = __funnelshift_rc(a, b, c);
    asm("bfe.u32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b & 0x3f), "r"(c & 0x3f)); o[9] = r;
    asm("bfe.s32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b & 0x3f), "r"(c & 0x3f)); o[10] = r;
    asm("bfi.b32 %0, %1, %2, %3, %4;" : "=r"(r) : "r"(a), "r"(b), "r"(c & 0x3f), "r"((c >> 8) & 0x3f)); o[11] = r;
    asm("bmsk.clamp.b32 %0, %1, %2;" : "=r"(r) : "r"(b & 0x3f), "r"(c & 0x3f)); o[12] = r;
    asm("lop3.b32 %0, %1, %2, %3, 0x96;" : "=r"(r) : "r"(a), "r"(b), "r"(c)); o[13] = r;
    asm("lop3.b32 %0, %1, %2, %3, 0xE8;" : "=r"(r) : "r"(a), "r"(b), "r"(c)); o[14] = r;
    asm("bfind.u32 %0, %1;" : "=r"(r) : "r"(a)); o[15] = r;
    asm("bfind.s32 %0, %1;" : "=r"(r) : "r"(a)); o[16] = r;
    asm("bfind.shiftamt.u32 %0, %1;" : "=r"(r) : "r"(a)); o[17] = r;
    o[18] = __dp4a((int)a, (int)b, (int)c);
    o[19] = __dp4a(a, b, c);
}

#define NF 32
__global__ void float_ops(const float *A, const float *B, const float *C, unsigned *out)
{
    int t = threadIdx.x + blockIdx.x * blockDim.x;
    float a = A[t], b = B[t], c = C[t];
    unsigned *o = out + t * NF;
#define F(k, e) o[k] = __float_as_uint(e)
    F(0, a + b);
    F(1, a * b);
    F(2, fmaf(a, b, c));
    F(3, a / b);
    F(4, sqrtf(fabsf(a)));
    F(5, __fadd_rz(a, b));
    F(6, __fadd_rd(a, b));
    F(7, __fadd_ru(a, b));
    F(8, __fmul_rz(a, b));
    F(9, __fmul_rd(a, b));
    F(10, __fmul_ru(a, b));
    F(11, __fmaf_rz(a, b, c));
    F(12, __fdiv_rz(a, b));
    F(13, __fdiv_ru(a, b));
    F(14, __fsqrt_rd(fabsf(a)));
    F(15, __frcp_rn(a));
    F(16, fminf(a, b));
    F(17, fmaxf(a, b));
    F(18, __saturatef(a));
    F(19, copysignf(a, b));
    F(20, truncf(a));
    F(21, floorf(a));
    F(22, ceilf(a));
    F(23, rintf(a));
    o[24] = __float2int_rn(a);
    o[25] = __float2int_rz(a);
    o[26] = __float2int_rd(a);
    o[27] = __float2uint_ru(a);
    o[28] = (unsigned)__float2ll_rz(a * 1e10f);
    F(29, __int2float_rz(__float_as_int(b)));
    F(30, __uint2float_ru(__float_as_uint(c)));
    o[31] = (a < b) | (a <= b) << 1 | (a > b) << 2 | (a >= b) << 3 | (a == b) << 4 | (a != b) << 5 |
            (!(a < b)) << 6 | (!(a >= b)) << 7 | isnan(a) << 8 | isinf(a) << 9;
}

#define ND 16
__global__ void double_ops(const double *A, const double *B, unsigned long long *out)
{
    int t = threadIdx.x + blockIdx.x * blockDim.x;
    double a = A[t], b = B[t];
    unsigned long long *o = out + t * ND;
#define D(k, e) o[k] = __double_as_longlong(e)
    D(0, a + b);
    D(1, a * b);
    D(2, fma(a, b, a));
    D(3, a / b);
    D(4, sqrt(fabs(a)));
    D(5, __dadd_rz(a, b));
    D(6, __dmul_ru(a, b));
    D(7, __ddiv_rd(a, b));
    o[8] = __float_as_uint(__double2float_rn(a));
    o[9] = __float_as_uint(__double2float_rz(a));
    o[10] = __float_as_uint(__double2float_rd(a));
    o[11] = __float_as_uint(__double2float_ru(a));
    o[12] = (unsigned long long)__double2ll_rn(a);
    o[13] = __double2ull_rz(a);
    D(14, __ll2double_rn((long long)__double_as_longlong(b)));
    D(15, fmin(a, b));
}

#define NH 12
__global__ void half_ops(const float *A, const float *B, unsigned *out)
{
    int t = threadIdx.x + blockIdx.x * blockDim.x;
    float a = A[t], b = B[t];
    unsigned *o = out + t * NH;
    __half ha = __float2half_rn(a), hb = __float2half_rn(b);
    o[0] = __half_as_ushort(ha);
    o[1] = __float_as_uint(__half2float(ha));
    o[2] = __half_as_ushort(__hadd(ha, hb));
    o[3] = __half_as_ushort(__hmul(ha, hb));
    o[4] = __half_as_ushort(__hfma(ha, hb, ha));
    o[5] = __half_as_ushort(__hsub(ha, hb));
    __half2 h2 = __floats2half2_rn(a, b);
    o[6] = *(unsigned *)&h2;
    __nv_bfloat16 ba = __float2bfloat16_rn(a);
    o[7] = __bfloat16_as_ushort(ba);
    o[8] = __float_as_uint(__bfloat162float(ba));
    __nv_bfloat162 b2 = __floats2bfloat162_rn(a, b);
    o[9] = *(unsigned *)&b2;
    o[10] = __half_as_ushort(__int2half_rn(__float_as_int(a) >> 16));
    o[11] = __hlt(ha, hb) | __hge(ha, hb) << 1;
}
}
