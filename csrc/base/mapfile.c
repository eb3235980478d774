/* mapfile.c - read-only file mapping (POSIX mmap) and its truncation guard (see mapfile.h). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "base/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the SIGBUS guard's registry --------------------------------------------------------
 * A fixed table read by the signal handler without locks: a slot is claimed (used 0 -> 1)
 * at open, filled, then published by storing `size` last; the handler only looks at slots
 * with active > 0.  More than TG_GUARD_SLOTS mappings at once: the extra ones are unguarded
 * (they behave as before: SIGBUS). */
#define TG_GUARD_SLOTS 512
typedef struct {
    atomic_int used;
    atomic_int active; /* guards held */
    atomic_int broken; /* a SIGBUS was answered with zero pages */
    atomic_uintptr_t start;
    atomic_size_t size;
} guard_slot;
static guard_slot g_slots[TG_GUARD_SLOTS];
static struct sigaction g_previous;
static pthread_once_t g_install_once = PTHREAD_ONCE_INIT;
static atomic_int g_installed;

static void on_sigbus(int sig, siginfo_t *info, void *uctx) {
    const uintptr_t addr = (uintptr_t)info->si_addr;
    for (int i = 0; i < TG_GUARD_SLOTS; i++) {
        guard_slot *g = &g_slots[i];
        if (atomic_load(&g->active) <= 0) continue;
        const uintptr_t start = atomic_load(&g->start);
        const size_t size = atomic_load(&g->size);
        if (addr < start || addr - start >= size) continue;
        /* zero pages from the faulting page to the mapping's end (what follows the new end
         * of file would fault too); async-signal-safe in practice: one system call */
        const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        const uintptr_t from = addr & ~(page - 1);
        void *p = mmap((void *)from, start + size - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (p == MAP_FAILED) break; /* cannot repair: fall through to the previous handler */
        atomic_store(&g->broken, 1);
        return; /* the faulting read is retried and reads zeros */
    }
    if (g_previous.sa_flags & SA_SIGINFO) {
        if (g_previous.sa_sigaction != NULL) g_previous.sa_sigaction(sig, info, uctx);
        return;
    }
    if (g_previous.sa_handler == SIG_DFL || g_previous.sa_handler == SIG_IGN) {
        /* not ours: give the fault its default action (the retried access ends the process,
         * as without tokgeo); a hardware SIGBUS cannot be ignored meaningfully */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGBUS, &dfl, NULL);
        return;
    }
    g_previous.sa_handler(sig);
}

static void install_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &g_previous) == 0) atomic_store(&g_installed, 1);
}

static int claim_slot(const unsigned char *data, size_t size) {
    for (int i = 0; i < TG_GUARD_SLOTS; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&g_slots[i].used, &expected, 1)) {
            atomic_store(&g_slots[i].active, 0);
            atomic_store(&g_slots[i].broken, 0);
            atomic_store(&g_slots[i].start, (uintptr_t)data);
            atomic_store(&g_slots[i].size, size);
            return i;
        }
    }
    return -1;
}

static void release_slot(int i) {
    if (i < 0) return;
    atomic_store(&g_slots[i].size, 0);
    atomic_store(&g_slots[i].start, 0);
    atomic_store(&g_slots[i].used, 0);
}

static tg_status truncated(const tg_mapfile *m, const char *how) {
    return tg_fail(TG_ERR_IO,
                   "'%s' %s while tokgeo had it mapped (another process truncated or rewrote it in place); "
                   "its weights can no longer be trusted, so nothing was computed from them. Restore the file "
                   "and load it again (write checkpoints to a new file and rename it over the old one, which "
                   "leaves open mappings intact). NumPy arrays that view this file cannot be guarded: reading "
                   "them past the file's new end ends the process with SIGBUS",
                   m->path ? m->path : "?", how);
}

tg_status tg_mapfile_guard_begin(const tg_mapfile *m) {
    if (m == NULL || m->size == 0) return TG_OK;
    if (m->slot >= 0 && atomic_load(&g_slots[m->slot].broken)) return truncated(m, "was truncated");
    struct stat sb;
    if (m->fd >= 0 && fstat(m->fd, &sb) == 0 && sb.st_size >= 0 && (uintmax_t)sb.st_size < (uintmax_t)m->size) {
        char how[96];
        snprintf(how, sizeof how, "shrank from %zu to %lld bytes", m->size, (long long)sb.st_size);
        return truncated(m, how);
    }
    if (m->slot < 0) return TG_OK;
    pthread_once(&g_install_once, install_handler);
    if (!atomic_load(&g_installed)) return TG_OK; /* sigaction refused: unguarded, as before */
    atomic_fetch_add(&g_slots[m->slot].active, 1);
    return TG_OK;
}

tg_status tg_mapfile_guard_end(const tg_mapfile *m) {
    if (m == NULL || m->size == 0 || m->slot < 0 || !atomic_load(&g_installed)) return TG_OK;
    atomic_fetch_sub(&g_slots[m->slot].active, 1);
    if (atomic_load(&g_slots[m->slot].broken)) return truncated(m, "was truncated");
    return TG_OK;
}

/* ---- open / close ------------------------------------------------------------------------ */

tg_status tg_mapfile_open(const char *path, tg_mapfile **out) {
    *out = NULL;
    if (path == NULL) return tg_fail(TG_ERR_VALUE, "NULL path");
    /* O_NONBLOCK: opening a FIFO without it waits for a writer forever (the regular-file
     * check comes after open); it changes nothing for the regular files we map. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return tg_fail(TG_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return tg_fail(TG_ERR_IO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        const char *kind = S_ISDIR(sb.st_mode)    ? "a directory"
                           : S_ISFIFO(sb.st_mode) ? "a FIFO"
                           : S_ISCHR(sb.st_mode)  ? "a character device"
                           : S_ISBLK(sb.st_mode)  ? "a block device"
                           : S_ISSOCK(sb.st_mode) ? "a socket"
                                                  : "not a file";
        return tg_fail(TG_ERR_IO, "'%s' is not a regular file (it is %s); give the path of a file", path, kind);
    }
    if (sb.st_size < 0 || (uintmax_t)sb.st_size > (uintmax_t)SIZE_MAX) {
        close(fd);
        return tg_fail(TG_ERR_OVERFLOW, "'%s' is too large to map", path);
    }
    tg_mapfile *m = calloc(1, sizeof *m);
    size_t pl = strlen(path);
    char *copy = m != NULL ? malloc(pl + 1) : NULL;
    if (m == NULL || copy == NULL) {
        free(m);
        close(fd);
        return tg_fail(TG_ERR_NOMEM, "out of memory mapping '%s'", path);
    }
    memcpy(copy, path, pl + 1);
    m->path = copy;
    m->fd = fd;
    m->slot = -1;
    m->size = (size_t)sb.st_size;
    if (m->size > 0) {
        void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(copy);
            free(m);
            return tg_fail(TG_ERR_IO, "cannot map '%s': %s", path, strerror(e));
        }
        m->data = p;
        m->slot = claim_slot(m->data, m->size);
    }
    *out = m;
    return TG_OK;
}

void tg_mapfile_close(tg_mapfile *m) {
    if (m == NULL) return;
    release_slot(m->slot);
    if (m->data != NULL) munmap((void *)m->data, m->size);
    if (m->fd >= 0) close(m->fd);
    free(m->path);
    free(m);
}
