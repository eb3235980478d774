/*
 * python/binding.h - shared by the files of csrc/python/, the only folder that includes
 * Python.h and numpy.  The binding sees the public API (tokgeo/tokgeo.h) plus the entry
 * points for tests and benchmarks it exposes as private _C functions (gpt2/testing.h,
 * base/blas.h), included by the files that need them.
 *
 * Each part of the binding lives in its own file and registers itself from module.c:
 *   int tg_py_init_<part>(PyObject *module);   returns 0, or -1 with an exception set.
 *
 * Errors cross the boundary once: a core call returns tg_status, the binding calls
 * tg_py_raise(status) which maps the code to the matching tokgeo exception class (the one
 * table lives in module.c) with the core's thread-local detail as the message.
 *
 * Pattern for a heavy call:
 *     tg_status st;
 *     Py_BEGIN_ALLOW_THREADS
 *     st = tg_something(...);          // no Python objects touched in here
 *     Py_END_ALLOW_THREADS
 *     if (st != TG_OK) return tg_py_raise(st);
 */
#ifndef TGPY_H
#define TGPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_22_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL tokgeo_ARRAY_API
#ifndef TG_PY_MODULE_MAIN
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "tokgeo/tokgeo.h"

/* Sets the tokgeo exception for `st` (message: the core's detail, or `fallback` if the
 * detail is empty) and returns NULL.  TG_ERR_INTERRUPTED keeps a pending
 * KeyboardInterrupt if the interrupt hook already raised one. */
PyObject *tg_py_raise(tg_status st);
/* The same, returning -1 (for init functions and setters). */
int tg_py_raise_int(tg_status st);
/* Raises tokgeo.<class_name>(message). Returns NULL. */
PyObject *tg_py_error(const char *class_name, const char *fmt, ...);

int tg_py_init_tokenizer(PyObject *m);
int tg_py_init_model(PyObject *m);
int tg_py_init_metrics(PyObject *m);
int tg_py_init_reduce(PyObject *m);
int tg_py_init_safetensors(PyObject *m);
int tg_py_init_train(PyObject *m);
int tg_py_init_wordpiece(PyObject *m);

/* ---- argument helpers shared by the tokenizer bindings (py_tokenizer.c) ---- */

/* Describes a str's code units for the core (no copy: the caller keeps `s` alive).  False
 * with InvalidTypeError naming `what` (and `[index]` when index >= 0) for a non-str. */
bool tg_py_text_units(PyObject *s, tg_text *out, const char *what, Py_ssize_t index);
/* Token ids as a private int64 buffer [*n]: a list / tuple of ints, or a C-contiguous 1-D
 * int64 array (copied).  *tmp receives the memory to PyMem_Free (also on success). False
 * with InvalidTypeError / TokenIdError set. */
bool tg_py_ids_arg(PyObject *obj, const int64_t **ids, size_t *n, int64_t **tmp);

/* ---- conversions (convert.c) ---- */

/* Borrowed ndarray -> view, no copy: the array must be float32/float64, native byte order,
 * aligned, with byte strides that are multiples of the item size (tokgeo/metrics.py and
 * tokgeo/_reduce.py convert to that first; the checks here catch internal misuse).  ndim: the required number
 * of dimensions, or -1 for any up to TG_MAX_NDIM.  Returns 0, or -1 with InvalidTypeError
 * (not an ndarray, dtype, byte order, alignment) or InvalidInputError (dimensions, a stride
 * that is not a whole number of items) set. */
int tg_py_view_from_array(PyObject *obj, const char *name, int ndim, tg_view *v);

/* A read-only ndarray over foreign memory: `ndim` dims of `shape`, byte strides
 * `strides_or_null` (NULL: C-contiguous), NumPy type `typenum` (or a descriptor, which the
 * _descr form steals).  `owner` becomes the array's base (a new reference is taken), so it
 * must keep `data` alive; it must not export a writable buffer (then numpy refuses to make
 * the array writeable again).  Returns a new reference, or NULL with an exception set. */
PyObject *tg_py_readonly_view(PyObject *owner, const void *data, int ndim, const npy_intp *shape,
                              const npy_intp *strides_or_null, int typenum);
PyObject *tg_py_readonly_view_descr(PyObject *owner, const void *data, int ndim, const npy_intp *shape,
                                    const npy_intp *strides_or_null, PyArray_Descr *descr);

#endif /* TGPY_H */
