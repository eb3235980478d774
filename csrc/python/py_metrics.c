/* py_metrics.c - binding for the metrics part of the core (to be filled in). */
#include "tgpy.h"

int tg_py_init_metrics(PyObject *m) {
    (void)m;
    return 0;
}
