// rdc_b.cu — the second translation unit of the rdc program (see rdc_a.cu):
// a __device__ variable, a __device__ function and a kernel that rdc_a.cu
// uses, resolved only by the link of relocatable device code.
__device__ int rdc_bias = 7;

__device__ int rdc_scale(int x)
{
    return x * 3 + rdc_bias;
}

__global__ void rdc_fill(int *out, int n, int v)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = v * i - rdc_bias;
}
