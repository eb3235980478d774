/* py_model.c - binding for the model part of the core (to be filled in). */
#include "tgpy.h"

int tg_py_init_model(PyObject *m) {
    (void)m;
    return 0;
}
