/* json.c - strict recursive-descent JSON reader into one arena (see base/json.h). */
#include "base/json.h"

#include "base/internal.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: a list of chunks; everything is freed at once ---- */
typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[]; /* flexible, aligned */
} chunk;

struct tg_json_doc {
    chunk *chunks;
    tg_json root;
};

static void *arena_alloc(tg_json_doc *doc, size_t size) {
    size_t need;
    if (!tg_add_size(size, sizeof(max_align_t) - 1, &need)) return NULL;
    need -= need % sizeof(max_align_t);
    if (need == 0) need = sizeof(max_align_t);
    chunk *c = doc->chunks;
    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > 65536 ? need : 65536;
        size_t total;
        if (!tg_add_size(sizeof(chunk), cap, &total)) return NULL;
        chunk *nc = malloc(total);
        if (nc == NULL) return NULL;
        nc->next = doc->chunks;
        nc->used = 0;
        nc->cap = cap;
        doc->chunks = nc;
        c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += need;
    return p;
}

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    tg_json_doc *doc;
    char *scratch;    /* string decoding buffer */
    size_t scratch_cap;
} parser;

static tg_status perr(parser *p, const char *what) {
    return tg_fail(TG_ERR_FORMAT, "invalid JSON at byte %zu: %s", p->pos, what);
}

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            p->pos++;
        else
            break;
    }
}

static tg_status parse_value(parser *p, tg_json *out, int depth);

static bool scratch_reserve(parser *p, size_t extra, size_t used) {
    size_t need;
    if (!tg_add_size(used, extra, &need)) return false;
    if (need <= p->scratch_cap) return true;
    size_t cap = p->scratch_cap ? p->scratch_cap : 256;
    while (cap < need) {
        if (!tg_mul_size(cap, 2, &cap)) return false;
    }
    char *n = realloc(p->scratch, cap);
    if (n == NULL) return false;
    p->scratch = n;
    p->scratch_cap = cap;
    return true;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex4(parser *p, unsigned *out) {
    if (p->len - p->pos < 4) return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p->s[p->pos + (size_t)i]);
        if (h < 0) return false;
        v = (v << 4) | (unsigned)h;
    }
    p->pos += 4;
    *out = v;
    return true;
}


static size_t put_utf8(char *dst, unsigned cp) {
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* p->pos is just past the opening quote. */
static tg_status parse_string(parser *p, const char **ptr, size_t *len) {
    size_t used = 0;
    for (;;) {
        if (p->pos >= p->len) return perr(p, "unterminated string");
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) return perr(p, "control character in string");
        if (!scratch_reserve(p, 4, used)) return tg_fail(TG_ERR_NOMEM, "out of memory parsing JSON");
        if (c == '\\') {
            p->pos++;
            if (p->pos >= p->len) return perr(p, "unterminated escape");
            unsigned char e = p->s[p->pos++];
            char simple = 0;
            switch (e) {
            case '"': simple = '"'; break;
            case '\\': simple = '\\'; break;
            case '/': simple = '/'; break;
            case 'b': simple = '\b'; break;
            case 'f': simple = '\f'; break;
            case 'n': simple = '\n'; break;
            case 'r': simple = '\r'; break;
            case 't': simple = '\t'; break;
            case 'u': {
                unsigned cp;
                if (!read_hex4(p, &cp)) return perr(p, "bad \\u escape");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                        return perr(p, "lone high surrogate in \\u escape");
                    p->pos += 2;
                    if (!read_hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return perr(p, "high surrogate not followed by a low surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return perr(p, "lone low surrogate in \\u escape");
                }
                used += put_utf8(p->scratch + used, cp);
                continue;
            }
            default: return perr(p, "unknown escape");
            }
            p->scratch[used++] = simple;
            continue;
        }
        size_t n = tg_utf8_len(p->s + p->pos, p->len - p->pos);
        if (n == 0) return perr(p, "invalid UTF-8 in string");
        memcpy(p->scratch + used, p->s + p->pos, n);
        used += n;
        p->pos += n;
    }
    size_t total;
    if (!tg_add_size(used, 1, &total)) return tg_fail(TG_ERR_OVERFLOW, "JSON string too long");
    char *dst = arena_alloc(p->doc, total);
    if (dst == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory parsing JSON");
    if (used) memcpy(dst, p->scratch, used);
    dst[used] = '\0';
    *ptr = dst;
    *len = used;
    return TG_OK;
}

static tg_status parse_number(parser *p, tg_json *out) {
    size_t start = p->pos;
    const unsigned char *s = p->s;
    bool is_int = true;
    if (p->pos < p->len && s[p->pos] == '-') p->pos++;
    if (p->pos >= p->len) return perr(p, "truncated number");
    if (s[p->pos] == '0') {
        p->pos++;
    } else if (s[p->pos] >= '1' && s[p->pos] <= '9') {
        while (p->pos < p->len && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    } else {
        return perr(p, "invalid number");
    }
    if (p->pos < p->len && s[p->pos] == '.') {
        is_int = false;
        p->pos++;
        if (p->pos >= p->len || s[p->pos] < '0' || s[p->pos] > '9') return perr(p, "digit expected after '.'");
        while (p->pos < p->len && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        is_int = false;
        p->pos++;
        if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->len || s[p->pos] < '0' || s[p->pos] > '9') return perr(p, "digit expected in exponent");
        while (p->pos < p->len && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    size_t n = p->pos - start;
    out->type = TG_JSON_NUMBER;
    out->u.number.is_int = false;
    out->u.number.ivalue = 0;
    if (is_int) {
        bool neg = s[start] == '-';
        uint64_t acc = 0;
        bool fits = true;
        for (size_t i = start + (neg ? 1 : 0); i < p->pos; i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (acc > (UINT64_MAX - d) / 10) {
                fits = false;
                break;
            }
            acc = acc * 10 + d;
        }
        if (fits && (neg ? acc <= (uint64_t)INT64_MAX + 1 : acc <= (uint64_t)INT64_MAX)) {
            out->u.number.is_int = true;
            out->u.number.ivalue = neg ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
        }
    }
    /* strtod honours the C locale's decimal point: substitute it for '.' */
    char buf[128];
    if (n >= sizeof buf) {
        /* absurdly long literal: value only needed approximately; keep integer exactness */
        out->u.number.value = out->u.number.is_int ? (double)out->u.number.ivalue : 0.0;
        if (!out->u.number.is_int) return perr(p, "number literal longer than 127 characters");
        return TG_OK;
    }
    memcpy(buf, s + start, n);
    buf[n] = '\0';
    const struct lconv *lc = localeconv();
    char dp = (lc && lc->decimal_point && lc->decimal_point[0]) ? lc->decimal_point[0] : '.';
    if (dp != '.') {
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '.') buf[i] = dp;
    }
    out->u.number.value = strtod(buf, NULL);
    return TG_OK;
}

static bool match_lit(parser *p, const char *lit) {
    size_t n = strlen(lit);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0) return false;
    p->pos += n;
    return true;
}

typedef struct vec {
    void *data;
    size_t count, cap, elem;
} vec;

static void *vec_push(vec *v) {
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8, bytes;
        if (cap < v->cap || !tg_mul_size(cap, v->elem, &bytes)) return NULL;
        void *n = realloc(v->data, bytes);
        if (n == NULL) return NULL;
        v->data = n;
        v->cap = cap;
    }
    return (char *)v->data + v->elem * v->count++;
}

static tg_status vec_to_arena(parser *p, vec *v, void **dst) {
    *dst = NULL;
    if (v->count == 0) return TG_OK;
    size_t bytes = v->count * v->elem; /* cannot overflow: it was allocated */
    void *a = arena_alloc(p->doc, bytes);
    if (a == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory parsing JSON");
    memcpy(a, v->data, bytes);
    *dst = a;
    return TG_OK;
}

static tg_status parse_array(parser *p, tg_json *out, int depth) {
    vec v = {NULL, 0, 0, sizeof(tg_json)};
    tg_status st = TG_OK;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
    } else {
        for (;;) {
            tg_json *item = vec_push(&v);
            if (item == NULL) {
                st = tg_fail(TG_ERR_NOMEM, "out of memory parsing JSON");
                goto done;
            }
            if ((st = parse_value(p, item, depth + 1)) != TG_OK) goto done;
            skip_ws(p);
            if (p->pos >= p->len) {
                st = perr(p, "unterminated array");
                goto done;
            }
            unsigned char c = p->s[p->pos++];
            if (c == ']') break;
            if (c != ',') {
                p->pos--;
                st = perr(p, "',' or ']' expected");
                goto done;
            }
        }
    }
    out->type = TG_JSON_ARRAY;
    out->u.array.count = v.count;
    st = vec_to_arena(p, &v, (void **)&out->u.array.items);
done:
    free(v.data);
    return st;
}

static tg_status parse_object(parser *p, tg_json *out, int depth) {
    vec v = {NULL, 0, 0, sizeof(tg_json_member)};
    tg_status st = TG_OK;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                st = perr(p, "object key (a string) expected");
                goto done;
            }
            p->pos++;
            tg_json_member *m = vec_push(&v);
            if (m == NULL) {
                st = tg_fail(TG_ERR_NOMEM, "out of memory parsing JSON");
                goto done;
            }
            if ((st = parse_string(p, &m->key, &m->key_len)) != TG_OK) goto done;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                st = perr(p, "':' expected after object key");
                goto done;
            }
            p->pos++;
            if ((st = parse_value(p, &m->value, depth + 1)) != TG_OK) goto done;
            skip_ws(p);
            if (p->pos >= p->len) {
                st = perr(p, "unterminated object");
                goto done;
            }
            unsigned char c = p->s[p->pos++];
            if (c == '}') break;
            if (c != ',') {
                p->pos--;
                st = perr(p, "',' or '}' expected");
                goto done;
            }
        }
    }
    out->type = TG_JSON_OBJECT;
    out->u.object.count = v.count;
    st = vec_to_arena(p, &v, (void **)&out->u.object.members);
done:
    free(v.data);
    return st;
}

static tg_status parse_value(parser *p, tg_json *out, int depth) {
    if (depth > TG_JSON_MAX_DEPTH) return perr(p, "nesting deeper than 64 levels");
    skip_ws(p);
    if (p->pos >= p->len) return perr(p, "value expected");
    unsigned char c = p->s[p->pos];
    memset(out, 0, sizeof *out);
    switch (c) {
    case '{': p->pos++; return parse_object(p, out, depth);
    case '[': p->pos++; return parse_array(p, out, depth);
    case '"':
        p->pos++;
        out->type = TG_JSON_STRING;
        return parse_string(p, &out->u.string.ptr, &out->u.string.len);
    case 't':
        if (!match_lit(p, "true")) return perr(p, "invalid literal");
        out->type = TG_JSON_TRUE;
        return TG_OK;
    case 'f':
        if (!match_lit(p, "false")) return perr(p, "invalid literal");
        out->type = TG_JSON_FALSE;
        return TG_OK;
    case 'n':
        if (!match_lit(p, "null")) return perr(p, "invalid literal");
        out->type = TG_JSON_NULL;
        return TG_OK;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, out);
        return perr(p, "unexpected character");
    }
}

void tg_json_free(tg_json_doc *doc) {
    if (doc == NULL) return;
    chunk *c = doc->chunks;
    while (c) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    free(doc);
}

tg_status tg_json_parse(const char *text, size_t len, tg_json_doc **out) {
    *out = NULL;
    if (text == NULL && len != 0) return tg_fail(TG_ERR_VALUE, "NULL JSON buffer");
    tg_json_doc *doc = calloc(1, sizeof *doc);
    if (doc == NULL) return tg_fail(TG_ERR_NOMEM, "out of memory parsing JSON");
    parser p = {(const unsigned char *)text, len, 0, doc, NULL, 0};
    /* a UTF-8 byte order mark is tolerated (some editors write one into config.json) */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3;
    tg_status st = parse_value(&p, &doc->root, 0);
    if (st == TG_OK) {
        skip_ws(&p);
        if (p.pos != p.len) st = perr(&p, "trailing characters after the JSON value");
    }
    free(p.scratch);
    if (st != TG_OK) {
        tg_json_free(doc);
        return st;
    }
    *out = doc;
    return TG_OK;
}

const tg_json *tg_json_root(const tg_json_doc *doc) { return doc ? &doc->root : NULL; }

const tg_json *tg_json_get(const tg_json *obj, const char *key) {
    if (obj == NULL || obj->type != TG_JSON_OBJECT || key == NULL) return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < obj->u.object.count; i++) {
        const tg_json_member *m = &obj->u.object.members[i];
        if (m->key_len == kl && memcmp(m->key, key, kl) == 0) return &m->value;
    }
    return NULL;
}

bool tg_json_as_int64(const tg_json *v, int64_t *out) {
    if (v == NULL || v->type != TG_JSON_NUMBER || !v->u.number.is_int) return false;
    *out = v->u.number.ivalue;
    return true;
}

bool tg_json_as_double(const tg_json *v, double *out) {
    if (v == NULL || v->type != TG_JSON_NUMBER) return false;
    *out = v->u.number.value;
    return true;
}

bool tg_json_as_string(const tg_json *v, const char **ptr, size_t *len) {
    if (v == NULL || v->type != TG_JSON_STRING) return false;
    *ptr = v->u.string.ptr;
    *len = v->u.string.len;
    return true;
}
