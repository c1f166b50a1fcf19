/*
 * bench.h — `rgpu bench`: rgpu against the raw transport it runs on (see
 * bench.c and docs/PERFORMANCE.md).
 */
#ifndef RGPU_TOOLS_BENCH_H
#define RGPU_TOOLS_BENCH_H

/* argv: the arguments after "bench"; libdir: the directory holding rgpu's
 * libcuda.so.1. Returns the process exit status: 0 when every measurement
 * ran (the targets are informational), 1 when one failed, 2 on usage errors. */
int rgpu_bench(int argc, char **argv, const char *libdir);

#endif
