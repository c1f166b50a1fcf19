#!/usr/bin/env python3
"""gen_driver_tables.py -- generate client/driver_tables.inc from the CUDA toolkit.

Inputs (read-only, from the installed toolkit):
  * cudaTypedefs.h and, where present, cudaProfilerTypedefs.h, cudaGLTypedefs.h,
    cudaEGLTypedefs.h, cudaVDPAUTypedefs.h: one PFN_<name>_v<version>[_ptds|_ptsz]
    typedef per ABI variant of every driver API;
  * the dynamic symbols of the toolkit's stub driver (nm -D --defined-only
    stubs/libcuda.so): the real exported names of those variants;
  * cuda.h: CUDA_VERSION and enum cudaError_enum (the CUresult values).

Output: an X-macro file with these sections (see the header it writes):
RGPU_PROC_API / RGPU_PROC_VARIANT[_PT] (the cuGetProcAddress table),
RGPU_NOT_PROVIDED (graphics interop a headless remote driver lacks),
RGPU_UNSUPPORTED (the weak fallback stubs) and RGPU_ERROR (CUresult names and
strings).

The mapping rule (shared/reference/cuda-driver-interface.md, section 1): the
plain typedefs of a name, sorted by version, map to name, name_v2, name_v3...;
a _ptds/_ptsz typedef of version V maps to the newest plain variant with
version <= V plus the suffix. Every symbol so derived must be exported by the
stub driver and every stub export must be derived: anything else stops the
generator with a message, because a wrong table would hand cudart a function
with the wrong ABI.

Standard library only; the output is a pure function of the inputs (no dates,
no paths), so a CI check can regenerate and diff it (--check).
"""

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
import textwrap

SKIP = 77  # ctest SKIP_RETURN_CODE: toolkit inputs absent

TYPEDEF_HEADERS = [  # (file, required); cudaTypedefs.h first: it names most APIs
    ("cudaTypedefs.h", True),
    ("cudaProfilerTypedefs.h", False),
    ("cudaGLTypedefs.h", False),
    ("cudaEGLTypedefs.h", False),
    ("cudaVDPAUTypedefs.h", False),
]

# Interop headers: every API they declare needs a local graphics stack.
GRAPHICS_HEADERS = {"cudaGLTypedefs.h", "cudaEGLTypedefs.h", "cudaVDPAUTypedefs.h"}

# Graphics interop by name (also catches D3D/DX/WGL names that some toolkits
# declare in headers other than the ones above). A headless remote driver has
# no GL/EGL/VDPAU/Direct3D: these are answered SYMBOL_NOT_FOUND and are not
# exported at all, which cudart tolerates (reference, Appendix A).
GRAPHICS_NAME_RE = re.compile(
    r"^cu(GL|GraphicsGL|EGL|GraphicsEGL|VDPAU|GraphicsVDPAU|WGL|D3D|GraphicsD3D|GraphicsDX)"
    r"|^cuGraphicsResourceGetMappedEglFrame$|^cuEventCreateFromEGLSync$"
)

# Defined by hand in client/ files owned together with this table; they get no
# weak fallback (a weak and a strong definition in one file would not link).
SELF_DEFINED = {
    "cuGetProcAddress": "procaddr.c",
    "cuGetProcAddress_v2": "procaddr.c",
    "cuGetErrorName": "errors.c",
    "cuGetErrorString": "errors.c",
}

# Stub exports that no typedef derives, each with the reason it is fine.
# Empty for CUDA 13.0; a new toolkit that needs an entry fails until one is
# added here, after someone has checked that the export is really unversioned.
EXPORT_ONLY = {}

# cuGetErrorString texts. The real driver's table could not be read (no real
# libcuda was available), so these are libcudart 13.0's cudaGetErrorString()
# texts for the runtime error with the same number; since CUDA 10/11 the
# runtime numbers its errors after the driver's CUresult values and the two
# libraries print the same phrases. CUDA_ERROR_CONTEXT_ALREADY_CURRENT (202)
# has no runtime twin: its text is the driver's historical one. Codes missing
# here fall back to the first sentence of their cuda.h doc comment and are
# listed in the summary.
ERROR_STRINGS = {
    "CUDA_SUCCESS": "no error",
    "CUDA_ERROR_INVALID_VALUE": "invalid argument",
    "CUDA_ERROR_OUT_OF_MEMORY": "out of memory",
    "CUDA_ERROR_NOT_INITIALIZED": "initialization error",
    "CUDA_ERROR_DEINITIALIZED": "driver shutting down",
    "CUDA_ERROR_PROFILER_DISABLED": "profiler disabled while using external profiling tool",
    "CUDA_ERROR_PROFILER_NOT_INITIALIZED": "profiler not initialized: call cudaProfilerInitialize()",
    "CUDA_ERROR_PROFILER_ALREADY_STARTED": "profiler already started",
    "CUDA_ERROR_PROFILER_ALREADY_STOPPED": "profiler already stopped",
    "CUDA_ERROR_STUB_LIBRARY": "CUDA driver is a stub library",
    "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER": "API call is not supported in the installed CUDA driver",
    "CUDA_ERROR_DEVICE_UNAVAILABLE": "CUDA-capable device(s) is/are busy or unavailable",
    "CUDA_ERROR_NO_DEVICE": "no CUDA-capable device is detected",
    "CUDA_ERROR_INVALID_DEVICE": "invalid device ordinal",
    "CUDA_ERROR_DEVICE_NOT_LICENSED": "device doesn't have valid Grid license",
    "CUDA_ERROR_INVALID_IMAGE": "device kernel image is invalid",
    "CUDA_ERROR_INVALID_CONTEXT": "invalid device context",
    "CUDA_ERROR_CONTEXT_ALREADY_CURRENT": "context already current",
    "CUDA_ERROR_MAP_FAILED": "mapping of buffer object failed",
    "CUDA_ERROR_UNMAP_FAILED": "unmapping of buffer object failed",
    "CUDA_ERROR_ARRAY_IS_MAPPED": "array is mapped",
    "CUDA_ERROR_ALREADY_MAPPED": "resource already mapped",
    "CUDA_ERROR_NO_BINARY_FOR_GPU": "no kernel image is available for execution on the device",
    "CUDA_ERROR_ALREADY_ACQUIRED": "resource already acquired",
    "CUDA_ERROR_NOT_MAPPED": "resource not mapped",
    "CUDA_ERROR_NOT_MAPPED_AS_ARRAY": "resource not mapped as array",
    "CUDA_ERROR_NOT_MAPPED_AS_POINTER": "resource not mapped as pointer",
    "CUDA_ERROR_ECC_UNCORRECTABLE": "uncorrectable ECC error encountered",
    "CUDA_ERROR_UNSUPPORTED_LIMIT": "limit is not supported on this architecture",
    "CUDA_ERROR_CONTEXT_ALREADY_IN_USE": "exclusive-thread device already in use by a different thread",
    "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED": "peer access is not supported between these two devices",
    "CUDA_ERROR_INVALID_PTX": "a PTX JIT compilation failed",
    "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT": "invalid OpenGL or DirectX context",
    "CUDA_ERROR_NVLINK_UNCORRECTABLE": "uncorrectable NVLink error detected during the execution",
    "CUDA_ERROR_JIT_COMPILER_NOT_FOUND": "PTX JIT compiler library not found",
    "CUDA_ERROR_UNSUPPORTED_PTX_VERSION": "the provided PTX was compiled with an unsupported toolchain.",
    "CUDA_ERROR_JIT_COMPILATION_DISABLED": "PTX JIT compilation was disabled",
    "CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY": "the provided execution affinity is not supported",
    "CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC": "the provided PTX contains unsupported call to cudaDeviceSynchronize",
    "CUDA_ERROR_CONTAINED": "Invalid access of peer GPU memory over nvlink or a hardware error",
    "CUDA_ERROR_INVALID_SOURCE": "device kernel image is invalid",
    "CUDA_ERROR_FILE_NOT_FOUND": "file not found",
    "CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND": "shared object symbol not found",
    "CUDA_ERROR_SHARED_OBJECT_INIT_FAILED": "shared object initialization failed",
    "CUDA_ERROR_OPERATING_SYSTEM": "OS call failed or operation not supported on this OS",
    "CUDA_ERROR_INVALID_HANDLE": "invalid resource handle",
    "CUDA_ERROR_ILLEGAL_STATE": "the operation cannot be performed in the present state",
    "CUDA_ERROR_LOSSY_QUERY": "attempted introspection would be semantically lossy",
    "CUDA_ERROR_NOT_FOUND": "named symbol not found",
    "CUDA_ERROR_NOT_READY": "device not ready",
    "CUDA_ERROR_ILLEGAL_ADDRESS": "an illegal memory access was encountered",
    "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES": "too many resources requested for launch",
    "CUDA_ERROR_LAUNCH_TIMEOUT": "the launch timed out and was terminated",
    "CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING": "launch uses incompatible texturing mode",
    "CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED": "peer access is already enabled",
    "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED": "peer access has not been enabled",
    "CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE": "cannot set while device is active in this process",
    "CUDA_ERROR_CONTEXT_IS_DESTROYED": "context is destroyed",
    "CUDA_ERROR_ASSERT": "device-side assert triggered",
    "CUDA_ERROR_TOO_MANY_PEERS": "peer mapping resources exhausted",
    "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED": "part or all of the requested memory range is already mapped",
    "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED": "pointer does not correspond to a registered memory region",
    "CUDA_ERROR_HARDWARE_STACK_ERROR": "hardware stack error",
    "CUDA_ERROR_ILLEGAL_INSTRUCTION": "an illegal instruction was encountered",
    "CUDA_ERROR_MISALIGNED_ADDRESS": "misaligned address",
    "CUDA_ERROR_INVALID_ADDRESS_SPACE": "operation not supported on global/shared address space",
    "CUDA_ERROR_INVALID_PC": "invalid program counter",
    "CUDA_ERROR_LAUNCH_FAILED": "unspecified launch failure",
    "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE": "too many blocks in cooperative launch",
    "CUDA_ERROR_TENSOR_MEMORY_LEAK": "tensor memory not completely freed",
    "CUDA_ERROR_NOT_PERMITTED": "operation not permitted",
    "CUDA_ERROR_NOT_SUPPORTED": "operation not supported",
    "CUDA_ERROR_SYSTEM_NOT_READY": "system not yet initialized",
    "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH": "system has unsupported display driver / cuda driver combination",
    "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE": "forward compatibility was attempted on non supported HW",
    "CUDA_ERROR_MPS_CONNECTION_FAILED": "MPS client failed to connect to the MPS control daemon or the MPS server",
    "CUDA_ERROR_MPS_RPC_FAILURE": "the remote procedural call between the MPS server and the MPS client failed",
    "CUDA_ERROR_MPS_SERVER_NOT_READY": "MPS server is not ready to accept new MPS client requests",
    "CUDA_ERROR_MPS_MAX_CLIENTS_REACHED": "the hardware resources required to create MPS client have been exhausted",
    "CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED": "the hardware resources required to support device connections have been exhausted",
    "CUDA_ERROR_MPS_CLIENT_TERMINATED": "the MPS client has been terminated by the server",
    "CUDA_ERROR_CDP_NOT_SUPPORTED": "is using CUDA Dynamic Parallelism, but the current configuration, like MPS, does not support it",
    "CUDA_ERROR_CDP_VERSION_MISMATCH": "unsupported interaction between different versions of CUDA Dynamic Parallelism",
    "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED": "operation not permitted when stream is capturing",
    "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED": "operation failed due to a previous error during capture",
    "CUDA_ERROR_STREAM_CAPTURE_MERGE": "operation would result in a merge of separate capture sequences",
    "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED": "capture was not ended in the same stream as it began",
    "CUDA_ERROR_STREAM_CAPTURE_UNJOINED": "capturing stream has unjoined work",
    "CUDA_ERROR_STREAM_CAPTURE_ISOLATION": "dependency created on uncaptured work in another stream",
    "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT": "operation would make the legacy stream depend on a capturing blocking stream",
    "CUDA_ERROR_CAPTURED_EVENT": "operation not permitted on an event last recorded in a capturing stream",
    "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD": "attempt to terminate a thread-local capture sequence from another thread",
    "CUDA_ERROR_TIMEOUT": "wait operation timed out",
    "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE": "the graph update was not performed because it included changes which violated constraints specific to instantiated graph update",
    "CUDA_ERROR_EXTERNAL_DEVICE": "an async error has occured in external entity outside of CUDA",
    "CUDA_ERROR_INVALID_CLUSTER_SIZE": "a kernel launch error has occurred due to cluster misconfiguration",
    "CUDA_ERROR_FUNCTION_NOT_LOADED": "the function handle is not loaded when calling an API that requires a loaded function",
    "CUDA_ERROR_INVALID_RESOURCE_TYPE": "one or more resources passed in are not valid resource types for the operation",
    "CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION": "one or more resources are insufficient or non-applicable for the operation",
    "CUDA_ERROR_UNKNOWN": "unknown error",
}


class GenError(Exception):
    """An input the generator cannot explain; the message says what and why."""


# ---------------------------------------------------------------- parsing ---

def strip_comments(text):
    """Drop C comments, so that a typedef quoted in a comment is not taken."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


PFN_RE = re.compile(r"\(\s*CUDAAPI\s*\*\s*PFN_(cu\w+?)_v(\d+)(_ptds|_ptsz)?\s*\)")


def parse_typedefs(sources):
    """[(header name, text)] -> {api: {"plain": [ver], "pt": [(ver, suffix)], "header": name}}.

    Both sides of `#if defined(__CUDA_API_VERSION_INTERNAL)` are read on
    purpose: that block holds the legacy variants that cudart still requests.
    """
    apis = {}
    for header, text in sources:
        for m in PFN_RE.finditer(strip_comments(text)):
            name, ver, suffix = m.group(1), int(m.group(2)), m.group(3)
            api = apis.setdefault(name, {"plain": [], "pt": [], "header": header})
            if suffix:
                if any(v == ver and s == suffix for v, s in api["pt"]):
                    raise GenError(f"{header}: PFN_{name}_v{ver}{suffix} declared twice")
                api["pt"].append((ver, suffix))
            else:
                if ver in api["plain"]:
                    raise GenError(f"{header}: PFN_{name}_v{ver} declared twice")
                api["plain"].append(ver)
    return apis


def is_graphics(name, header):
    return header in GRAPHICS_HEADERS or GRAPHICS_NAME_RE.search(name) is not None


def parse_exports(nm_output):
    """`nm -D --defined-only` lines -> set of exported cu* function names."""
    syms = set()
    for line in nm_output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("T", "W") and parts[2].startswith("cu"):
            syms.add(parts[2].split("@")[0])  # drop a symbol version, if any
    return syms


def parse_cuda_version(cuda_h):
    m = re.search(r"^\s*#\s*define\s+CUDA_VERSION\s+(\d+)", cuda_h, re.M)
    if not m:
        raise GenError("cuda.h: no #define CUDA_VERSION")
    return int(m.group(1))


ENUM_ROW_RE = re.compile(r"(/\*\*(?P<doc>.*?)\*/)?\s*(?P<name>CUDA_\w+)\s*=\s*(?P<value>\d+)\s*,?", re.S)


def doc_sentence(doc):
    """First sentence of an enum doc comment, phrased like a driver message."""
    lines = [re.sub(r"^\s*\*\s?", "", l).strip() for l in doc.splitlines()]
    text = " ".join(l for l in lines if l and not l.startswith("\\"))
    text = re.sub(r"::(\w+)", r"\1", text)
    text = re.split(r"(?<=[a-z0-9)])\.\s", text + " ", maxsplit=1)[0].strip().rstrip(".")
    text = re.sub(r"^This (error )?indicate[sd]( that)? ", "", text)
    return text[:1].lower() + text[1:] if text else "unrecognized error code"


def parse_errors(cuda_h):
    """enum cudaError_enum -> [(name, value, string, from_doc)] in value order."""
    m = re.search(r"typedef\s+enum\s+cudaError_enum\s*\{(.*?)\}\s*CUresult\s*;", cuda_h, re.S)
    if not m:
        raise GenError("cuda.h: no typedef enum cudaError_enum { ... } CUresult")
    rows, seen = [], {}
    for r in ENUM_ROW_RE.finditer(m.group(1)):
        name, value = r.group("name"), int(r.group("value"))
        if value in seen:  # an alias would become a duplicate case label
            raise GenError(f"cuda.h: {name} and {seen[value]} share value {value}")
        seen[value] = name
        if name in ERROR_STRINGS:
            rows.append((name, value, ERROR_STRINGS[name], False))
        else:
            rows.append((name, value, doc_sentence(r.group("doc") or ""), True))
    if not rows:
        raise GenError("cuda.h: enum cudaError_enum has no CUDA_* rows")
    return sorted(rows, key=lambda r: r[1])


# ---------------------------------------------------------------- mapping ---

def variant_symbol(name, index):
    return name if index == 0 else f"{name}_v{index + 1}"


def build_tables(apis, exports, self_defined=SELF_DEFINED, export_only=EXPORT_ONLY):
    """Apply the mapping rule and check it against the stub's exports.

    Returns (provided, not_provided, stats) where provided is a sorted list of
    (api, [(version, symbol, pt_version or 0, pt_symbol or None)]).
    """
    problems, provided, not_provided = [], [], []
    mapped = set()
    for name in sorted(apis):
        api = apis[name]
        plain = sorted(api["plain"])
        if not plain:
            problems.append(f"{name}: only per-thread typedefs {api['pt']}, "
                            "no plain one to base them on")
            continue
        variants = [[ver, variant_symbol(name, i), 0, None] for i, ver in enumerate(plain)]
        for ver, suffix in sorted(api["pt"]):
            base = [i for i, v in enumerate(plain) if v <= ver]
            if not base:
                problems.append(f"{name}: PFN_{name}_v{ver}{suffix} is older than "
                                f"every plain variant {plain}")
                continue
            row = variants[base[-1]]
            if row[3] is not None:
                problems.append(f"{name}: {row[1]} would get two per-thread forms "
                                f"({row[3]} and v{ver}{suffix})")
                continue
            row[2], row[3] = ver, row[1] + suffix
        graphics = is_graphics(name, api["header"])
        symbols = [v[1] for v in variants] + [v[3] for v in variants if v[3]]
        if graphics:
            not_provided.append(name)
            continue
        for sym in symbols:
            mapped.add(sym)
            if sym not in exports:
                problems.append(f"{name}: rule gives {sym}, which stubs/libcuda.so does not export")
        provided.append((name, [tuple(v) for v in variants]))

    unexplained = sorted(s for s in exports - mapped
                         if s not in export_only and not is_graphics(s, ""))
    for sym in unexplained:
        problems.append(f"{sym}: exported by stubs/libcuda.so but derived from no typedef "
                        f"(check it, then list it in EXPORT_ONLY with the reason)")
    for sym in sorted(export_only):
        if sym not in exports:
            problems.append(f"{sym}: listed in EXPORT_ONLY but not exported any more")
    for sym in sorted(self_defined):
        if sym not in mapped:
            problems.append(f"{sym}: SELF_DEFINED but not in the mapping any more")
    if problems:
        raise GenError("mapping does not match the stub driver:\n  " + "\n  ".join(problems))

    graphics_exports = sorted(s for s in exports if is_graphics(s, ""))
    skipped = set(not_provided)
    weak = sorted((mapped | set(export_only)) - set(self_defined))
    stats = {
        "apis": len(apis),
        "provided": len(provided),
        "not_provided": len(not_provided),
        "plain": sum(len(a["plain"]) for n, a in apis.items() if n not in skipped),
        "pt": sum(len(a["pt"]) for n, a in apis.items() if n not in skipped),
        "symbols": len(mapped),
        "exports": len(exports),
        "graphics_exports": graphics_exports,
        "weak": weak,
    }
    return provided, not_provided, stats


# ----------------------------------------------------------------- output ---

def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(cuda_version, headers_read, provided, not_provided, weak, errors):
    major, minor = cuda_version // 1000, cuda_version % 1000 // 10
    out = []
    w = out.append
    w("/*")
    w(" * driver_tables.inc -- GENERATED by tools/gen_driver_tables.py; DO NOT EDIT.")
    sources = (f"Source: CUDA {major}.{minor} (CUDA_VERSION {cuda_version}): {', '.join(headers_read)}, "
               "cuda.h (enum cudaError_enum) and the exports of lib64/stubs/libcuda.so.")
    for line in textwrap.wrap(sources, 76):
        w(" * " + line)
    w(" * Regenerate: python3 tools/gen_driver_tables.py -o client/driver_tables.inc")
    w(" *")
    w(" * No include guard: include it once per section you need, with that")
    w(" * section's macro(s) defined; a section whose macro is undefined is empty.")
    w(" *")
    w(" * RGPU_PROC_API(api, first, count)")
    w(" *     Every API cuGetProcAddress can return, sorted by strcmp(api) for")
    w(" *     bsearch; its variants are rows first .. first+count-1 below.")
    w(" * RGPU_PROC_VARIANT(api, version, symbol)")
    w(" * RGPU_PROC_VARIANT_PT(api, version, symbol, pt_version, pt_symbol)")
    w(" *     One row per ABI variant, by api then ascending version: symbol is")
    w(" *     what a request for api with cudaVersion >= version gets (the newest")
    w(" *     such row wins); with CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM")
    w(" *     and cudaVersion >= pt_version it gets pt_symbol (_ptds/_ptsz)")
    w(" *     instead. Both macros must be defined together.")
    w(" * RGPU_NOT_PROVIDED(api)")
    w(" *     Graphics interop (GL, EGL, VDPAU, WGL, D3D): a headless remote driver")
    w(" *     has none, so these are neither exported nor returned.")
    w(" * RGPU_UNSUPPORTED(symbol)")
    weak_doc = ("Every symbol the stub driver exports, less the not-provided ones and those "
                "procaddr.c/errors.c define (" + ", ".join(sorted(SELF_DEFINED)) + "): unsupported.c "
                "gives each a weak fallback returning CUDA_ERROR_NOT_SUPPORTED.")
    for line in textwrap.wrap(weak_doc, 72):
        w(" *     " + line)
    w(" * RGPU_ERROR(name, value, string)")
    w(" *     Every CUresult, by value, with its cuGetErrorString text.")
    w(" */")
    w("")

    w("#ifdef RGPU_PROC_API")
    first = 0
    for name, variants in provided:
        w(f"RGPU_PROC_API({name}, {first}, {len(variants)})")
        first += len(variants)
    w("#endif")
    w("")
    w("#ifdef RGPU_PROC_VARIANT")
    for name, variants in provided:
        for ver, sym, pt_ver, pt_sym in variants:
            if pt_sym:
                w(f"RGPU_PROC_VARIANT_PT({name}, {ver}, {sym}, {pt_ver}, {pt_sym})")
            else:
                w(f"RGPU_PROC_VARIANT({name}, {ver}, {sym})")
    w("#endif")
    w("")
    w("#ifdef RGPU_NOT_PROVIDED")
    for name in not_provided:
        w(f"RGPU_NOT_PROVIDED({name})")
    w("#endif")
    w("")
    w("#ifdef RGPU_UNSUPPORTED")
    for sym in weak:
        w(f"RGPU_UNSUPPORTED({sym})")
    w("#endif")
    w("")
    w("#ifdef RGPU_ERROR")
    for name, value, text, _ in errors:
        w(f"RGPU_ERROR({name}, {value}, {c_string(text)})")
    w("#endif")
    return "\n".join(out) + "\n"


def generate(include_dir, exports):
    """Read the toolkit headers under include_dir -> (text, summary lines)."""
    sources, headers_read = [], []
    for header, required in TYPEDEF_HEADERS:
        path = os.path.join(include_dir, header)
        if not os.path.exists(path):
            if required:
                raise GenError(f"{path}: not found")
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            sources.append((header, f.read()))
        headers_read.append(header)
    with open(os.path.join(include_dir, "cuda.h"), encoding="utf-8", errors="replace") as f:
        cuda_h = f.read()

    apis = parse_typedefs(sources)
    provided, not_provided, st = build_tables(apis, exports)
    errors = parse_errors(cuda_h)
    text = render(parse_cuda_version(cuda_h), headers_read, provided, not_provided, st["weak"], errors)

    n_variants = sum(len(v) for _, v in provided)
    from_doc = [e[0] for e in errors if e[3]]
    summary = [
        f"APIs: {st['apis']} named by PFN typedefs ({', '.join(headers_read)})",
        f"  provided: {st['provided']} APIs, {n_variants} variants "
        f"({st['plain']} plain + {st['pt']} _ptds/_ptsz typedefs -> {st['symbols']} symbols)",
        f"  not provided (graphics interop): {st['not_provided']} APIs",
        f"stub exports: {st['exports']} cu* functions; {st['symbols']} matched, "
        f"{len(st['graphics_exports'])} graphics, {len(EXPORT_ONLY)} export-only, 0 mismatches",
        f"weak fallbacks: {len(st['weak'])} (self-defined: {len(SELF_DEFINED)})",
        f"CUresult codes: {len(errors)} ({len(errors) - len(from_doc)} curated texts, "
        f"{len(from_doc)} from doc comments{': ' + ', '.join(from_doc) if from_doc else ''})",
    ]
    return text, summary


# ------------------------------------------------------------- self test ---

def self_test():
    """Exercise the rule and its failure modes on small synthetic inputs."""
    def td(name):
        return f"typedef CUresult (CUDAAPI *PFN_{name})(void);\n"

    hdr = (td("cuA_v2000") + td("cuA_v3020") + td("cuA_v7000_ptds") +
           "/* " + td("cuInComment_v1000") + " */\n" +
           td("cuB_v4000") + td("cuB_v7000_ptsz") + td("cuC_v12000") + td("cuC_v11000"))
    gl = td("cuGLInit_v2000")
    apis = parse_typedefs([("cudaTypedefs.h", hdr), ("cudaGLTypedefs.h", gl)])
    assert "cuInComment" not in apis, "typedef inside a comment was taken"
    exports = {"cuA", "cuA_v2", "cuA_v2_ptds", "cuB", "cuB_ptsz", "cuC", "cuC_v2", "cuGLInit"}
    provided, not_provided, st = build_tables(apis, exports, {"cuB"}, {})
    assert st["weak"] == ["cuA", "cuA_v2", "cuA_v2_ptds", "cuB_ptsz", "cuC", "cuC_v2"], st["weak"]
    got = dict(provided)
    assert got["cuA"] == [(2000, "cuA", 0, None), (3020, "cuA_v2", 7000, "cuA_v2_ptds")], got["cuA"]
    assert got["cuB"] == [(4000, "cuB", 7000, "cuB_ptsz")], got["cuB"]
    assert got["cuC"] == [(11000, "cuC", 0, None), (12000, "cuC_v2", 0, None)], got["cuC"]
    assert not_provided == ["cuGLInit"]

    def fails(apis_text, exports, needle):
        try:
            build_tables(parse_typedefs([("cudaTypedefs.h", apis_text)]), exports, {}, {})
        except GenError as e:
            assert needle in str(e), f"expected {needle!r} in {e}"
            return
        raise AssertionError(f"expected a failure mentioning {needle!r}")

    fails(td("cuA_v2000") + td("cuA_v3020"), {"cuA"}, "does not export")
    fails(td("cuA_v2000"), {"cuA", "cuZ"}, "derived from no typedef")
    fails(td("cuA_v7000_ptds"), {"cuA_ptds"}, "no plain one")
    fails(td("cuA_v3000") + td("cuA_v2000_ptds"), {"cuA"}, "older than every plain")
    fails(td("cuA_v2000") + td("cuA_v7000_ptds") + td("cuA_v8000_ptsz"), {"cuA"}, "two per-thread")
    try:
        parse_typedefs([("x.h", td("cuA_v2000") + td("cuA_v2000"))])
        raise AssertionError("duplicate typedef accepted")
    except GenError:
        pass

    enum = ("typedef enum cudaError_enum {\n"
            "  /** The API call returned with no errors. */\n  CUDA_SUCCESS = 0,\n"
            "  /**\n   * This error indicates that an error happened during the key rotation\n"
            "   * sequence. Second sentence.\n   */\n  CUDA_ERROR_NEW_THING = 4242,\n"
            "} CUresult;\n")
    errs = parse_errors(enum)
    assert errs[0] == ("CUDA_SUCCESS", 0, "no error", False), errs[0]
    assert errs[1] == ("CUDA_ERROR_NEW_THING", 4242,
                       "an error happened during the key rotation sequence", True), errs[1]
    assert c_string('a"b\\c') == '"a\\"b\\\\c"'
    print("gen_driver_tables.py self-test: all checks passed")


# ------------------------------------------------------------------- main ---

def main(argv):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cuda-include", action="append", default=[],
                    help="toolkit include dir(s); the first holding cudaTypedefs.h is used "
                         "(default /usr/local/cuda/include)")
    ap.add_argument("--stub-lib", default="/usr/local/cuda/lib64/stubs/libcuda.so",
                    help="the toolkit's stub driver (default: %(default)s)")
    ap.add_argument("--nm", default="nm", help="nm program (default: %(default)s)")
    ap.add_argument("--exports", help="file with `nm -D --defined-only` output to use instead of running nm")
    ap.add_argument("-o", "--output", default=os.path.join(repo, "client", "driver_tables.inc"),
                    help="file to write (default: client/driver_tables.inc); '-' for stdout")
    ap.add_argument("--check", metavar="REF", help="after writing, diff against REF; exit 1 if they differ")
    ap.add_argument("--skip-missing", action="store_true",
                    help=f"exit {SKIP} (ctest skip) instead of failing when the toolkit is absent "
                         "or, with --check, is another release than REF was generated from")
    ap.add_argument("--self-test", action="store_true", help="run the built-in tests and exit")
    args = ap.parse_args(argv)

    if args.self_test:
        self_test()
        return 0

    includes = args.cuda_include or ["/usr/local/cuda/include"]
    include_dir = next((d for d in includes if os.path.exists(os.path.join(d, "cudaTypedefs.h"))), None)
    missing = []
    if include_dir is None:
        missing.append("cudaTypedefs.h in " + ", ".join(includes))
    if args.exports is None and not os.path.exists(args.stub_lib):
        missing.append(args.stub_lib)
    if missing:
        print("gen_driver_tables: toolkit input missing: " + "; ".join(missing), file=sys.stderr)
        return SKIP if args.skip_missing else 1

    try:
        if args.exports:
            with open(args.exports) as f:
                nm_output = f.read()
        else:
            nm_output = subprocess.run([args.nm, "-D", "--defined-only", args.stub_lib], check=True,
                                       capture_output=True, text=True).stdout
        exports = parse_exports(nm_output)
        if not exports:
            raise GenError(f"{args.stub_lib}: no cu* functions exported")
        text, summary = generate(include_dir, exports)
    except (GenError, OSError, subprocess.CalledProcessError) as e:
        print(f"gen_driver_tables: error: {e}", file=sys.stderr)
        return 1

    if args.output == "-":
        sys.stdout.write(text)
    else:  # write atomically so an interrupted run never leaves half a table
        out_dir = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(out_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".driver_tables.")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, args.output)
    for line in summary:
        print("gen_driver_tables: " + line, file=sys.stderr)

    if args.check:
        with open(args.check) as f:
            ref = f.read()
        # A table made from another toolkit release is not comparable, only
        # older or newer: say so and skip rather than fail on every machine
        # whose toolkit differs from the one the table was committed from.
        ref_ver = re.search(r"\(CUDA_VERSION (\d+)\)", ref)
        new_ver = re.search(r"\(CUDA_VERSION (\d+)\)", text)
        if ref_ver and new_ver and ref_ver.group(1) != new_ver.group(1):
            print(f"gen_driver_tables: {args.check} was generated from CUDA_VERSION {ref_ver.group(1)}, "
                  f"the toolkit here is {new_ver.group(1)}: not compared", file=sys.stderr)
            return SKIP if args.skip_missing else 1
        if ref != text:
            diff = difflib.unified_diff(ref.splitlines(True), text.splitlines(True),
                                        args.check, args.output if args.output != "-" else "<generated>")
            sys.stderr.writelines(list(diff)[:200])
            print(f"gen_driver_tables: {args.check} is stale; regenerate it with "
                  f"python3 tools/gen_driver_tables.py", file=sys.stderr)
            return 1
        print(f"gen_driver_tables: {args.check} is up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
