"""The dummy drivers: simulated hosts for tests and benchmarks, no hypervisor needed.

Run as ``python -m nubo.drivers.dummy vmm,im,tm`` (or ``ds``); see
``__main__`` for options and docs/drivers.md for the actions and their answers.
"""
