"""Data: GoPro layout discovery and pairing, the LMDB crop writer, the synthetic GoPro-like generator."""
