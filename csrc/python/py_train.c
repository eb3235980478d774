/* py_train.c - binding of the BPE trainer (tokgeo/tokenizer.h) and of the extra
 * tokenizer loaders (split pattern, tiktoken ranks) for tokgeo/bpe_train.py and
 * tokgeo/tokenizers.py.  Private functions:
 *   _bpe_new(vocab_size, min_frequency, specials: tuple[str], threads, pattern) -> capsule
 *   _bpe_feed(cap, texts: list | tuple of str)          (GIL released while counting)
 *   _bpe_feed_file(cap, path)                            (GIL released)
 *   _bpe_train(cap)                                      (GIL released)
 *   _bpe_result(cap) -> (merges int64 [M, 5] (left, right, merged, vocab_size, count),
 *                        n_words, n_pretokens)
 *   _bpe_save(cap, dir);  _bpe_tokenizer(cap) -> tokenizer handle
 *   _tok_load_buffers(vocab: bytes, merges: bytes, pattern, rank_by_merged_id) -> handle
 *   _tok_load_tiktoken(path, specials: tuple[tuple[str, int]], pattern) -> handle
 *   _tok_pattern(handle) -> int;  _pre_tokenize_pattern(text, pattern) -> list[str]
 */
#include "python/binding.h"

#include "tokgeo/tokenizer.h"

#define TRAINER_CAPSULE "tokgeo.bpe_trainer"
#define TOKENIZER_CAPSULE "tokgeo.tokenizer"

static void trainer_free(PyObject *cap) { tg_bpe_trainer_free(PyCapsule_GetPointer(cap, TRAINER_CAPSULE)); }
static void tokenizer_free(PyObject *cap) { tg_tokenizer_free(PyCapsule_GetPointer(cap, TOKENIZER_CAPSULE)); }

static tg_bpe_trainer *get_trainer(PyObject *cap) {
    if (!PyCapsule_IsValid(cap, TRAINER_CAPSULE)) {
        tg_py_error("InvalidTypeError", "expected a BPE trainer handle");
        return NULL;
    }
    return PyCapsule_GetPointer(cap, TRAINER_CAPSULE);
}

static PyObject *wrap_tokenizer(tg_tokenizer *t) {
    PyObject *cap = PyCapsule_New(t, TOKENIZER_CAPSULE, tokenizer_free);
    if (!cap) tg_tokenizer_free(t);
    return cap;
}

static PyObject *py_bpe_new(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t vocab_size;
    unsigned long long min_freq;
    PyObject *specials;
    int threads, pattern;
    if (!PyArg_ParseTuple(args, "nKO!ii:_bpe_new", &vocab_size, &min_freq, &PyTuple_Type, &specials, &threads, &pattern))
        return NULL;
    if (vocab_size < 0) return tg_py_error("InvalidInputError", "vocab_size must be positive, got %zd", vocab_size);
    Py_ssize_t ns = PyTuple_GET_SIZE(specials);
    const char **sp = PyMem_Malloc((ns > 0 ? (size_t)ns : 1) * sizeof *sp);
    if (!sp) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < ns; i++) {
        PyObject *s = PyTuple_GET_ITEM(specials, i);
        if (!PyUnicode_Check(s)) {
            PyMem_Free(sp);
            return tg_py_error("InvalidTypeError", "special_tokens[%zd] must be str, not %s", i, Py_TYPE(s)->tp_name);
        }
        Py_ssize_t l;
        sp[i] = PyUnicode_AsUTF8AndSize(s, &l);
        if (!sp[i]) {
            PyMem_Free(sp);
            return NULL;
        }
        if ((size_t)l != strlen(sp[i])) {
            PyMem_Free(sp);
            return tg_py_error("InvalidInputError", "special_tokens[%zd] contains a NUL character", i);
        }
    }
    tg_bpe_train_opts o = {.vocab_size = (size_t)vocab_size, .min_frequency = min_freq, .special_tokens = sp,
                           .n_special = (size_t)ns, .threads = threads, .pattern = pattern};
    tg_bpe_trainer *t = NULL;
    tg_status st = tg_bpe_trainer_new(&t, &o);
    PyMem_Free(sp);
    if (st != TG_OK) return tg_py_raise(st);
    PyObject *cap = PyCapsule_New(t, TRAINER_CAPSULE, trainer_free);
    if (!cap) tg_bpe_trainer_free(t);
    return cap;
}

static PyObject *py_bpe_feed(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *seq;
    if (!PyArg_ParseTuple(args, "OO:_bpe_feed", &cap, &seq)) return NULL;
    tg_bpe_trainer *t = get_trainer(cap);
    if (!t) return NULL;
    if (!PyList_Check(seq) && !PyTuple_Check(seq)) return tg_py_error("InvalidTypeError", "texts must be a list or tuple");
    /* a tuple copy keeps every str alive while the GIL is released */
    PyObject *tup = PySequence_Tuple(seq);
    if (!tup) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(tup);
    tg_text *tx = PyMem_Malloc((n > 0 ? (size_t)n : 1) * sizeof *tx);
    if (!tx) {
        Py_DECREF(tup);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyTuple_GET_ITEM(tup, i);
        if (!PyUnicode_Check(s)) {
            PyMem_Free(tx);
            Py_DECREF(tup);
            return tg_py_error("InvalidTypeError", "corpus item must be str, not %s", Py_TYPE(s)->tp_name);
        }
        tx[i].data = PyUnicode_DATA(s);
        tx[i].len = (size_t)PyUnicode_GET_LENGTH(s);
        if (PyUnicode_IS_ASCII(s))
            tx[i].width = TG_TEXT_UTF8;
        else
            tx[i].width = PyUnicode_KIND(s) == PyUnicode_1BYTE_KIND   ? TG_TEXT_LATIN1
                          : PyUnicode_KIND(s) == PyUnicode_2BYTE_KIND ? TG_TEXT_UCS2
                                                                      : TG_TEXT_UCS4;
    }
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_bpe_trainer_feed(t, tx, (size_t)n);
    Py_END_ALLOW_THREADS
    PyMem_Free(tx);
    Py_DECREF(tup);
    if (st != TG_OK) return tg_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *py_bpe_feed_file(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *pb = NULL;
    if (!PyArg_ParseTuple(args, "OO&:_bpe_feed_file", &cap, PyUnicode_FSConverter, &pb)) return NULL;
    tg_bpe_trainer *t = get_trainer(cap);
    if (!t) {
        Py_DECREF(pb);
        return NULL;
    }
    const char *path = PyBytes_AS_STRING(pb);
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_bpe_trainer_feed_file(t, path);
    Py_END_ALLOW_THREADS
    Py_DECREF(pb);
    if (st != TG_OK) return tg_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *py_bpe_train(PyObject *self, PyObject *cap) {
    (void)self;
    tg_bpe_trainer *t = get_trainer(cap);
    if (!t) return NULL;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_bpe_trainer_train(t);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) return tg_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *py_bpe_result(PyObject *self, PyObject *cap) {
    (void)self;
    tg_bpe_trainer *t = get_trainer(cap);
    if (!t) return NULL;
    size_t nm = tg_bpe_trainer_n_merges(t);
    npy_intp dims[2] = {(npy_intp)nm, 5};
    PyObject *arr = PyArray_SimpleNew(2, dims, NPY_INT64);
    if (!arr) return NULL;
    int64_t *d = PyArray_DATA((PyArrayObject *)arr);
    const tg_bpe_merge *m = tg_bpe_trainer_merges(t);
    for (size_t i = 0; i < nm; i++) {
        d[5 * i] = m[i].left;
        d[5 * i + 1] = m[i].right;
        d[5 * i + 2] = m[i].merged;
        d[5 * i + 3] = m[i].vocab_size;
        d[5 * i + 4] = (int64_t)m[i].count;
    }
    PyObject *res = Py_BuildValue("(OnK)", arr, (Py_ssize_t)tg_bpe_trainer_n_words(t),
                                  (unsigned long long)tg_bpe_trainer_n_pretokens(t));
    Py_DECREF(arr);
    return res;
}

static PyObject *py_bpe_save(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *pb = NULL;
    if (!PyArg_ParseTuple(args, "OO&:_bpe_save", &cap, PyUnicode_FSConverter, &pb)) return NULL;
    tg_bpe_trainer *t = get_trainer(cap);
    if (!t) {
        Py_DECREF(pb);
        return NULL;
    }
    const char *dir = PyBytes_AS_STRING(pb);
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_bpe_trainer_save(t, dir);
    Py_END_ALLOW_THREADS
    Py_DECREF(pb);
    if (st != TG_OK) return tg_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *py_bpe_tokenizer(PyObject *self, PyObject *cap) {
    (void)self;
    tg_bpe_trainer *t = get_trainer(cap);
    if (!t) return NULL;
    tg_tokenizer *tok = NULL;
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_bpe_trainer_tokenizer(t, &tok);
    Py_END_ALLOW_THREADS
    if (st != TG_OK) return tg_py_raise(st);
    return wrap_tokenizer(tok);
}

static PyObject *py_tok_load_buffers(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer vb, mb;
    int pattern, by_id;
    const char *vname = NULL, *mname = NULL;
    if (!PyArg_ParseTuple(args, "y*y*ip|zz:_tok_load_buffers", &vb, &mb, &pattern, &by_id, &vname, &mname)) return NULL;
    tg_tokenizer *t = NULL;
    tg_tokenizer_opts o = {.pattern = pattern, .rank_by_merged_id = by_id != 0};
    tg_status st;
    Py_BEGIN_ALLOW_THREADS
    st = tg_tokenizer_load_buffers_opts(&t, vb.buf, (size_t)vb.len, vname, mb.buf, (size_t)mb.len, mname, &o);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&vb);
    PyBuffer_Release(&mb);
    if (st != TG_OK) return tg_py_raise(st);
    return wrap_tokenizer(t);
}

static PyObject *py_tok_load_tiktoken(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *pb = NULL, *specials;
    int pattern;
    if (!PyArg_ParseTuple(args, "O&O!i:_tok_load_tiktoken", PyUnicode_FSConverter, &pb, &PyTuple_Type, &specials, &pattern))
        return NULL;
    Py_ssize_t ns = PyTuple_GET_SIZE(specials);
    const char **names = PyMem_Malloc((ns > 0 ? (size_t)ns : 1) * sizeof *names);
    int32_t *ids = PyMem_Malloc((ns > 0 ? (size_t)ns : 1) * sizeof *ids);
    PyObject *res = NULL;
    if (!names || !ids) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < ns; i++) {
        const char *nm;
        int id;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(specials, i), "si", &nm, &id)) goto done;
        names[i] = nm;
        ids[i] = id;
    }
    tg_tokenizer *t = NULL;
    tg_status st;
    const char *path = PyBytes_AS_STRING(pb);
    Py_BEGIN_ALLOW_THREADS
    st = tg_tokenizer_load_tiktoken(&t, path, names, ids, (size_t)ns, pattern);
    Py_END_ALLOW_THREADS
    if (st != TG_OK)
        tg_py_raise(st);
    else
        res = wrap_tokenizer(t);
done:
    PyMem_Free(names);
    PyMem_Free(ids);
    Py_DECREF(pb);
    return res;
}

static PyObject *py_tok_pattern(PyObject *self, PyObject *cap) {
    (void)self;
    if (!PyCapsule_IsValid(cap, TOKENIZER_CAPSULE)) return tg_py_error("InvalidTypeError", "expected a tokenizer handle");
    return PyLong_FromLong(tg_tokenizer_pattern(PyCapsule_GetPointer(cap, TOKENIZER_CAPSULE)));
}

static PyObject *py_pre_tokenize_pattern(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *text;
    int pattern;
    if (!PyArg_ParseTuple(args, "Ui:_pre_tokenize_pattern", &text, &pattern)) return NULL;
    if (pattern != TG_PATTERN_GPT2 && pattern != TG_PATTERN_CL100K)
        return tg_py_error("InvalidInputError", "unknown split pattern %d", pattern);
    Py_ssize_t len;
    const char *u = PyUnicode_AsUTF8AndSize(text, &len);
    if (!u) {
        PyErr_Clear();
        return tg_py_error("TextEncodingError", "text has a lone surrogate, which UTF-8 cannot encode; remove or replace it");
    }
    PyObject *res = PyList_New(0);
    if (!res) return NULL;
    size_t pos = 0, n = (size_t)len;
    Py_ssize_t cstart = 0;
    while (pos < n) {
        size_t l = tg_pretoken_len_pattern(pattern, (const uint8_t *)u + pos, n - pos);
        Py_ssize_t chars = 0;
        for (size_t i = pos; i < pos + l; i++) chars += ((uint8_t)u[i] & 0xC0) != 0x80;
        PyObject *piece = PyUnicode_Substring(text, cstart, cstart + chars);
        if (!piece || PyList_Append(res, piece) < 0) {
            Py_XDECREF(piece);
            Py_DECREF(res);
            return NULL;
        }
        Py_DECREF(piece);
        cstart += chars;
        pos += l;
    }
    return res;
}

static PyMethodDef train_methods[] = {
    {"_bpe_new", py_bpe_new, METH_VARARGS, "_bpe_new(vocab_size, min_frequency, specials, threads, pattern)"},
    {"_bpe_feed", py_bpe_feed, METH_VARARGS, "_bpe_feed(handle, texts)"},
    {"_bpe_feed_file", py_bpe_feed_file, METH_VARARGS, "_bpe_feed_file(handle, path)"},
    {"_bpe_train", py_bpe_train, METH_O, "_bpe_train(handle)"},
    {"_bpe_result", py_bpe_result, METH_O, "_bpe_result(handle) -> (merges, n_words, n_pretokens)"},
    {"_bpe_save", py_bpe_save, METH_VARARGS, "_bpe_save(handle, dir)"},
    {"_bpe_tokenizer", py_bpe_tokenizer, METH_O, "_bpe_tokenizer(handle) -> tokenizer handle"},
    {"_tok_load_buffers", py_tok_load_buffers, METH_VARARGS, "_tok_load_buffers(vocab, merges, pattern, rank_by_id)"},
    {"_tok_load_tiktoken", py_tok_load_tiktoken, METH_VARARGS, "_tok_load_tiktoken(path, specials, pattern) -> handle"},
    {"_tok_pattern", py_tok_pattern, METH_O, "_tok_pattern(handle) -> int"},
    {"_pre_tokenize_pattern", py_pre_tokenize_pattern, METH_VARARGS, "_pre_tokenize_pattern(text, pattern) -> list[str]"},
    {NULL, NULL, 0, NULL},
};

int tg_py_init_train(PyObject *m) { return PyModule_AddFunctions(m, train_methods); }
