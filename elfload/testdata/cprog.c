/* A test program for the elfload tests: built static, static-PIE and
   dynamic, loaded into a fake address space, and run by the runner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

static char bss[1 << 16];

int main(int argc, char **argv)
{
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("arg %s\n", argv[i]);
	const char *v = getenv("GOSV_VAR");
	printf("env=%s\n", v ? v : "");
	printf("execfn=%s\n", (const char *)getauxval(AT_EXECFN));
	printf("platform=%s\n", (const char *)getauxval(AT_PLATFORM));
	const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
	printf("random=");
	for (int i = 0; i < 16; i++)
		printf("%02x", r[i]);
	printf("\n");
	printf("pagesz=%lu\n", getauxval(AT_PAGESZ));
	printf("entry=%#lx phdr=%#lx base=%#lx\n", getauxval(AT_ENTRY), getauxval(AT_PHDR), getauxval(AT_BASE));
	for (size_t i = 0; i < sizeof bss; i++)
		if (bss[i])
			return 3;
	char *p = malloc(100000);
	strcpy(p, "heap ok");
	puts(p);
	return 0;
}
