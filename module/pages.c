// SPDX-License-Identifier: GPL-2.0
/*
 * The page-allocator, folio and VMA-flag helpers that buffer.rs and vma.rs
 * need but Rust cannot call: in C they are inline functions or macros
 * (folio_alloc() is inline on kernels without CONFIG_NUMA, folio_put(),
 * put_page() and vm_flags_mod() always are, PAGE_KERNEL is an expression),
 * and vmap()/vunmap(), although exported, are not in 7.3's Rust bindings. Each
 * function is one call, so that everything the module decides stays in Rust.
 */

#include <linux/gfp.h>
#include <linux/mm.h>
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

/**
 * mydev_folio_alloc - allocate a folio of 2^@order pages
 * @gfp:   allocation flags (__GFP_COMP is added)
 * @order: the folio's order
 *
 * Return: the folio, holding one reference, or NULL.
 */
struct folio *mydev_folio_alloc(gfp_t gfp, unsigned int order)
{
	return folio_alloc(gfp, order);
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
