"""sal-hw: an open FPGA neuromorphic core that learns with spike-based alignment learning."""
