"""smpp."""
