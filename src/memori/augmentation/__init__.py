"""memori.augmentation."""
