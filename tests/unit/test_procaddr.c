/*
 * test_procaddr.c — the client driver's entry-point table, weak fallbacks and
 * error strings, seen the way cudart sees them: dlopen() the built
 * libcuda.so.1 (RGPU_CUDA_LIB), dlsym() only cuGetProcAddress_v2, and ask it.
 *
 * Test vectors: Appendix A of shared/reference/cuda-driver-interface.md (the
 * 440 requests cudart 13.0 makes, with the variant each must resolve to,
 * observed against NVIDIA's libraries), copied below; plus every row of the
 * generated client/driver_tables.inc, so a table/linker mismatch anywhere
 * shows. Expected addresses come from dlsym() of the expected symbol name.
 *
 * Nothing here calls cuInit: these entry points must work without it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, to name a wrong answer */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cuda_api.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef RGPU_CUDA_LIB
#error "RGPU_CUDA_LIB must name the built libcuda.so.1"
#endif

typedef CUresult (*getproc_v2_fn)(const char *, void **, int, cuuint64_t,
                                  CUdriverProcAddressQueryResult *);
typedef CUresult (*getproc_v1_fn)(const char *, void **, int, cuuint64_t);
typedef CUresult (*error_fn)(CUresult, const char **);

#define PT CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void *lib;
static getproc_v2_fn getproc;

/* ---- cudart's requests (Appendix A); want NULL: SYMBOL_NOT_FOUND ---- */

struct request {
    const char *name;
    int version;
    int flags;
    const char *want; /* expected symbol; SAME: the name itself; NULL: not found */
};

#define SAME "="

static const struct request appendix_a[] = {
    {"", 0, 0, NULL},
    {"cuInit", 2000, 0, SAME},
    {"cuGetProcAddress", 11030, 0, SAME},
    {"cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2"},
    {"cuDeviceGet", 2000, 0, SAME},
    {"cuDeviceGetCount", 2000, 0, SAME},
    {"cuDeviceGetName", 2000, 0, SAME},
    {"cuDeviceTotalMem", 3020, 0, "cuDeviceTotalMem_v2"},
    {"cuDeviceGetAttribute", 2000, 0, SAME},
    {"cuDeviceGetP2PAttribute", 8000, 0, SAME},
    {"cuDeviceGetHostAtomicCapabilities", 13000, 0, SAME},
    {"cuDeviceGetP2PAtomicCapabilities", 13000, 0, SAME},
    {"cuDriverGetVersion", 2020, 0, SAME},
    {"cuDeviceGetByPCIBusId", 4010, 0, SAME},
    {"cuDeviceGetPCIBusId", 4010, 0, SAME},
    {"cuDeviceGetUuid", 9020, 0, SAME},
    {"cuDeviceGetTexture1DLinearMaxWidth", 11010, 0, SAME},
    {"cuDeviceGetDefaultMemPool", 11020, 0, SAME},
    {"cuDeviceSetMemPool", 11020, 0, SAME},
    {"cuDeviceGetMemPool", 11020, 0, SAME},
    {"cuFlushGPUDirectRDMAWrites", 11030, 0, SAME},
    {"cuDevicePrimaryCtxRetain", 7000, 0, SAME},
    {"cuDevicePrimaryCtxRelease", 7000, 0, SAME},
    {"cuDevicePrimaryCtxSetFlags", 11000, 0, "cuDevicePrimaryCtxSetFlags_v2"},
    {"cuDevicePrimaryCtxGetState", 7000, 0, SAME},
    {"cuDevicePrimaryCtxReset", 7000, 0, SAME},
    {"cuCtxCreate", 3020, 0, "cuCtxCreate_v2"},
    {"cuCtxGetFlags", 7000, 0, SAME},
    {"cuCtxSetCurrent", 4000, 0, SAME},
    {"cuCtxGetCurrent", 4000, 0, SAME},
    {"cuCtxDetach", 2000, 0, SAME},
    {"cuCtxGetApiVersion", 3020, 0, SAME},
    {"cuCtxGetDevice", 2000, 0, SAME},
    {"cuCtxGetDevice", 13000, 0, "cuCtxGetDevice_v2"},
    {"cuCtxGetLimit", 3010, 0, SAME},
    {"cuCtxSetLimit", 3010, 0, SAME},
    {"cuCtxGetCacheConfig", 3020, 0, SAME},
    {"cuCtxSetCacheConfig", 3020, 0, SAME},
    {"cuCtxGetSharedMemConfig", 4020, 0, SAME},
    {"cuCtxGetStreamPriorityRange", 5050, 0, SAME},
    {"cuCtxSetSharedMemConfig", 4020, 0, SAME},
    {"cuCtxSynchronize", 2000, 0, SAME},
    {"cuCtxSynchronize", 13000, 0, "cuCtxSynchronize_v2"},
    {"cuCtxResetPersistingL2Cache", 11000, 0, SAME},
    {"cuCtxPopCurrent", 4000, 0, "cuCtxPopCurrent_v2"},
    {"cuCtxPushCurrent", 4000, 0, "cuCtxPushCurrent_v2"},
    {"cuModuleLoad", 2000, 0, SAME},
    {"cuModuleLoadData", 2000, 0, SAME},
    {"cuModuleLoadFatBinary", 2000, 0, SAME},
    {"cuModuleUnload", 2000, 0, SAME},
    {"cuModuleGetFunction", 2000, 0, SAME},
    {"cuModuleGetGlobal", 3020, 0, "cuModuleGetGlobal_v2"},
    {"cuModuleGetTexRef", 2000, 0, SAME},
    {"cuModuleGetSurfRef", 3000, 0, SAME},
    {"cuModuleGetLoadingMode", 11070, 0, SAME},
    {"cuLibraryLoadData", 12000, 0, SAME},
    {"cuLibraryLoadFromFile", 12000, 0, SAME},
    {"cuLibraryUnload", 12000, 0, SAME},
    {"cuLibraryGetKernel", 12000, 0, SAME},
    {"cuLibraryGetModule", 12000, 0, SAME},
    {"cuKernelGetFunction", 12000, 0, SAME},
    {"cuLibraryGetGlobal", 12000, 0, SAME},
    {"cuLibraryGetManaged", 12000, 0, SAME},
    {"cuLibraryGetUnifiedFunction", 12000, 0, SAME},
    {"cuLibraryGetKernelCount", 12040, 0, SAME},
    {"cuLibraryEnumerateKernels", 12040, 0, SAME},
    {"cuKernelGetAttribute", 12000, 0, SAME},
    {"cuKernelSetAttribute", 12000, 0, SAME},
    {"cuKernelSetCacheConfig", 12000, 0, SAME},
    {"cuKernelGetName", 12030, 0, SAME},
    {"cuKernelGetParamInfo", 12040, 0, SAME},
    {"cuLinkCreate", 5050, 0, SAME},
    {"cuLinkAddData", 5050, 0, SAME},
    {"cuLinkAddFile", 5050, 0, SAME},
    {"cuLinkComplete", 5050, 0, SAME},
    {"cuLinkDestroy", 5050, 0, SAME},
    {"cuMemGetInfo", 3020, 0, "cuMemGetInfo_v2"},
    {"cuMemAllocManaged", 6000, 0, SAME},
    {"cuMemAlloc", 3020, 0, "cuMemAlloc_v2"},
    {"cuMemAllocPitch", 3020, 0, "cuMemAllocPitch_v2"},
    {"cuMemFree", 3020, 0, "cuMemFree_v2"},
    {"cuMemGetAddressRange", 3020, 0, "cuMemGetAddressRange_v2"},
    {"cuMemFreeHost", 2000, 0, SAME},
    {"cuMemHostAlloc", 2020, 0, SAME},
    {"cuMemHostGetDevicePointer", 3020, 0, "cuMemHostGetDevicePointer_v2"},
    {"cuMemHostGetFlags", 2030, 0, SAME},
    {"cuMemHostRegister", 6050, 0, "cuMemHostRegister_v2"},
    {"cuMemHostUnregister", 4000, 0, SAME},
    {"cuPointerGetAttribute", 4000, 0, SAME},
    {"cuPointerGetAttributes", 7000, 0, SAME},
    {"cuMemAllocAsync", 11020, 0, SAME},
    {"cuMemAllocAsync", 11020, PT, "cuMemAllocAsync_ptsz"},
    {"cuMemAllocFromPoolAsync", 11020, 0, SAME},
    {"cuMemAllocFromPoolAsync", 11020, PT, "cuMemAllocFromPoolAsync_ptsz"},
    {"cuMemFreeAsync", 11020, 0, SAME},
    {"cuMemFreeAsync", 11020, PT, "cuMemFreeAsync_ptsz"},
    {"cuMemPoolTrimTo", 11020, 0, SAME},
    {"cuMemPoolSetAttribute", 11020, 0, SAME},
    {"cuMemPoolGetAttribute", 11020, 0, SAME},
    {"cuMemPoolSetAccess", 11020, 0, SAME},
    {"cuMemPoolGetAccess", 11020, 0, SAME},
    {"cuMemPoolCreate", 11020, 0, SAME},
    {"cuMemPoolDestroy", 11020, 0, SAME},
    {"cuMemPoolExportToShareableHandle", 11020, 0, SAME},
    {"cuMemPoolImportFromShareableHandle", 11020, 0, SAME},
    {"cuMemPoolExportPointer", 11020, 0, SAME},
    {"cuMemPoolImportPointer", 11020, 0, SAME},
    {"cuMemGetDefaultMemPool", 13000, 0, SAME},
    {"cuMemGetMemPool", 13000, 0, SAME},
    {"cuMemSetMemPool", 13000, 0, SAME},
    {"cuMemcpy", 4000, 0, SAME},
    {"cuMemcpy", 7000, PT, "cuMemcpy_ptds"},
    {"cuMemcpyAsync", 4000, 0, SAME},
    {"cuMemcpyAsync", 7000, PT, "cuMemcpyAsync_ptsz"},
    {"cuMemcpyPeer", 4000, 0, SAME},
    {"cuMemcpyPeer", 7000, PT, "cuMemcpyPeer_ptds"},
    {"cuMemcpyPeerAsync", 4000, 0, SAME},
    {"cuMemcpyPeerAsync", 7000, PT, "cuMemcpyPeerAsync_ptsz"},
    {"cuMemcpyHtoD", 3020, 0, "cuMemcpyHtoD_v2"},
    {"cuMemcpyHtoD", 7000, PT, "cuMemcpyHtoD_v2_ptds"},
    {"cuMemcpyHtoDAsync", 3020, 0, "cuMemcpyHtoDAsync_v2"},
    {"cuMemcpyHtoDAsync", 7000, PT, "cuMemcpyHtoDAsync_v2_ptsz"},
    {"cuMemcpyDtoH", 3020, 0, "cuMemcpyDtoH_v2"},
    {"cuMemcpyDtoH", 7000, PT, "cuMemcpyDtoH_v2_ptds"},
    {"cuMemcpyDtoHAsync", 3020, 0, "cuMemcpyDtoHAsync_v2"},
    {"cuMemcpyDtoHAsync", 7000, PT, "cuMemcpyDtoHAsync_v2_ptsz"},
    {"cuMemcpyDtoD", 3020, 0, "cuMemcpyDtoD_v2"},
    {"cuMemcpyDtoD", 7000, PT, "cuMemcpyDtoD_v2_ptds"},
    {"cuMemcpyDtoDAsync", 3020, 0, "cuMemcpyDtoDAsync_v2"},
    {"cuMemcpyDtoDAsync", 7000, PT, "cuMemcpyDtoDAsync_v2_ptsz"},
    {"cuMemcpy2DUnaligned", 3020, 0, "cuMemcpy2DUnaligned_v2"},
    {"cuMemcpy2DUnaligned", 7000, PT, "cuMemcpy2DUnaligned_v2_ptds"},
    {"cuMemcpy2DAsync", 3020, 0, "cuMemcpy2DAsync_v2"},
    {"cuMemcpy2DAsync", 7000, PT, "cuMemcpy2DAsync_v2_ptsz"},
    {"cuMemcpy3D", 3020, 0, "cuMemcpy3D_v2"},
    {"cuMemcpy3D", 7000, PT, "cuMemcpy3D_v2_ptds"},
    {"cuMemcpy3DAsync", 3020, 0, "cuMemcpy3DAsync_v2"},
    {"cuMemcpy3DAsync", 7000, PT, "cuMemcpy3DAsync_v2_ptsz"},
    {"cuMemcpy3DPeer", 4000, 0, SAME},
    {"cuMemcpy3DPeer", 7000, PT, "cuMemcpy3DPeer_ptds"},
    {"cuMemcpy3DPeerAsync", 4000, 0, SAME},
    {"cuMemcpy3DPeerAsync", 7000, PT, "cuMemcpy3DPeerAsync_ptsz"},
    {"cuMemcpyBatchAsync", 13000, 0, "cuMemcpyBatchAsync_v2"},
    {"cuMemcpyBatchAsync", 13000, PT, "cuMemcpyBatchAsync_v2_ptsz"},
    {"cuMemcpy3DBatchAsync", 13000, 0, "cuMemcpy3DBatchAsync_v2"},
    {"cuMemcpy3DBatchAsync", 13000, PT, "cuMemcpy3DBatchAsync_v2_ptsz"},
    {"cuMemcpyBatchAsync", 12080, 0, SAME},
    {"cuMemcpyBatchAsync", 12080, PT, "cuMemcpyBatchAsync_ptsz"},
    {"cuMemcpy3DBatchAsync", 12080, 0, SAME},
    {"cuMemcpy3DBatchAsync", 12080, PT, "cuMemcpy3DBatchAsync_ptsz"},
    {"cuMemsetD8", 3020, 0, "cuMemsetD8_v2"},
    {"cuMemsetD8", 7000, PT, "cuMemsetD8_v2_ptds"},
    {"cuMemsetD8Async", 3020, 0, SAME},
    {"cuMemsetD8Async", 7000, PT, "cuMemsetD8Async_ptsz"},
    {"cuMemsetD2D8", 3020, 0, "cuMemsetD2D8_v2"},
    {"cuMemsetD2D8", 7000, PT, "cuMemsetD2D8_v2_ptds"},
    {"cuMemsetD2D8Async", 3020, 0, SAME},
    {"cuMemsetD2D8Async", 7000, PT, "cuMemsetD2D8Async_ptsz"},
    {"cuFuncSetCacheConfig", 3000, 0, SAME},
    {"cuFuncSetSharedMemConfig", 4020, 0, SAME},
    {"cuFuncGetAttribute", 2020, 0, SAME},
    {"cuFuncSetAttribute", 9000, 0, SAME},
    {"cuFuncGetName", 12030, 0, SAME},
    {"cuFuncGetParamInfo", 12040, 0, SAME},
    {"cuArrayCreate", 3020, 0, "cuArrayCreate_v2"},
    {"cuArrayGetDescriptor", 3020, 0, "cuArrayGetDescriptor_v2"},
    {"cuArrayGetSparseProperties", 11010, 0, SAME},
    {"cuArrayGetPlane", 11020, 0, SAME},
    {"cuArray3DCreate", 3020, 0, "cuArray3DCreate_v2"},
    {"cuArray3DGetDescriptor", 3020, 0, "cuArray3DGetDescriptor_v2"},
    {"cuArrayDestroy", 2000, 0, SAME},
    {"cuMipmappedArrayCreate", 5000, 0, SAME},
    {"cuMipmappedArrayGetLevel", 5000, 0, SAME},
    {"cuMipmappedArrayGetSparseProperties", 11010, 0, SAME},
    {"cuMipmappedArrayDestroy", 5000, 0, SAME},
    {"cuArrayGetMemoryRequirements", 11060, 0, SAME},
    {"cuMipmappedArrayGetMemoryRequirements", 11060, 0, SAME},
    {"cuTexObjectCreate", 5000, 0, SAME},
    {"cuTexObjectDestroy", 5000, 0, SAME},
    {"cuTexObjectGetResourceDesc", 5000, 0, SAME},
    {"cuTexObjectGetTextureDesc", 5000, 0, SAME},
    {"cuTexObjectGetResourceViewDesc", 5000, 0, SAME},
    {"cuSurfObjectCreate", 5000, 0, SAME},
    {"cuSurfObjectDestroy", 5000, 0, SAME},
    {"cuSurfObjectGetResourceDesc", 5000, 0, SAME},
    {"cuImportExternalMemory", 10000, 0, SAME},
    {"cuExternalMemoryGetMappedBuffer", 10000, 0, SAME},
    {"cuExternalMemoryGetMappedMipmappedArray", 10000, 0, SAME},
    {"cuDestroyExternalMemory", 10000, 0, SAME},
    {"cuImportExternalSemaphore", 10000, 0, SAME},
    {"cuSignalExternalSemaphoresAsync", 10000, 0, SAME},
    {"cuSignalExternalSemaphoresAsync", 10000, PT, "cuSignalExternalSemaphoresAsync_ptsz"},
    {"cuWaitExternalSemaphoresAsync", 10000, 0, SAME},
    {"cuWaitExternalSemaphoresAsync", 10000, PT, "cuWaitExternalSemaphoresAsync_ptsz"},
    {"cuDestroyExternalSemaphore", 10000, 0, SAME},
    {"cuDeviceGetNvSciSyncAttributes", 10020, 0, SAME},
    {"cuLaunchKernel", 4000, 0, SAME},
    {"cuLaunchKernel", 7000, PT, "cuLaunchKernel_ptsz"},
    {"cuLaunchCooperativeKernel", 9000, 0, SAME},
    {"cuLaunchCooperativeKernel", 9000, PT, "cuLaunchCooperativeKernel_ptsz"},
    {"cuLaunchHostFunc", 10000, 0, SAME},
    {"cuLaunchHostFunc", 10000, PT, "cuLaunchHostFunc_ptsz"},
    {"cuLaunchKernelEx", 11060, 0, SAME},
    {"cuLaunchKernelEx", 11060, PT, "cuLaunchKernelEx_ptsz"},
    {"cuEventCreate", 2000, 0, SAME},
    {"cuEventRecord", 2000, 0, SAME},
    {"cuEventRecord", 7000, PT, "cuEventRecord_ptsz"},
    {"cuEventRecordWithFlags", 11010, 0, SAME},
    {"cuEventRecordWithFlags", 11010, PT, "cuEventRecordWithFlags_ptsz"},
    {"cuEventQuery", 2000, 0, SAME},
    {"cuEventSynchronize", 2000, 0, SAME},
    {"cuEventDestroy", 4000, 0, "cuEventDestroy_v2"},
    {"cuEventElapsedTime", 2000, 0, SAME},
    {"cuEventElapsedTime", 12080, 0, "cuEventElapsedTime_v2"},
    {"cuStreamWaitValue32", 8000, 0, SAME},
    {"cuStreamWaitValue32", 8000, PT, "cuStreamWaitValue32_ptsz"},
    {"cuStreamWriteValue32", 8000, 0, SAME},
    {"cuStreamWriteValue32", 8000, PT, "cuStreamWriteValue32_ptsz"},
    {"cuStreamWaitValue64", 9000, 0, SAME},
    {"cuStreamWaitValue64", 9000, PT, "cuStreamWaitValue64_ptsz"},
    {"cuStreamWriteValue64", 9000, 0, SAME},
    {"cuStreamWriteValue64", 9000, PT, "cuStreamWriteValue64_ptsz"},
    {"cuStreamBatchMemOp", 8000, 0, SAME},
    {"cuStreamBatchMemOp", 8000, PT, "cuStreamBatchMemOp_ptsz"},
    {"cuStreamCreate", 2000, 0, SAME},
    {"cuStreamCreateWithPriority", 5050, 0, SAME},
    {"cuStreamGetPriority", 5050, 0, SAME},
    {"cuStreamGetPriority", 7000, PT, "cuStreamGetPriority_ptsz"},
    {"cuStreamGetFlags", 5050, 0, SAME},
    {"cuStreamGetDevice", 12080, 0, SAME},
    {"cuStreamGetDevice", 12080, PT, "cuStreamGetDevice_ptsz"},
    {"cuStreamGetCtx", 9020, 0, SAME},
    {"cuStreamGetFlags", 7000, PT, "cuStreamGetFlags_ptsz"},
    {"cuStreamGetId", 12000, 0, SAME},
    {"cuStreamGetId", 12000, PT, "cuStreamGetId_ptsz"},
    {"cuStreamDestroy", 4000, 0, "cuStreamDestroy_v2"},
    {"cuStreamWaitEvent", 3020, 0, SAME},
    {"cuStreamWaitEvent", 7000, PT, "cuStreamWaitEvent_ptsz"},
    {"cuStreamAddCallback", 5000, 0, SAME},
    {"cuStreamAddCallback", 7000, PT, "cuStreamAddCallback_ptsz"},
    {"cuStreamSynchronize", 2000, 0, SAME},
    {"cuStreamSynchronize", 7000, PT, "cuStreamSynchronize_ptsz"},
    {"cuStreamQuery", 2000, 0, SAME},
    {"cuStreamQuery", 7000, PT, "cuStreamQuery_ptsz"},
    {"cuStreamAttachMemAsync", 6000, 0, SAME},
    {"cuStreamAttachMemAsync", 7000, PT, "cuStreamAttachMemAsync_ptsz"},
    {"cuStreamCopyAttributes", 11000, 0, SAME},
    {"cuStreamCopyAttributes", 11000, PT, "cuStreamCopyAttributes_ptsz"},
    {"cuStreamGetAttribute", 11000, 0, SAME},
    {"cuStreamGetAttribute", 11000, PT, "cuStreamGetAttribute_ptsz"},
    {"cuStreamSetAttribute", 11000, 0, SAME},
    {"cuStreamSetAttribute", 11000, PT, "cuStreamSetAttribute_ptsz"},
    {"cuDeviceCanAccessPeer", 4000, 0, SAME},
    {"cuCtxEnablePeerAccess", 4000, 0, SAME},
    {"cuCtxDisablePeerAccess", 4000, 0, SAME},
    {"cuIpcGetEventHandle", 4010, 0, SAME},
    {"cuIpcOpenEventHandle", 4010, 0, SAME},
    {"cuIpcGetMemHandle", 4010, 0, SAME},
    {"cuIpcOpenMemHandle", 4010, 0, SAME},
    {"cuIpcOpenMemHandle", 11000, 0, "cuIpcOpenMemHandle_v2"},
    {"cuIpcCloseMemHandle", 4010, 0, SAME},
    {"cuGLCtxCreate", 3020, 0, NULL},
    {"cuGLInit", 2000, 0, NULL},
    {"cuGLGetDevices", 4010, 0, NULL},
    {"cuGLRegisterBufferObject", 2000, 0, NULL},
    {"cuGLMapBufferObject", 3020, 0, NULL},
    {"cuGLMapBufferObject", 7000, PT, NULL},
    {"cuGLMapBufferObjectAsync", 3020, 0, NULL},
    {"cuGLMapBufferObjectAsync", 7000, PT, NULL},
    {"cuGLUnmapBufferObject", 2000, 0, NULL},
    {"cuGLUnmapBufferObjectAsync", 2030, 0, NULL},
    {"cuGLUnregisterBufferObject", 2000, 0, NULL},
    {"cuGLSetBufferObjectMapFlags", 2030, 0, NULL},
    {"cuGraphicsGLRegisterImage", 3000, 0, NULL},
    {"cuGraphicsGLRegisterBuffer", 3000, 0, NULL},
    {"cuGraphicsEGLRegisterImage", 7000, 0, NULL},
    {"cuEGLStreamConsumerConnect", 7000, 0, NULL},
    {"cuEGLStreamConsumerDisconnect", 7000, 0, NULL},
    {"cuEGLStreamConsumerAcquireFrame", 7000, 0, NULL},
    {"cuEGLStreamConsumerReleaseFrame", 7000, 0, NULL},
    {"cuEGLStreamProducerConnect", 7000, 0, NULL},
    {"cuEGLStreamProducerDisconnect", 7000, 0, NULL},
    {"cuEGLStreamProducerPresentFrame", 7000, 0, NULL},
    {"cuEGLStreamProducerReturnFrame", 7000, 0, NULL},
    {"cuGraphicsResourceGetMappedEglFrame", 7000, 0, NULL},
    {"cuEGLStreamConsumerConnectWithFlags", 8000, 0, NULL},
    {"cuGraphicsUnregisterResource", 3000, 0, SAME},
    {"cuGraphicsMapResources", 3000, 0, SAME},
    {"cuGraphicsMapResources", 7000, PT, "cuGraphicsMapResources_ptsz"},
    {"cuGraphicsUnmapResources", 3000, 0, SAME},
    {"cuGraphicsUnmapResources", 7000, PT, "cuGraphicsUnmapResources_ptsz"},
    {"cuGraphicsResourceSetMapFlags", 6050, 0, "cuGraphicsResourceSetMapFlags_v2"},
    {"cuGraphicsSubResourceGetMappedArray", 3000, 0, SAME},
    {"cuGraphicsResourceGetMappedMipmappedArray", 5000, 0, SAME},
    {"cuGraphicsResourceGetMappedPointer", 3020, 0, "cuGraphicsResourceGetMappedPointer_v2"},
    {"cuProfilerInitialize", 4000, 0, SAME},
    {"cuProfilerStart", 4000, 0, SAME},
    {"cuProfilerStop", 4000, 0, SAME},
    {"cuVDPAUGetDevice", 3010, 0, NULL},
    {"cuVDPAUCtxCreate", 3020, 0, NULL},
    {"cuGraphicsVDPAURegisterVideoSurface", 3010, 0, NULL},
    {"cuGraphicsVDPAURegisterOutputSurface", 3010, 0, NULL},
    {"cuGetExportTable", 3000, 0, SAME},
    {"cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags", 7000, 0, SAME},
    {"cuOccupancyAvailableDynamicSMemPerBlock", 10020, 0, SAME},
    {"cuOccupancyMaxPotentialClusterSize", 11070, 0, SAME},
    {"cuOccupancyMaxActiveClusters", 11070, 0, SAME},
    {"cuMemAdvise", 8000, 0, SAME},
    {"cuMemPrefetchAsync", 8000, 0, SAME},
    {"cuMemPrefetchAsync", 8000, PT, "cuMemPrefetchAsync_ptsz"},
    {"cuMemAdvise", 12020, 0, "cuMemAdvise_v2"},
    {"cuMemPrefetchAsync", 12020, 0, "cuMemPrefetchAsync_v2"},
    {"cuMemPrefetchAsync", 12020, PT, "cuMemPrefetchAsync_v2_ptsz"},
    {"cuMemPrefetchBatchAsync", 13000, 0, SAME},
    {"cuMemPrefetchBatchAsync", 13000, PT, "cuMemPrefetchBatchAsync_ptsz"},
    {"cuMemDiscardBatchAsync", 13000, 0, SAME},
    {"cuMemDiscardBatchAsync", 13000, PT, "cuMemDiscardBatchAsync_ptsz"},
    {"cuMemDiscardAndPrefetchBatchAsync", 13000, 0, SAME},
    {"cuMemDiscardAndPrefetchBatchAsync", 13000, PT, "cuMemDiscardAndPrefetchBatchAsync_ptsz"},
    {"cuMemRangeGetAttribute", 8000, 0, SAME},
    {"cuMemRangeGetAttributes", 8000, 0, SAME},
    {"cuGetErrorString", 6000, 0, SAME},
    {"cuGetErrorName", 6000, 0, SAME},
    {"cuGraphCreate", 10000, 0, SAME},
    {"cuGraphAddKernelNode", 12000, 0, "cuGraphAddKernelNode_v2"},
    {"cuGraphKernelNodeGetParams", 12000, 0, "cuGraphKernelNodeGetParams_v2"},
    {"cuGraphKernelNodeSetParams", 12000, 0, "cuGraphKernelNodeSetParams_v2"},
    {"cuGraphAddMemcpyNode", 10000, 0, SAME},
    {"cuGraphMemcpyNodeGetParams", 10000, 0, SAME},
    {"cuGraphMemcpyNodeSetParams", 10000, 0, SAME},
    {"cuGraphAddMemsetNode", 10000, 0, SAME},
    {"cuGraphMemsetNodeGetParams", 10000, 0, SAME},
    {"cuGraphMemsetNodeSetParams", 10000, 0, SAME},
    {"cuGraphAddHostNode", 10000, 0, SAME},
    {"cuGraphHostNodeGetParams", 10000, 0, SAME},
    {"cuGraphHostNodeSetParams", 10000, 0, SAME},
    {"cuGraphAddChildGraphNode", 10000, 0, SAME},
    {"cuGraphChildGraphNodeGetGraph", 10000, 0, SAME},
    {"cuGraphAddEmptyNode", 10000, 0, SAME},
    {"cuGraphAddEventRecordNode", 11010, 0, SAME},
    {"cuGraphEventRecordNodeGetEvent", 11010, 0, SAME},
    {"cuGraphEventRecordNodeSetEvent", 11010, 0, SAME},
    {"cuGraphAddEventWaitNode", 11010, 0, SAME},
    {"cuGraphEventWaitNodeGetEvent", 11010, 0, SAME},
    {"cuGraphEventWaitNodeSetEvent", 11010, 0, SAME},
    {"cuGraphAddExternalSemaphoresSignalNode", 11020, 0, SAME},
    {"cuGraphExternalSemaphoresSignalNodeGetParams", 11020, 0, SAME},
    {"cuGraphExternalSemaphoresSignalNodeSetParams", 11020, 0, SAME},
    {"cuGraphAddExternalSemaphoresWaitNode", 11020, 0, SAME},
    {"cuGraphExternalSemaphoresWaitNodeGetParams", 11020, 0, SAME},
    {"cuGraphExternalSemaphoresWaitNodeSetParams", 11020, 0, SAME},
    {"cuGraphExecExternalSemaphoresSignalNodeSetParams", 11020, 0, SAME},
    {"cuGraphExecExternalSemaphoresWaitNodeSetParams", 11020, 0, SAME},
    {"cuGraphAddMemAllocNode", 11040, 0, SAME},
    {"cuGraphMemAllocNodeGetParams", 11040, 0, SAME},
    {"cuGraphAddMemFreeNode", 11040, 0, SAME},
    {"cuGraphMemFreeNodeGetParams", 11040, 0, SAME},
    {"cuDeviceGraphMemTrim", 11040, 0, SAME},
    {"cuDeviceGetGraphMemAttribute", 11040, 0, SAME},
    {"cuDeviceSetGraphMemAttribute", 11040, 0, SAME},
    {"cuGraphClone", 10000, 0, SAME},
    {"cuGraphNodeFindInClone", 10000, 0, SAME},
    {"cuGraphNodeGetType", 10000, 0, SAME},
    {"cuGraphGetNodes", 10000, 0, SAME},
    {"cuGraphGetRootNodes", 10000, 0, SAME},
    {"cuGraphGetEdges", 10000, 0, SAME},
    {"cuGraphGetEdges", 12030, 0, "cuGraphGetEdges_v2"},
    {"cuGraphNodeGetDependencies", 10000, 0, SAME},
    {"cuGraphNodeGetDependencies", 12030, 0, "cuGraphNodeGetDependencies_v2"},
    {"cuGraphNodeGetDependentNodes", 10000, 0, SAME},
    {"cuGraphNodeGetDependentNodes", 12030, 0, "cuGraphNodeGetDependentNodes_v2"},
    {"cuGraphAddDependencies", 10000, 0, SAME},
    {"cuGraphAddDependencies", 12030, 0, "cuGraphAddDependencies_v2"},
    {"cuGraphRemoveDependencies", 10000, 0, SAME},
    {"cuGraphRemoveDependencies", 12030, 0, "cuGraphRemoveDependencies_v2"},
    {"cuGraphDestroyNode", 10000, 0, SAME},
    {"cuGraphInstantiate", 10000, 0, SAME},
    {"cuGraphInstantiate", 11000, 0, "cuGraphInstantiate_v2"},
    {"cuGraphInstantiateWithFlags", 11040, 0, SAME},
    {"cuGraphUpload", 11010, 0, SAME},
    {"cuGraphUpload", 11010, PT, "cuGraphUpload_ptsz"},
    {"cuGraphLaunch", 10000, 0, SAME},
    {"cuGraphLaunch", 10000, PT, "cuGraphLaunch_ptsz"},
    {"cuGraphExecDestroy", 10000, 0, SAME},
    {"cuGraphDestroy", 10000, 0, SAME},
    {"cuStreamBeginCapture", 10000, 0, SAME},
    {"cuStreamBeginCapture", 10000, PT, "cuStreamBeginCapture_ptsz"},
    {"cuStreamBeginCapture", 10010, 0, "cuStreamBeginCapture_v2"},
    {"cuStreamBeginCapture", 10010, PT, "cuStreamBeginCapture_v2_ptsz"},
    {"cuStreamBeginCaptureToGraph", 12030, 0, SAME},
    {"cuStreamBeginCaptureToGraph", 12030, PT, "cuStreamBeginCaptureToGraph_ptsz"},
    {"cuStreamEndCapture", 10000, 0, SAME},
    {"cuStreamEndCapture", 10000, PT, "cuStreamEndCapture_ptsz"},
    {"cuStreamIsCapturing", 10000, 0, SAME},
    {"cuStreamIsCapturing", 10000, PT, "cuStreamIsCapturing_ptsz"},
    {"cuStreamGetCaptureInfo", 10010, 0, SAME},
    {"cuStreamGetCaptureInfo", 10010, PT, "cuStreamGetCaptureInfo_ptsz"},
    {"cuStreamGetCaptureInfo", 11030, 0, "cuStreamGetCaptureInfo_v2"},
    {"cuStreamGetCaptureInfo", 11030, PT, "cuStreamGetCaptureInfo_v2_ptsz"},
    {"cuStreamGetCaptureInfo", 12030, 0, "cuStreamGetCaptureInfo_v3"},
    {"cuStreamGetCaptureInfo", 12030, PT, "cuStreamGetCaptureInfo_v3_ptsz"},
    {"cuStreamUpdateCaptureDependencies", 11030, 0, SAME},
    {"cuStreamUpdateCaptureDependencies", 11030, PT, "cuStreamUpdateCaptureDependencies_ptsz"},
    {"cuStreamUpdateCaptureDependencies", 12030, 0, "cuStreamUpdateCaptureDependencies_v2"},
    {"cuStreamUpdateCaptureDependencies", 12030, PT, "cuStreamUpdateCaptureDependencies_v2_ptsz"},
    {"cuGraphExecKernelNodeSetParams", 12000, 0, "cuGraphExecKernelNodeSetParams_v2"},
    {"cuGraphExecMemcpyNodeSetParams", 10020, 0, SAME},
    {"cuGraphExecMemsetNodeSetParams", 10020, 0, SAME},
    {"cuGraphExecHostNodeSetParams", 10020, 0, SAME},
    {"cuGraphExecChildGraphNodeSetParams", 11010, 0, SAME},
    {"cuGraphExecEventRecordNodeSetEvent", 11010, 0, SAME},
    {"cuGraphExecEventWaitNodeSetEvent", 11010, 0, SAME},
    {"cuThreadExchangeStreamCaptureMode", 10010, 0, SAME},
    {"cuGraphExecUpdate", 12000, 0, "cuGraphExecUpdate_v2"},
    {"cuGraphKernelNodeCopyAttributes", 11000, 0, SAME},
    {"cuGraphKernelNodeGetAttribute", 11000, 0, SAME},
    {"cuGraphKernelNodeSetAttribute", 11000, 0, SAME},
    {"cuGraphDebugDotPrint", 11030, 0, SAME},
    {"cuUserObjectCreate", 11030, 0, SAME},
    {"cuUserObjectRetain", 11030, 0, SAME},
    {"cuUserObjectRelease", 11030, 0, SAME},
    {"cuGraphRetainUserObject", 11030, 0, SAME},
    {"cuGraphReleaseUserObject", 11030, 0, SAME},
    {"cuGraphNodeSetEnabled", 11060, 0, SAME},
    {"cuGraphNodeGetEnabled", 11060, 0, SAME},
    {"cuGraphInstantiateWithParams", 12000, 0, SAME},
    {"cuGraphInstantiateWithParams", 12000, PT, "cuGraphInstantiateWithParams_ptsz"},
    {"cuGraphExecGetFlags", 12000, 0, SAME},
    {"cuGraphAddNode", 12020, 0, SAME},
    {"cuGraphAddNode", 12030, 0, "cuGraphAddNode_v2"},
    {"cuGraphNodeSetParams", 12020, 0, SAME},
    {"cuGraphExecNodeSetParams", 12020, 0, SAME},
    {"cuGraphConditionalHandleCreate", 12030, 0, SAME},
    {"cuDeviceRegisterAsyncNotification", 12040, 0, SAME},
    {"cuDeviceUnregisterAsyncNotification", 12040, 0, SAME},
    {"cuLogsRegisterCallback", 12090, 0, SAME},
    {"cuLogsUnregisterCallback", 12090, 0, SAME},
    {"cuLogsCurrent", 12090, 0, SAME},
    {"cuLogsDumpToFile", 12090, 0, SAME},
    {"cuLogsDumpToMemory", 12090, 0, SAME},
};

/* ---- the generated table, as data ---- */

struct table_row {
    const char *api, *sym, *pt_sym;
    int version, pt_version;
};

static const struct table_row table_rows[] = {
#define RGPU_PROC_VARIANT(api, ver, sym) {#api, #sym, NULL, ver, 0},
#define RGPU_PROC_VARIANT_PT(api, ver, sym, ptver, ptsym) {#api, #sym, #ptsym, ver, ptver},
#include "driver_tables.inc"
#undef RGPU_PROC_VARIANT
#undef RGPU_PROC_VARIANT_PT
};

static const char *const weak_symbols[] = {
#define RGPU_UNSUPPORTED(sym) #sym,
#include "driver_tables.inc"
#undef RGPU_UNSUPPORTED
    /* defined by procaddr.c and errors.c instead */
    "cuGetProcAddress",
    "cuGetProcAddress_v2",
    "cuGetErrorName",
    "cuGetErrorString",
};

static const char *const not_provided[] = {
#define RGPU_NOT_PROVIDED(api) #api,
#include "driver_tables.inc"
#undef RGPU_NOT_PROVIDED
};

struct error_row {
    CUresult value;
    const char *name, *text;
};

static const struct error_row error_rows[] = {
#define RGPU_ERROR(name, value, text) {name, #name, text},
#include "driver_tables.inc"
#undef RGPU_ERROR
};

/* ---- helpers ---- */

static int setup(void **state)
{
    (void)state;
    /* The unsupported-stub test reads the warning; pin the level in case the
     * library initialises logging from the environment. */
    setenv("RGPU_LOG", "warn", 1);
    lib = dlopen(RGPU_CUDA_LIB, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "dlopen(%s): %s\n", RGPU_CUDA_LIB, dlerror());
        return -1;
    }
    getproc = (getproc_v2_fn)dlsym(lib, "cuGetProcAddress_v2");
    return getproc ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    dlclose(lib);
    return 0;
}

/* dlsym() that must succeed: the address a lookup is expected to return. */
static void *must_sym(const char *name)
{
    void *p = dlsym(lib, name);
    if (p == NULL)
        fail_msg("libcuda.so.1 does not export %s", name);
    return p;
}

/* One lookup checked against an expected symbol (or NOT_FOUND with the
 * expected status when want is NULL). Returns 0 or prints why and returns 1,
 * so table-driven tests report every bad row, not just the first. */
static int check(const char *name, int version, cuuint64_t flags, const char *want,
                 CUdriverProcAddressQueryResult want_status)
{
    void *pfn = (void *)&check; /* must be overwritten, with NULL on failure */
    CUdriverProcAddressQueryResult status = (CUdriverProcAddressQueryResult)-1;
    CUresult r = getproc(name, &pfn, version, flags, &status);
    void *expect = want ? dlsym(lib, want) : NULL;
    if (want && expect == NULL) {
        print_error("%s %d %#llx: expected symbol %s is not exported\n", name, version,
                    (unsigned long long)flags, want);
        return 1;
    }
    CUresult want_r = want ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
    if (r != want_r || status != want_status || pfn != expect) {
        Dl_info info = {0};
        if (pfn && pfn != (void *)&check)
            dladdr(pfn, &info);
        const char *got = pfn == NULL ? "NULL" : info.dli_sname ? info.dli_sname : "(?)";
        print_error("\"%s\" %d %#llx: got r=%d status=%d %s, want r=%d status=%d %s\n", name,
                    version, (unsigned long long)flags, r, status, got, want_r, want_status,
                    want ? want : "NULL");
        return 1;
    }
    return 0;
}

static int check_found(const char *name, int version, cuuint64_t flags, const char *want)
{
    return check(name, version, flags, want, CU_GET_PROC_ADDRESS_SUCCESS);
}

/* ---- tests ---- */

/* Every request cudart 13.0 makes resolves to the observed variant. */
static void test_appendix_a(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(appendix_a); i++) {
        const struct request *q = &appendix_a[i];
        const char *want = q->want && strcmp(q->want, SAME) == 0 ? q->name : q->want;
        bad += check(q->name, q->version, (cuuint64_t)q->flags, want,
                     q->want ? CU_GET_PROC_ADDRESS_SUCCESS : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    }
    assert_int_equal(bad, 0);
    assert_int_equal(ARRAY_LEN(appendix_a), 440);
}

/* Every row of the generated table answers at its own version, with and
 * without the per-thread flag, and nothing answers below the oldest. */
static void test_every_table_row(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(table_rows); i++) {
        const struct table_row *t = &table_rows[i];
        int first = i == 0 || strcmp(table_rows[i - 1].api, t->api) != 0;
        int next = i + 1 < ARRAY_LEN(table_rows) && strcmp(table_rows[i + 1].api, t->api) == 0
                       ? table_rows[i + 1].version
                       : 1 << 30;
        if (first)
            bad +=
                check(t->api, t->version - 1, 0, NULL, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
        bad += check_found(t->api, t->version, 0, t->sym);
        bad += check_found(t->api, t->version, CU_GET_PROC_ADDRESS_LEGACY_STREAM, t->sym);
        if (t->pt_sym == NULL) {
            bad += check_found(t->api, t->version, PT, t->sym);
            continue;
        }
        int ptv = t->pt_version > t->version ? t->pt_version : t->version;
        if (ptv < next) {
            bad += check_found(t->api, ptv, PT, t->pt_sym);
            bad += check_found(t->api, ptv, 0, t->sym);
        }
        if (t->pt_version > t->version) /* before the per-thread form existed */
            bad += check_found(t->api, t->pt_version - 1, PT, t->sym);
    }
    assert_int_equal(bad, 0);
    assert_true(ARRAY_LEN(table_rows) > 500);
}

/* The examples the design was written around, spelled out. */
static void test_named_cases(void **state)
{
    (void)state;
    int bad = 0;
    bad += check_found("cuMemcpyHtoD", 3020, 0, "cuMemcpyHtoD_v2");
    bad += check_found("cuMemcpyHtoD", 7000, PT, "cuMemcpyHtoD_v2_ptds");
    bad += check_found("cuMemcpyHtoD", 3020, PT, "cuMemcpyHtoD_v2"); /* ptds is 7.0+ */
    bad += check_found("cuMemcpyHtoD", 7000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, "cuMemcpyHtoD_v2");
    bad += check_found("cuMemcpyHtoD", 7000, CU_GET_PROC_ADDRESS_DEFAULT, "cuMemcpyHtoD_v2");
    bad += check_found("cuMemcpyHtoD", 7000, PT | CU_GET_PROC_ADDRESS_LEGACY_STREAM,
                       "cuMemcpyHtoD_v2_ptds");
    bad += check_found("cuMemcpyHtoD", 2000, 0, "cuMemcpyHtoD");
    bad += check_found("cuLaunchKernel", 7000, PT, "cuLaunchKernel_ptsz");
    bad += check_found("cuCtxSynchronize", 2000, 0, "cuCtxSynchronize");
    bad += check_found("cuCtxSynchronize", 13000, 0, "cuCtxSynchronize_v2");
    bad += check_found("cuDevicePrimaryCtxRelease", 7000, 0, "cuDevicePrimaryCtxRelease");
    bad += check_found("cuDevicePrimaryCtxRelease", 11000, 0, "cuDevicePrimaryCtxRelease_v2");
    bad += check_found("cuCtxCreate", 99999, 0, "cuCtxCreate_v4"); /* newest wins */
    bad += check_found("cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2");
    bad += check("cuGraphAddNode", 12010, 0, NULL, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
    bad += check("cuInit", 0, 0, NULL, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
    bad += check("", 0, 0, NULL, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    bad += check("cuNoSuchFunction", 13000, 0, NULL, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    /* Names are base names: a versioned symbol name is not an API name. */
    bad += check("cuMemAlloc_v2", 13000, 0, NULL, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    bad += check("cuGLInit", 13000, 0, NULL, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    assert_int_equal(bad, 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    void *pfn = NULL;
    CUdriverProcAddressQueryResult status;
    assert_int_equal(getproc(NULL, &pfn, 13000, 0, &status), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(getproc("cuInit", NULL, 13000, 0, &status), CUDA_ERROR_INVALID_VALUE);
    /* symbolStatus is optional, on success and failure alike */
    assert_int_equal(getproc("cuInit", &pfn, 13000, 0, NULL), CUDA_SUCCESS);
    assert_ptr_equal(pfn, must_sym("cuInit"));
    assert_int_equal(getproc("", &pfn, 0, 0, NULL), CUDA_ERROR_NOT_FOUND);
    assert_null(pfn);
    assert_int_equal(getproc("cuGraphAddNode", &pfn, 12010, 0, NULL), CUDA_ERROR_NOT_FOUND);
    assert_null(pfn);
}

/* The CUDA 11.3 entry point: same answers, no status. */
static void test_legacy_entry_point(void **state)
{
    (void)state;
    getproc_v1_fn v1 = (getproc_v1_fn)must_sym("cuGetProcAddress");
    void *pfn = NULL;
    assert_int_equal(getproc("cuGetProcAddress", &pfn, 11030, 0, NULL), CUDA_SUCCESS);
    assert_ptr_equal(pfn, (void *)v1);
    assert_int_equal(v1("cuMemAlloc", &pfn, 3020, 0), CUDA_SUCCESS);
    assert_ptr_equal(pfn, must_sym("cuMemAlloc_v2"));
    assert_int_equal(v1("cuMemcpyDtoH", &pfn, 7000, PT), CUDA_SUCCESS);
    assert_ptr_equal(pfn, must_sym("cuMemcpyDtoH_v2_ptds"));
    assert_int_equal(v1("", &pfn, 0, 0), CUDA_ERROR_NOT_FOUND);
    assert_null(pfn);
    assert_int_equal(v1("cuGraphAddNode", &pfn, 12010, 0), CUDA_ERROR_NOT_FOUND);
    assert_null(pfn);
    assert_int_equal(v1(NULL, &pfn, 13000, 0), CUDA_ERROR_INVALID_VALUE);
}

/* Everything the stub driver exports is exported (a strong definition
 * elsewhere in client/ that forgot RGPU_API would make its symbol vanish);
 * graphics interop is not. */
static void test_exports(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(weak_symbols); i++) {
        if (dlsym(lib, weak_symbols[i]) == NULL) {
            print_error("%s is not exported by libcuda.so.1\n", weak_symbols[i]);
            bad++;
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(not_provided); i++) {
        if (dlsym(lib, not_provided[i]) != NULL) {
            print_error("%s (graphics interop) is exported\n", not_provided[i]);
            bad++;
        }
        bad += check(not_provided[i], 99999, 0, NULL, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    }
    assert_int_equal(bad, 0);
}

/* Count occurrences of needle in haystack. */
static int count_of(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* A fallback returns CUDA_ERROR_NOT_SUPPORTED, ignores its arguments and warns
 * once. The function is one rgpu has no reason to implement (checkpointing a
 * process on the GPU host); pick another if that ever changes. */
static void test_unsupported_fallback(void **state)
{
    (void)state;
    typedef CUresult (*fn_t)(int pid, int *tid);
    void *pfn = NULL;
    assert_int_equal(getproc("cuCheckpointProcessGetRestoreThreadId", &pfn, 12080, 0, NULL),
                     CUDA_SUCCESS);
    assert_ptr_equal(pfn, must_sym("cuCheckpointProcessGetRestoreThreadId"));
    fn_t fn = (fn_t)pfn;

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], 2) >= 0);
    int tid = -1;
    CUresult r1 = fn(1, &tid);
    CUresult r2 = fn(1, &tid);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    char buf[4096];
    ssize_t n, len = 0;
    while ((n = read(fds[0], buf + len, sizeof buf - 1 - (size_t)len)) > 0)
        len += n;
    close(fds[0]);
    buf[len] = '\0';

    assert_int_equal(r1, CUDA_ERROR_NOT_SUPPORTED);
    assert_int_equal(r2, CUDA_ERROR_NOT_SUPPORTED);
    assert_int_equal(r1, 801);
    assert_int_equal(tid, -1); /* arguments untouched */
    assert_int_equal(count_of(buf,
                              "cuCheckpointProcessGetRestoreThreadId is not supported by rgpu; "
                              "returning CUDA_ERROR_NOT_SUPPORTED"),
                     1);
}

static void test_error_strings(void **state)
{
    (void)state;
    error_fn name = (error_fn)must_sym("cuGetErrorName");
    error_fn text = (error_fn)must_sym("cuGetErrorString");
    void *pfn = NULL;
    assert_int_equal(getproc("cuGetErrorName", &pfn, 6000, 0, NULL), CUDA_SUCCESS);
    assert_ptr_equal(pfn, (void *)name);
    assert_int_equal(getproc("cuGetErrorString", &pfn, 6000, 0, NULL), CUDA_SUCCESS);
    assert_ptr_equal(pfn, (void *)text);

    static const struct error_row known[] = {
        {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
        {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
        {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
        {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
        {CUDA_ERROR_DEINITIALIZED, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
        {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
        {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
        {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
        {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
        {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
        {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS",
         "an illegal memory access was encountered"},
        {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
        {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
    };
    const char *s;
    for (size_t i = 0; i < ARRAY_LEN(known); i++) {
        s = NULL;
        assert_int_equal(name(known[i].value, &s), CUDA_SUCCESS);
        assert_string_equal(s, known[i].name);
        s = NULL;
        assert_int_equal(text(known[i].value, &s), CUDA_SUCCESS);
        assert_string_equal(s, known[i].text);
    }

    /* every generated row, both directions */
    for (size_t i = 0; i < ARRAY_LEN(error_rows); i++) {
        s = NULL;
        assert_int_equal(name(error_rows[i].value, &s), CUDA_SUCCESS);
        assert_string_equal(s, error_rows[i].name);
        s = NULL;
        assert_int_equal(text(error_rows[i].value, &s), CUDA_SUCCESS);
        assert_string_equal(s, error_rows[i].text);
        assert_true(s[0] != '\0');
    }
    assert_true(ARRAY_LEN(error_rows) >= 100);

    /* not a CUresult: NULL and INVALID_VALUE */
    static const int invalid[] = {9, 203, 998, 1000, 12345, -1};
    for (size_t i = 0; i < ARRAY_LEN(invalid); i++) {
        s = "stale";
        assert_int_equal(name((CUresult)invalid[i], &s), CUDA_ERROR_INVALID_VALUE);
        assert_null(s);
        s = "stale";
        assert_int_equal(text((CUresult)invalid[i], &s), CUDA_ERROR_INVALID_VALUE);
        assert_null(s);
    }
    assert_int_equal(name(CUDA_SUCCESS, NULL), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(text(CUDA_SUCCESS, NULL), CUDA_ERROR_INVALID_VALUE);
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appendix_a),
        cmocka_unit_test(test_every_table_row),
        cmocka_unit_test(test_named_cases),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_legacy_entry_point),
        cmocka_unit_test(test_exports),
        cmocka_unit_test(test_unsupported_fallback),
        cmocka_unit_test(test_error_strings),
    };
    /* clang-format on */
    return cmocka_run_group_tests_name("client_procaddr", tests, setup, teardown);
}
