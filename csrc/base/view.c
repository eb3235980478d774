/* view.c - strided views: the shape check and the row offset behind every routine that reads
 * a tg_view as a batch of rows along its last axis (metrics, statistics).  The row walker
 * itself is inline in base/internal.h. */
#include "base/internal.h"

tg_status tg_view_rows(const tg_view *v, const char *name, size_t *rows, size_t *len) {
    if (v == NULL) return tg_fail(TG_ERR_VALUE, "%s: missing array", name);
    if (v->dtype != TG_F32 && v->dtype != TG_F64)
        return tg_fail(TG_ERR_TYPE, "%s: dtype code %d is not float32/float64", name, (int)v->dtype);
    if (v->ndim < 0 || v->ndim > TG_MAX_NDIM)
        return tg_fail(TG_ERR_VALUE, "%s: %d dimensions (at most %d supported)", name, v->ndim, TG_MAX_NDIM);
    size_t r = 1, total;
    for (int k = 0; k < v->ndim; k++) {
        if (v->shape[k] < 0) return tg_fail(TG_ERR_VALUE, "%s: negative extent in dimension %d", name, k);
        if (k < v->ndim - 1 && !tg_mul_size(r, (size_t)v->shape[k], &r))
            return tg_fail(TG_ERR_OVERFLOW, "%s: too many rows", name);
    }
    size_t n = v->ndim ? (size_t)v->shape[v->ndim - 1] : 1;
    if (!tg_mul_size(r, n, &total)) return tg_fail(TG_ERR_OVERFLOW, "%s: too many elements", name);
    if (total > 0 && v->data == NULL) return tg_fail(TG_ERR_VALUE, "%s: NULL data", name);
    *rows = r;
    *len = n;
    return TG_OK;
}

ptrdiff_t tg_view_row_offset(const tg_view *v, size_t r) {
    ptrdiff_t off = 0;
    for (int k = v->ndim - 2; k >= 0; k--) {
        size_t e = (size_t)v->shape[k];
        off += (ptrdiff_t)(r % e) * v->stride[k];
        r /= e;
    }
    return off;
}
