"""labrot's commands of the ``lab`` CLI (declared in labrot.codebase)."""
