"""labdet: object detection and instance segmentation on labcore."""
