"""Running HaiLong in production: configuration checks (`flask doctor`) and backups (`flask backup`)."""
