"""What the datastore (DS) and transfer (TM) drivers share: disk-image tools."""
