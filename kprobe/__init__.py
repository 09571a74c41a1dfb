"""kprobe: shared core (event model, OTLP mapping, clocks, CLI) used by every component."""
