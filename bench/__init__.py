"""Benchmarks of the workbench (`workbench bench`). `service_overhead`: what the HTTP service
costs over calling the same pipeline in-process."""
