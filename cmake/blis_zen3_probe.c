/* Configure-time probe: does the BLIS we link carry the zen3 kernel set?  Selecting an
 * architecture the library was not built with makes BLIS abort, so tokgeo only ever asks
 * for zen3 (see csrc/threads.c) when this program printed "zen3". */
#include <blis.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    char id[16];
    snprintf(id, sizeof id, "%d", (int)BLIS_ARCH_ZEN3);
    setenv("BLIS_ARCH_TYPE", id, 1);
    bli_init();
    printf("%s\n", bli_arch_string(bli_arch_query_id()));
    return 0;
}
