"""Board-side package: everything here is copied to CIRCUITPY/device/ and also imported by host_tools."""
