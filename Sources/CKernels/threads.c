/* Thread count resolution and a minimal fork/join helper over pthreads. */
#define _GNU_SOURCE
#include "internal.h"
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#define WD_MAX_THREADS 1024

int wd_cpu_threads(int requested) {
    if (requested > 0) return requested > WD_MAX_THREADS ? WD_MAX_THREADS : requested;
#ifdef CPU_COUNT
    /* The affinity mask, not the machine: a processor pinned by a cgroup
     * cpuset must not start more threads than it may run. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n > WD_MAX_THREADS ? WD_MAX_THREADS : n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    return n > WD_MAX_THREADS ? WD_MAX_THREADS : (int)n;
}

typedef struct {
    void (*fn)(void *, int);
    void *ctx;
    int tid;
} job_t;

static void *job_main(void *arg) {
    job_t *j = arg;
    j->fn(j->ctx, j->tid);
    return NULL;
}

int wd_parallel(int n, void (*fn)(void *ctx, int tid), void *ctx) {
    if (n <= 1) {
        fn(ctx, 0);
        return WD_OK;
    }
    job_t *jobs = calloc((size_t)n, sizeof *jobs);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    char *started = calloc((size_t)n, 1);
    if (!jobs || !th || !started) {
        free(jobs); free(th); free(started);
        for (int t = 0; t < n; t++) fn(ctx, t);
        return WD_OK;
    }
    for (int t = 1; t < n; t++) {
        jobs[t] = (job_t){fn, ctx, t};
        started[t] = pthread_create(&th[t], NULL, job_main, &jobs[t]) == 0;
    }
    fn(ctx, 0);
    /* Work items are handed out through shared counters inside fn, so a
     * thread that failed to start only needs its tid run here. */
    for (int t = 1; t < n; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        else fn(ctx, t);
    }
    free(jobs); free(th); free(started);
    return WD_OK;
}
