"""Features: MIR, VGGish, OpenL3 and visual, assembled into frame- and cue-level bags."""
