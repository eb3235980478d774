/* py_tokenizer.c - binding of the tokenizer core (tokgeo/tokenizer.h) for tokgeo/tokenizer.py.
 *
 * The handle is a PyCapsule named "tokgeo.tokenizer" owning a tg_tokenizer.  Every call
 * holds a reference to the capsule and to the texts it reads, so the GIL can be released
 * around the core work: loading, encoding and batch encoding run without the GIL.
 * Functions (private; the typed API is tokgeo.Tokenizer):
 *   _tok_load(vocab_path, merges_path) -> capsule
 *   _tok_info(cap) -> (n_vocab, eot_id, ((special bytes, id), ...))
 *   _tok_encode(cap, text, modes: bytes, offsets: bool) -> list[int] | (ids[n], offsets[n, 2])
 *   _tok_encode_batch(cap, texts: tuple[str], modes, pad_id, pad_left, offsets)
 *        -> (ids[B, T] int64, mask[B, T] bool, lengths[B] int64, offsets[B, T, 2] int64 | None)
 *   _tok_decode_bytes(cap, ids: list | tuple | int64 ndarray) -> bytes
 *   _tok_token_bytes(cap, ids) -> list[bytes];  _tok_byte_level(cap, ids) -> list[str]
 */
#include "python/binding.h"

#define CAPSULE_NAME "tokgeo.tokenizer"

/* Python ints for ids below 65536, made once and shared (the GIL guards the table):
 * building a list of ids then costs an INCREF per token instead of an allocation. */
static PyObject *id_cache[65536];

static PyObject *id_object(int32_t v) {
    if (v >= 0 && v < 65536) {
        PyObject *o = id_cache[v];
        if (!o) {
            o = PyLong_FromLong(v);
            if (!o) return NULL;
            id_cache[v] = o;
        }
        Py_INCREF(o);
        return o;
    }
    return PyLong_FromLong(v);
}

static void capsule_free(PyObject *cap) {
    tg_tokenizer *t = PyCapsule_GetPointer(cap, CAPSULE_NAME);
    tg_tokenizer_free(t);
}

static tg_tokenizer *get_tok(PyObject *cap) {
    if (!PyCapsule_IsValid(cap, CAPSULE_NAME)) {
        tg_py_error("InvalidTypeError", "expected a tokenizer handle");
        return NULL;
    }
    return PyCapsule_GetPointer(cap, CAPSULE_NAME);
}

static PyObject *py_tok_load(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *vb = NULL, *mb = NULL;
    if (!PyArg_ParseTuple(args, "O&O&:_tok_load", PyUnicode_FSConverter, &vb, PyUnicode_FSConverter, &mb)) {
        Py_XDECREF(vb);
        return NULL;
    }
    tg_tokenizer *t = NULL;
    tg_status st;
    const char *vp = PyBytes_AS_STRING(vb), *mp = PyBytes_AS_STRING(mb);
    Py_BEGIN_ALLOW_THREADS
    st = tg_tokenizer_load(&t, vp, mp);
    Py_END_ALLOW_THREADS
    Py_DECREF(vb);
    Py_DECREF(mb);
    if (st != TG_OK) return tg_py_raise(st);
    PyObject *cap = PyCapsule_New(t, CAPSULE_NAME, capsule_free);
    if (!cap) tg_tokenizer_free(t);
    return cap;
}

static PyObject *py_tok_info(PyObject *self, PyObject *arg) {
    (void)self;
    tg_tokenizer *t = get_tok(arg);
    if (!t) return NULL;
    size_t ns = tg_tokenizer_n_special(t);
    PyObject *specials = PyTuple_New((Py_ssize_t)ns);
    if (!specials) return NULL;
    for (size_t i = 0; i < ns; i++) {
        const uint8_t *b;
        size_t l;
        int32_t id;
        tg_tokenizer_special(t, i, &b, &l, &id);
        PyObject *item = Py_BuildValue("(y#i)", (const char *)b, (Py_ssize_t)l, (int)id);
        if (!item) {
            Py_DECREF(specials);
            return NULL;
        }
        PyTuple_SET_ITEM(specials, (Py_ssize_t)i, item);
    }
    return Py_BuildValue("(niN)", (Py_ssize_t)tg_tokenizer_n_vocab(t), (int)tg_tokenizer_eot_id(t), specials);
}

/* UTF-8 of a str (cached inside the str object), or NULL with TextEncodingError /
 * InvalidTypeError set. `what` names the argument in messages. */
static const char *text_utf8(PyObject *s, Py_ssize_t *len, const char *what, Py_ssize_t index) {
    if (!PyUnicode_Check(s)) {
        if (index >= 0)
            tg_py_error("InvalidTypeError", "%s[%zd] must be str, not %s", what, index, Py_TYPE(s)->tp_name);
        else
            tg_py_error("InvalidTypeError", "%s must be str, not %s", what, Py_TYPE(s)->tp_name);
        return NULL;
    }
    const char *u = PyUnicode_AsUTF8AndSize(s, len);
    if (u) return u;
    if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        PyErr_NormalizeException(&et, &ev, &tb);
        Py_ssize_t start = -1;
        if (ev) PyUnicodeEncodeError_GetStart(ev, &start);
        PyErr_Clear();
        Py_ssize_t n = PyUnicode_GET_LENGTH(s);
        unsigned cp = (start >= 0 && start < n) ? (unsigned)PyUnicode_READ_CHAR(s, start) : 0;
        Py_XDECREF(et);
        Py_XDECREF(ev);
        Py_XDECREF(tb);
        char where[64] = "";
        if (index >= 0) snprintf(where, sizeof where, "[%zd]", index);
        tg_py_error("TextEncodingError",
                    "%s%s has a lone surrogate U+%04X at index %zd, which UTF-8 cannot encode; "
                    "remove it or replace it (e.g. s.encode('utf-8', 'replace').decode('utf-8'))",
                    what, where, cp, start);
    }
    return NULL;
}

/* Describes a str's code units for the core (no copy: the caller keeps `s` alive). */
bool tg_py_text_units(PyObject *s, tg_text *out, const char *what, Py_ssize_t index) {
    if (!PyUnicode_Check(s)) {
        if (index >= 0)
            tg_py_error("InvalidTypeError", "%s[%zd] must be str, not %s", what, index, Py_TYPE(s)->tp_name);
        else
            tg_py_error("InvalidTypeError", "%s must be str, not %s", what, Py_TYPE(s)->tp_name);
        return false;
    }
    out->data = PyUnicode_DATA(s);
    out->len = (size_t)PyUnicode_GET_LENGTH(s);
    if (PyUnicode_IS_ASCII(s)) {
        out->width = TG_TEXT_UTF8; /* ASCII is UTF-8 */
    } else {
        switch (PyUnicode_KIND(s)) {
        case PyUnicode_1BYTE_KIND: out->width = TG_TEXT_LATIN1; break;
        case PyUnicode_2BYTE_KIND: out->width = TG_TEXT_UCS2; break;
        default: out->width = TG_TEXT_UCS4; break;
        }
    }
    return true;
}

static bool parse_modes(tg_tokenizer *t, PyObject *modes, const uint8_t **out) {
    *out = NULL;
    if (modes == Py_None) return true;
    if (!PyBytes_Check(modes) || (size_t)PyBytes_GET_SIZE(modes) != tg_tokenizer_n_special(t)) {
        tg_py_error("InvalidInputError", "special-token modes must be bytes of length %zu", tg_tokenizer_n_special(t));
        return false;
    }
    *out = (const uint8_t *)PyBytes_AS_STRING(modes);
    return true;
}

static PyObject *py_tok_encode(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *text, *modes;
    int want_offsets;
    if (!PyArg_ParseTuple(args, "OOOp:_tok_encode", &cap, &text, &modes, &want_offsets)) return NULL;
    tg_tokenizer *t = get_tok(cap);
    if (!t) return NULL;
    const uint8_t *m;
    if (!parse_modes(t, modes, &m)) return NULL;
    tg_text src;
    if (!tg_py_text_units(text, &src, "text", -1)) return NULL;
    tg_tokens out = {0};
    tg_status st;
    int flags = want_offsets ? TG_ENC_CHAR_OFFSETS : 0;
    Py_BEGIN_ALLOW_THREADS
    st = tg_encode_text(t, &src, m, flags, &out);
    Py_END_ALLOW_THREADS
    if (st == TG_ERR_UNICODE) {
        tg_tokens_free(&out);
        return tg_py_error("TextEncodingError", "text has a %s", tg_last_error());
    }
    if (st != TG_OK) {
        tg_tokens_free(&out);
        return tg_py_raise(st);
    }
    PyObject *res = NULL;
    if (!want_offsets) {
        res = PyList_New((Py_ssize_t)out.n);
        if (res) {
            for (size_t i = 0; i < out.n; i++) {
                PyObject *v = id_object(out.ids[i]);
                if (!v) {
                    Py_CLEAR(res);
                    break;
                }
                PyList_SET_ITEM(res, (Py_ssize_t)i, v);
            }
        }
    } else {
        npy_intp d1[1] = {(npy_intp)out.n}, d2[2] = {(npy_intp)out.n, 2};
        PyObject *ids = PyArray_SimpleNew(1, d1, NPY_INT64);
        PyObject *off = PyArray_SimpleNew(2, d2, NPY_INT64);
        if (ids && off) {
            int64_t *ip = PyArray_DATA((PyArrayObject *)ids);
            for (size_t i = 0; i < out.n; i++) ip[i] = out.ids[i];
            if (out.n) memcpy(PyArray_DATA((PyArrayObject *)off), out.offsets, out.n * 2 * sizeof(int64_t));
            res = PyTuple_Pack(2, ids, off);
        }
        Py_XDECREF(ids);
        Py_XDECREF(off);
    }
    tg_tokens_free(&out);
    return res;
}

static PyObject *py_tok_encode_batch(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *texts, *modes;
    long long pad_id;
    int pad_left, want_offsets;
    if (!PyArg_ParseTuple(args, "OO!OLpp:_tok_encode_batch", &cap, &PyTuple_Type, &texts, &modes, &pad_id, &pad_left,
                          &want_offsets))
        return NULL;
    tg_tokenizer *t = get_tok(cap);
    if (!t) return NULL;
    const uint8_t *m;
    if (!parse_modes(t, modes, &m)) return NULL;
    Py_ssize_t B = PyTuple_GET_SIZE(texts);
    size_t nb = B > 0 ? (size_t)B : 1;
    tg_text *srcs = PyMem_Malloc(nb * sizeof *srcs);
    if (!srcs) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < B; i++) {
        if (!tg_py_text_units(PyTuple_GET_ITEM(texts, i), &srcs[i], "texts", i)) {
            PyMem_Free(srcs);
            return NULL;
        }
    }
    tg_batch *b = NULL;
    tg_status st;
    int flags = want_offsets ? TG_ENC_CHAR_OFFSETS : 0;
    Py_BEGIN_ALLOW_THREADS
    st = tg_encode_batch_texts(t, srcs, (size_t)B, m, flags, &b);
    Py_END_ALLOW_THREADS
    PyMem_Free(srcs);
    if (st != TG_OK) return tg_py_raise(st);
    size_t T = tg_batch_max_length(b);
    npy_intp d2[2] = {B, (npy_intp)T}, d1[1] = {B}, d3[3] = {B, (npy_intp)T, 2};
    PyObject *ids = PyArray_SimpleNew(2, d2, NPY_INT64);
    PyObject *mask = PyArray_SimpleNew(2, d2, NPY_BOOL);
    PyObject *lengths = PyArray_SimpleNew(1, d1, NPY_INT64);
    PyObject *off = want_offsets ? PyArray_SimpleNew(3, d3, NPY_INT64) : (Py_INCREF(Py_None), Py_None);
    PyObject *res = NULL;
    if (ids && mask && lengths && off) {
        int64_t *ip = PyArray_DATA((PyArrayObject *)ids);
        uint8_t *mp = PyArray_DATA((PyArrayObject *)mask);
        int64_t *lp = PyArray_DATA((PyArrayObject *)lengths);
        int64_t *op = want_offsets ? PyArray_DATA((PyArrayObject *)off) : NULL;
        Py_BEGIN_ALLOW_THREADS
        st = tg_batch_fill(b, T, (int64_t)pad_id, pad_left != 0, ip, mp, lp, op);
        Py_END_ALLOW_THREADS
        if (st == TG_OK)
            res = PyTuple_Pack(4, ids, mask, lengths, off);
        else
            tg_py_raise(st);
    }
    tg_batch_free(b);
    Py_XDECREF(ids);
    Py_XDECREF(mask);
    Py_XDECREF(lengths);
    Py_XDECREF(off);
    return res;
}

/* ids as a private int64 buffer: list/tuple of ints (converted) or a C-contiguous 1-D int64
 * array (copied: callers check the ids, size their output from them, then read them again
 * with the GIL released, when another thread could have changed the caller's array).
 * *tmp receives memory to PyMem_Free. */
bool tg_py_ids_arg(PyObject *obj, const int64_t **ids, size_t *n, int64_t **tmp) {
    *tmp = NULL;
    if (PyArray_Check(obj)) {
        PyArrayObject *a = (PyArrayObject *)obj;
        if (PyArray_NDIM(a) != 1 || PyArray_TYPE(a) != NPY_INT64 || !PyArray_IS_C_CONTIGUOUS(a)) {
            tg_py_error("InvalidTypeError", "token ids must be a 1-D int64 array");
            return false;
        }
        size_t k = (size_t)PyArray_DIM(a, 0);
        int64_t *copy = PyMem_Malloc((k > 0 ? k : 1) * sizeof *copy);
        if (!copy) {
            PyErr_NoMemory();
            return false;
        }
        if (k) memcpy(copy, PyArray_DATA(a), k * sizeof *copy);
        *ids = copy;
        *n = k;
        *tmp = copy;
        return true;
    }
    if (!PyList_Check(obj) && !PyTuple_Check(obj)) {
        tg_py_error("InvalidTypeError", "token ids must be a list of ints, not %s", Py_TYPE(obj)->tp_name);
        return false;
    }
    PyObject *fast = PySequence_Fast(obj, "token ids");
    if (!fast) return false;
    Py_ssize_t k = PySequence_Fast_GET_SIZE(fast);
    int64_t *buf = PyMem_Malloc((k > 0 ? (size_t)k : 1) * sizeof *buf);
    if (!buf) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return false;
    }
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *it = items[i];
        if (PyLong_Check(it)) {
            Py_INCREF(it);
        } else if (PyIndex_Check(it) && !PyFloat_Check(it)) { /* NumPy integer scalars */
            it = PyNumber_Index(it);
            if (!it) goto fail;
        } else {
            tg_py_error("InvalidTypeError", "token ids must be ints; item %zd is %s", i, Py_TYPE(it)->tp_name);
            goto fail;
        }
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(it, &overflow);
        Py_DECREF(it);
        if (v == -1 && PyErr_Occurred()) goto fail;
        if (overflow) {
            tg_py_error("TokenIdError", "token id at position %zd is not in the vocabulary (it does not fit in 64 bits)", i);
            goto fail;
        }
        buf[i] = v;
    }
    Py_DECREF(fast);
    *ids = buf;
    *n = (size_t)k;
    *tmp = buf;
    return true;
fail:
    Py_DECREF(fast);
    PyMem_Free(buf);
    return false;
}

static PyObject *py_tok_decode_bytes(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *obj;
    if (!PyArg_ParseTuple(args, "OO:_tok_decode_bytes", &cap, &obj)) return NULL;
    tg_tokenizer *t = get_tok(cap);
    if (!t) return NULL;
    const int64_t *ids;
    size_t n;
    int64_t *tmp;
    if (!tg_py_ids_arg(obj, &ids, &n, &tmp)) return NULL;
    size_t size = 0;
    tg_status st = tg_decode_size(t, ids, n, &size);
    PyObject *res = NULL;
    if (st != TG_OK) {
        tg_py_raise(st);
    } else if (size > (size_t)PY_SSIZE_T_MAX) {
        tg_py_error("SizeOverflowError", "decoded text too long");
    } else {
        res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
        if (res) {
            uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(res);
            Py_BEGIN_ALLOW_THREADS
            st = tg_decode(t, ids, n, dst);
            Py_END_ALLOW_THREADS
            if (st != TG_OK) {
                Py_CLEAR(res);
                tg_py_raise(st);
            }
        }
    }
    PyMem_Free(tmp);
    return res;
}

static PyObject *token_list(PyObject *args, bool byte_level) {
    PyObject *cap, *obj;
    if (!PyArg_ParseTuple(args, "OO", &cap, &obj)) return NULL;
    tg_tokenizer *t = get_tok(cap);
    if (!t) return NULL;
    const int64_t *ids;
    size_t n;
    int64_t *tmp;
    if (!tg_py_ids_arg(obj, &ids, &n, &tmp)) return NULL;
    PyObject *res = PyList_New((Py_ssize_t)n);
    char *buf = NULL;
    size_t buf_cap = 0;
    for (size_t i = 0; res && i < n; i++) {
        const uint8_t *b;
        size_t l;
        if (!tg_tokenizer_token_bytes(t, ids[i], &b, &l)) {
            tg_py_error("TokenIdError", "token id %lld at position %zu is not in the vocabulary (valid ids: 0..%zu)",
                        (long long)ids[i], i, tg_tokenizer_n_vocab(t) - 1);
            Py_CLEAR(res);
            break;
        }
        PyObject *v;
        if (byte_level) {
            if (2 * l > buf_cap) {
                char *nb = PyMem_Realloc(buf, 2 * l);
                if (!nb) {
                    PyErr_NoMemory();
                    Py_CLEAR(res);
                    break;
                }
                buf = nb;
                buf_cap = 2 * l;
            }
            size_t k = tg_bytes_to_byte_level(b, l, buf);
            v = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)k, "strict");
        } else {
            v = PyBytes_FromStringAndSize((const char *)b, (Py_ssize_t)l);
        }
        if (!v) {
            Py_CLEAR(res);
            break;
        }
        PyList_SET_ITEM(res, (Py_ssize_t)i, v);
    }
    PyMem_Free(buf);
    PyMem_Free(tmp);
    return res;
}

static PyObject *py_tok_token_bytes(PyObject *self, PyObject *args) {
    (void)self;
    return token_list(args, false);
}

static PyObject *py_tok_byte_level(PyObject *self, PyObject *args) {
    (void)self;
    return token_list(args, true);
}

/* _tok_pre_tokenize(text) -> list[str]: GPT-2's pre-tokens (special tokens not separated). */
static PyObject *py_tok_pre_tokenize(PyObject *self, PyObject *text) {
    (void)self;
    Py_ssize_t len;
    const char *u = text_utf8(text, &len, "text", -1);
    if (!u) return NULL;
    PyObject *res = PyList_New(0);
    if (!res) return NULL;
    size_t pos = 0, n = (size_t)len;
    Py_ssize_t cstart = 0;
    while (pos < n) {
        size_t l = tg_pretoken_len((const uint8_t *)u + pos, n - pos);
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

/* _tok_batch_offsets(cap, ids[B, T] int64, lengths[B] int64, pad_left) -> offsets[B, T, 2]
 * in code points, -1 on padding (the arrays are checked by the caller, tokenizer.py). */
static PyObject *py_tok_batch_offsets(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap;
    PyArrayObject *ids, *lengths;
    int pad_left;
    if (!PyArg_ParseTuple(args, "OO!O!p:_tok_batch_offsets", &cap, &PyArray_Type, &ids, &PyArray_Type, &lengths, &pad_left))
        return NULL;
    tg_tokenizer *t = get_tok(cap);
    if (!t) return NULL;
    if (PyArray_NDIM(ids) != 2 || PyArray_TYPE(ids) != NPY_INT64 || !PyArray_IS_C_CONTIGUOUS(ids) ||
        PyArray_NDIM(lengths) != 1 || PyArray_TYPE(lengths) != NPY_INT64 || !PyArray_IS_C_CONTIGUOUS(lengths) ||
        PyArray_DIM(lengths, 0) != PyArray_DIM(ids, 0))
        return tg_py_error("InvalidTypeError", "batch arrays must be C-contiguous int64 ids [B, T] and lengths [B]");
    npy_intp B = PyArray_DIM(ids, 0), T = PyArray_DIM(ids, 1);
    /* private copies: the lengths are checked here and used again with the GIL released,
     * while another thread may write the Batch's arrays */
    ids = (PyArrayObject *)PyArray_NewCopy(ids, NPY_CORDER);
    lengths = ids ? (PyArrayObject *)PyArray_NewCopy(lengths, NPY_CORDER) : NULL;
    if (!lengths) {
        Py_XDECREF(ids);
        return NULL;
    }
    const int64_t *ip = PyArray_DATA(ids), *lp = PyArray_DATA(lengths);
    PyObject *off = NULL;
    for (npy_intp i = 0; i < B; i++)
        if (lp[i] < 0 || lp[i] > T) {
            tg_py_error("InvalidInputError", "lengths[%zd] = %lld is not in [0, %zd]", (Py_ssize_t)i, (long long)lp[i], (Py_ssize_t)T);
            goto done;
        }
    npy_intp d3[3] = {B, T, 2};
    off = PyArray_SimpleNew(3, d3, NPY_INT64);
    if (!off) goto done;
    int64_t *op = PyArray_DATA((PyArrayObject *)off);
    tg_status st = TG_OK;
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp i = 0; i < B && st == TG_OK; i++) {
        npy_intp L = lp[i], col = pad_left ? T - L : 0;
        int64_t *row = op + 2 * i * T;
        for (npy_intp j = 0; j < 2 * T; j++) row[j] = -1;
        st = tg_offsets_from_ids(t, ip + i * T + col, (size_t)L, true, row + 2 * col);
    }
    Py_END_ALLOW_THREADS
    if (st != TG_OK) {
        Py_CLEAR(off);
        tg_py_raise(st);
    }
done:
    Py_DECREF(ids);
    Py_DECREF(lengths);
    return off;
}

static PyMethodDef tok_methods[] = {
    {"_tok_batch_offsets", py_tok_batch_offsets, METH_VARARGS, "_tok_batch_offsets(handle, ids, lengths, pad_left)"},
    {"_tok_pre_tokenize", py_tok_pre_tokenize, METH_O, "_tok_pre_tokenize(text) -> list[str]"},
    {"_tok_load", py_tok_load, METH_VARARGS, "_tok_load(vocab_path, merges_path) -> handle"},
    {"_tok_info", py_tok_info, METH_O, "_tok_info(handle) -> (n_vocab, eot_id, specials)"},
    {"_tok_encode", py_tok_encode, METH_VARARGS, "_tok_encode(handle, text, modes, offsets)"},
    {"_tok_encode_batch", py_tok_encode_batch, METH_VARARGS,
     "_tok_encode_batch(handle, texts, modes, pad_id, pad_left, offsets)"},
    {"_tok_decode_bytes", py_tok_decode_bytes, METH_VARARGS, "_tok_decode_bytes(handle, ids) -> bytes"},
    {"_tok_token_bytes", py_tok_token_bytes, METH_VARARGS, "_tok_token_bytes(handle, ids) -> list[bytes]"},
    {"_tok_byte_level", py_tok_byte_level, METH_VARARGS, "_tok_byte_level(handle, ids) -> list[str]"},
    {NULL, NULL, 0, NULL},
};

int tg_py_init_tokenizer(PyObject *m) {
    return PyModule_AddFunctions(m, tok_methods);
}
