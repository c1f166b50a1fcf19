/*
 * backend_cpu.c — the CPU device as a backend: the table points at cpudev's
 * functions, generated from calls.def like the table itself.
 */
#include "backend.h"
#include "cpudev.h"

bool rgpu_backend_cpu(struct rgpu_backend *be, const struct cpudev_config *cfg, char *err, size_t errlen)
{
    if (!cpudev_init(cfg, err, errlen))
        return false;
    be->name = "cpu";
    be->kernels_are_functions = true;
#define RGPU_CALL(name, kind, ...) RGPU_IF(RGPU_K(DRIVER, kind))(be->name = cpudev_##name;)
#include "calls.def"
#undef RGPU_CALL
    be->link_add_member = cpudev_link_add_member;
    return true;
}
