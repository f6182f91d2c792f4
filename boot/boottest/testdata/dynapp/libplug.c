/* libplug.so, dlopened by dynapp: dynamic TLS (__tls_get_addr). */
static __thread int calls;

int plug_square(int x) { return x * x + calls++; }
const char *plug_hello(void) { return "hello from libplug"; }
