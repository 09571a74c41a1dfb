"""The four kprobe.v1 services, transport-agnostic: request message in, response out."""
