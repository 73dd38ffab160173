"""labrot: rotated object detection, built on labdet."""
