/*
 * visible.c — see visible.h.
 */
#include "visible.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as nvidia-smi prints it */
static void uuid_string(const uint8_t u[16], char out[48])
{
    snprintf(out, 48, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
             u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* The ordinal entry e (length n) names, or -1. */
static int resolve(const char *e, size_t n, const struct rgpu_dev_info *devs, int ndev)
{
    if (n == 0)
        return -1;
    if (isdigit((unsigned char)e[0])) {
        long v = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)e[i]) || v > 1000)
                return -1;
            v = v * 10 + (e[i] - '0');
        }
        return v < ndev ? (int)v : -1;
    }
    if (n <= 4 || strncasecmp(e, "GPU-", 4) != 0)
        return -1; /* MIG-... and anything else: not a device here */
    int found = -1;
    for (int d = 0; d < ndev; d++) {
        char s[48];
        uuid_string(devs[d].uuid, s);
        if (n <= strlen(s) && strncasecmp(s, e, n) == 0) {
            if (found >= 0)
                return -1; /* a prefix of two devices names neither */
            found = d;
        }
    }
    return found;
}

int visible_devices(const char *spec, const struct rgpu_dev_info *devs, int ndev, int *order, int max)
{
    int k = 0;
    for (const char *p = spec; *p && k < max;) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        size_t m = n;
        while (m && p[m - 1] == ' ')
            m--;
        int d = resolve(p, m, devs, ndev);
        bool dup = false;
        for (int i = 0; i < k; i++)
            dup |= order[i] == d;
        if (d < 0 || dup)
            break;
        order[k++] = d;
        if (!end)
            break;
        p = end + 1;
    }
    return k;
}
