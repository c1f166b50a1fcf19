/*
 * proto.h — the rgpu wire protocol: framing, message types, handshake.
 *
 * Every message is a fixed 48-byte header, then args_len bytes of encoded
 * arguments, then bulk_len bytes of bulk payload (copy data). All integers
 * are little-endian; rgpu only builds on little-endian hosts (checked below).
 *
 * Client -> server: HELLO (once), AUTH (once, if challenged), REQUEST (a
 *                   call), CALLBACK_DONE.
 * Server -> client: CHALLENGE (once, if it holds a token: auth.h),
 *                   WELCOME (once), REPLY (to a REQUEST without NO_REPLY),
 *                   DATA (device->host bytes of an async copy, tagged with
 *                   the seq of the request that asked for them),
 *                   CALLBACK (run a host function now; answer CALLBACK_DONE),
 *                   PRINT (device printf output, written to the client's stdout
 *                   before any synchronisation covering the kernel returns).
 * A receiver that sees a bad magic, an unknown type, or a length over its
 * limits closes the connection: framing is lost and cannot be recovered.
 */
#ifndef RGPU_WIRE_PROTO_H
#define RGPU_WIRE_PROTO_H

#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "rgpu's wire format is little-endian; big-endian hosts are not supported"
#endif

#define RGPU_MAGIC 0x55504752u /* "RGPU" */
/* HELLO and WELCOME begin with the protocol version in every version, so
 * that either side can tell a peer of another version so; both also carry
 * rgpu_calls_fingerprint() (calls.h), which changes with any row of
 * calls.def or the size of its arguments: two builds that differ there
 * would read each other's requests as other calls. */
#define RGPU_PROTO_VERSION 5u /* 4: module images named by SHA-256 (imagehash.h); 5: CHALLENGE/AUTH */
#define RGPU_MAX_HANDSHAKE_LEN 4096u /* HELLO or WELCOME arguments of any version */
#define RGPU_MAX_ARGS_LEN (1u << 20)         /* encoded arguments of one message */
#define RGPU_MAX_BULK_LEN (1ull << 40)       /* bulk payload of one message */

enum rgpu_msg_type {
    RGPU_MSG_HELLO = 1,
    RGPU_MSG_WELCOME = 2,
    RGPU_MSG_REQUEST = 3,
    RGPU_MSG_REPLY = 4,
    RGPU_MSG_DATA = 5,
    RGPU_MSG_CALLBACK = 6,
    RGPU_MSG_CALLBACK_DONE = 7,
    RGPU_MSG_PRINT = 8, /* server -> client: device printf text (bulk), for the client's stdout */
    RGPU_MSG_CHALLENGE = 9, /* server -> client, after HELLO: struct rgpu_challenge (auth.h) */
    RGPU_MSG_AUTH = 10,     /* client -> server: struct rgpu_auth */
};

#define RGPU_F_NO_REPLY 0x1u /* REQUEST: the client does not wait for a reply */

struct rgpu_hdr {
    uint32_t magic;
    uint16_t type;     /* enum rgpu_msg_type */
    uint16_t call;     /* REQUEST/REPLY: call id (enum rgpu_call_id) */
    uint32_t flags;    /* RGPU_F_* */
    uint32_t seq;      /* REQUEST: chosen by the client; REPLY/DATA: echoed */
    uint32_t tid;      /* REQUEST: client thread (per-thread default stream) */
    int32_t result;    /* REPLY/DATA: CUresult */
    uint64_t ctx;      /* REQUEST: the caller's current context, 0 if none */
    uint32_t args_len; /* bytes of encoded arguments that follow */
    uint32_t reserved;
    uint64_t bulk_len; /* bytes of bulk payload after the arguments */
};
_Static_assert(sizeof(struct rgpu_hdr) == 48, "wire header layout");

/* HELLO arguments (client -> server) */
struct rgpu_hello {
    uint32_t proto_version;
    uint32_t pid;
    uint64_t caps; /* RGPU_HELLO_* */
    char host[64];
    /* with RGPU_HELLO_VISIBLE: the client's CUDA_VISIBLE_DEVICES, which the
     * driver honours (the server applies it before initialising its backend) */
    char visible_devices[128];
    uint64_t calls_fingerprint;
};
#define RGPU_HELLO_VISIBLE 1ull

/* CHALLENGE and AUTH arguments (auth.h) */
struct rgpu_challenge {
    uint8_t nonce[32];
};
struct rgpu_auth {
    uint8_t mac[32]; /* HMAC-SHA256 of the challenge and the HELLO under the shared secret */
};

/* WELCOME arguments (server -> client), followed by ndev rgpu_dev_info */
struct rgpu_welcome {
    uint32_t proto_version;
    int32_t driver_version;
    uint32_t worker_pid;
    int32_t ndev;
    uint64_t caps; /* reserved, 0 */
    char backend[16];
    uint64_t calls_fingerprint;
};

#define RGPU_NATTR 160 /* > CU_DEVICE_ATTRIBUTE_MAX of CUDA 13.0; checked in calls.c */

struct rgpu_dev_info {
    char name[256];
    char pci_bus_id[32];
    uint8_t uuid[16];
    uint64_t total_mem;
    int32_t attr[RGPU_NATTR];     /* value of attribute i */
    int32_t attr_err[RGPU_NATTR]; /* CUresult the backend gave for attribute i */
};

/* An image (fatbin, cubin or PTX) named by its content: the first 128 bits of
 * its bytes' SHA-256 (imagehash.h). */
struct rgpu_image_ref {
    uint64_t hash[2];
    uint64_t size;
};

/* A link option on the wire (rgpu_link): a CUjit_option whose value is a
 * number, not a pointer (optimisation level, target, debug and line info,
 * verbosity, register limit...). */
struct rgpu_link_option {
    uint32_t option;
    uint32_t reserved;
    uint64_t value;
};

/* A link input on the wire (rgpu_link): this header, name_len bytes of name
 * (no NUL), then size bytes of data, the next record right after. */
/* An archive member (libcudadevrt's object among the prelinked objects of a
 * fatbin wrapper): linked only when it defines a symbol the other inputs
 * reference, as nvlink does with a library's objects (where the backend
 * knows that notion: the CPU device), and left out when the device has no
 * code for it. */
#define RGPU_LINK_OPTIONAL 0x1u
struct rgpu_link_input {
    uint32_t type;     /* CUjitInputType */
    uint32_t flags;    /* RGPU_LINK_* */
    uint32_t name_len;
    uint32_t reserved;
    uint64_t size;
};

/* A launch configuration on the wire. */
struct rgpu_launch_cfg {
    uint32_t grid[3], block[3];
    uint32_t shared_bytes;
    uint32_t reserved;
};

/* What the client keeps about a function (rgpu_func_info), asked once: its
 * name and parameter layout travel as bulk (struct rgpu_param_slot each). */
struct rgpu_func_summary {
    int32_t max_threads;        /* CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK */
    int32_t max_dynamic_shared; /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
    uint32_t nparams;           /* all of them, even beyond the slots asked for */
    uint32_t reserved;
};
struct rgpu_param_slot {
    uint64_t offset, size;
};

/* Every attribute of a function (rgpu_func_attrs) or of a kernel on a device
 * (rgpu_kernel_attrs), each with the result of asking it alone. */
#define RGPU_MAX_FUNC_ATTRS 32 /* > CU_FUNC_ATTRIBUTE_MAX; checked in calls.c */
struct rgpu_func_attrs {
    int32_t value[RGPU_MAX_FUNC_ATTRS];
    int32_t result[RGPU_MAX_FUNC_ATTRS];
};

/* The state of a stream's capture (rgpu_capture_info): what
 * cuStreamGetCaptureInfo_v3 reports; the dependencies travel as bulk. */
struct rgpu_capture_state {
    uint32_t status;    /* CUstreamCaptureStatus */
    uint32_t reserved;
    uint64_t id;
    uint64_t graph;     /* CUgraph */
    uint64_t ndeps;     /* all of them, even past what was asked for */
};

/* CALLBACK arguments (server -> client) and CALLBACK_DONE (client -> server) */
struct rgpu_callback {
    uint64_t id;        /* server's token, echoed in CALLBACK_DONE */
    uint64_t fn;        /* client function address, as sent with cuLaunchHostFunc */
    uint64_t user_data; /* client pointer, as sent */
};

#endif
