/*
 * nvml_api.h — the one way rgpu includes NVIDIA's nvml.h.
 *
 * NVML_NO_UNVERSIONED_FUNC_DEFS stops nvml.h from renaming calls to their
 * newest version (nvmlInit -> nvmlInit_v2, ...), so rgpu can define every
 * exported version under its own ABI name, type-checked against NVIDIA's
 * prototypes. nvml.h comes with the CUDA toolkit or the nvidia-nvml-dev wheel
 * (see wire/CMakeLists.txt).
 */
#ifndef RGPU_WIRE_NVML_API_H
#define RGPU_WIRE_NVML_API_H
#ifndef NVML_NO_UNVERSIONED_FUNC_DEFS
#define NVML_NO_UNVERSIONED_FUNC_DEFS 1
#endif
#include <nvml.h>
#endif
