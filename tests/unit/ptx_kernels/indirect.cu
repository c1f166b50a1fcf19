// Kernels for test_ptx_indirect.c: calls through function pointers (a
// table of functions in a .global initialiser, a pointer taken with mov,
// per-lane different callees, a recursive callee) and virtual calls (vtables
// are .global arrays of function addresses).
typedef int (*op_t)(int, int);
__device__ __noinline__ int op_add(int a, int b) { return a + b; }
__device__ __noinline__ int op_mul(int a, int b) { return a * b; }
__device__ __noinline__ int op_sub(int a, int b) { return a - b; }
__device__ __noinline__ int op_fact(int a, int b) { return a <= 1 ? b : op_fact(a - 1, b * a); }
__device__ op_t table[4] = {op_add, op_mul, op_sub, op_fact};

// lane t calls table[sel[t]]: divergent callees in one warp
extern "C" __global__ void fn_table(const int *a, const int *sel, int *out)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    op_t f = table[sel[t] & 3];
    out[t] = f(a[t], t);
}

// a pointer chosen in code (mov.u64 %rd, function), passed through memory
__device__ __noinline__ long long twice(long long v) { return 2 * v; }
__device__ __noinline__ long long square(long long v) { return v * v; }
extern "C" __global__ void fn_select(const long long *a, long long *out)
{
    int t = threadIdx.x;
    long long (*f)(long long) = (t % 3 == 0) ? twice : square;
    out[t] = f(a[t]);
}
// a function pointer kept in device memory from one launch to the next
extern "C" __global__ void fn_store(void **slot, int which) { *slot = which ? (void *)square : (void *)twice; }
extern "C" __global__ void fn_call_slot(void *const *slot, const long long *a, long long *out)
{
    long long (*f)(long long) = (long long (*)(long long))*slot;
    out[threadIdx.x] = f(a[threadIdx.x]);
}

struct Shape {
    __device__ virtual int area(int k) const = 0;
    __device__ virtual int sides() const { return 0; }
};
struct Square : Shape {
    int s;
    __device__ Square(int s) : s(s) {}
    __device__ int area(int k) const override { return s * s + k; }
    __device__ int sides() const override { return 4; }
};
struct Triangle : Shape {
    int b, h;
    __device__ Triangle(int b, int h) : b(b), h(h) {}
    __device__ int area(int k) const override { return b * h / 2 - k; }
    __device__ int sides() const override { return 3; }
};
struct Dot : Shape {
    __device__ int area(int k) const override { return k * 100; }
};

extern "C" __global__ void virt(const int *a, int *out)
{
    int t = threadIdx.x;
    Square s(a[t]);
    Triangle tr(a[t], t + 1);
    Dot d;
    const Shape *sh = (t % 3 == 0) ? (const Shape *)&s : (t % 3 == 1) ? (const Shape *)&tr : (const Shape *)&d;
    out[t] = sh->area(t) * 10 + sh->sides();
}
