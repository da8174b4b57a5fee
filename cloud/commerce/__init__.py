"""Commerce: money, receipts (PDF + ESC/POS) and validation before printing."""
