"""The payment system's processes: plain OpenTelemetry-instrumented WSGI services.

Nothing here imports kprobe: the services are what a payment company would run,
instrumented only with the OpenTelemetry SDK, its OTLP exporter and the standard
WSGI/requests instrumentation.
"""
