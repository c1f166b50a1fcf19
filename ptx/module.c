/*
 * module.c — the read-only queries of ptx.h over a decoded module: kernels
 * and their attributes, parameter layout, module variables and the
 * relocation of symbol addresses inside their initialisers.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int ptx_module_kernel_count(const struct ptx_module *m) { return m ? m->nkernels : 0; }

/* kernel handles are filled at parse time, so the module stays immutable */
static const struct ptx_kernel *kernel_handles(const struct ptx_module *m) { return m->khandles; }

const struct ptx_kernel *ptx_module_kernel(const struct ptx_module *m, int i)
{
    if (!m || i < 0 || i >= m->nkernels) return NULL;
    return &kernel_handles(m)[i];
}

const struct ptx_kernel *ptx_module_find_kernel(const struct ptx_module *m, const char *name)
{
    if (!m || !name) return NULL;
    for (int i = 0; i < m->nkernels; i++)
        if (strcmp(m->funcs[m->kernels[i]].name, name) == 0) return &kernel_handles(m)[i];
    return NULL;
}

void ptx_kernel_get_info(const struct ptx_kernel *k, struct ptx_kernel_info *info)
{
    const struct ptx_module *m = k->m;
    const struct func *f = &m->funcs[k->func];
    memset(info, 0, sizeof *info);
    info->name = f->name;
    info->nparams = f->nparams;
    info->param_bytes = f->param_bytes;
    info->static_shared = f->shared_need;
    info->local_per_thread = f->stack_need;
    int regs = f->reg_need;
    info->num_regs = regs > 255 ? 255 : regs < 16 ? 16 : regs;
    memcpy(info->maxntid, f->maxntid, sizeof info->maxntid);
    memcpy(info->reqntid, f->reqntid, sizeof info->reqntid);
    info->minnctapersm = f->minnctapersm;
    memcpy(info->reqnctapercluster, f->reqnctapercluster, sizeof info->reqnctapercluster);
    info->explicitcluster = f->explicitcluster;
    info->ptx_version = m->version;
    info->target_sm = m->target;
}

void ptx_kernel_param(const struct ptx_kernel *k, int i, size_t *offset, size_t *size)
{
    const struct func *f = &k->m->funcs[k->func];
    if (i < 0 || i >= f->nparams) { *offset = 0; *size = 0; return; }
    *offset = f->params[i].offset;
    *size = f->params[i].size;
}

int ptx_module_global_count(const struct ptx_module *m) { return m ? m->nglobals : 0; }

void ptx_module_global(const struct ptx_module *m, int i, struct ptx_global_info *info)
{
    memset(info, 0, sizeof *info);
    if (!m || i < 0 || i >= m->nglobals) return;
    const struct gvar *g = &m->globals[i];
    info->name = g->name;
    info->size = g->size;
    info->align = g->align;
    info->init = g->init;
    info->init_len = g->init_len;
    info->is_const = g->is_const;
    info->is_extern = g->is_extern;
    info->is_managed = g->is_managed;
}

void ptx_module_global_relocate(const struct ptx_module *m, int i, const uint64_t *global_addrs, void *bytes)
{
    if (!m || i < 0 || i >= m->nglobals || !global_addrs || !bytes) return;
    const struct gvar *g = &m->globals[i];
    for (int r = 0; r < g->nrel; r++) {
        uint64_t v = global_addrs[g->rel[r].target] + (uint64_t)g->rel[r].addend;
        memcpy((uint8_t *)bytes + g->rel[r].off, &v, 8);
    }
}
