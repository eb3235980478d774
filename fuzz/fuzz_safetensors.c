/* fuzz_safetensors.c - libFuzzer target for the safetensors reader (tg_st_open_buffer).
 *
 * Build: cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DTOKGEO_FUZZ=ON \
 *          -DTOKGEO_BUILD_PYTHON=OFF && cmake --build build/fuzz --target fuzz_safetensors
 * Run:   build/fuzz/fuzz_safetensors -max_total_time=60 fuzz/corpus/fuzz_safetensors
 *
 * Every input must be either rejected with TG_ERR_FORMAT (and a non-empty, NUL-terminated
 * message) or accepted with tensors that lie inside the input, tile the data buffer, and
 * can be found by name; ASan/UBSan catch any out-of-bounds read or overflow on the way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokgeo/tokgeo.h"

#include "base/internal.h" /* tg_mul_size */

#define FUZZ_CHECK(c)                                                         \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "fuzz_safetensors: invariant failed: %s\n", #c);  \
            abort();                                                          \
        }                                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    /* copy into an exactly-sized heap block so ASan sees any read past the end */
    unsigned char *copy = malloc(size ? size : 1);
    if (copy == NULL) return 0;
    if (size) memcpy(copy, data, size);
    tg_safetensors *st = NULL;
    tg_status s = tg_st_open_buffer(size ? copy : NULL, size, &st);
    if (s != TG_OK) {
        FUZZ_CHECK(st == NULL);
        FUZZ_CHECK(s == TG_ERR_FORMAT || s == TG_ERR_NOMEM);
        FUZZ_CHECK(tg_last_error()[0] != '\0');
        free(copy);
        return 0;
    }
    size_t n = tg_st_count(st), end = 0;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        const tg_st_tensor *t = tg_st_at(st, i);
        FUZZ_CHECK(t != NULL && t->ndim >= 0 && t->ndim <= TG_ST_MAX_NDIM);
        FUZZ_CHECK(t->file_offset <= size && t->nbytes <= size - t->file_offset);
        FUZZ_CHECK((const unsigned char *)t->data == copy + t->file_offset);
        FUZZ_CHECK(i == 0 || t->file_offset == end);
        end = t->file_offset + t->nbytes;
        size_t elems = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_CHECK(t->shape[d] >= 0);
            if (t->shape[d] == 0) elems = 0;
            else if (elems) FUZZ_CHECK(tg_mul_size(elems, (size_t)t->shape[d], &elems));
        }
        size_t bytes = 0;
        FUZZ_CHECK(tg_mul_size(elems, tg_st_dtype_size(t->dtype), &bytes) && bytes == t->nbytes);
        for (size_t k = 0; k < t->nbytes; k++) sum += ((const unsigned char *)t->data)[k];
        FUZZ_CHECK(tg_st_find(st, t->name) == t);
        (void)strlen(tg_st_dtype_name(t->dtype));
    }
    FUZZ_CHECK(n == 0 || end == size);
    for (size_t i = 0; i < tg_st_metadata_count(st); i++) {
        const char *k, *v;
        size_t kl, vl;
        FUZZ_CHECK(tg_st_metadata_at(st, i, &k, &kl, &v, &vl));
        FUZZ_CHECK(k[kl] == '\0' && v[vl] == '\0');
        if (strlen(k) == kl) FUZZ_CHECK(tg_st_metadata(st, k) != NULL);
    }
    FUZZ_CHECK(tg_st_find(st, "") == NULL || tg_st_find(st, "")->name[0] == '\0');
    tg_st_close(st);
    free(copy);
    return (int)(sum & 0); /* keep the reads */
}
