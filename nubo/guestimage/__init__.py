"""The test guest nubo builds itself from Debian's packages (docs/guest-image.md):
Debian's kernel and a busybox initramfs that applies the context CD-ROM."""
