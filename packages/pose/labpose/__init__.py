"""labpose: 2D keypoint (pose) estimation on labcore."""
