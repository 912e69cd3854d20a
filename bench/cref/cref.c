// SPDX-License-Identifier: GPL-2.0
/*
 * cref: the classic C design of a memory-mapped buffer device, as a yardstick for mydev's
 * benchmarks (not a product): a misc device /dev/cref whose buffer comes from vmalloc_user(),
 * mapped with remap_vmalloc_range() and copied with copy_to_user()/copy_from_user(). It keeps
 * mydev's read/write rules (short at the end, 0 past it for read, ENOSPC for write) so that the
 * benchmark compares like with like.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

static unsigned long size = 4096;
module_param(size, ulong, 0444);
MODULE_PARM_DESC(size, "Buffer size in bytes (rounded up to a page)");

static void *buf;

static ssize_t cref_read(struct file *file, char __user *ubuf, size_t count, loff_t *pos)
{
	size_t n;

	if (*pos < 0)
		return -EINVAL;
	if (*pos >= size)
		return 0;
	n = min_t(size_t, count, size - *pos);
	if (copy_to_user(ubuf, buf + *pos, n))
		return -EFAULT;
	*pos += n;
	return n;
}

static ssize_t cref_write(struct file *file, const char __user *ubuf, size_t count, loff_t *pos)
{
	size_t n;

	if (*pos < 0)
		return -EINVAL;
	if (!count)
		return 0;
	if (*pos >= size)
		return -ENOSPC;
	n = min_t(size_t, count, size - *pos);
	if (copy_from_user(buf + *pos, ubuf, n))
		return -EFAULT;
	*pos += n;
	return n;
}

static int cref_mmap(struct file *file, struct vm_area_struct *vma)
{
	/* Checks that the range lies inside the vmalloc_user() area. */
	return remap_vmalloc_range(vma, buf, vma->vm_pgoff);
}

static const struct file_operations cref_fops = {
	.owner = THIS_MODULE,
	.read = cref_read,
	.write = cref_write,
	.mmap = cref_mmap,
	.llseek = default_llseek,
};

static struct miscdevice cref_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "cref",
	.fops = &cref_fops,
};

static int __init cref_init(void)
{
	int ret;

	size = PAGE_ALIGN(size);
	buf = vmalloc_user(size);
	if (!buf)
		return -ENOMEM;
	ret = misc_register(&cref_dev);
	if (ret)
		vfree(buf);
	return ret;
}

static void __exit cref_exit(void)
{
	misc_deregister(&cref_dev);
	vfree(buf);
}

module_init(cref_init);
module_exit(cref_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Benchmark yardstick: a vmalloc_user buffer behind /dev/cref");
