/*
 * base/mapfile.h - a read-only, private mapping of a whole file (internal: the safetensors
 * reader and the tokenizer's file loader use it).
 *
 * The mapping is immutable for its lifetime: model weights are exposed as views into it,
 * so whoever hands out views must keep the tg_mapfile alive (the Python binding ties it to
 * the base object of every array).  An empty file maps to data == NULL, size == 0.
 */
#ifndef TG_MAPFILE_H
#define TG_MAPFILE_H

#include "tokgeo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_mapfile {
    const unsigned char *data;
    size_t size;
    int fd;     /* kept open: tg_mapfile_guard_begin re-checks the file's size through it */
    char *path; /* owned copy, for messages */
    int slot;   /* index in the SIGBUS guard's registry, -1 when not registered */
} tg_mapfile;

/* Maps `path` read-only. TG_ERR_IO (with the OS reason and the path) when it cannot be
 * opened or mapped or is not a regular file (a directory, FIFO, device: refused without
 * blocking, since the file is opened O_NONBLOCK and checked before any read). */
tg_status tg_mapfile_open(const char *path, tg_mapfile **out);
void tg_mapfile_close(tg_mapfile *m);

/* The truncation guard.  Another process may truncate (or rewrite in place) a mapped file;
 * reading a page past its new end then raises SIGBUS, which would kill the process (a
 * notebook kernel).  Wrap every read of the mapping by tokgeo's own C code in
 *
 *     if ((s = tg_mapfile_guard_begin(m)) != TG_OK) return s;   // refuses a shrunk file
 *     ... read m->data ...
 *     s = tg_mapfile_guard_end(m);                              // TG_ERR_IO if it broke
 *
 * guard_begin fstat()s the file and refuses (TG_ERR_IO naming it) when it is shorter than
 * the mapping or an earlier read broke it; then, while the guard is held, a SIGBUS at an
 * address inside the mapping is answered by mapping anonymous zero pages over the rest of
 * it (mmap MAP_FIXED) and flagging it broken, so the read finishes on zeros and guard_end
 * returns TG_ERR_IO (the caller discards its result).  A broken mapping stays refused.
 * The handler is installed once (sigaction, SA_SIGINFO) and chains to the handler it
 * replaced for every other SIGBUS (or restores the default action, which then ends the
 * process as before).  Thread-safe: any number of threads may hold guards on any mappings.
 * NOT covered: reads by other code (NumPy arrays viewing the mapping, in another thread or
 * after guard_end): those still die with SIGBUS, which no library can turn into an error
 * for code it does not run.  Guards nest; begin and end must pair. */
tg_status tg_mapfile_guard_begin(const tg_mapfile *m);
tg_status tg_mapfile_guard_end(const tg_mapfile *m);

#ifdef __cplusplus
}
#endif
#endif /* TG_MAPFILE_H */
