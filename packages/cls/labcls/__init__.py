"""labcls: image classification on labcore."""
