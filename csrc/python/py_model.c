/* py_model.c - binding of the GPT-2 engine (tokgeo/gpt2.h).
 *
 *   _C.Model(config: tuple, paths: list[str])      opens the weights (views into mappings)
 *     .tensors() -> list[(name, ndarray, copied)]   read-only float32 views, base = the Model
 *     .plan(B, T, want: bytes) -> dict              arena layout and sizes (no allocation)
 *     .forward(ids, start, length, want, budget=-1) -> (Arena | None, plan dict)
 *                                                   one plan; None (nothing allocated) when
 *                                                   arena + scratch > budget >= 0; runs
 *                                                   with the GIL released
 *     .owned_bytes, .lm_head_tied
 *   _C.Arena                                       owns one forward's captures
 *     .view(offset, shape, strides) -> ndarray      read-only float32 view, base = the Arena
 *     .nbytes
 *   _C.softmax_rows(x float32 [R, V]) -> float32 [R, V]
 *   _C.capture_table() -> tuple of rows             the C capture table (tg_gpt2.h): (name,
 *                                                   kind, per_block, transformer_lens, dims,
 *                                                   select_axis, select_index, what); kind
 *                                                   indexes the `want` rows and the plan
 *
 * The Python layer (tokgeo/model.py, tokgeo/cache.py) owns the public API; this file only
 * moves buffers and releases the GIL.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "python/binding.h"

#include "base/internal.h" /* tg_physical_memory */
#include "gpt2/testing.h"  /* tg_gpt2_time_products, tg_softmax_rows_f32 */

/* ------------------------------------------------------------------ Arena */

typedef struct {
    PyObject_HEAD float *data;
    size_t nbytes;   /* bytes the views may cover */
    size_t capacity; /* bytes of the mapping */
} ArenaObject;

/* One-slot pool: the most recently released arena mapping is kept (at most
 * POOL_MAX_FRACTION of physical memory) and reused by the next run that fits in it, so a
 * loop of runs does not pay the kernel's page zeroing again and again.  The forward writes
 * every byte of every capture, so stale contents never show.  Touched with the GIL held.
 * tokgeo.model.release_cached_memory() empties it. */
static void *pool_ptr = NULL;
static size_t pool_size = 0;

static size_t pool_limit(void) { return tg_physical_memory() / 4; }

static void *arena_alloc(size_t need, size_t *capacity) {
    *capacity = 0;
    if (need == 0) return NULL;
    if (pool_ptr != NULL && pool_size >= need && pool_size / 2 <= need) {
        void *p = pool_ptr;
        *capacity = pool_size;
        pool_ptr = NULL;
        pool_size = 0;
        return p;
    }
    if (pool_ptr != NULL) { /* does not fit: give it back first, keeping the peak low */
        tg_gpt2_free_buffer(pool_ptr, pool_size);
        pool_ptr = NULL;
        pool_size = 0;
    }
    void *p = tg_gpt2_alloc_buffer(need);
    if (p != NULL) *capacity = need;
    return p;
}

static void arena_release(void *p, size_t capacity) {
    if (p == NULL) return;
    if (capacity >= ((size_t)1 << 20) && capacity <= pool_limit()) {
        if (pool_ptr != NULL) tg_gpt2_free_buffer(pool_ptr, pool_size);
        pool_ptr = p;
        pool_size = capacity;
        return;
    }
    tg_gpt2_free_buffer(p, capacity);
}

static PyObject *py_release_cached_memory(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    size_t n = pool_size;
    if (pool_ptr != NULL) tg_gpt2_free_buffer(pool_ptr, pool_size);
    pool_ptr = NULL;
    pool_size = 0;
    return PyLong_FromSize_t(n);
}

static PyObject *py_pooled_bytes(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyLong_FromSize_t(pool_ptr != NULL ? pool_size : 0);
}

static void arena_dealloc(ArenaObject *self) {
    arena_release(self->data, self->capacity);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A read-only float32 ndarray over [data + offset] with the given shape and byte strides,
 * after checking that every element lies inside [data, data + nbytes). base = owner. */
static PyObject *make_view(PyObject *owner, const void *data, size_t nbytes, Py_ssize_t offset, PyObject *shape_o,
                           PyObject *strides_o) {
    npy_intp dims[NPY_MAXDIMS], strides[NPY_MAXDIMS];
    PyObject *sh = PySequence_Fast(shape_o, "shape must be a sequence");
    if (sh == NULL) return NULL;
    PyObject *sd = PySequence_Fast(strides_o, "strides must be a sequence");
    if (sd == NULL) {
        Py_DECREF(sh);
        return NULL;
    }
    Py_ssize_t nd = PySequence_Fast_GET_SIZE(sh);
    if (nd > NPY_MAXDIMS || nd != PySequence_Fast_GET_SIZE(sd)) {
        Py_DECREF(sh);
        Py_DECREF(sd);
        return tg_py_error("InvalidInputError", "shape and strides must have the same length (at most %d)", NPY_MAXDIMS);
    }
    long long lo = offset, hi = offset; /* byte range touched */
    bool empty = false;
    for (Py_ssize_t i = 0; i < nd; i++) {
        dims[i] = (npy_intp)PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(sh, i));
        strides[i] = (npy_intp)PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(sd, i));
        if (PyErr_Occurred()) {
            Py_DECREF(sh);
            Py_DECREF(sd);
            return NULL;
        }
        if (dims[i] < 0 || dims[i] > ((npy_intp)1 << 40) || strides[i] > ((npy_intp)1 << 40) || strides[i] < -((npy_intp)1 << 40)) {
            Py_DECREF(sh);
            Py_DECREF(sd);
            return tg_py_error("InvalidInputError", "bad view dimension");
        }
        if (dims[i] == 0) empty = true;
        long long ext = (long long)(dims[i] > 0 ? dims[i] - 1 : 0) * (long long)strides[i];
        if (ext < 0) lo += ext; else hi += ext;
    }
    Py_DECREF(sh);
    Py_DECREF(sd);
    if (!empty && (offset < 0 || lo < 0 || (unsigned long long)hi + 4 > nbytes)) {
        return tg_py_error("InvalidInputError", "view [%lld, %lld] outside the %zu-byte buffer", lo, hi + 4, nbytes);
    }
    return tg_py_readonly_view(owner, (const char *)data + (empty ? 0 : offset), (int)nd, dims, strides, NPY_FLOAT32);
}

static PyObject *arena_view(ArenaObject *self, PyObject *args) {
    Py_ssize_t offset;
    PyObject *shape, *strides;
    if (!PyArg_ParseTuple(args, "nOO", &offset, &shape, &strides)) return NULL;
    return make_view((PyObject *)self, self->data, self->nbytes, offset, shape, strides);
}

static PyObject *arena_nbytes(ArenaObject *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(self->nbytes);
}

static PyMethodDef arena_methods[] = {
    {"view", (PyCFunction)arena_view, METH_VARARGS, "view(offset, shape, strides) -> read-only float32 ndarray"},
    {NULL, NULL, 0, NULL},
};
static PyGetSetDef arena_getset[] = {
    {"nbytes", (getter)arena_nbytes, NULL, "bytes owned by the arena", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ArenaType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tokgeo._C.Arena",
    .tp_basicsize = sizeof(ArenaObject),
    .tp_dealloc = (destructor)arena_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The one buffer a forward pass wrote its captures into (internal).",
    .tp_methods = arena_methods,
    .tp_getset = arena_getset,
};

/* ------------------------------------------------------------------ Model */

typedef struct {
    PyObject_HEAD tg_gpt2 *model;
} ModelObject;

static void model_dealloc(ModelObject *self) {
    tg_gpt2_close(self->model);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int parse_config(PyObject *t, tg_gpt2_config *c) {
    long long nl, nh, ne, nc, nv, ni;
    double eps;
    int act, saw, sinv;
    if (!PyArg_ParseTuple(t, "LLLLLLdipp", &nl, &nh, &ne, &nc, &nv, &ni, &eps, &act, &saw, &sinv)) return -1;
    memset(c, 0, sizeof *c);
    c->n_layer = nl;
    c->n_head = nh;
    c->n_embd = ne;
    c->n_ctx = nc;
    c->n_vocab = nv;
    c->n_inner = ni;
    c->layer_norm_eps = eps;
    c->activation = (tg_gpt2_activation)act;
    c->scale_attn_weights = saw != 0;
    c->scale_attn_by_inverse_layer_idx = sinv != 0;
    return 0;
}

static PyObject *model_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    (void)kwds;
    PyObject *cfg_t, *paths_o;
    if (!PyArg_ParseTuple(args, "O!O", &PyTuple_Type, &cfg_t, &paths_o)) return NULL;
    tg_gpt2_config cfg;
    if (parse_config(cfg_t, &cfg) < 0) return NULL;
    PyObject *seq = PySequence_Fast(paths_o, "paths must be a list of str");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    const char **paths = calloc(n > 0 ? (size_t)n : 1, sizeof *paths);
    PyObject **enc = calloc(n > 0 ? (size_t)n : 1, sizeof *enc);
    PyObject *result = NULL;
    if (paths == NULL || enc == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(seq, i), &enc[i])) goto done;
        paths[i] = PyBytes_AS_STRING(enc[i]);
    }
    tg_gpt2 *m = NULL;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_gpt2_open(&cfg, paths, (size_t)n, &m);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        tg_py_raise(st);
        goto done;
    }
    ModelObject *self = (ModelObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        tg_gpt2_close(m);
        goto done;
    }
    self->model = m;
    result = (PyObject *)self;
done:
    if (enc)
        for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(enc[i]);
    free(enc);
    free(paths);
    Py_DECREF(seq);
    return result;
}

static PyObject *model_tensors(ModelObject *self, PyObject *unused) {
    (void)unused;
    size_t n = tg_gpt2_tensor_count(self->model);
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        tg_gpt2_tensor t;
        tg_status st = tg_gpt2_tensor_at(self->model, i, &t);
        if (st != TG_OK) {
            Py_DECREF(list);
            return tg_py_raise(st);
        }
        PyObject *shape = t.ndim == 1 ? Py_BuildValue("(L)", (long long)t.shape[0])
                                      : Py_BuildValue("(LL)", (long long)t.shape[0], (long long)t.shape[1]);
        PyObject *strides = t.ndim == 1 ? Py_BuildValue("(i)", 4) : Py_BuildValue("(Li)", (long long)t.shape[1] * 4, 4);
        size_t nbytes = (size_t)t.shape[0] * (t.ndim > 1 ? (size_t)t.shape[1] : 1) * 4;
        PyObject *arr = (shape && strides) ? make_view((PyObject *)self, t.data, nbytes, 0, shape, strides) : NULL;
        Py_XDECREF(shape);
        Py_XDECREF(strides);
        PyObject *item = arr ? Py_BuildValue("(sNO)", t.name, arr, t.copied ? Py_True : Py_False) : NULL;
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}

static int want_from_bytes(PyObject *o, size_t expected, const uint8_t **out) {
    if (!PyBytes_Check(o) || (size_t)PyBytes_GET_SIZE(o) != expected) {
        PyErr_Format(PyExc_ValueError, "want must be bytes of length %zu", expected);
        return -1;
    }
    *out = (const uint8_t *)PyBytes_AS_STRING(o);
    return 0;
}

/* (shape, byte strides, byte offset in a slot) of every capture row under plan p */
static PyObject *plan_views(const tg_gpt2_plan *p) {
    size_t n = tg_gpt2_capture_count();
    PyObject *views = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; views != NULL && i < n; i++) {
        tg_gpt2_view v;
        tg_status st = tg_gpt2_capture_view(p, i, &v);
        PyObject *shape = st == TG_OK ? PyTuple_New(v.ndim) : NULL, *strides = shape ? PyTuple_New(v.ndim) : NULL;
        for (int a = 0; strides != NULL && a < v.ndim; a++) {
            PyTuple_SET_ITEM(shape, a, PyLong_FromSize_t(v.shape[a]));
            PyTuple_SET_ITEM(strides, a, PyLong_FromSize_t(v.strides[a]));
        }
        PyObject *row = strides ? Py_BuildValue("(OOn)", shape, strides, (Py_ssize_t)v.offset) : NULL;
        Py_XDECREF(shape);
        Py_XDECREF(strides);
        if (row == NULL) {
            if (st != TG_OK) tg_py_raise(st);
            Py_CLEAR(views);
            break;
        }
        PyTuple_SET_ITEM(views, (Py_ssize_t)i, row);
    }
    return views;
}

static PyObject *plan_dict(const tg_gpt2_plan *p) {
    PyObject *off = PyTuple_New(TG_HOOK_COUNT), *cnt = PyTuple_New(TG_HOOK_COUNT), *lf = PyTuple_New(TG_HOOK_COUNT);
    PyObject *slots = PyTuple_New((Py_ssize_t)(TG_HOOK_COUNT * p->n_layer));
    PyObject *views = plan_views(p);
    if (!off || !cnt || !lf || !slots || !views) goto fail;
    for (int k = 0; k < TG_HOOK_COUNT; k++) {
        PyTuple_SET_ITEM(off, k, p->offset[k] == SIZE_MAX ? PyLong_FromLong(-1) : PyLong_FromSize_t(p->offset[k]));
        PyTuple_SET_ITEM(cnt, k, PyLong_FromSize_t(p->count[k]));
        PyTuple_SET_ITEM(lf, k, PyLong_FromSize_t(p->layer_floats[k]));
    }
    for (size_t i = 0; i < TG_HOOK_COUNT * p->n_layer; i++) PyTuple_SET_ITEM(slots, (Py_ssize_t)i, PyLong_FromLong(p->slot[i]));
    return Py_BuildValue("{sNsNsNsNsNsnsnsnsnsO}", "offset", off, "count", cnt, "layer_floats", lf, "slot", slots, "views",
                         views, "n_layer", (Py_ssize_t)p->n_layer, "arena_bytes", (Py_ssize_t)p->arena_bytes, "scratch_bytes", (Py_ssize_t)p->scratch_bytes,
                         "run_layers", (Py_ssize_t)p->run_layers, "need_head", p->need_head ? Py_True : Py_False);
fail:
    Py_XDECREF(views);
    Py_XDECREF(off);
    Py_XDECREF(cnt);
    Py_XDECREF(lf);
    Py_XDECREF(slots);
    return NULL;
}

static PyObject *model_plan(ModelObject *self, PyObject *args) {
    Py_ssize_t B, T;
    PyObject *want_o;
    if (!PyArg_ParseTuple(args, "nnO", &B, &T, &want_o)) return NULL;
    const tg_gpt2_config *c = tg_gpt2_get_config(self->model);
    const uint8_t *want;
    if (want_from_bytes(want_o, (size_t)TG_HOOK_COUNT * (size_t)c->n_layer, &want) < 0) return NULL;
    if (B < 0 || T < 0) return tg_py_error("InvalidInputError", "negative batch or length");
    tg_gpt2_plan p;
    tg_status st = tg_gpt2_plan_make(c, (size_t)B, (size_t)T, want, &p);
    if (st != TG_OK) return tg_py_raise(st);
    PyObject *d = plan_dict(&p);
    tg_gpt2_plan_free(&p);
    return d;
}

/* A private int64 copy (always a copy: the core checks the ids, then reads them again with
 * the GIL released, so the caller's array must not be the one another thread can write). */
static PyArrayObject *as_i64(PyObject *o, int nd, const char *what) {
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(o, NPY_INT64, nd, nd,
                                                        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_ENSURECOPY);
    if (a == NULL) {
        PyErr_Clear();
        tg_py_error("InvalidTypeError", "%s must be an integer array with %d dimension(s)", what, nd);
    }
    return a;
}

static PyObject *model_forward(ModelObject *self, PyObject *args) {
    PyObject *ids_o, *start_o, *len_o, *want_o;
    long long budget = -1; /* bytes; < 0: no limit */
    if (!PyArg_ParseTuple(args, "OOOO|L", &ids_o, &start_o, &len_o, &want_o, &budget)) return NULL;
    const tg_gpt2_config *c = tg_gpt2_get_config(self->model);
    const uint8_t *want;
    if (want_from_bytes(want_o, (size_t)TG_HOOK_COUNT * (size_t)c->n_layer, &want) < 0) return NULL;
    PyArrayObject *ids = as_i64(ids_o, 2, "ids");
    PyArrayObject *start = ids ? as_i64(start_o, 1, "start") : NULL;
    PyArrayObject *len = start ? as_i64(len_o, 1, "length") : NULL;
    PyObject *result = NULL;
    tg_gpt2_plan p = {0};
    ArenaObject *arena = NULL;
    if (len == NULL) goto done;
    npy_intp B = PyArray_DIM(ids, 0), T = PyArray_DIM(ids, 1);
    if (PyArray_DIM(start, 0) != B || PyArray_DIM(len, 0) != B) {
        tg_py_error("InvalidInputError", "start and length must have one entry per row of ids (%zd)", (Py_ssize_t)B);
        goto done;
    }
    tg_status st = tg_gpt2_plan_make(c, (size_t)B, (size_t)T, want, &p);
    if (st != TG_OK) {
        tg_py_raise(st);
        goto done;
    }
    if (budget >= 0 && (p.arena_bytes > (unsigned long long)budget ||
                        p.scratch_bytes > (unsigned long long)budget - p.arena_bytes)) {
        result = Py_BuildValue("(ON)", Py_None, plan_dict(&p)); /* over budget: the caller explains */
        goto done;
    }
    arena = PyObject_New(ArenaObject, &ArenaType);
    if (arena == NULL) goto done;
    arena->nbytes = 0;
    arena->data = arena_alloc(p.arena_bytes, &arena->capacity);
    if (arena->data != NULL) arena->nbytes = p.arena_bytes;
    if (p.arena_bytes && arena->data == NULL) {
        tg_py_error("TokgeoMemoryError", "cannot allocate %zu bytes for the captured activations", p.arena_bytes);
        goto done;
    }
    const int64_t *idp = PyArray_DATA(ids), *sp = PyArray_DATA(start), *lp = PyArray_DATA(len);
    Py_BEGIN_ALLOW_THREADS
    st = tg_gpt2_forward(self->model, &p, idp, sp, lp, arena->data);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        tg_py_raise(st);
        goto done;
    }
    result = Py_BuildValue("(ON)", (PyObject *)arena, plan_dict(&p));
done:
    Py_XDECREF(arena);
    tg_gpt2_plan_free(&p);
    Py_XDECREF(ids);
    Py_XDECREF(start);
    Py_XDECREF(len);
    return result;
}

static PyObject *model_owned_bytes(ModelObject *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(tg_gpt2_owned_bytes(self->model));
}
static PyObject *model_lm_head_tied(ModelObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(tg_gpt2_get_weights(self->model)->lm_head_tied);
}

static PyMethodDef model_methods[] = {
    {"tensors", (PyCFunction)model_tensors, METH_NOARGS, "tensors() -> list of (name, read-only ndarray, copied)"},
    {"plan", (PyCFunction)model_plan, METH_VARARGS, "plan(B, T, want) -> dict"},
    {"forward", (PyCFunction)model_forward, METH_VARARGS, "forward(ids, start, length, want) -> (Arena, plan dict)"},
    {NULL, NULL, 0, NULL},
};
static PyGetSetDef model_getset[] = {
    {"owned_bytes", (getter)model_owned_bytes, NULL, "bytes of weights converted or copied", NULL},
    {"lm_head_tied", (getter)model_lm_head_tied, NULL, "True when the logits use wte", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tokgeo._C.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "GPT-2 weights mapped from safetensors files (internal; use tokgeo.GPT2).",
    .tp_methods = model_methods,
    .tp_getset = model_getset,
    .tp_new = model_new,
};

/* ------------------------------------------------------------------ functions */

static PyObject *py_softmax_rows(PyObject *self, PyObject *arg) {
    (void)self;
    PyArrayObject *x = (PyArrayObject *)PyArray_FROMANY(arg, NPY_FLOAT32, 2, 2, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED);
    if (x == NULL) return NULL;
    npy_intp dims[2] = {PyArray_DIM(x, 0), PyArray_DIM(x, 1)};
    PyArrayObject *y = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (y == NULL) {
        Py_DECREF(x);
        return NULL;
    }
    const float *xp = PyArray_DATA(x);
    float *yp = PyArray_DATA(y);
    Py_BEGIN_ALLOW_THREADS
    tg_softmax_rows_f32(xp, dims[1], (size_t)dims[0], (size_t)dims[1], yp, dims[1]);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    return (PyObject *)y;
}

static PyObject *py_capture_table(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    size_t n = tg_gpt2_capture_count();
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t != NULL && i < n; i++) {
        const tg_gpt2_capture *r = tg_gpt2_capture_at(i);
        PyObject *dims = PyTuple_New(r->ndim);
        for (int a = 0; dims != NULL && a < r->ndim; a++)
            PyTuple_SET_ITEM(dims, a, PyUnicode_FromString(tg_gpt2_dim_symbol(r->dims[a])));
        PyObject *row = dims ? Py_BuildValue("(siOONiis)", r->name, (int)r->kind, r->per_block ? Py_True : Py_False,
                                             r->transformer_lens ? Py_True : Py_False, dims, r->select_axis,
                                             r->select_index, r->what)
                             : NULL;
        if (row == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, row);
    }
    return t;
}

static PyObject *py_time_products(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cfg_t;
    Py_ssize_t B, T;
    int logits;
    if (!PyArg_ParseTuple(args, "O!nnp", &PyTuple_Type, &cfg_t, &B, &T, &logits)) return NULL;
    tg_gpt2_config cfg;
    if (parse_config(cfg_t, &cfg) < 0) return NULL;
    if (B < 1 || T < 1) return tg_py_error("InvalidInputError", "batch and length must be positive");
    double sec = 0;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_gpt2_time_products(&cfg, (size_t)B, (size_t)T, logits != 0, &sec);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) return tg_py_raise(st);
    return PyFloat_FromDouble(sec);
}

static PyMethodDef functions[] = {
    {"release_cached_memory", py_release_cached_memory, METH_NOARGS, "frees the pooled arena; returns its size in bytes"},
    {"pooled_bytes", py_pooled_bytes, METH_NOARGS, "bytes of the pooled arena (0 if none)"},
    {"time_products", py_time_products, METH_VARARGS, "time_products(config, B, T, with_logits) -> seconds (benchmark floor)"},
    {"softmax_rows", py_softmax_rows, METH_O, "softmax_rows(x float32 [R, V]) -> float32 [R, V] (stable, per row)"},
    {"capture_table", py_capture_table, METH_NOARGS, "the C capture table: one tuple per readable name"},
    {NULL, NULL, 0, NULL},
};

int tg_py_init_model(PyObject *m) {
    if (PyType_Ready(&ArenaType) < 0 || PyType_Ready(&ModelType) < 0) return -1;
    Py_INCREF(&ArenaType);
    if (PyModule_AddObject(m, "Arena", (PyObject *)&ArenaType) < 0) {
        Py_DECREF(&ArenaType);
        return -1;
    }
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(m, "Model", (PyObject *)&ModelType) < 0) {
        Py_DECREF(&ModelType);
        return -1;
    }
    return PyModule_AddFunctions(m, functions);
}
