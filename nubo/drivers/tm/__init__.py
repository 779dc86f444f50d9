"""The transfer driver (OpenNebula's one_tm): runs the TRANSFER scripts of
nubo.core.transfer_payload for real, line by line, dispatching on each line's TM_MAD
(shared, ssh, qcow2, dummy), on hosts reached through nubo.drivers.tm.transport."""
