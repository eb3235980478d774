/* py_metrics.c - binding for tokgeo/metrics.h.  Internal functions (leading underscore) called by
 * tokgeo/metrics.py, which does the user-facing argument handling (axis moves, broadcasting,
 * dtype conversion, warnings).  Here: arrays -> tg_view without copies, GIL released around
 * the core call, outputs allocated as new NumPy arrays. */
#include "python/binding.h"

#include "base/blas.h" /* tg_bench_sgemm */

/* Borrowed ndarray -> view of any rank (the rules: tg_py_view_from_array in convert.c). */
static int to_view(PyObject *obj, const char *name, tg_view *v) { return tg_py_view_from_array(obj, name, -1, v); }

/* New float64 (or given type) array with the outer shape of v (all dims but the last). */
static PyArrayObject *outer_array(const tg_view *v, int typenum) {
    npy_intp dims[TG_MAX_NDIM];
    int nd = v->ndim > 0 ? v->ndim - 1 : 0;
    for (int k = 0; k < nd; k++) dims[k] = (npy_intp)v->shape[k];
    return (PyArrayObject *)PyArray_SimpleNew(nd, dims, typenum);
}

static int parse_alt(int alt) {
    if (alt < 0 || alt > 2) {
        tg_py_error("InvalidInputError", "alternative code %d out of range", alt);
        return -1;
    }
    return 0;
}

static PyObject *py_rowwise(PyObject *self, PyObject *args) {
    (void)self;
    int op;
    PyObject *ao, *bo;
    if (!PyArg_ParseTuple(args, "iOO", &op, &ao, &bo)) return NULL;
    tg_view a, b;
    if (to_view(ao, "a", &a) < 0) return NULL;
    if (bo != Py_None) {
        if (to_view(bo, "b", &b) < 0) return NULL;
    } else {
        b = a;
    }
    PyArrayObject *out = outer_array(&a, NPY_FLOAT64);
    if (out == NULL) return NULL;
    size_t nz = 0;
    tg_status st;
    double *po = (double *)PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    st = tg_rowwise((tg_rowop)op, &a, &b, po, &nz);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        Py_DECREF(out);
        return tg_py_raise(st);
    }
    return Py_BuildValue("Nn", (PyObject *)out, (Py_ssize_t)nz);
}

static PyObject *py_softmax(PyObject *self, PyObject *args) {
    (void)self;
    int kind, f32;
    PyObject *xo;
    double log_base;
    if (!PyArg_ParseTuple(args, "iOpd", &kind, &xo, &f32, &log_base)) return NULL;
    tg_view x;
    if (to_view(xo, "x", &x) < 0) return NULL;
    PyArrayObject *out;
    if (kind == TG_ENTROPY) {
        out = outer_array(&x, NPY_FLOAT64);
    } else {
        npy_intp dims[TG_MAX_NDIM];
        for (int k = 0; k < x.ndim; k++) dims[k] = (npy_intp)x.shape[k];
        out = (PyArrayObject *)PyArray_SimpleNew(x.ndim, dims, f32 ? NPY_FLOAT32 : NPY_FLOAT64);
    }
    if (out == NULL) return NULL;
    void *po = PyArray_DATA(out);
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_softmax((tg_softmax_kind)kind, &x, po, (kind != TG_ENTROPY && f32) ? TG_F32 : TG_F64, log_base);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        Py_DECREF(out);
        return tg_py_raise(st);
    }
    return (PyObject *)out;
}

static PyObject *py_cosine_matrix(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ao, *bo;
    int f32;
    if (!PyArg_ParseTuple(args, "OOp", &ao, &bo, &f32)) return NULL;
    tg_view a, b;
    if (to_view(ao, "a", &a) < 0) return NULL;
    if (bo != Py_None && to_view(bo, "b", &b) < 0) return NULL;
    if (a.ndim != 2 || (bo != Py_None && b.ndim != 2))
        return tg_py_error("InvalidInputError", "expected 2-D arrays [n, d]");
    npy_intp dims[2] = {(npy_intp)a.shape[0], (npy_intp)(bo != Py_None ? b.shape[0] : a.shape[0])};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(2, dims, f32 ? NPY_FLOAT32 : NPY_FLOAT64);
    if (out == NULL) return NULL;
    void *po = PyArray_DATA(out);
    size_t nz = 0;
    tg_status st;
    const tg_view *pb = bo != Py_None ? &b : NULL;
    Py_BEGIN_ALLOW_THREADS
    st = tg_cosine_matrix(&a, pb, po, f32 ? TG_F32 : TG_F64, &nz);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        Py_DECREF(out);
        return tg_py_raise(st);
    }
    return Py_BuildValue("Nn", (PyObject *)out, (Py_ssize_t)nz);
}

static PyObject *py_top_k(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ao, *bo;
    Py_ssize_t k;
    int excl;
    if (!PyArg_ParseTuple(args, "OOnp", &ao, &bo, &k, &excl)) return NULL;
    if (k < 0) return tg_py_error("InvalidInputError", "k must be >= 0");
    tg_view a, b;
    if (to_view(ao, "a", &a) < 0) return NULL;
    if (bo != Py_None && to_view(bo, "b", &b) < 0) return NULL;
    if (a.ndim != 2) return tg_py_error("InvalidInputError", "expected 2-D arrays [n, d]");
    npy_intp dims[2] = {(npy_intp)a.shape[0], (npy_intp)k};
    PyArrayObject *idx = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_INT64);
    PyArrayObject *val = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (idx == NULL || val == NULL) {
        Py_XDECREF(idx);
        Py_XDECREF(val);
        return NULL;
    }
    int64_t *pi = (int64_t *)PyArray_DATA(idx);
    double *pv = (double *)PyArray_DATA(val);
    const tg_view *pb = bo != Py_None ? &b : NULL;
    size_t nz = 0;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_top_k_similar(&a, pb, (size_t)k, excl != 0, pi, pv, &nz);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        Py_DECREF(idx);
        Py_DECREF(val);
        return tg_py_raise(st);
    }
    return Py_BuildValue("NNn", (PyObject *)idx, (PyObject *)val, (Py_ssize_t)nz);
}

static PyObject *py_histogram(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ao, *bo, *eo;
    int uniform, excl;
    if (!PyArg_ParseTuple(args, "OOOpp", &ao, &bo, &eo, &uniform, &excl)) return NULL;
    tg_view a, b;
    if (to_view(ao, "a", &a) < 0) return NULL;
    if (bo != Py_None && to_view(bo, "b", &b) < 0) return NULL;
    /* a private copy: the core checks the edges, then bins by them with the GIL released */
    PyArrayObject *edges = (PyArrayObject *)PyArray_FROMANY(eo, NPY_FLOAT64, 1, 1, NPY_ARRAY_CARRAY_RO | NPY_ARRAY_ENSURECOPY);
    if (edges == NULL) return NULL;
    npy_intp ne = PyArray_DIM(edges, 0);
    if (ne < 2) {
        Py_DECREF(edges);
        return tg_py_error("InvalidInputError", "need at least two bin edges");
    }
    npy_intp nb = ne - 1;
    PyArrayObject *counts = (PyArrayObject *)PyArray_SimpleNew(1, &nb, NPY_INT64);
    if (counts == NULL) {
        Py_DECREF(edges);
        return NULL;
    }
    const double *pe = (const double *)PyArray_DATA(edges);
    int64_t *pc = (int64_t *)PyArray_DATA(counts);
    const tg_view *pb = bo != Py_None ? &b : NULL;
    size_t nz = 0;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_similarity_histogram(&a, pb, pe, (size_t)nb, uniform != 0, excl != 0, pc, &nz);
    Py_END_ALLOW_THREADS
    Py_DECREF(edges);
    if (st != TG_OK) {
        Py_DECREF(counts);
        return tg_py_raise(st);
    }
    return Py_BuildValue("Nn", (PyObject *)counts, (Py_ssize_t)nz);
}

/* Allocates the four result arrays and the flags of a t-test over the outer shape of a. */
static int ttest_alloc(const tg_view *a, PyArrayObject *arr[5], tg_ttest_out *o) {
    for (int i = 0; i < 5; i++) {
        arr[i] = outer_array(a, i == 4 ? NPY_UINT8 : NPY_FLOAT64);
        if (arr[i] == NULL) {
            for (int j = 0; j < i; j++) Py_DECREF(arr[j]);
            return -1;
        }
    }
    o->statistic = (double *)PyArray_DATA(arr[0]);
    o->pvalue = (double *)PyArray_DATA(arr[1]);
    o->df = (double *)PyArray_DATA(arr[2]);
    o->cohen_d = (double *)PyArray_DATA(arr[3]);
    o->flags = (uint8_t *)PyArray_DATA(arr[4]);
    return 0;
}

static PyObject *ttest_finish(tg_status st, PyArrayObject *arr[5]) {
    if (st != TG_OK) {
        for (int i = 0; i < 5; i++) Py_DECREF(arr[i]);
        return tg_py_raise(st);
    }
    return Py_BuildValue("NNNNN", arr[0], arr[1], arr[2], arr[3], arr[4]);
}

/* The two-sample t-tests: independent (paired = 0, equal_var used) or related samples. */
static PyObject *ttest_two(PyObject *ao, PyObject *bo, int paired, int eq, int alt, int omit) {
    if (parse_alt(alt) < 0) return NULL;
    tg_view a, b;
    if (to_view(ao, "a", &a) < 0 || to_view(bo, "b", &b) < 0) return NULL;
    PyArrayObject *arr[5];
    tg_ttest_out o;
    if (ttest_alloc(&a, arr, &o) < 0) return NULL;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = paired ? tg_ttest_rel(&a, &b, (tg_alternative)alt, omit != 0, &o)
                : tg_ttest_ind(&a, &b, eq != 0, (tg_alternative)alt, omit != 0, &o);
    Py_END_ALLOW_THREADS
    return ttest_finish(st, arr);
}

static PyObject *py_ttest_ind(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ao, *bo;
    int eq, alt, omit;
    if (!PyArg_ParseTuple(args, "OOpip", &ao, &bo, &eq, &alt, &omit)) return NULL;
    return ttest_two(ao, bo, 0, eq, alt, omit);
}

static PyObject *py_ttest_rel(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ao, *bo;
    int alt, omit;
    if (!PyArg_ParseTuple(args, "OOip", &ao, &bo, &alt, &omit)) return NULL;
    return ttest_two(ao, bo, 1, 0, alt, omit);
}

static PyObject *py_ttest_1samp(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ao, *mo;
    int alt, omit;
    if (!PyArg_ParseTuple(args, "OOip", &ao, &mo, &alt, &omit)) return NULL;
    if (parse_alt(alt) < 0) return NULL;
    tg_view a;
    if (to_view(ao, "a", &a) < 0) return NULL;
    PyArrayObject *pm = (PyArrayObject *)PyArray_FROMANY(mo, NPY_FLOAT64, 0, 0, NPY_ARRAY_CARRAY_RO);
    if (pm == NULL) return NULL;
    size_t rows = 1;
    for (int k = 0; k + 1 < a.ndim; k++) rows *= (size_t)a.shape[k];
    if ((size_t)PyArray_SIZE(pm) != rows) {
        Py_DECREF(pm);
        return tg_py_error("InvalidInputError", "popmean must have one value per test");
    }
    PyArrayObject *arr[5];
    tg_ttest_out o;
    if (ttest_alloc(&a, arr, &o) < 0) {
        Py_DECREF(pm);
        return NULL;
    }
    const double *ppm = (const double *)PyArray_DATA(pm);
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_ttest_1samp(&a, ppm, (tg_alternative)alt, omit != 0, &o);
    Py_END_ALLOW_THREADS
    Py_DECREF(pm);
    return ttest_finish(st, arr);
}

static PyObject *py_corr(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *yo;
    int method, alt, omit;
    if (!PyArg_ParseTuple(args, "iOOip", &method, &xo, &yo, &alt, &omit)) return NULL;
    if (parse_alt(alt) < 0) return NULL;
    tg_view x, y;
    if (to_view(xo, "x", &x) < 0 || to_view(yo, "y", &y) < 0) return NULL;
    PyArrayObject *r = outer_array(&x, NPY_FLOAT64), *p = outer_array(&x, NPY_FLOAT64), *f = outer_array(&x, NPY_UINT8);
    if (!r || !p || !f) {
        Py_XDECREF(r);
        Py_XDECREF(p);
        Py_XDECREF(f);
        return NULL;
    }
    double *pr = (double *)PyArray_DATA(r), *pp = (double *)PyArray_DATA(p);
    uint8_t *pf = (uint8_t *)PyArray_DATA(f);
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_corr((tg_corr_method)method, &x, &y, (tg_alternative)alt, omit != 0, pr, pp, pf);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        Py_DECREF(r);
        Py_DECREF(p);
        Py_DECREF(f);
        return tg_py_raise(st);
    }
    return Py_BuildValue("NNN", r, p, f);
}

/* _special(kind, a, b, x) on equal-length 1-D float64 arrays: 0 ibeta(a, b, x),
 * 1 ibetac(a, b, x), 2 stdtr(df=a, t=x), 3 stdtri(df=a, q=x) (b ignored for 2 and 3). */
static PyObject *py_special(PyObject *self, PyObject *args) {
    (void)self;
    int kind;
    PyObject *ao, *bo, *xo;
    if (!PyArg_ParseTuple(args, "iOOO", &kind, &ao, &bo, &xo)) return NULL;
    if (kind < 0 || kind > 3) return tg_py_error("InvalidInputError", "unknown special function %d", kind);
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(ao, NPY_FLOAT64, 1, 1, NPY_ARRAY_CARRAY_RO);
    PyArrayObject *b = a ? (PyArrayObject *)PyArray_FROMANY(bo, NPY_FLOAT64, 1, 1, NPY_ARRAY_CARRAY_RO) : NULL;
    PyArrayObject *x = b ? (PyArrayObject *)PyArray_FROMANY(xo, NPY_FLOAT64, 1, 1, NPY_ARRAY_CARRAY_RO) : NULL;
    PyArrayObject *out = NULL;
    if (x != NULL) {
        npy_intp n = PyArray_DIM(x, 0);
        if (PyArray_DIM(a, 0) != n || PyArray_DIM(b, 0) != n) {
            tg_py_error("InvalidInputError", "arguments must have the same length");
        } else if ((out = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_FLOAT64)) != NULL) {
            const double *pa = PyArray_DATA(a), *pb = PyArray_DATA(b), *px = PyArray_DATA(x);
            double *po = PyArray_DATA(out);
            Py_BEGIN_ALLOW_THREADS
            for (npy_intp i = 0; i < n; i++) {
                switch (kind) {
                case 0: po[i] = tg_ibeta(pa[i], pb[i], px[i]); break;
                case 1: po[i] = tg_ibetac(pa[i], pb[i], px[i]); break;
                case 2: po[i] = tg_stdtr(pa[i], px[i]); break;
                default: po[i] = tg_stdtri(pa[i], px[i]); break;
                }
            }
            Py_END_ALLOW_THREADS
        }
    }
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(x);
    return (PyObject *)out;
}

static PyObject *py_bench_sgemm(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t m, n, k;
    int reps;
    if (!PyArg_ParseTuple(args, "nnni", &m, &n, &k, &reps)) return NULL;
    if (m <= 0 || n <= 0 || k <= 0 || reps <= 0) return tg_py_error("InvalidInputError", "m, n, k, reps must be positive");
    double secs = 0;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_bench_sgemm((size_t)m, (size_t)n, (size_t)k, reps, &secs);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) return tg_py_raise(st);
    return PyFloat_FromDouble(secs);
}

static PyMethodDef metrics_methods[] = {
    {"_rowwise", py_rowwise, METH_VARARGS, "_rowwise(op, a, b) -> (float64 [outer], n_zero)"},
    {"_softmax", py_softmax, METH_VARARGS, "_softmax(kind, x, float32_out, log_base) -> array"},
    {"_cosine_matrix", py_cosine_matrix, METH_VARARGS, "_cosine_matrix(a, b|None, float32_out) -> (matrix, n_zero)"},
    {"_top_k", py_top_k, METH_VARARGS, "_top_k(a, b|None, k, exclude_self) -> (idx, val, n_zero)"},
    {"_histogram", py_histogram, METH_VARARGS, "_histogram(a, b|None, edges, uniform, exclude_diag) -> (counts, n_zero)"},
    {"_ttest_ind", py_ttest_ind, METH_VARARGS, "_ttest_ind(a, b, equal_var, alt, omit) -> (t, p, df, d, flags)"},
    {"_ttest_rel", py_ttest_rel, METH_VARARGS, "_ttest_rel(a, b, alt, omit) -> (t, p, df, d, flags)"},
    {"_ttest_1samp", py_ttest_1samp, METH_VARARGS, "_ttest_1samp(a, popmean, alt, omit) -> (t, p, df, d, flags)"},
    {"_corr", py_corr, METH_VARARGS, "_corr(method, x, y, alt, omit) -> (r, p, flags)"},
    {"_special", py_special, METH_VARARGS, "_special(kind, a, b, x) -> float64 array"},
    {"_bench_sgemm", py_bench_sgemm, METH_VARARGS, "_bench_sgemm(m, n, k, reps) -> seconds"},
    {NULL, NULL, 0, NULL},
};

int tg_py_init_metrics(PyObject *m) { return PyModule_AddFunctions(m, metrics_methods); }
