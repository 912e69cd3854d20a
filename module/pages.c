// SPDX-License-Identifier: GPL-2.0
/*
 * The page-allocator, folio, page-table and VMA helpers that buffer.rs and
 * vma.rs need but Rust cannot call: in C they are inline functions or macros
 * (alloc_pages() and page_folio() are, folio_put(), put_page(), folio_lock(),
 * vm_flags_mod() and the pmd accessors always are, PAGE_KERNEL is an
 * expression), vmap()/vunmap(), although exported, are not in 7.3's Rust
 * bindings, and a static struct mempolicy needs its initialiser. Each function
 * is one call or one read, so that everything the module decides stays in Rust.
 */

#include <linux/gfp.h>
#include <linux/mempolicy.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pgtable.h>
#include <linux/sched.h>
#include <linux/vmalloc.h>

/* Declared for the Rust side in buffer.rs and vma.rs. */
struct folio *mydev_folio_alloc(gfp_t gfp, unsigned int order);
struct page *mydev_folio_page(struct folio *folio, unsigned long n);
void mydev_folio_put(struct folio *folio);
void mydev_put_page(struct page *page);
void *mydev_vmap(struct page **pages, unsigned int count);
void mydev_vunmap(const void *addr);
void mydev_vma_mod_flags(struct vm_area_struct *vma, vm_flags_t set,
			 vm_flags_t clear);
bool mydev_vma_may_share(const struct vm_area_struct *vma);
void mydev_folio_lock(struct folio *folio);
void mydev_folio_unlock(struct folio *folio);
int mydev_fault_pmd(const struct vm_fault *vmf);
struct mempolicy *mydev_vma_policy(const struct vm_area_struct *vma);
struct mempolicy *mydev_task_policy(void);
bool mydev_policy_mof(const struct mempolicy *pol);
struct mempolicy *mydev_local_policy(void);

/**
 * mydev_folio_alloc - allocate a folio of 2^@order pages that the core mm
 *                     does not take for a THP
 * @gfp:   allocation flags (__GFP_COMP is added)
 * @order: the folio's order
 *
 * Not folio_alloc(): that marks a large folio "large rmappable", the flag of
 * anonymous and page-cache THPs, and walkers of user mappings then treat the
 * buffer's 2 MiB folios as page-cache THPs with a NULL ->mapping (the
 * split_huge_pages debugfs file dereferenced it: a kernel oops). A compound
 * page from alloc_pages() is a large folio without the flag, as the huge zero
 * folio is (alloc_huge_zero_folio() clears it for the same reason).
 *
 * Return: the folio, holding one reference, or NULL.
 */
struct folio *mydev_folio_alloc(gfp_t gfp, unsigned int order)
{
	struct page *page = alloc_pages(gfp | __GFP_COMP, order);

	return page ? page_folio(page) : NULL;
}

/**
 * mydev_folio_page - the page at index @n of @folio
 * @folio: a folio
 * @n:     an index below folio_nr_pages(@folio)
 *
 * Return: the page.
 */
struct page *mydev_folio_page(struct folio *folio, unsigned long n)
{
	return folio_page(folio, n);
}

/**
 * mydev_folio_put - drop a reference to @folio
 * @folio: a folio the caller holds a reference to
 */
void mydev_folio_put(struct folio *folio)
{
	folio_put(folio);
}

/**
 * mydev_put_page - drop a reference to the folio of @page
 * @page: a page whose folio the caller holds a reference to
 */
void mydev_put_page(struct page *page)
{
	put_page(page);
}

/**
 * mydev_vmap - map @count pages at consecutive kernel addresses
 * @pages: the pages, in order
 * @count: how many
 *
 * The pages must stay allocated until mydev_vunmap(); @pages itself may be
 * freed on return (vmap() keeps no pointer to it without VM_MAP_PUT_PAGES).
 *
 * Context: may sleep.
 * Return: the start of the mapping, or NULL.
 */
void *mydev_vmap(struct page **pages, unsigned int count)
{
	return vmap(pages, count, VM_MAP, PAGE_KERNEL);
}

/**
 * mydev_vunmap - undo mydev_vmap()
 * @addr: what mydev_vmap() returned
 *
 * Context: may sleep.
 */
void mydev_vunmap(const void *addr)
{
	vunmap(addr);
}

/**
 * mydev_vma_mod_flags - set and clear flags of a VMA in its mmap hook
 * @vma:   the VMA being set up
 * @set:   flags to set
 * @clear: flags to clear
 *
 * Context: the VMA's mmap hook (mmap lock held for writing).
 */
void mydev_vma_mod_flags(struct vm_area_struct *vma, vm_flags_t set,
			 vm_flags_t clear)
{
	vm_flags_mod(vma, set, clear);
}

/**
 * mydev_vma_may_share - whether @vma is a shared mapping (VM_MAYSHARE)
 * @vma: a VMA the caller holds stable (mmap hook or fault)
 *
 * In C because the Rust constant is wrong on 7.2: its bindings_helper.h
 * defines RUST_CONST_HELPER_VM_MAYSHARE as VM_MAYEXEC, so there
 * kernel::mm::virt::flags::MAYSHARE is VM_MAYEXEC (7.3 has the fix).
 *
 * Return: true for a MAP_SHARED mapping, also of a read-only open.
 */
bool mydev_vma_may_share(const struct vm_area_struct *vma)
{
	return vma->vm_flags & VM_MAYSHARE;
}

/**
 * mydev_folio_lock - lock @folio, sleeping until it is unlocked
 * @folio: a folio the caller holds a reference to
 *
 * Context: may sleep; the caller must not hold the folio lock already.
 */
void mydev_folio_lock(struct folio *folio)
{
	folio_lock(folio);
}

/**
 * mydev_folio_unlock - unlock a folio locked by mydev_folio_lock()
 * @folio: the folio
 */
void mydev_folio_unlock(struct folio *folio)
{
	folio_unlock(folio);
}

/**
 * mydev_fault_pmd - what the PMD entry of a fault holds now
 * @vmf: a fault being handled (its ->pmd is set for every fault that reaches
 *       a vm_operations_struct handler)
 *
 * A lockless snapshot: the caller serialises against whoever could change the
 * entry in a way that matters to it (vma.rs holds the part's folio lock).
 *
 * Return: 0 if the entry is empty, 1 if it points to a page table, 2 if it is
 * anything else (a huge entry, present or not, e.g. made PROT_NONE).
 */
int mydev_fault_pmd(const struct vm_fault *vmf)
{
	pmd_t pmd = pmdp_get_lockless(vmf->pmd);

	if (pmd_none(pmd))
		return 0;
	if (pmd_present(pmd) && !pmd_leaf(pmd))
		return 1;
	return 2;
}

#ifdef CONFIG_NUMA
/*
 * The memory policy of mydev VMAs that have none of their own: MPOL_LOCAL
 * (allocate on the CPU's node, as the kernel's default_policy does) without
 * MPOL_F_MOF, so that NUMA balancing does not scan them (vma_policy_mof()).
 * A reference count of 1 that nobody drops keeps it from ever being freed, as
 * for default_policy.
 */
static struct mempolicy mydev_policy = {
	.refcnt = ATOMIC_INIT(1),
	.mode = MPOL_LOCAL,
};

/**
 * mydev_vma_policy - the memory policy that mbind() set on @vma, if any
 * @vma: a VMA the caller holds stable (mmap lock or VMA lock)
 *
 * Return: vma->vm_policy, or NULL.
 */
struct mempolicy *mydev_vma_policy(const struct vm_area_struct *vma)
{
	return vma->vm_policy;
}

/**
 * mydev_task_policy - the memory policy that set_mempolicy() set on the
 *                     current task, if any
 *
 * Return: current->mempolicy, or NULL.
 */
struct mempolicy *mydev_task_policy(void)
{
	return current->mempolicy;
}

/**
 * mydev_policy_mof - whether @pol asks NUMA balancing to migrate on fault
 * @pol: a memory policy
 *
 * Return: true if MPOL_F_MOF is set.
 */
bool mydev_policy_mof(const struct mempolicy *pol)
{
	return pol->flags & MPOL_F_MOF;
}

/**
 * mydev_local_policy - the policy of mydev VMAs without one of their own
 *
 * Return: a static MPOL_LOCAL policy without MPOL_F_MOF, never freed.
 */
struct mempolicy *mydev_local_policy(void)
{
	return &mydev_policy;
}
#endif
