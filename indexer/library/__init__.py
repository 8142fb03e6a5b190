"""The Library: one folder of photos and videos indexed by one active model, and the parts behind its facade."""
