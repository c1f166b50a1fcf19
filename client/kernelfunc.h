/*
 * kernelfunc.h — cuKernelGetFunction's answers, kept (kernelfunc.c).
 */
#ifndef RGPU_CLIENT_KERNELFUNC_H
#define RGPU_CLIENT_KERNELFUNC_H

/* Forget them all: a context or a library went. */
void rgpu_kernel_functions_flush(void);

#endif
