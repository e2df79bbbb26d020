"""Multiple-instance genre models (placeholder exports, completed below)."""
