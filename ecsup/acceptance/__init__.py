"""The real-account acceptance kit (`scripts/acceptance`; docs/acceptance.md): a scripted life of
real stacks that checks, with what AWS reports, the behaviours ecsup's emulation of AWS assumes
(ecsup/emulation/assumptions.py). Not imported by ecsup's commands."""
