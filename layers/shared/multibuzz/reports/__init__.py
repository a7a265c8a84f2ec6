"""Reports: rollups maintained by the consumers, and the stats read from them (see README, Reports)."""
