/* dynapp: a dynamically linked C program for the application boot tests,
 * built with glibc and with musl. It needs the interpreter, libc, libm and
 * its own libdyn.so (found through DT_RUNPATH $ORIGIN/../lib/dynapp, which
 * the loaders expand through /proc/self/exe), and dlopens libplug.so:
 * relocations across objects, constructors, initial-exec and dynamic TLS in
 * threads, dlsym. Its output is compared with a native run. */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

extern int dyn_inits;
int dyn_add(int a, int b);
int dyn_tls_bump(void);
const char *dyn_name(void);

static void *worker(void *arg) {
	int v = 0;
	for (int i = 0; i < 1000; i++) v = dyn_tls_bump();
	*(int *)arg = v;
	return 0;
}

int main(int argc, char **argv) {
	printf("constructor ran: %d\n", dyn_inits);
	printf("dyn_add: %d\n", dyn_add(40, 2));
	printf("name: %s\n", dyn_name());

	volatile double x = 0.5;
	printf("libm: cos %.6f sqrt %.6f\n", cos(x), sqrt(x * 8));

	pthread_t t[3];
	int r[3];
	for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, worker, &r[i]);
	for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
	printf("tls: %d %d %d main %d\n", r[0], r[1], r[2], dyn_tls_bump());

	void *h = dlopen("libplug.so", RTLD_NOW);
	if (!h) {
		printf("dlopen: %s\n", dlerror());
		return 1;
	}
	int (*square)(int) = (int (*)(int))dlsym(h, "plug_square");
	const char *(*hello)(void) = (const char *(*)(void))dlsym(h, "plug_hello");
	if (!square || !hello) {
		printf("dlsym: %s\n", dlerror());
		return 1;
	}
	int a = square(12), b = square(12);
	printf("plugin: %d %d %s\n", a, b, hello());
	dlclose(h);

	for (int i = 1; i < argc; i++) printf("arg: %s\n", argv[i]);
	return argc > 1 && strcmp(argv[1], "exit5") == 0 ? 5 : 0;
}
