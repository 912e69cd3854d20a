// SPDX-License-Identifier: GPL-2.0
/*
 * mydev_example.c - using /dev/mydev from C: read, write, mmap and both ioctls.
 *
 *   cc -static -I module -o mydev_example examples/mydev_example.c
 *   ./mydev_example [DEVICE]
 *
 * Exits 0 when every step behaved as documented, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mydev.h"

static int fail(const char *what)
{
	fprintf(stderr, "mydev_example: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : MYDEV_DEVICE;
	const char msg[] = "Hello from C";
	const char mapped[] = "Mapped from C";
	char buf[sizeof(mapped)];
	__u64 size = 0;
	char *map;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0)
		return fail(path);
	if (ioctl(fd, MYDEV_IOC_GET_SIZE, &size) < 0)
		return fail("MYDEV_IOC_GET_SIZE");
	printf("size: %llu bytes\n", (unsigned long long)size);

	if (ioctl(fd, MYDEV_IOC_CLEAR) < 0)
		return fail("MYDEV_IOC_CLEAR");
	if (pwrite(fd, msg, sizeof(msg), 0) != (ssize_t)sizeof(msg))
		return fail("pwrite");

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return fail("mmap");
	printf("mapping says: %s\n", map);
	if (strcmp(map, msg) != 0) {
		fprintf(stderr, "mydev_example: the mapping does not show what write() stored\n");
		return 1;
	}

	memcpy(map, mapped, sizeof(mapped));
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return fail("pread");
	printf("read() says: %s\n", buf);
	if (strcmp(buf, mapped) != 0) {
		fprintf(stderr, "mydev_example: read() does not show what the mapping stored\n");
		return 1;
	}

	if (ioctl(fd, MYDEV_IOC_GET_SIZE + 0x100) == 0 || errno != ENOTTY) {
		fprintf(stderr, "mydev_example: an unknown ioctl did not fail with ENOTTY\n");
		return 1;
	}
	munmap(map, size);
	close(fd);
	printf("ok\n");
	return 0;
}
