/* Starting an external processor: fork/exec with what posix_spawn cannot do
 * (PR_SET_PDEATHSIG), and a child that starts clean whatever the slave's
 * threads have done to their signal masks and dispositions. */
#define _GNU_SOURCE
#include "kernels.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* Closes every descriptor from `from` up except `keep`. close_range when the
 * kernel has it (one call); otherwise one close per possible descriptor.
 * Async-signal-safe (no /proc walk, which would allocate). */
static void close_from(int from, int keep) {
#if defined(__linux__) && defined(SYS_close_range)
    int ok = 1;
    if (keep > from && syscall(SYS_close_range, (unsigned)from, (unsigned)keep - 1, 0u) != 0) ok = 0;
    if (ok && syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0) return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 1 << 20) max = 1 << 20;
    for (int fd = from; fd < max; fd++)
        if (fd != keep) close(fd);
}

/* Only async-signal-safe calls from here on: the slave has other threads, and
 * one of them may have held a lock (malloc's) at the moment of the fork. */
static void child(const char *file, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd,
                  int report, pid_t parent) {
    int e;
    /* Its own process group, so that killing the group kills all it starts. */
    if (setpgid(0, 0) != 0) goto fail;

    /* Default dispositions for every signal: a handled signal would otherwise
     * be reset by exec anyway, but an ignored one (SIGPIPE, SIGTERM under some
     * runtimes) would stay ignored in the processor. */
    struct sigaction dfl;
    dfl.sa_handler = SIG_DFL;
    dfl.sa_flags = 0;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        if (sigaction(sig, &dfl, NULL) == 0) continue;
#if defined(__linux__) && defined(SYS_rt_sigaction)
        /* glibc refuses the two signals it reserves (32, 33), which an
         * ignoring ancestor can still have left ignored: ask the kernel. All
         * zeros is SIG_DFL, no flags, empty mask, in every layout. */
        unsigned long kernel_dfl[8] = {0};
        (void)syscall(SYS_rt_sigaction, sig, kernel_dfl, NULL, (size_t)8);
#endif
    }

#ifdef __linux__
    /* Dies with the slave, even a SIGKILLed one. The kernel sends it when the
     * *thread* that forked exits, so the caller forks from a thread that lives
     * as long as the process (see Spawner.swift). Only this direct child gets
     * it: its own children do not (a fork clears it), so after a SIGKILL of the
     * slave they are re-parented and live on until they exit or write to the
     * closed pipe; a slave that stops any other way kills the whole group. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) goto fail;
    /* The slave may have died between the fork and the prctl: then nobody
     * sends the signal, and the new parent is someone else. */
    if (getppid() != parent) _exit(127);
#else
    (void)parent;
#endif

    /* Move the three ends above 2 first, so that dup2 never overwrites one of
     * them (a slave started with a closed stdin gets pipe ends 0…2). */
    int report_hi = fcntl(report, F_DUPFD_CLOEXEC, 3);
    if (report_hi < 0) goto fail;
    report = report_hi;
    int fds[3] = {in_fd, out_fd, err_fd};
    for (int i = 0; i < 3; i++) {
        fds[i] = fcntl(fds[i], F_DUPFD, 3);
        if (fds[i] < 0) goto fail;
    }
    for (int i = 0; i < 3; i++)
        if (dup2(fds[i], i) < 0) goto fail; /* dup2 clears close-on-exec on the copy */
    /* Nothing else of the slave's reaches the processor: not another job's
     * pipe end (which would keep that job's stdin or stdout open), not a socket. */
    close_from(3, report);

    /* Last, with the dispositions at default: a signal pending in the mask
     * inherited from the forking thread is delivered now, as it would be to a
     * fresh process. */
    sigset_t empty;
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, NULL) != 0) goto fail;

    execvpe(file, argv, envp);
fail:
    e = errno;
    while (write(report, &e, sizeof e) < 0 && errno == EINTR) {}
    _exit(127);
}

int wd_spawn(const char *file, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd,
             int32_t *pid_out) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();

    /* No signal handler of the slave's may run in the child between the fork
     * and the reset of its dispositions: block everything across the fork and
     * restore the caller's mask in the parent. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) child(file, argv, envp, in_fd, out_fd, err_fd, report[1], parent);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        return fork_errno;
    }

    /* EOF: exec succeeded (the write end was close-on-exec). An int: the errno
     * of the step that failed, and the child has exited. */
    int child_errno = 0;
    ssize_t n;
    while ((n = read(report[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {}
    close(report[0]);
    if (n == (ssize_t)sizeof child_errno) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return child_errno != 0 ? child_errno : ECHILD;
    }
    *pid_out = pid;
    return 0;
}

int wd_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno;
}
