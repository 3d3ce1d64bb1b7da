/* Finds and loads libwdpost_cuda.so at run time, so the package builds and
 * runs without nvcc or a GPU and the same binary uses a GPU where one is.
 *
 * Search order: $WDPOST_CUDA_LIB (when set, only that file: an explicit
 * choice must not silently pick another library), then the directory of the
 * running executable, then the dynamic linker's default path.
 * WDPOST_NO_GPU=1 skips loading altogether. A library that loads but reports
 * no device (no driver, CUDA_VISIBLE_DEVICES empty) leaves the CPU backend. */
#define _GNU_SOURCE
#include "internal.h"
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LIB_NAME "libwdpost_cuda.so"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static wdcuda_api api_store;
static const wdcuda_api *api;
static int device_total;
static char detail[2048];
static _Thread_local int thread_cpu_only;

static void note(const char *fmt, const char *a, const char *b) {
    size_t used = strlen(detail);
    if (used + 1 >= sizeof detail) return;
    if (used) snprintf(detail + used, sizeof detail - used, "; ");
    used = strlen(detail);
    snprintf(detail + used, sizeof detail - used, fmt, a, b);
}

/* 1: loaded and usable; 0: try the next candidate; -1: stop searching. */
static int try_load(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        note("%s: %s", path, e ? e : "dlopen failed");
        return 0;
    }
    wdcuda_api a;
    *(void **)&a.abi_version = dlsym(h, "wdcuda_abi_version");
    *(void **)&a.init = dlsym(h, "wdcuda_init");
    *(void **)&a.device_info = dlsym(h, "wdcuda_device_info");
    *(void **)&a.merkle_chunk_roots = dlsym(h, "wdcuda_merkle_chunk_roots");
    *(void **)&a.synthetic_row_hashes = dlsym(h, "wdcuda_synthetic_row_hashes");
    if (!a.abi_version || !a.init || !a.device_info || !a.merkle_chunk_roots ||
        !a.synthetic_row_hashes) {
        note("%s: %s", path, "missing wdcuda_* symbols");
        dlclose(h);
        return 0;
    }
    if (a.abi_version() != WDCUDA_ABI_VERSION) {
        char v[64];
        snprintf(v, sizeof v, "ABI version %d, this build needs %d", a.abi_version(),
                 WDCUDA_ABI_VERSION);
        note("%s: %s", path, v);
        dlclose(h);
        return 0;
    }
    char err[512] = "";
    int n = a.init(err, sizeof err);
    if (n <= 0) {
        /* the CUDA runtime is initialised now; leave it mapped rather than
         * run its teardown from dlclose */
        note("%s: no usable CUDA device (%s)", path, err[0] ? err : "device count 0");
        return -1;
    }
    api_store = a;
    api = &api_store;
    device_total = n;
    detail[0] = 0;
    char count[32];
    snprintf(count, sizeof count, "%d", n);
    note("loaded %s with %s CUDA device(s)", path, count);
    return 1;
}

static void load(void) {
    const char *off = getenv("WDPOST_NO_GPU");
    if (off && *off && strcmp(off, "0") != 0) {
        note("%s%s", "WDPOST_NO_GPU is set", "");
        return;
    }
    const char *env = getenv("WDPOST_CUDA_LIB");
    if (env && *env) {
        try_load(env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash && (size_t)(slash - exe) + sizeof("/" LIB_NAME) < sizeof exe) {
            strcpy(slash + 1, LIB_NAME);
            if (access(exe, F_OK) == 0) {
                int r = try_load(exe);
                if (r != 0) return;
            }
        }
    }
    try_load(LIB_NAME);
}

static void ensure_loaded(void) { pthread_once(&load_once, load); }

const wdcuda_api *wd_cuda(void) {
    ensure_loaded();
    return thread_cpu_only ? NULL : api;
}

void wd_thread_force_cpu(int force) { thread_cpu_only = force != 0; }

const char *wd_backend_name(void) { return wd_cuda() ? "cuda" : "cpu"; }

const char *wd_backend_detail(void) {
    ensure_loaded();
    return detail[0] ? detail : "no CUDA library found";
}

int wd_device_count(void) { return wd_cuda() ? device_total : 0; }

int wd_device_info(int index, wd_device_t *out) {
    const wdcuda_api *g = wd_cuda();
    if (!out) return wd_fail(WD_ERR_ARG, "device info: NULL output");
    if (!g) return wd_fail(WD_ERR_ARG, "no CUDA device: %s", wd_backend_detail());
    if (index < 0 || index >= device_total)
        return wd_fail(WD_ERR_ARG, "device index %d out of range (%d device(s))", index,
                       device_total);
    memset(out, 0, sizeof *out);
    char err[512] = "";
    if (g->device_info(index, out, err, sizeof err) != 0)
        return wd_fail(WD_ERR_DEVICE, "device %d: %s", index, err[0] ? err : "query failed");
    out->name[sizeof out->name - 1] = 0;
    if (out->cuda_cores <= 0)
        out->cuda_cores = out->sm_count * wd_cuda_cores_per_sm(out->cc_major, out->cc_minor);
    return WD_OK;
}
