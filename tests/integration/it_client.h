/*
 * it_client.h — what rgpu's client counts, for tests that check a call cost
 * no round trip. rgpu_client_info is looked up at run time: the same program
 * runs natively (tests/gpu/run), where there is none and nothing is counted.
 */
#ifndef RGPU_IT_CLIENT_H
#define RGPU_IT_CLIENT_H

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>

#include "rgpu_client.h"

typedef int (*it_client_info_fn)(struct rgpu_client_info *);

static inline it_client_info_fn it_client_info(void)
{
    static it_client_info_fn info;
    static bool looked;
    if (!looked) {
        info = (it_client_info_fn)dlsym(RTLD_DEFAULT, "rgpu_client_info");
        looked = true;
    }
    return info;
}

/* Whether this runs through rgpu (which counts its round trips). */
static inline bool round_trips_known(void) { return it_client_info() != NULL; }

/* Requests that waited for a reply so far; 0 without rgpu (native CUDA). */
static inline uint32_t round_trips(void)
{
    struct rgpu_client_info i;
    return round_trips_known() && it_client_info()(&i) == 0 ? i.round_trips : 0;
}

#endif
