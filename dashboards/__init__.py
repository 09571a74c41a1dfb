"""Grafana dashboards as code (grafana-foundation-sdk), written into the plugin's provisioning/."""
