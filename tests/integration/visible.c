/*
 * visible.c — CUDA_VISIBLE_DEVICES, which the driver honours: each case runs
 * in a fresh child process (the variable is read when the driver starts)
 * and checks how many devices cuInit/cuDeviceGetCount report.
 */
#include "check.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Device count seen with CUDA_VISIBLE_DEVICES=spec (NULL: unset); 0 when
 * cuInit reports CUDA_ERROR_NO_DEVICE; -1 on any other outcome. */
static int count_with(const char *spec)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (spec)
            setenv("CUDA_VISIBLE_DEVICES", spec, 1);
        else
            unsetenv("CUDA_VISIBLE_DEVICES");
        CUresult r = cuInit(0);
        if (r == CUDA_ERROR_NO_DEVICE) /* as the driver answers when none is visible */
            _exit(0);
        int n = -1;
        if (r != CUDA_SUCCESS || cuDeviceGetCount(&n) != CUDA_SUCCESS)
            _exit(98);
        _exit(n);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    int code = WEXITSTATUS(st);
    return code >= 98 ? -1 : code;
}

/* The device's UUID as "GPU-xxxxxxxx-...", from a child (this process must
 * not start the driver before the cases). */
static void uuid_of_device0(char *out, size_t n)
{
    int fd[2];
    out[0] = 0;
    if (pipe(fd))
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        CUuuid u;
        CUdevice d;
        char s[64] = "";
        if (cuInit(0) == CUDA_SUCCESS && cuDeviceGet(&d, 0) == CUDA_SUCCESS && cuDeviceGetUuid_v2(&u, d) == CUDA_SUCCESS) {
            const unsigned char *b = (const unsigned char *)u.bytes;
            snprintf(s, sizeof s, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                     b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        }
        ssize_t w = write(fd[1], s, strlen(s) + 1);
        _exit(w > 0 ? 0 : 1);
    }
    close(fd[1]);
    ssize_t r = read(fd[0], out, n - 1);
    out[r > 0 ? r : 0] = 0;
    close(fd[0]);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int all = count_with(NULL);
    ASSERT_TRUE(all >= 1);
    char uuid[64];
    uuid_of_device0(uuid, sizeof uuid);
    ASSERT_TRUE(strncmp(uuid, "GPU-", 4) == 0);
    char prefix[16], upper[64], list[160];
    snprintf(prefix, sizeof prefix, "%.12s", uuid); /* "GPU-" and 8 hex digits */
    snprintf(upper, sizeof upper, "%s", uuid);
    for (char *c = upper + 4; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
    printf("visible: %d device(s) without CUDA_VISIBLE_DEVICES; device 0 is %s\n", all, uuid);

    EXPECT_EQ(count_with("0"), 1);
    EXPECT_EQ(count_with(uuid), 1);
    EXPECT_EQ(count_with(prefix), 1);
    EXPECT_EQ(count_with(upper), 1);      /* hex digits in either case */
    EXPECT_EQ(count_with(" 0 "), 1);
    EXPECT_EQ(count_with(""), 0);         /* set but empty: no device */
    EXPECT_EQ(count_with("-1"), 0);       /* the usual way to hide every GPU */
    EXPECT_EQ(count_with("GPU-nothing"), 0);
    EXPECT_EQ(count_with("MIG-0"), 0);
    snprintf(list, sizeof list, "%d", all); /* one past the last ordinal */
    EXPECT_EQ(count_with(list), 0);
    snprintf(list, sizeof list, "0,%d,1", all); /* the list ends at the first invalid entry */
    EXPECT_EQ(count_with(list), 1);
    EXPECT_EQ(count_with("0,0"), 1);      /* a repeat ends it too */
    TEST_DONE();
}
