/*
 * insncount: a QEMU TCG plugin that counts the guest instructions executed
 * at each translation block, for an exact flat profile of a guest under
 * TCG (sampling the vCPUs through the monitor only sees them where they
 * left generated code, which over-counts MMIO and helpers).
 *
 * Usage: qemu-system-x86_64 -plugin insncount.so,out=FILE ...
 * Every second, and when QEMU exits, the plugin rewrites FILE (through FILE.tmp and rename) with
 * one line per block: "<guest vaddr hex> <instructions> <executions>"
 * followed by the block's counts of costly instructions (see classify),
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
struct qemu_plugin_insn;
extern struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
extern const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
extern size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
typedef void (*udata_cb)(qemu_plugin_id_t id, void *userdata);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* Instructions that cost far more than others under TCG (they leave
 * generated code, call helpers or take locks), counted per block when it
 * is translated: */
enum {
    SP_LOCK,    /* LOCK prefix or XCHG with memory: an atomic */
    SP_PAUSE,   /* PAUSE: leaves the execution loop */
    SP_TSC,     /* RDTSC, RDTSCP */
    SP_MSR,     /* RDMSR, WRMSR */
    SP_IO,      /* IN, OUT */
    SP_HLT,     /* HLT */
    SP_SYSCALL, /* SYSCALL, SYSRET, IRET, INT n */
    SP_SYSTEM,  /* CPUID, MOV to/from CR, INVLPG, STI/CLI */
    NSPECIAL
};

static void classify(const uint8_t *b, size_t n, uint8_t *sp)
{
    size_t i = 0;
    int lock = 0, rep = 0;
    /* Legacy prefixes, then REX. */
    for (; i < n; i++) {
        uint8_t p = b[i];
        if (p == 0xf0) {
            lock = 1;
        } else if (p == 0xf3) {
            rep = 1;
        } else if (p == 0x66 || p == 0xf2 || p == 0x2e || p == 0x3e || p == 0x26 ||
                   p == 0x64 || p == 0x65 || p == 0x36) {
        } else {
            break;
        }
    }
    if (i < n && (b[i] & 0xf0) == 0x40) {
        i++;
    }
    if (i >= n) {
        return;
    }
    uint8_t op = b[i];
    uint8_t modrm = i + 1 < n ? b[i + 1] : 0;
    int mem = (modrm >> 6) != 3;
    if (lock || ((op == 0x86 || op == 0x87) && mem)) {
        sp[SP_LOCK]++;
    }
    switch (op) {
    case 0x90:
        if (rep) {
            sp[SP_PAUSE]++;
        }
        return;
    case 0xf4:
        sp[SP_HLT]++;
        return;
    case 0xe4: case 0xe5: case 0xe6: case 0xe7:
    case 0xec: case 0xed: case 0xee: case 0xef:
        sp[SP_IO]++;
        return;
    case 0xcf: case 0xcd:
        sp[SP_SYSCALL]++;
        return;
    case 0xfa: case 0xfb:
        sp[SP_SYSTEM]++;
        return;
    case 0x0f:
        break;
    default:
        return;
    }
    if (i + 1 >= n) {
        return;
    }
    uint8_t op2 = b[i + 1];
    uint8_t m2 = i + 2 < n ? b[i + 2] : 0;
    switch (op2) {
    case 0x31:
        sp[SP_TSC]++;
        break;
    case 0x30: case 0x32:
        sp[SP_MSR]++;
        break;
    case 0x05: case 0x07:
        sp[SP_SYSCALL]++;
        break;
    case 0xa2: case 0x20: case 0x22:
        sp[SP_SYSTEM]++;
        break;
    case 0x01:
        if (m2 == 0xf9) {
            sp[SP_TSC]++;
        } else if (((m2 >> 3) & 7) == 7 && (m2 >> 6) != 3) {
            sp[SP_SYSTEM]++; /* INVLPG */
        }
        break;
    }
}

/* One block: a start address and length. A block retranslated with another
 * length (QEMU cuts blocks short around I/O) is another entry. */
struct block {
    uint64_t vaddr;
    uint64_t insns;
    uint64_t execs; /* added to by generated code */
    uint8_t special[NSPECIAL];
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
        uint8_t sp[NSPECIAL] = {0};
        for (uint64_t i = 0; i < n; i++) {
            const struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
            classify(qemu_plugin_insn_data(insn), qemu_plugin_insn_size(insn), sp);
        }
        memcpy(b->special, sp, sizeof(sp)); /* same bytes each translation */
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
                fprintf(f, "%llx %llu %llu", (unsigned long long)b->vaddr,
                        (unsigned long long)b->insns, (unsigned long long)execs);
                for (int k = 0; k < NSPECIAL; k++) {
                    fprintf(f, " %u", b->special[k]);
                }
                fputc('\n', f);
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
