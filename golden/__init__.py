"""Golden models of the SAL core: the bit-exact fixed-point contract and a float reference."""
