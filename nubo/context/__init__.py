"""Contextualization: a VM's CONTEXT section resolved at allocate, and the CD-ROM
(ISO 9660, label CONTEXT, with context.sh) its guest reads at boot."""
