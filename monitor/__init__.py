"""toh-monitor: longitudinal surveillance of patients after transient osteoporosis of the hip."""

__version__ = "0.1.0"
