/*
 * fuzz_fatbin.c — the fat binary reader on hostile bytes.
 *
 * rgpud reads the images clients send (fatbins, compressed entries, cubins,
 * PTX): this harness lists the entries of one input, decompresses each, and
 * picks the PTX a device would run, as a module load does. Built for
 * libFuzzer with RGPU_FUZZ=ON (clang); otherwise replay.c's main() runs it
 * over the files it is given.
 */
#include "fatbin.h"
#include "guarded.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct guarded g;
    uint8_t *image = guarded_copy(&g, data, size);
    if (!image)
        return 0;
    char err[256];
    fatbin_classify(image, size);
    const void *span;
    size_t span_len;
    fatbin_span(image, size, &span, &span_len, err, sizeof err);
    struct fatbin_entry *entries = NULL;
    size_t n = 0;
    if (fatbin_parse(image, size, &entries, &n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++) {
            void *out = NULL;
            size_t out_len = 0;
            if (fatbin_extract(&entries[i], &out, &out_len, err, sizeof err) == 0) {
                unsigned major, minor, arch;
                char variant;
                fatbin_ptx_target(out, out_len, &major, &minor, &arch, &variant);
                free(out);
            }
        }
        fatbin_pick_ptx(entries, n, 120);
        fatbin_pick_ptx_emulated(entries, n, 120);
        free(entries);
    }
    guarded_free(&g);
    return 0;
}
