/* py_reduce.c - binding for the reduce part of the core (to be filled in). */
#include "tgpy.h"

int tg_py_init_reduce(PyObject *m) {
    (void)m;
    return 0;
}
