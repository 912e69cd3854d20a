// SPDX-License-Identifier: GPL-2.0
/*
 * mydev_icount: a QEMU TCG plugin that counts the guest instructions executed between two
 * markers that a guest program executes, for "guest instructions per operation" figures that
 * are the same run after run (unlike wall-clock time under TCG).
 *
 * Counting: every guest instruction gets an inline add (no helper call) into three counters,
 * chosen once at translation time from the instruction's virtual address:
 *   total   every instruction;
 *   kernel  vaddr >= 0xffff800000000000 (the x86_64 kernel half);
 *   module  vaddr in [mod_lo, mod_hi) (default: the x86_64 module area without KASLR).
 * The adds are plain read-modify-write of shared counters, so the counts are exact only when
 * TCG runs on one thread. Run QEMU with -icount (which forces single-threaded TCG, and makes
 * timer interrupts arrive at the same instruction every run); with -smp N the counters are the
 * sum over the vCPUs.
 *
 * Markers: the 7-byte multi-byte NOP `nopl 0x4d5944NN(%rax)`, bytes 0f 1f 80 NN 44 59 4d
 * (Rust: core::arch::asm!("nop dword ptr [rax + 0x4d5944NN]")), which does nothing on real
 * hardware. The plugin spots it by its bytes at translation time and registers a callback on
 * that instruction only:
 *   NN = 01  start: snapshot the counters;
 *   NN = 02  stop:  append "<n> <total> <kernel> <module>" (the counts since the last start,
 *                   n = 0, 1, 2, ... numbering the stops) to the output file, and flush.
 * A stop without a start since the previous stop writes "<n> error no-start". The callback of
 * an instruction runs before its own add, so a delta includes the start marker and excludes the
 * stop marker: a constant offset of one, the same in every run.
 *
 * Profile (optional): with profile=PATH, every translation block at a kernel address also counts
 * its instructions into a table entry of its own (an inline add of the block's length per
 * execution, so a block left early by an exception counts whole). A start zeroes the table; a
 * stop appends "<n> <block address> <instructions>" for every block that ran in between, which
 * the host maps to function names with the kernel's symbols.
 *
 * Arguments (-plugin libmydev_icount.so,out=PATH[,profile=PATH][,mod_lo=0x...][,mod_hi=0x...]):
 *   out=PATH      the file the stop lines are written to, truncated at start-up (required);
 *   profile=PATH  the file the per-block counts are written to, truncated at start-up;
 *   mod_lo=ADDR   start of the "module" range (default 0xffffffffa0000000);
 *   mod_hi=ADDR   end of the "module" range, exclusive (default 0xffffffffff000000).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define KERNEL_START 0xffff800000000000ULL
#define MARKER_START 0x01
#define MARKER_STOP 0x02

static uint64_t mod_lo = 0xffffffffa0000000ULL;
static uint64_t mod_hi = 0xffffffffff000000ULL;

static uint64_t total, kernel, module;
static uint64_t start_total, start_kernel, start_module;
static bool started;
static uint64_t stops;
static FILE *out;

/* The profile: an open-addressing table of kernel blocks, by address. */
#define PROFILE_SLOTS (1u << 18)
struct block {
	uint64_t vaddr; /* 0: free slot */
	uint64_t insns;
};
static struct block *blocks;
static uint32_t *used; /* indices of the occupied slots, in insertion order */
static uint32_t n_used;
static uint64_t overflow; /* blocks that found no free slot (never seen so far) */
static FILE *profile;

/* The slot of the block at vaddr, inserted if new; NULL when the table is full. */
static struct block *block_slot(uint64_t vaddr)
{
	uint32_t i = (uint32_t)((vaddr >> 4) * 0x9E3779B1u) & (PROFILE_SLOTS - 1);
	uint32_t probes;

	for (probes = 0; probes < PROFILE_SLOTS / 2; probes++) {
		struct block *b = &blocks[i];

		if (b->vaddr == vaddr)
			return b;
		if (b->vaddr == 0) {
			b->vaddr = vaddr;
			used[n_used++] = i;
			return b;
		}
		i = (i + 1) & (PROFILE_SLOTS - 1);
	}
	return NULL;
}

/* The command byte NN if insn is the marker `0f 1f 80 NN 44 59 4d`, otherwise -1. */
static int marker_command(const struct qemu_plugin_insn *insn)
{
	const uint8_t *b;

	if (qemu_plugin_insn_size(insn) != 7)
		return -1;
	b = qemu_plugin_insn_data(insn);
	if (b[0] != 0x0f || b[1] != 0x1f || b[2] != 0x80 || b[4] != 0x44 ||
	    b[5] != 0x59 || b[6] != 0x4d)
		return -1;
	return b[3];
}

static void on_marker(unsigned int vcpu_index, void *udata)
{
	int command = (int)(uintptr_t)udata;

	(void)vcpu_index;
	if (command == MARKER_START) {
		start_total = total;
		start_kernel = kernel;
		start_module = module;
		started = true;
		if (profile) {
			uint32_t k;

			for (k = 0; k < n_used; k++)
				blocks[used[k]].insns = 0;
			overflow = 0;
		}
		return;
	}
	/* MARKER_STOP */
	if (started)
		fprintf(out, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			stops, total - start_total, kernel - start_kernel,
			module - start_module);
	else
		fprintf(out, "%" PRIu64 " error no-start\n", stops);
	fflush(out);
	if (profile && started) {
		uint32_t k;

		for (k = 0; k < n_used; k++) {
			const struct block *b = &blocks[used[k]];

			if (b->insns)
				fprintf(profile, "%" PRIu64 " 0x%" PRIx64 " %" PRIu64 "\n",
					stops, b->vaddr, b->insns);
		}
		if (overflow)
			fprintf(profile, "%" PRIu64 " overflow %" PRIu64 "\n", stops,
				overflow);
		fflush(profile);
	}
	stops++;
	started = false;
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);
	size_t i;

	(void)id;
	if (profile && qemu_plugin_tb_vaddr(tb) >= KERNEL_START) {
		struct block *b = block_slot(qemu_plugin_tb_vaddr(tb));

		qemu_plugin_register_vcpu_tb_exec_inline(
			tb, QEMU_PLUGIN_INLINE_ADD_U64, b ? &b->insns : &overflow,
			n);
	}
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
		int command = marker_command(insn);

		if (command == MARKER_START || command == MARKER_STOP)
			qemu_plugin_register_vcpu_insn_exec_cb(
				insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
				(void *)(uintptr_t)command);
		qemu_plugin_register_vcpu_insn_exec_inline(
			insn, QEMU_PLUGIN_INLINE_ADD_U64, &total, 1);
		if (vaddr >= KERNEL_START)
			qemu_plugin_register_vcpu_insn_exec_inline(
				insn, QEMU_PLUGIN_INLINE_ADD_U64, &kernel, 1);
		if (vaddr >= mod_lo && vaddr < mod_hi)
			qemu_plugin_register_vcpu_insn_exec_inline(
				insn, QEMU_PLUGIN_INLINE_ADD_U64, &module, 1);
	}
}

static void on_plugin_exit(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	if (out) {
		fclose(out);
		out = NULL;
	}
	if (profile) {
		fclose(profile);
		profile = NULL;
	}
}

static bool parse_address(const char *key, const char *value, uint64_t *dst)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(value, &end, 0);
	if (errno || end == value || *end) {
		fprintf(stderr, "mydev_icount: %s=%s is not an address\n", key,
			value);
		return false;
	}
	*dst = v;
	return true;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info, int argc,
					   char **argv)
{
	const char *path = NULL;
	const char *profile_path = NULL;
	int i;

	(void)info;
	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const char *value;
		size_t klen;

		if (!eq) {
			fprintf(stderr,
				"mydev_icount: argument '%s' is not key=value\n",
				argv[i]);
			return -1;
		}
		klen = (size_t)(eq - argv[i]);
		value = eq + 1;
		if (klen == 3 && !strncmp(argv[i], "out", 3)) {
			path = value;
		} else if (klen == 7 && !strncmp(argv[i], "profile", 7)) {
			profile_path = value;
		} else if (klen == 6 && !strncmp(argv[i], "mod_lo", 6)) {
			if (!parse_address("mod_lo", value, &mod_lo))
				return -1;
		} else if (klen == 6 && !strncmp(argv[i], "mod_hi", 6)) {
			if (!parse_address("mod_hi", value, &mod_hi))
				return -1;
		} else {
			fprintf(stderr,
				"mydev_icount: unknown argument '%s' (known: out=PATH, profile=PATH, mod_lo=ADDR, mod_hi=ADDR)\n",
				argv[i]);
			return -1;
		}
	}
	if (!path || !*path) {
		fprintf(stderr, "mydev_icount: the argument out=PATH is required\n");
		return -1;
	}
	if (mod_lo >= mod_hi) {
		fprintf(stderr,
			"mydev_icount: mod_lo=0x%" PRIx64 " is not below mod_hi=0x%" PRIx64 "\n",
			mod_lo, mod_hi);
		return -1;
	}
	out = fopen(path, "w");
	if (!out) {
		fprintf(stderr, "mydev_icount: cannot open %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (profile_path) {
		blocks = calloc(PROFILE_SLOTS, sizeof(*blocks));
		used = calloc(PROFILE_SLOTS, sizeof(*used));
		profile = fopen(profile_path, "w");
		if (!blocks || !used || !profile) {
			fprintf(stderr, "mydev_icount: cannot set up the profile %s: %s\n",
				profile_path, strerror(errno));
			return -1;
		}
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
	qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
	return 0;
}
