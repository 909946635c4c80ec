"""Legal-person accounts keyed by the unified social credit code (R-20, R-21, R-63)."""
