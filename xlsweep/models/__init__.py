"""Encoders: any HF encoder by name or directory, and the embedded tiny default."""
