/* memory.c - aligned allocation and the one memory-budget rule of the core (half of the
 * physical memory; see base/internal.h).  The Python binding's arena pool sizes itself from
 * tg_physical_memory() too. */
#include <stdlib.h>
#include <unistd.h>

#include "base/internal.h"

void *tg_alloc_aligned(size_t size) {
    if (size == 0) return NULL;
    size_t rounded;
    if (!tg_add_size(size, 63, &rounded)) return NULL;
    rounded &= ~(size_t)63;
    return aligned_alloc(64, rounded);
}

size_t tg_physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || psize <= 0) return 0;
    size_t bytes;
    if (!tg_mul_size((size_t)pages, (size_t)psize, &bytes)) return SIZE_MAX;
    return bytes;
}

tg_status tg_check_memory_budget(double bytes, const char *what, const char *hint) {
    const size_t phys = tg_physical_memory();
    if (phys == 0) return TG_OK; /* unknown: let the allocation decide */
    const double limit = 0.5 * (double)phys;
    if (bytes > limit)
        return tg_fail(TG_ERR_BUDGET, "%s would need %.1f GB, more than half of this machine's %.1f GB of memory; %s",
                       what, bytes * 1e-9, 2.0 * limit * 1e-9, hint);
    return TG_OK;
}
