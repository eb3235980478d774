/* py_tokenizer.c - binding for the tokenizer part of the core (to be filled in). */
#include "tgpy.h"

int tg_py_init_tokenizer(PyObject *m) {
    (void)m;
    return 0;
}
