/* libdyn.so, linked into dynapp: a constructor, data, initial-exec TLS. */
#include <stdio.h>

int dyn_inits;
static __thread int bumps;
static char name[32];

__attribute__((constructor)) static void init(void) {
	dyn_inits++;
	snprintf(name, sizeof name, "libdyn %d.%d", 1, 2);
}

int dyn_add(int a, int b) { return a + b; }
int dyn_tls_bump(void) { return ++bumps; }
const char *dyn_name(void) { return name; }
