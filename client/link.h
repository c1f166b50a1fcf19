/*
 * link.h — what module loading needs of the linker (link.c).
 */
#ifndef RGPU_CLIENT_LINK_H
#define RGPU_CLIENT_LINK_H

#include "cuda_api.h"

/* Link the NULL-terminated list of prelinked fatbins of a version-2 fatbin
 * wrapper on the server and call load with the linked image (valid only
 * during the call). An object the device has no code for is left out
 * (libcudadevrt's, which nvcc adds to every such list); a symbol then left
 * unresolved fails the link. */
CUresult rgpu_link_wrapper(const void *const *fatbins, CUresult (*load)(const void *image, void *arg), void *arg);

#endif
