// SPDX-License-Identifier: GPL-2.0
/*
 * The scatterlist, DMA-mapping and dma-buf helpers that dmabuf.rs needs but
 * Rust cannot call: sg_set_page(), dma_unmap_sgtable(), the dma_sync_*()
 * calls, dma_resv_lock() and list_for_each_entry() are inline functions or
 * macros, and sg_next() is not in the Rust bindings. Each function is one
 * call, or one walk of the attachments; everything the exporter decides
 * stays in Rust.
 */

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/scatterlist.h>

/* Declared for the Rust side in dmabuf.rs. */
struct scatterlist *mydev_sg_set_page_next(struct scatterlist *sg,
					   struct page *page, unsigned int len);
void mydev_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
			     enum dma_data_direction dir);
void mydev_dmabuf_sync(struct dma_buf *dmabuf, enum dma_data_direction dir,
		       bool for_cpu);

/*
 * Points @sg at @len bytes from the start of @page (physically contiguous
 * pages: one page, or a whole folio) and returns the next entry (NULL after
 * the last).
 */
struct scatterlist *mydev_sg_set_page_next(struct scatterlist *sg,
					   struct page *page, unsigned int len)
{
	sg_set_page(sg, page, len, 0);
	return sg_next(sg);
}

/* Undoes dma_map_sgtable() of @sgt for @dev. */
void mydev_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
			     enum dma_data_direction dir)
{
	dma_unmap_sgtable(dev, sgt, dir, 0);
}

/*
 * Makes the tables that the attachments of @dmabuf have mapped (each kept in
 * the attachment's priv by map_dma_buf) coherent for the CPU (@for_cpu) or for
 * the devices again, under the reservation lock that guards the list.
 */
void mydev_dmabuf_sync(struct dma_buf *dmabuf, enum dma_data_direction dir,
		       bool for_cpu)
{
	struct dma_buf_attachment *a;

	dma_resv_lock(dmabuf->resv, NULL);
	list_for_each_entry(a, &dmabuf->attachments, node) {
		struct sg_table *sgt = a->priv;

		if (!sgt)
			continue;
		if (for_cpu)
			dma_sync_sgtable_for_cpu(a->dev, sgt, dir);
		else
			dma_sync_sgtable_for_device(a->dev, sgt, dir);
	}
	dma_resv_unlock(dmabuf->resv);
}
