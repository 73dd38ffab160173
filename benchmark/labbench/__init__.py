"""labbench: the OpenLab benchmark harness."""
