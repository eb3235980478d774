/* py_wordpiece.c - binding of BERT's WordPiece (tokgeo/tokenizer.h, "WordPiece") for
 * tokgeo/wordpiece.py.
 *
 * The handle is a PyCapsule named "tokgeo.wordpiece" owning a tg_wordpiece.  Texts are
 * passed as their code units (tg_py_text_units, shared with py_tokenizer.c) and the GIL is
 * released around loading and encoding.  Functions (private; the typed API is
 * tokgeo.WordPieceTokenizer):
 *   _wp_load(path, lowercase, strip_accents, clean_text, chinese_chars, max_chars, unk) -> handle
 *   _wp_info(handle) -> (vocab_size, (unk, cls, sep, pad, mask) ids, -1 when absent)
 *   _wp_encode(handle, text, flags) -> (ids[n] int64, offsets[n, 2] int64 | None)
 *   _wp_encode_batch(handle, texts: tuple[str], flags) -> list of the same
 *   _wp_tokens(handle, ids) -> list[str];  _wp_token_id(handle, token) -> int (-1: none)
 *   _wp_normalize(handle, text) -> (normalized str, origins[n] int64)
 *   _wp_flags() -> the flag values (TG_ENC_CHAR_OFFSETS, TG_WP_SPECIALS, TG_WP_ADD_SPECIAL, TG_WP_WORDS)
 * flags: the core's;
 * offsets are always in code points.
 */
#include "python/binding.h"

#define CAPSULE_NAME "tokgeo.wordpiece"

static void capsule_free(PyObject *cap) { tg_wordpiece_free(PyCapsule_GetPointer(cap, CAPSULE_NAME)); }

static tg_wordpiece *get_wp(PyObject *cap) {
    if (!PyCapsule_IsValid(cap, CAPSULE_NAME)) {
        tg_py_error("InvalidTypeError", "expected a WordPiece handle");
        return NULL;
    }
    return PyCapsule_GetPointer(cap, CAPSULE_NAME);
}

static PyObject *py_wp_load(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *pb = NULL;
    int lower, clean, chinese, strip;
    Py_ssize_t max_chars;
    const char *unk;
    if (!PyArg_ParseTuple(args, "O&pippns:_wp_load", PyUnicode_FSConverter, &pb, &lower, &strip, &clean, &chinese,
                          &max_chars, &unk))
        return NULL;
    if (max_chars < 1) {
        Py_DECREF(pb);
        return tg_py_error("InvalidInputError", "max_input_chars_per_word must be >= 1, got %zd", max_chars);
    }
    tg_wordpiece_opts o = {.lowercase = lower != 0, .strip_accents = strip, .no_clean_text = !clean,
                           .no_chinese_chars = !chinese, .max_input_chars_per_word = (size_t)max_chars, .unk_token = unk};
    tg_wordpiece *wp = NULL;
    tg_status st;
    const char *path = PyBytes_AS_STRING(pb);
    Py_BEGIN_ALLOW_THREADS
    st = tg_wordpiece_load(&wp, path, &o);
    Py_END_ALLOW_THREADS
    Py_DECREF(pb);
    if (st != TG_OK) return tg_py_raise(st);
    PyObject *cap = PyCapsule_New(wp, CAPSULE_NAME, capsule_free);
    if (!cap) tg_wordpiece_free(wp);
    return cap;
}

static PyObject *py_wp_info(PyObject *self, PyObject *arg) {
    (void)self;
    tg_wordpiece *wp = get_wp(arg);
    if (!wp) return NULL;
    return Py_BuildValue("(n(iiiii))", (Py_ssize_t)tg_wordpiece_vocab_size(wp), (int)tg_wordpiece_special_id(wp, TG_WP_UNK),
                         (int)tg_wordpiece_special_id(wp, TG_WP_CLS), (int)tg_wordpiece_special_id(wp, TG_WP_SEP),
                         (int)tg_wordpiece_special_id(wp, TG_WP_PAD), (int)tg_wordpiece_special_id(wp, TG_WP_MASK));
}

/* (ids[n], offsets[n, 2] or None) from one output. */
static PyObject *result(const tg_tokens *t, bool offsets) {
    npy_intp d1[1] = {(npy_intp)t->n}, d2[2] = {(npy_intp)t->n, 2};
    PyObject *ids = PyArray_SimpleNew(1, d1, NPY_INT64);
    if (!ids) return NULL;
    int64_t *ip = PyArray_DATA((PyArrayObject *)ids);
    for (size_t i = 0; i < t->n; i++) ip[i] = t->ids[i];
    PyObject *off;
    if (offsets) {
        off = PyArray_SimpleNew(2, d2, NPY_INT64);
        if (!off) {
            Py_DECREF(ids);
            return NULL;
        }
        if (t->n) memcpy(PyArray_DATA((PyArrayObject *)off), t->offsets, t->n * 2 * sizeof(int64_t));
    } else {
        off = Py_None;
        Py_INCREF(off);
    }
    PyObject *res = PyTuple_Pack(2, ids, off);
    Py_DECREF(ids);
    Py_DECREF(off);
    return res;
}

static int parse_flags(int flags) {
    flags &= TG_ENC_CHAR_OFFSETS | TG_WP_SPECIALS | TG_WP_ADD_SPECIAL | TG_WP_WORDS;
    if (flags & TG_ENC_OFFSETS) flags |= TG_ENC_CHAR_OFFSETS; /* Python offsets are code points */
    return flags;
}

static PyObject *py_wp_encode(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *text;
    int flags;
    if (!PyArg_ParseTuple(args, "OOi:_wp_encode", &cap, &text, &flags)) return NULL;
    tg_wordpiece *wp = get_wp(cap);
    if (!wp) return NULL;
    tg_text src;
    if (!tg_py_text_units(text, &src, "text", -1)) return NULL;
    flags = parse_flags(flags);
    tg_tokens out = {0};
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_wordpiece_encode(wp, &src, flags, &out);
    Py_END_ALLOW_THREADS
    PyObject *res = st == TG_OK ? result(&out, (flags & TG_ENC_OFFSETS) != 0) : tg_py_raise(st);
    tg_tokens_free(&out);
    return res;
}

static PyObject *py_wp_encode_batch(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *texts;
    int flags;
    if (!PyArg_ParseTuple(args, "OO!i:_wp_encode_batch", &cap, &PyTuple_Type, &texts, &flags)) return NULL;
    tg_wordpiece *wp = get_wp(cap);
    if (!wp) return NULL;
    flags = parse_flags(flags);
    Py_ssize_t B = PyTuple_GET_SIZE(texts);
    size_t nb = B > 0 ? (size_t)B : 1;
    tg_text *srcs = PyMem_Calloc(nb, sizeof *srcs);
    tg_tokens *outs = PyMem_Calloc(nb, sizeof *outs);
    PyObject *res = NULL;
    if (!srcs || !outs) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < B; i++)
        if (!tg_py_text_units(PyTuple_GET_ITEM(texts, i), &srcs[i], "texts", i)) goto done;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_wordpiece_encode_batch(wp, srcs, (size_t)B, flags, outs);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        tg_py_raise(st);
        goto done;
    }
    res = PyList_New(B);
    for (Py_ssize_t i = 0; res && i < B; i++) {
        PyObject *one = result(&outs[i], (flags & TG_ENC_OFFSETS) != 0);
        if (!one) Py_CLEAR(res);
        else PyList_SET_ITEM(res, i, one);
    }
done:
    if (outs)
        for (Py_ssize_t i = 0; i < B; i++) tg_tokens_free(&outs[i]);
    PyMem_Free(outs);
    PyMem_Free(srcs);
    return res;
}

static PyObject *py_wp_tokens(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *obj;
    if (!PyArg_ParseTuple(args, "OO:_wp_tokens", &cap, &obj)) return NULL;
    tg_wordpiece *wp = get_wp(cap);
    if (!wp) return NULL;
    const int64_t *ids;
    size_t n;
    int64_t *tmp;
    if (!tg_py_ids_arg(obj, &ids, &n, &tmp)) return NULL;
    PyObject *res = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; res && i < n; i++) {
        const char *s;
        size_t l;
        if (!tg_wordpiece_token(wp, ids[i], &s, &l)) {
            tg_py_error("TokenIdError", "token id %lld at position %zu is not in the vocabulary (valid ids: 0..%zu)",
                        (long long)ids[i], i, tg_wordpiece_vocab_size(wp) - 1);
            Py_CLEAR(res);
            break;
        }
        PyObject *v = PyUnicode_DecodeUTF8(s, (Py_ssize_t)l, "strict");
        if (!v) Py_CLEAR(res);
        else PyList_SET_ITEM(res, (Py_ssize_t)i, v);
    }
    PyMem_Free(tmp);
    return res;
}

static PyObject *py_wp_token_id(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *tok;
    if (!PyArg_ParseTuple(args, "OU:_wp_token_id", &cap, &tok)) return NULL;
    tg_wordpiece *wp = get_wp(cap);
    if (!wp) return NULL;
    Py_ssize_t l;
    const char *s = PyUnicode_AsUTF8AndSize(tok, &l);
    if (!s) {
        PyErr_Clear();
        return PyLong_FromLong(-1); /* a lone surrogate is no token */
    }
    return PyLong_FromLong(tg_wordpiece_token_id(wp, s, (size_t)l));
}

static PyObject *py_wp_normalize(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *text;
    if (!PyArg_ParseTuple(args, "OO:_wp_normalize", &cap, &text)) return NULL;
    tg_wordpiece *wp = get_wp(cap);
    if (!wp) return NULL;
    tg_text src;
    if (!tg_py_text_units(text, &src, "text", -1)) return NULL;
    uint32_t *cps = NULL, *orig = NULL;
    size_t n = 0;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_wordpiece_normalize(wp, &src, &cps, &orig, &n);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) return tg_py_raise(st);
    PyObject *s = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, cps, (Py_ssize_t)n);
    npy_intp d1[1] = {(npy_intp)n};
    PyObject *o = s ? PyArray_SimpleNew(1, d1, NPY_INT64) : NULL;
    PyObject *res = NULL;
    if (o) {
        int64_t *op = PyArray_DATA((PyArrayObject *)o);
        for (size_t i = 0; i < n; i++) op[i] = orig[i];
        res = PyTuple_Pack(2, s, o);
    }
    Py_XDECREF(s);
    Py_XDECREF(o);
    free(cps);
    free(orig);
    return res;
}

static PyObject *py_wp_flags(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return Py_BuildValue("(iiii)", TG_ENC_CHAR_OFFSETS, TG_WP_SPECIALS, TG_WP_ADD_SPECIAL, TG_WP_WORDS);
}

static PyMethodDef wp_methods[] = {
    {"_wp_flags", py_wp_flags, METH_NOARGS, "_wp_flags() -> (offsets, specials, add_special, words)"},
    {"_wp_load", py_wp_load, METH_VARARGS,
     "_wp_load(path, lowercase, strip_accents, clean_text, chinese_chars, max_chars, unk) -> handle"},
    {"_wp_info", py_wp_info, METH_O, "_wp_info(handle) -> (vocab_size, (unk, cls, sep, pad, mask))"},
    {"_wp_encode", py_wp_encode, METH_VARARGS, "_wp_encode(handle, text, flags) -> (ids, offsets | None)"},
    {"_wp_encode_batch", py_wp_encode_batch, METH_VARARGS, "_wp_encode_batch(handle, texts, flags) -> list"},
    {"_wp_tokens", py_wp_tokens, METH_VARARGS, "_wp_tokens(handle, ids) -> list[str]"},
    {"_wp_token_id", py_wp_token_id, METH_VARARGS, "_wp_token_id(handle, token) -> int"},
    {"_wp_normalize", py_wp_normalize, METH_VARARGS, "_wp_normalize(handle, text) -> (str, origins)"},
    {NULL, NULL, 0, NULL},
};

int tg_py_init_wordpiece(PyObject *m) { return PyModule_AddFunctions(m, wp_methods); }
