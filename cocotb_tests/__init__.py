"""cocotb tests of the SAL core RTL against the golden model (see README.md)."""
