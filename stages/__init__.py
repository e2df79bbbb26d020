"""DVC stage entry points: each reads its params section and calls the library."""
