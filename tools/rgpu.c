/*
 * rgpu.c — the rgpu command line.
 *
 *   rgpu run [--server ADDR] -- CMD [ARG...]   run CMD against rgpu's libcuda.so.1 and
 *                                             libnvidia-ml.so.1
 *   rgpu status [--server ADDR]               show the server and its devices
 *   rgpu bench [--server ADDR]... [--quick] [--max-size SIZE]
 *                                             rgpu against the raw transport (bench.c)
 *
 * `run` puts rgpu's library directory first on LD_LIBRARY_PATH: NVIDIA's
 * runtime (static or shared) loads "libcuda.so.1" with dlopen, and so finds
 * rgpu's driver before any system driver; NVML users (ollama, monitoring
 * tools) load "libnvidia-ml.so.1" from the same directory, or link it. `status` loads that same library
 * and asks it through the CUDA driver API, so it shows exactly what a CUDA
 * program would see.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "cuda_api.h"
#include "rgpu_client.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: rgpu run [--server ADDR] -- COMMAND [ARG...]\n"
               "       rgpu status [--server ADDR]\n"
               "       rgpu bench [--server ADDR]... [--quick] [--max-size SIZE]\n\n"
               "ADDR is unix:/path, shm:/path (same host, shared memory) or tcp:HOST:PORT\n"
               "(default: $RGPU_SERVER, else unix:/run/rgpu/rgpud.sock).\n");
}

/* Where libcuda.so.1 and libnvidia-ml.so.1 are: <dir of this executable>/
 * ../lib/rgpu when installed (a directory of their own, see CMakeLists.txt),
 * ../lib in a build tree. */
static int lib_dir(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0)
        return -1;
    exe[k] = 0;
    char *dir = dirname(exe);
    static const char *const candidates[] = {"../lib/rgpu", "../lib"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char probe[PATH_MAX + 64], real[PATH_MAX];
        snprintf(probe, sizeof probe, "%s/%s/libcuda.so.1", dir, candidates[i]);
        if (access(probe, R_OK) != 0 && i + 1 < sizeof candidates / sizeof candidates[0])
            continue;
        snprintf(out, n, "%s/%s", dir, candidates[i]);
        if (realpath(out, real))
            snprintf(out, n, "%s", real);
        return 0;
    }
    return -1;
}

static int parse_server(int *argc, char ***argv)
{
    if (*argc >= 2 && strcmp((*argv)[0], "--server") == 0) {
        setenv("RGPU_SERVER", (*argv)[1], 1);
        *argc -= 2;
        *argv += 2;
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    parse_server(&argc, &argv);
    if (argc > 0 && strcmp(argv[0], "--") == 0) {
        argc--;
        argv++;
    }
    if (argc == 0) {
        usage(stderr);
        return 2;
    }
    char dir[PATH_MAX], path[2 * PATH_MAX];
    if (lib_dir(dir, sizeof dir)) {
        fprintf(stderr, "rgpu: cannot locate rgpu's library directory\n");
        return 1;
    }
    static const char *const libs[] = {"libcuda.so.1", "libnvidia-ml.so.1"};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, libs[i]);
        if (access(path, R_OK) != 0)
            fprintf(stderr, "rgpu: warning: %s is missing; the program may find another %s\n", path, libs[i]);
    }
    const char *old = getenv("LD_LIBRARY_PATH");
    snprintf(path, sizeof path, "%s%s%s", dir, old && *old ? ":" : "", old ? old : "");
    setenv("LD_LIBRARY_PATH", path, 1);
    execvp(argv[0], argv);
    fprintf(stderr, "rgpu: cannot run %s: %s\n", argv[0], strerror(errno));
    return 127;
}

static int cmd_status(int argc, char **argv)
{
    parse_server(&argc, &argv);
    char dir[PATH_MAX], lib[PATH_MAX + 32];
    if (lib_dir(dir, sizeof dir))
        return 1;
    snprintf(lib, sizeof lib, "%s/libcuda.so.1", dir);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "rgpu: %s\n", dlerror());
        return 1;
    }
#define SYM(name) __typeof__(&name) p_##name = (__typeof__(&name))dlsym(h, #name)
    SYM(cuInit);
    SYM(cuDeviceGetName);
    SYM(cuDeviceTotalMem_v2);
    SYM(cuDeviceGetAttribute);
    SYM(cuDevicePrimaryCtxRetain);
    SYM(cuDevicePrimaryCtxRelease_v2);
    SYM(cuCtxSetCurrent);
    SYM(cuMemGetInfo_v2);
    SYM(rgpu_client_info);
    CUresult r = p_cuInit(0);
    if (r != CUDA_SUCCESS) {
        fprintf(stderr, "rgpu: no server reachable (cuInit returned %d)\n", (int)r);
        return 1;
    }
    struct rgpu_client_info info;
    p_rgpu_client_info(&info);
    printf("server:  %s\nbackend: %s\ndriver:  %d.%d\ndevices: %d\n", info.server, info.backend,
           info.driver_version / 1000, info.driver_version % 1000 / 10, info.ndev);
    for (int i = 0; i < info.ndev; i++) {
        char name[256];
        int major = 0, minor = 0, sms = 0;
        size_t total = 0, free_ = 0, tot2 = 0;
        CUcontext ctx;
        p_cuDeviceGetName(name, sizeof name, i);
        p_cuDeviceTotalMem_v2(&total, i);
        p_cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, i);
        p_cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, i);
        p_cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, i);
        printf("  %d: %s, compute capability %d.%d, %d SMs, %.1f GiB", i, name, major, minor, sms,
               (double)total / (1 << 30));
        if (p_cuDevicePrimaryCtxRetain(&ctx, i) == CUDA_SUCCESS) {
            p_cuCtxSetCurrent(ctx);
            if (p_cuMemGetInfo_v2(&free_, &tot2) == CUDA_SUCCESS)
                printf(", %.1f GiB free", (double)free_ / (1 << 30));
            p_cuCtxSetCurrent(NULL);
            p_cuDevicePrimaryCtxRelease_v2(i);
        }
        printf("\n");
    }
    return 0;
}

static int cmd_bench(int argc, char **argv)
{
    char dir[PATH_MAX];
    if (lib_dir(dir, sizeof dir)) {
        fprintf(stderr, "rgpu: cannot locate rgpu's library directory\n");
        return 1;
    }
    return rgpu_bench(argc, argv, dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "status") == 0)
        return cmd_status(argc - 2, argv + 2);
    if (strcmp(argv[1], "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
