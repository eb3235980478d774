/* module.c - the tokgeo._C extension: error table, threads, interrupt hook, part registry. */
#define TG_PY_MODULE_MAIN
#include "python/binding.h"

#include <stdarg.h>
#include <string.h>

/* The one table from core status codes to tokgeo exception classes (tokgeo/errors.py). */
static const struct {
    tg_status status;
    const char *class_name;
} error_table[] = {
    {TG_ERR_NOMEM, "TokgeoMemoryError"},
    {TG_ERR_VALUE, "InvalidInputError"},
    {TG_ERR_TYPE, "InvalidTypeError"},
    {TG_ERR_INDEX, "TokenIdError"},
    {TG_ERR_FORMAT, "FormatError"},
    {TG_ERR_IO, "TokgeoIOError"},
    {TG_ERR_OVERFLOW, "SizeOverflowError"},
    {TG_ERR_BUDGET, "MemoryBudgetError"},
    {TG_ERR_SPECIAL, "SpecialTokenError"},
    {TG_ERR_UNICODE, "TextEncodingError"},
    {TG_ERR_INTERNAL, "TokgeoError"},
};

static PyObject *errors_module = NULL; /* tokgeo.errors, imported at module init */

static PyObject *error_class(const char *name) {
    PyObject *cls = PyObject_GetAttrString(errors_module, name);
    if (cls == NULL) {
        PyErr_Clear();
        cls = PyObject_GetAttrString(errors_module, "TokgeoError");
    }
    return cls;
}

PyObject *tg_py_error(const char *class_name, const char *fmt, ...) {
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    PyObject *cls = error_class(class_name);
    if (cls == NULL) return NULL;
    /* a path or a cut message may not be valid UTF-8: never let that replace the error */
    PyObject *msg = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "backslashreplace");
    if (msg == NULL) {
        Py_DECREF(cls);
        return NULL;
    }
    PyErr_SetObject(cls, msg);
    Py_DECREF(msg);
    Py_DECREF(cls);
    return NULL;
}

PyObject *tg_py_raise(tg_status st) {
    if (st == TG_ERR_INTERRUPTED) {
        if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
        return NULL;
    }
    if (PyErr_Occurred()) return NULL; /* a callback already raised */
    const char *detail = tg_last_error();
    const char *name = "TokgeoError";
    for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++) {
        if (error_table[i].status == st) {
            name = error_table[i].class_name;
            break;
        }
    }
    if (detail == NULL || detail[0] == '\0') detail = tg_status_name(st);
    return tg_py_error(name, "%s", detail);
}

int tg_py_raise_int(tg_status st) {
    tg_py_raise(st);
    return -1;
}

/* Runs from inside a GIL-released core call on the thread that made it. */
static int interrupt_hook(void *ctx) {
    (void)ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    int stop = PyErr_CheckSignals() != 0;
    PyGILState_Release(g);
    return stop;
}

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg) {
    (void)self;
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 0 || n > 4096) return tg_py_error("InvalidInputError", "num_threads must be between 0 (default) and 4096, got %ld", n);
    tg_set_num_threads((int)n);
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyLong_FromLong(tg_get_num_threads());
}

static PyObject *py_blis_info(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return Py_BuildValue("{s:s,s:s,s:i}", "version", tg_blis_version(), "arch", tg_blis_arch(), "threads",
                         tg_get_num_threads());
}

static PyMethodDef module_methods[] = {
    {"set_num_threads", py_set_num_threads, METH_O, "set_num_threads(n): threads for BLIS and tokgeo's loops (0: all cores)."},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "get_num_threads() -> int"},
    {"blis_info", py_blis_info, METH_NOARGS, "blis_info() -> dict: BLIS version, kernel set in use, threads."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "tokgeo._C", "tokgeo's C core (internal; use the tokgeo package).", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__C(void) {
    import_array();
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    errors_module = PyImport_ImportModule("tokgeo.errors");
    if (errors_module == NULL) goto fail;
    if (tg_py_init_tokenizer(m) < 0 || tg_py_init_model(m) < 0 || tg_py_init_metrics(m) < 0 ||
        tg_py_init_reduce(m) < 0 || tg_py_init_safetensors(m) < 0 || tg_py_init_train(m) < 0 ||
        tg_py_init_wordpiece(m) < 0)
        goto fail;
    tg_get_num_threads(); /* settle the default once */
    tg_set_interrupt_hook(interrupt_hook, NULL);
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
