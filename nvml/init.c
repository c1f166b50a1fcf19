/*
 * init.c — nvmlInit*, nvmlShutdown and the connection (see nvml_client.h).
 *
 * As in NVML, initialisation is counted: the connection opens at the first
 * nvmlInit* and closes at the nvmlShutdown that balances the last one (the
 * server's worker for it then exits). Calls are serialised on the one
 * connection, which is plain request/reply (rgpu_session_call).
 */
#include <pthread.h>
#include <string.h>

#include "nvml_client.h"

/* Lets rgpud refuse to load this library as NVIDIA's NVML. */
RGPU_NVML_API const char rgpu_nvml_marker[] = "rgpu NVML";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned refs;
static bool connected, lost;
static struct rgpu_session S;
static struct nvmlDevice_st devs[16];

nvmlReturn_t rgpu_nvml_ready(void)
{
    pthread_mutex_lock(&lock);
    nvmlReturn_t r = refs ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    pthread_mutex_unlock(&lock);
    return r;
}

const struct rgpu_welcome *rgpu_nvml_welcome(void) { return connected ? &S.welcome : NULL; }

bool rgpu_nvml_wire_dev(nvmlDevice_t *d)
{
    struct nvmlDevice_st *p = *d;
    if (!connected || p < devs || p >= devs + S.welcome.ndev)
        return false;
    *d = (nvmlDevice_t)(uintptr_t)p->index;
    return true;
}

nvmlReturn_t rgpu_nvml_handle(unsigned int index, nvmlDevice_t *device)
{
    if (!connected || index >= (unsigned)S.welcome.ndev)
        return NVML_ERROR_INVALID_ARGUMENT;
    *device = &devs[index];
    return NVML_SUCCESS;
}

const struct rgpu_dev_info *rgpu_nvml_dev(nvmlDevice_t d)
{
    return rgpu_nvml_wire_dev(&d) ? &S.devs[(uintptr_t)d] : NULL;
}

/* flags: NVML_INIT_FLAG_NO_GPUS lets initialisation succeed, with no
 * device, when no server answers; NVML_INIT_FLAG_NO_ATTACH changes nothing
 * (attaching costs nothing here). */
static nvmlReturn_t init(unsigned int flags)
{
    if (flags & ~(unsigned)(NVML_INIT_FLAG_NO_GPUS | NVML_INIT_FLAG_NO_ATTACH))
        return NVML_ERROR_INVALID_ARGUMENT;
    rgpu_log_init("rgpu-nvml");
    pthread_mutex_lock(&lock);
    nvmlReturn_t r = NVML_SUCCESS;
    if (refs == 0) {
        char err[512];
        int result;
        if (rgpu_session_open(&S, 0, &result, err, sizeof err) == 0) {
            connected = true;
            lost = false;
            for (int i = 0; i < S.welcome.ndev; i++)
                devs[i].index = (unsigned)i;
        } else if (flags & NVML_INIT_FLAG_NO_GPUS) {
            rgpu_info("%s; NVML starts without devices", err);
        } else {
            rgpu_err("%s", err);
            r = NVML_ERROR_DRIVER_NOT_LOADED;
        }
    }
    if (r == NVML_SUCCESS)
        refs++;
    pthread_mutex_unlock(&lock);
    return r;
}

RGPU_NVML_API nvmlReturn_t nvmlInit_v2(void) { return init(0); }
RGPU_NVML_API nvmlReturn_t nvmlInit(void) { return init(0); }
RGPU_NVML_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { return init(flags); }

RGPU_NVML_API nvmlReturn_t nvmlShutdown(void)
{
    pthread_mutex_lock(&lock);
    nvmlReturn_t r = refs ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    if (refs && --refs == 0 && connected) {
        rgpu_session_close(&S);
        connected = false;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

nvmlReturn_t rgpu_nvml_remote(enum rgpu_call_id id, void *args)
{
    pthread_mutex_lock(&lock);
    nvmlReturn_t r;
    int32_t res;
    if (!refs)
        r = NVML_ERROR_UNINITIALIZED;
    else if (!connected)
        r = NVML_ERROR_DRIVER_NOT_LOADED; /* initialised with NO_GPUS and no server */
    else if (lost)
        r = NVML_ERROR_GPU_IS_LOST;
    else if (rgpu_session_call(&S, id, args, &res) == 0)
        r = (nvmlReturn_t)res;
    else {
        rgpu_err("lost the connection to rgpud; NVML calls that need it now fail with NVML_ERROR_GPU_IS_LOST");
        lost = true;
        r = NVML_ERROR_GPU_IS_LOST;
    }
    pthread_mutex_unlock(&lock);
    return r;
}
