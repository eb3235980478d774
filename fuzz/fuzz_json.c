/* fuzz_json.c - libFuzzer target for the JSON reader: any bytes must parse or fail cleanly. */
#include <stddef.h>
#include <stdint.h>

#include "base/json.h" /* the reader is internal to the core */

static void walk(const tg_json *v, int depth) {
    if (depth > TG_JSON_MAX_DEPTH + 1) __builtin_trap(); /* the parser bounds nesting */
    switch (v->type) {
    case TG_JSON_ARRAY:
        for (size_t i = 0; i < v->u.array.count; i++) walk(&v->u.array.items[i], depth + 1);
        break;
    case TG_JSON_OBJECT:
        for (size_t i = 0; i < v->u.object.count; i++) {
            const tg_json_member *m = &v->u.object.members[i];
            if (m->key[m->key_len] != '\0') __builtin_trap();
            walk(&m->value, depth + 1);
        }
        break;
    case TG_JSON_STRING:
        if (v->u.string.ptr[v->u.string.len] != '\0') __builtin_trap();
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tg_json_doc *doc = NULL;
    if (tg_json_parse((const char *)data, size, &doc) == TG_OK) {
        walk(tg_json_root(doc), 0);
        tg_json_free(doc);
    } else if (doc != NULL) {
        __builtin_trap(); /* failure must leave no document */
    }
    return 0;
}
