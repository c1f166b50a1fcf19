/*
 * fatbin.h — the code images a CUDA driver is handed (cuModuleLoadData,
 * cuModuleLoadFatBinary, cuLibraryLoadData): recognise the image, find its
 * extent, list the entries of a fat binary, decompress one, and choose the
 * PTX that a device of a given compute capability can run.
 *
 * Image forms (fatbin_classify):
 *   wrapper  __fatBinC_Wrapper_t, 24 bytes: {u32 magic 0x466243b1; u32 version
 *            1|2; const void *data (the fatbin); const void *filename_or_fatbins}.
 *            cudart 13 passes this to cuLibraryLoadData. Version 2 (device-linked,
 *            -rdc) also points at prelinked per-TU fatbins; the driver loads only
 *            `data`, and so do we.
 *   fatbin   16-byte header {u32 magic 0xba55ed50; u16 version 1; u16 header_size
 *            16; u64 fat_size}, then entries filling fat_size bytes (see fatbin.c).
 *   ELF      a cubin ("\x7fELF", 64-bit little endian).
 *   PTX      NUL-terminated text: optional whitespace and comments, then `.version`.
 *   archive  "!<arch>\n" (a static library; recognised, not parsed).
 *
 * Trust. A driver receives a bare pointer. Where the caller knows how many
 * bytes are readable it passes that count, and every offset and size read from
 * the image is checked against it (no read past the end, no overflow, no
 * allocation from a size that was not checked against FATBIN_MAX_SIZE). Where it
 * does not (FATBIN_LEN_UNKNOWN: an image in this process's own memory, as in the
 * client driver), the image's own headers bound every read: the fatbin header's
 * header_size + fat_size, the ELF program and section header tables, the PTX
 * text's NUL. Only then is a wrapper's data pointer followed: an image received
 * from elsewhere (the server) is parsed with its known length, and a wrapper in
 * it is rejected, never dereferenced.
 *
 * Errors: functions return 0 or -1 and write a reason into err (errlen bytes;
 * err may be NULL). Nothing here asserts on, or logs, image contents.
 */
#ifndef RGPU_FATBIN_H
#define RGPU_FATBIN_H

#include <stddef.h>
#include <stdint.h>

#define FATBIN_WRAPPER_MAGIC 0x466243b1u
#define FATBIN_MAGIC 0xba55ed50u
#define FATBIN_LEN_UNKNOWN SIZE_MAX        /* max_len/len: bounded by the image's own headers */
#define FATBIN_MAX_SIZE ((size_t)1 << 30)  /* cap on an image span and on a decompressed entry */

enum fatbin_image {
    FATBIN_IMAGE_UNKNOWN = 0,
    FATBIN_IMAGE_WRAPPER, /* __fatBinC_Wrapper_t */
    FATBIN_IMAGE_FATBIN,  /* fatbin header, magic 0xba55ed50 */
    FATBIN_IMAGE_ELF,     /* cubin */
    FATBIN_IMAGE_PTX,     /* NUL-terminated PTX text */
    FATBIN_IMAGE_ARCHIVE, /* "!<arch>\n": recognised only */
};

/* Entry kinds (entry header offset 0). Others exist (e.g. 0x10, 0x40 in some
 * libraries) and are listed with their raw number; nothing here uses them. */
enum fatbin_kind {
    FATBIN_KIND_PTX = 1,  /* PTX text */
    FATBIN_KIND_ELF = 2,  /* cubin (SASS) */
    FATBIN_KIND_NVVM = 8, /* LTO IR (code=lto_XY), possibly obfuscated */
};

/* Entry header flags (offset 40), as nvcc 13.0 / cuobjdump use them. */
#define FATBIN_FLAG_64BIT 0x1ull             /* compile_size = 64bit */
#define FATBIN_FLAG_DEBUG 0x2ull             /* -G: "has debug info" */
#define FATBIN_FLAG_LINUX 0x10ull            /* host = linux */
#define FATBIN_FLAG_LZ4 0x2000ull            /* payload is one raw LZ4 block */
#define FATBIN_FLAG_ZSTD 0x8000ull           /* payload is a zstd frame */
#define FATBIN_FLAG_ARCH_SPECIFIC 0x100000ull   /* sm_XYa / compute_XYa */
#define FATBIN_FLAG_FAMILY_SPECIFIC 0x200000ull /* sm_XYf / compute_XYf */

enum fatbin_compression { FATBIN_COMPRESS_NONE = 0, FATBIN_COMPRESS_LZ4, FATBIN_COMPRESS_ZSTD };

/* One code image. Pointers point into the parsed image, which must outlive the
 * entry; strings are not NUL-terminated. */
struct fatbin_entry {
    unsigned kind;                       /* enum fatbin_kind, or another raw kind */
    unsigned arch;                       /* SM / compute number: 75, 90, 120; 0 if unknown */
    char variant;                        /* 0, 'a' (arch-specific) or 'f' (family-specific) */
    enum fatbin_compression compression; /* from flags */
    uint64_t flags;                      /* raw FATBIN_FLAG_* bits */
    unsigned major, minor;               /* PTX: ISA version (9.0); ELF: code version (1.8) */
    const void *payload;                 /* the stored (maybe compressed) bytes */
    size_t payload_size;                 /* compressed: exact byte count; else stored bytes,
                                            which may end in padding NULs */
    uint64_t size;                       /* compressed: declared uncompressed size (PTX: with
                                            its NUL); else payload_size */
    const char *name;                    /* identifier (source file; -G, -lineinfo) or NULL */
    size_t name_len;
    const char *options;                 /* PTX: ptxas options, e.g. " -g ..." or
                                            "--compile-only"; NVVM: nvvm options; other
                                            kinds: opaque bytes. NULL if none */
    size_t options_len;
    size_t offset;                       /* of the entry header in the fatbin; 0 for a bare
                                            ELF or PTX image */
};

/* Which form the image at `image` has, reading at most max_len bytes (and, for
 * PTX, nothing past its NUL). Returns an enum fatbin_image. */
int fatbin_classify(const void *image, size_t max_len);

/* Find the bytes that fully describe an image: a fatbin (through a wrapper's
 * data pointer), a cubin, or PTX text with its NUL. The result never exceeds
 * max_len nor FATBIN_MAX_SIZE. This is what a client ships to a server, which
 * then parses it with the length known. Wrappers are followed only when
 * max_len is FATBIN_LEN_UNKNOWN (the image is in this process). */
int fatbin_span(const void *image, size_t max_len, const void **data, size_t *len, char *err,
                size_t errlen);

/* List the entries of an image into a malloc'd array (free() it; *entries is
 * NULL when *n is 0). A fatbin yields its entries in order; a bare cubin or
 * PTX text yields one entry describing it. len is the bytes readable at image,
 * or FATBIN_LEN_UNKNOWN (then fatbin_span bounds it first). Trailing bytes
 * after the fatbin are ignored. */
int fatbin_parse(const void *image, size_t len, struct fatbin_entry **entries, size_t *n,
                 char *err, size_t errlen);

/* Decompress (or copy) an entry into a malloc'd buffer, always followed by a
 * NUL that *out_len does not count. For PTX *out_len is the text length (no
 * trailing NULs), so the text is byte-identical to what `cuobjdump -xptx`
 * writes. The declared size must be within FATBIN_MAX_SIZE and the decompressor
 * must produce exactly that many bytes. */
int fatbin_extract(const struct fatbin_entry *e, void **out, size_t *out_len, char *err,
                   size_t errlen);

/* The PTX entry a device of compute capability cc (major*10 + minor, e.g. 120)
 * can JIT: the highest PTX arch <= cc (compute_XY PTX runs on any later
 * device); arch- and family-specific PTX (compute_90a, compute_100f) is never
 * chosen. The first of equal candidates wins. NULL if none: the driver then
 * returns CUDA_ERROR_NO_BINARY_FOR_GPU. */
const struct fatbin_entry *fatbin_pick_ptx(const struct fatbin_entry *entries, size_t n,
                                           unsigned cc);

/* The PTX an emulator of capability cc runs: fatbin_pick_ptx's choice, else
 * the highest family-specific PTX (compute_XYf) with XY <= cc, else the
 * highest arch-specific PTX (compute_XYa) with XY <= cc. Those restrictions
 * protect hardware features; an emulator runs whatever instructions it
 * implements, whatever the target (and refuses the others when it parses the
 * module). NVIDIA's libraries ship some kernels only as family PTX (cuDNN 9:
 * compute_120f next to SASS), and ggml's CMake turns every 12x architecture
 * into 12xa, so a build for 120 carries compute_120a PTX only. */
const struct fatbin_entry *fatbin_pick_ptx_emulated(const struct fatbin_entry *entries, size_t n,
                                                    unsigned cc);

/* Read the `.version X.Y` and `.target sm_XY[a|f]` that open a PTX module
 * (after whitespace and comments), within len bytes and before any NUL.
 * Any out-pointer may be NULL. 0 on success, -1 if they are not there. */
int fatbin_ptx_target(const char *ptx, size_t len, unsigned *major, unsigned *minor,
                      unsigned *arch, char *variant);

const char *fatbin_image_name(int image); /* "wrapper", "fatbin", "ELF", ... */
const char *fatbin_kind_name(unsigned kind); /* "PTX", "ELF", "NVVM", "kind?" */

#endif
