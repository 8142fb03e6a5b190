"""Files and frames: walking folders, decoding photos, sampling video, thumbnails, regions of large photos,
reading text, exporting results."""
