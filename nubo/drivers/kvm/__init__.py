"""The kvm drivers: KVM/QEMU hosts through libvirt (vmm), their probes (im) and how they are reached."""
