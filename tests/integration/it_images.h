/*
 * it_images.h — the build-time module images of the module/launch tests.
 *
 * tests/integration/modules.cmake compiles kernels/it_kernels.cu with nvcc
 * into one directory (the programs' first argument, or RGPU_IT_KERNEL_DIR):
 *
 *   it_kernels.compute_75.ptx    PTX text, .target sm_75
 *   it_kernels.compute_120.ptx   PTX text, .target sm_120
 *   it_kernels.fatbin            fatbin: compute_75 PTX + compute_120 PTX
 *   it_kernels.sm_90.fatbin      fatbin: only an sm_90 cubin (no PTX)
 *
 * Images are read whole, with one NUL byte appended (PTX text must be
 * NUL-terminated for cuModuleLoadData).
 */
#ifndef RGPU_IT_IMAGES_H
#define RGPU_IT_IMAGES_H

#include "check.h"

#define IT_PTX75 "it_kernels.compute_75.ptx"
#define IT_PTX120 "it_kernels.compute_120.ptx"
#define IT_FATBIN "it_kernels.fatbin"
#define IT_FATBIN_SM90 "it_kernels.sm_90.fatbin"

struct it_image {
    char path[4096];
    unsigned char *data; /* len bytes + a NUL */
    size_t len;
};

static inline const char *it_kernel_dir(int argc, char **argv)
{
    const char *d = argc > 1 ? argv[1] : getenv("RGPU_IT_KERNEL_DIR");
    if (!d || !*d) {
        fprintf(stderr, "FAIL: usage: %s KERNEL_DIR (or set RGPU_IT_KERNEL_DIR)\n", argc > 0 ? argv[0] : "test");
        exit(1);
    }
    return d;
}

/* read dir/name whole; fatal when it cannot */
static inline void it_image_load(struct it_image *img, const char *dir, const char *name)
{
    snprintf(img->path, sizeof img->path, "%s/%s", dir, name);
    FILE *f = fopen(img->path, "rb");
    if (!f) {
        fprintf(stderr, "FAIL: cannot open %s (build the test kernels)\n", img->path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n <= 0) {
        fprintf(stderr, "FAIL: %s is empty\n", img->path);
        exit(1);
    }
    img->data = it_xmalloc((size_t)n + 1);
    if (fread(img->data, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "FAIL: short read of %s\n", img->path);
        exit(1);
    }
    fclose(f);
    img->data[n] = 0;
    img->len = (size_t)n;
}

static inline void it_image_free(struct it_image *img)
{
    free(img->data);
    img->data = NULL;
}

/* the device's compute capability as major*10+minor */
static inline int it_device_cc(CUdevice dev)
{
    int major = 0, minor = 0;
    CHECK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
    CHECK(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
    return major * 10 + minor;
}

static inline int it_dev_attr(CUdevice dev, CUdevice_attribute a)
{
    int v = 0;
    CHECK(cuDeviceGetAttribute(&v, a, dev));
    return v;
}

#endif
