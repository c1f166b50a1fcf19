/*
 * integrity.h — the answer to cudart's INTEGRITY_CHECK export table, as a
 * pure function of its inputs (exports.c gathers them; the unit test feeds
 * known ones).
 *
 * NVIDIA's runtime calls the table's slot 1 three times per copy, with
 * version = its runtime version + 0, 1 and 2, and compares the result with
 * its own computation; a mismatch makes every runtime call fail with
 * cudaErrorSoftwareValidityNotEstablished (103). See
 * shared/reference/cuda-driver-interface.md, section 3.6.
 */
#ifndef RGPU_CLIENT_INTEGRITY_H
#define RGPU_CLIENT_INTEGRITY_H

#include <stdint.h>

/* What the runtime hashes ("Pass3Input"), in this exact memory layout. */
struct rgpu_integrity_input {
    uint32_t driver_version;  /* what cuDriverGetVersion returned */
    uint32_t version;         /* the slot's first argument */
    uint32_t pid;             /* getpid() */
    uint32_t thread;          /* (uint32_t)pthread_self() of the caller */
    const void *cudart_table; /* the CUDART_INTERFACE table as handed out */
    const void *integrity_table;
    const void *fn;           /* the integrity table's slot 1 */
    uint64_t unix_seconds;    /* the slot's second argument */
};

/* One record per device, in ordinal order, as cuDeviceGetUuid and
 * cuDeviceGetAttribute(PCI_DOMAIN_ID, PCI_BUS_ID, PCI_DEVICE_ID) report it. */
struct rgpu_integrity_device {
    uint8_t uuid[16];
    int32_t pci_domain;
    int32_t pci_bus;
    int32_t pci_device;
};

_Static_assert(sizeof(struct rgpu_integrity_input) == 16 + 3 * sizeof(void *) + 8,
               "Pass3Input must have no padding");
_Static_assert(sizeof(struct rgpu_integrity_device) == 28, "device record must have no padding");

/* Versions ending in 0 and 1 get fixed constants; the others the keyed hash. */
void rgpu_integrity_result(const struct rgpu_integrity_input *in, const struct rgpu_integrity_device *devs,
                           int ndev, uint64_t result[2]);

#endif
