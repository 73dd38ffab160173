"""labseg: semantic segmentation on labcore."""
