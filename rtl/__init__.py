"""Amaranth gateware of the SAL core."""
