/*
 * py_safetensors.c - binding of the safetensors reader: a handle type that owns the
 * tg_safetensors (and the mapping, or a buffer export of a bytes-like object) and hands
 * out read-only NumPy views whose base is the handle, so the memory lives as long as the
 * last array.  Policy (BF16, unaligned tensors, nice errors) lives in tokgeo/safetensors.py.
 *
 *   _C.st_open(path) -> SafetensorsHandle          (GIL released while the header is parsed)
 *   _C.st_open_buffer(bytes_like) -> SafetensorsHandle
 *   h.tensors() -> [(name, dtype, shape, file_offset, nbytes), ...] in file order
 *   h.metadata() -> {str: str}   h.view(name) -> read-only ndarray (KeyError if absent)
 *   h.path -> str | None         h.file_size -> int
 */
#include "python/binding.h"

#include <stdint.h>

typedef struct {
    PyObject_HEAD
    tg_safetensors *st;
    Py_buffer buffer; /* held for st_open_buffer handles (buffer.obj != NULL) */
    PyObject *path;   /* str or None */
} StHandle;

/* ---- the handle type ---- */

static void handle_dealloc(StHandle *self) {
    tg_st_close(self->st);
    self->st = NULL;
    if (self->buffer.obj != NULL) PyBuffer_Release(&self->buffer);
    Py_CLEAR(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int dtype_typenum(tg_st_dtype d) {
    switch (d) {
    case TG_ST_BOOL: return NPY_BOOL;
    case TG_ST_U8: return NPY_UINT8;
    case TG_ST_I8: return NPY_INT8;
    case TG_ST_I16: return NPY_INT16;
    case TG_ST_U16: return NPY_UINT16;
    case TG_ST_F16: return NPY_HALF;
    case TG_ST_BF16: return NPY_UINT16; /* raw bits: NumPy has no bfloat16 */
    case TG_ST_I32: return NPY_INT32;
    case TG_ST_U32: return NPY_UINT32;
    case TG_ST_F32: return NPY_FLOAT32;
    case TG_ST_F64: return NPY_FLOAT64;
    case TG_ST_I64: return NPY_INT64;
    case TG_ST_U64: return NPY_UINT64;
    default: return -1;
    }
}

static PyObject *shape_tuple(const tg_st_tensor *t) {
    PyObject *tup = PyTuple_New(t->ndim);
    if (tup == NULL) return NULL;
    for (int i = 0; i < t->ndim; i++) {
        PyObject *v = PyLong_FromLongLong((long long)t->shape[i]);
        if (v == NULL) {
            Py_DECREF(tup);
            return NULL;
        }
        PyTuple_SET_ITEM(tup, i, v);
    }
    return tup;
}

static PyObject *handle_tensors(StHandle *self, PyObject *unused) {
    (void)unused;
    size_t n = tg_st_count(self->st);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL) return NULL;
    for (size_t i = 0; i < n; i++) {
        const tg_st_tensor *t = tg_st_at(self->st, i);
        PyObject *shape = shape_tuple(t);
        if (shape == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyObject *item = Py_BuildValue("(s s N n n)", t->name, tg_st_dtype_name(t->dtype), shape,
                                       (Py_ssize_t)t->file_offset, (Py_ssize_t)t->nbytes);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

static PyObject *handle_metadata(StHandle *self, PyObject *unused) {
    (void)unused;
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    size_t n = tg_st_metadata_count(self->st);
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        size_t kl, vl;
        if (!tg_st_metadata_at(self->st, i, &k, &kl, &v, &vl)) break;
        PyObject *key = PyUnicode_DecodeUTF8(k, (Py_ssize_t)kl, "strict");
        PyObject *val = key ? PyUnicode_DecodeUTF8(v, (Py_ssize_t)vl, "strict") : NULL;
        if (val == NULL || PyDict_SetItem(d, key, val) < 0) {
            Py_XDECREF(key);
            Py_XDECREF(val);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(val);
    }
    return d;
}

static PyObject *handle_view(StHandle *self, PyObject *arg) {
    Py_ssize_t len;
    const char *name = PyUnicode_AsUTF8AndSize(arg, &len);
    if (name == NULL) return NULL;
    const tg_st_tensor *t = (strlen(name) == (size_t)len) ? tg_st_find(self->st, name) : NULL;
    if (t == NULL) {
        PyErr_SetObject(PyExc_KeyError, arg);
        return NULL;
    }
    npy_intp shape[TG_ST_MAX_NDIM];
    for (int i = 0; i < t->ndim; i++) {
        if ((uint64_t)t->shape[i] > (uint64_t)NPY_MAX_INTP)
            return tg_py_error("FormatError", "tensor '%s': dimension %lld is too large for this platform", t->name,
                               (long long)t->shape[i]);
        shape[i] = (npy_intp)t->shape[i];
    }
    PyArray_Descr *d = PyArray_DescrFromType(dtype_typenum(t->dtype));
    if (d == NULL) return NULL;
#if NPY_BYTE_ORDER == NPY_BIG_ENDIAN
    {
        /* safetensors is little-endian: describe the bytes as they are (a view, no swap) */
        PyArray_Descr *le = PyArray_DescrNewByteorder(d, NPY_LITTLE);
        Py_DECREF(d);
        if (le == NULL) return NULL;
        d = le;
    }
#endif
    return tg_py_readonly_view_descr((PyObject *)self, t->data, t->ndim, shape, NULL, d);
}

static PyObject *handle_get_path(StHandle *self, void *closure) {
    (void)closure;
    return Py_NewRef(self->path);
}

static PyObject *handle_get_file_size(StHandle *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(tg_st_file_size(self->st));
}

static PyObject *handle_get_count(StHandle *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(tg_st_count(self->st));
}

static PyMethodDef handle_methods[] = {
    {"tensors", (PyCFunction)handle_tensors, METH_NOARGS,
     "tensors() -> list of (name, dtype, shape, file_offset, nbytes) in file order"},
    {"metadata", (PyCFunction)handle_metadata, METH_NOARGS, "metadata() -> dict[str, str] (empty if none)"},
    {"view", (PyCFunction)handle_view, METH_O,
     "view(name) -> read-only ndarray over the file's bytes (base: this handle); BF16 as uint16"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef handle_getset[] = {
    {"path", (getter)handle_get_path, NULL, "path given to st_open (str), or None for a buffer", NULL},
    {"file_size", (getter)handle_get_file_size, NULL, "size of the file or buffer in bytes", NULL},
    {"count", (getter)handle_get_count, NULL, "number of tensors", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject StHandleType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tokgeo._C.SafetensorsHandle",
    .tp_basicsize = sizeof(StHandle),
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An open, validated safetensors file (internal; use tokgeo.safetensors.SafetensorsFile).\n"
              "Arrays from view() keep it, and so the mapping, alive.",
    .tp_methods = handle_methods,
    .tp_getset = handle_getset,
};

static PyObject *py_st_open(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *fs = NULL; /* bytes */
    if (!PyUnicode_FSConverter(arg, &fs)) return NULL;
    PyObject *path_str = PyOS_FSPath(arg);
    if (path_str == NULL) {
        Py_DECREF(fs);
        return NULL;
    }
    if (PyBytes_Check(path_str)) {
        PyObject *s = PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(path_str));
        Py_DECREF(path_str);
        path_str = s;
        if (path_str == NULL) {
            Py_DECREF(fs);
            return NULL;
        }
    }
    const char *cpath = PyBytes_AS_STRING(fs);
    if ((size_t)PyBytes_GET_SIZE(fs) != strlen(cpath)) {
        Py_DECREF(fs);
        Py_DECREF(path_str);
        return tg_py_error("InvalidInputError", "the path contains a NUL character");
    }
    tg_safetensors *st = NULL;
    tg_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tg_st_open(cpath, &st);
    Py_END_ALLOW_THREADS
    Py_DECREF(fs);
    if (s != TG_OK) {
        Py_DECREF(path_str);
        return tg_py_raise(s);
    }
    StHandle *h = PyObject_New(StHandle, &StHandleType);
    if (h == NULL) {
        tg_st_close(st);
        Py_DECREF(path_str);
        return NULL;
    }
    h->st = st;
    memset(&h->buffer, 0, sizeof h->buffer);
    h->path = path_str;
    return (PyObject *)h;
}

static PyObject *py_st_open_buffer(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    tg_safetensors *st = NULL;
    tg_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tg_st_open_buffer(view.buf, (size_t)view.len, &st);
    Py_END_ALLOW_THREADS
    if (s != TG_OK) {
        PyBuffer_Release(&view);
        return tg_py_raise(s);
    }
    StHandle *h = PyObject_New(StHandle, &StHandleType);
    if (h == NULL) {
        tg_st_close(st);
        PyBuffer_Release(&view);
        return NULL;
    }
    h->st = st;
    h->buffer = view;
    h->path = Py_NewRef(Py_None);
    return (PyObject *)h;
}

static PyMethodDef st_functions[] = {
    {"st_open", py_st_open, METH_O, "st_open(path) -> SafetensorsHandle (validates the whole header)"},
    {"st_open_buffer", py_st_open_buffer, METH_O,
     "st_open_buffer(bytes_like) -> SafetensorsHandle (holds the buffer; views point into it)"},
    {NULL, NULL, 0, NULL},
};

int tg_py_init_safetensors(PyObject *m) {
    if (PyType_Ready(&StHandleType) < 0) return -1;
    Py_INCREF(&StHandleType);
    if (PyModule_AddObject(m, "SafetensorsHandle", (PyObject *)&StHandleType) < 0) {
        Py_DECREF(&StHandleType);
        return -1;
    }
    return PyModule_AddFunctions(m, st_functions);
}
