/* convert.c - NumPy arrays <-> core views, the one place of each conversion rule:
 * ndarray -> tg_view (borrowed, no copy) for the metrics and reduce bindings, and the
 * read-only ndarray over memory the core owns (weights, captures, safetensors tensors). */
#include "python/binding.h"

#include <string.h>

int tg_py_view_from_array(PyObject *obj, const char *name, int ndim, tg_view *v) {
    if (!PyArray_Check(obj)) {
        tg_py_error("InvalidTypeError", "%s must be a numpy.ndarray", name);
        return -1;
    }
    PyArrayObject *arr = (PyArrayObject *)obj;
    int tn = PyArray_TYPE(arr);
    if ((tn != NPY_FLOAT32 && tn != NPY_FLOAT64) || !PyArray_ISNOTSWAPPED(arr) || !PyArray_ISALIGNED(arr)) {
        tg_py_error("InvalidTypeError",
                    "%s must be an aligned native float32/float64 array (convert with numpy.asarray(x, "
                    "dtype=numpy.float64))",
                    name);
        return -1;
    }
    int nd = PyArray_NDIM(arr);
    if (ndim == 2 && nd != 2) {
        tg_py_error("InvalidInputError", "%s must be 2-D [n, d], got %d dimension(s)", name, nd);
        return -1;
    }
    if (ndim >= 0 && nd != ndim) {
        tg_py_error("InvalidInputError", "%s must have %d dimension(s), got %d", name, ndim, nd);
        return -1;
    }
    if (nd > TG_MAX_NDIM) {
        tg_py_error("InvalidInputError", "%s has %d dimensions; at most %d are supported", name, nd, TG_MAX_NDIM);
        return -1;
    }
    npy_intp isz = PyArray_ITEMSIZE(arr);
    memset(v, 0, sizeof *v);
    v->data = PyArray_DATA(arr);
    v->dtype = tn == NPY_FLOAT32 ? TG_F32 : TG_F64;
    v->ndim = nd;
    for (int k = 0; k < nd; k++) {
        npy_intp st = PyArray_STRIDE(arr, k);
        if (st % isz != 0) {
            tg_py_error("InvalidInputError",
                        "%s has a byte stride that is not a multiple of its item size; pass "
                        "numpy.ascontiguousarray(%s)",
                        name, name);
            return -1;
        }
        v->shape[k] = (ptrdiff_t)PyArray_DIM(arr, k);
        v->stride[k] = (ptrdiff_t)(st / isz);
    }
    return 0;
}

PyObject *tg_py_readonly_view_descr(PyObject *owner, const void *data, int ndim, const npy_intp *shape,
                                    const npy_intp *strides_or_null, PyArray_Descr *descr) {
    if (owner == NULL) {
        Py_DECREF(descr);
        PyErr_SetString(PyExc_SystemError, "tg_py_readonly_view: NULL owner");
        return NULL;
    }
    /* flags 0: not writeable; numpy computes contiguity and alignment from the pointer */
    PyObject *arr = PyArray_NewFromDescr(&PyArray_Type, descr, ndim, (npy_intp *)shape, (npy_intp *)strides_or_null,
                                         (void *)data, 0, NULL); /* steals descr */
    if (arr == NULL) return NULL;
    Py_INCREF(owner);
    if (PyArray_SetBaseObject((PyArrayObject *)arr, owner) < 0) { /* steals owner, even on failure */
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

PyObject *tg_py_readonly_view(PyObject *owner, const void *data, int ndim, const npy_intp *shape,
                              const npy_intp *strides_or_null, int typenum) {
    PyArray_Descr *d = PyArray_DescrFromType(typenum);
    if (d == NULL) return NULL;
    return tg_py_readonly_view_descr(owner, data, ndim, shape, strides_or_null, d);
}
