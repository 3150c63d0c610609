"""The Cần Thơ demo city: tree, accounts and synthetic responses from a documented model."""
