"""memori-jsonl: an example memori backend storing one JSON file per entity."""
