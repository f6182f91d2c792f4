/*
 * insncount: a QEMU TCG plugin that counts the guest instructions executed
 * at each translation block, for an exact flat profile of a guest under
 * TCG (sampling the vCPUs through the monitor only sees them where they
 * left generated code, which over-counts MMIO and helpers).
 *
 * Usage: qemu-system-x86_64 -plugin insncount.so,out=FILE ...
 * Every second, and when QEMU exits, the plugin rewrites FILE (through FILE.tmp and rename) with
 * one line per block: "<guest vaddr hex> <instructions> <executions>",
 * counted since QEMU started, so a reader diffs two snapshots to profile
 * an interval. Counts are added inline without atomics: concurrent vCPUs
 * may lose an occasional increment, which a profile can afford.
 *
 * The plugin API is declared here rather than included, for the few calls
 * used; it is QEMU's plugin ABI version 1 (QEMU 7.x).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
enum inline_op { INLINE_ADD_U64 = 0 };

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
        enum inline_op op, void *ptr, uint64_t imm);
typedef void (*udata_cb)(qemu_plugin_id_t id, void *userdata);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One block: a start address and length. A block retranslated with another
 * length (QEMU cuts blocks short around I/O) is another entry. */
struct block {
    uint64_t vaddr;
    uint64_t insns;
    uint64_t execs; /* added to by generated code */
};

/* Open addressing; entries never move, since generated code holds
 * pointers to their counters. 1<<20 blocks is far more than a guest
 * kernel and one application translate. */
#define SLOTS (1u << 20)
static struct block *table;
static uint64_t used;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *out_path;

static struct block *lookup(uint64_t vaddr, uint64_t insns)
{
    uint64_t h = (vaddr * 0x9e3779b97f4a7c15ull) ^ insns;
    for (uint64_t i = 0; i < SLOTS; i++) {
        struct block *b = &table[(h + i) & (SLOTS - 1)];
        if (b->insns == 0) {
            if (used >= SLOTS - 1) {
                return NULL;
            }
            used++;
            b->vaddr = vaddr;
            b->insns = insns;
            return b;
        }
        if (b->vaddr == vaddr && b->insns == insns) {
            return b;
        }
    }
    return NULL;
}

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    uint64_t n = qemu_plugin_tb_n_insns(tb);
    if (n == 0) {
        return;
    }
    pthread_mutex_lock(&lock);
    struct block *b = lookup(qemu_plugin_tb_vaddr(tb), n);
    pthread_mutex_unlock(&lock);
    if (b != NULL) {
        qemu_plugin_register_vcpu_tb_exec_inline(tb, INLINE_ADD_U64, &b->execs, 1);
    }
}

static void dump(void)
{
    size_t len = strlen(out_path);
    char *tmp = malloc(len + 5);
    if (tmp == NULL) {
        return;
    }
    memcpy(tmp, out_path, len);
    memcpy(tmp + len, ".tmp", 5);
    FILE *f = fopen(tmp, "w");
    if (f != NULL) {
        for (uint64_t i = 0; i < SLOTS; i++) {
            struct block *b = &table[i];
            uint64_t execs = __atomic_load_n(&b->execs, __ATOMIC_RELAXED);
            if (b->insns != 0 && execs != 0) {
                fprintf(f, "%llx %llu %llu\n", (unsigned long long)b->vaddr,
                        (unsigned long long)b->insns, (unsigned long long)execs);
            }
        }
        if (fclose(f) == 0) {
            rename(tmp, out_path);
        }
    }
    free(tmp);
}

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    pthread_mutex_lock(&lock);
    dump();
    pthread_mutex_unlock(&lock);
}

static void *dumper(void *arg)
{
    (void)arg;
    for (;;) {
        sleep(1);
        pthread_mutex_lock(&lock);
        dump();
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            out_path = strdup(argv[i] + 4);
        }
    }
    if (out_path == NULL) {
        fprintf(stderr, "insncount: missing out=FILE\n");
        return -1;
    }
    table = calloc(SLOTS, sizeof(*table));
    if (table == NULL) {
        return -1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, dumper, NULL) != 0) {
        return -1;
    }
    pthread_detach(t);
    qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
