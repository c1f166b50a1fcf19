/*
 * funcattrs.h — the attributes of functions and kernels, asked once per
 * function (kernel and device) and kept (funcattrs.c).
 */
#ifndef RGPU_CLIENT_FUNCATTRS_H
#define RGPU_CLIENT_FUNCATTRS_H

/* Forget every kept attribute: one may have changed (an attribute or cache
 * configuration set, a module or library unloaded, a context destroyed). */
void rgpu_func_attrs_flush(void);

#endif
