"""The scheduler: a separate process that places PENDING VMs on hosts through the API.

Pure placement (model, snapshot, filters, policies, vmgroups, cycle) apart from the
process that fetches the pools and dispatches (daemon, cli). See docs/scheduler.md.
"""
