/* py_reduce.c - binding for the reductions (PCA, t-SNE, trustworthiness, eigh).
 *
 * Internal functions (the typed public API is tokgeo/_reduce.py, which normalises dtypes
 * and memory layout before calling here):
 *   _eigh(a)                                       -> (w [n], V [n, n] rows = eigenvectors)
 *   _pca(x, k, method, center, seed, n_oversamples, n_iter)
 *                                                  -> (eigenvalues [k], components [k, d],
 *                                                      mean [d], total_variance)
 *   _pca_transform(x, mean | None, components)     -> projection [n, k]
 *   _tsne(x, y0, method (0 exact, 1 Barnes-Hut, 2 FFT), metric, perplexity, early_exaggeration, exaggeration_iter,
 *         learning_rate, max_iter, n_iter_without_progress, min_grad_norm, angle[, approximate, seed])
 *                                                  -> (embedding [n, dim], kl, n_iter)
 *   _tsne_affinities(x, method, metric, perplexity[, approximate, seed]) -> (indptr, indices, values)  CSR
 *     (approximate: 1 = the approximate neighbour search, seeded by seed)
 *   _trustworthiness(x, emb, k)                     -> float
 * x arguments: 2-D float32/float64 ndarrays in native byte order, aligned, with strides that
 * are multiples of the item size (any order, sliced, negative strides: read in place).
 */
#include "python/binding.h"

#include <stdlib.h>
#include <string.h>

/* Borrowed 2-D ndarray -> view (the rules: tg_py_view_from_array in convert.c). */
static int view_from_array(PyObject *obj, const char *name, tg_view *v) {
    return tg_py_view_from_array(obj, name, 2, v);
}

static PyArrayObject *new_f64(int nd, npy_intp *dims) {
    return (PyArrayObject *)PyArray_ZEROS(nd, dims, NPY_FLOAT64, 0);
}

static PyObject *py_eigh(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "O", &obj)) return NULL;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(obj, NPY_FLOAT64, 2, 2, NPY_ARRAY_ENSURECOPY | NPY_ARRAY_C_CONTIGUOUS);
    if (a == NULL) return NULL;
    npy_intp n = PyArray_DIM(a, 0), n_cols = PyArray_DIM(a, 1); /* read before a is released */
    if (n_cols != n) {
        Py_DECREF(a);
        return tg_py_error("InvalidInputError", "eigh needs a square matrix, got %ld x %ld", (long)n, (long)n_cols);
    }
    PyArrayObject *w = new_f64(1, &n);
    if (!w) {
        Py_DECREF(a);
        return NULL;
    }
    tg_status st;
    double *ad = PyArray_DATA(a), *wd = PyArray_DATA(w);
    Py_BEGIN_ALLOW_THREADS
    st = tg_eigh(ad, (size_t)n, wd);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        Py_DECREF(a);
        Py_DECREF(w);
        return tg_py_raise(st);
    }
    return Py_BuildValue("(NN)", w, a);
}

static PyObject *py_pca(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo;
    Py_ssize_t k, nover, niter;
    int method, center;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OnipKnn", &xo, &k, &method, &center, &seed, &nover, &niter)) return NULL;
    tg_view x;
    if (view_from_array(xo, "x", &x) < 0) return NULL;
    if (k < 1 || nover < 0 || niter < 0) return tg_py_error("InvalidInputError", "n_components must be >= 1");
    npy_intp d = x.shape[1];
    npy_intp kd[2] = {k, d}, kk = k;
    PyArrayObject *ev = new_f64(1, &kk), *comp = new_f64(2, kd), *mean = new_f64(1, &d);
    if (!ev || !comp || !mean) goto fail;
    tg_pca_options opt = {method == 1 ? TG_PCA_RANDOMIZED : TG_PCA_EXACT, center != 0, (uint64_t)seed, (size_t)nover,
                          (size_t)niter};
    double tv = 0.0;
    tg_status st;
    double *evd = PyArray_DATA(ev), *cd = PyArray_DATA(comp), *md = PyArray_DATA(mean);
    Py_BEGIN_ALLOW_THREADS
    st = tg_pca(&x, (size_t)k, &opt, evd, cd, md, &tv);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        tg_py_raise(st);
        goto fail;
    }
    return Py_BuildValue("(NNNd)", ev, comp, mean, tv);
fail:
    Py_XDECREF(ev);
    Py_XDECREF(comp);
    Py_XDECREF(mean);
    return NULL;
}

static PyObject *py_pca_transform(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *mo, *co;
    if (!PyArg_ParseTuple(args, "OOO", &xo, &mo, &co)) return NULL;
    tg_view x;
    if (view_from_array(xo, "x", &x) < 0) return NULL;
    PyArrayObject *comp = (PyArrayObject *)PyArray_FROMANY(co, NPY_FLOAT64, 2, 2, NPY_ARRAY_IN_ARRAY);
    if (!comp) return NULL;
    PyArrayObject *mean = NULL;
    if (mo != Py_None) {
        mean = (PyArrayObject *)PyArray_FROMANY(mo, NPY_FLOAT64, 1, 1, NPY_ARRAY_IN_ARRAY);
        if (!mean) {
            Py_DECREF(comp);
            return NULL;
        }
    }
    npy_intp k = PyArray_DIM(comp, 0), d = PyArray_DIM(comp, 1);
    if (d != x.shape[1] || (mean && PyArray_DIM(mean, 0) != d) || k < 1) {
        Py_DECREF(comp);
        Py_XDECREF(mean);
        return tg_py_error("InvalidInputError",
                           "x has %ld features but the PCA was fitted on %ld; pass data with the same width",
                           (long)x.shape[1], (long)d);
    }
    npy_intp od[2] = {x.shape[0], k};
    PyArrayObject *out = new_f64(2, od);
    if (!out) {
        Py_DECREF(comp);
        Py_XDECREF(mean);
        return NULL;
    }
    tg_status st = TG_OK;
    const double *md = mean ? PyArray_DATA(mean) : NULL, *cd = PyArray_DATA(comp);
    double *outd = PyArray_DATA(out);
    if (x.shape[0] > 0) {
        Py_BEGIN_ALLOW_THREADS
        st = tg_pca_transform(&x, md, cd, (size_t)k, outd);
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(comp);
    Py_XDECREF(mean);
    if (st != TG_OK) {
        Py_DECREF(out);
        return tg_py_raise(st);
    }
    return (PyObject *)out;
}

static PyObject *py_tsne(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *yo;
    int method, metric;
    double perp, exag, lr, mgn, angle;
    Py_ssize_t exag_iter, max_iter, nwp;
    int approx = 0;
    unsigned long long seed = 0;
    if (!PyArg_ParseTuple(args, "OOiiddndnndd|iK", &xo, &yo, &method, &metric, &perp, &exag, &exag_iter, &lr, &max_iter,
                          &nwp, &mgn, &angle, &approx, &seed))
        return NULL;
    (void)0;
    tg_view x;
    if (view_from_array(xo, "x", &x) < 0) return NULL;
    if (exag_iter < 0 || max_iter < 0 || nwp < 0) return tg_py_error("InvalidInputError", "iteration counts must be >= 0");
    /* y0 is copied into a fresh C-contiguous float64 array that becomes the result */
    PyArrayObject *y = (PyArrayObject *)PyArray_FROMANY(yo, NPY_FLOAT64, 2, 2, NPY_ARRAY_ENSURECOPY | NPY_ARRAY_C_CONTIGUOUS);
    if (!y) return NULL;
    npy_intp y_rows = PyArray_DIM(y, 0); /* read before y is released */
    if (y_rows != x.shape[0]) {
        Py_DECREF(y);
        return tg_py_error("InvalidInputError", "init has %ld rows but x has %ld", (long)y_rows, (long)x.shape[0]);
    }
    tg_tsne_options opt = {method == 2 ? TG_TSNE_FFT : method == 1 ? TG_TSNE_BARNES_HUT : TG_TSNE_EXACT,
                           metric == 1 ? TG_METRIC_COSINE : TG_METRIC_EUCLIDEAN,
                           (size_t)PyArray_DIM(y, 1),
                           perp,
                           exag,
                           (size_t)exag_iter,
                           lr,
                           (size_t)max_iter,
                           (size_t)nwp,
                           mgn,
                           angle,
                           approx ? TG_NEIGHBORS_APPROX : TG_NEIGHBORS_EXACT,
                           (uint64_t)seed};
    double kl = 0.0;
    size_t nit = 0;
    tg_status st;
    double *yd = PyArray_DATA(y);
    Py_BEGIN_ALLOW_THREADS
    st = tg_tsne(&x, &opt, yd, &kl, &nit);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        Py_DECREF(y);
        return tg_py_raise(st);
    }
    return Py_BuildValue("(Ndn)", y, kl, (Py_ssize_t)nit);
}

static PyObject *py_tsne_affinities(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo;
    int method, metric;
    double perp;
    int approx = 0;
    unsigned long long seed = 0;
    if (!PyArg_ParseTuple(args, "Oiid|iK", &xo, &method, &metric, &perp, &approx, &seed)) return NULL;
    tg_view x;
    if (view_from_array(xo, "x", &x) < 0) return NULL;
    tg_tsne_options opt;
    memset(&opt, 0, sizeof opt);
    opt.method = method == 2 ? TG_TSNE_FFT : method == 1 ? TG_TSNE_BARNES_HUT : TG_TSNE_EXACT;
    opt.metric = metric == 1 ? TG_METRIC_COSINE : TG_METRIC_EUCLIDEAN;
    opt.dim = 2;
    opt.perplexity = perp;
    opt.neighbors = approx ? TG_NEIGHBORS_APPROX : TG_NEIGHBORS_EXACT;
    opt.seed = (uint64_t)seed;
    size_t *indptr = NULL, *indices = NULL;
    double *values = NULL;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_tsne_affinities(&x, &opt, &indptr, &indices, &values);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) return tg_py_raise(st);
    npy_intp n1 = x.shape[0] + 1, nnz = (npy_intp)indptr[x.shape[0]];
    PyArrayObject *ip = (PyArrayObject *)PyArray_SimpleNew(1, &n1, NPY_INT64);
    PyArrayObject *ix = (PyArrayObject *)PyArray_SimpleNew(1, &nnz, NPY_INT64);
    PyArrayObject *va = (PyArrayObject *)PyArray_SimpleNew(1, &nnz, NPY_FLOAT64);
    if (ip && ix && va) {
        int64_t *a = PyArray_DATA(ip), *b = PyArray_DATA(ix);
        for (npy_intp i = 0; i < n1; i++) a[i] = (int64_t)indptr[i];
        for (npy_intp i = 0; i < nnz; i++) b[i] = (int64_t)indices[i];
        if (nnz) memcpy(PyArray_DATA(va), values, sizeof(double) * (size_t)nnz);
    }
    free(indptr);
    free(indices);
    free(values);
    if (!ip || !ix || !va) {
        Py_XDECREF(ip);
        Py_XDECREF(ix);
        Py_XDECREF(va);
        return NULL;
    }
    return Py_BuildValue("(NNN)", ip, ix, va);
}

static PyObject *py_trustworthiness(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *eo;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "OOn", &xo, &eo, &k)) return NULL;
    tg_view x, e;
    if (view_from_array(xo, "x", &x) < 0 || view_from_array(eo, "embedding", &e) < 0) return NULL;
    if (k < 1) return tg_py_error("InvalidInputError", "n_neighbors must be >= 1, got %zd", k);
    double out = 0.0;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_trustworthiness(&x, &e, (size_t)k, &out);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) return tg_py_raise(st);
    return PyFloat_FromDouble(out);
}

static PyMethodDef reduce_methods[] = {
    {"_eigh", py_eigh, METH_VARARGS, "_eigh(a) -> (w ascending, V rows = eigenvectors)"},
    {"_pca", py_pca, METH_VARARGS, "_pca(x, k, method, center, seed, n_oversamples, n_iter)"},
    {"_pca_transform", py_pca_transform, METH_VARARGS, "_pca_transform(x, mean, components)"},
    {"_tsne", py_tsne, METH_VARARGS, "_tsne(x, y0, method, metric, perplexity, ...)"},
    {"_tsne_affinities", py_tsne_affinities, METH_VARARGS, "_tsne_affinities(x, method, metric, perplexity)"},
    {"_trustworthiness", py_trustworthiness, METH_VARARGS, "_trustworthiness(x, embedding, k)"},
    {NULL, NULL, 0, NULL},
};

int tg_py_init_reduce(PyObject *m) {
    return PyModule_AddFunctions(m, reduce_methods);
}
