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
} tg_mapfile;

/* Maps `path` read-only. TG_ERR_IO (with the OS reason and the path) when it cannot be
 * opened or mapped or is not a regular file (a directory, FIFO, device: refused without
 * blocking, since the file is opened O_NONBLOCK and checked before any read). */
tg_status tg_mapfile_open(const char *path, tg_mapfile **out);
void tg_mapfile_close(tg_mapfile *m);

#ifdef __cplusplus
}
#endif
#endif /* TG_MAPFILE_H */
