/* mapfile.c - read-only file mapping (POSIX mmap). */
#define _POSIX_C_SOURCE 200809L
#include "base/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
    if (m == NULL) {
        close(fd);
        return tg_fail(TG_ERR_NOMEM, "out of memory mapping '%s'", path);
    }
    m->size = (size_t)sb.st_size;
    if (m->size > 0) {
        void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(m);
            return tg_fail(TG_ERR_IO, "cannot map '%s': %s", path, strerror(e));
        }
        m->data = p;
    }
    close(fd);
    *out = m;
    return TG_OK;
}

void tg_mapfile_close(tg_mapfile *m) {
    if (m == NULL) return;
    if (m->data != NULL) munmap((void *)m->data, m->size);
    free(m);
}
