// printf.cu — device printf reaches this process's stdout, complete, before
// the synchronisation that covers the kernel returns.
#include "cudart_check.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

__global__ void hello(int tag)
{
    printf("hello from block %d thread %d tag %d value %.2f\n", blockIdx.x, threadIdx.x, tag, threadIdx.x * 0.5);
}

int main()
{
    char path[] = "/tmp/rgpu-printf.XXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0, "mkstemp");
    unlink(path); // nothing left behind, also when an expectation fails
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1); // the device's text lands in the file

    hello<<<2, 4>>>(42);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());

    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    std::string text;
    char buf[4096];
    lseek(fd, 0, SEEK_SET);
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
        text.append(buf, (size_t)n);
    close(fd);

    int lines = 0;
    for (char c : text)
        lines += c == '\n';
    EXPECT(lines == 8, "expected 8 lines of device printf, got %d:\n%s", lines, text.c_str());
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 4; t++) {
            char want[128];
            snprintf(want, sizeof want, "hello from block %d thread %d tag 42 value %.2f\n", b, t, t * 0.5);
            EXPECT(text.find(want) != std::string::npos, "missing line: %s", want);
        }
    return ct_done("cudart printf");
}
